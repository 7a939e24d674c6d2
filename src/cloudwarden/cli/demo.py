"""``cloudwarden demo``: the whole product against an embedded AWS, with no credentials and no network."""

from __future__ import annotations

from pathlib import Path

import typer

from cloudwarden.cli.common import console, emit, parse_formats
from cloudwarden.cli.options import NoProgress, OutputDir, OutputFormats
from cloudwarden.cli.progress import RichProgress
from cloudwarden.findings.model import Status
from cloudwarden.findings.scan import ScanResult


def demo(
    output_dir: OutputDir = Path("cloudwarden-report"),
    output_formats: OutputFormats = "console,json,asff,csv,html",
    scale: int = typer.Option(1, "--scale", min=1, max=200, help="Multiply the sample company's resources."),
    no_progress: NoProgress = False,
) -> None:
    """Start an embedded AWS on 127.0.0.1, plant a small company's usual mistakes, and scan it over HTTP
    exactly as a real account is scanned."""
    from cloudwarden.demo.emulator import EmbeddedAws
    from cloudwarden.demo.environment import DEMO_REGIONS, seed_sample_company
    from cloudwarden.posture.scan import scan_account

    formats = parse_formats(output_formats)
    with EmbeddedAws() as emulator:
        console.print(f"Embedded AWS (moto) listening on [bold]{emulator.endpoint_url}[/bold]")
        seeder = emulator.context(read_only=False)
        with console.status("Creating the sample company's account (Acme) …"):
            env = seed_sample_company(
                lambda service, region: seeder.client(service, region), seeder.account_id(), scale=scale
            )
        console.print(
            f"Seeded Acme's account with {len(env.mistakes)} planted mistakes; scanning {', '.join(DEMO_REGIONS)} …"
        )
        scanner = emulator.context()
        with RichProgress(console, enabled=not no_progress) as progress:
            _, result = scan_account(scanner, list(DEMO_REGIONS), progress=progress)
    emit(result, formats, output_dir)
    _say_what_was_caught(result, env.mistakes)
    if "html" in formats:
        console.print(f"\nOpen the report: [bold]{(output_dir / 'cloudwarden-report.html').resolve()}[/bold]")


def _say_what_was_caught(result: ScanResult, mistakes: list) -> None:  # type: ignore[type-arg]
    failed = {(f.rule.id, f.resource_id) for f in result.findings if f.status is Status.FAIL}
    missed = [m for m in mistakes if (m.rule_id, m.resource_id) not in failed]
    caught = len(mistakes) - len(missed)
    console.print(f"\n[bold]{caught} of {len(mistakes)} planted mistakes caught as FAIL.[/bold]")
    for m in missed:
        console.print(f"[red]missed:[/red] {m.what} ({m.rule_id} on {m.resource_id})")
