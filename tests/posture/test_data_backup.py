"""AWS Backup: the emulator's "not implemented" answers become ERROR (never PASS), and the coverage rules'
reading of backup selections."""

from __future__ import annotations

from typing import Any

import pytest

from cloudwarden.aws.session import AwsContext
from cloudwarden.demo.emulator import EMULATOR_CREDENTIALS
from cloudwarden.findings.model import Status
from cloudwarden.inventory.model import Resource, ScopeError, Unreadable
from cloudwarden.posture.evaluator import evaluate
from cloudwarden.posture.rules.backup import selects
from tests.aws_faults import refuse
from tests.conftest import ACCOUNT_ID, REGION, verdict
from tests.posture.cases_data import PLAN, _plan, _selection, recorded_store

TABLE_ARN = f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/sessions"


def test_restore_testing_not_implemented_is_error(aws) -> None:
    aws.client("backup").create_backup_vault(BackupVaultName="primary")  # something is backed up here
    finding = verdict(aws.scan(services=["backup"]), "backup_restore_testing_planned", REGION)
    assert finding.status is Status.ERROR
    assert "ListRestoreTestingPlans" in finding.evidence["reason"]
    assert "not implement" in finding.evidence["reason"]


def test_restore_testing_not_asked_where_nothing_is_backed_up(aws) -> None:
    findings = aws.scan(services=["backup"])
    assert not [f for f in findings if f.rule.id == "backup_restore_testing_planned"]


def test_unreadable_selections_make_an_uncovered_store_error(aws) -> None:
    aws.client("backup").create_backup_plan(
        BackupPlan={
            "BackupPlanName": "daily",
            "Rules": [
                {"RuleName": "daily", "TargetBackupVaultName": "Default", "ScheduleExpression": "cron(0 5 ? * * *)"}
            ],
        }
    )
    aws.client("dynamodb").create_table(
        TableName="sessions",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    scanner = AwsContext.create(endpoint_url=aws.endpoint_url, credentials=EMULATOR_CREDENTIALS)
    refuse(scanner.session, "backup", "ListBackupSelections")
    finding = verdict(
        aws.scan(services=["backup", "dynamodb"], aws=scanner), "backup_plan_covers_dynamodb_table", "sessions"
    )
    assert finding.status is Status.ERROR
    assert "AccessDenied on backup:ListBackupSelections" in finding.message


def test_a_covering_plan_wins_over_an_unreadable_one() -> None:
    inventory, table = recorded_store(
        "dynamodb_table",
        _plan(plan_id="broken", error="AccessDenied on x"),
        _plan(_selection(Resources=[TABLE_ARN]), plan_id="good"),
    )()
    assert verdict(evaluate(inventory), "backup_plan_covers_dynamodb_table", table).status is Status.PASS


def test_failed_plan_listing_is_error_not_fail() -> None:
    inventory, table = recorded_store("dynamodb_table")()
    inventory.scope_errors.append(ScopeError(PLAN, REGION, "AccessDenied on backup:ListBackupPlans"))
    finding = verdict(evaluate(inventory), "backup_plan_covers_dynamodb_table", table)
    assert finding.status is Status.ERROR
    assert "AccessDenied on backup:ListBackupPlans" in finding.message


def test_coverage_not_judged_without_backup_plans_collected() -> None:
    inventory, _ = recorded_store("dynamodb_table")()
    inventory.collected_types.discard(PLAN)
    assert not [f for f in evaluate(inventory) if f.rule.id == "backup_plan_covers_dynamodb_table"]


def test_plan_in_another_region_does_not_cover() -> None:
    plan = _plan(_selection(Resources=["*"]))
    plan.region = "eu-west-1"
    inventory, table = recorded_store("dynamodb_table", plan)()
    assert verdict(evaluate(inventory), "backup_plan_covers_dynamodb_table", table).status is Status.FAIL


def _table(tags: dict[str, str] | None = None) -> Resource:
    return Resource("AWS::DynamoDB::Table", "sessions", REGION, ACCOUNT_ID, arn=TABLE_ARN, tags=tags or {})


@pytest.mark.parametrize(
    ("selection", "tags", "expected"),
    [
        ({}, {}, True),  # no criteria: every supported resource
        ({"Resources": ["*"]}, {}, True),
        ({"Resources": "arn:aws:dynamodb:*:*:table/*"}, {}, True),  # a string where a list belongs
        ({"Resources": ["arn:aws:dynamodb:*:*:table/sess?ons"]}, {}, False),  # "?" is literal in ARNs
        ({"Resources": ["arn:aws:rds:*:*:db:*"]}, {}, False),
        ({"Resources": ["*"], "NotResources": ["arn:aws:dynamodb:*:*:table/sess*"]}, {}, False),
        (
            {
                "ListOfTags": [
                    {"ConditionType": "STRINGEQUALS", "ConditionKey": "backup", "ConditionValue": "daily"},
                    {"ConditionType": "STRINGEQUALS", "ConditionKey": "tier", "ConditionValue": "gold"},
                ]
            },
            {"tier": "gold"},
            True,
        ),
        (
            {"ListOfTags": [{"ConditionType": "STRINGEQUALS", "ConditionKey": "backup", "ConditionValue": "daily"}]},
            {},
            False,
        ),
        (
            {
                "Resources": ["arn:aws:rds:*:*:db:*"],
                "ListOfTags": [{"ConditionType": "STRINGEQUALS", "ConditionKey": "backup", "ConditionValue": "daily"}],
            },
            {"backup": "daily"},
            False,
        ),  # strict: every part given must match
        (
            {
                "Conditions": {
                    "StringLike": [{"ConditionKey": "aws:ResourceTag/env", "ConditionValue": "prod*"}],
                    "StringNotEquals": [{"ConditionKey": "aws:ResourceTag/backup", "ConditionValue": "none"}],
                }
            },
            {"env": "production"},
            True,
        ),
        (
            {
                "Conditions": {
                    "StringLike": [{"ConditionKey": "aws:ResourceTag/env", "ConditionValue": "prod*"}],
                    "StringNotEquals": [{"ConditionKey": "aws:ResourceTag/backup", "ConditionValue": "none"}],
                }
            },
            {"env": "production", "backup": "none"},
            False,
        ),
        ({"Conditions": {"StringEquals": [], "StringLike": []}}, {}, True),  # empty condition lists
        (
            {"Conditions": {"StringEquals": [{"ConditionKey": "aws:ResourceTag/x", "ConditionValue": 5}]}},
            {"x": "5"},
            False,
        ),  # malformed: a number where text belongs selects nothing
        ({"Conditions": {"Bogus": [{"ConditionKey": "aws:ResourceTag/x", "ConditionValue": "1"}]}}, {"x": "1"}, False),
    ],
)
def test_selection_semantics(selection: dict[str, Any], tags: dict[str, str], expected: bool) -> None:
    assert selects(selection, _table(tags)) is expected


def test_unreadable_tags_raise_only_when_a_selection_needs_them() -> None:
    table = _table()
    table.errors["tags"] = "AccessDenied on dynamodb:ListTagsOfResource"
    assert selects({"Resources": [TABLE_ARN]}, table)
    with pytest.raises(Unreadable):
        selects({"ListOfTags": [{"ConditionType": "STRINGEQUALS", "ConditionKey": "b", "ConditionValue": "d"}]}, table)
