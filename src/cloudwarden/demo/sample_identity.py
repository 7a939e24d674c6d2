"""Acme's identity and account-level security services: the sample environment's IAM roles, inline
policies and certificates, its contacts, and GuardDuty, Security Hub and Macie per region.

``seed`` runs after :func:`cloudwarden.demo.environment.seed_sample_company` (it uses the groups that module
creates). Each mistake is planted with the rule that must report it as FAIL.
"""

from __future__ import annotations

import json
from typing import Any

from cloudwarden.demo.environment import PRIMARY_REGION, SECONDARY_REGION, ClientFactory, SampleEnvironment

AUDITOR_ACCOUNT = "999988887777"
PARTNER_ACCOUNT = "444455556666"
# The emulator keeps the certificate text without parsing it (and reports it as expired in 2012).
LEGACY_CERTIFICATE = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUYWNtZS13d3c=\n-----END CERTIFICATE-----"


def _document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def seed(client: ClientFactory, account_id: str, env: SampleEnvironment, scale: int) -> None:
    _roles(client, account_id, env, scale)
    _users_and_groups(client, account_id, env)
    _account_and_detection(client, account_id, env)


def _roles(client: ClientFactory, account_id: str, env: SampleEnvironment, scale: int) -> None:
    iam = client("iam", PRIMARY_REGION)
    # An auditor's account may assume this role, with no ExternalId: a confused-deputy waiting to happen.
    iam.create_role(
        RoleName="vendor-audit",
        AssumeRolePolicyDocument=_document(
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{AUDITOR_ACCOUNT}:root"},
                "Action": "sts:AssumeRole",
            }
        ),
    )
    iam.attach_role_policy(RoleName="vendor-audit", PolicyArn="arn:aws:iam::aws:policy/SecurityAudit")
    env.plant("iam_role_trust_restricted", "vendor-audit", "another account may assume the role without ExternalId")

    # The partner's role done right: ExternalId required.
    iam.create_role(
        RoleName="partner-reporting",
        AssumeRolePolicyDocument=_document(
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{PARTNER_ACCOUNT}:root"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": "acme-7f3c1d"}},
            }
        ),
    )

    # GitHub Actions deploy role that checks the audience but not the repository: any repository can deploy.
    provider = iam.create_open_id_connect_provider(
        Url="https://token.actions.githubusercontent.com", ClientIDList=["sts.amazonaws.com"], ThumbprintList=["a" * 40]
    )["OpenIDConnectProviderArn"]
    iam.create_role(
        RoleName="github-deploy",
        AssumeRolePolicyDocument=_document(
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}},
            }
        ),
    )
    env.plant("iam_role_trust_restricted", "github-deploy", "any GitHub repository may assume the deploy role")

    # An ETL role with an inline "temporary" admin policy.
    iam.create_role(
        RoleName="legacy-etl",
        AssumeRolePolicyDocument=_document(
            {"Effect": "Allow", "Principal": {"Service": "glue.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ),
    )
    iam.put_role_policy(
        RoleName="legacy-etl",
        PolicyName="temporary-admin",
        PolicyDocument=_document({"Effect": "Allow", "Action": "*", "Resource": "*"}),
    )
    env.plant("iam_role_inline_policy_no_wildcard", "legacy-etl", "inline policy allowing Action *")

    for n in range(scale):  # well-scoped service roles
        name = "orders-worker" if n == 0 else f"orders-worker-{n:04d}"
        iam.create_role(
            RoleName=name,
            AssumeRolePolicyDocument=_document(
                {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ),
        )
        iam.put_role_policy(
            RoleName=name,
            PolicyName="orders-queue",
            PolicyDocument=_document(
                {
                    "Effect": "Allow",
                    "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage"],
                    "Resource": f"arn:aws:sqs:{PRIMARY_REGION}:{account_id}:orders",
                }
            ),
        )


def _users_and_groups(client: ClientFactory, account_id: str, env: SampleEnvironment) -> None:
    iam = client("iam", PRIMARY_REGION)
    # The ops group's inline policy allows everything except IAM: still nearly admin.
    iam.put_group_policy(
        GroupName="ops",
        PolicyName="everything-but-iam",
        PolicyDocument=_document({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}),
    )
    env.plant("iam_group_inline_policy_no_wildcard", "ops", "inline NotAction Allow")

    # Developers may use CloudShell with file transfer.
    iam.attach_group_policy(GroupName="developers", PolicyArn="arn:aws:iam::aws:policy/AWSCloudShellFullAccess")
    env.plant("iam_no_cloudshell_full_access", account_id, "AWSCloudShellFullAccess attached to developers")

    # erin got a console password and, "just in case", an access key she never used.
    iam.create_user(UserName="erin")
    iam.create_login_profile(UserName="erin", Password="Autumn-Leaves-2024!")  # noqa: S106 - emulator only
    iam.add_user_to_group(UserName="erin", GroupName="developers")
    iam.create_access_key(UserName="erin")
    env.plant("iam_user_no_setup_access_keys", "erin", "access key created with the console user, never used")
    env.plant("iam_user_console_and_access_keys", "erin", "console password and an active access key")

    # An old certificate for www, uploaded to IAM years ago and never removed.
    iam.upload_server_certificate(
        ServerCertificateName="legacy-www", CertificateBody=LEGACY_CERTIFICATE, PrivateKey="not-a-real-key"
    )
    env.plant("iam_server_certificate_not_expired", "legacy-www", "expired server certificate")

    env.plant("iam_root_hardware_mfa", account_id, "root user without (hardware) MFA")


def _account_and_detection(client: ClientFactory, account_id: str, env: SampleEnvironment) -> None:
    # Nobody registered a security contact.
    env.plant("account_security_contact_registered", account_id, "no security contact")

    # The EU region has the detection services on; the primary region does not.
    client("guardduty", SECONDARY_REGION).create_detector(Enable=True)
    env.plant("guardduty_enabled", PRIMARY_REGION, "GuardDuty not enabled")
    client("securityhub", SECONDARY_REGION).enable_security_hub()
    env.plant("securityhub_enabled", PRIMARY_REGION, "Security Hub not enabled")
    client("macie2", PRIMARY_REGION).disable_macie()  # the emulator starts with Macie on
    env.plant("macie_enabled", PRIMARY_REGION, "Macie not enabled")
