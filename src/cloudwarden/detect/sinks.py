"""Where alerts go. Every sink is idempotent by alert uid, which turns the lanes' at-least-once delivery (after
a crash, the outbox is delivered again) into exactly one alert per rule and event.

* ``stdout``: JSON lines (in Lambda, CloudWatch Logs); a consumer de-duplicates on ``finding_info.uid``.
* ``file:PATH``: JSON lines appended to PATH; uids already in the file are not written again.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, TextIO

import orjson


class Sink(Protocol):
    name: str

    def send(self, alerts: Sequence[dict[str, Any]]) -> None: ...


class StreamSink:
    def __init__(self, stream: TextIO | None = None, name: str = "stdout") -> None:
        self.stream = stream
        self.name = name

    def send(self, alerts: Sequence[dict[str, Any]]) -> None:
        stream = self.stream or sys.stdout
        for alert in alerts:
            stream.write(orjson.dumps(alert, option=orjson.OPT_APPEND_NEWLINE).decode())
        stream.flush()


class FileSink:
    """Appends alerts as JSON lines, skipping any uid the file already holds (read once, when opened)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = f"file:{path}"
        self._written: set[str] = set()
        if path.exists():
            with path.open("rb") as handle:
                for line in handle:
                    try:
                        self._written.add(orjson.loads(line)["finding_info"]["uid"])
                    except (orjson.JSONDecodeError, KeyError, TypeError):
                        continue  # a line cut short by a crash: its alert is still in the outbox
        else:
            path.parent.mkdir(parents=True, exist_ok=True)

    def send(self, alerts: Sequence[dict[str, Any]]) -> None:
        fresh = [a for a in alerts if a["finding_info"]["uid"] not in self._written]
        if not fresh:
            return
        with self.path.open("ab") as handle:
            if handle.tell() and not _ends_with_newline(self.path):
                handle.write(b"\n")  # after a torn write, start the next alert on a line of its own
            for alert in fresh:
                handle.write(orjson.dumps(alert, option=orjson.OPT_APPEND_NEWLINE))
            handle.flush()
            os.fsync(handle.fileno())
        self._written.update(a["finding_info"]["uid"] for a in fresh)


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"


def parse_sink(spec: str) -> Sink:
    """``stdout`` or ``file:PATH``."""
    if spec == "stdout":
        return StreamSink()
    if spec.startswith("file:") and len(spec) > 5:
        return FileSink(Path(spec[5:]))
    raise ValueError(f"unknown sink {spec!r}: use stdout or file:PATH")
