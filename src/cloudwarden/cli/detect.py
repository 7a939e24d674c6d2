"""``cloudwarden detect PATH…``: run the detection rules over CloudTrail log files (a historical hunt).

Exit codes: 0 no alert; 1 at least one alert; 2 usage error. Rules that could not be loaded and files that could
not be read are reported on standard error; the hunt goes on without them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer
from rich.table import Table
from rich.text import Text

from cloudwarden.cli.common import CommandError, console, err_console
from cloudwarden.cli.options import EndpointUrl, Profile
from cloudwarden.cli.trail import EngineName, From, ParquetDir, QueryEngine, Since, Store, To
from cloudwarden.report.text import terminal_text

if TYPE_CHECKING:
    from cloudwarden.detect.correlation import Correlator

EXIT_ALERTS = 1
# Records a correlation counts are held and correlated in eventTime order (files come region by region, not in
# time order); past this many, each batch is correlated as it fills (windows still span batches).
HUNT_CORRELATION_BATCH = 200_000


def detect(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="[PATH...]",
            help="CloudTrail log files (.json, .json.gz) or folders of them; none: hunt the trail store in SQL.",
        ),
    ] = None,
    rules: Annotated[
        list[Path] | None,
        typer.Option("--rules", metavar="PATH", help="More Sigma rule files or folders (repeatable)."),
    ] = None,
    no_bundled: Annotated[
        bool, typer.Option("--no-bundled", help="Only the rules given with --rules, not cloudwarden's own.")
    ] = False,
    since: Since = None,
    from_: From = None,
    to: To = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="OCSF Detection Findings (class 2004) as JSON lines instead of a table.")
    ] = False,
    store: Store = None,
    parquet: ParquetDir = None,
    engine: QueryEngine = EngineName.duckdb,
) -> None:
    """Run the bundled Sigma rules (and yours) over CloudTrail log files, or in SQL over the trail store (no PATH),
    and list the alerts."""
    from cloudwarden.detect.engine import Detector
    from cloudwarden.trail.queries import TimeWindow
    from cloudwarden.trail.sources import LocalSource

    try:
        window = TimeWindow.parse(since, from_, to)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    paths = paths or []
    if paths and (store is not None or parquet is not None):
        raise typer.BadParameter("give PATH… or --store/--parquet, not both", param_hint="--store/--parquet")
    missing = [str(p) for p in [*paths, *(rules or [])] if not p.exists()]
    if missing:
        raise CommandError(f"no such file or folder: {', '.join(missing)}")
    detector = Detector.load(rules or [], bundled=not no_bundled)
    _report_unloaded(detector)
    if not detector.rules:
        raise CommandError("no detection rules loaded")
    if not paths:
        _hunt_trail(detector, store, parquet, engine, window, as_json)
        return
    events = 0
    found = _Found(detector.correlator(), as_json)
    for path in paths:
        source = LocalSource(path)
        for log in source.list():
            parsed = source.read(log)
            if parsed.error is not None:
                err_console.print(
                    Text("bad file ", style="yellow") + terminal_text(f"{log.location}: {parsed.error}", 1000),
                    soft_wrap=True,
                )
                continue
            for record in parsed.records:
                if not _in_window(record, window):
                    continue
                events += 1
                found.add(record, detector.matches(record))
    found.correlate()
    if not as_json:
        _print_table(found.alerts)
        console.print(f"{len(found.alerts)} alerts from {events} events and {len(detector.rules)} rules.")
    if found.alerts:
        raise typer.Exit(EXIT_ALERTS)


def _hunt_trail(
    detector: Any, store: Path | None, parquet: Path | None, engine: EngineName, window: Any, as_json: bool
) -> None:
    """The hunt in SQL over the trail store or its Parquet layout (:mod:`cloudwarden.detect.sql_hunt`): the same
    alerts and exit codes as over log files; rules SQL cannot run exactly are reported, with the reason."""
    import duckdb

    from cloudwarden.cli.trail import _open_source
    from cloudwarden.detect.correlation import Correlator
    from cloudwarden.detect.sql_hunt import SQLHunt
    from cloudwarden.trail.engines import DuckDBEngine, QueryError
    from cloudwarden.trail.store import TrailStore

    source = _open_source(store, engine, parquet)
    query_engine = DuckDBEngine.over_store(source) if isinstance(source, TrailStore) else source
    try:
        hunt = SQLHunt.prepare(query_engine, detector.rules)
        runnable = {compiled.rule.id for compiled in hunt.rules}
        correlations = [c for c in detector.correlations if all(rule.id in runnable for rule in c.rules)]
        skipped = [(p.source, p.reason) for p in hunt.problems] + [
            (c.header.source, f"{c.header.title}: a rule it correlates cannot run in SQL")
            for c in detector.correlations
            if c not in correlations
        ]
        for where, reason in skipped:
            err_console.print(
                Text("rule not run ", style="yellow") + terminal_text(f"{where}: {reason}", 1000), soft_wrap=True
            )
        found = _Found(Correlator(correlations) if correlations else None, as_json)
        for record, rules in hunt.matched_events(window):  # in event-time order, as the correlations need them
            found.add(record, rules)
        found.correlate()
    except (duckdb.Error, QueryError) as exc:
        raise CommandError(f"hunt failed: {exc}") from exc
    finally:
        query_engine.close()
        if isinstance(source, TrailStore):
            source.close()
    if not as_json:
        _print_table(found.alerts)
        console.print(f"{len(found.alerts)} alerts from the trail store and {len(hunt.rules)} rules run in SQL.")
    if found.alerts:
        raise typer.Exit(EXIT_ALERTS)


class _Found:
    """What a hunt found: the alerts of each matched event (printed as JSON lines at once with ``as_json``) and
    the correlations over the events their rules count, held and correlated in batches of
    HUNT_CORRELATION_BATCH (each sorted by eventTime; windows carry over between them)."""

    def __init__(self, correlator: Correlator | None, as_json: bool) -> None:
        from cloudwarden.detect.correlation import MemoryWindows

        self.correlator = correlator
        self.as_json = as_json
        self.alerts: list[dict[str, Any]] = []
        self.windows = MemoryWindows()
        self.held: list[tuple[Any, list[Any]]] = []

    def add(self, record: Any, rules: list[Any]) -> None:
        """``record`` and the rules it matches."""
        from cloudwarden.detect.alerts import alerts_for

        for alert in alerts_for(rules, record, "hunt"):
            self._emit(alert)
        if self.correlator is not None:
            counted = [rule for rule in rules if self.correlator.counts(rule)]
            if counted:
                self.held.append((record, counted))
                if len(self.held) >= HUNT_CORRELATION_BATCH:
                    self.correlate()

    def correlate(self) -> None:
        """Correlate the events held so far, adding the alerts they complete."""
        if self.correlator is None:
            return
        run = self.correlator.run_matched(self.held, self.windows, "hunt")
        self.held = []
        self.windows.apply(run.changes)
        if run.untimed:
            err_console.print(
                Text("not correlated ", style="yellow")
                + terminal_text(f"{run.untimed} records a correlation rule counts have no readable eventTime", 200),
                soft_wrap=True,
            )
        for alert in run.alerts:
            self._emit(alert)

    def _emit(self, alert: dict[str, Any]) -> None:
        self.alerts.append(alert)
        if self.as_json:
            typer.echo(orjson.dumps(alert).decode())


def _report_unloaded(detector: Any) -> None:
    for problem in detector.problems:
        err_console.print(
            Text("rule not loaded ", style="yellow") + terminal_text(f"{problem.source}: {problem.reason}", 1000),
            soft_wrap=True,
        )


def _in_window(record: Any, window: Any) -> bool:
    if window.start is None and window.end is None:
        return True
    from cloudwarden.trail.queries import parse_time

    text = record.get("eventTime") if type(record) is dict else None
    if type(text) is not str:
        return False
    try:
        when = parse_time(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return (window.start is None or when >= window.start) and (window.end is None or when < window.end)


def _print_table(alerts: list[dict[str, Any]]) -> None:
    if not alerts:
        return
    table = Table(title="Alerts", show_lines=False)
    for column in ("time", "level", "rule", "who", "call", "source IP"):
        table.add_column(column)
    for alert in sorted(alerts, key=lambda a: a["time"]):
        event = alert["evidences"][0]["data"]
        who = alert["actor"]["user"]["uid"] or alert["actor"]["invoked_by"] or ""
        table.add_row(
            terminal_text(str(event.get("eventTime")), 40),
            alert["severity"],
            terminal_text(alert["finding_info"]["title"], 120),
            terminal_text(who, 120),
            terminal_text(f"{event.get('eventSource')}:{event.get('eventName')}", 120),
            terminal_text(str(alert["src_endpoint"]["ip"] or ""), 60),
        )
    console.print(table)


def default_checkpoints_path() -> Path:
    """``$XDG_DATA_HOME/cloudwarden/detect-checkpoints.sqlite`` (else under ``~/.local/share``)."""
    from cloudwarden.trail.store import default_store_path

    return default_store_path().parent / "detect-checkpoints.sqlite"


def watch(
    bucket: Annotated[str, typer.Option("--bucket", help="The bucket CloudTrail delivers to.")],
    prefix: Annotated[str, typer.Option("--prefix", help="Only keys under this prefix (e.g. AWSLogs/).")] = "",
    interval: Annotated[
        int, typer.Option("--interval", min=5, max=3600, help="Seconds between listings of the bucket.")
    ] = 60,
    once: Annotated[bool, typer.Option("--once", help="Evaluate what is there now, then stop.")] = False,
    checkpoints: Annotated[
        Path | None,
        typer.Option(
            "--checkpoints",
            metavar="FILE",
            help="Where evaluated files and raised alerts are remembered, so a restart loses and repeats nothing "
            "(default: $XDG_DATA_HOME/cloudwarden/detect-checkpoints.sqlite).",
        ),
    ] = None,
    sinks: Annotated[
        list[str] | None,
        typer.Option(
            "--sink",
            metavar="SPEC",
            help="Where alerts go (repeatable): stdout (default) or file:PATH (JSON lines); sns:TOPIC_ARN (the "
            "alert JSON, attributes severity/rule_uid/alert_uid); securityhub or securityhub:REGION (ASFF, "
            "re-import updates); eventbridge:BUS_NAME_OR_ARN (PutEvents, source cloudwarden). AWS sinks write "
            "with --profile/--endpoint-url; alerts a sink could not take are kept and sent again.",
        ),
    ] = None,
    rules: Annotated[
        list[Path] | None,
        typer.Option("--rules", metavar="PATH", help="More Sigma rule files or folders (repeatable)."),
    ] = None,
    no_bundled: Annotated[
        bool, typer.Option("--no-bundled", help="Only the rules given with --rules, not cloudwarden's own.")
    ] = False,
    settle_every: Annotated[
        int,
        typer.Option(
            "--settle-every",
            min=1,
            max=1_000_000,
            metavar="RECORDS",
            help="Deliver alerts and checkpoint after about this many records (whole files). Lower: alerts "
            "leave sooner and a kill costs less work done again; higher: faster over a backlog.",
        ),
    ] = 10_000,
    profile: Profile = None,
    endpoint_url: EndpointUrl = None,
) -> None:
    """Watch a trail bucket and run the detection rules over each new log file as it lands (the slow lane,
    locally). Alerts are raised once per rule and event, across restarts."""
    import time

    from botocore.exceptions import BotoCoreError, ClientError

    from cloudwarden.aws.session import AwsContext
    from cloudwarden.cli.common import aws_context
    from cloudwarden.detect.checkpoints import Checkpoints
    from cloudwarden.detect.engine import Detector
    from cloudwarden.detect.lanes.slow import SlowLane
    from cloudwarden.detect.sinks import SinkError, parse_sinks
    from cloudwarden.detect.sinks_aws import WriterContext
    from cloudwarden.trail.sources import S3Source

    # A sink the user named is the opt-in to its write: only those sinks get a context that may write.
    writer = WriterContext(lambda: AwsContext.create(profile=profile, endpoint_url=endpoint_url, read_only=False))
    try:
        outputs = parse_sinks(sinks or ["stdout"], writer)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--sink") from exc
    detector = Detector.load(rules or [], bundled=not no_bundled)
    _report_unloaded(detector)
    aws = aws_context(profile, None, endpoint_url, None)
    source = S3Source(aws.client("s3"), bucket, prefix)
    with Checkpoints(checkpoints or default_checkpoints_path()) as store:
        lane = SlowLane(detector, store, outputs, group_records=settle_every)
        while True:
            try:
                outcomes = lane.process_all(source)
            except (SinkError, ClientError, BotoCoreError, OSError) as exc:
                # The alerts stay in the outbox (and files not yet evaluated stay new): the next round retries.
                pending = store.counts()["outbox"]
                message = f"delivery failed, {pending} alerts kept for the next try: {exc}"
                if once:
                    raise CommandError(terminal_text(message, 1000).plain) from exc
                err_console.print(Text("sink ", style="yellow") + terminal_text(message, 1000), soft_wrap=True)
                time.sleep(interval)
                continue
            new = [o for o in outcomes if not o.skipped]
            err_console.print(
                terminal_text(
                    f"{source.description}: {len(new)} new log files, {sum(o.events for o in new)} events, "
                    f"{sum(o.alerts for o in new)} alerts",
                    500,
                ),
                soft_wrap=True,
            )
            for outcome in new:
                if outcome.error:
                    err_console.print(
                        Text("bad file ", style="yellow") + terminal_text(f"{outcome.location}: {outcome.error}", 1000),
                        soft_wrap=True,
                    )
            if once:
                return
            time.sleep(interval)


def dead_letters(
    checkpoints: Annotated[
        str | None,
        typer.Option(
            "--checkpoints",
            metavar="FILE|dynamodb:TABLE",
            help="The checkpoint store: the SQLite file `watch` uses (default: "
            "$XDG_DATA_HOME/cloudwarden/detect-checkpoints.sqlite), or dynamodb:TABLE, the deployed lanes' table.",
        ),
    ] = None,
    redeliver: Annotated[
        bool,
        typer.Option(
            "--redeliver",
            help="Send every dead letter again to each --sink (to every sink: the idempotent ones skip what they "
            "hold); those refused again stay dead letters.",
        ),
    ] = False,
    sinks: Annotated[
        list[str] | None,
        typer.Option("--sink", metavar="SPEC", help="Where --redeliver sends (repeatable; specs as for `watch`)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per dead letter.")] = False,
    profile: Profile = None,
    endpoint_url: EndpointUrl = None,
) -> None:
    """List the alerts a sink refused while it took others (kept as dead letters with the reason), or send them
    again with --redeliver. Read-only unless --redeliver."""
    from botocore.exceptions import BotoCoreError, ClientError

    from cloudwarden.aws.session import AwsContext
    from cloudwarden.detect.checkpoints import DYNAMODB_PREFIX, Checkpoints, CheckpointStore
    from cloudwarden.detect.sinks import SinkError, parse_sinks
    from cloudwarden.detect.sinks_aws import WriterContext

    if redeliver and not sinks:
        raise typer.BadParameter("--redeliver needs at least one --sink", param_hint="--sink")
    if sinks and not redeliver:
        raise typer.BadParameter("--sink is for --redeliver", param_hint="--sink")
    outputs = []
    if redeliver:
        writer = WriterContext(lambda: AwsContext.create(profile=profile, endpoint_url=endpoint_url, read_only=False))
        try:
            outputs = parse_sinks(sinks or [], writer)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--sink") from exc
    spec = checkpoints or str(default_checkpoints_path())
    store: CheckpointStore
    if spec.startswith(DYNAMODB_PREFIX):
        from cloudwarden.detect.checkpoints_dynamodb import DynamoCheckpoints

        # Requeueing writes to the table: only then a context that may write.
        aws = AwsContext.create(profile=profile, endpoint_url=endpoint_url, read_only=not redeliver)
        store = DynamoCheckpoints(aws.client("dynamodb"), spec[len(DYNAMODB_PREFIX) :])
    else:
        if not Path(spec).is_file():
            raise CommandError(terminal_text(f"no checkpoint store at {spec}", 1000).plain)
        store = Checkpoints(Path(spec))
    try:
        letters = store.dead_letters()
        if not redeliver:
            _print_dead_letters(letters, as_json)
            return
        queued = store.requeue_dead_letters()
        try:
            sent = store.drain(outputs)
        except (SinkError, ClientError, BotoCoreError, OSError) as exc:
            pending = store.counts()["outbox"]
            raise CommandError(terminal_text(f"delivery failed, {pending} alerts kept for the next try: {exc}",
                                             1000).plain) from exc
        again = store.dead_letters()
        err_console.print(terminal_text(f"{queued} dead letters sent again: {sent} delivered, {len(again)} refused "
                                        "again (still dead letters)", 500), soft_wrap=True)
        if again:
            _print_dead_letters(again, as_json)
    except (ClientError, BotoCoreError) as exc:
        raise CommandError(terminal_text(f"checkpoint store {spec}: {exc}", 1000).plain) from exc
    finally:
        store.close()


def _print_dead_letters(letters: list[tuple[str, str, str]], as_json: bool) -> None:
    if as_json:
        for uid, sink, reason in letters:
            typer.echo(orjson.dumps({"uid": uid, "sink": sink, "reason": reason}).decode())
        return
    if not letters:
        err_console.print("no dead letters")
        return
    table = Table("alert uid", "sink", "reason")
    for uid, sink, reason in letters:
        table.add_row(terminal_text(uid, 300), terminal_text(sink, 200), terminal_text(reason, 500))
    console.print(table)
