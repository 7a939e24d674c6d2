"""IAM rules: the root user, password policy, users' credentials and permissions, managed policies."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from cloudwarden.findings.model import Severity
from cloudwarden.inventory.model import Inventory, Resource, Unreadable
from cloudwarden.posture import policy
from cloudwarden.posture.registry import Verdict, failed, manual, passed, rule

ACCOUNT = "AWS::IAM::AccountSettings"
USER = "AWS::IAM::User"
MANAGED_POLICY = "AWS::IAM::ManagedPolicy"

MIN_PASSWORD_LENGTH = 14
PASSWORD_REUSE_PREVENTION = 24
UNUSED_CREDENTIAL_DAYS = 45
# AmazonS3FullAccess, and AWS's versioned ones: AmazonDynamoDBFullAccess_v2, …FullAccessV2.
FULL_ACCESS_NAME = re.compile(r"FullAccess(_?v\d+)?$", re.IGNORECASE)
KEY_ROTATION_DAYS = 90


def days_since(value: Any, now: datetime | None = None) -> float | None:
    """Days between an ISO 8601 time (as the APIs and the credential report give it) and now.

    ``None`` for the report's placeholders (``N/A``, ``no_information``, ``not_supported``) or junk.
    """
    if not isinstance(value, str) or not value[:1].isdigit():
        return None
    try:
        then = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if then.tzinfo is None:
        then = then.replace(tzinfo=UTC)
    return ((now or datetime.now(UTC)) - then).total_seconds() / 86400


@rule(
    id="iam_root_no_access_keys",
    fsbp=("IAM.4",),
    well_architected=("SEC01",),
    title="The root user has no access keys",
    severity=Severity.CRITICAL,
    resource_type=ACCOUNT,
    cis=("1.3",),
    rationale="Root access keys give unrestricted, unscopable programmatic access to the whole account.",
    remediation="Sign in as root, open Security credentials and delete every root access key.",
)
def iam_root_no_access_keys(account: Resource, _: Inventory) -> Verdict:
    present = int((account.attr("summary") or {}).get("AccountAccessKeysPresent", 0))
    if present:
        return failed("The root user has access keys.", AccountAccessKeysPresent=present)
    return passed("The root user has no access keys.", AccountAccessKeysPresent=present)


@rule(
    id="iam_root_mfa_enabled",
    fsbp=("IAM.9",),
    well_architected=("SEC01", "SEC02"),
    title="MFA is enabled for the root user",
    severity=Severity.CRITICAL,
    resource_type=ACCOUNT,
    cis=("1.4",),
    rationale="A root password alone is one phishing away from full control of the account.",
    remediation="Sign in as root and assign an MFA device (hardware preferred) under Security credentials.",
)
def iam_root_mfa_enabled(account: Resource, _: Inventory) -> Verdict:
    enabled = int((account.attr("summary") or {}).get("AccountMFAEnabled", 0))
    if enabled:
        return passed("The root user has MFA.", AccountMFAEnabled=enabled)
    return failed("The root user has no MFA device.", AccountMFAEnabled=enabled)


@rule(
    id="iam_password_policy_min_length",
    fsbp=("IAM.15",),
    well_architected=("SEC02",),
    title="The password policy requires 14 or more characters",
    severity=Severity.MEDIUM,
    resource_type=ACCOUNT,
    cis=("1.7",),
    rationale="Short passwords are guessed and cracked quickly.",
    remediation="aws iam update-account-password-policy --minimum-password-length 14 (keep the other settings).",
)
def iam_password_policy_min_length(account: Resource, _: Inventory) -> Verdict:
    password_policy = account.attr("password_policy")
    if not password_policy:
        return failed("The account has no password policy (AWS default: 8 characters).", password_policy=None)
    length = int(password_policy.get("MinimumPasswordLength", 0))
    if length >= MIN_PASSWORD_LENGTH:
        return passed(f"Passwords need at least {length} characters.", MinimumPasswordLength=length)
    return failed(
        f"Passwords need only {length} characters (at least {MIN_PASSWORD_LENGTH} required).",
        MinimumPasswordLength=length,
    )


@rule(
    id="iam_password_policy_reuse_prevention",
    fsbp=("IAM.16",),
    well_architected=("SEC02",),
    title="The password policy prevents password reuse",
    severity=Severity.MEDIUM,
    resource_type=ACCOUNT,
    cis=("1.8",),
    rationale="Reused passwords carry earlier leaks forward.",
    remediation="aws iam update-account-password-policy --password-reuse-prevention 24 (keep the other settings).",
)
def iam_password_policy_reuse_prevention(account: Resource, _: Inventory) -> Verdict:
    password_policy = account.attr("password_policy")
    if not password_policy:
        return failed("The account has no password policy, so passwords may be reused.", password_policy=None)
    remembered = int(password_policy.get("PasswordReusePrevention", 0) or 0)
    if remembered >= PASSWORD_REUSE_PREVENTION:
        return passed(f"The last {remembered} passwords cannot be reused.", PasswordReusePrevention=remembered)
    return failed(
        f"Only the last {remembered} passwords are remembered ({PASSWORD_REUSE_PREVENTION} required).",
        PasswordReusePrevention=remembered,
    )


@rule(
    id="iam_support_role_exists",
    fsbp=("IAM.18",),
    well_architected=("SEC10",),
    title="A principal can manage incidents with AWS Support",
    severity=Severity.LOW,
    resource_type=ACCOUNT,
    cis=("1.16",),
    rationale="During an incident someone must be able to open cases with AWS Support without using root.",
    remediation="Attach the AWS managed policy AWSSupportAccess to a role (or group) your incident responders use.",
)
def iam_support_role_exists(account: Resource, _: Inventory) -> Verdict:
    entities = account.attr("support_policy_entities") or {}
    holders = [
        *(g.get("GroupName") for g in entities.get("PolicyGroups", [])),
        *(u.get("UserName") for u in entities.get("PolicyUsers", [])),
        *(r.get("RoleName") for r in entities.get("PolicyRoles", [])),
    ]
    if holders:
        return passed("AWSSupportAccess is attached.", attached_to=holders)
    return failed("No user, group or role has AWSSupportAccess.", attached_to=[])


@rule(
    id="iam_user_console_mfa",
    fsbp=("IAM.5",),
    well_architected=("SEC02",),
    title="Users with a console password have MFA",
    severity=Severity.HIGH,
    resource_type=USER,
    cis=("1.9",),
    rationale="A console password without MFA is one phished or reused password away from account access.",
    remediation="Have the user enable a virtual or hardware MFA device; enforce it with an MFA condition policy.",
)
def iam_user_console_mfa(user: Resource, _: Inventory) -> Verdict | None:
    if user.attr("login_profile") is None:
        return None  # no console password: the control does not apply
    devices = user.attr("mfa_devices") or []
    if devices:
        return passed("Console user has MFA.", mfa_devices=[d.get("SerialNumber") for d in devices])
    return failed(f"User {user.id} can sign in to the console without MFA.", login_profile=True, mfa_devices=[])


def credential_report_age(resource: Resource) -> dict[str, Any]:
    """When the credential report behind a verdict was generated, and how many hours before the scan."""
    generated = resource.attributes.get("credential_report_generated")
    age = days_since(generated)
    return {
        "credential_report_generated": generated,
        "credential_report_age_hours": None if age is None else round(age * 24, 1),
    }


@rule(
    id="iam_user_unused_credentials",
    fsbp=("IAM.22",),
    well_architected=("SEC02",),
    title="Credentials unused for 45 days are disabled",
    severity=Severity.MEDIUM,
    resource_type=USER,
    cis=("1.11",),
    rationale="Credentials nobody uses are attack surface nobody watches.",
    remediation="Remove the unused console password and deactivate or delete the unused access keys.",
)
def iam_user_unused_credentials(user: Resource, _: Inventory) -> Verdict:
    row = user.attr("credentials") or {}
    report = credential_report_age(user)
    stale: list[str] = []
    if row.get("password_enabled") == "true":
        used = days_since(row.get("password_last_used"))
        age = used if used is not None else days_since(row.get("password_last_changed"))
        if age is not None and age > UNUSED_CREDENTIAL_DAYS:
            stale.append(f"console password unused for {int(age)} days")
    for n in ("1", "2"):
        if row.get(f"access_key_{n}_active") != "true":
            continue
        used = days_since(row.get(f"access_key_{n}_last_used_date"))
        age = used if used is not None else days_since(row.get(f"access_key_{n}_last_rotated"))
        if age is not None and age > UNUSED_CREDENTIAL_DAYS:
            stale.append(f"access key {n} unused for {int(age)} days")
    if stale:
        return failed(
            f"User {user.id} has active credentials unused for over {UNUSED_CREDENTIAL_DAYS} days: "
            + "; ".join(stale)
            + ".",
            stale=stale,
            **report,
        )
    return passed("No active credential is unused for 45 days.", stale=[], **report)


@rule(
    id="iam_user_single_active_key",
    fsbp=(),
    well_architected=("SEC02",),
    title="Users have at most one active access key",
    severity=Severity.LOW,
    resource_type=USER,
    cis=("1.12",),
    rationale="A second active key is usually a forgotten one.",
    remediation="Deactivate and delete the access key that is not in use.",
)
def iam_user_single_active_key(user: Resource, _: Inventory) -> Verdict:
    active = [k.get("AccessKeyId") for k in user.attr("access_keys") or [] if k.get("Status") == "Active"]
    if len(active) > 1:
        return failed(f"User {user.id} has {len(active)} active access keys.", active_keys=active)
    return passed("At most one active access key.", active_keys=active)


@rule(
    id="iam_user_access_key_rotated",
    fsbp=("IAM.3",),
    well_architected=("SEC02",),
    title="Active access keys are rotated every 90 days",
    severity=Severity.MEDIUM,
    resource_type=USER,
    cis=("1.13",),
    rationale="Long-lived keys leak (code, laptops, logs); rotation bounds how long a leaked key works.",
    remediation="Create a new key, move the workload to it, then deactivate and delete the old one.",
)
def iam_user_access_key_rotated(user: Resource, _: Inventory) -> Verdict:
    old = {}
    for key in user.attr("access_keys") or []:
        age = days_since(key.get("CreateDate"))
        if key.get("Status") == "Active" and age is not None and age > KEY_ROTATION_DAYS:
            old[str(key.get("AccessKeyId"))] = int(age)
    if old:
        return failed(f"User {user.id} has active access keys older than {KEY_ROTATION_DAYS} days.", key_age_days=old)
    return passed("No active access key is older than 90 days.", key_age_days=old)


@rule(
    id="iam_user_no_direct_policies",
    fsbp=("IAM.2",),
    well_architected=("SEC03",),
    title="Users receive permissions only through groups",
    severity=Severity.LOW,
    resource_type=USER,
    cis=("1.14",),
    rationale="Permissions on individual users drift and are hard to review; groups and roles are not.",
    remediation="Move the user's policies to a group (or better, a role) and detach them from the user.",
)
def iam_user_no_direct_policies(user: Resource, _: Inventory) -> Verdict:
    attached = [p.get("PolicyName") for p in user.attr("attached_policies") or []]
    inline = list(user.attr("inline_policy_names") or [])
    if attached or inline:
        return failed(f"User {user.id} has policies attached directly.", attached=attached, inline=inline)
    return passed("No policy is attached directly to the user.", attached=[], inline=[])


@rule(
    id="iam_policy_no_full_admin",
    fsbp=("IAM.1",),
    well_architected=("SEC03",),
    title="No attached policy allows *:* (full administrator)",
    severity=Severity.HIGH,
    resource_type=MANAGED_POLICY,
    cis=("1.15",),
    rationale="Full administrator rights break least privilege: any compromise of the holder is total.",
    remediation="Replace the policy with one that grants only the actions and resources the holder needs.",
)
def iam_policy_no_full_admin(managed: Resource, _: Inventory) -> Verdict:
    name = managed.attr("PolicyName")
    if policy.allows_full_admin(managed.attr("document")):
        return failed(
            f"Policy {name} allows every action on every resource and is attached.",
            attachments=managed.attr("AttachmentCount"),
            entities=_entity_names(managed),
        )
    return passed(f"Policy {name} does not allow *:*.")


@rule(
    id="iam_no_aws_full_access_policies",
    fsbp=(),
    well_architected=("SEC03",),
    title="No AWS-managed *FullAccess policy is attached",
    severity=Severity.MEDIUM,
    resource_type=MANAGED_POLICY,
    rationale="AWS's *FullAccess policies grant every action of a service; they are for experiments, not production.",
    remediation="Replace the policy with a customer-managed one limited to the actions the workload uses "
    "(IAM Access Analyzer can generate one from CloudTrail).",
)
def iam_no_aws_full_access_policies(managed: Resource, _: Inventory) -> Verdict | None:
    if not managed.attr("aws_managed"):
        return None
    name = str(managed.attr("PolicyName"))
    if FULL_ACCESS_NAME.search(name) or name == "AdministratorAccess":
        return failed(f"AWS-managed policy {name} is attached.", entities=_entity_names(managed))
    return passed(f"AWS-managed policy {name} is not a *FullAccess policy.")


def _entity_names(managed: Resource) -> list[str]:
    entities = managed.attr("entities") or {}
    return [
        *(f"group/{g.get('GroupName')}" for g in entities.get("PolicyGroups", [])),
        *(f"user/{u.get('UserName')}" for u in entities.get("PolicyUsers", [])),
        *(f"role/{r.get('RoleName')}" for r in entities.get("PolicyRoles", [])),
    ]


ROLE = "AWS::IAM::Role"
GROUP = "AWS::IAM::Group"
SERVER_CERTIFICATE = "AWS::IAM::ServerCertificate"
ORGANIZATION = "AWS::Account::AccountSettings"
# CIS 1.6 is Manual; cloudwarden calls root use within this many days a FAIL (someone must stop it or show it
# was a root-only task) and older use MANUAL with the dates.
ROOT_RECENT_USE_DAYS = 90
UNUSED_ROLE_DAYS = 90
SERVICE_LINKED_PATH = "/aws-service-role/"


@rule(
    id="iam_root_hardware_mfa",
    fsbp=("IAM.6",),
    well_architected=("SEC02",),
    title="The root user has a hardware MFA device",
    severity=Severity.HIGH,
    resource_type=ACCOUNT,
    cis=("1.5",),
    rationale="A virtual MFA lives on a phone that can be lost, cloned or phished; the root user deserves a "
    "dedicated hardware key.",
    remediation="Sign in as root, remove the virtual MFA device and register a hardware (FIDO2 or TOTP token) one.",
)
def iam_root_hardware_mfa(account: Resource, _: Inventory) -> Verdict:
    enabled = int((account.attr("summary") or {}).get("AccountMFAEnabled", 0))
    if not enabled:
        return failed("The root user has no MFA device at all.", AccountMFAEnabled=0, virtual_root_mfa=[])
    virtual = [
        str(d.get("SerialNumber"))
        for d in account.attr("virtual_mfa_devices") or []
        if isinstance(d, dict) and _is_root_device(d)
    ]
    if virtual:
        return failed("The root user's MFA is a virtual device.", AccountMFAEnabled=enabled, virtual_root_mfa=virtual)
    return passed("The root user has MFA and no virtual MFA device.", AccountMFAEnabled=enabled, virtual_root_mfa=[])


def _is_root_device(device: dict[str, Any]) -> bool:
    user = device.get("User") if isinstance(device.get("User"), dict) else {}
    return str(user.get("Arn", "")).endswith(":root") or str(device.get("SerialNumber", "")).endswith(
        ":mfa/root-account-mfa-device"
    )


def _root_last_used(row: dict[str, Any]) -> dict[str, str]:
    used = {"password": row.get("password_last_used")}
    for n in ("1", "2"):
        used[f"access_key_{n}"] = row.get(f"access_key_{n}_last_used_date")
    return {k: str(v) for k, v in used.items() if days_since(v) is not None}


@rule(
    id="iam_root_not_used_recently",
    fsbp=(),
    well_architected=("SEC02", "SEC03"),
    title=f"The root user was not used in the last {ROOT_RECENT_USE_DAYS} days",
    severity=Severity.HIGH,
    resource_type=ACCOUNT,
    cis=("1.6",),
    rationale="Root cannot be restricted by IAM policies; using it for daily or administrative work makes every "
    "slip unlimited. CIS marks this Manual: a few tasks need root, so older use is left to a person.",
    remediation="Create administrative roles or users, lock root credentials away, and review CloudTrail for "
    "userIdentity.type Root to see what root was used for.",
)
def iam_root_not_used_recently(account: Resource, _: Inventory) -> Verdict:
    row = account.attr("root_credentials")
    if not isinstance(row, dict):
        raise Unreadable("the credential report has no <root_account> row")
    used = _root_last_used(row)
    if not used:
        return passed("The credential report shows no use of the root user.", last_used={})
    recent = {k: v for k, v in used.items() if (days_since(v) or 0) <= ROOT_RECENT_USE_DAYS}
    if recent:
        return failed(
            f"The root user was used in the last {ROOT_RECENT_USE_DAYS} days ("
            + ", ".join(f"{k} {v}" for k, v in recent.items())
            + "); confirm it was a root-only task.",
            last_used=used,
        )
    return manual(
        f"The root user was last used more than {ROOT_RECENT_USE_DAYS} days ago; confirm it was a root-only task.",
        last_used=used,
    )


@rule(
    id="iam_user_no_setup_access_keys",
    fsbp=(),
    well_architected=("SEC02",),
    title="Console users have no access key that was never used",
    severity=Severity.LOW,
    resource_type=USER,
    cis=("1.10",),
    rationale="Keys created with a console user 'just in case' are long-lived secrets nobody needs. CIS marks "
    "1.10 Manual but its audit is mechanical: password enabled and an active key never used. cloudwarden "
    "applies that audit and notes whether the key was created at user setup.",
    remediation="Delete the unused access key; create keys only when a workload needs one (prefer roles).",
)
def iam_user_no_setup_access_keys(user: Resource, _: Inventory) -> Verdict | None:
    row = user.attr("credentials") or {}
    if row.get("password_enabled") != "true":
        return None  # no console password: the control does not apply
    unused: dict[str, bool] = {}
    created = days_since(row.get("user_creation_time"))
    for n in ("1", "2"):
        if (
            row.get(f"access_key_{n}_active") != "true"
            or days_since(row.get(f"access_key_{n}_last_used_date")) is not None
        ):
            continue
        rotated = days_since(row.get(f"access_key_{n}_last_rotated"))
        at_setup = created is not None and rotated is not None and abs(created - rotated) < 1
        unused[f"access_key_{n}"] = at_setup
    if unused:
        return failed(
            f"Console user {user.id} has active access keys that were never used.", never_used_created_at_setup=unused
        )
    return passed("The console user has no never-used active access key.", never_used_created_at_setup={})


@rule(
    id="iam_server_certificate_not_expired",
    fsbp=("IAM.26",),
    well_architected=("SEC09",),
    title="No expired SSL/TLS certificate is stored in IAM",
    severity=Severity.MEDIUM,
    resource_type=SERVER_CERTIFICATE,
    cis=("1.18",),
    rationale="An expired certificate deployed by mistake breaks TLS for clients or teaches them to click through "
    "warnings.",
    remediation="aws iam delete-server-certificate --server-certificate-name NAME (after moving listeners off it).",
)
def iam_server_certificate_not_expired(certificate: Resource, _: Inventory) -> Verdict:
    expiration = certificate.attr("Expiration")
    age = days_since(expiration)
    if age is None:
        raise Unreadable(f"certificate {certificate.id} has no readable expiration ({expiration!r})")
    if age > 0:
        return failed(f"Server certificate {certificate.id} expired on {expiration}.", Expiration=expiration)
    return passed(f"Server certificate {certificate.id} expires on {expiration}.", Expiration=expiration)


@rule(
    id="iam_identity_federation",
    fsbp=(),
    well_architected=("SEC02",),
    title="People sign in through central identity federation (manual)",
    severity=Severity.LOW,
    resource_type=ACCOUNT,
    cis=("1.20",),
    rationale="Users managed in each account drift and outlive their owners' employment; an identity provider or "
    "IAM Identity Center manages them in one place. CIS marks this Manual.",
    remediation="Set up IAM Identity Center (or a SAML/OIDC identity provider), move people to it and delete "
    "their IAM users.",
)
def iam_identity_federation(account: Resource, inventory: Inventory) -> Verdict:
    saml = [str(p.get("Arn")) for p in account.attr("saml_providers") or [] if isinstance(p, dict)]
    oidc = [str(p.get("Arn")) for p in account.attr("oidc_providers") or [] if isinstance(p, dict)]
    users = [u for u in inventory.of_type(USER) if u.account_id == account.account_id]
    console_users = sorted(u.id for u in users if "login_profile" not in u.errors and u.attributes.get("login_profile"))
    organization, org_note = _organization(inventory, account.account_id)
    seen = {
        "saml_providers": saml,
        "oidc_providers": oidc,
        "console_users": console_users,
        "organization": organization or org_note,
    }
    if (
        USER in inventory.collected_types
        and not users
        and not any(e.resource_type == USER for e in inventory.scope_errors)
    ):
        return passed("The account has no IAM users: identities are managed elsewhere.", **seen)
    if organization and console_users and not saml:
        return failed(
            "The account belongs to an AWS Organization yet people sign in as IAM users with passwords and no "
            "SAML/Identity Center provider is set up.",
            **seen,
        )
    return manual("Decide whether IAM users here should move to central federation.", **seen)


def _organization(inventory: Inventory, account_id: str) -> tuple[str | None, str]:
    settings = inventory.find(ORGANIZATION, account_id)
    if settings is None:
        return None, "not collected (scan the account service)"
    if "organization" in settings.errors:
        return None, f"unknown: {settings.errors['organization']}"
    organization = settings.attributes.get("organization") or {}
    return (str(organization.get("Id")) if organization else None), "not a member of an organization"


@rule(
    id="iam_no_cloudshell_full_access",
    fsbp=("IAM.27",),
    well_architected=("SEC03",),
    title="AWSCloudShellFullAccess is attached to no one",
    severity=Severity.MEDIUM,
    resource_type=ACCOUNT,
    cis=("1.21",),
    rationale="CloudShell full access lets a holder upload and download files to a shell with their credentials, "
    "a convenient exfiltration path around data-loss controls.",
    remediation="Detach AWSCloudShellFullAccess and grant a narrower CloudShell policy that denies file transfer.",
)
def iam_no_cloudshell_full_access(account: Resource, _: Inventory) -> Verdict:
    holders = _holders(account.attr("cloudshell_policy_entities") or {})
    if holders:
        return failed("AWSCloudShellFullAccess is attached: " + ", ".join(holders) + ".", attached_to=holders)
    return passed("No user, group or role has AWSCloudShellFullAccess.", attached_to=[])


def _holders(entities: dict[str, Any]) -> list[str]:
    return [
        *(f"group/{g.get('GroupName')}" for g in entities.get("PolicyGroups", []) if isinstance(g, dict)),
        *(f"user/{u.get('UserName')}" for u in entities.get("PolicyUsers", []) if isinstance(u, dict)),
        *(f"role/{r.get('RoleName')}" for r in entities.get("PolicyRoles", []) if isinstance(r, dict)),
    ]


@rule(
    id="iam_role_trust_restricted",
    fsbp=(),
    well_architected=("SEC03",),
    title="Role trust policies do not let anyone or other accounts in unconditionally",
    severity=Severity.HIGH,
    resource_type=ROLE,
    rationale="A role that trusts '*', another account without sts:ExternalId or aws:PrincipalOrgID, or every "
    "identity of an OIDC provider (any GitHub repository) can be assumed by strangers or confused deputies.",
    remediation="Name the exact principals, and add a Condition: sts:ExternalId for third parties, "
    "aws:PrincipalOrgID for your organization, token.actions.githubusercontent.com:sub for GitHub.",
)
def iam_role_trust_restricted(role: Resource, _: Inventory) -> Verdict:
    outsiders = policy.untrusted_assumers(role.attr("trust_policy"), role.account_id)
    if outsiders:
        return failed(f"Role {role.id} can be assumed by " + ", ".join(outsiders) + ".", untrusted=outsiders)
    return passed("Only this account, AWS services or conditioned principals can assume the role.", untrusted=[])


def _inline_wildcards(principal: Resource) -> Verdict:
    found = {
        str(p.get("PolicyName")): grants
        for p in principal.attr("inline_policies") or []
        if isinstance(p, dict) and (grants := policy.wildcard_grants(p.get("PolicyDocument")))
    }
    kind = principal.type.split("::")[-1].lower()
    if found:
        return failed(
            f"Inline policies of {kind} {principal.id} allow every action or use NotAction: " + ", ".join(found) + ".",
            wildcard_policies=found,
        )
    return passed(f"No inline policy of the {kind} allows Action * or uses an Allow NotAction.", wildcard_policies={})


_INLINE_RATIONALE = (
    "Inline policies are invisible in the managed-policy list; one with Action * or an Allow NotAction grants "
    "(almost) everything and escapes reviews of attached policies."
)
_INLINE_REMEDIATION = "Replace the inline policy with a managed policy that lists the actions needed, then delete it."


@rule(
    id="iam_user_inline_policy_no_wildcard",
    fsbp=(),
    well_architected=("SEC03",),
    title="User inline policies do not allow Action * or use NotAction",
    severity=Severity.HIGH,
    resource_type=USER,
    rationale=_INLINE_RATIONALE,
    remediation=_INLINE_REMEDIATION,
)
def iam_user_inline_policy_no_wildcard(user: Resource, _: Inventory) -> Verdict:
    return _inline_wildcards(user)


@rule(
    id="iam_group_inline_policy_no_wildcard",
    fsbp=(),
    well_architected=("SEC03",),
    title="Group inline policies do not allow Action * or use NotAction",
    severity=Severity.HIGH,
    resource_type=GROUP,
    rationale=_INLINE_RATIONALE,
    remediation=_INLINE_REMEDIATION,
)
def iam_group_inline_policy_no_wildcard(group: Resource, _: Inventory) -> Verdict:
    return _inline_wildcards(group)


@rule(
    id="iam_role_inline_policy_no_wildcard",
    fsbp=(),
    well_architected=("SEC03",),
    title="Role inline policies do not allow Action * or use NotAction",
    severity=Severity.HIGH,
    resource_type=ROLE,
    rationale=_INLINE_RATIONALE,
    remediation=_INLINE_REMEDIATION,
)
def iam_role_inline_policy_no_wildcard(role: Resource, _: Inventory) -> Verdict:
    return _inline_wildcards(role)


@rule(
    id="iam_user_console_and_access_keys",
    fsbp=(),
    well_architected=("SEC02",),
    title="Users do not have both a console password and active access keys",
    severity=Severity.LOW,
    resource_type=USER,
    rationale="A person signing in to the console rarely also needs long-lived keys; a workload needs keys but no "
    "password. Both on one user usually means a shared identity or a forgotten key.",
    remediation="Split the human and the workload: keep the password (with MFA) for the person, give the workload "
    "a role, then delete the keys.",
)
def iam_user_console_and_access_keys(user: Resource, _: Inventory) -> Verdict:
    has_password = user.attr("login_profile") is not None
    active = [str(k.get("AccessKeyId")) for k in user.attr("access_keys") or [] if k.get("Status") == "Active"]
    if has_password and active:
        return failed(f"User {user.id} has a console password and active access keys.", active_keys=active)
    return passed("The user does not combine a console password with active access keys.", active_keys=active)


@rule(
    id="iam_role_unused",
    fsbp=(),
    well_architected=("SEC03",),
    title=f"Roles were used in the last {UNUSED_ROLE_DAYS} days",
    severity=Severity.LOW,
    resource_type=ROLE,
    rationale="Unused roles keep their permissions and trust; they are attack surface nobody watches.",
    remediation="Confirm the role is not needed (CloudTrail, IAM last accessed data) and delete it.",
)
def iam_role_unused(role: Resource, _: Inventory) -> Verdict | None:
    if str(role.attr("Path") or "").startswith(SERVICE_LINKED_PATH):
        return None  # service-linked roles are managed by their service
    record = role.attr("RoleLastUsed")
    last_used = record.get("LastUsedDate") if isinstance(record, dict) else None
    used_days = days_since(last_used)
    created_days = days_since(role.attr("CreateDate"))
    if used_days is None:
        if created_days is not None and created_days <= UNUSED_ROLE_DAYS:
            return passed(f"Role {role.id} was created {int(created_days)} days ago.", last_used=None)
        return failed(f"Role {role.id} has never been used.", last_used=None)
    if used_days > UNUSED_ROLE_DAYS:
        return failed(f"Role {role.id} was last used {int(used_days)} days ago.", last_used=last_used)
    return passed(f"Role {role.id} was used {int(used_days)} days ago.", last_used=last_used)
