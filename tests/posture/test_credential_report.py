"""Verdicts from the credential report say how old the report was."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cloudwarden.findings.model import Status
from cloudwarden.inventory.model import GLOBAL, Inventory, Resource
from cloudwarden.posture.evaluator import evaluate
from tests.conftest import ACCOUNT_ID, verdict


def test_unused_credentials_verdict_carries_the_report_age():
    generated = (datetime.now(UTC) - timedelta(hours=3)).isoformat()
    row = {"user": "bob", "password_enabled": "false", "access_key_1_active": "true",
           "access_key_1_last_used_date": (datetime.now(UTC) - timedelta(days=80)).isoformat()}
    user = Resource("AWS::IAM::User", "bob", GLOBAL, ACCOUNT_ID,
                    attributes={"credentials": row, "credential_report_generated": generated})
    inventory = Inventory(ACCOUNT_ID, ["us-east-1"], resources=[user], collected_types={"AWS::IAM::User"})

    finding = verdict(evaluate(inventory), "iam_user_unused_credentials", "bob")

    assert finding.status is Status.FAIL
    assert finding.evidence["credential_report_generated"] == generated
    assert 2.9 <= finding.evidence["credential_report_age_hours"] <= 3.1


def test_live_collection_records_when_the_report_was_generated(aws):
    aws.client("iam").create_user(UserName="carol")
    finding = verdict(aws.scan(services=["iam"]), "iam_user_unused_credentials", "carol")
    assert finding.evidence["credential_report_generated"]
    assert finding.evidence["credential_report_age_hours"] is not None
