"""Where alerts go, chosen by spec (``--sink`` in ``watch``, ``CLOUDWARDEN_SINKS`` in the Lambda lanes).

* ``stdout``: JSON lines (in Lambda, CloudWatch Logs). At least once: a consumer de-duplicates on
  ``finding_info.uid``.
* ``file:PATH``: JSON lines appended to PATH; uids already in the file are not written again (idempotent).
* ``sns:TOPIC_ARN``, ``securityhub[:REGION]``, ``eventbridge:BUS_NAME_OR_ARN``: see
  :mod:`cloudwarden.detect.sinks_aws` (Security Hub and SNS FIFO topics are idempotent, a standard topic and
  EventBridge deliver at least once).

A sink that cannot deliver raises; the checkpoint outbox then keeps the alerts and the next drain sends them
again (to every sink, which is why a sink must tolerate an alert it has seen: idempotent, or at least once).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TextIO

import orjson

if TYPE_CHECKING:
    from cloudwarden.detect.sinks_aws import WriterContext


SINKS_ENV = "CLOUDWARDEN_SINKS"
SPECS = "stdout, file:PATH, sns:TOPIC_ARN, securityhub, securityhub:REGION or eventbridge:BUS_NAME_OR_ARN"


class SinkError(RuntimeError):
    """A sink's service rejected some alerts; they stay in the outbox for the next drain."""


class Sink(Protocol):
    name: str

    def send(self, alerts: Sequence[dict[str, Any]]) -> None: ...


Encoded = Sequence[tuple[str, bytes]]  # (alert uid, the alert as JSON), as the outbox keeps them
# Alerts tried one by one, after a sink refused their batch, that may all fail before the sink counts as down.
MAX_REFUSALS_BEFORE_ONE_TAKEN = 8


@dataclass(frozen=True)
class Rejected:
    """An alert a sink refused while it took others: its content is the problem, so it is set aside (the outbox
    records it as a dead letter) instead of holding back every alert after it."""

    uid: str
    sink: str
    reason: str


def deliver(sinks: Sequence[Sink], encoded: Encoded) -> list[Rejected]:
    """Send alerts kept as JSON (``(uid, json)`` pairs, as the outbox stores them) to every sink: sinks that write
    JSON lines take the stored bytes as they are (``send_encoded``), the others get the alerts decoded once.

    A sink that fails on the batch is tried alert by alert. Alerts it refuses while it takes others come back as
    :class:`Rejected` (an event an attacker shaped so that a service refuses its alert must not blind the lanes to
    everything after it); a sink that takes none of the first ``MAX_REFUSALS_BEFORE_ONE_TAKEN`` is down, and its
    error is raised so the outbox keeps every alert for the next drain."""
    decoded: dict[str, dict[str, Any]] = {}
    rejected: list[Rejected] = []
    for sink in sinks:
        if not hasattr(sink, "send_encoded") and not decoded:
            decoded = {uid: orjson.loads(data) for uid, data in encoded}
        send = _sender(sink, decoded)
        try:
            send(encoded)
        except Exception as failure:
            if len(encoded) == 1:
                raise
            rejected.extend(_one_by_one(sink, send, encoded, failure))
    return rejected


def _sender(sink: Sink, decoded: dict[str, dict[str, Any]]) -> Callable[[Encoded], None]:
    """How ``sink`` takes some of the encoded alerts: as they are, or decoded."""
    send_encoded = getattr(sink, "send_encoded", None)
    if send_encoded is not None:
        return send_encoded  # type: ignore[no-any-return]
    return lambda items: sink.send([decoded[uid] for uid, _ in items])


def _one_by_one(sink: Sink, send: Callable[[Encoded], None], encoded: Encoded, failure: Exception) -> list[Rejected]:
    """Send alert by alert after ``sink`` refused the batch: what it refuses while it takes others."""
    refused: list[Rejected] = []
    taken = 0
    for item in encoded:
        try:
            send([item])
        except Exception as exc:
            name = getattr(sink, "name", type(sink).__name__)
            refused.append(Rejected(item[0], name, f"{type(exc).__name__}: {exc}"[:1000]))
            if not taken and len(refused) >= MAX_REFUSALS_BEFORE_ONE_TAKEN:
                raise failure from exc
        else:
            taken += 1
    if not taken:
        raise failure
    return refused


class StreamSink:
    def __init__(self, stream: TextIO | None = None, name: str = "stdout") -> None:
        self.stream = stream
        self.name = name

    def send(self, alerts: Sequence[dict[str, Any]]) -> None:
        stream = self.stream or sys.stdout
        for alert in alerts:
            stream.write(orjson.dumps(alert, option=orjson.OPT_APPEND_NEWLINE).decode())
        stream.flush()

    def send_encoded(self, alerts: Sequence[tuple[str, bytes]]) -> None:
        stream = self.stream or sys.stdout
        stream.write("".join(data.decode() + "\n" for _, data in alerts))
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
        self.send_encoded([(alert["finding_info"]["uid"], orjson.dumps(alert)) for alert in alerts])

    def send_encoded(self, alerts: Sequence[tuple[str, bytes]]) -> None:
        """Append ``(uid, json)`` alerts whose uid the file does not hold yet, in one write and one fsync."""
        fresh: dict[str, bytes] = {}
        for uid, data in alerts:
            if uid not in self._written:
                fresh.setdefault(uid, data)
        if not fresh:
            return
        with self.path.open("ab") as handle:
            if handle.tell() and not _ends_with_newline(self.path):
                handle.write(b"\n")  # after a torn write, start the next alert on a line of its own
            handle.write(b"\n".join(fresh.values()))  # one copy of the alerts, not one per alert and one more
            handle.write(b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        self._written.update(fresh)


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"


def parse_sink(spec: str, writer: WriterContext | None = None) -> Sink:
    """The sink a spec names (see the module docstring); ValueError with the reason for a bad one. AWS sinks
    write through ``writer`` (default: a new one from the environment's credentials, created on first send)."""
    kind, _, target = spec.partition(":")
    if spec == "stdout":
        return StreamSink()
    if kind == "file" and target:
        return FileSink(Path(target))
    if kind in ("sns", "securityhub", "eventbridge"):
        from cloudwarden.detect.sinks_aws import EventBridgeSink, SecurityHubSink, SnsSink
        from cloudwarden.detect.sinks_aws import WriterContext as Writer

        writer = writer or Writer()
        if kind == "securityhub":
            return SecurityHubSink(target or None, writer)
        if not target:
            raise ValueError(f"{kind}: needs a target: {kind}:{'TOPIC_ARN' if kind == 'sns' else 'BUS_NAME_OR_ARN'}")
        return SnsSink(target, writer) if kind == "sns" else EventBridgeSink(target, writer)
    raise ValueError(f"unknown sink {spec[:200]!r}: use {SPECS}")


def parse_sinks(specs: Iterable[str], writer: WriterContext | None = None) -> list[Sink]:
    """Every sink named, the AWS ones sharing one writer context (so one set of clients)."""
    if writer is None:
        from cloudwarden.detect.sinks_aws import WriterContext as Writer

        writer = Writer()
    return [parse_sink(spec, writer) for spec in specs]


def sinks_from_env(value: str | None = None) -> list[Sink]:
    """The sinks in ``CLOUDWARDEN_SINKS`` (or ``value``): comma-separated specs, default ``stdout``."""
    text = os.environ.get(SINKS_ENV, "stdout") if value is None else value
    return parse_sinks(spec.strip() for spec in text.split(",") if spec.strip()) or [StreamSink()]
