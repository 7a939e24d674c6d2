"""``cloudwarden demo``: the whole product against an embedded AWS, with no credentials and no network."""

from __future__ import annotations

import shlex
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.text import Text

from cloudwarden.cli.common import console, emit, parse_formats
from cloudwarden.cli.options import NoProgress, OutputDir, OutputFormats
from cloudwarden.cli.progress import RichProgress
from cloudwarden.findings.model import Status
from cloudwarden.findings.scan import ScanResult
from cloudwarden.report.text import terminal_text

if TYPE_CHECKING:
    from cloudwarden.demo.detections import Replay
    from cloudwarden.demo.environment import PlantedMistake
    from cloudwarden.demo.trail_recorder import DemoTrail

# The planted mistake whose cause the printed example commands look up.
EXAMPLE_RULE = "ec2_sg_no_admin_ports_ipv4"
EXAMPLE_ACTION = "ec2:AuthorizeSecurityGroupIngress"


def demo(
    output_dir: OutputDir = Path("cloudwarden-report"),
    output_formats: OutputFormats = "console,json,asff,csv,html",
    scale: int = typer.Option(1, "--scale", min=1, max=200, help="Multiply the sample company's resources."),
    no_trail: bool = typer.Option(
        False, "--no-trail", help="Do not write and ingest the sample company's CloudTrail (no who-did-it)."
    ),
    no_progress: NoProgress = False,
) -> None:
    """Start an embedded AWS on 127.0.0.1, plant a small company's usual mistakes (and write the CloudTrail of
    who made them), and scan it over HTTP exactly as a real account is scanned."""
    from cloudwarden.demo.emulator import EmbeddedAws
    from cloudwarden.demo.environment import DEMO_REGIONS, seed_sample_company
    from cloudwarden.demo.trail_recorder import TrailRecorder, record_demo_trail
    from cloudwarden.posture.scan import scan_account

    formats = parse_formats(output_formats)
    recorder = None if no_trail else TrailRecorder()
    trail_job: Future[DemoTrail] | None = None
    with EmbeddedAws() as emulator, ThreadPoolExecutor(max_workers=1, thread_name_prefix="demo-trail") as background:
        console.print(f"Embedded AWS (moto) listening on [bold]{emulator.endpoint_url}[/bold]")
        seeder = emulator.context(read_only=False)
        account_id = seeder.account_id()

        def client(service: str, region: str) -> object:
            return seeder.client(service, region)

        with console.status("Creating the sample company's account (Acme) …"):
            env = seed_sample_company(recorder.wrap(client) if recorder else client, account_id, scale=scale)
        if recorder is not None:  # the trail needs only the recorded calls: written and ingested during the scan
            trail_job = background.submit(record_demo_trail, recorder.calls, account_id, output_dir, datetime.now(UTC))
        console.print(
            f"Seeded Acme's account with {len(env.mistakes)} planted mistakes; scanning {', '.join(DEMO_REGIONS)} …"
        )
        scanner = emulator.context()
        with RichProgress(console, enabled=not no_progress) as progress:
            _, result = scan_account(scanner, list(DEMO_REGIONS), progress=progress)
    trail = None
    replayed = None
    if trail_job is not None:
        from cloudwarden.demo.detections import replay
        from cloudwarden.trail.causes import attach_causes

        with console.status("Finding who made each change in Acme's CloudTrail …"):
            trail = trail_job.result()
            attach_causes(result, trail.store)
        with console.status("Replaying Acme's CloudTrail through the detection lanes …"):
            replayed = replay(trail.folder, output_dir)
    emit(result, formats, output_dir)
    _say_what_was_caught(result, env.mistakes)
    if trail is not None:
        _say_where_the_trail_is(trail, env.mistakes)
    if replayed is not None:
        _say_what_the_lanes_caught(replayed)
    if "html" in formats:
        console.print(f"\nOpen the report: [bold]{(output_dir / 'cloudwarden-report.html').resolve()}[/bold]")


def _say_what_was_caught(result: ScanResult, mistakes: list[PlantedMistake]) -> None:
    failed = {(f.rule.id, f.resource_id) for f in result.findings if f.status is Status.FAIL}
    missed = [m for m in mistakes if (m.rule_id, m.resource_id) not in failed]
    caught = len(mistakes) - len(missed)
    console.print(f"\n[bold]{caught} of {len(mistakes)} planted mistakes caught as FAIL.[/bold]")
    for m in missed:
        console.print(f"[red]missed:[/red] {m.what} ({m.rule_id} on {m.resource_id})")


def _say_where_the_trail_is(trail: DemoTrail, mistakes: list[PlantedMistake]) -> None:
    """The trail summary and a few questions to ask the store (paths and names are data: printed literally)."""
    summary = trail.summary
    store = shlex.quote(str(trail.store.resolve()))
    problems = ""
    if summary.bad_files or summary.bad_record_count:  # not expected: the demo wrote every file itself
        problems = f" ({len(summary.bad_files)} bad files, {summary.bad_record_count} bad records)"
    console.print()
    console.print(
        terminal_text(
            f"Acme's CloudTrail: {len(trail.files)} log files in {trail.folder.resolve()}; {summary.events_added} "
            f"events ingested into {trail.store.resolve()}{problems}",
            2000,
        ),
        soft_wrap=True,
    )
    example = next((m.resource_id for m in mistakes if m.rule_id == EXAMPLE_RULE), None)
    commands = [f"cloudwarden trail who --action {EXAMPLE_ACTION} --store {store}"]
    if example:
        commands.append(f"cloudwarden trail why {shlex.quote(example)} --store {store}")
    commands.append(f"cloudwarden trail errors --code AccessDenied --store {store}")
    console.print(Text("Ask it who did what, e.g.:", style="bold"))
    for command in commands:
        console.print(Text("  ") + terminal_text(command, 1000), soft_wrap=True)


SHOWN_ALERTS = 12


def _say_what_the_lanes_caught(replayed: Replay) -> None:
    """The alerts the deployed lanes would have raised, most severe first (values from the trail: escaped)."""
    from rich.table import Table

    console.print()
    console.print(
        terminal_text(
            f"Detection: {replayed.rules} rules over {replayed.events} events. The fast lane would have raised "
            f"{replayed.fast_lane} alerts, each seconds after its call; the slow lane then read the "
            f"{replayed.files} log files and raised {replayed.slow_lane_new} more from correlation rules "
            f"(patterns across many events, which only it evaluates), and none twice. "
            f"Alerts: {replayed.alerts_file.resolve()}",
            2000,
        ),
        soft_wrap=True,
    )
    if not replayed.alerts:
        return
    table = Table(title=f"Most severe alerts (of {len(replayed.alerts)})")
    for column in ("when", "level", "rule", "who", "call"):
        table.add_column(column)
    shown = sorted(replayed.alerts, key=lambda a: (-a["severity_id"], a["time"]))[:SHOWN_ALERTS]
    for alert in sorted(shown, key=lambda a: a["time"]):
        event = alert["evidences"][0]["data"]
        user = alert["actor"]["user"]
        uid = user.get("uid") or ""
        who = user.get("name") or ("root" if uid.endswith(":root") else uid.rsplit("/", 1)[-1])
        who = who or alert["actor"].get("invoked_by")
        table.add_row(
            terminal_text(str(event.get("eventTime"))[5:16].replace("T", " "), 20),
            alert["severity"],
            terminal_text(alert["finding_info"]["title"], 80),
            terminal_text(who or "", 60),
            terminal_text(alert["api"]["operation"] or "", 60),
        )
    console.print(table)
