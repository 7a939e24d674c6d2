"""``cloudwarden deploy template|package|apply``: the detection lanes as a CloudFormation stack."""

from __future__ import annotations

import re
import sys
import tempfile
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import typer
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
from rich.text import Text

from cloudwarden.cli.common import CommandError, console, err_console
from cloudwarden.cli.options import EndpointUrl, Profile
from cloudwarden.deploy.package_target import RUNTIMES, default_runtime
from cloudwarden.deploy.template import GLOBAL_EVENTS_REGION, RETENTION_DAYS, LaneSettings, this_interpreter
from cloudwarden.report.text import terminal_text

if TYPE_CHECKING:
    from cloudwarden.deploy.apply import NotificationChange
    from cloudwarden.deploy.package import Package

deploy_app = typer.Typer(
    help="Deploy the detection lanes to AWS Lambda with CloudFormation (template, package, apply).",
    no_args_is_help=True,
)
EXIT_TEMPLATE_FAILS = 3
# The function names are STACK-fast-lane / STACK-slow-lane, and Lambda allows 64 characters.
STACK_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,53}")


class Lanes(StrEnum):
    both = "both"
    fast = "fast"
    slow = "slow"


class Architecture(StrEnum):
    x86_64 = "x86_64"
    arm64 = "arm64"


def _settings(runtime: str | None, architecture: Architecture | None) -> LaneSettings:
    """The runtime and architecture named, else the ones `deploy package` builds for by default (so a template
    and a package made with the same options match)."""
    if architecture is not None:
        machine = architecture.value
    else:
        try:
            machine = this_interpreter().architecture
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--architecture") from exc
    return LaneSettings(runtime or default_runtime(), machine)


@deploy_app.command("template")
def template(
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the YAML here (default: print it)."),
    runtime: str | None = typer.Option(
        None, "--runtime", help="Lambda runtime (default: as `deploy package`, e.g. python3.12; must match the "
        "package)."
    ),
    architecture: Architecture | None = typer.Option(
        None, "--architecture", help="Lambda architecture (default: this machine's; must match the package)."
    ),
    check: bool = typer.Option(
        False, "--check", help="Judge the template with cloudwarden's posture rules instead; exit 3 on FAIL/ERROR."
    ),
    lanes: Lanes = typer.Option(Lanes.both, "--lanes", help="With --check: the Lanes parameter to judge."),
    region: str = typer.Option(GLOBAL_EVENTS_REGION, "--region", help="With --check: the region to judge it in."),
) -> None:
    """Print (or write) the CloudFormation template of both lanes."""
    from cloudwarden.deploy.template import build_template, render_template

    settings = _settings(runtime, architecture)
    if check:
        _print_check(build_template(settings), lanes.value, region)
        return
    text = render_template(settings)
    if output is None:
        console.out(text, end="", highlight=False)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
        console.print(f"wrote {output} ({settings.runtime}, {settings.architecture})")


def _print_check(built: dict[str, object], lanes: str, region: str) -> None:
    from cloudwarden.deploy.template_check import check_template

    verdicts = check_template(
        built, {"Lanes": lanes, "CodeBucket": "CODE", "CodeKey": "KEY", "TrailBucket": "TRAIL"}, region=region
    )
    for finding in sorted(verdicts.findings, key=lambda f: (f.rule.id, f.resource_id)):
        style = {"PASS": "green", "FAIL": "red", "ERROR": "yellow"}.get(finding.status.value, "")
        line = Text(f"{finding.status.value:<6}", style=style)
        line.append(terminal_text(f"{finding.rule.id}  {finding.resource_id}: {finding.message}", 500))
        console.print(line, soft_wrap=True)
    for rule_id, reason in verdicts.not_judged.items():
        console.print(terminal_text(f"not judged  {rule_id}: {reason}"))
    converted = verdicts.converted
    for logical, reason in {**converted.unjudged, **converted.excluded}.items():
        console.print(terminal_text(f"no rule     {logical}: {reason}"))
    for logical, into in converted.folded.items():
        console.print(terminal_text(f"folded      {logical} into {into}"))
    problems = verdicts.problems()
    console.print(f"{len(verdicts.applied_rules)} rules judged {len(converted.inventory.resources)} resources: "
                  f"{len(problems)} FAIL or ERROR")
    if problems:
        raise typer.Exit(EXIT_TEMPLATE_FAILS)


@deploy_app.command("package")
def package(
    output: Path = typer.Option(Path("cloudwarden-lanes.zip"), "--output", "-o", help="The zip to write."),
    runtime: str | None = typer.Option(
        None, "--runtime", help=f"Lambda runtime to build for, one of {', '.join(RUNTIMES)} (default: this "
        "Python's if its runtime runs on Amazon Linux 2023, else python3.12)."
    ),
    architecture: Architecture | None = typer.Option(
        None, "--architecture", help="Lambda architecture to build for (default: this machine's)."
    ),
    from_installed: bool = typer.Option(
        False, "--from-installed", help="Copy this environment's modules (the target must be this Python and "
        "machine; default: when it is and every wheel fits the runtime's OS)."
    ),
    from_pip: bool = typer.Option(
        False, "--from-pip", help="Install the target's wheels with pip even when the installed ones would do."
    ),
) -> None:
    """Build the Lambda package: cloudwarden and the modules the lanes import, for one runtime and architecture.

    The dependencies are the versions installed here, as wheels pip installs for the target (its Python,
    architecture and OS glibc), or copied from this environment when it is the target. A wheel that would not
    load on the runtime's OS is refused. `deploy apply` takes the runtime from the package.
    """
    if runtime is not None and runtime not in RUNTIMES:
        raise typer.BadParameter(f"one of {', '.join(RUNTIMES)}", param_hint="--runtime")
    if from_installed and from_pip:
        raise typer.BadParameter("--from-installed or --from-pip, not both", param_hint="--from-pip")
    source: Literal["auto", "installed", "pip"] = "installed" if from_installed else "pip" if from_pip else "auto"
    built = _build(output, _settings(runtime, architecture), source)
    console.print(f"wrote {built.path}: {built.size / 1e6:.1f} MB, {built.settings.runtime} "
                  f"{built.settings.architecture} ({'copied' if built.source == 'installed' else 'pip wheels'}), "
                  f"sha256 {built.sha256[:16]}")
    console.print(terminal_text("  " + ", ".join(f"{k} {v}" for k, v in built.distributions.items()), 2000))


def _build(output: Path, target: LaneSettings, source: Literal["auto", "installed", "pip"] = "auto") -> Package:
    from cloudwarden.deploy.package import build_package

    def report(line: str) -> None:
        err_console.print(terminal_text(line, 1000), soft_wrap=True)

    try:
        with err_console.status(f"building the Lambda package for {target.runtime} {target.architecture}"):
            return build_package(output, sys.executable, target=target, source=source, progress=report)
    except (OSError, RuntimeError) as exc:  # PackageError: pip's own last lines, or the wheels that cannot load
        # The error line is printed as one line: the details (one a line) go first, so that they stay readable.
        first, *details = str(exc).splitlines() or [""]
        for line in details:
            err_console.print(terminal_text(line, 1000), soft_wrap=True)
        more = "; see above" if details else ""
        raise CommandError(f"cannot build the package: {first.rstrip(':')}{more}") from exc


@deploy_app.command("apply")
def apply(
    trail_bucket: str = typer.Option(..., "--trail-bucket", help="The bucket CloudTrail delivers log files to."),
    code_bucket: str = typer.Option(..., "--code-bucket", help="An existing bucket to upload the package to."),
    stack_name: str = typer.Option("cloudwarden-detect", "--stack-name", help="CloudFormation stack name."),
    region: str = typer.Option(
        GLOBAL_EVENTS_REGION,
        "--region",
        help="Region of the stack. us-east-1 is the only one whose EventBridge sees IAM, STS and sign-in events; "
        "the slow lane must be in the trail bucket's region.",
    ),
    lanes: Lanes = typer.Option(Lanes.both, "--lanes", help="Deploy both lanes, or only fast or slow."),
    trail_prefix: str = typer.Option("AWSLogs/", "--trail-prefix", help="Key prefix of the trail's log files."),
    trail_kms_key_arn: str = typer.Option(
        "", "--trail-kms-key-arn", help="The trail's KMS key, if its log files are SSE-KMS encrypted."
    ),
    log_retention_days: int = typer.Option(365, "--log-retention-days", help="Retention of the functions' logs."),
    package_file: Path | None = typer.Option(
        None, "--package", help="A package from `cloudwarden deploy package` (default: build one now)."
    ),
    configure_trail_bucket: bool = typer.Option(
        False,
        "--configure-trail-bucket",
        help="Also add the slow lane's queue to the trail bucket's notifications (a change to a bucket the stack "
        "does not own; its other notifications are kept).",
    ),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask before making the changes in the plan."),
    profile: Profile = None,
    endpoint_url: EndpointUrl = None,
) -> None:
    """Upload the package, create or update the stack and wait for it; print the plan first."""
    from cloudwarden.aws.session import AwsContext
    from cloudwarden.deploy.apply import DeployError
    from cloudwarden.deploy.plan import execute, make_plan

    if not STACK_NAME.fullmatch(stack_name):
        raise typer.BadParameter("letters, digits and hyphens, starting with a letter, at most 54",
                                 param_hint="--stack-name")
    if log_retention_days not in RETENTION_DAYS:
        raise typer.BadParameter(f"one of {', '.join(map(str, RETENTION_DAYS))}", param_hint="--log-retention-days")
    try:
        # `deploy apply` is a write the user asked for by name: the one context here that may change the account.
        aws = AwsContext.create(profile=profile, endpoint_url=endpoint_url, region=region, read_only=False)
        identity = aws.client("sts", region).get_caller_identity()
    except NoCredentialsError as exc:
        raise CommandError("no AWS credentials found: use --profile or set AWS_ACCESS_KEY_ID") from exc
    except (ClientError, BotoCoreError) as exc:
        raise CommandError(f"cannot reach AWS as this identity: {exc}") from exc
    err_console.print(terminal_text(f"Account {identity['Account']} as {identity['Arn']}", 300))
    with tempfile.TemporaryDirectory(prefix="cloudwarden-package-") as scratch:
        built: Package | None = None
        if package_file is None:
            built = _build(Path(scratch) / "cloudwarden-lanes.zip", _settings(None, None))
            package_file = built.path
        key = built.key if built else _content_key(package_file)
        try:
            plan = make_plan(
                aws, stack_name=stack_name, region=region, trail_bucket=trail_bucket, code_bucket=code_bucket,
                package=package_file, package_key=key, lanes=lanes.value, trail_prefix=trail_prefix,
                trail_kms_key_arn=trail_kms_key_arn, log_retention_days=log_retention_days,
                configure_notification=configure_trail_bucket,
            )
            for warning in plan.warnings:
                err_console.print(Text("warning: ", style="yellow") + terminal_text(warning, 500), soft_wrap=True)
            console.print("Plan:")
            for number, step in enumerate(plan.describe(), 1):
                console.print(terminal_text(f"  {number}. {step}", 500), soft_wrap=True)
            if not yes:
                if not sys.stdin.isatty():
                    raise CommandError("not applied: pass --yes to apply the plan without a terminal to confirm on")
                typer.confirm("Apply this plan?", abort=True)
            outcome = execute(aws, plan, lambda line: err_console.print(terminal_text(line, 1000), soft_wrap=True),
                              _show_notification)
        except DeployError as exc:
            raise CommandError(str(exc)) from exc
        except (ClientError, BotoCoreError) as exc:
            raise CommandError(f"deploy failed: {exc}") from exc
    console.print(f"stack {stack_name}: {outcome.stack.status}")
    for name, value in sorted(outcome.stack.outputs.items()):
        console.print(terminal_text(f"  {name}: {value}", 500), soft_wrap=True)


def _content_key(path: Path) -> str:
    import hashlib

    from cloudwarden.deploy.package import content_key

    try:
        return content_key(hashlib.sha256(path.read_bytes()).hexdigest())
    except OSError as exc:
        raise CommandError(f"cannot read package {path}: {exc.strerror}") from exc


def _show_notification(change: NotificationChange) -> None:
    import json

    before = [q.get("Id", "?") for q in change.before.get("QueueConfigurations") or []]
    after = [q.get("Id", "?") for q in change.after.get("QueueConfigurations") or []]
    console.print(terminal_text(f"bucket {change.bucket} queue notifications: {before} -> {after}"))
    if change.needed:
        ours = change.after["QueueConfigurations"][-1]
        console.print(terminal_text("  adding " + json.dumps(ours), 1000), soft_wrap=True)
