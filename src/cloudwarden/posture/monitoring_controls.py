"""CIS AWS Foundations v5.0 section 4 (4.1 to 4.15) as data: what each metric filter must catch.

Each control lists canonical CloudTrail events (small dicts shaped like real records) that a metric
filter MUST match and events it MUST NOT match. A filter *satisfies* a control when it matches all of the
former and none of the latter (:func:`judge_filter`). This replaces comparing pattern text with the CIS
reference text: whitespace, clause order, ``||`` versus ``in``-style spellings and quoting do not matter,
while a filter that misses an event the control names (too narrow) or fires on ordinary reads (too
broad: ``{ $.eventName = * }``) does not satisfy it. A too-broad filter counts as a failure on purpose:
an alarm that fires on every read is muted within a week, so the change it was meant to flag goes unseen.

Must-not events are reads, unrelated writes and real noise; they deliberately exclude events of *other*
monitoring controls, so one filter covering several controls (say, every network change) may satisfy
each of them. ``CIS_PATTERNS`` holds the reference patterns of the benchmark; each satisfies its control.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cloudwarden.posture.filter_pattern import Expr, matches


@dataclass(frozen=True)
class Sample:
    """One canonical event and a short label for messages ("Root ConsoleLogin")."""

    label: str
    event: dict[str, Any]


@dataclass(frozen=True)
class MonitoringControl:
    cis: str
    title: str
    must_match: tuple[Sample, ...]
    must_not_match: tuple[Sample, ...]


def _call(name: str, source: str, identity: str = "IAMUser", **extra: Any) -> dict[str, Any]:
    """A successful management API call as CloudTrail records it (only the fields filters look at)."""
    event: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": identity,
            "accountId": "111122223333",
            "arn": "arn:aws:iam::111122223333:user/alice"
            if identity == "IAMUser"
            else "arn:aws:iam::111122223333:root",
        },
        "eventSource": f"{source}.amazonaws.com",
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.10",
        "userAgent": "aws-cli/2.15.0",
        "eventType": "AwsApiCall",
        "readOnly": name.startswith(("Get", "List", "Describe", "Head", "Lookup")),
        "recipientAccountId": "111122223333",
    }
    event.update(extra)
    return event


def _calls(source: str, names: Iterable[str]) -> tuple[Sample, ...]:
    return tuple(Sample(f"{source}:{n}", _call(n, source)) for n in names)


def _console_login(identity: str, *, success: bool, mfa: str) -> dict[str, Any]:
    extra: dict[str, Any] = {
        "eventType": "AwsConsoleSignIn",
        "additionalEventData": {
            "LoginTo": "https://console.aws.amazon.com/console/home",
            "MobileVersion": "No",
            "MFAUsed": mfa,
        },
        "responseElements": {"ConsoleLogin": "Success" if success else "Failure"},
    }
    if not success:
        extra["errorMessage"] = "Failed authentication"
    return _call("ConsoleLogin", "signin", identity, **extra)


# Real CloudTrail records, trimmed to the fields filters test: read-only, successful, not root. From
# Stratus Red Team detonation logs (github.com/DataDog/stratus-red-team, docs/detonation-logs, commit
# 7c9a7a5a63dc370260a6528dd0d30476854806c1), Apache License 2.0; copied in /work/shared/data.
REAL_NOISE: tuple[Sample, ...] = (
    Sample(
        "real ssm:DescribeInstanceInformation",
        {
            "eventVersion": "1.08",
            "userIdentity": {"type": "IAMUser", "accountId": "111122223333"},
            "eventSource": "ssm.amazonaws.com",
            "eventName": "DescribeInstanceInformation",
            "eventType": "AwsApiCall",
            "readOnly": True,
            "sourceIPAddress": "198.51.100.7",
            "awsRegion": "us-east-1",
        },
    ),
    Sample(
        "real ec2:DescribeInstances",
        {
            "eventVersion": "1.08",
            "userIdentity": {"type": "IAMUser", "accountId": "111122223333"},
            "eventSource": "ec2.amazonaws.com",
            "eventName": "DescribeInstances",
            "eventType": "AwsApiCall",
            "readOnly": True,
            "sourceIPAddress": "198.51.100.7",
            "awsRegion": "us-east-1",
        },
    ),
    Sample(
        "real secretsmanager:GetSecretValue",
        {
            "eventVersion": "1.08",
            "userIdentity": {"type": "IAMUser", "accountId": "111122223333"},
            "eventSource": "secretsmanager.amazonaws.com",
            "eventName": "GetSecretValue",
            "eventType": "AwsApiCall",
            "readOnly": True,
            "sourceIPAddress": "198.51.100.7",
            "awsRegion": "us-east-1",
        },
    ),
    Sample(
        "real sts:AssumeRole",
        {
            "eventVersion": "1.08",
            "userIdentity": {"type": "IAMUser", "accountId": "111122223333"},
            "eventSource": "sts.amazonaws.com",
            "eventName": "AssumeRole",
            "eventType": "AwsApiCall",
            "readOnly": True,
            "sourceIPAddress": "198.51.100.7",
            "awsRegion": "us-east-1",
        },
    ),
    Sample(
        "real bedrock:GetFoundationModelAvailability",
        {
            "eventVersion": "1.09",
            "userIdentity": {"type": "AssumedRole", "accountId": "111122223333"},
            "eventSource": "bedrock.amazonaws.com",
            "eventName": "GetFoundationModelAvailability",
            "eventType": "AwsApiCall",
            "readOnly": True,
            "sourceIPAddress": "198.51.100.7",
            "awsRegion": "us-east-1",
        },
    ),
)

_READS = _calls("iam", ["ListPolicies", "GetPolicy"]) + _calls("ec2", ["DescribeSecurityGroups"]) + REAL_NOISE


def _control(
    cis: str, title: str, must_match: tuple[Sample, ...], must_not: tuple[Sample, ...] = ()
) -> MonitoringControl:
    return MonitoringControl(cis, title, must_match, must_not + _READS)


def _changes(
    cis: str, title: str, source: str, names: list[str], reads: list[str], foreign: tuple[Sample, ...] = ()
) -> MonitoringControl:
    """A "changes to X are monitored" control: every named write must match, the service's reads not."""
    return _control(cis, title, _calls(source, names), _calls(source, reads) + foreign)


CONTROLS: dict[str, MonitoringControl] = {
    c.cis: c
    for c in (
        _control(
            "4.1",
            "unauthorized API calls",
            (
                Sample(
                    "s3:GetObject AccessDenied",
                    _call("GetObject", "s3", errorCode="AccessDenied", errorMessage="Access Denied"),
                ),
                Sample("kms:Decrypt AccessDeniedException", _call("Decrypt", "kms", errorCode="AccessDeniedException")),
                Sample(
                    "ec2:RunInstances Client.UnauthorizedOperation",
                    _call("RunInstances", "ec2", errorCode="Client.UnauthorizedOperation"),
                ),
            ),
            (
                Sample("successful s3:GetObject", _call("GetObject", "s3")),
                Sample(
                    "dynamodb:Query ThrottlingException", _call("Query", "dynamodb", errorCode="ThrottlingException")
                ),
                Sample(
                    "s3:GetBucketPolicy NoSuchBucketPolicy",
                    _call("GetBucketPolicy", "s3", errorCode="NoSuchBucketPolicy"),
                ),
            ),
        ),
        _control(
            "4.2",
            "management console sign-in without MFA",
            (Sample("IAMUser ConsoleLogin without MFA", _console_login("IAMUser", success=True, mfa="No")),),
            (
                Sample("IAMUser ConsoleLogin with MFA", _console_login("IAMUser", success=True, mfa="Yes")),
                Sample("iam:CreateUser", _call("CreateUser", "iam")),
            ),
        ),
        _control(
            "4.3",
            "usage of the root user",
            (
                Sample("Root ConsoleLogin", _console_login("Root", success=True, mfa="Yes")),
                Sample("Root iam:CreateAccessKey", _call("CreateAccessKey", "iam", "Root")),
                Sample("Root s3:ListBuckets", _call("ListBuckets", "s3", "Root")),
            ),
            (
                Sample(
                    "Root call invoked by an AWS service",
                    _call(
                        "GetBucketAcl",
                        "s3",
                        "Root",
                        userIdentity={
                            "type": "Root",
                            "accountId": "111122223333",
                            "invokedBy": "support.amazonaws.com",
                        },
                    ),
                ),
                Sample(
                    "AwsServiceEvent for the root identity",
                    _call("CredentialVerification", "signin", "Root", eventType="AwsServiceEvent"),
                ),
                Sample("IAMUser iam:CreateAccessKey", _call("CreateAccessKey", "iam")),
            ),
        ),
        _changes(
            "4.4",
            "IAM policy changes",
            "iam",
            [
                "DeleteGroupPolicy",
                "DeleteRolePolicy",
                "DeleteUserPolicy",
                "PutGroupPolicy",
                "PutRolePolicy",
                "PutUserPolicy",
                "CreatePolicy",
                "DeletePolicy",
                "CreatePolicyVersion",
                "DeletePolicyVersion",
                "AttachRolePolicy",
                "DetachRolePolicy",
                "AttachUserPolicy",
                "DetachUserPolicy",
                "AttachGroupPolicy",
                "DetachGroupPolicy",
            ],
            ["ListPolicies", "GetPolicyVersion", "ListAttachedRolePolicies", "GetRolePolicy"],
        ),
        _changes(
            "4.5",
            "CloudTrail configuration changes",
            "cloudtrail",
            ["CreateTrail", "UpdateTrail", "DeleteTrail", "StartLogging", "StopLogging"],
            ["DescribeTrails", "GetTrailStatus", "LookupEvents", "GetEventSelectors"],
        ),
        _control(
            "4.6",
            "management console authentication failures",
            (
                Sample("IAMUser ConsoleLogin failure", _console_login("IAMUser", success=False, mfa="No")),
                Sample("Root ConsoleLogin failure", _console_login("Root", success=False, mfa="No")),
            ),
            (
                Sample("successful ConsoleLogin", _console_login("IAMUser", success=True, mfa="Yes")),
                Sample(
                    "kms:Decrypt failure",
                    _call("Decrypt", "kms", errorCode="AccessDeniedException", errorMessage="User is not authorized"),
                ),
            ),
        ),
        _changes(
            "4.7",
            "disabling or scheduled deletion of customer managed keys",
            "kms",
            ["DisableKey", "ScheduleKeyDeletion"],
            ["DescribeKey", "ListKeys", "Decrypt", "GenerateDataKey", "EnableKey", "CancelKeyDeletion"],
        ),
        _changes(
            "4.8",
            "S3 bucket policy changes",
            "s3",
            [
                "PutBucketAcl",
                "PutBucketPolicy",
                "PutBucketCors",
                "PutBucketLifecycle",
                "PutBucketReplication",
                "DeleteBucketPolicy",
                "DeleteBucketCors",
                "DeleteBucketLifecycle",
                "DeleteBucketReplication",
            ],
            ["GetBucketPolicy", "GetBucketAcl", "ListBuckets", "GetObject", "PutObject"],
        ),
        _changes(
            "4.9",
            "AWS Config configuration changes",
            "config",
            ["StopConfigurationRecorder", "DeleteDeliveryChannel", "PutDeliveryChannel", "PutConfigurationRecorder"],
            ["DescribeConfigurationRecorders", "DescribeDeliveryChannels", "PutEvaluations"],
        ),
        _changes(
            "4.10",
            "security group changes",
            "ec2",
            [
                "AuthorizeSecurityGroupIngress",
                "AuthorizeSecurityGroupEgress",
                "RevokeSecurityGroupIngress",
                "RevokeSecurityGroupEgress",
                "CreateSecurityGroup",
                "DeleteSecurityGroup",
            ],
            ["DescribeSecurityGroups", "DescribeSecurityGroupRules", "RunInstances"],
        ),
        _changes(
            "4.11",
            "network ACL changes",
            "ec2",
            [
                "CreateNetworkAcl",
                "CreateNetworkAclEntry",
                "DeleteNetworkAcl",
                "DeleteNetworkAclEntry",
                "ReplaceNetworkAclEntry",
                "ReplaceNetworkAclAssociation",
            ],
            ["DescribeNetworkAcls", "RunInstances"],
        ),
        _changes(
            "4.12",
            "network gateway changes",
            "ec2",
            [
                "CreateCustomerGateway",
                "DeleteCustomerGateway",
                "AttachInternetGateway",
                "CreateInternetGateway",
                "DeleteInternetGateway",
                "DetachInternetGateway",
            ],
            ["DescribeInternetGateways", "DescribeCustomerGateways", "RunInstances"],
        ),
        _changes(
            "4.13",
            "route table changes",
            "ec2",
            [
                "CreateRoute",
                "CreateRouteTable",
                "ReplaceRoute",
                "ReplaceRouteTableAssociation",
                "DeleteRouteTable",
                "DeleteRoute",
                "DisassociateRouteTable",
            ],
            ["DescribeRouteTables", "RunInstances"],
        ),
        _changes(
            "4.14",
            "VPC changes",
            "ec2",
            [
                "CreateVpc",
                "DeleteVpc",
                "ModifyVpcAttribute",
                "AcceptVpcPeeringConnection",
                "CreateVpcPeeringConnection",
                "DeleteVpcPeeringConnection",
                "RejectVpcPeeringConnection",
                "AttachClassicLinkVpc",
                "DetachClassicLinkVpc",
                "DisableVpcClassicLink",
                "EnableVpcClassicLink",
            ],
            ["DescribeVpcs", "DescribeVpcAttribute", "RunInstances"],
        ),
        _changes(
            "4.15",
            "AWS Organizations changes",
            "organizations",
            [
                "AcceptHandshake",
                "AttachPolicy",
                "CreateAccount",
                "CreateOrganizationalUnit",
                "CreatePolicy",
                "DeclineHandshake",
                "DeleteOrganization",
                "DeleteOrganizationalUnit",
                "DeletePolicy",
                "DetachPolicy",
                "DisablePolicyType",
                "EnablePolicyType",
                "InviteAccountToOrganization",
                "LeaveOrganization",
                "MoveAccount",
                "RemoveAccountFromOrganization",
                "UpdatePolicy",
                "UpdateOrganizationalUnit",
            ],
            ["DescribeOrganization", "ListAccounts", "ListPolicies"],
            # Same event names from IAM: the benchmark's filter names the Organizations event source.
            foreign=_calls("iam", ["CreatePolicy", "DeletePolicy"]),
        ),
    )
}


def _any_of(names: list[str]) -> str:
    return " || ".join(f'($.eventName = "{n}")' for n in names)


def _names(cis: str) -> list[str]:
    return [s.event["eventName"] for s in CONTROLS[cis].must_match]


# The benchmark's reference patterns (CIS v5.0 audit text); each satisfies its own control.
CIS_PATTERNS: dict[str, str] = {
    "4.1": '{ (($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*")) && '
    '(($.sourceIPAddress != "delivery.logs.amazonaws.com") && ($.eventName != "HeadBucket")) }',
    "4.2": '{ ($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed != "Yes") && '
    '($.userIdentity.type = "IAMUser") && ($.responseElements.ConsoleLogin = "Success") }',
    "4.3": '{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS && '
    '$.eventType != "AwsServiceEvent" }',
    "4.4": "{ " + _any_of(_names("4.4")) + " }",
    "4.5": "{ " + _any_of(_names("4.5")) + " }",
    "4.6": '{ ($.eventName = ConsoleLogin) && ($.errorMessage = "Failed authentication") }',
    "4.7": "{ ($.eventSource = kms.amazonaws.com) && (($.eventName = DisableKey) || "
    "($.eventName = ScheduleKeyDeletion)) }",
    "4.8": "{ ($.eventSource = s3.amazonaws.com) && (" + _any_of(_names("4.8")) + ") }",
    "4.9": "{ ($.eventSource = config.amazonaws.com) && (" + _any_of(_names("4.9")) + ") }",
    "4.10": "{ " + _any_of(_names("4.10")) + " }",
    "4.11": "{ " + _any_of(_names("4.11")) + " }",
    "4.12": "{ " + _any_of(_names("4.12")) + " }",
    "4.13": "{ ($.eventSource = ec2.amazonaws.com) && (" + _any_of(_names("4.13")) + ") }",
    "4.14": "{ " + _any_of(_names("4.14")) + " }",
    "4.15": "{ ($.eventSource = organizations.amazonaws.com) && (" + _any_of(_names("4.15")) + ") }",
}


@dataclass(frozen=True)
class FilterJudgement:
    satisfies: bool
    reason: str  # "satisfies", "misses <label>" or "wrongly matches <label>"


def judge_filter(control: MonitoringControl, expr: Expr) -> FilterJudgement:
    """Whether a parsed filter matches every must-match event and no must-not event of ``control``."""
    for sample in control.must_match:
        if not matches(expr, sample.event):
            return FilterJudgement(False, f"misses {sample.label}")
    for sample in control.must_not_match:
        if matches(expr, sample.event):
            return FilterJudgement(False, f"wrongly matches {sample.label}")
    return FilterJudgement(True, "satisfies")


@dataclass(frozen=True)
class Coverage:
    """Which must-match events a filter matches, and the first must-not event it wrongly matches, if any."""

    matched: frozenset[str]
    wrongly_matches: str | None
    missed: tuple[str, ...]


def coverage(control: MonitoringControl, expr: Expr) -> Coverage:
    """What a filter contributes to ``control``: several clean filters, each alarmed, may cover it together
    (``{A} {B}`` as two filters is as good as ``{A || B}``)."""
    matched = frozenset(s.label for s in control.must_match if matches(expr, s.event))
    wrong = next((s.label for s in control.must_not_match if matches(expr, s.event)), None)
    missed = tuple(s.label for s in control.must_match if s.label not in matched)
    return Coverage(matched, wrong, missed)


def required(control: MonitoringControl) -> frozenset[str]:
    return frozenset(s.label for s in control.must_match)
