"""The HTML report's "Who did it": causes from a real trail store (gzip logs → DuckDB), shown in headless Chromium
as text, whatever the CloudTrail fields contain."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from cloudwarden.findings.model import Finding, Status
from cloudwarden.findings.scan import ScanResult
from cloudwarden.posture.registry import get_rule
from cloudwarden.trail.causes import attach_causes
from cloudwarden.trail.ingest import ingest
from cloudwarden.trail.sources import LocalSource
from cloudwarden.trail.store import TrailStore
from tests.report.test_html import (  # noqa: F401 (browser and open_report are fixtures)
    ACCOUNT,
    XSS_IMG,
    XSS_SCRIPT,
    XSS_SVG,
    OpenedReport,
    assert_no_injection,
    browser,
    make_result,
    open_report,
)
from tests.trail.helpers import assumed_role, event, write_log

GROUP = "sg-0abc1234"


def _finding(status: Status = Status.FAIL, group: str = GROUP) -> Finding:
    rule = get_rule("ec2_sg_no_admin_ports_ipv4").ref
    return Finding(
        rule=rule,
        status=status,
        account_id=ACCOUNT,
        region="us-east-1",
        resource_id=group,
        resource_arn=f"arn:aws:ec2:us-east-1:{ACCOUNT}:security-group/{group}",
        resource_type=rule.resource_type,
        message="SSH is open to 0.0.0.0/0.",
    )


def _result_with_causes(tmp_path: Path) -> ScanResult:
    hostile = event(
        "AuthorizeSecurityGroupIngress",
        "ec2.amazonaws.com",
        "2026-11-20T10:00:00Z",
        assumed_role("deployer", XSS_SVG),
        "evt-<b>1</b>",
        recipientAccountId=ACCOUNT,
        readOnly=False,
        requestParameters={"groupId": GROUP},
        userAgent=XSS_IMG,
        sourceIPAddress=XSS_SCRIPT,
    )
    write_log(tmp_path / "logs" / "a.json.gz", [hostile])
    store_path = tmp_path / "trail.duckdb"
    with TrailStore(store_path) as store:
        ingest(store, LocalSource(tmp_path / "logs"), workers=1)
    result = make_result([_finding(), _finding(Status.PASS, "sg-0other")])
    attach_causes(result, store_path)
    assert list(result.causes) == [result.findings[0].uid]
    return result


def test_who_did_it_shows_hostile_cloudtrail_values_as_text(
    tmp_path: Path,
    open_report: Callable[[ScanResult], OpenedReport],  # noqa: F811 (the fixture imported above)
) -> None:
    opened = open_report(_result_with_causes(tmp_path))
    opened.page.click("#expand-all")

    assert_no_injection(opened)
    page = opened.page
    cause = page.locator("table.causes tr.cause")
    assert cause.count() == 1
    cells = cause.locator("td").all_inner_texts()
    assert cells == [
        f"arn:aws:iam::111122223333:role/deployer ({XSS_SVG})",
        "2026-11-20 10:00:00Z",
        XSS_SCRIPT,
        XSS_IMG,
        "AuthorizeSecurityGroupIngress",
        "evt-<b>1</b>",
    ]
    assert page.query_selector("table.causes b") is None
    row = page.locator("tbody.finding", has=page.locator(".rid", has_text=GROUP))
    assert "Who did it:" in row.locator("td[data-col=message] .who").inner_text()
    other = page.locator("tbody.finding", has=page.locator(".rid", has_text="sg-0other"))
    assert other.locator(".who").count() == 0
