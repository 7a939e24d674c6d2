"""``cloudwarden trail why FINDING-OR-RESOURCE``: the CloudTrail events that made a finding fail, or that changed a
resource; who, when, from which IP and with which user agent. Every value shown comes from a log, so the table
goes through terminal_text."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.table import Table

from cloudwarden.cli.common import CommandError, console
from cloudwarden.report.text import terminal_text

_SHOWN = (
    ("event_time", "time"),
    ("principal", "principal"),
    ("session_name", "session"),
    ("event_name", "event"),
    ("source_ip", "source IP"),
    ("user_agent", "user agent"),
    ("aws_region", "region"),
    ("event_id", "event id"),
)


def why(
    target: Annotated[
        str,
        typer.Argument(
            metavar="FINDING-OR-RESOURCE",
            help="A finding uid (finding_info.uid in cloudwarden's JSON output; needs --findings), or a resource id, "
            "name or ARN (sg-0123…, a bucket name, arn:aws:iam::…:user/bob).",
        ),
    ],
    store: Annotated[
        Path | None,
        typer.Option("--store", help="Trail store file (default: $XDG_DATA_HOME/cloudwarden/trail.duckdb)."),
    ] = None,
    findings: Annotated[
        Path | None,
        typer.Option(
            "--findings",
            metavar="FILE",
            help="A cloudwarden JSON output (cloudwarden-findings.ocsf.json) to look the finding uid up in.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table.")] = False,
    limit: Annotated[int, typer.Option("--limit", min=0, help="At most this many events (0: no limit).")] = 20,
) -> None:
    """Who made it so: the events that introduced a FAIL finding, or that changed a resource (newest first)."""
    import duckdb

    from cloudwarden.trail.causes import CausesError
    from cloudwarden.trail.causes import why as explain
    from cloudwarden.trail.store import StoreError, TrailStore, default_store_path

    try:
        with TrailStore(store or default_store_path(), read_only=True) as trail_store:
            answer = explain(trail_store, target, findings, limit)
    except (StoreError, CausesError) as exc:
        raise CommandError(str(exc)) from exc
    except duckdb.Error as exc:
        raise CommandError(f"query failed: {exc}") from exc
    if as_json:
        out = sys.stdout.buffer
        out.write(b"".join(orjson.dumps(c.to_dict(), option=orjson.OPT_APPEND_NEWLINE) for c in answer.causes))
        out.flush()
        return
    if answer.finding is not None:
        f = answer.finding
        title = f"why: {f.rule_id} on {f.resource_arn or f.resource_id} ({f.account_id} {f.region})"
    else:
        title = f"why: changes to {answer.target}"
    table = Table(title=terminal_text(title, 300), title_justify="left")
    for _, header in _SHOWN:
        table.add_column(header, overflow="fold")
    for cause in answer.causes:
        row = cause.to_dict()
        table.add_row(*(terminal_text(str(row[name] or ""), 300) for name, _ in _SHOWN))
    console.print(table)
    if answer.causes:
        console.print(f"{len(answer.causes)} events")
    elif answer.finding is not None:
        console.print("no causing event in the trail store (not ingested yet, or made before the trail began)")
    else:
        console.print("no change event names this resource in the trail store")
