"""``cloudwarden trail``: ingest CloudTrail logs into the trail store and ask it "what happened, and who did it?"."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from cloudwarden.cli.common import CommandError, console, err_console
from cloudwarden.cli.options import EndpointUrl, NoProgress, Profile
from cloudwarden.cli.trail_verify import verify
from cloudwarden.cli.trail_why import why
from cloudwarden.report.text import terminal_text

trail_app = typer.Typer(help="CloudTrail audit: what happened, and who did it?", no_args_is_help=True)
trail_app.command("verify")(verify)
trail_app.command("why")(why)

Store = Annotated[
    Path | None,
    typer.Option("--store", help="Trail store file (default: $XDG_DATA_HOME/cloudwarden/trail.duckdb)."),
]
Since = Annotated[str | None, typer.Option("--since", help="Only the last 30m, 24h, 7d, 2w…")]
From = Annotated[str | None, typer.Option("--from", help="Only events at or after this ISO date/time (UTC).")]
To = Annotated[str | None, typer.Option("--to", help="Only events before this ISO date/time (UTC).")]
Limit = Annotated[int, typer.Option("--limit", min=0, help="At most this many rows (0: no limit).")]
AsJson = Annotated[bool, typer.Option("--json", help="JSON lines instead of a table (streamed).")]


class EngineName(StrEnum):
    duckdb = "duckdb"
    spark = "spark"


QueryEngine = Annotated[
    EngineName,
    typer.Option(
        "--engine",
        help="Where the query runs: duckdb (embedded), or spark (a local Spark over the Parquet layout; needs "
        "--parquet, the spark extra of cloudwarden and a Java 17+ runtime).",
    ),
]
ParquetDir = Annotated[
    Path | None,
    typer.Option(
        "--parquet",
        metavar="DIR",
        help="Read the Parquet layout under DIR (written by `trail ingest --parquet DIR` or `trail export`) instead "
        "of the store.",
    ),
]


def _store_path(store: Path | None) -> Path:
    from cloudwarden.trail.store import default_store_path

    return store or default_store_path()


class IngestBar:
    """Files, events and MB/s on stderr."""

    def __init__(self, enabled: bool) -> None:
        self._progress = Progress(
            TextColumn("[bold]ingest"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("files {task.fields[events]:,} events {task.fields[rate]}"),
            TimeElapsedColumn(),
            console=err_console,
            disable=not enabled,
        )
        self._task: Any = None
        self._started = time.perf_counter()
        self._bytes = 0
        self._events = 0

    def planned(self, files: int, total_bytes: int) -> None:
        self._started = time.perf_counter()
        self._task = self._progress.add_task("ingest", total=files, events=0, rate="")

    def file_done(self, events: int, size: int) -> None:
        self._bytes += size
        self._events += events
        elapsed = max(time.perf_counter() - self._started, 1e-6)
        self._progress.update(
            self._task, advance=1, events=self._events, rate=f"{self._bytes / elapsed / 1e6:.1f} MB/s"
        )

    def __enter__(self) -> IngestBar:
        self._progress.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._progress.stop()


def _lookup_source(
    profile: str | None,
    endpoint_url: str | None,
    regions: list[str] | None,
    all_regions: bool,
    since: str | None,
    from_: str | None,
    to: str | None,
) -> Any:
    """The LookupEvents source for ``trail ingest --lookup`` (says so when the window was cut to 90 days)."""
    from botocore.exceptions import BotoCoreError, ClientError

    from cloudwarden.aws.regions import resolve_regions
    from cloudwarden.cli.common import aws_context, check_region_options
    from cloudwarden.trail.lookup import LookupSource, lookup_window
    from cloudwarden.trail.queries import TimeWindow

    check_region_options(regions, all_regions)
    now = datetime.now(UTC).replace(microsecond=0)
    try:
        window = TimeWindow.parse(since, from_, to, now=now.replace(tzinfo=None))
        chosen = lookup_window(window.start, window.end, now)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--since/--from/--to") from exc
    if chosen.notice:
        err_console.print(Text("note: ", style="yellow") + terminal_text(chosen.notice, 500), soft_wrap=True)
    aws = aws_context(profile, None, endpoint_url, regions[0] if regions else None)
    names = regions or [aws.default_region]
    if all_regions:
        names, warning = resolve_regions(aws, [])
        if warning:
            err_console.print(Text("warning: ", style="yellow") + terminal_text(warning, 500), soft_wrap=True)
    try:
        account = aws.account_id()
    except (ClientError, BotoCoreError) as exc:
        raise CommandError(f"cannot read the account id: {exc}") from exc
    return LookupSource(aws, account, names, chosen, now)


@trail_app.command("ingest")
def ingest_command(
    source: str | None = typer.Argument(
        None, help="A folder of CloudTrail logs, one log file, or s3://bucket/prefix (or --lookup instead)."
    ),
    lookup: bool = typer.Option(
        False,
        "--lookup",
        help="Instead of SOURCE: read management events of the last 90 days (at most) through CloudTrail's "
        "LookupEvents API, no bucket needed. Default window: all 90 days; narrow it with --since/--from/--to.",
    ),
    regions: list[str] | None = typer.Option(
        None, "--region", help="With --lookup: a region to read; repeat for several. Default: the profile's region."
    ),
    all_regions: bool = typer.Option(
        False, "--all-regions", help="With --lookup: read every region enabled for the account."
    ),
    since: Since = None,
    from_: From = None,
    to: To = None,
    store: Store = None,
    profile: Profile = None,
    endpoint_url: EndpointUrl = None,
    max_file_mb: int = typer.Option(
        64, "--max-file-mb", min=1, help="Report (do not read) files larger than this, decompressed."
    ),
    workers: int | None = typer.Option(
        None,
        "--workers",
        min=1,
        max=64,
        help="Files downloaded and parsed at once (default: 8 for S3, 2 per region up to 8 for --lookup, 1 for a "
        "folder).",
    ),
    retry_bad: bool = typer.Option(False, "--retry-bad", help="Read again files reported bad by an earlier run."),
    parquet: Path | None = typer.Option(
        None,
        "--parquet",
        metavar="DIR",
        help="Also append the events this run adds to the Parquet layout under DIR (DIR/events/account=…/region=…/"
        "day=…/), which --engine spark reads.",
    ),
    no_progress: NoProgress = False,
) -> None:
    """Read CloudTrail log files (new or changed since the last run), or with --lookup the LookupEvents API, into
    the trail store."""
    from cloudwarden.trail.ingest import ingest
    from cloudwarden.trail.lookup import LookupAccessDenied
    from cloudwarden.trail.parquet import ParquetAppender, ParquetError, events_dir
    from cloudwarden.trail.sources import LocalSource, S3Source, TrailSource, parse_s3_url
    from cloudwarden.trail.store import StoreError, TrailStore

    trail_source: TrailSource
    if lookup == (source is not None):
        raise typer.BadParameter("give either SOURCE or --lookup", param_hint="SOURCE/--lookup")
    default_workers = 1
    if source is None:
        lookup_source = _lookup_source(profile, endpoint_url, regions, all_regions, since, from_, to)
        trail_source = lookup_source
        default_workers = min(8, 2 * len(lookup_source.regions))  # paced per region: more threads only wait
    elif since or from_ or to or regions or all_regions:
        raise typer.BadParameter("only with --lookup", param_hint="--since/--from/--to/--region/--all-regions")
    elif source.startswith("s3://"):
        try:
            bucket, prefix = parse_s3_url(source)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="SOURCE") from exc
        from cloudwarden.cli.common import aws_context

        aws = aws_context(profile, None, endpoint_url, None)
        trail_source = S3Source(aws.client("s3"), bucket, prefix)
        default_workers = 8
    else:
        path = Path(source)
        if not path.exists():
            raise CommandError(f"no such file or folder: {source}")
        trail_source = LocalSource(path)
    path = _store_path(store)
    try:
        with TrailStore(path) as trail_store, IngestBar(enabled=not no_progress) as bar:
            appender = ParquetAppender.start(trail_store, parquet) if parquet else None
            summary = ingest(
                trail_store,
                trail_source,
                max_bytes=max_file_mb * 1024 * 1024,
                workers=workers or default_workers,
                retry_bad=retry_bad,
                progress=bar,
            )
            appended = appender.finish() if appender else None
    except (StoreError, LookupAccessDenied, ParquetError) as exc:
        raise CommandError(str(exc)) from exc
    except Exception as exc:
        from botocore.exceptions import BotoCoreError, ClientError

        if isinstance(exc, ClientError | BotoCoreError):
            raise CommandError(f"cannot list {trail_source.description}: {exc}") from exc
        raise
    console.print(
        terminal_text(
            f"{summary.source} → {path}: {summary.files_read} files read, {summary.files_skipped} skipped (already "
            f"ingested), {len(summary.bad_files)} bad; {summary.events_added} events added, {summary.duplicates} "
            f"duplicates, {summary.bad_record_count} bad records; {summary.seconds:.1f}s",
            2000,
        ),
        soft_wrap=True,
    )
    if parquet and appended is not None:
        console.print(terminal_text(f"{appended} events appended to {events_dir(parquet)}", 2000), soft_wrap=True)
    for bad in summary.bad_files:
        err_console.print(
            Text("bad file ", style="yellow") + terminal_text(f"{bad.location}: {bad.reason}", 1000), soft_wrap=True
        )
    for records in summary.bad_records:
        err_console.print(
            Text("bad records ", style="yellow")
            + terminal_text(f"{records.location}: {records.count} skipped ({'; '.join(records.reasons)})", 1000),
            soft_wrap=True,
        )


def _window(since: str | None, from_: str | None, to: str | None) -> Any:
    from cloudwarden.trail.queries import TimeWindow

    try:
        return TimeWindow.parse(since, from_, to)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--since/--from/--to") from exc


def _open_read_only(store: Path | None) -> Any:
    from cloudwarden.trail.store import StoreError, TrailStore

    try:
        return TrailStore(_store_path(store), read_only=True)
    except StoreError as exc:
        raise CommandError(str(exc)) from exc


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%SZ")
    return str(value)


def _emit(title: str, result: tuple[list[str], Any], as_json: bool) -> None:
    columns, batches = result
    if as_json:
        out = sys.stdout.buffer
        for batch in batches:
            out.write(
                b"".join(
                    orjson.dumps(
                        dict(zip(columns, row, strict=True)),
                        default=str,
                        option=orjson.OPT_APPEND_NEWLINE | orjson.OPT_NAIVE_UTC,
                    )
                    for row in batch
                )
            )
        out.flush()
        return
    table = Table(title=terminal_text(title, 300), title_justify="left")
    for column in columns:
        table.add_column(terminal_text(column, 100), overflow="fold")
    count = 0
    for batch in batches:
        for row in batch:
            table.add_row(*(terminal_text(_cell(value), 300) for value in row))
            count += 1
    console.print(table)
    console.print(f"{count} rows")


def _open_source(store: Path | None, engine: EngineName, parquet: Path | None) -> Any:
    """The read-only store, or an engine over the Parquet layout."""
    if parquet is None:
        if engine is EngineName.spark:
            raise typer.BadParameter(
                "Spark reads the Parquet layout: add --parquet DIR (write it with `trail ingest SOURCE --parquet DIR` "
                "or `trail export --parquet DIR`)",
                param_hint="--engine",
            )
        return _open_read_only(store)
    if store is not None:
        raise typer.BadParameter("give --store or --parquet, not both", param_hint="--store/--parquet")
    from cloudwarden.trail.engines import DuckDBEngine, EngineUnavailable, SparkEngine
    from cloudwarden.trail.parquet import ParquetError

    try:
        return SparkEngine.open(parquet) if engine is EngineName.spark else DuckDBEngine.over_parquet(parquet)
    except (ParquetError, EngineUnavailable) as exc:
        raise CommandError(str(exc)) from exc


def _query(
    store: Path | None,
    title: str,
    as_json: bool,
    run: Any,
    engine: EngineName = EngineName.duckdb,
    parquet: Path | None = None,
) -> None:
    import duckdb

    from cloudwarden.trail.engines import QueryError

    source = _open_source(store, engine, parquet)
    try:
        _emit(title, run(source), as_json)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    except (duckdb.Error, QueryError) as exc:
        raise CommandError(f"query failed: {exc}") from exc
    finally:
        source.close()


@trail_app.command("who")
def who_command(
    action: str = typer.Option(..., "--action", help="service:EventName, e.g. iam:AttachUserPolicy (* = any)."),
    store: Store = None,
    since: Since = None,
    from_: From = None,
    to: To = None,
    limit: Limit = 200,
    as_json: AsJson = False,
    engine: QueryEngine = EngineName.duckdb,
    parquet: ParquetDir = None,
) -> None:
    """Who called an API action (newest first)."""
    from cloudwarden.trail.queries import who

    window = _window(since, from_, to)
    _query(store, f"who: {action}", as_json, lambda s: who(s, action, window, limit), engine, parquet)


@trail_app.command("what")
def what_command(
    principal: str = typer.Option(..., "--principal", help="User or role name, session name, ARN or access key id."),
    store: Store = None,
    since: Since = None,
    from_: From = None,
    to: To = None,
    limit: Limit = 200,
    as_json: AsJson = False,
    engine: QueryEngine = EngineName.duckdb,
    parquet: ParquetDir = None,
) -> None:
    """What a principal did (newest first)."""
    from cloudwarden.trail.queries import what

    window = _window(since, from_, to)
    _query(store, f"what: {principal}", as_json, lambda s: what(s, principal, window, limit), engine, parquet)


@trail_app.command("touched")
def touched_command(
    resource: str = typer.Option(
        ...,
        "--resource",
        help="ARN, bucket name, instance id… (found in request parameters, response elements or resources).",
    ),
    store: Store = None,
    since: Since = None,
    from_: From = None,
    to: To = None,
    limit: Limit = 200,
    as_json: AsJson = False,
    engine: QueryEngine = EngineName.duckdb,
    parquet: ParquetDir = None,
) -> None:
    """Which calls touched a resource (newest first)."""
    from cloudwarden.trail.queries import touched

    window = _window(since, from_, to)
    _query(store, f"touched: {resource}", as_json, lambda s: touched(s, resource, window, limit), engine, parquet)


@trail_app.command("errors")
def errors_command(
    code: str | None = typer.Option(
        None,
        "--code",
        help="Error code, e.g. AccessDenied (matches any code containing it, ignoring case). Default: every error.",
    ),
    store: Store = None,
    since: Since = None,
    from_: From = None,
    to: To = None,
    limit: Limit = 200,
    as_json: AsJson = False,
    engine: QueryEngine = EngineName.duckdb,
    parquet: ParquetDir = None,
) -> None:
    """Failed calls (newest first)."""
    from cloudwarden.trail.queries import errors

    window = _window(since, from_, to)
    _query(store, f"errors: {code or 'all'}", as_json, lambda s: errors(s, code, window, limit), engine, parquet)


@trail_app.command("timeline")
def timeline_command(
    principal: str = typer.Option(..., "--principal", help="User or role name, session name, ARN or access key id."),
    store: Store = None,
    since: Since = None,
    from_: From = None,
    to: To = None,
    limit: Limit = 200,
    as_json: AsJson = False,
    engine: QueryEngine = EngineName.duckdb,
    parquet: ParquetDir = None,
) -> None:
    """Everything a principal did, oldest first, with source IPs and user agents."""
    from cloudwarden.trail.queries import timeline

    window = _window(since, from_, to)
    _query(store, f"timeline: {principal}", as_json, lambda s: timeline(s, principal, window, limit), engine, parquet)


@trail_app.command("sql")
def sql_command(
    query: str = typer.Argument(
        ...,
        help="A SQL query over the tables events and ingested_files (with --parquet: the view events, plus its "
        "partition columns account, region and day).",
    ),
    store: Store = None,
    as_json: AsJson = False,
    engine: QueryEngine = EngineName.duckdb,
    parquet: ParquetDir = None,
) -> None:
    """Run any read-only SQL query against the trail store (opened read-only, no access to other files), or with
    --parquet against the Parquet layout. DuckDB reaches no file outside it; Spark SQL has no such sandbox (a query
    can call Java methods through reflect()), so use --engine spark only where you trust the machine and the user."""
    from cloudwarden.trail.queries import run_sql

    _query(store, "sql", as_json, lambda s: run_sql(s, query), engine, parquet)


@trail_app.command("export")
def export_command(
    parquet: Path = typer.Option(
        ..., "--parquet", metavar="DIR", help="Root of the Parquet layout (events under DIR/events/), created if new."
    ),
    store: Store = None,
) -> None:
    """Write the store's events to the Parquet layout under DIR (for --engine spark): all of them the first time,
    later only those not there yet (so it also repairs an interrupted `ingest --parquet`)."""
    from cloudwarden.trail.parquet import ParquetError, events_dir, export_events
    from cloudwarden.trail.store import StoreError, TrailStore

    path = _store_path(store)
    if not path.exists():
        raise CommandError(f"no trail store at {path}: run `cloudwarden trail ingest SOURCE` first")
    try:
        with TrailStore(path) as trail_store:
            written = export_events(trail_store, parquet)
    except (StoreError, ParquetError) as exc:
        raise CommandError(str(exc)) from exc
    console.print(terminal_text(f"{path} → {events_dir(parquet)}: {written} events written", 2000), soft_wrap=True)
