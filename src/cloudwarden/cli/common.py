"""What the commands share: building the AWS context from the CLI options, and the outputs."""

from __future__ import annotations

from pathlib import Path

import typer
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, ProfileNotFound
from rich.console import Console
from rich.text import Text

from cloudwarden.aws.regions import resolve_regions
from cloudwarden.aws.session import AwsContext
from cloudwarden.cli.options import FailOn, split_csv
from cloudwarden.findings.model import Severity
from cloudwarden.findings.mutelist import MuteEntry, MutelistError, apply_mutelist, load_mutelist
from cloudwarden.findings.scan import ScanResult
from cloudwarden.inventory.collect import SERVICES
from cloudwarden.report.console import print_summary
from cloudwarden.report.files import ALL_FORMATS, write_outputs
from cloudwarden.report.text import terminal_text

EXIT_FAILED_CHECKS = 3

console = Console(stderr=False, highlight=False)
err_console = Console(stderr=True, highlight=False)


class CommandError(Exception):
    """A problem the user can fix (credentials, a bad file); printed without a traceback, exit 1."""


def aws_context(profile: str | None, role_arn: str | None, endpoint_url: str | None, region: str | None) -> AwsContext:
    try:
        aws = AwsContext.create(profile=profile, role_arn=role_arn, endpoint_url=endpoint_url, region=region)
        identity = aws.client("sts").get_caller_identity()  # fail fast, before any progress bar
    except ProfileNotFound as exc:
        raise CommandError(str(exc)) from exc
    except NoCredentialsError as exc:
        raise CommandError(
            "no AWS credentials found: use --profile, set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or try "
            "`cloudwarden demo`, which needs none"
        ) from exc
    except (ClientError, BotoCoreError) as exc:
        raise CommandError(f"cannot reach AWS as this identity: {exc}") from exc
    err_console.print(terminal_text(f"Account {identity['Account']} as {identity['Arn']}", 300))
    return aws


def check_region_options(regions: list[str] | None, all_regions: bool) -> None:
    if regions and all_regions:
        raise typer.BadParameter("use --region or --all-regions, not both", param_hint="--all-regions")


def connect(
    profile: str | None, role_arn: str | None, endpoint_url: str | None, regions: list[str] | None
) -> tuple[AwsContext, list[str]]:
    """The AWS context and the regions to scan (``regions``, or every region enabled for the account)."""
    aws = aws_context(profile, role_arn, endpoint_url, regions[0] if regions else None)
    chosen, warning = resolve_regions(aws, regions or [])
    if warning:
        err_console.print(Text("warning: ", style="yellow") + terminal_text(warning))
    return aws, chosen


def parse_services(value: str | None) -> list[str] | None:
    services = split_csv(value)
    unknown = set(services) - set(SERVICES)
    if unknown:
        raise typer.BadParameter(
            f"unknown service(s) {', '.join(sorted(unknown))}; known: {', '.join(SERVICES)}", param_hint="--services"
        )
    return services or None


def parse_formats(value: str) -> list[str]:
    formats = split_csv(value)
    unknown = set(formats) - set(ALL_FORMATS)
    if unknown or not formats:
        raise typer.BadParameter(f"choose from {', '.join(ALL_FORMATS)}", param_hint="--output-formats")
    return formats


def parse_frameworks(names: list[str] | None) -> list[str]:
    from cloudwarden.posture.frameworks import get_framework

    try:
        return [get_framework(name).id for name in names or []]
    except KeyError as exc:
        raise typer.BadParameter(str(exc.args[0]), param_hint="--framework") from exc


def load_mutes(mutelist: Path | None) -> list[MuteEntry]:
    """The mutelist's entries, read before any scan so a bad file fails fast."""
    if mutelist is None:
        return []
    try:
        return load_mutelist(mutelist)
    except MutelistError as exc:
        raise CommandError(f"mutelist: {exc}") from exc


def apply_mutes(result: ScanResult, entries: list[MuteEntry]) -> None:
    """Mute what the mutelist names; expired entries become notices."""
    result.notices.extend(apply_mutelist(result.findings, entries))


def emit(result: ScanResult, formats: list[str], out_dir: Path) -> None:
    if "console" in formats:
        print_summary(result, console)
        _print_frameworks(result)
    for path in write_outputs(result, formats, out_dir):
        console.print(f"wrote {path}")


def _print_frameworks(result: ScanResult) -> None:
    from cloudwarden.posture.compliance import assess
    from cloudwarden.posture.frameworks import get_framework
    from cloudwarden.report.console import print_compliance

    for name in result.frameworks:
        framework = get_framework(name)
        print_compliance(framework, assess(framework, result), console)


def exit_code(result: ScanResult, fail_on: FailOn | None) -> int:
    """3 when a FAIL at or above ``fail_on`` exists, else 0."""
    if fail_on is None:
        return 0
    threshold = Severity(fail_on.value).rank
    return EXIT_FAILED_CHECKS if any(f.severity.rank >= threshold for f in result.failed()) else 0
