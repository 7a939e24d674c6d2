"""IAM (global): account settings, the credential report, users, groups, roles, server certificates and
the managed policies in use.

Groups, roles and every inline policy document come from one paginated GetAccountAuthorizationDetails
call (it returns trust policies, inline documents and RoleLastUsed together), not a call per principal.
"""

from __future__ import annotations

import csv
import io
import time
from typing import Any
from urllib.parse import unquote

from botocore.exceptions import BotoCoreError, ClientError

from cloudwarden.aws.errors import describe_failure
from cloudwarden.inventory.collectors.base import (
    Collector,
    CollectorScope,
    for_each,
    list_all,
    read_attribute,
    strip_metadata,
    tags_to_dict,
)
from cloudwarden.inventory.model import GLOBAL, Resource, ScopeError, jsonable

ACCOUNT_SETTINGS = "AWS::IAM::AccountSettings"
USER = "AWS::IAM::User"
POLICY = "AWS::IAM::ManagedPolicy"
ROLE = "AWS::IAM::Role"
GROUP = "AWS::IAM::Group"
SERVER_CERTIFICATE = "AWS::IAM::ServerCertificate"
# Bounds on attacker-influenced sizes: a principal's inline policies kept for the rules.
MAX_INLINE_POLICIES = 100

# IAM builds the report asynchronously; real accounts take seconds. Bounded so a stuck report is an
# ERROR, not a hang.
REPORT_POLLS = 20
REPORT_POLL_SECONDS = 1.0
ROOT_ROW = "<root_account>"


def collect_iam(scope: CollectorScope) -> list[Resource]:
    iam = scope.client("iam")
    account = Resource(ACCOUNT_SETTINGS, scope.account_id, GLOBAL, scope.account_id, arn=scope.arn("iam", "root"))
    read_attribute(
        account,
        "summary",
        iam.get_account_summary,
        service="iam",
        operation="GetAccountSummary",
        transform=lambda r: r["SummaryMap"],
    )
    read_attribute(
        account,
        "password_policy",
        iam.get_account_password_policy,
        service="iam",
        operation="GetAccountPasswordPolicy",
        absent=("NoSuchEntity",),
        transform=lambda r: r["PasswordPolicy"],
    )
    read_attribute(
        account,
        "virtual_mfa_devices",
        lambda: list_all(iam, "list_virtual_mfa_devices", "VirtualMFADevices[]"),
        service="iam",
        operation="ListVirtualMFADevices",
    )
    support_arn = f"arn:{scope.partition}:iam::aws:policy/AWSSupportAccess"
    read_attribute(
        account,
        "support_policy_entities",
        lambda: iam.list_entities_for_policy(PolicyArn=support_arn),
        service="iam",
        operation="ListEntitiesForPolicy",
        absent=("NoSuchEntity",),
        transform=strip_metadata,
    )

    cloudshell_arn = f"arn:{scope.partition}:iam::aws:policy/AWSCloudShellFullAccess"
    read_attribute(
        account,
        "cloudshell_policy_entities",
        lambda: iam.list_entities_for_policy(PolicyArn=cloudshell_arn),
        service="iam",
        operation="ListEntitiesForPolicy",
        absent=("NoSuchEntity",),
        transform=strip_metadata,
    )
    read_attribute(
        account,
        "saml_providers",
        lambda: iam.list_saml_providers().get("SAMLProviderList", []),
        service="iam",
        operation="ListSAMLProviders",
    )
    read_attribute(
        account,
        "oidc_providers",
        lambda: iam.list_open_id_connect_providers().get("OpenIDConnectProviderList", []),
        service="iam",
        operation="ListOpenIDConnectProviders",
    )

    report, report_error = credential_report(iam)
    rows = {row["user"]: row for row in report["rows"]} if report else {}
    if report_error:
        account.errors["root_credentials"] = report_error
    else:
        account.attributes["root_credentials"] = rows.get(ROOT_ROW)
        account.attributes["credential_report_generated"] = report["generated"] if report else None

    resources = [account]
    details, details_error = authorization_details(iam)
    try:
        users = list_all(iam, "list_users", "Users[]")
    except (ClientError, BotoCoreError) as exc:
        scope.unreadable(USER, exc, "iam", "ListUsers")
    else:
        generated = report["generated"] if report else None
        resources += for_each(users, lambda u: _user(scope, iam, u, rows, report_error, generated))
        inline_by_user = {u.get("UserName"): u.get("UserPolicyList") for u in details.get("UserDetailList", [])}
        for user in resources[1:]:
            if details_error:
                user.errors["inline_policies"] = details_error
            elif user.id not in inline_by_user:  # created between the two calls: unknown, not "none"
                user.errors["inline_policies"] = "user missing from iam:GetAccountAuthorizationDetails"
            else:
                user.attributes["inline_policies"] = _inline(inline_by_user.get(user.id))
    if details_error:
        scope.scope_errors += [
            ScopeError(ROLE, scope.region, details_error),
            ScopeError(GROUP, scope.region, details_error),
        ]
    else:
        resources += [_role(scope, r) for r in details.get("RoleDetailList", [])]
        resources += [_group(scope, g) for g in details.get("GroupDetailList", [])]
    try:
        certificates = list_all(iam, "list_server_certificates", "ServerCertificateMetadataList[]")
    except (ClientError, BotoCoreError) as exc:
        scope.unreadable(SERVER_CERTIFICATE, exc, "iam", "ListServerCertificates")
    else:
        resources += [
            Resource(
                SERVER_CERTIFICATE,
                str(c.get("ServerCertificateName")),
                GLOBAL,
                scope.account_id,
                arn=str(c.get("Arn", "")),
                attributes=jsonable(c),
            )
            for c in certificates
        ]

    try:
        policies = list_all(iam, "list_policies", "Policies[]", Scope="All", OnlyAttached=True)
    except (ClientError, BotoCoreError) as exc:
        scope.unreadable(POLICY, exc, "iam", "ListPolicies")
    else:
        resources += for_each(policies, lambda p: _policy(scope, iam, p))
    return resources


def authorization_details(iam: Any) -> tuple[dict[str, list[Any]], str | None]:
    """Users' inline policies, groups and roles, with every inline document and trust policy, in one paginated
    call: ``(details, None)`` or ``({}, reason)``."""
    details: dict[str, list[Any]] = {"UserDetailList": [], "GroupDetailList": [], "RoleDetailList": []}
    try:
        pages = iam.get_paginator("get_account_authorization_details").paginate(Filter=["User", "Group", "Role"])
        for page in pages:
            for key, items in details.items():
                items.extend(page.get(key) or [])
    except (ClientError, BotoCoreError) as exc:
        return {}, describe_failure(exc, "iam", "GetAccountAuthorizationDetails")
    return details, None


def _inline(policies: Any) -> list[dict[str, Any]]:
    """``[{"PolicyName", "PolicyDocument"}]``; IAM returns documents URL-encoded JSON text or parsed."""
    out = []
    for item in (policies if isinstance(policies, list) else [])[:MAX_INLINE_POLICIES]:
        if isinstance(item, dict):
            out.append(
                {"PolicyName": str(item.get("PolicyName")), "PolicyDocument": _document(item.get("PolicyDocument"))}
            )
    return jsonable(out)


def _document(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("%7B"):
        return unquote(value)
    return value


def _role(scope: CollectorScope, role: dict[str, Any]) -> Resource:
    attributes = {k: v for k, v in role.items() if k not in ("RolePolicyList", "AssumeRolePolicyDocument", "Tags")}
    attributes["trust_policy"] = _document(role.get("AssumeRolePolicyDocument"))
    attributes["inline_policies"] = _inline(role.get("RolePolicyList"))
    return Resource(
        ROLE,
        str(role.get("RoleName")),
        GLOBAL,
        scope.account_id,
        arn=str(role.get("Arn", "")),
        attributes=jsonable(attributes),
        tags=tags_to_dict(role.get("Tags")),
    )


def _group(scope: CollectorScope, group: dict[str, Any]) -> Resource:
    attributes = {k: v for k, v in group.items() if k != "GroupPolicyList"}
    attributes["inline_policies"] = _inline(group.get("GroupPolicyList"))
    return Resource(
        GROUP,
        str(group.get("GroupName")),
        GLOBAL,
        scope.account_id,
        arn=str(group.get("Arn", "")),
        attributes=jsonable(attributes),
    )


def credential_report(iam: Any) -> tuple[dict[str, Any] | None, str | None]:
    """Generate (or reuse) the credential report and parse it: ``({"generated", "rows"}, None)`` or
    ``(None, reason)``."""
    try:
        for _ in range(REPORT_POLLS):
            if iam.generate_credential_report().get("State") == "COMPLETE":
                break
            time.sleep(REPORT_POLL_SECONDS)
        response = iam.get_credential_report()
    except (ClientError, BotoCoreError) as exc:
        operation = "GetCredentialReport" if "GetCredentialReport" in str(exc) else "GenerateCredentialReport"
        return None, describe_failure(exc, "iam", operation)
    text = response["Content"].decode("utf-8", "replace")
    rows = list(csv.DictReader(io.StringIO(text)))
    return {"generated": jsonable(response.get("GeneratedTime")), "rows": rows}, None


def _user(
    scope: CollectorScope,
    iam: Any,
    user: dict[str, Any],
    report_rows: dict[str, Any],
    report_error: str | None,
    report_generated: Any = None,
) -> Resource:
    name = user["UserName"]
    resource = Resource(USER, name, GLOBAL, scope.account_id, arn=user.get("Arn", ""), attributes=jsonable(user))
    reads = {
        "attached_policies": (
            "ListAttachedUserPolicies",
            lambda: list_all(iam, "list_attached_user_policies", "AttachedPolicies[]", UserName=name),
        ),
        "inline_policy_names": (
            "ListUserPolicies",
            lambda: list_all(iam, "list_user_policies", "PolicyNames[]", UserName=name),
        ),
        "access_keys": (
            "ListAccessKeys",
            lambda: list_all(iam, "list_access_keys", "AccessKeyMetadata[]", UserName=name),
        ),
        "mfa_devices": ("ListMFADevices", lambda: list_all(iam, "list_mfa_devices", "MFADevices[]", UserName=name)),
        "groups": (
            "ListGroupsForUser",
            lambda: list_all(iam, "list_groups_for_user", "Groups[].GroupName", UserName=name),
        ),
    }
    for attribute, (operation, call) in reads.items():
        read_attribute(resource, attribute, call, service="iam", operation=operation)
    read_attribute(
        resource,
        "login_profile",
        lambda: iam.get_login_profile(UserName=name),
        service="iam",
        operation="GetLoginProfile",
        absent=("NoSuchEntity",),
        transform=lambda r: r["LoginProfile"],
    )
    read_attribute(
        resource,
        "tags",
        lambda: list_all(iam, "list_user_tags", "Tags[]", UserName=name),
        service="iam",
        operation="ListUserTags",
        transform=tags_to_dict,
    )
    resource.tags = resource.attributes.pop("tags", None) or {}
    if report_error:
        resource.errors["credentials"] = report_error
    else:
        resource.attributes["credentials"] = report_rows.get(name)
        resource.attributes["credential_report_generated"] = report_generated
    return resource


def _policy(scope: CollectorScope, iam: Any, policy: dict[str, Any]) -> Resource:
    arn = policy["Arn"]
    resource = Resource(POLICY, arn, GLOBAL, scope.account_id, arn=arn, attributes=jsonable(policy))
    resource.attributes["aws_managed"] = ":iam::aws:policy/" in arn
    read_attribute(
        resource,
        "document",
        lambda: iam.get_policy_version(PolicyArn=arn, VersionId=policy["DefaultVersionId"]),
        service="iam",
        operation="GetPolicyVersion",
        transform=lambda r: r["PolicyVersion"]["Document"],
    )
    read_attribute(
        resource,
        "entities",
        lambda: iam.list_entities_for_policy(PolicyArn=arn),
        service="iam",
        operation="ListEntitiesForPolicy",
        transform=strip_metadata,
    )
    return resource


COLLECTORS = [
    Collector(
        "iam",
        (ACCOUNT_SETTINGS, USER, POLICY, ROLE, GROUP, SERVER_CERTIFICATE),
        collect_iam,
        regional=False,
        operation="GetAccountSummary",
    ),
]
