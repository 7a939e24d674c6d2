"""The streaming matcher: SigmaHQ's CloudTrail rules load and run unchanged, Sigma's field semantics hold, and the
index never changes an answer.

Real-world input: SigmaHQ's AWS CloudTrail rules (DRL 1.1) and Stratus Red Team detonation records (Apache 2.0),
both in ../shared/data with their licences.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloudwarden.detect.index import RuleIndex
from cloudwarden.detect.sigma_rules import DetectionRule, load_rules, load_text
from tests.trail.helpers import SIGMA_DIR, STRATUS_DIR

pytestmark = pytest.mark.skipif(not SIGMA_DIR.is_dir(), reason="../shared/data is not beside this clone")


@pytest.fixture(scope="module")
def sigmahq() -> list[DetectionRule]:
    rules, problems = load_rules([SIGMA_DIR])
    assert problems == []
    return rules


def stratus(technique: str) -> list[dict[str, Any]]:
    return json.loads((STRATUS_DIR / f"{technique}.json").read_text())


def test_every_sigmahq_cloudtrail_rule_loads_and_compiles(sigmahq: list[DetectionRule]) -> None:
    assert len(sigmahq) == len(list(SIGMA_DIR.glob("*.yml"))) == 57
    assert len({rule.id for rule in sigmahq}) == 57
    attack = {rule.title: rule.attack for rule in sigmahq}
    assert "T1078.004" in attack["AWS Successful Console Login Without MFA"]


@pytest.mark.parametrize(
    "technique, title",
    [
        ("aws.defense-evasion.cloudtrail-stop", "AWS CloudTrail Important Change"),
        ("aws.defense-evasion.cloudtrail-delete", "AWS CloudTrail Important Change"),
        ("aws.defense-evasion.vpc-remove-flow-logs", "AWS VPC Flow Logs Deleted"),
        ("aws.exfiltration.ec2-share-ebs-snapshot", "AWS Snapshot Backup Exfiltration"),
        ("aws.exfiltration.ec2-security-group-open-port-22-ingress", "Ingress/Egress Security Group Modification"),
        ("aws.initial-access.console-login-without-mfa", "AWS Successful Console Login Without MFA"),
        ("aws.persistence.iam-backdoor-user", "AWS IAM Backdoor Users Keys"),
        ("aws.persistence.lambda-layer-extension", "AWS New Lambda Layer Attached"),
        ("aws.privilege-escalation.iam-update-user-login-profile", "AWS User Login Profile Was Modified"),
        ("aws.execution.ssm-send-command", "Potential Malicious Usage of CloudTrail System Manager"),
    ],
)
def test_stratus_detonations_are_detected(sigmahq: list[DetectionRule], technique: str, title: str) -> None:
    index = RuleIndex(sigmahq)
    titles = {rule.title for record in stratus(technique) for rule in index.matches(record)}
    assert title in titles


def test_reading_secrets_matches_no_trail_tampering_rule(sigmahq: list[DetectionRule]) -> None:
    index = RuleIndex(sigmahq)
    records = stratus("aws.credential-access.secretsmanager-retrieve-secrets")
    assert not any("CloudTrail" in rule.title for record in records for rule in index.matches(record))


def rule(detection: str, logsource: str = "product: aws\n    service: cloudtrail") -> DetectionRule:
    text = f"title: test\nid: 0f3e1b2a-0000-4000-8000-000000000001\nlogsource:\n    {logsource}\n" + detection
    rules, problems = load_text(text, "test.yml")
    assert problems == [], problems
    return rules[0]


S, C = "detection:\n  s:\n    ", "  condition: s\n"  # one selection: S + "field|modifiers: value\n" + C
SEMANTICS = [
    # (detection YAML, event, expected)
    (S + "eventName: StopLogging\n" + C, {"eventName": "stoplogging"}, True),
    (S + "eventName|cased: StopLogging\n" + C, {"eventName": "stoplogging"}, False),
    (S + "eventName: 'Stop*'\n" + C, {"eventName": "StopLogging"}, True),
    (S + "eventName: 'Stop?ogging'\n" + C, {"eventName": "StopLogging"}, True),
    (S + "eventName: 'Stop?ogging'\n" + C, {"eventName": "StopLLogging"}, False),
    (S + "principal: '\\*'\n" + C, {"principal": "*"}, True),  # an escaped wildcard is the character itself
    (S + "principal: '\\*'\n" + C, {"principal": "\\*"}, False),
    (S + "principal: 'a\\?'\n" + C, {"principal": "ab"}, False),
    (S + "principal: 'a\\?'\n" + C, {"principal": "a?"}, True),
    (S + "userAgent|contains: 'TruffleHog'\n" + C, {"userAgent": "x trufflehog/3"}, True),
    (S + "userAgent|startswith: 'aws-cli'\n" + C, {"userAgent": "AWS-CLI/2"}, True),
    (S + "userAgent|endswith: 'Linux'\n" + C, {"userAgent": "Linux x"}, False),
    (S + "userAgent|contains|all: [a, b]\n" + C, {"userAgent": "xbxa"}, True),
    (S + "userAgent|contains|all: [a, b]\n" + C, {"userAgent": "xxa"}, False),
    (S + "userAgent|re: '^aws-cli/[0-9]'\n" + C, {"userAgent": "aws-cli/2"}, True),
    (S + "userAgent|re: '^aws-cli/[0-9]'\n" + C, {"userAgent": "AWS-CLI/2"}, False),
    (S + "userAgent|re|i: '^aws-cli/[0-9]'\n" + C, {"userAgent": "AWS-CLI/2"}, True),
    (S + "sourceIPAddress|cidr: 10.0.0.0/8\n" + C, {"sourceIPAddress": "10.2.3.4"}, True),
    (S + "sourceIPAddress|cidr: 10.0.0.0/8\n" + C, {"sourceIPAddress": "11.2.3.4"}, False),
    (S + "sourceIPAddress|cidr: 10.0.0.0/8\n" + C, {"sourceIPAddress": "ec2.amazonaws.com"}, False),
    (S + "errorCode|exists: true\n" + C, {"errorCode": "AccessDenied"}, True),
    (S + "errorCode|exists: true\n" + C, {"eventName": "x"}, False),
    (S + "errorCode: null\n" + C, {"eventName": "x"}, True),
    (S + "errorCode: null\n" + C, {"errorCode": None}, True),
    (S + "errorCode: null\n" + C, {"errorCode": "AccessDenied"}, False),
    (S + "userIdentity.type: Root\n" + C, {"userIdentity": {"type": "Root"}}, True),
    (S + "userIdentity.type: Root\n" + C, {"userIdentity": "Root"}, False),
    (
        S + "resources.type: 'AWS::S3::*'\n" + C,
        {"resources": [{"type": "AWS::EC2::Instance"}, {"type": "AWS::S3::Bucket"}]},
        True,
    ),
    (S + "readOnly: 'false'\n" + C, {"readOnly": False}, True),
    (S + "readOnly: false\n" + C, {"readOnly": "FALSE"}, True),
    (S + "readOnly: false\n" + C, {"readOnly": True}, False),
    (S + "requestParameters.maxResults: 50\n" + C, {"requestParameters": {"maxResults": 50}}, True),
    (S + "requestParameters.maxResults|gt: 40\n" + C, {"requestParameters": {"maxResults": 50}}, True),
    (S + "requestParameters.maxResults|lt: 40\n" + C, {"requestParameters": {"maxResults": "50"}}, False),
    (
        S + "userIdentity.userName|fieldref: requestParameters.userName\n" + C,
        {"userIdentity": {"userName": "Alice"}, "requestParameters": {"userName": "alice"}},
        True,
    ),
    (
        S + "userIdentity.userName|fieldref: requestParameters.userName\n" + C,
        {"userIdentity": {"userName": "alice"}, "requestParameters": {"userName": "bob"}},
        False,
    ),
    (
        "detection:\n  keywords:\n    - 'evil.example'\n  condition: keywords\n",
        {"requestParameters": {"deep": [{"url": "https://EVIL.example/x"}]}},
        False,
    ),
    (
        "detection:\n  keywords:\n    - '*evil.example*'\n  condition: keywords\n",
        {"requestParameters": {"deep": [{"url": "https://EVIL.example/x"}]}},
        True,
    ),
    (
        "detection:\n  a:\n    eventName: X\n  b:\n    errorCode: AccessDenied\n  condition: a and not b\n",
        {"eventName": "X", "errorCode": "AccessDenied"},
        False,
    ),
    ("detection:\n  a1:\n    eventName: X\n  a2:\n    eventName: Y\n  condition: 1 of a*\n", {"eventName": "y"}, True),
    (
        "detection:\n  a1:\n    eventName: X\n  a2:\n    errorCode: E\n  condition: all of a*\n",
        {"eventName": "x"},
        False,
    ),
]


@pytest.mark.parametrize("detection, event, expected", SEMANTICS)
def test_sigma_field_semantics(detection: str, event: dict[str, Any], expected: bool) -> None:
    compiled = rule(detection)
    assert compiled.match(event) is expected
    assert (compiled in RuleIndex([compiled]).matches(event)) is expected


def test_rules_that_cannot_run_are_reported_with_the_reason_and_the_rest_load(tmp_path: Path) -> None:
    good = (
        "title: good\nlogsource:\n  product: aws\n  service: cloudtrail\ndetection:\n  s:\n    eventName: X\n"
        "  condition: s\n"
    )
    (tmp_path / "good.yml").write_text(good)
    (tmp_path / "windows.yml").write_text(good.replace("product: aws", "product: windows"))
    (tmp_path / "broken.yml").write_text("title: [unclosed\n")
    (tmp_path / "no_condition.yml").write_text(good.replace("  condition: s\n", ""))
    (tmp_path / "placeholder.yml").write_text(good.replace("eventName: X", "eventName|expand: '%admins%'"))
    rules, problems = load_rules([tmp_path])
    assert [r.title for r in rules] == ["good"]
    reasons = {Path(p.source).name: p.reason for p in problems}
    assert set(reasons) == {"windows.yml", "broken.yml", "no_condition.yml", "placeholder.yml"}
    assert "not aws/cloudtrail" in reasons["windows.yml"]
    assert "placeholder" in reasons["placeholder.yml"] or "expand" in reasons["placeholder.yml"].lower()


def _rule_values(rules: list[DetectionRule]) -> list[str]:
    values: set[str] = set()
    for compiled in rules:
        for detection in compiled.sigma.detection.detections.values():
            for item in detection.detection_items:
                for value in getattr(item, "value", []):
                    parts = getattr(value, "s", None)
                    if isinstance(parts, tuple | list):  # a string: its text without the wildcards reaches prefixes too
                        values.add("".join(part for part in parts if isinstance(part, str)))
    return sorted(values)


@pytest.fixture(scope="module")
def rule_values(sigmahq: list[DetectionRule]) -> list[str]:
    return _rule_values(sigmahq)


json_leaf = st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=8)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_the_index_never_changes_an_answer(sigmahq: list[DetectionRule], rule_values: list[str], data: Any) -> None:
    value = st.sampled_from(rule_values) | st.sampled_from(rule_values).map(str.upper) | json_leaf
    nested = st.recursive(
        value,
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(
                st.sampled_from(["type", "userName", "name", "attribute", "ConsoleLogin", "MFAUsed", "key"]),
                inner,
                max_size=3,
            )
        ),
        max_leaves=8,
    )
    fields = st.sampled_from(
        [
            "eventName",
            "eventSource",
            "errorCode",
            "userAgent",
            "sourceIPAddress",
            "userIdentity",
            "requestParameters",
            "responseElements",
            "additionalEventData",
            "readOnly",
        ]
    )
    event = data.draw(st.dictionaries(fields, value | nested, max_size=8))
    index = RuleIndex(sigmahq)
    assert index.matches(event) == [r for r in sigmahq if r.match(event)]


def test_the_index_gives_the_brute_force_answer_on_every_stratus_record(sigmahq: list[DetectionRule]) -> None:
    index = RuleIndex(sigmahq)
    records = [record for path in sorted(STRATUS_DIR.glob("*.json")) for record in json.loads(path.read_text())]
    matched = 0
    for record in records:
        expected = [r for r in sigmahq if r.match(record)]
        assert index.matches(record) == expected
        matched += bool(expected)
    assert matched >= 20  # the comparison covers matching records, not only misses


@settings(max_examples=500, deadline=None)
@given(
    pattern=st.lists(st.sampled_from(["abc", "ABC", "aB", "c", ".", ".+", "a*", "(b|c)", "[a-c]", "x", ":", "\\.", "^",
                                      "$", "ask", "SK"]), min_size=1, max_size=5).map("".join),
    # U+017F (long s) and U+212A (Kelvin sign) match s and k under IGNORECASE; lower() keeps them apart.
    text=st.lists(st.sampled_from(["abc", "ABC", "Abc", "x", ":", ".", "\n", "b", "a\u017fk", "A\u017f\u212a", "sk"]),
                  max_size=8).map("".join),
    ignore_case=st.booleans(),
)
def test_the_regex_prefilter_never_changes_an_answer(pattern: str, text: str, ignore_case: bool) -> None:
    modifier = "|re|i" if ignore_case else "|re"
    compiled = rule(S + f"userAgent{modifier}: '{pattern}'\n" + C)
    expected = re.search(pattern, text, re.IGNORECASE if ignore_case else 0) is not None
    assert compiled.match({"userAgent": text}) is expected


@pytest.mark.parametrize("name, expected", [("AttachUserPolicy", True), ("attachuserpolicy", True),
                                            ("AttachUserPolicyX", False), ("", False)])
def test_a_list_of_values_is_one_lookup_with_the_same_answers(name: str, expected: bool) -> None:
    compiled = rule(S + "eventName:\n      - AttachUserPolicy\n      - PutRolePolicy\n      - 'Detach*'\n" + C)
    assert compiled.match({"eventName": name}) is expected
    assert compiled.match({"eventName": [name, "DetachRolePolicy"]}) is True
