"""Who does what in Acme's sample CloudTrail: the people and roles behind each call, as data.

Every planted change is attributed by :data:`OPERATION_PERSONAS` (one API action) or else
:data:`SERVICE_PERSONAS` (the whole service); :func:`cloudtrail_record` turns a persona and a call into a
CloudTrail record (format 1.09) as AWS writes it for that kind of identity.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

EVENT_VERSION = "1.09"
GLOBAL_REGION = "us-east-1"  # where global services (IAM, STS's global endpoint) log
GLOBAL_HOSTS = frozenset({"iam.amazonaws.com", "sts.amazonaws.com", "s3.amazonaws.com"})  # no region in the host
BROWSER = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
    "Safari/537.36"
)
GITHUB_OIDC = "token.actions.githubusercontent.com"
GITHUB_SUBJECT = "repo:acme/infra:ref:refs/heads/main"
AUDITOR_ACCOUNT = "999988887777"  # the vendor's account that may assume vendor-audit (demo/sample_identity.py)


@dataclass(frozen=True)
class Persona:
    """One identity making calls. ``kind`` is CloudTrail's ``userIdentity.type`` (``IAMUser``, ``Root`` or
    ``AssumedRole``); ``session`` is the role session name (``{run}``: the CI run number); ``principal_id`` the
    user's or role's unique id (unused for root, whose id is the account)."""

    kind: str
    name: str
    user_agent: str
    source_ips: tuple[str, ...]
    principal_id: str
    key_id: str
    role_path: str = "/"
    session: str = ""
    console: bool = False
    mfa: bool = False
    invoked_by: str | None = None
    web_identity_provider: str | None = None


_CLI = (
    "aws-cli/2.22.4 md/awscrt#0.22.0 ua/2.0 os/{os} md/arch#{arch} lang/python#3.12.6 md/pyimpl#CPython "
    "cfg/retry-mode#standard md/installer#exe md/prompt#off"
)
_BOTO3 = (
    "Boto3/1.35.76 md/Botocore#1.35.76 ua/2.0 os/linux#6.5.0-1025-azure md/arch#x86_64 lang/python#3.12.7 "
    "md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.35.76"
)

# Source IPs are from the documentation ranges (RFC 5737), so the demo never names a real host.
PERSONAS: dict[str, Persona] = {
    "alice": Persona(  # platform admin, in the console
        "IAMUser", "alice", "console.amazonaws.com", ("198.51.100.23",), "AIDA5ACMEALICE000001", "ASIA5ACMEALICE000001",
        console=True,
    ),
    "bob": Persona(  # developer, aws-cli with a long-term access key
        "IAMUser", "bob", _CLI.format(os="macos#24.1.0", arch="arm64"), ("203.0.113.54", "203.0.113.61"),
        "AIDA5ACMEBOB00000002", "AKIA5ACMEBOB00000002",
    ),
    "dana": Persona(  # operations, in the console with MFA
        "IAMUser", "dana", "console.amazonaws.com", ("198.51.100.31",), "AIDA5ACMEDANA0000003", "ASIA5ACMEDANA0000003",
        console=True, mfa=True,
    ),
    "ci-deployer": Persona(  # GitHub Actions, through OIDC
        "AssumedRole", "ci-deployer", _BOTO3, ("192.0.2.80", "192.0.2.81", "192.0.2.97", "192.0.2.114"),
        "AROA5ACMECIDEPLOYER1", "ASIA5ACMECIDEPLOYER1", session="gh-actions-{run}",
        web_identity_provider=GITHUB_OIDC,
    ),
    "mallory": Persona(  # Identity Center administrator
        "AssumedRole", "AWSReservedSSO_AdministratorAccess_5f2a9c3e7b1d4a60",
        _CLI.format(os="linux#6.8.0-49-generic", arch="x86_64"), ("198.51.100.77",), "AROA5ACMESSOADMIN001",
        "ASIA5ACMEMALLORY0001", role_path="/aws-reserved/sso.amazonaws.com/", session="mallory",
    ),
    "root": Persona(
        "Root", "root", "console.amazonaws.com", ("198.51.100.23",), "", "ASIA5ACMEROOT0000001", console=True
    ),
    "vendor-audit": Persona(  # the auditor's scanner, from its own account
        "AssumedRole", "vendor-audit", _BOTO3.replace("azure", "aws"), ("192.0.2.160",), "AROA5ACMEVENDORAUDIT",
        "ASIA5ACMEVENDORAUDIT", session="auditor-scan",
    ),
    "aws-config": Persona(  # AWS Config's service-linked role, recording resources
        "AssumedRole", "AWSServiceRoleForConfig", "config.amazonaws.com", ("config.amazonaws.com",),
        "AROA5ACMEAWSCONFIG01", "ASIA5ACMEAWSCONFIG01", role_path="/aws-service-role/config.amazonaws.com/",
        session="AWSConfig-Describe", invoked_by="config.amazonaws.com",
    ),
}  # fmt: skip

# Who made the planted changes: one API action ("service:Operation", botocore's service name) first, else the
# service. IAM by the platform admin, data stores by the developer, network and compute by the CI pipeline,
# logging and detection by the Identity Center admin, and the account-level settings by root.
OPERATION_PERSONAS: dict[str, str] = {
    "iam:UpdateAccountPasswordPolicy": "root",
    "iam:UploadServerCertificate": "root",
    "iam:CreateVirtualMFADevice": "dana",
    "iam:EnableMFADevice": "dana",
}
SERVICE_PERSONAS: dict[str, str] = {
    "iam": "alice",
    "kms": "alice",
    "s3": "bob",
    "rds": "bob",
    "dynamodb": "bob",
    "efs": "bob",
    "sqs": "bob",
    "sns": "bob",
    "secretsmanager": "bob",
    "backup": "bob",
    "ec2": "ci-deployer",
    "elbv2": "ci-deployer",
    "lambda": "ci-deployer",
    "ecs": "ci-deployer",
    "acm": "ci-deployer",
    "cloudtrail": "mallory",
    "config": "mallory",
    "logs": "mallory",
    "cloudwatch": "mallory",
    "guardduty": "mallory",
    "securityhub": "mallory",
    "macie2": "mallory",
}
DEFAULT_PERSONA = "ci-deployer"  # infrastructure as code deploys whatever the table does not name


def persona_for(service: str, operation: str) -> str:
    """The persona key (in :data:`PERSONAS`) that made ``service:operation`` (botocore's service name)."""
    return OPERATION_PERSONAS.get(f"{service}:{operation}") or SERVICE_PERSONAS.get(service, DEFAULT_PERSONA)


def cloudtrail_time(when: datetime) -> str:
    """``2026-11-28T17:08:05Z``, CloudTrail's eventTime format."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def random_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def role_arn(persona: Persona, account_id: str) -> str:
    return f"arn:aws:iam::{account_id}:role{persona.role_path}{persona.name}"


def user_identity(persona: Persona, account_id: str, session: str, since: datetime) -> dict[str, Any]:
    """``userIdentity`` of a call by ``persona`` in role session ``session``, signed in or assumed at ``since``."""
    attributes = {"creationDate": cloudtrail_time(since), "mfaAuthenticated": str(persona.mfa).lower()}
    if persona.kind == "Root":
        identity: dict[str, Any] = {
            "type": "Root",
            "principalId": account_id,
            "arn": f"arn:aws:iam::{account_id}:root",
            "accountId": account_id,
            "accessKeyId": persona.key_id,
            "sessionContext": {"sessionIssuer": {}, "webIdFederationData": {}, "attributes": attributes},
        }
    elif persona.kind == "IAMUser":
        identity = {
            "type": "IAMUser",
            "principalId": persona.principal_id,
            "arn": f"arn:aws:iam::{account_id}:user/{persona.name}",
            "accountId": account_id,
            "accessKeyId": persona.key_id,
            "userName": persona.name,
        }
        if persona.console:
            identity["sessionContext"] = {"sessionIssuer": {}, "webIdFederationData": {}, "attributes": attributes}
    else:
        web = {}
        if persona.web_identity_provider:
            web = {
                "federatedProvider": f"arn:aws:iam::{account_id}:oidc-provider/{persona.web_identity_provider}",
                "attributes": {},
            }
        identity = {
            "type": "AssumedRole",
            "principalId": f"{persona.principal_id}:{session}",
            "arn": f"arn:aws:sts::{account_id}:assumed-role/{persona.name}/{session}",
            "accountId": account_id,
            "accessKeyId": persona.key_id,
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": persona.principal_id,
                    "arn": role_arn(persona, account_id),
                    "accountId": account_id,
                    "userName": persona.name,
                },
                "webIdFederationData": web,
                "attributes": attributes,
            },
        }
    if persona.invoked_by:
        identity["invokedBy"] = persona.invoked_by
    return identity


def cloudtrail_record(
    rng: random.Random,
    *,
    account_id: str,
    when: datetime,
    event_source: str,
    event_name: str,
    region: str,
    identity: dict[str, Any],
    source_ip: str,
    user_agent: str,
    request_parameters: Any = None,
    response_elements: Any = None,
    read_only: bool = False,
    error: tuple[str, str] | None = None,
    event_type: str = "AwsApiCall",
    **extra: Any,
) -> dict[str, Any]:
    """One CloudTrail record (format 1.09) in the field order AWS writes. ``error``: (errorCode, errorMessage);
    ``extra``: further top-level fields (``additionalEventData``, ``resources``…)."""
    record: dict[str, Any] = {
        "eventVersion": EVENT_VERSION,
        "userIdentity": identity,
        "eventTime": cloudtrail_time(when),
        "eventSource": event_source,
        "eventName": event_name,
        "awsRegion": region,
        "sourceIPAddress": source_ip,
        "userAgent": user_agent,
    }
    if error is not None:
        record["errorCode"], record["errorMessage"] = error
    record["requestParameters"] = request_parameters
    record["responseElements"] = response_elements
    record.update(extra)
    record["requestID"] = random_uuid(rng)
    record["eventID"] = random_uuid(rng)
    record["readOnly"] = read_only
    record["eventType"] = event_type
    record["managementEvent"] = True
    record["recipientAccountId"] = account_id
    record["eventCategory"] = "Management"
    if event_type == "AwsApiCall" and not source_ip.endswith(".amazonaws.com"):
        host = event_source if event_source in GLOBAL_HOSTS else event_source.replace(".", f".{region}.", 1)
        record["tlsDetails"] = {
            "tlsVersion": "TLSv1.3",
            "cipherSuite": "TLS_AES_128_GCM_SHA256",
            "clientProvidedHostHeader": host,
        }
    if identity.get("sessionContext") and user_agent == "console.amazonaws.com":
        record["sessionCredentialFromConsole"] = "true"
    return record
