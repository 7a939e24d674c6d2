"""The console summary: counts by severity and service, the failed checks, and what could not be read."""

from __future__ import annotations

from collections import Counter
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from cloudwarden.findings.model import Finding, Severity, Status
from cloudwarden.findings.scan import ScanResult
from cloudwarden.posture.compliance import ControlResult
from cloudwarden.posture.frameworks import Framework
from cloudwarden.report.text import printable, terminal_text

SEVERITY_STYLE = {
    Severity.CRITICAL: "bold white on red",
    Severity.HIGH: "bold red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFORMATIONAL: "dim",
}
EXAMPLES = 3  # resources named per failing rule; the files and the HTML report list them all
USER_AGENT_CHARS = 40  # user agents run to hundreds of characters; the start says which tool
STATUS_STYLE = {Status.PASS: "green", Status.FAIL: "bold red", Status.ERROR: "magenta", Status.MANUAL: "blue"}


def print_summary(result: ScanResult, console: Console, max_rows: int = 60) -> None:
    counts = result.by_status()
    console.print()
    console.print(
        f"[bold]cloudwarden[/bold] scanned account [bold]{terminal_text(result.account_id).plain}[/bold] "
        f"in {len(result.regions)} region(s) with {result.rule_count} rules: "
        f"[green]{counts[Status.PASS]} PASS[/green], [bold red]{counts[Status.FAIL]} FAIL[/bold red], "
        f"[magenta]{counts[Status.ERROR]} ERROR[/magenta]"
        + (f" ({result.api_calls} API calls, {result.duration_seconds:.1f}s)" if result.api_calls else "")
    )
    console.print(_by_severity(result))
    console.print(_by_service(result))
    muted = sum(1 for f in result.findings if f.muted_reason)
    if muted or counts[Status.MANUAL]:
        console.print(f"{counts[Status.MANUAL]} MANUAL (a person must decide), {muted} MUTED by the mutelist")
    for notice in result.notices:
        console.print(Text("notice: ", style="yellow") + terminal_text(notice, 1000))
    failed = result.failed()
    if failed:
        console.print(_failed_checks(result, max_rows))
    errors = result.errors()
    if errors:
        table = Table(title="Could not evaluate (ERROR): never counted as PASS", title_justify="left")
        table.add_column("Rule")
        table.add_column("Region")
        table.add_column("Resource")
        table.add_column("Reason", overflow="fold")
        for finding in errors[:max_rows]:
            table.add_row(
                finding.rule.id,
                terminal_text(finding.region),
                terminal_text(finding.resource_id, 80),
                terminal_text(finding.message, 300),
            )
        console.print(table)
        if len(errors) > max_rows:
            console.print(f"… and {len(errors) - max_rows} more errors (see the JSON, CSV or HTML output).")


def _by_severity(result: ScanResult) -> Table:
    table = Table(title="Failed checks by severity", title_justify="left")
    fails = Counter(f.severity for f in result.findings if f.status is Status.FAIL)
    for severity in sorted(Severity, key=lambda s: -s.rank):
        table.add_column(severity.value, justify="right", header_style=SEVERITY_STYLE[severity])
    table.add_row(*(str(fails[s]) for s in sorted(Severity, key=lambda s: -s.rank)))
    return table


def _by_service(result: ScanResult) -> Table:
    table = Table(title="Results by service", title_justify="left")
    table.add_column("Service")
    for status in Status:
        table.add_column(status.value, justify="right", header_style=STATUS_STYLE[status])
    per_service: dict[str, Counter[Status]] = {}
    for finding in result.findings:
        per_service.setdefault(finding.rule.service, Counter())[finding.status] += 1
    for service in sorted(per_service):
        table.add_row(service, *(str(per_service[service][s]) for s in Status))
    return table


def _failed_checks(result: ScanResult, max_rows: int) -> Table:
    """One row per failing rule, most severe first, with how many resources fail and a few of them."""
    by_rule: dict[str, list[Finding]] = {}
    for finding in result.failed():
        by_rule.setdefault(finding.rule.id, []).append(finding)
    table = Table(title=f"Failed checks ({len(by_rule)} rules, {len(result.failed())} resources)", title_justify="left")
    table.add_column("Severity")
    table.add_column("Rule", no_wrap=True)
    table.add_column("CIS")
    table.add_column("Fails", justify="right")
    table.add_column("Resources (region)", overflow="fold")
    for rule_id, findings in list(by_rule.items())[:max_rows]:
        first = findings[0]
        more = f" … +{len(findings) - EXAMPLES} more" if len(findings) > EXAMPLES else ""
        table.add_row(
            terminal_text(first.severity.value, style=SEVERITY_STYLE[first.severity]),
            rule_id,
            ", ".join(first.rule.cis),
            str(len(findings)),
            _resources_cell(findings[:EXAMPLES], result.causes, more),
        )
    return table


def _resources_cell(findings: list[Finding], causes: dict[str, list[Any]], more: str) -> Text:
    """The shown resources, comma-separated; when the trail knows who caused them, one per line, each followed by
    a dim line per causing event."""
    if not any(causes.get(f.uid) for f in findings):
        shown = ", ".join(f"{printable(f.resource_id, 60)} ({f.region})" for f in findings)
        return terminal_text(shown + more, 400)
    cell = Text()
    for index, finding in enumerate(findings):
        if index:
            cell.append("\n")
        cell.append_text(terminal_text(f"{finding.resource_id} ({finding.region})", 80))
        for cause in causes.get(finding.uid, []):
            cell.append("\n")
            cell.append_text(terminal_text(cause_line(cause), 400, style="dim"))
    if more:
        cell.append_text(terminal_text(more))
    return cell


def cause_line(cause: Any) -> str:
    """``by alice (session) at 2026-11-20 10:00:00Z from 203.0.113.7 via aws-cli/2.15…: AttachUserPolicy`` (plain
    text: the caller escapes it, every part comes from a CloudTrail log)."""
    who = cause.principal or "unknown principal"
    session = f" ({cause.session_name})" if cause.session_name else ""
    when = cause.event_time.strftime("%Y-%m-%d %H:%M:%SZ")
    agent = printable(cause.user_agent or "unknown agent", USER_AGENT_CHARS)
    return f"by {who}{session} at {when} from {cause.source_ip or 'unknown IP'} via {agent}: {cause.event_name}"


def print_compliance(
    framework: Framework, results: list[ControlResult], console: Console, max_resources: int = 3
) -> None:
    """Per-control status of one framework, section by section, with the failing resources."""
    counts = Counter(r.status for r in results)
    table = Table(
        title=f"{framework.name}: " + ", ".join(f"{counts[s]} {s.value}" for s in Status),
        title_justify="left",
    )
    table.add_column("Control", no_wrap=True)
    table.add_column("Status")
    table.add_column("Title", overflow="fold")
    table.add_column("Detail / failing resources", overflow="fold")
    section = None
    for r in results:
        if r.control.section != section:
            section = r.control.section
            table.add_section()
        shown = [f"{printable(f.resource_id, 60)} ({f.region})" for f in r.failing[:max_resources]]
        more = f" … +{len(r.failing) - max_resources} more" if len(r.failing) > max_resources else ""
        detail = ", ".join(shown) + more if shown else r.detail
        table.add_row(
            r.control.id,
            Text(r.status.value, style=STATUS_STYLE[r.status]),
            r.control.title,
            terminal_text(detail, 400),
        )
    console.print(table)
