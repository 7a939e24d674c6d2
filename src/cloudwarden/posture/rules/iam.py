"""IAM rules: the root user, password policy, users' credentials and permissions, managed policies."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from cloudwarden.findings.model import Severity
from cloudwarden.inventory.model import Inventory, Resource
from cloudwarden.posture import policy
from cloudwarden.posture.registry import Verdict, failed, passed, rule

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
        )
    return passed("No active credential is unused for 45 days.", stale=[])


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
