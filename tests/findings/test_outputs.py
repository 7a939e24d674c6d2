"""OCSF, ASFF, CSV and console outputs: required fields present, untrusted text neutralised."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

from botocore.exceptions import ParamValidationError
from rich.console import Console

from cloudwarden.findings.asff import BATCH_SIZE, to_asff
from cloudwarden.findings.model import Status
from cloudwarden.findings.ocsf import to_ocsf
from cloudwarden.findings.scan import ScanResult
from cloudwarden.report.console import print_summary
from cloudwarden.report.files import write_csv
from cloudwarden.report.securityhub import send_to_security_hub
from tests.findings.factories import BEST_PRACTICE, finding

OCSF_REQUIRED = ("activity_id", "category_uid", "class_uid", "compliance", "finding_info", "metadata", "severity_id",
                 "time", "type_uid")


def result_of(findings):
    return ScanResult(account_id="123456789012", partition="aws", regions=["us-east-1"],
                      collected_at=datetime(2026, 11, 28, tzinfo=UTC), findings=findings, rule_count=2)


def test_ocsf_compliance_finding_has_every_required_attribute():
    for status in Status:
        document = to_ocsf(finding(status))
        assert all(document.get(name) not in (None, "", []) for name in OCSF_REQUIRED), status
        assert document["class_uid"] == 2003 and document["category_uid"] == 2
        assert document["type_uid"] == 200301
        assert document["metadata"]["version"] and document["metadata"]["product"]["name"] == "cloudwarden"
        assert document["finding_info"]["uid"] and document["finding_info"]["title"]
        assert document["compliance"]["standards"]
    assert to_ocsf(finding(Status.FAIL))["compliance"]["status_id"] == 3
    assert to_ocsf(finding(Status.PASS))["compliance"]["status_id"] == 1
    assert to_ocsf(finding(Status.ERROR))["compliance"]["status_id"] == 99
    assert to_ocsf(finding())["compliance"]["requirements"] == ["CIS AWS Foundations Benchmark v5.0.0/2.1.4"]


def test_asff_maps_status_and_cis_requirements():
    fail, passed, error = (to_asff(finding(s), "us-east-1") for s in (Status.FAIL, Status.PASS, Status.ERROR))
    assert fail["Compliance"] == {"Status": "FAILED",
                                  "RelatedRequirements": ["CIS AWS Foundations Benchmark v5.0.0/2.1.4"]}
    assert fail["Severity"]["Label"] == "CRITICAL"
    assert passed["Compliance"]["Status"] == "PASSED" and passed["Severity"]["Label"] == "INFORMATIONAL"
    assert error["Compliance"]["Status"] == "NOT_AVAILABLE"
    assert fail["ProductArn"] == "arn:aws:securityhub:us-east-1:123456789012:product/123456789012/default"
    assert fail["Resources"][0]["Type"] == "AwsS3Bucket"
    best = to_asff(finding(rule=BEST_PRACTICE), "us-east-1")
    assert best["Compliance"]["RelatedRequirements"] == []
    assert best["Types"] == ["Software and Configuration Checks/AWS Security Best Practices"]
    assert to_asff(finding(region="global"), "eu-west-1")["Resources"][0]["Region"] == "eu-west-1"


def test_asff_passes_botocore_validation_and_imports_in_batches(aws):
    """botocore validates every field against Security Hub's model before sending; the emulator stores them."""
    findings = [finding(Status.FAIL if n % 3 else Status.PASS, resource_id=f"bucket-{n:03d}") for n in range(250)]
    hub = aws.client("securityhub")
    calls = []
    hub.meta.events.register("before-parameter-build.securityhub.BatchImportFindings",
                             lambda params, **_: calls.append(len(params["Findings"])))
    summary = send_to_security_hub(result_of(findings), hub, "us-east-1")
    assert (summary.imported, summary.failed) == (250, 0)
    assert calls == [BATCH_SIZE, BATCH_SIZE, 50]
    stored = [f for page in hub.get_paginator("get_findings").paginate() for f in page["Findings"]]
    assert len(stored) == 250


def test_asff_missing_required_field_would_be_rejected(aws):
    """Guards the test above: botocore does reject a finding without a required field."""
    document = to_asff(finding(), "us-east-1")
    del document["Title"]
    try:
        aws.client("securityhub").batch_import_findings(Findings=[document])
    except ParamValidationError as exc:
        assert "Title" in str(exc)
    else:
        raise AssertionError("a finding without Title was accepted")


def test_csv_neutralises_formulas(tmp_path):
    evil = finding(resource_id="=HYPERLINK(\"http://evil\",\"x\")", message="+cmd|' /C calc'!A0")
    path = write_csv(result_of([evil]), tmp_path)
    rows = list(csv.DictReader(path.open()))
    assert rows[0]["resource_id"].startswith("'=")
    assert rows[0]["message"].startswith("'+")
    assert rows[0]["status"] == "FAIL"


def test_console_shows_untrusted_text_literally():
    evil = finding(resource_id="[bold red]fake[/bold red]\x1b[2J\x1b]0;owned\x07bucket", message="[link=http://x]y")
    buffer = io.StringIO()
    console = Console(file=buffer, width=200, force_terminal=True, color_system="truecolor")
    print_summary(result_of([evil, finding(Status.PASS, "good-bucket")]), console)
    output = buffer.getvalue()
    plain = re.sub(r"\x1b\[[0-9;]*m", "", output)  # rich's own colours
    assert "[bold red]fake[/bold red]" in plain  # markup shown, not applied
    assert "\x1b[2J" not in output and "\x1b]0;owned" not in output  # no screen clear, no title change
    assert "1 PASS" in plain and "1 FAIL" in plain


def test_scan_result_orders_failures_by_severity():
    low = finding(rule=BEST_PRACTICE, resource_id="b")
    critical = finding(resource_id="a")
    result = result_of([low, finding(Status.PASS), critical])
    assert result.failed() == [critical, low]
    assert result.worst_failure() is critical.severity


def test_security_hub_import_carries_who_made_the_change(aws):
    from cloudwarden.trail.causes import Cause

    failing = finding(Status.FAIL, resource_id="bucket-open")
    result = result_of([failing])
    result.causes[failing.uid] = [Cause(datetime(2026, 11, 27, 9, 30, tzinfo=UTC), "arn:aws:iam::123456789012:user/bob",
                                        "IAMUser", None, "203.0.113.9", "aws-cli/2.15", "s3.amazonaws.com",
                                        "PutBucketPolicy", "us-east-1", "123456789012", "evt-1")]
    hub = aws.client("securityhub")
    assert send_to_security_hub(result, hub, "us-east-1").imported == 1
    [stored] = [f for page in hub.get_paginator("get_findings").paginate() for f in page["Findings"]]
    fields = stored["ProductFields"]
    assert fields["cloudwarden/changed_by"] == "arn:aws:iam::123456789012:user/bob"
    assert "evt-1" in fields.values()
