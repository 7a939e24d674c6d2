"""The fast lane's Lambda handler and the historical hunt (`cloudwarden detect`), on real attack records.

Stratus Red Team detonation records (Apache 2.0) and SigmaHQ's CloudTrail rules (DRL 1.1), from ../shared/data.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from cloudwarden.detect.engine import Detector
from cloudwarden.detect.lanes import fast
from tests.e2e.conftest import cli_env, run_cli
from tests.trail.helpers import SIGMA_DIR, STRATUS_DIR, cloudtrail_key, event, write_log

pytestmark = pytest.mark.skipif(not SIGMA_DIR.is_dir(), reason="../shared/data is not beside this clone")


def stratus(technique: str) -> list[dict[str, Any]]:
    return json.loads((STRATUS_DIR / f"{technique}.json").read_text())


@pytest.fixture(scope="module")
def sigmahq() -> Detector:
    detector = Detector.load([SIGMA_DIR], bundled=False)
    assert detector.problems == []
    return detector


def eventbridge(record: dict[str, Any], detail_type: str = "AWS API Call via CloudTrail") -> dict[str, Any]:
    """The envelope EventBridge wraps a CloudTrail record in."""
    return {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": detail_type,
        "source": f"aws.{record['eventSource'].split('.')[0]}",
        "account": record.get("recipientAccountId", "111122223333"),
        "time": record["eventTime"],
        "region": record.get("awsRegion", "us-east-1"),
        "resources": [],
        "detail": record,
    }


def test_fast_lane_alerts_once_per_matching_rule_as_ocsf_detection_findings(sigmahq: Detector) -> None:
    record = stratus("aws.defense-evasion.cloudtrail-stop")[0]
    out = io.StringIO()
    result = fast.process(eventbridge(record), sigmahq, out)
    alerts = [orjson.loads(line) for line in out.getvalue().splitlines()]
    assert result["alerts"] == len(alerts) == 1
    alert = alerts[0]
    assert alert["class_uid"] == 2004 and alert["type_uid"] == 200401 and alert["category_uid"] == 2
    assert alert["finding_info"]["title"] == "AWS CloudTrail Important Change"
    assert alert["finding_info"]["uid"] == f"{alert['finding_info']['analytic']['uid']}:{record['eventID']}"
    assert alert["evidences"][0]["data"] == record
    assert alert["api"]["operation"] == "StopLogging"
    assert alert["cloud"]["account"]["uid"] == record["recipientAccountId"]
    assert alert["metadata"]["labels"] == ["lane:fast"]


@pytest.mark.parametrize(
    "detail_type", ["AWS Console Sign In via CloudTrail", "AWS Console Signin via CloudTrail"]
)
def test_both_spellings_of_the_sign_in_detail_type_are_evaluated(sigmahq: Detector, detail_type: str) -> None:
    record = stratus("aws.initial-access.console-login-without-mfa")[0]
    out = io.StringIO()
    result = fast.process(eventbridge(record, detail_type), sigmahq, out)
    assert result["alerts"] >= 1
    titles = {orjson.loads(line)["finding_info"]["title"] for line in out.getvalue().splitlines()}
    assert "AWS Successful Console Login Without MFA" in titles


@pytest.mark.parametrize(
    "envelope",
    [
        {"detail-type": "EC2 Instance State-change Notification", "detail": {"state": "running"}},
        {"detail-type": "AWS API Call via CloudTrail", "detail": "StopLogging"},
        ["not", "an", "event"],
    ],
)
def test_other_events_are_skipped_with_a_reason(sigmahq: Detector, envelope: Any) -> None:
    out = io.StringIO()
    result = fast.process(envelope, sigmahq, out)
    assert result["alerts"] == 0 and result["skipped"] and out.getvalue() == ""


def test_the_lambda_entry_point_loads_rules_from_its_environment(monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(fast.RULES_ENV, str(SIGMA_DIR))
    monkeypatch.setattr(fast, "_detector", None)
    record = stratus("aws.defense-evasion.vpc-remove-flow-logs")[0]
    result = fast.handler(eventbridge(record), context=None)
    lines = capsys.readouterr().out.splitlines()
    titles = {orjson.loads(line)["finding_info"]["title"] for line in lines}
    assert "AWS VPC Flow Logs Deleted" in titles and result["alerts"] == len(lines) >= 1


def test_detect_hunts_through_log_files_and_escapes_what_it_prints(tmp_path: Path) -> None:
    records = [record for path in sorted(STRATUS_DIR.glob("*.json")) for record in json.loads(path.read_text())]
    hostile = stratus("aws.defense-evasion.cloudtrail-stop")[0] | {
        "eventID": "hostile-1",
        "userAgent": "\x1b[2J\x1b]8;;http://evil\x07click\x1b]8;;\x07",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::1:user/\x1b[31mred"},
    }
    logs = tmp_path / "logs"
    write_log(logs / cloudtrail_key(name="stratus"), records)
    write_log(logs / cloudtrail_key(name="hostile"), [hostile, event()])
    (logs / cloudtrail_key(name="broken")).write_bytes(b"\x1f\x8b\x08truncated")
    env = cli_env()
    table = run_cli("detect", str(logs), "--no-bundled", "--rules", str(SIGMA_DIR), env=env, cwd=tmp_path)
    assert table.returncode == 1, table.stderr
    assert "AWS CloudTrail Important Change" in table.stdout and "AWS VPC Flow Logs Deleted" in table.stdout
    assert "\x1b" not in table.stdout and "bad file" in table.stderr and "broken" in table.stderr
    as_json = run_cli("detect", str(logs), "--no-bundled", "--rules", str(SIGMA_DIR), "--json", env=env, cwd=tmp_path)
    alerts = [orjson.loads(line) for line in as_json.stdout.splitlines()]
    detector = Detector.load([SIGMA_DIR], bundled=False)
    expected = sum(len(detector.matches(r)) for r in [*records, hostile, event()])
    assert len(alerts) == expected > 10
    assert {a["metadata"]["labels"][0] for a in alerts} == {"lane:hunt"}


def test_detect_without_alerts_exits_zero_and_reports_unloadable_rules(tmp_path: Path) -> None:
    write_log(tmp_path / "logs" / cloudtrail_key(), [event()])
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "windows.yml").write_text(
        "title: not ours\nlogsource:\n  product: windows\ndetection:\n  s:\n    EventID: 1\n  condition: s\n"
    )
    (rules / "ours.yml").write_text(
        "title: root\nlogsource:\n  product: aws\n  service: cloudtrail\ndetection:\n  s:\n"
        "    userIdentity.type: Root\n  condition: s\n"
    )
    result = run_cli("detect", str(tmp_path / "logs"), "--no-bundled", "--rules", str(rules), env=cli_env(),
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "0 alerts from 1 events and 1 rules" in result.stdout
    assert "windows.yml" in result.stderr and "not aws/cloudtrail" in result.stderr
