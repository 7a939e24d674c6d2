"""The ``cloudwarden`` command. Exit codes: 0 success, 3 a FAIL at or above --fail-on, 2 usage error,
1 the command could not run (no credentials, unreadable file, unexpected error)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer
from botocore.exceptions import BotoCoreError, ClientError
from rich.text import Text

from cloudwarden import __version__
from cloudwarden.cli import demo as demo_command
from cloudwarden.cli import detect as detect_command
from cloudwarden.cli.common import (
    CommandError,
    apply_mutes,
    check_region_options,
    connect,
    console,
    emit,
    err_console,
    exit_code,
    load_mutes,
    parse_formats,
    parse_frameworks,
    parse_services,
)
from cloudwarden.cli.deploy import deploy_app
from cloudwarden.cli.options import (
    AllRegions,
    EndpointUrl,
    FailOn,
    Frameworks,
    Mutelist,
    NoProgress,
    OutputDir,
    OutputFormats,
    Profile,
    Regions,
    RoleArn,
    Services,
)
from cloudwarden.cli.progress import RichProgress
from cloudwarden.cli.trail import trail_app
from cloudwarden.findings.scan import ScanResult
from cloudwarden.inventory.collect import collect_inventory
from cloudwarden.inventory.model import Inventory, InventoryFormatError
from cloudwarden.posture.scan import judge, scan_account
from cloudwarden.report.text import terminal_text

app = typer.Typer(
    help="cloudwarden: does your AWS account work as intended, and only as intended?",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
inventory_app = typer.Typer(
    help="Collect an account's configuration once, judge it offline later.", no_args_is_help=True
)
rules_app = typer.Typer(help="The posture rules cloudwarden knows.", no_args_is_help=True)
app.add_typer(inventory_app, name="inventory")
app.add_typer(rules_app, name="rules")
app.add_typer(trail_app, name="trail")
app.add_typer(deploy_app, name="deploy")
app.command("demo")(demo_command.demo)
app.command("detect")(detect_command.detect)
app.command("watch")(detect_command.watch)
app.command("dead-letters")(detect_command.dead_letters)

DEFAULT_OUTPUT_DIR = Path("cloudwarden-report")


@app.callback(invoke_without_command=True)
def _root(version: bool = typer.Option(False, "--version", help="Print the version and exit.")) -> None:
    if version:
        console.print(f"cloudwarden {__version__}")
        raise typer.Exit()


@app.command()
def scan(
    profile: Profile = None,
    region: Regions = None,
    all_regions: AllRegions = False,
    role_arn: RoleArn = None,
    endpoint_url: EndpointUrl = None,
    services: Services = None,
    inventory: Path | None = typer.Option(
        None,
        "--inventory",
        help="Judge this inventory file instead of AWS (from `cloudwarden inventory collect`); makes no AWS call.",
    ),
    output_formats: OutputFormats = "console,html",
    output_dir: OutputDir = DEFAULT_OUTPUT_DIR,
    fail_on: FailOn | None = typer.Option(
        None, "--fail-on", help="Exit 3 if a FAIL at or above this severity exists (for CI pipelines)."
    ),
    send_to_security_hub: bool = typer.Option(
        False,
        "--send-to-security-hub",
        help="Import the findings into AWS Security Hub (BatchImportFindings, 100 per call).",
    ),
    framework: Frameworks = None,
    mutelist: Mutelist = None,
    trail_store: Path | None = typer.Option(
        None,
        "--trail-store",
        help="Trail store to find who caused each FAIL (default: $XDG_DATA_HOME/cloudwarden/trail.duckdb, used "
        "only if it exists; fill it with `cloudwarden trail ingest`).",
    ),
    no_trail: bool = typer.Option(False, "--no-trail", help="Do not look up who caused each FAIL in the trail store."),
    no_progress: NoProgress = False,
) -> None:
    """Collect the account's configuration and judge it against every rule."""
    formats = parse_formats(output_formats)
    frameworks = parse_frameworks(framework)
    mutes = load_mutes(mutelist)
    wanted_services = parse_services(services)
    check_region_options(region, all_regions)
    if inventory is not None:
        if send_to_security_hub:
            raise typer.BadParameter("cannot send an offline scan to Security Hub", param_hint="--send-to-security-hub")
        result = judge(_load_inventory(inventory), source=str(inventory))
        apply_mutes(result, mutes)
    else:
        aws, regions = connect(profile, role_arn, endpoint_url, region)
        with RichProgress(err_console, enabled=not no_progress) as progress:
            _, result = scan_account(aws, regions, wanted_services, progress)
        apply_mutes(result, mutes)
    result.frameworks = frameworks
    if not no_trail:
        _attach_causes(result, trail_store)
    if send_to_security_hub:  # after the causes, so Security Hub gets who made each change too
        _send_to_security_hub(result, profile, role_arn, endpoint_url, regions[0])
    emit(result, formats, output_dir)
    raise typer.Exit(exit_code(result, fail_on))


def _attach_causes(result: ScanResult, trail_store: Path | None) -> None:
    """Who caused each FAIL, from the given store, else from the default store when there is one."""
    from cloudwarden.trail.causes import attach_causes
    from cloudwarden.trail.store import default_store_path

    if trail_store is None:
        trail_store = default_store_path()
        if not trail_store.exists():
            return
    attach_causes(result, trail_store)


def _send_to_security_hub(result, profile, role_arn, endpoint_url, home_region) -> None:  # type: ignore[no-untyped-def]
    from cloudwarden.aws.session import AwsContext
    from cloudwarden.report.securityhub import send_to_security_hub

    # Asked for by name: the one context allowed to write, and only to Security Hub.
    writer = AwsContext.create(
        profile=profile, role_arn=role_arn, endpoint_url=endpoint_url, region=home_region, read_only=False
    )
    try:
        summary = send_to_security_hub(result, writer.client("securityhub", home_region), home_region)
    except (ClientError, BotoCoreError) as exc:
        raise CommandError(f"Security Hub import failed: {exc}") from exc
    console.print(f"Security Hub ({home_region}): imported {summary.imported}, failed {summary.failed}")
    for failure in summary.failures[:10]:
        err_console.print(f"  failed {failure.get('Id')}: {failure.get('ErrorCode')} {failure.get('ErrorMessage')}")


def _load_inventory(path: Path) -> Inventory:
    try:
        return Inventory.load(path)
    except OSError as exc:
        raise CommandError(f"cannot read inventory {path}: {exc.strerror}") from exc
    except InventoryFormatError as exc:
        raise CommandError(f"{path}: {exc}") from exc


@inventory_app.command("collect")
def inventory_collect(
    output: Path = typer.Option(..., "-o", "--output", help="Inventory file to write (JSON)."),
    profile: Profile = None,
    region: Regions = None,
    all_regions: AllRegions = False,
    role_arn: RoleArn = None,
    endpoint_url: EndpointUrl = None,
    services: Services = None,
    no_progress: NoProgress = False,
) -> None:
    """Collect the account's configuration into a file, for `cloudwarden scan --inventory FILE`."""
    wanted_services = parse_services(services)
    check_region_options(region, all_regions)
    aws, regions = connect(profile, role_arn, endpoint_url, region)
    with RichProgress(err_console, enabled=not no_progress) as progress:
        collected = collect_inventory(aws, regions, services=wanted_services, progress=progress)
    output.parent.mkdir(parents=True, exist_ok=True)
    collected.save(output)
    console.print(
        f"wrote {output}: {len(collected.resources)} resources, {len(collected.scope_errors)} unreadable "
        f"listings, {sum(aws.api_calls.values())} API calls"
    )


@app.command("frameworks")
def frameworks_list() -> None:
    """List the compliance frameworks and how many of their controls cloudwarden automates."""
    from rich.table import Table

    from cloudwarden.posture.frameworks import frameworks

    table = Table(title="Frameworks (use with scan --framework ID)", title_justify="left")
    for column in ("ID", "Framework", "Automated", "Manual", "Total"):
        table.add_column(column, justify="right" if column in ("Automated", "Manual", "Total") else "left")
    for framework in frameworks().values():
        automated, manual, total = framework.coverage()
        table.add_row(framework.id, framework.name, str(automated), str(manual), str(total))
    console.print(table)
    console.print("Automated: at least one rule decides the control. Manual: a person decides (reported as MANUAL).")


@rules_app.command("list")
def rules_list(
    service: str | None = typer.Option(None, "--service", help="Only rules of this service (iam, s3, ec2, …)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Show every posture rule: id, severity, service, CIS v5.0 controls and title."""
    from cloudwarden.cli.rules import print_rules

    print_rules(service, as_json)


@rules_app.command("docs")
def rules_docs(
    output: Path | None = typer.Option(None, "--output", "-o", help="Write here (default: print)."),
    check: bool = typer.Option(False, "--check", help="Exit 1 if --output differs from what would be written."),
) -> None:
    """Generate the rules reference (docs/rules.md) from the registry and the framework catalogues."""
    from cloudwarden.report.rules_markdown import render_rules_markdown

    text = render_rules_markdown()
    if output is None:
        console.out(text, end="", highlight=False)
    elif check:
        current = output.read_text(encoding="utf-8") if output.exists() else ""
        if current != text:
            raise CommandError(f"{output} is stale: run `cloudwarden rules docs --output {output}`")
        console.print(f"{output} is up to date")
    else:
        output.write_text(text, encoding="utf-8")
        console.print(f"wrote {output}")


def main() -> None:
    try:
        app()
    except CommandError as exc:
        err_console.print(Text("error: ", style="bold red") + terminal_text(exc, 2000), soft_wrap=True)
        sys.exit(1)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
    except Exception as exc:  # a crash: say what happened, exit 1 (not 2: that is for usage errors)
        err_console.print(
            Text("cloudwarden crashed: ", style="bold red") + terminal_text(f"{type(exc).__name__}: {exc}", 2000),
            soft_wrap=True,
        )
        if os.environ.get("CLOUDWARDEN_DEBUG"):
            raise
        sys.exit(1)
