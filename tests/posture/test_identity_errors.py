"""Identity rules never turn "could not read" into PASS, and the Manual CIS controls (1.1, 1.6, 1.20) answer
MANUAL with what the tool could see."""

from __future__ import annotations

from cloudwarden.aws.session import AwsContext
from cloudwarden.demo.emulator import EMULATOR_CREDENTIALS
from cloudwarden.findings.model import Status
from cloudwarden.inventory.model import GLOBAL, Inventory, Resource
from cloudwarden.posture.evaluator import evaluate
from tests.aws_faults import refuse
from tests.conftest import ACCOUNT_ID, verdict
from tests.posture.cases_identity import _contact, _days_ago, _iam_account, _root_row


def test_contact_information_not_implemented_is_error(aws):
    findings = aws.scan(services=["account"])

    finding = verdict(findings, "account_contact_details_current", ACCOUNT_ID)
    assert finding.status is Status.ERROR
    assert finding.evidence["reason"] == "404 on account:GetContactInformation"
    # The other reads of the same resource are still judged.
    assert verdict(findings, "account_security_contact_registered", ACCOUNT_ID).status is Status.FAIL


def test_contact_information_present_is_manual():
    inventory, account = _contact({"FullName": "Acme Ltd", "PhoneNumber": "+15555550100", "CountryCode": "GB"})()
    finding = verdict(evaluate(inventory), "account_contact_details_current", account)
    assert finding.status is Status.MANUAL
    assert finding.evidence["contact"]["FullName"] == "Acme Ltd"


def test_missing_root_row_is_error_not_pass(aws):
    aws.client("iam").generate_credential_report()
    finding = verdict(aws.scan(services=["iam"]), "iam_root_not_used_recently", ACCOUNT_ID)
    assert finding.status is Status.ERROR
    assert "<root_account>" in finding.message


def test_root_used_long_ago_is_manual_with_dates():
    used = _days_ago(200)
    inventory, account = _iam_account(root_credentials=_root_row(password_last_used=used))()
    finding = verdict(evaluate(inventory), "iam_root_not_used_recently", account)
    assert finding.status is Status.MANUAL
    assert finding.evidence["last_used"] == {"password": used}


def test_users_outside_an_organization_are_manual(aws):
    aws.client("iam").create_user(UserName="alice")
    aws.client("iam").create_login_profile(UserName="alice", Password="Correct-Horse-Battery-9")
    aws.client("iam").generate_credential_report()
    finding = verdict(aws.scan(services=["iam", "account"]), "iam_identity_federation", ACCOUNT_ID)
    assert finding.status is Status.MANUAL
    assert finding.evidence["organization"] == "not a member of an organization"
    assert finding.evidence["console_users"] == ["alice"]


def test_authorization_details_denied_makes_roles_and_groups_error(aws):
    aws.client("iam").create_role(RoleName="web", AssumeRolePolicyDocument="{}")
    aws.client("iam").generate_credential_report()
    reader = AwsContext.create(endpoint_url=aws.endpoint_url, credentials=EMULATOR_CREDENTIALS)  # not the shared one
    refuse(reader.session, "iam", "GetAccountAuthorizationDetails")

    findings = aws.scan(services=["iam"], aws=reader)

    for rule_id, resource_type in (
        ("iam_role_trust_restricted", "AWS::IAM::Role"),
        ("iam_group_inline_policy_no_wildcard", "AWS::IAM::Group"),
    ):
        errors = [f for f in findings if f.rule.id == rule_id]
        assert [f.status for f in errors] == [Status.ERROR], errors
        assert errors[0].resource_id == f"{resource_type} in global"
        assert errors[0].evidence["reason"] == "AccessDenied on iam:GetAccountAuthorizationDetails"


def test_malformed_role_documents_do_not_crash_or_pass():
    role = Resource(
        "AWS::IAM::Role",
        "odd",
        GLOBAL,
        ACCOUNT_ID,
        attributes={
            "Path": "/",
            "trust_policy": {"Statement": {"Effect": "Allow", "Principal": "*", "Action": ["sts:*"]}},
            "inline_policies": [{"PolicyName": "p", "PolicyDocument": "not json"}, "junk"],
            "RoleLastUsed": "junk",
            "CreateDate": None,
        },
    )
    inventory = Inventory(
        account_id=ACCOUNT_ID, regions=["us-east-1"], resources=[role], collected_types={"AWS::IAM::Role"}
    )
    findings = evaluate(inventory)
    assert verdict(findings, "iam_role_trust_restricted", "odd").status is Status.FAIL
    assert verdict(findings, "iam_role_inline_policy_no_wildcard", "odd").status is Status.PASS
    assert verdict(findings, "iam_role_unused", "odd").status is Status.FAIL
