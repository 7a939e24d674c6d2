"""Alert sinks that write to AWS: an SNS topic, Security Hub, an EventBridge bus.

Naming a sink is the user's opt-in to that one write, so these sinks take their clients from an
:class:`~cloudwarden.aws.session.AwsContext` built with ``read_only=False`` (lazily, on the first delivery, and
shared by every AWS sink of one configuration: see :class:`WriterContext`).

Every failure raises (a botocore error, or :class:`~cloudwarden.detect.sinks.SinkError` for entries the service
rejected), so :meth:`Checkpoints.drain <cloudwarden.detect.checkpoints.Checkpoints.drain>` keeps the alerts in
the outbox and the next drain sends them again. What that means for each sink:

* Security Hub is idempotent: the finding's Id is the alert uid, so a re-import updates the same finding.
* An SNS FIFO topic is idempotent within SNS's 5-minute deduplication window (MessageDeduplicationId = alert uid).
* A standard SNS topic and an EventBridge bus deliver at least once: a consumer de-duplicates on
  ``finding_info.uid`` (also the SNS message attribute ``alert_uid``).

Messages are bounded to the services' limits (256 KB per SNS message and PutEvents entry, and per call for
batches), trimming the evidence when an alert would not fit (:mod:`cloudwarden.detect.sinks_limits`); an alert is
never dropped for its size.
"""

from __future__ import annotations

import hashlib
import re
import string
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from cloudwarden.detect.sinks import SinkError
from cloudwarden.detect.sinks_asff import alert_to_asff
from cloudwarden.detect.sinks_limits import fit_alert
from cloudwarden.findings.asff import BATCH_SIZE as SECURITY_HUB_BATCH

SNS_BATCH = 10
SNS_REQUEST_MAX = 256 * 1024  # one message, and the sum of a PublishBatch call's messages and attributes
SNS_ATTRIBUTES_MAX = 1024  # our attributes' share of that (names, types and values, bounded below)
SNS_ID_MAX = 128  # MessageDeduplicationId and MessageGroupId
EVENTS_BATCH = 10
EVENTS_REQUEST_MAX = 256 * 1024 - 1  # "less than 256 KB", per entry and for all entries of one call
SOURCE = "cloudwarden"
DETAIL_TYPE = "cloudwarden Detection Finding"
ATTRIBUTE_VALUE_MAX = 256

_PARTITION = r"aws(?:-[a-z]+)*"
_REGION = r"[a-z]{2}(?:-[a-z]+)+-\d{1,2}"
REGION_PATTERN = re.compile(_REGION)
SNS_TOPIC_ARN = re.compile(rf"arn:{_PARTITION}:sns:({_REGION}):\d{{12}}:[A-Za-z0-9_-]{{1,256}}(?:\.fifo)?")
EVENT_BUS_NAME = re.compile(r"[/.\-_A-Za-z0-9]{1,256}")
EVENT_BUS_ARN = re.compile(rf"arn:{_PARTITION}:events:({_REGION}):\d{{12}}:event-bus/[/.\-_A-Za-z0-9]{{1,256}}")
_SNS_ID_CHARS = frozenset(string.ascii_letters + string.digits + string.punctuation)


class WriterContext:
    """The AwsContext that AWS sinks write through, created on first use from ``factory`` (default: the
    environment's credentials and ``AWS_ENDPOINT_URL``, as in Lambda), with ``read_only=False``."""

    def __init__(self, factory: Callable[[], Any] | None = None) -> None:
        self._factory = factory or _default_writer
        self._context: Any = None

    @property
    def context(self) -> Any:
        if self._context is None:
            self._context = self._factory()
        return self._context

    def client(self, service: str, region: str | None = None) -> Any:
        return self.context.client(service, region)


def _default_writer() -> Any:
    from cloudwarden.aws.session import AwsContext

    return AwsContext.create(read_only=False)


class SnsSink:
    """``sns:TOPIC_ARN``: PublishBatch of the alert JSON, 10 messages per call, with the message attributes
    ``severity``, ``rule_uid`` and ``alert_uid`` for subscription filter policies. A ``.fifo`` topic gets
    MessageDeduplicationId = alert uid (its SHA-256 when longer than 128 characters or not printable ASCII) and
    MessageGroupId = rule uid, so one rule's alerts stay in order."""

    def __init__(self, topic_arn: str, writer: WriterContext) -> None:
        match = SNS_TOPIC_ARN.fullmatch(topic_arn)
        if match is None:
            raise ValueError(
                f"sns:{topic_arn[:200]!r} does not name an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)"
            )
        self.topic_arn = topic_arn
        self.region = match.group(1)
        self.fifo = topic_arn.endswith(".fifo")
        self.writer = writer
        self.name = f"sns:{topic_arn}"

    def entries(self, alerts: Sequence[dict[str, Any]]) -> list[tuple[dict[str, Any], int]]:
        """Each alert as a PublishBatch entry (without Id), with its size as SNS counts it."""
        out = []
        for alert in alerts:
            info = alert.get("finding_info") or {}
            uid, rule = str(info.get("uid", "")), str((info.get("analytic") or {}).get("uid", ""))
            attributes = {
                "severity": _string_attribute(alert.get("severity")),
                "rule_uid": _string_attribute(rule),
                "alert_uid": _string_attribute(uid),
            }
            attributes_size = sum(len(k) + len("String") + len(v["StringValue"].encode()) for k, v in
                                  attributes.items())
            message = fit_alert(alert, SNS_REQUEST_MAX - SNS_ATTRIBUTES_MAX).decode()
            entry: dict[str, Any] = {"Message": message, "MessageAttributes": attributes}
            if self.fifo:
                entry["MessageDeduplicationId"] = sns_id(uid)
                entry["MessageGroupId"] = sns_id(rule or "cloudwarden")
            out.append((entry, len(message.encode()) + attributes_size))
        return out

    def send(self, alerts: Sequence[dict[str, Any]]) -> None:
        if not alerts:
            return
        sns = self.writer.client("sns", self.region)
        for batch in _packed(self.entries(alerts), SNS_BATCH, SNS_REQUEST_MAX):
            entries = [{"Id": str(i), **entry} for i, entry in enumerate(batch)]
            response = sns.publish_batch(TopicArn=self.topic_arn, PublishBatchRequestEntries=entries)
            failed = response.get("Failed") or []
            if failed:
                raise SinkError(f"{self.name}: {len(failed)} of {len(entries)} messages rejected: "
                                + _reasons(failed, "Code", "Message"))


class SecurityHubSink:
    """``securityhub`` or ``securityhub:REGION``: BatchImportFindings of each alert as ASFF (100 per call) into
    the account's default product in REGION (default: the session's region)."""

    def __init__(self, region: str | None, writer: WriterContext) -> None:
        if region is not None and not REGION_PATTERN.fullmatch(region):
            raise ValueError(f"securityhub:{region[:200]!r}: not a region name (e.g. securityhub:eu-west-1)")
        self.region = region
        self.writer = writer
        self.name = f"securityhub:{region}" if region else "securityhub"
        self._identity: tuple[str, str] | None = None

    def findings(self, alerts: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        account, partition = self._account()
        region = self.region or self.writer.context.default_region
        return [alert_to_asff(alert, account, partition, region) for alert in alerts]

    def send(self, alerts: Sequence[dict[str, Any]]) -> None:
        if not alerts:
            return
        region = self.region or self.writer.context.default_region
        hub = self.writer.client("securityhub", region)
        findings = self.findings(alerts)
        for start in range(0, len(findings), SECURITY_HUB_BATCH):
            batch = findings[start : start + SECURITY_HUB_BATCH]
            response = hub.batch_import_findings(Findings=batch)
            failed = response.get("FailedFindings") or []
            if int(response.get("FailedCount", 0)) or failed:
                raise SinkError(f"{self.name}: {response.get('FailedCount', len(failed))} of {len(batch)} findings "
                                "rejected: " + _reasons(failed, "ErrorCode", "ErrorMessage"))

    def _account(self) -> tuple[str, str]:
        if self._identity is None:
            arn = str(self.writer.client("sts").get_caller_identity()["Arn"])
            parts = arn.split(":")
            self._identity = (parts[4] if len(parts) > 4 else "", parts[1] if len(parts) > 1 else "aws")
        return self._identity


class EventBridgeSink:
    """``eventbridge:BUS_NAME_OR_ARN``: PutEvents with Source ``cloudwarden``, DetailType ``cloudwarden Detection
    Finding`` and the alert as Detail, 10 entries per call; a rule matching ``{"source": ["cloudwarden"]}``
    routes them. A bus ARN selects its region; a bus name uses the session's region."""

    def __init__(self, bus: str, writer: WriterContext) -> None:
        arn = EVENT_BUS_ARN.fullmatch(bus)
        if bus.startswith("arn:") and arn is None:
            raise ValueError(
                f"eventbridge:{bus[:200]!r} is not an event bus ARN (arn:aws:events:REGION:ACCOUNT:event-bus/NAME)"
            )
        if arn is None and not EVENT_BUS_NAME.fullmatch(bus):
            raise ValueError(f"eventbridge:{bus[:200]!r}: a bus name is 1-256 of A-Z a-z 0-9 . - _ /")
        self.bus = bus
        self.region = arn.group(1) if arn else None
        self.writer = writer
        self.name = f"eventbridge:{bus}"

    def entries(self, alerts: Sequence[dict[str, Any]]) -> list[tuple[dict[str, Any], int]]:
        """Each alert as a PutEvents entry, with its size as EventBridge counts it (Source, DetailType, Detail)."""
        fixed = len(SOURCE) + len(DETAIL_TYPE)
        out = []
        for alert in alerts:
            detail = fit_alert(alert, EVENTS_REQUEST_MAX - fixed).decode()
            entry = {"Source": SOURCE, "DetailType": DETAIL_TYPE, "Detail": detail, "EventBusName": self.bus}
            out.append((entry, fixed + len(detail.encode())))
        return out

    def send(self, alerts: Sequence[dict[str, Any]]) -> None:
        if not alerts:
            return
        events = self.writer.client("events", self.region)
        for batch in _packed(self.entries(alerts), EVENTS_BATCH, EVENTS_REQUEST_MAX):
            response = events.put_events(Entries=batch)
            if int(response.get("FailedEntryCount", 0)):
                failed = [e for e in response.get("Entries") or [] if e.get("ErrorCode")]
                raise SinkError(f"{self.name}: {response['FailedEntryCount']} of {len(batch)} events rejected: "
                                + _reasons(failed, "ErrorCode", "ErrorMessage"))


def sns_id(value: str) -> str:
    """``value`` as an SNS MessageDeduplicationId/MessageGroupId: itself when it is 1-128 printable ASCII
    characters, else its SHA-256 (hex), so the same value always gives the same id."""
    if 0 < len(value) <= SNS_ID_MAX and all(c in _SNS_ID_CHARS for c in value):
        return value
    return hashlib.sha256(value.encode(errors="surrogatepass")).hexdigest()


def _string_attribute(value: Any) -> dict[str, str]:
    # SNS rejects an empty attribute value; values come from the event (the alert uid holds its eventID).
    text = "".join(c for c in str(value or "") if c.isprintable())[:ATTRIBUTE_VALUE_MAX] or "unknown"
    return {"DataType": "String", "StringValue": text}


def _packed(entries: list[tuple[dict[str, Any], int]], count: int, size: int) -> Iterator[list[dict[str, Any]]]:
    """Consecutive batches of at most ``count`` entries whose sizes add up to at most ``size``."""
    batch: list[dict[str, Any]] = []
    total = 0
    for entry, entry_size in entries:
        if batch and (len(batch) == count or total + entry_size > size):
            yield batch
            batch, total = [], 0
        batch.append(entry)
        total += entry_size
    if batch:
        yield batch


def _reasons(failed: list[dict[str, Any]], code: str, message: str) -> str:
    reasons = [f"{f.get(code)}: {str(f.get(message, ''))[:200]}" for f in failed[:3]]
    return "; ".join(reasons) or "no reason given"
