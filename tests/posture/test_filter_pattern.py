"""The CloudWatch Logs filter pattern evaluator, the CIS 4.x control definitions built on it, and the
monitoring rules' ERROR verdicts (organisation trail elsewhere, CloudWatch listing denied)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloudwarden.aws.session import AwsContext
from cloudwarden.demo.emulator import EMULATOR_CREDENTIALS
from cloudwarden.findings.model import Status
from cloudwarden.inventory.model import Inventory, ScopeError
from cloudwarden.posture.evaluator import evaluate
from cloudwarden.posture.filter_pattern import MAX_PATTERN_LENGTH, FilterPatternError, describe, matches, parse
from cloudwarden.posture.monitoring_controls import CIS_PATTERNS, CONTROLS, coverage, judge_filter
from cloudwarden.posture.rules.monitoring import fires_on_one_event
from tests.aws_faults import refuse
from tests.conftest import ACCOUNT_ID, REGION, verdict
from tests.posture.cases_monitoring import NARROW_44, RULE_OF, SERVICES, _org_trail_inventory, seed_monitoring

STRATUS = Path("/work/shared/data/stratus-red-team-detonation-logs")


def satisfies(control: str, pattern: str) -> bool:
    return judge_filter(CONTROLS[control], parse(pattern)).satisfies


# -- the evaluator --------------------------------------------------------------------------------

EVENT = {
    "eventName": "ConsoleLogin",
    "errorCode": "Client.UnauthorizedOperation",
    "count": 3,
    "ratio": 0.5,
    "flag": True,
    "off": False,
    "nothing": None,
    "user": {"type": "Root", "name": "a b"},
    "resources": [{"ARN": "arn:aws:s3:::x"}, {"ARN": "arn:aws:s3:::y"}],
}


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ('{ $.eventName = "ConsoleLogin" }', True),
        ("{$.eventName=ConsoleLogin}", True),
        ('{ $.eventName = "consolelogin" }', False),  # case-sensitive
        ('{ $.eventName = "Console*" }', True),
        ('{ $.eventName = "*Login" }', True),
        ('{ $.eventName = "C*L*n" }', True),
        ('{ $.eventName = "Console" }', False),  # exact, not substring
        ('{ $.eventName != "ConsoleLogin" }', False),
        ('{ $.errorCode = "*UnauthorizedOperation" }', True),
        ("{ $.eventName = * }", True),
        ("{ $.user = * }", False),  # an object is not a value
        ("{ $.count = 3 }", True),
        ("{ $.count != 3 }", False),
        ("{ $.count > 2 }", True),
        ("{ $.count >= 3 }", True),
        ("{ $.count < 3 }", False),
        ("{ $.count <= 2.5 }", False),
        ("{ $.ratio = 0.5 }", True),
        ('{ $.count = "3" }', False),  # a string never equals a number
        ("{ $.flag IS TRUE }", True),
        ("{ $.flag IS FALSE }", False),
        ("{ $.off IS FALSE }", True),
        ("{ $.nothing IS NULL }", True),
        ("{ $.flag IS NULL }", False),
        ("{ $.absent IS NULL }", False),
        ("{ $.user.type EXISTS }", True),
        ("{ $.user.invokedBy NOT EXISTS }", True),
        ("{ $.user NOT EXISTS }", False),
        ('{ $.user.name = "a b" }', True),
        ('{ $.resources[1].ARN = "arn:aws:s3:::y" }', True),
        ("{ $.resources[5].ARN = * }", False),
        ('{ $.absent != "x" }', False),  # a comparison on a missing field is false, for != too
        ("{ $.eventName = X || $.count = 3 && $.flag IS FALSE }", False),  # && binds tighter than ||
        ("{ ($.eventName = X || $.count = 3) && $.flag IS TRUE }", True),
        ('{ $.eventName = "Con\\"sole" }', False),
    ],
)
def test_matches(pattern: str, expected: bool) -> None:
    assert matches(parse(pattern), EVENT) is expected


@pytest.mark.parametrize(
    "pattern",
    [
        "",
        "   ",
        "ERROR",
        '"Failed authentication"',
        "[ip, user, ...]",
        "{ }",
        "{ $.a = }",
        "{ $.a = 1",
        "$.a = 1 }",
        "{ a = 1 }",
        "{ $.a == 1 }",
        "{ $.a = 1 && }",
        "{ ($.a = 1 }",
        "{ $.a = 1) }",
        "{ $.a < x }",
        '{ $.a > "1" }',
        "{ $.a IS MAYBE }",
        "{ $.a NOT }",
        '{ $.a = "unterminated }',
        "{ $.a = %regex% }",
        "{ $.a[*] = 1 }",
        "{ $.a[x] = 1 }",
        "{ $. = 1 }",
        "{ $.a. = 1 }",
        "{ $.a = 1 $.b = 2 }",
        "{" + "(" * 100 + "$.a = 1" + ")" * 100 + "}",
        "{ $.a = 1 }" + " " * MAX_PATTERN_LENGTH,
        None,
        42,
    ],
)
def test_malformed_or_unsupported_patterns_raise(pattern: object) -> None:
    with pytest.raises(FilterPatternError):
        parse(pattern)  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(max_size=200), st.text(alphabet='{}()$.[]0123 "*=!<>&|aZ\\%', max_size=120).map(lambda s: "{" + s + "}")
    )
)
def test_parse_arbitrary_text_returns_or_raises_filter_pattern_error(text: str) -> None:
    try:
        expr = parse(text)
    except FilterPatternError:
        return
    matches(expr, EVENT)  # and what parses, evaluates without crashing
    describe(expr)


# -- the controls: semantics, not text --------------------------------------------------------------


@pytest.mark.parametrize("control", sorted(CIS_PATTERNS, key=lambda c: int(c.split(".")[1])))
def test_every_cis_pattern_satisfies_its_own_control(control: str) -> None:
    assert judge_filter(CONTROLS[control], parse(CIS_PATTERNS[control])).reason == "satisfies"


def test_every_control_has_must_match_and_must_not_events() -> None:
    assert sorted(CONTROLS, key=lambda c: int(c.split(".")[1])) == [f"4.{n}" for n in range(1, 16)]
    for control in CONTROLS.values():
        assert control.must_match and control.must_not_match, control.cis


def test_whitespace_quoting_and_clause_order_do_not_matter() -> None:
    assert satisfies(
        "4.7", "{($.eventSource=kms.amazonaws.com)&&(($.eventName=DisableKey)||($.eventName=ScheduleKeyDeletion))}"
    )
    assert satisfies(
        "4.7",
        '{\n  ( $.eventName = "ScheduleKeyDeletion" || $.eventName = "DisableKey" )\n'
        '  && $.eventSource = "kms.amazonaws.com"\n}',
    )
    assert satisfies(
        "4.3",
        '{ $.eventType != "AwsServiceEvent" && $.userIdentity.invokedBy NOT EXISTS && $.userIdentity.type = "Root" }',
    )
    # The older CIS wording of 4.1, without the noise exclusions, still catches what the control asks.
    assert satisfies("4.1", '{ ($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") }')


def test_or_in_one_filter_versus_separate_filters() -> None:
    one = coverage(CONTROLS["4.7"], parse("{ $.eventName = DisableKey || $.eventName = ScheduleKeyDeletion }"))
    first = coverage(CONTROLS["4.7"], parse("{ $.eventName = DisableKey }"))
    second = coverage(CONTROLS["4.7"], parse("{ $.eventName = ScheduleKeyDeletion }"))
    assert not one.missed and one.wrongly_matches is None
    # Each alone is too narrow; together (two filters, each alarmed) they cover the control (see the rule test).
    assert first.missed and second.missed
    assert first.matched | second.matched == one.matched


def test_too_narrow_patterns_do_not_satisfy() -> None:
    assert judge_filter(CONTROLS["4.4"], parse(NARROW_44)).reason == "misses iam:DeleteRolePolicy"
    assert judge_filter(CONTROLS["4.1"], parse('{ $.errorCode = "AccessDenied" }')).reason == (
        "misses kms:Decrypt AccessDeniedException"
    )
    assert not satisfies(
        "4.6", '{ ($.eventName = ConsoleLogin) && ($.errorMessage = "Failed*") && ($.userIdentity.type = IAMUser) }'
    )  # root failures missed


def test_too_broad_patterns_do_not_satisfy() -> None:
    """A filter that fires on reads is noise; its alarm gets muted, so it does not count (documented choice)."""
    assert judge_filter(CONTROLS["4.5"], parse("{ $.eventName = * }")).reason.startswith("wrongly matches")
    assert judge_filter(CONTROLS["4.3"], parse('{ $.userIdentity.type = "Root" }')).reason == (
        "wrongly matches Root call invoked by an AWS service"
    )
    assert not satisfies("4.2", '{ $.eventName = "ConsoleLogin" }')
    assert not satisfies("4.15", CIS_PATTERNS["4.15"].replace("($.eventSource = organizations.amazonaws.com) && ", ""))


def test_prefix_wildcards_that_look_right_but_are_not() -> None:
    # A regex check for "PutBucketPolicy" in the text accepts this; it also fires on every GetBucket* read.
    assert not satisfies(
        "4.8",
        '{ $.eventSource = s3.amazonaws.com && ($.eventName = "PutBucket*" || '
        '$.eventName = "DeleteBucket*" || $.eventName = "GetBucket*") }',
    )
    # A regex check rejects this (no eventName list); it is exactly right.
    assert satisfies(
        "4.8",
        '{ $.eventSource = s3.amazonaws.com && ($.eventName = "PutBucketAcl" || '
        '$.eventName = "PutBucketPolicy" || $.eventName = "PutBucketCors" || '
        '$.eventName = "PutBucketLifecycle" || $.eventName = "PutBucketReplication" || '
        '$.eventName = "Delete*Policy" || $.eventName = "DeleteBucketCors" || '
        '$.eventName = "DeleteBucketLifecycle" || $.eventName = "DeleteBucketReplication") }',
    )


def _stratus_records() -> list[dict]:
    if not STRATUS.is_dir():
        pytest.skip("Stratus Red Team detonation logs not present")
    return [r for f in sorted(STRATUS.glob("*.json")) for r in json.loads(f.read_text())]


def test_cis_patterns_against_real_cloudtrail_records() -> None:
    """Real records (Stratus Red Team detonation logs, Apache 2.0): reads match nothing; known changes match."""
    records = _stratus_records()
    quiet = [
        r
        for r in records
        if r.get("readOnly") and not r.get("errorCode") and r.get("userIdentity", {}).get("type") != "Root"
    ]
    assert quiet
    for control, pattern in CIS_PATTERNS.items():
        expr = parse(pattern)
        assert not [r["eventName"] for r in quiet if matches(expr, r)], control
    by_name = {r["eventName"]: r for r in records}
    expected = {
        "4.1": ["GetPasswordData", "LeaveOrganization"],
        "4.4": ["AttachUserPolicy", "AttachRolePolicy"],
        "4.5": ["StopLogging", "DeleteTrail"],
        "4.10": ["AuthorizeSecurityGroupIngress"],
    }
    for control, names in expected.items():
        expr = parse(CIS_PATTERNS[control])
        for name in names:
            assert matches(expr, by_name[name]), (control, name)


# -- the rules' ERROR verdicts ----------------------------------------------------------------------


def test_org_trail_in_another_account_is_error_not_fail() -> None:
    """Recorded inventory: the emulator is one account, so it cannot hold a trail owned by another."""
    inventory, account = _org_trail_inventory()
    findings = evaluate(inventory)
    for rule_id in RULE_OF.values():
        finding = verdict(findings, rule_id, account)
        assert finding.status is Status.ERROR, finding.message
        assert "evaluated in the account that owns trail arn:aws:cloudtrail:" in finding.message


def test_monitoring_listing_failure_is_error(aws) -> None:
    seed_monitoring(aws, dict(CIS_PATTERNS))  # would PASS everywhere if it could be read
    scanner = AwsContext.create(endpoint_url=aws.endpoint_url, credentials=EMULATOR_CREDENTIALS)
    refuse(scanner.session, "cloudwatch-logs", "DescribeMetricFilters")
    findings = aws.scan(services=list(SERVICES), aws=scanner)
    for rule_id in RULE_OF.values():
        finding = verdict(findings, rule_id, ACCOUNT_ID)
        assert finding.status is Status.ERROR
        assert "AccessDenied on logs:DescribeMetricFilters" in finding.message


def test_subscription_listing_failure_is_error(aws) -> None:
    seed_monitoring(aws, {"4.3": CIS_PATTERNS["4.3"]})
    scanner = AwsContext.create(endpoint_url=aws.endpoint_url, credentials=EMULATOR_CREDENTIALS)
    refuse(scanner.session, "sns", "ListSubscriptionsByTopic")
    finding = verdict(aws.scan(services=list(SERVICES), aws=scanner), RULE_OF["4.3"], ACCOUNT_ID)
    assert finding.status is Status.ERROR
    assert "AccessDenied on sns:ListSubscriptionsByTopic" in finding.message


def test_separate_filters_together_cover_a_control(aws) -> None:
    seed_monitoring(aws, {"4.7": "{ $.eventName = DisableKey }", "4.7b": "{ $.eventName = ScheduleKeyDeletion }"})
    finding = verdict(aws.scan(services=list(SERVICES)), RULE_OF["4.7"], ACCOUNT_ID)
    assert finding.status is Status.PASS, finding.evidence
    assert finding.evidence["alarm"] == "cis-4-7, cis-4-7b"


def test_region_not_scanned_is_error() -> None:
    inventory, account = _org_trail_inventory()
    trail = next(inventory.of_type("AWS::CloudTrail::Trail"))
    trail.attributes["trail"]["CloudWatchLogsLogGroupArn"] = f"arn:aws:logs:eu-west-3:{ACCOUNT_ID}:log-group:x:*"
    trail.arn = trail.attributes["trail"]["TrailARN"] = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT_ID}:trail/main"
    inventory.scope_errors.append(ScopeError("AWS::Logs::MetricFilter", REGION, "AccessDenied on logs:X"))
    finding = verdict(evaluate(inventory), RULE_OF["4.1"], account)
    assert finding.status is Status.ERROR
    assert "eu-west-3 was not scanned" in finding.message


def test_not_judged_when_cloudwatch_was_not_collected() -> None:
    inventory, _ = _org_trail_inventory()
    inventory = Inventory.from_dict(
        {**inventory.to_dict(), "collected_types": ["AWS::CloudTrail::AccountSettings", "AWS::CloudTrail::Trail"]}
    )
    assert not [f for f in evaluate(inventory) if f.rule.id in RULE_OF.values()]


@pytest.mark.parametrize(
    ("alarm", "transformation", "fires"),
    [
        ({"MetricName": "m", "Threshold": 1.0, "ComparisonOperator": "GreaterThanOrEqualToThreshold"}, {}, True),
        ({"MetricName": "m", "Threshold": 1.0, "ComparisonOperator": "GreaterThanThreshold"}, {}, False),
        (
            {"MetricName": "m", "Threshold": 1.0, "ComparisonOperator": "GreaterThanThreshold"},
            {"metricValue": "5"},
            True,
        ),
        (
            {
                "MetricName": "m",
                "Threshold": 1.0,
                "ComparisonOperator": "GreaterThanThreshold",
                "Statistic": "SampleCount",
            },
            {"metricValue": "5"},
            False,
        ),
        (
            {"MetricName": "m", "Threshold": 9.0, "ComparisonOperator": "GreaterThanThreshold"},
            {"metricValue": "$.n"},
            True,
        ),
        (
            {"MetricName": "m", "Threshold": 0.0, "ComparisonOperator": "GreaterThanThreshold", "DatapointsToAlarm": 3},
            {},
            False,
        ),
        (
            {"MetricName": "m", "Threshold": 0.0, "ComparisonOperator": "GreaterThanThreshold", "Dimensions": [{}]},
            {},
            False,
        ),
        (
            {"Metrics": [{"Expression": "m1 * 2"}], "Threshold": 99.0, "ComparisonOperator": "GreaterThanThreshold"},
            {},
            True,
        ),
    ],
)
def test_alarm_fires_on_one_event(alarm: dict, transformation: dict, fires: bool) -> None:
    assert fires_on_one_event(alarm, transformation) is fires


def test_older_cis_wordings_still_satisfy() -> None:
    """CIS v1.x wrote 4.2 without the user type and success clauses: broader, but it still alarms on the intent."""
    assert satisfies("4.2", '{ ($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed != "Yes") }')


def test_alarm_listing_failure_is_error(aws) -> None:
    seed_monitoring(aws, {"4.10": CIS_PATTERNS["4.10"]})
    scanner = AwsContext.create(endpoint_url=aws.endpoint_url, credentials=EMULATOR_CREDENTIALS)
    refuse(scanner.session, "cloudwatch", "DescribeAlarms")
    finding = verdict(aws.scan(services=list(SERVICES), aws=scanner), RULE_OF["4.10"], ACCOUNT_ID)
    assert finding.status is Status.ERROR
    assert "AccessDenied on cloudwatch:DescribeAlarms" in finding.message
