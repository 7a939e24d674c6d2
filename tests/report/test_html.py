"""The HTML report, rendered and driven in Debian's headless Chromium (never a downloaded browser).

Covers escaping of hostile names/tags/messages (from the emulator and built by hand), the CSP, offline
rendering, the SVG charts, and the table's filters, search, sorting and details.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape
from playwright.sync_api import Browser, Page, sync_playwright

from cloudwarden.findings.model import Finding, RuleRef, Severity, Status
from cloudwarden.findings.scan import ScanResult
from cloudwarden.posture.registry import get_rule
from cloudwarden.report.charts import summary_charts
from cloudwarden.report.html import render_html, write_html

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]
ACCOUNT = "123456789012"
XSS_IMG = '<img src=x onerror="window.__xss=1">'
XSS_PATH = "/<svg/onload=window.__xss=1>/"
XSS_SVG = "<svg/onload=window.__xss=1>"
XSS_SCRIPT = "</script><script>window.__xss=1</script>"
XSS_ATTR = '"><svg onload="window.__xss=1">'


# --- building findings by hand -------------------------------------------------------------------

def make_rule(rule_id: str, severity: Severity, service: str, cis: tuple[str, ...] = ()) -> RuleRef:
    return RuleRef(id=rule_id, title=f"Title of {rule_id}", severity=severity, service=service,
                   resource_type=f"AWS::{service.upper()}::Thing", rationale=f"Rationale of {rule_id}.",
                   remediation=f"Remediation of {rule_id}.", cis=cis)


def make_finding(rule: RuleRef, status: Status, resource_id: str, message: str = "", **extra: Any) -> Finding:
    return Finding(rule=rule, status=status, account_id=ACCOUNT, region="us-east-1", resource_id=resource_id,
                   resource_arn=f"arn:aws:{rule.service}:us-east-1:{ACCOUNT}:thing/{resource_id}",
                   resource_type=rule.resource_type, message=message or f"{rule.id} on {resource_id}.", **extra)


def make_result(findings: list[Finding]) -> ScanResult:
    return ScanResult(account_id=ACCOUNT, partition="aws", regions=["us-east-1", "eu-west-1"],
                      collected_at=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC), findings=findings, api_calls=42,
                      duration_seconds=1.5, rule_count=7)


def known_findings() -> list[Finding]:
    """4 FAIL (critical iam, high s3, high ec2, medium ec2 without CIS), 1 ERROR (kms), 2 PASS."""
    return [
        make_finding(make_rule("s3_versioning", Severity.LOW, "s3", ("2.1.2",)), Status.PASS, "good-bucket"),
        make_finding(make_rule("ec2_ebs_encryption", Severity.MEDIUM, "ec2"), Status.FAIL, "vol-plain"),
        make_finding(make_rule("s3_public", Severity.HIGH, "s3", ("2.1.1",)), Status.FAIL, "public-bucket",
                     evidence={"acl": ["AllUsers:READ"]}, resource_tags={"team": "web"}),
        make_finding(make_rule("kms_rotation", Severity.MEDIUM, "kms", ("3.6",)), Status.ERROR, "key-1",
                     "Could not evaluate: AccessDenied"),
        make_finding(make_rule("iam_root_mfa", Severity.CRITICAL, "iam", ("1.4",)), Status.FAIL, ACCOUNT),
        make_finding(make_rule("iam_support_role", Severity.INFORMATIONAL, "iam", ("1.17",)), Status.PASS,
                     "support-role"),
        make_finding(make_rule("ec2_sg_ssh", Severity.HIGH, "ec2", ("5.2",)), Status.FAIL, "sg-open"),
    ]


# --- the browser -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is not installed: `make test` installs Debian's chromium package")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class OpenedReport:
    """A report open in a fresh browser context, with everything the page did along the way."""

    page: Page
    dialogs: list[str] = field(default_factory=list)
    console: list[tuple[str, str]] = field(default_factory=list)  # (type, text)
    page_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def console_errors(self) -> list[str]:
        return [text for kind, text in self.console if kind == "error"] + self.page_errors


@pytest.fixture
def open_report(browser: Browser, tmp_path: Path) -> Iterator[Callable[[ScanResult], OpenedReport]]:
    contexts = []

    def open_(result: ScanResult) -> OpenedReport:
        path = write_html(result, tmp_path / "report.html")
        context = browser.new_context(viewport={"width": 1200, "height": 900})
        contexts.append(context)
        page = context.new_page()
        opened = OpenedReport(page)

        def on_dialog(dialog: Any) -> None:
            opened.dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)
        page.on("console", lambda m: opened.console.append((m.type, m.text)))
        page.on("pageerror", lambda e: opened.page_errors.append(str(e)))
        page.on("request", lambda r: opened.requests.append(r.url))
        page.goto(path.as_uri(), wait_until="load")
        return opened

    yield open_
    for context in contexts:
        context.close()


def visible_rows(page: Page) -> int:
    return page.locator("tbody.finding tr.row:visible").count()


def column(page: Page, attribute: str, visible_only: bool = True) -> list[str]:
    """``data-<attribute>`` of each finding in display order."""
    return page.eval_on_selector_all(
        "tbody.finding", f"(bs, v) => bs.filter(b => !v || !b.hidden).map(b => b.dataset.{attribute})",
        visible_only)


def chart(page: Page, chart_id: str) -> list[tuple[str, int]]:
    """(label, count) as drawn: the SVG text elements, in order."""
    pairs = page.eval_on_selector_all(
        f"#chart-{chart_id} svg g.bar",
        "gs => gs.map(g => [g.querySelector('text.label').textContent, g.querySelector('text.count').textContent])")
    return [(label, int(count)) for label, count in pairs]


def assert_no_injection(opened: OpenedReport) -> None:
    page = opened.page
    assert opened.dialogs == []
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.query_selector("img[src=x]") is None
    assert page.query_selector("img") is None
    assert page.query_selector("svg[onload]") is None
    assert page.query_selector("[onerror], [onload], [onclick]") is None
    assert page.evaluate("document.scripts.length") == 1
    assert opened.console_errors() == []


# --- escaping -----------------------------------------------------------------------------------------

def test_emulator_payloads_render_as_literal_text(aws: Any, open_report: Callable[[ScanResult], OpenedReport]) -> None:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="xss-bucket")
    s3.put_bucket_tagging(Bucket="xss-bucket", Tagging={"TagSet": [{"Key": "owner", "Value": XSS_IMG}]})
    # The emulator accepts <, > and " in a user name (real IAM would not), so the name itself carries a
    # payload; the path (legal in real IAM: printable ASCII without spaces) and a tag carry two more.
    aws.client("iam").create_user(UserName=XSS_IMG, Path=XSS_PATH, Tags=[{"Key": "team", "Value": XSS_SVG}])
    findings = aws.scan(services=["s3", "iam"])
    assert any(f.resource_id == XSS_IMG and XSS_PATH in f.resource_arn for f in findings)
    assert any(f.resource_tags.get("owner") == XSS_IMG for f in findings)
    result = ScanResult(account_id=aws.account_id, partition="aws", regions=["us-east-1"],
                        collected_at=datetime.now(UTC), findings=findings)

    opened = open_report(result)
    opened.page.click("#expand-all")  # tags are in the details

    assert_no_injection(opened)
    text = opened.page.inner_text("body")
    assert XSS_IMG in text  # user name: resource id, ARN
    assert XSS_PATH in text  # ARN
    assert f"team={XSS_SVG}" in text  # user tag
    assert f"owner={XSS_IMG}" in text  # bucket tag
    assert opened.page.locator("td[data-col=resource] .rid", has_text=XSS_IMG).count() >= 1


def test_payloads_in_finding_fields_render_as_literal_text(
    open_report: Callable[[ScanResult], OpenedReport],
) -> None:
    rule = make_rule("hostile_rule", Severity.HIGH, 's3"><svg onload=window.__xss=1>', ("2.1.1",))
    hostile = make_finding(
        rule, Status.FAIL, XSS_ATTR, XSS_SCRIPT,
        evidence={"policy": XSS_SCRIPT, "name": XSS_ATTR},
        resource_tags={XSS_SCRIPT: XSS_ATTR},
    )
    opened = open_report(make_result([hostile, *known_findings()]))
    opened.page.click("#expand-all")

    assert_no_injection(opened)
    page = opened.page
    row = page.locator("tbody.finding", has=page.locator(".id", has_text="hostile_rule"))
    assert row.locator("td[data-col=resource] .rid").inner_text() == XSS_ATTR
    assert row.locator("td[data-col=message]").inner_text() == XSS_SCRIPT
    text = page.inner_text("body")
    assert f"{XSS_SCRIPT}={XSS_ATTR}" in text  # tag
    assert f'"policy": "{XSS_SCRIPT}"' in text  # evidence, as JSON
    assert row.get_attribute("data-service") == rule.service  # the data-* attribute round-trips intact
    page.select_option("#filter-service", rule.service)
    assert visible_rows(page) == 1


def test_csp_blocks_inline_scripts_that_escaping_would_have_let_through(
    open_report: Callable[[ScanResult], OpenedReport],
) -> None:
    page = open_report(make_result(known_findings())).page
    with page.expect_console_message(lambda m: "Content Security Policy" in m.text):
        page.evaluate("""() => {
            const s = document.createElement('script');
            s.textContent = 'window.__xss = 1';
            document.body.append(s);
            document.body.insertAdjacentHTML('beforeend', '<img src="data:," onerror="window.__xss = 2">');
        }""")
    page.wait_for_timeout(200)
    assert page.evaluate("typeof window.__xss") == "undefined"


# --- rendering ------------------------------------------------------------------------------------

def test_report_renders_offline_with_charts_and_one_row_per_finding(
    open_report: Callable[[ScanResult], OpenedReport],
) -> None:
    opened = open_report(make_result(known_findings()))
    page = opened.page

    assert opened.console_errors() == []
    assert opened.requests, "the page load itself should be seen"
    assert all(url.startswith(("file://", "data:")) for url in opened.requests), opened.requests
    assert visible_rows(page) == 7
    assert page.inner_text("#count-FAIL .n") == "4"
    assert page.inner_text("#count-ERROR .n") == "1"
    assert page.inner_text("#count-PASS .n") == "2"
    header = page.inner_text("header")
    assert ACCOUNT in header and "us-east-1, eu-west-1" in header and "2025-01-02 03:04:05 UTC" in header

    assert chart(page, "severity") == [("critical", 1), ("high", 2), ("medium", 1), ("low", 0),
                                       ("informational", 0)]
    assert chart(page, "service") == [("ec2", 2), ("iam", 1), ("s3", 1), ("kms", 0)]
    assert chart(page, "cis") == [("1 Identity and Access Management", 1), ("2 Storage", 1), ("3 Logging", 0),
                                  ("4 Monitoring", 0), ("5 Networking", 1), ("Not in CIS", 1)]
    # The largest count fills its track; zero draws no bar.
    widths = page.eval_on_selector_all("#chart-severity g.bar", "gs => gs.map(g => g.querySelector('rect.fill')"
                                       "?.getAttribute('width') ?? null)")
    assert widths == ["50.0%", "100.0%", "50.0%", None, None]


def test_default_order_is_fail_error_pass_then_most_severe(
    open_report: Callable[[ScanResult], OpenedReport],
) -> None:
    page = open_report(make_result(known_findings())).page
    assert column(page, "status") == ["FAIL"] * 4 + ["ERROR"] + ["PASS"] * 2
    assert column(page, "severity") == ["critical", "high", "high", "medium", "medium", "low", "informational"]


# --- interaction ----------------------------------------------------------------------------------

def test_status_filter_hides_other_rows(open_report: Callable[[ScanResult], OpenedReport]) -> None:
    page = open_report(make_result(known_findings())).page
    page.select_option("#filter-status", "FAIL")
    assert visible_rows(page) == 4
    assert set(column(page, "status")) == {"FAIL"}
    page.select_option("#filter-severity", "high")
    assert visible_rows(page) == 2
    page.select_option("#filter-service", "ec2")
    assert visible_rows(page) == 1
    page.select_option("#filter-status", "PASS")
    assert visible_rows(page) == 0
    assert page.locator("tbody.empty").is_visible()
    for select in ("#filter-status", "#filter-severity", "#filter-service"):
        page.select_option(select, "")
    assert visible_rows(page) == 7


def test_search_box_leaves_only_matching_rows(open_report: Callable[[ScanResult], OpenedReport]) -> None:
    page = open_report(make_result(known_findings())).page
    page.fill("#filter-text", "good-bucket")
    assert visible_rows(page) == 1
    assert page.locator("tbody.finding:visible .rid").inner_text() == "good-bucket"
    page.fill("#filter-text", "BUCKET")  # case-insensitive
    assert visible_rows(page) == 2
    page.fill("#filter-text", "no such thing")
    assert visible_rows(page) == 0
    page.fill("#filter-text", "")
    assert visible_rows(page) == 7


def test_severity_header_sorts_by_rank_and_reverses(open_report: Callable[[ScanResult], OpenedReport]) -> None:
    page = open_report(make_result(known_findings())).page
    header = page.locator("th[data-sort=severity] button")
    header.click()
    ranks = [int(r) for r in column(page, "severityRank")]
    assert column(page, "severity")[0] == "critical"
    assert ranks == sorted(ranks, reverse=True)
    assert page.get_attribute("th[data-sort=severity]", "aria-sort") == "ascending"
    header.click()
    ranks = [int(r) for r in column(page, "severityRank")]
    assert column(page, "severity")[0] == "informational"
    assert ranks == sorted(ranks)
    assert page.get_attribute("th[data-sort=severity]", "aria-sort") == "descending"


def test_row_expands_to_show_details(open_report: Callable[[ScanResult], OpenedReport]) -> None:
    page = open_report(make_result(known_findings())).page
    body = page.locator("tbody.finding", has=page.locator(".rid", has_text="public-bucket"))
    details = body.locator("tr.more")
    assert not details.is_visible()
    body.locator("td.toggle button").click()
    assert details.is_visible()
    text = details.inner_text()
    for expected in ("Rationale of s3_public.", "Remediation of s3_public.", "2.1.1", "team=web", '"AllUsers:READ"'):
        assert expected in text
    body.locator("td[data-col=message]").click()
    assert not details.is_visible()


# --- without a browser --------------------------------------------------------------------------------

def test_escapes_resource_id_and_links_nothing_external() -> None:
    message = "See https://evil.example/x and http://evil.example/y"
    finding = make_finding(make_rule("r", Severity.HIGH, "s3"), Status.FAIL, 'a<b>"c', message)
    html = render_html(make_result([finding]))

    assert 'a<b>"c' not in html
    assert "a&lt;b&gt;&#34;c" in html
    assert not re.search(r"""\b(src|href|action|srcset|poster|xlink:href)\s*=\s*["']?\s*(https?:)?//""", html, re.I)
    assert not re.search(r"""url\(\s*["']?\s*(https?:)?//|@import""", html, re.I)
    outside_finding_text = html.replace(str(escape(message)), "")
    assert "http://" not in outside_finding_text and "https://" not in outside_finding_text


def test_csp_allows_exactly_the_inline_script() -> None:
    html = render_html(make_result(known_findings()))
    scripts = re.findall(r"<script\b[^>]*>(.*?)</script>", html, re.S)
    assert len(scripts) == 1
    digest = base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode()
    csp = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', html)
    assert csp is not None
    directives = dict(d.strip().split(" ", 1) for d in unescape(csp.group(1)).split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == f"'sha256-{digest}'"
    assert directives["img-src"] == "data:"


def test_write_html_writes_one_utf8_file(tmp_path: Path) -> None:
    finding = make_finding(make_rule("r", Severity.LOW, "s3"), Status.PASS, "bücket-ü")
    path = write_html(make_result([finding]), tmp_path / "nested" / "report.html")
    assert path == tmp_path / "nested" / "report.html"
    assert "bücket-ü" in path.read_text(encoding="utf-8")
    assert list(path.parent.iterdir()) == [path]


def test_empty_scan_renders() -> None:
    html = render_html(make_result([]))
    assert "The scan produced no findings." in html


def test_cis_chart_counts_a_finding_once_per_section() -> None:
    rule = make_rule("multi", Severity.HIGH, "iam", ("1.4", "1.5", "3.1"))
    charts = {c.id: c for c in summary_charts([make_finding(rule, Status.FAIL, "x")])}
    counts = {b.label: b.count for b in charts["cis"].bars}
    assert counts["1 Identity and Access Management"] == 1
    assert counts["3 Logging"] == 1
    assert "Not in CIS" not in counts


def test_compliance_view_lists_controls_and_escapes_failing_resources(
    open_report: Callable[[ScanResult], OpenedReport],
) -> None:
    tls = get_rule("s3_bucket_tls_only").ref  # decides CIS 2.1.1
    result = make_result([make_finding(tls, Status.FAIL, XSS_IMG), make_finding(tls, Status.PASS, "fine-bucket")])
    result.collected_types = {"AWS::S3::Bucket"}

    opened = open_report(result)
    page = opened.page
    view = page.locator("#compliance-cis-5\\.0")
    assert view.locator("tr.control").count() == 63
    row = view.locator("tr.control[data-control='2.1.1']")
    assert row.get_attribute("data-status") == "FAIL"
    page.click("#compliance-cis-5\\.0 details.section:nth-of-type(2) summary")  # section 2 (storage)
    assert XSS_IMG in row.inner_text()
    # IAM and the account were not collected: their controls are ERROR, never PASS.
    assert view.locator("tr.control[data-control='1.1']").get_attribute("data-status") == "ERROR"
    assert view.locator("tr.control[data-control='1.4']").get_attribute("data-status") == "ERROR"
    assert_no_injection(opened)
