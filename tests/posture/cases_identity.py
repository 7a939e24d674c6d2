"""Rule cases for identity: the root user, IAM users, groups, roles, server certificates and the account's
contacts (with MANUAL cases for the CIS controls that need a person).

Seeded through the emulator where it can show the state. Recorded inventories stand in where it cannot:
moto cannot enable root MFA (GetAccountSummary always answers AccountMFAEnabled=0), its credential report has
no ``<root_account>`` row, it reports every server certificate as expiring in 2012, it cannot backdate a
role's creation or last use, and it does not implement account:GetContactInformation (HTTP 404).
``test_identity_errors.py`` checks that those emulator answers become ERROR, not PASS.
"""

from __future__ import annotations

import json
from typing import Any

from cloudwarden.inventory.model import GLOBAL, Inventory, Resource
from tests.conftest import ACCOUNT_ID, Emulated
from tests.posture.rule_cases import AWS_POLICY, EC2_ASSUME_ROLE, Case, Recorded, Seed, _policy_json, _role, _user

IAM, ACCOUNT_SVC = ("iam",), ("account",)
IAM_ACCOUNT = "AWS::IAM::AccountSettings"
IAM_TYPES = {
    IAM_ACCOUNT,
    "AWS::IAM::User",
    "AWS::IAM::ManagedPolicy",
    "AWS::IAM::Role",
    "AWS::IAM::Group",
    "AWS::IAM::ServerCertificate",
}
ROOT_ARN = f"arn:aws:iam::{ACCOUNT_ID}:root"
OTHER_ACCOUNT = "999988887777"
NO_ROOT_MFA = "the emulator cannot enable MFA on the root user (GetAccountSummary always answers AccountMFAEnabled=0)"
NO_ROOT_ROW = "the emulator's credential report has no <root_account> row, so root use can only be recorded"
OLD_CERTIFICATE = "the emulator answers Expiration 2012-05-08 for every server certificate"
OLD_ROLE = "the emulator cannot backdate a role's creation or record its last use"
NO_CONTACT_API = "the emulator does not implement account:GetContactInformation (HTTP 404)"


def _saved(inventory: Inventory, resource_id: str) -> tuple[Inventory, str]:
    """``inventory`` as written to a file and read back, so rules see the types they would offline."""
    return Inventory.from_dict(json.loads(json.dumps(inventory.to_dict()))), resource_id


def _iam_account(**attributes: Any) -> Recorded:
    """An IAM-only scan whose account-level resource carries ``attributes`` over a clean baseline, shaped as
    ``collectors/iam.py:collect_iam`` writes it."""

    def build() -> tuple[Inventory, str]:
        base: dict[str, Any] = {
            "summary": {"AccountMFAEnabled": 0, "AccountAccessKeysPresent": 0},
            "password_policy": None,
            "virtual_mfa_devices": [],
            "support_policy_entities": {"PolicyGroups": [], "PolicyUsers": [], "PolicyRoles": []},
            "cloudshell_policy_entities": {"PolicyGroups": [], "PolicyUsers": [], "PolicyRoles": []},
            "saml_providers": [],
            "oidc_providers": [],
            "root_credentials": _root_row(),
            "credential_report_generated": "2026-11-28T12:00:00+00:00",
        }
        account = Resource(IAM_ACCOUNT, ACCOUNT_ID, GLOBAL, ACCOUNT_ID, arn=ROOT_ARN, attributes={**base, **attributes})
        inventory = Inventory(
            account_id=ACCOUNT_ID, regions=["us-east-1"], resources=[account], collected_types=set(IAM_TYPES)
        )
        return _saved(inventory, ACCOUNT_ID)

    return build


def _root_row(password_last_used: str = "no_information", key_last_used: str = "N/A") -> dict[str, str]:  # noqa: S107
    return {
        "user": "<root_account>",
        "arn": ROOT_ARN,
        "user_creation_time": "2021-03-01T09:00:00+00:00",
        "password_enabled": "not_supported",
        "password_last_used": password_last_used,
        "mfa_active": "true",
        "access_key_1_active": "false",
        "access_key_1_last_used_date": key_last_used,
        "access_key_2_active": "false",
        "access_key_2_last_used_date": "N/A",
    }


def _days_ago(days: int) -> str:
    from datetime import UTC, datetime, timedelta

    return (datetime.now(UTC) - timedelta(days=days)).replace(microsecond=0).isoformat()


def _recorded(resource: Resource, types: set[str]) -> Recorded:
    def build() -> tuple[Inventory, str]:
        inventory = Inventory(account_id=ACCOUNT_ID, regions=["us-east-1"], resources=[resource], collected_types=types)
        return _saved(inventory, resource.id)

    return build


def _certificate(expiration: str) -> Recorded:
    return _recorded(
        Resource(
            "AWS::IAM::ServerCertificate",
            "www",
            GLOBAL,
            ACCOUNT_ID,
            arn=f"arn:aws:iam::{ACCOUNT_ID}:server-certificate/www",
            attributes={"ServerCertificateName": "www", "Expiration": expiration},
        ),
        set(IAM_TYPES),
    )


def _old_role(last_used: str | None) -> Recorded:
    role = {
        "Path": "/",
        "RoleName": "legacy-etl",
        "Arn": f"arn:aws:iam::{ACCOUNT_ID}:role/legacy-etl",
        "CreateDate": "2023-01-01T00:00:00+00:00",
        "RoleLastUsed": {"LastUsedDate": last_used} if last_used else {},
        "trust_policy": json.loads(EC2_ASSUME_ROLE),
        "inline_policies": [],
    }
    return _recorded(
        Resource("AWS::IAM::Role", "legacy-etl", GLOBAL, ACCOUNT_ID, arn=role["Arn"], attributes=role), set(IAM_TYPES)
    )


def _contact(contact: dict[str, Any] | None) -> Recorded:
    return _recorded(
        Resource(
            "AWS::Account::AccountSettings",
            ACCOUNT_ID,
            GLOBAL,
            ACCOUNT_ID,
            attributes={"contact_information": contact, "security_contact": None, "organization": None},
        ),
        {"AWS::Account::AccountSettings"},
    )


# -- seeding helpers ------------------------------------------------------------------------------


def _trusting(name: str, trust: dict[str, Any]) -> Seed:
    def seed(aws: Emulated) -> str:
        aws.client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=_policy_json(trust))
        return name

    return seed


def _assume(principal: Any, condition: dict[str, Any] | None = None, action: str = "sts:AssumeRole") -> dict[str, Any]:
    return {
        "Effect": "Allow",
        "Principal": principal,
        "Action": action,
        **({"Condition": condition} if condition else {}),
    }


ADMIN = {"Effect": "Allow", "Action": "*", "Resource": "*"}
NOT_IAM = {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}
READ_REPORTS = {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::reports/*"}


def _user_inline(statement: dict[str, Any]) -> Seed:
    def seed(aws: Emulated) -> str:
        aws.client("iam").put_user_policy(
            UserName=_user(aws, "erin"), PolicyName="own", PolicyDocument=_policy_json(statement)
        )
        return "erin"

    return seed


def _group_inline(statement: dict[str, Any]) -> Seed:
    def seed(aws: Emulated) -> str:
        iam = aws.client("iam")
        iam.create_group(GroupName="ops")
        iam.put_group_policy(GroupName="ops", PolicyName="ops", PolicyDocument=_policy_json(statement))
        return "ops"

    return seed


def _role_inline(statement: dict[str, Any]) -> Seed:
    def seed(aws: Emulated) -> str:
        aws.client("iam").put_role_policy(
            RoleName=_role(aws, "worker"), PolicyName="work", PolicyDocument=_policy_json(statement)
        )
        return "worker"

    return seed


def _server_certificate(aws: Emulated) -> str:
    aws.client("iam").upload_server_certificate(ServerCertificateName="www", CertificateBody=_PEM, PrivateKey="key")
    return "www"


def _federated_org_with_console_user(saml: bool) -> Seed:
    def seed(aws: Emulated) -> str:
        aws.client("organizations").create_organization(FeatureSet="ALL")
        _user(aws, "alice", password=True)
        if saml:
            aws.client("iam").create_saml_provider(Name="okta", SAMLMetadataDocument="<md:EntityDescriptor/>" * 50)
        return ACCOUNT_ID

    return seed


def _security_contact(aws: Emulated) -> str:
    aws.client("account").put_alternate_contact(
        AlternateContactType="SECURITY",
        EmailAddress="security@example.com",
        Name="Security team",
        PhoneNumber="+15555550100",
        Title="CISO",
    )
    return ACCOUNT_ID


def _attached_to_role(policy_arn: str) -> Seed:
    def seed(aws: Emulated) -> str:
        _role(aws, "shell-user", policy_arn)
        return ACCOUNT_ID

    return seed


# A self-signed certificate's PEM text; moto stores it without parsing.
_PEM = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ2xvdWR3YXJkZW4=\n-----END CERTIFICATE-----"

CASES: list[Case] = [
    # Root user (CIS 1.5, 1.6)
    Case(
        "iam_root_hardware_mfa",
        "PASS",
        inventory=_iam_account(summary={"AccountMFAEnabled": 1}),
        recorded_because=NO_ROOT_MFA,
        evidence={"virtual_root_mfa": []},
    ),
    Case(
        "iam_root_hardware_mfa",
        "FAIL",
        inventory=_iam_account(
            summary={"AccountMFAEnabled": 1},
            virtual_mfa_devices=[
                {"SerialNumber": f"arn:aws:iam::{ACCOUNT_ID}:mfa/root-account-mfa-device", "User": {"Arn": ROOT_ARN}}
            ],
        ),
        recorded_because=NO_ROOT_MFA,
        label="virtual",
        message="virtual device",
    ),
    Case("iam_root_hardware_mfa", "FAIL", lambda aws: ACCOUNT_ID, IAM, evidence={"AccountMFAEnabled": 0}),
    Case(
        "iam_root_not_used_recently",
        "PASS",
        inventory=_iam_account(),
        recorded_because=NO_ROOT_ROW,
        evidence={"last_used": {}},
    ),
    Case(
        "iam_root_not_used_recently",
        "FAIL",
        inventory=_iam_account(root_credentials=_root_row(_days_ago(3))),
        recorded_because=NO_ROOT_ROW,
        message="used in the last 90 days",
    ),
    Case(
        "iam_root_not_used_recently",
        "MANUAL",
        inventory=_iam_account(root_credentials=_root_row("2025-01-02T03:04:05+00:00")),
        recorded_because=NO_ROOT_ROW,
        evidence={"last_used": {"password": "2025-01-02T03:04:05+00:00"}},
    ),
    # Console users and keys (CIS 1.10; beyond CIS)
    Case("iam_user_no_setup_access_keys", "PASS", lambda aws: _user(aws, "dana", password=True), IAM),
    Case(
        "iam_user_no_setup_access_keys",
        "FAIL",
        lambda aws: _user(aws, "alice", password=True, keys=1),
        IAM,
        evidence={"never_used_created_at_setup": {"access_key_1": True}},
    ),
    Case("iam_user_console_and_access_keys", "PASS", lambda aws: _user(aws, "dana", password=True), IAM),
    Case("iam_user_console_and_access_keys", "PASS", lambda aws: _user(aws, "ci-bot", keys=1), IAM, label="keys-only"),
    Case(
        "iam_user_console_and_access_keys",
        "FAIL",
        lambda aws: _user(aws, "alice", password=True, keys=1),
        IAM,
        message="console password and active access keys",
    ),
    # Server certificates (CIS 1.18)
    Case(
        "iam_server_certificate_not_expired",
        "PASS",
        inventory=_certificate("2099-01-01T00:00:00+00:00"),
        recorded_because=OLD_CERTIFICATE,
    ),
    Case("iam_server_certificate_not_expired", "FAIL", _server_certificate, IAM, message="expired"),
    # Federation (CIS 1.20, Manual: PASS only when the account has no IAM users at all)
    Case("iam_identity_federation", "PASS", lambda aws: ACCOUNT_ID, IAM, message="no IAM users"),
    Case(
        "iam_identity_federation",
        "FAIL",
        _federated_org_with_console_user(saml=False),
        ("iam", "account"),
        evidence={"console_users": ["alice"], "saml_providers": []},
    ),
    Case(
        "iam_identity_federation",
        "MANUAL",
        lambda aws: _user(aws, "alice", password=True) and ACCOUNT_ID,
        ("iam", "account"),
        evidence={"console_users": ["alice"], "organization": "not a member of an organization"},
    ),
    # CloudShell (CIS 1.21)
    Case("iam_no_cloudshell_full_access", "PASS", lambda aws: ACCOUNT_ID, IAM, evidence={"attached_to": []}),
    Case(
        "iam_no_cloudshell_full_access",
        "FAIL",
        _attached_to_role(AWS_POLICY + "AWSCloudShellFullAccess"),
        IAM,
        evidence={"attached_to": ["role/shell-user"]},
    ),
    # Role trust
    Case("iam_role_trust_restricted", "PASS", _trusting("web", _assume({"Service": "ec2.amazonaws.com"})), IAM),
    Case(
        "iam_role_trust_restricted",
        "PASS",
        _trusting(
            "vendor",
            _assume({"AWS": f"arn:aws:iam::{OTHER_ACCOUNT}:root"}, {"StringEquals": {"sts:ExternalId": "acme-7f3c"}}),
        ),
        IAM,
        label="external-id",
    ),
    Case(
        "iam_role_trust_restricted",
        "FAIL",
        _trusting("vendor", _assume({"AWS": f"arn:aws:iam::{OTHER_ACCOUNT}:root"})),
        IAM,
        evidence={"untrusted": [f"account {OTHER_ACCOUNT}"]},
    ),
    Case(
        "iam_role_trust_restricted",
        "FAIL",
        _trusting(
            "deploy",
            _assume(
                {"Federated": f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/token.actions.githubusercontent.com"},
                {"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}},
                "sts:AssumeRoleWithWebIdentity",
            ),
        ),
        IAM,
        label="github-any-repo",
        evidence={"untrusted": ["any identity of token.actions.githubusercontent.com"]},
    ),
    # Inline policies
    Case("iam_user_inline_policy_no_wildcard", "PASS", _user_inline(READ_REPORTS), IAM),
    Case(
        "iam_user_inline_policy_no_wildcard",
        "FAIL",
        _user_inline(ADMIN),
        IAM,
        evidence={"wildcard_policies": {"own": ["Action *"]}},
    ),
    Case("iam_group_inline_policy_no_wildcard", "PASS", _group_inline(READ_REPORTS), IAM),
    Case(
        "iam_group_inline_policy_no_wildcard",
        "FAIL",
        _group_inline(NOT_IAM),
        IAM,
        evidence={"wildcard_policies": {"ops": ["NotAction iam:*"]}},
    ),
    Case("iam_role_inline_policy_no_wildcard", "PASS", _role_inline(READ_REPORTS), IAM),
    Case("iam_role_inline_policy_no_wildcard", "FAIL", _role_inline(ADMIN), IAM),
    # Unused roles
    Case("iam_role_unused", "PASS", lambda aws: _role(aws, "fresh"), IAM, message="created 0 days ago"),
    Case("iam_role_unused", "PASS", inventory=_old_role(_days_ago(5)), recorded_because=OLD_ROLE, label="used"),
    Case("iam_role_unused", "FAIL", inventory=_old_role(None), recorded_because=OLD_ROLE, message="never been used"),
    Case(
        "iam_role_unused",
        "FAIL",
        inventory=_old_role(_days_ago(200)),
        recorded_because=OLD_ROLE,
        label="stale",
        message="last used 200 days ago",
    ),
    # Account contacts (CIS 1.1 Manual: FAIL when missing, MANUAL otherwise; CIS 1.2)
    Case("account_contact_details_current", "FAIL", inventory=_contact(None), recorded_because=NO_CONTACT_API),
    Case(
        "account_contact_details_current",
        "MANUAL",
        inventory=_contact({"FullName": "Acme Ltd", "PhoneNumber": "+15555550100", "CountryCode": "GB"}),
        recorded_because=NO_CONTACT_API,
        evidence={"contact": {"FullName": "Acme Ltd", "PhoneNumber": "+15555550100", "CountryCode": "GB"}},
    ),
    Case("account_security_contact_registered", "PASS", _security_contact, ACCOUNT_SVC),
    Case(
        "account_security_contact_registered",
        "FAIL",
        lambda aws: ACCOUNT_ID,
        ACCOUNT_SVC,
        evidence={"security_contact": None},
    ),
]
