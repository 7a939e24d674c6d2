"""IAM (global): account settings, the credential report, users and the managed policies in use."""

from __future__ import annotations

import csv
import io
import time
from typing import Any

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
from cloudwarden.inventory.model import GLOBAL, Resource, jsonable

ACCOUNT_SETTINGS = "AWS::IAM::AccountSettings"
USER = "AWS::IAM::User"
POLICY = "AWS::IAM::ManagedPolicy"

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

    report, report_error = credential_report(iam)
    rows = {row["user"]: row for row in report["rows"]} if report else {}
    if report_error:
        account.errors["root_credentials"] = report_error
    else:
        account.attributes["root_credentials"] = rows.get(ROOT_ROW)
        account.attributes["credential_report_generated"] = report["generated"] if report else None

    resources = [account]
    try:
        users = list_all(iam, "list_users", "Users[]")
    except (ClientError, BotoCoreError) as exc:
        scope.unreadable(USER, exc, "iam", "ListUsers")
    else:
        resources += for_each(users, lambda u: _user(scope, iam, u, rows, report_error))

    try:
        policies = list_all(iam, "list_policies", "Policies[]", Scope="All", OnlyAttached=True)
    except (ClientError, BotoCoreError) as exc:
        scope.unreadable(POLICY, exc, "iam", "ListPolicies")
    else:
        resources += for_each(policies, lambda p: _policy(scope, iam, p))
    return resources


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
    scope: CollectorScope, iam: Any, user: dict[str, Any], report_rows: dict[str, Any], report_error: str | None
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
    Collector("iam", (ACCOUNT_SETTINGS, USER, POLICY), collect_iam, regional=False, operation="GetAccountSummary"),
]
