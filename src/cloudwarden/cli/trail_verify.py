"""``cloudwarden trail verify SOURCE``: prove CloudTrail log files whole, like ``aws cloudtrail validate-logs``.

Exit codes: 0 every digest and log file verified (log files newer than the newest digest are reported as
pending and do not count against it); 4 tampering or a gap was found (a modified, deleted or uncovered log
file, an invalid or unverifiable digest signature, a broken or interrupted digest chain, a moved or malformed
digest); 1 verification could not run (unreadable source, no public key source, nothing to verify);
2 usage error.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.text import Text

from cloudwarden.cli.common import CommandError, aws_context, console
from cloudwarden.cli.options import EndpointUrl, Profile
from cloudwarden.report.text import terminal_text
from cloudwarden.trail.digest import INTACT, KeyRing, Report, StaticKeyRing, Status, Window, parse_time, verify_trail
from cloudwarden.trail.digest_sources import (
    CloudTrailKeyRing,
    LocalDigestStore,
    S3DigestStore,
    SourceError,
    read_key_files,
)
from cloudwarden.trail.sources import parse_s3_url

EXIT_TAMPERED = 4
_LABEL = {status: status.value.upper() if status not in INTACT else status.value for status in Status}


def verify(
    source: Annotated[
        str, typer.Argument(metavar="SOURCE", help="A folder laid out as CloudTrail delivers, or s3://bucket/prefix.")
    ],
    start_time: Annotated[
        str | None,
        typer.Option("--start-time", metavar="TIME", help="Only digests and log files from this UTC time (ISO 8601)."),
    ] = None,
    end_time: Annotated[
        str | None,
        typer.Option("--end-time", metavar="TIME", help="Only digests and log files up to this UTC time (ISO 8601)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line, then a summary object.")] = False,
    public_key: Annotated[
        list[Path] | None,
        typer.Option(
            "--public-key",
            metavar="FILE",
            help="CloudTrail public key (PEM or DER); repeatable. Makes no ListPublicKeys call.",
        ),
    ] = None,
    public_keys_dir: Annotated[
        Path | None, typer.Option("--public-keys-dir", metavar="DIR", help="A folder of public key files (PEM or DER).")
    ] = None,
    profile: Profile = None,
    endpoint_url: EndpointUrl = None,
) -> None:
    """Verify CloudTrail digest signatures, the digest chain and every log file's SHA-256."""
    window = Window(_time(start_time, "--start-time"), _time(end_time, "--end-time"))
    if window.start and window.end and window.start > window.end:
        raise typer.BadParameter("must not be after --end-time", param_hint="--start-time")
    try:
        given = read_key_files([*(public_key or []), *([public_keys_dir] if public_keys_dir else [])])
        if source.startswith("s3://"):
            try:
                bucket, prefix = parse_s3_url(source)
            except ValueError as exc:
                raise typer.BadParameter(str(exc), param_hint="SOURCE") from exc
            aws = aws_context(profile, None, endpoint_url, None)
            store: LocalDigestStore | S3DigestStore = S3DigestStore(aws.client("s3"), bucket, prefix)
            keys: KeyRing = StaticKeyRing(given) if given else CloudTrailKeyRing(aws)
        else:
            store = LocalDigestStore(Path(source))
            keys = (
                StaticKeyRing(given)
                if given
                else CloudTrailKeyRing(lambda: aws_context(profile, None, endpoint_url, None))
            )
        report = verify_trail(store, keys, window)
    except SourceError as exc:
        raise CommandError(str(exc)) from exc
    if not report.results:
        raise CommandError(
            f"no CloudTrail digest or log files in {source}"
            + (" in that time window" if window.start or window.end else "")
        )
    if report.digests_read and report.digests_unsigned == report.digests_read:
        raise CommandError(
            f"none of the {report.digests_read} digest files has a signature: S3 keeps it in the object metadata "
            "(x-amz-meta-signature); in a folder, put it in <digest>.json.gz.sig (see docs/trail-verify.md)"
        )
    if as_json:
        _print_json(report)
    else:
        _print_text(report)
    raise typer.Exit(0 if report.intact else EXIT_TAMPERED)


def _time(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_time(value)
    except ValueError as exc:
        raise typer.BadParameter(f"not an ISO 8601 time: {value!r}", param_hint=option) from exc


def _summary(report: Report, kind: str) -> dict[str, int]:
    counts = report.counts(kind)
    return {status.value: counts[status] for status in Status if counts[status]}


def _print_json(report: Report) -> None:
    for result in report.results:
        typer.echo(orjson.dumps(result.as_dict()).decode())
    summary = {
        "type": "summary",
        "digests": _summary(report, "digest"),
        "logs": _summary(report, "log"),
        "intact": report.intact,
    }
    typer.echo(orjson.dumps(summary).decode())


def _print_text(report: Report) -> None:
    for result in report.results:
        style = "green" if result.status is Status.VALID else "yellow" if result.status in INTACT else "bold red"
        line = Text(f"{result.kind:<7}") + Text(f"{_LABEL[result.status]:<18}", style=style)
        line += terminal_text(result.location, 1000)
        if result.reason:
            line += Text("  ") + terminal_text(result.reason, 1000, style="dim")
        console.print(line, soft_wrap=True)
    for kind, title in (("digest", "Digest files"), ("log", "Log files")):
        counts = _summary(report, kind)
        text = ", ".join(f"{count} {status}" for status, count in counts.items()) or "none"
        console.print(f"{title}: {text}", soft_wrap=True)
    if report.intact:
        console.print(Text("Every digest and log file verified.", style="green"))
    else:
        console.print(Text("Integrity problems found (exit 4).", style="bold red"))
