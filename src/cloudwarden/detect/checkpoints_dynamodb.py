"""Exactly-once bookkeeping for the deployed lanes, in one DynamoDB table both Lambda functions share.

The same contract as the SQLite :class:`~cloudwarden.detect.checkpoints.Checkpoints` (see its docstring), so the
fast lane, the slow lane and ``watch`` can each use either. Single-table design, key ``pk`` (S) + ``sk`` (S):

==========================  ==============  ==========================================================
``pk``                      ``sk``          what
==========================  ==============  ==========================================================
``seen#<uid>``              ``seen``        an alert uid ever raised (``expires``: TTL, 30 days)
``file#<location>``         ``file``        a log file fully evaluated (``version``, ``alerts``)
``outbox``                  ``<ms>#<uid>``  an alert not yet delivered (``payload``: zlib'd JSON)
``window#<rule>``           ``<group>``     a correlation window (``state``, ``last_time``, ``expires``)
==========================  ==============  ==========================================================

(a key part over :data:`MAX_KEY_CHARS` is replaced by its SHA-256: DynamoDB caps a sort key at 1 KB.)

:meth:`DynamoCheckpoints.record` writes with ``TransactWriteItems``: each new alert is a seen-mark put under
``attribute_not_exists(pk)`` plus its outbox item, so two lanes racing on one event raise it once (the loser's
transaction is cancelled with ``ConditionalCheckFailed`` on that mark; it retries without that alert). A file
with more than one transaction's worth (100 items, 4 MB) is written in several; alert pairs first, then window
rows, and the file's done-mark in the **last** one. Killed between two, the file is not done and is evaluated
again: its alerts already written are seen (dropped), its windows already written hold its events (the
correlator ignores an event id it holds), so nothing repeats and nothing is lost. botocore fills in the
transaction's ``ClientRequestToken``, so its own retry of a request that did commit is not a second write.

Concurrent slow-lane invocations may correlate the same group: each window row carries a revision and is written
only if it is still at the revision :meth:`~DynamoCheckpoints.load_windows` read, else the write raises
:class:`~cloudwarden.detect.checkpoints.WindowConflict` and the lane correlates that file again over the newer
state (a last-writer-wins window would silently lose the other invocation's events).

Bounds: an outbox item is kept under DynamoDB's 400 KB item limit (the alert compressed; an alert still too big
is cut by :func:`~cloudwarden.detect.sinks_limits.fit_alert`, as the message sinks do). A window's state that
would not fit loses its oldest evidence first (counts are kept). Window rows expire (TTL) 32 days after their
newest event, longer than any correlation's timespan (31 days) plus lateness: DynamoDB bounds windows by age
rather than by ``max_groups``, and each file loads only the groups its own events touch.
"""

from __future__ import annotations

import hashlib
import random
import time
import zlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import orjson
from botocore.exceptions import ClientError

from cloudwarden.detect.checkpoints import DYNAMODB_PREFIX, WindowConflict, log_rejected
from cloudwarden.detect.sinks_limits import fit_alert

TTL_ATTRIBUTE = "expires"
SEEN_TTL_SECONDS = 30 * 86_400  # a replay older than this alerts again; CloudTrail files are not replayed later
WINDOW_TTL_SECONDS = 32 * 86_400  # longest timespan (31 days) + lateness (1 hour), rounded up
MAX_TRANSACTION_ITEMS = 100
MAX_TRANSACTION_BYTES = 4_000_000  # DynamoDB's 4 MB, with room for the request's own JSON
MAX_ITEM_BYTES = 350_000  # under the 400 KB item limit, with room for keys and attribute names
MAX_KEY_CHARS = 512  # bytes up to 4 per character: under the 1 KB sort key and 2 KB partition key limits
MAX_CANCELLED_RETRIES = 8  # transaction conflicts (another writer on the same item) before giving up
BATCH_GET = 100  # BatchGetItem's most keys per call
BATCH_WRITE = 25  # BatchWriteItem's most requests per call
OUTBOX = "outbox"
DEAD_LETTERS = "dead"
# Cancellation reasons worth another try: another writer on one of the items, throttling; "None" marks the items
# that were fine. Anything else (a validation error, an item collection over its limit) fails at once.
RETRYABLE_REASONS = frozenset({"None", "TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded",
                               "RequestLimitExceeded"})
# The table's key, as CreateTable and CloudFormation both spell it (cloudwarden deploy creates the table).
KEY_SCHEMA = [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]
ATTRIBUTE_DEFINITIONS = [{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}]


class CheckpointStoreError(RuntimeError):
    """The table could not be read or written (missing, denied, or a transaction that kept conflicting)."""


def _key_part(text: str) -> str:
    if len(text) <= MAX_KEY_CHARS:
        return text
    return "sha256:" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def seen_key(uid: str) -> dict[str, Any]:
    return {"pk": {"S": f"seen#{_key_part(uid)}"}, "sk": {"S": "seen"}}


def file_key(location: str) -> dict[str, Any]:
    return {"pk": {"S": f"file#{_key_part(location)}"}, "sk": {"S": "file"}}


def window_key(rule: str, group: str) -> dict[str, Any]:
    return {"pk": {"S": f"window#{_key_part(rule)}"}, "sk": {"S": _key_part(group)}}


def outbox_payload(alert: dict[str, Any]) -> bytes:
    """The alert as compressed JSON that fits one item; cut to fit (evidence first) only when it must."""
    payload = zlib.compress(orjson.dumps(alert), 6)
    if len(payload) <= MAX_ITEM_BYTES:
        return payload
    return zlib.compress(fit_alert(alert, MAX_ITEM_BYTES), 6)


def window_state(state: bytes) -> bytes:
    """A window's state compressed to fit one item: the oldest evidence events dropped until it does (the
    window's counts, its ``events``, are kept)."""
    packed = zlib.compress(state, 6)
    if len(packed) <= MAX_ITEM_BYTES:
        return packed
    data = orjson.loads(state)
    evidence = data.get("evidence") or {}
    while evidence and len(packed) > MAX_ITEM_BYTES:
        evidence.pop(next(iter(evidence)))
        packed = zlib.compress(orjson.dumps(data), 6)
    events = data.get("events") or []
    while len(events) > 1 and len(packed) > MAX_ITEM_BYTES:  # values only a value_count keeps: halve the oldest
        del events[: len(events) // 2]
        packed = zlib.compress(orjson.dumps(data), 6)
    return packed


def _size(item: dict[str, Any]) -> int:
    """An item's size as DynamoDB counts it, near enough: names plus values."""
    total = 0
    for name, value in item.items():
        (kind, content), = value.items()
        total += len(name) + (len(content) if kind in ("S", "B") else 40)
    return total


class DynamoCheckpoints:
    """Checkpoints in the DynamoDB table ``table`` (created by ``cloudwarden deploy``: key ``pk`` + ``sk``, TTL on
    ``expires``), through ``client`` (a DynamoDB client that may write: the lane's own table). Any number of
    writers may share the table; each call is one or a few requests, nothing is cached between calls."""

    group_records = 0  # the slow lane settles one file at a time here (see settle)

    def __init__(self, client: Any, table: str) -> None:
        if not table:
            raise ValueError("a DynamoDB checkpoint store needs a table name")
        self.client = client
        self.table = table
        self._outbox_keys: dict[str, str] = {}  # uid -> outbox sort key, as the last pending() read them
        # (rule, group) -> the window's revision as load_windows() read it (0: none stored). A window is written
        # only if it is still at that revision: two slow-lane invocations on one group cannot lose each other's
        # events (the second gets WindowConflict and evaluates its file again).
        self._window_revs: dict[tuple[str, str], int] = {}

    @classmethod
    def from_spec(cls, spec: str, region: str | None = None) -> DynamoCheckpoints:
        """``dynamodb:<table>``, with a client from :class:`~cloudwarden.aws.session.AwsContext` (writes allowed,
        botocore's adaptive retries, ``AWS_ENDPOINT_URL`` honoured)."""
        from cloudwarden.aws.session import AwsContext

        if not spec.startswith(DYNAMODB_PREFIX):
            raise ValueError(f"not a DynamoDB checkpoint spec (dynamodb:<table>): {spec[:100]!r}")
        return cls(AwsContext.create(region=region, read_only=False).client("dynamodb"), spec[len(DYNAMODB_PREFIX):])

    def close(self) -> None:
        """Nothing to close (the client's connections are pooled); for the same ``with`` use as SQLite's."""

    def __enter__(self) -> DynamoCheckpoints:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _call(self, operation: str, **kwargs: Any) -> Any:
        try:
            return getattr(self.client, operation)(TableName=self.table, **kwargs)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise CheckpointStoreError(
                f"checkpoint table {self.table}: {operation} failed: {error.get('Code')}: {error.get('Message')}"
            ) from exc

    # -- files -------------------------------------------------------------------------------------------------

    def file_done(self, location: str, version: str) -> bool:
        item = self._call("get_item", Key=file_key(location), ConsistentRead=True).get("Item")
        return item is not None and item.get("version", {}).get("S") == version

    # -- recording ---------------------------------------------------------------------------------------------

    def record(
        self,
        alerts: Sequence[dict[str, Any]],
        location: str | None = None,
        version: str = "",
        windows: Sequence[tuple[str, str, int, bytes]] = (),
        max_groups: int = 10_000,
    ) -> int:
        """Keep the alerts not raised before (into the outbox), store the correlation ``windows`` rows and, with
        ``location``, mark that file done (its mark written last). Returns how many alerts were new.
        ``max_groups`` is accepted for the SQLite store's signature; here windows expire by age (module doc)."""
        return len(self._record(alerts, location, version, windows))

    def settle(
        self,
        alerts: Sequence[dict[str, Any]],
        files: Sequence[tuple[str, str, int]],
        windows: Sequence[tuple[str, str, int, bytes]],
        sinks: Sequence[Any],
        max_groups: int = 10_000,
    ) -> set[str]:
        """:meth:`record` then :meth:`drain`, for one file (``files`` holds one (location, version, alerts)): its
        done-mark must be the last write of its transactions. Returns the uids of the new alerts."""
        if len(files) != 1:
            raise ValueError(f"the DynamoDB store settles one file at a time, not {len(files)}")
        location, version, _ = files[0]
        new = self._record(alerts, location, version, windows)
        self.drain(sinks)
        return new

    def _record(self, alerts: Sequence[dict[str, Any]], location: str | None, version: str,
                windows: Sequence[tuple[str, str, int, bytes]]) -> set[str]:
        now = int(time.time())
        pairs: list[tuple[str, list[dict[str, Any]]]] = []
        queued: set[str] = set()
        for index, alert in enumerate(alerts):
            uid = str(alert["finding_info"]["uid"])
            if uid in queued:  # the same alert twice in one call: a transaction may not name an item twice
                continue
            queued.add(uid)
            # Milliseconds first: the outbox partition reads back oldest first.
            sort = f"{time.time_ns() // 1_000_000:015d}.{index:06d}#{_key_part(uid)}"
            seen = {**seen_key(uid), TTL_ATTRIBUTE: {"N": str(now + SEEN_TTL_SECONDS)}}
            queued_item = {"pk": {"S": OUTBOX}, "sk": {"S": sort}, "uid": {"S": uid},
                           "payload": {"B": outbox_payload(alert)}}
            pairs.append((uid, [
                {"Put": {"TableName": self.table, "Item": seen, "ConditionExpression": "attribute_not_exists(pk)"}},
                {"Put": {"TableName": self.table, "Item": queued_item}},
            ]))
        rows = []
        for rule, group, last, state in _last_per_group(windows):
            loaded = self._window_revs.get((rule, group))
            put: dict[str, Any] = {"TableName": self.table, "Item": {
                **window_key(rule, group), "grp": {"S": group}, "last_time": {"N": str(last)},
                "state": {"B": window_state(state)}, "rev": {"N": str((loaded or 0) + 1)},
                TTL_ATTRIBUTE: {"N": str(max(now, last // 1000) + WINDOW_TTL_SECONDS)}}}
            if loaded == 0:
                put["ConditionExpression"] = "attribute_not_exists(pk)"
            elif loaded is not None:
                put["ConditionExpression"] = "rev = :rev"
                put["ExpressionAttributeValues"] = {":rev": {"N": str(loaded)}}
            # (a window this store never read is written as given: a caller that did not load it owns it)
            rows.append({"Put": put})
        done = []
        if location is not None:
            done = [{"Put": {"TableName": self.table, "Item": {
                **file_key(location), "location": {"S": location[:4096]}, "version": {"S": version},
                "alerts": {"N": str(len(alerts))}}}}]
        new: set[str] = set()
        for chunk in _chunks(pairs, rows, done):
            new.update(self._write(chunk))
        self._window_revs.clear()  # read again with the next file's windows: memory stays one file's worth
        return new

    def _write(self, chunk: list[tuple[str | None, list[dict[str, Any]]]]) -> list[str]:
        """One transaction of ``chunk`` (alert pairs, with their uid, and single rows, uid None); alerts seen
        already are dropped and the rest tried again. Returns the uids of the alerts it wrote."""
        attempt = 0
        while True:
            items = [item for _, group in chunk for item in group]
            if not items:
                return []
            try:
                self.client.transact_write_items(TransactItems=items)
                return [uid for uid, _ in chunk if uid is not None]
            except ClientError as exc:
                error = exc.response.get("Error", {})
                if error.get("Code") != "TransactionCanceledException":
                    raise CheckpointStoreError(f"checkpoint table {self.table}: TransactWriteItems failed: "
                                               f"{error.get('Code')}: {error.get('Message')}") from exc
                reasons = [r.get("Code", "None") for r in exc.response.get("CancellationReasons", [])]
            dropped = _seen_already(chunk, reasons)
            if _window_changed(chunk, reasons):
                raise WindowConflict(f"checkpoint table {self.table}: a correlation window changed since it was "
                                     "read (another writer); evaluate again")
            if dropped:
                chunk = [entry for position, entry in enumerate(chunk) if position not in dropped]
                continue  # nothing else was wrong with it: no backoff
            attempt += 1
            if not set(reasons) <= RETRYABLE_REASONS or attempt > MAX_CANCELLED_RETRIES:
                raise CheckpointStoreError(f"checkpoint table {self.table}: transaction cancelled "
                                           f"{attempt} times: {sorted(set(reasons))}")
            # TransactionConflict (another writer on one of these items right now), ThrottlingError: back off.
            time.sleep(min(2.0, 0.05 * 2**attempt) * random.random())  # noqa: S311 (jitter, not a secret)

    def delivered(self, uids: Iterable[str]) -> None:
        keys = []
        for uid in uids:
            sort = self._outbox_keys.pop(uid, None)
            keys.extend([sort] if sort is not None else self._outbox_sorts(uid))
        self._batch_write([{"DeleteRequest": {"Key": {"pk": {"S": OUTBOX}, "sk": {"S": sort}}}} for sort in keys])

    def _batch_write(self, requests: list[dict[str, Any]]) -> None:
        """Every request written, BATCH_WRITE per call (BatchWriteItem refuses more), unprocessed ones retried."""
        for at in range(0, len(requests), BATCH_WRITE):
            self._batch_write_call(requests[at : at + BATCH_WRITE])

    def _batch_write_call(self, requests: list[dict[str, Any]]) -> None:
        for attempt in range(MAX_CANCELLED_RETRIES + 1):
            try:
                answer = self.client.batch_write_item(RequestItems={self.table: requests})
            except ClientError as exc:
                error = exc.response.get("Error", {})
                raise CheckpointStoreError(f"checkpoint table {self.table}: BatchWriteItem failed: "
                                           f"{error.get('Code')}: {error.get('Message')}") from exc
            requests = answer.get("UnprocessedItems", {}).get(self.table, [])
            if not requests:
                return
            time.sleep(min(2.0, 0.05 * 2**attempt) * random.random())  # noqa: S311 (jitter)
        raise CheckpointStoreError(f"checkpoint table {self.table}: {len(requests)} deletions left unprocessed")

    def _outbox_sorts(self, uid: str) -> list[str]:
        """The outbox sort keys of ``uid`` (a uid this store did not read itself: the outbox read whole)."""
        return [item["sk"]["S"] for item in self._query_outbox(None) if item["uid"]["S"] == uid]

    # -- the outbox --------------------------------------------------------------------------------------------

    def _query_outbox(self, limit: int | None) -> Iterator[dict[str, Any]]:
        kwargs: dict[str, Any] = {"KeyConditionExpression": "pk = :outbox",
                                  "ExpressionAttributeValues": {":outbox": {"S": OUTBOX}}, "ConsistentRead": True}
        read = 0
        while True:
            if limit is not None:
                kwargs["Limit"] = limit - read
            page = self._call("query", **kwargs)
            for item in page.get("Items", []):
                read += 1
                yield item
            if "LastEvaluatedKey" not in page or (limit is not None and read >= limit):
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def pending(self, limit: int = 500) -> list[tuple[str, dict[str, Any]]]:
        """Alerts not yet delivered, oldest first."""
        return [(uid, orjson.loads(data)) for uid, data in self._pending_json(limit)]

    def _pending_json(self, limit: int) -> list[tuple[str, bytes]]:
        found = []
        for item in self._query_outbox(limit):
            uid = item["uid"]["S"]
            self._outbox_keys[uid] = item["sk"]["S"]
            found.append((uid, zlib.decompress(item["payload"]["B"])))
        return found

    def drain(self, sinks: Sequence[Any]) -> int:
        """Deliver the outbox to every sink (each idempotent by uid), then forget it; returns alerts delivered.
        An alert a sink refuses while it takes others is kept as a dead letter (see
        :func:`~cloudwarden.detect.sinks.deliver`)."""
        from cloudwarden.detect.sinks import deliver

        total = 0
        while batch := self._pending_json(500):
            rejected = deliver(sinks, batch)
            if rejected:
                payloads = dict(batch)
                self._batch_write([{"PutRequest": {"Item": {
                    "pk": {"S": DEAD_LETTERS}, "sk": {"S": _key_part(f"{r.uid}\n{r.sink}")}, "uid": {"S": r.uid},
                    "sink": {"S": r.sink}, "reason": {"S": r.reason},
                    "payload": {"B": zlib.compress(payloads[r.uid])}}}} for r in rejected])  # fmt: skip
            self.delivered(uid for uid, _ in batch)
            log_rejected(rejected)
            total += len(batch) - len({r.uid for r in rejected})
        return total

    def dead_letters(self) -> list[tuple[str, str, str]]:
        """(uid, sink, reason) of each alert a sink refused while taking others; the alert is kept beside it."""
        found = []
        kwargs: dict[str, Any] = {"KeyConditionExpression": "pk = :dead",
                                  "ExpressionAttributeValues": {":dead": {"S": DEAD_LETTERS}}}
        while True:
            page = self._call("query", **kwargs)
            found += [(i["uid"]["S"], i["sink"]["S"], i["reason"]["S"]) for i in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return sorted(found)
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def requeue_dead_letters(self) -> int:
        """Put every dead letter back in the outbox (once per alert) for the next drain; returns how many alerts.
        Each is queued before its dead letter is deleted: killed in between, it is sent again, not lost."""
        kwargs: dict[str, Any] = {"KeyConditionExpression": "pk = :dead",
                                  "ExpressionAttributeValues": {":dead": {"S": DEAD_LETTERS}}}
        queued: set[str] = set()
        while True:
            page = self._call("query", **kwargs)
            items = page.get("Items", [])
            puts = []
            for index, item in enumerate(items):
                uid = item["uid"]["S"]
                if uid not in queued:
                    queued.add(uid)
                    sort = f"{time.time_ns() // 1_000_000:015d}.{index:06d}#{_key_part(uid)}"
                    puts.append({"PutRequest": {"Item": {"pk": {"S": OUTBOX}, "sk": {"S": sort}, "uid": {"S": uid},
                                                         "payload": item["payload"]}}})
            self._batch_write(puts)
            self._batch_write([{"DeleteRequest": {"Key": {"pk": item["pk"], "sk": item["sk"]}}} for item in items])
            if "LastEvaluatedKey" not in page:
                return len(queued)
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # -- correlation windows -----------------------------------------------------------------------------------

    def load_windows(self, rule: str, groups: Sequence[str]) -> dict[str, bytes]:
        """The stored window state of each of ``groups`` of correlation ``rule`` that has any."""
        found: dict[str, bytes] = {}
        wanted = list(dict.fromkeys(groups))
        self._window_revs.update(((rule, group), 0) for group in wanted)  # until read: none stored
        for at in range(0, len(wanted), BATCH_GET):
            keys = [window_key(rule, group) for group in wanted[at : at + BATCH_GET]]
            request: dict[str, Any] = {self.table: {"Keys": keys, "ConsistentRead": True}}
            for attempt in range(MAX_CANCELLED_RETRIES + 1):
                try:
                    answer = self.client.batch_get_item(RequestItems=request)
                except ClientError as exc:
                    error = exc.response.get("Error", {})
                    raise CheckpointStoreError(f"checkpoint table {self.table}: BatchGetItem failed: "
                                               f"{error.get('Code')}: {error.get('Message')}") from exc
                for item in answer.get("Responses", {}).get(self.table, []):
                    found[item["grp"]["S"]] = zlib.decompress(item["state"]["B"])
                    self._window_revs[(rule, item["grp"]["S"])] = int(item.get("rev", {}).get("N", "1"))
                request = answer.get("UnprocessedKeys") or {}
                if not request:
                    break
                time.sleep(min(2.0, 0.05 * 2**attempt) * random.random())  # noqa: S311 (jitter)
            else:
                raise CheckpointStoreError(f"checkpoint table {self.table}: window reads left unprocessed")
        return found

    def window_groups(self, rule: str) -> int:
        """How many group keys of correlation ``rule`` hold state (a paginated count: reads the rule's rows)."""
        return self._count(KeyConditionExpression="pk = :pk",
                           ExpressionAttributeValues={":pk": {"S": f"window#{_key_part(rule)}"}})

    def _count(self, operation: str = "query", **kwargs: Any) -> int:
        total = 0
        while True:
            page = self._call(operation, Select="COUNT", **kwargs)
            total += int(page.get("Count", 0))
            if "LastEvaluatedKey" not in page:
                return total
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def counts(self) -> dict[str, int]:
        """How many files are done, alerts were ever raised (within the seen-marks' 30 days), and alerts wait for
        delivery. A diagnostic: it scans the whole table (the lanes never call it)."""
        def prefixed(prefix: str) -> int:
            return self._count("scan", FilterExpression="begins_with(pk, :p)",
                               ExpressionAttributeValues={":p": {"S": prefix}})

        return {"files": prefixed("file#"), "seen": prefixed("seen#"), "outbox": self._count(
            KeyConditionExpression="pk = :outbox", ExpressionAttributeValues={":outbox": {"S": OUTBOX}})}


def _last_per_group(windows: Sequence[tuple[str, str, int, bytes]]) -> list[tuple[str, str, int, bytes]]:
    """One row per (rule, group), the last given: a transaction may not name an item twice."""
    return list({(_key_part(rule), _key_part(group)): (rule, group, last, state)
                 for rule, group, last, state in windows}.values())


def _chunks(pairs: list[tuple[str, list[dict[str, Any]]]], rows: list[dict[str, Any]],
            done: list[dict[str, Any]]) -> Iterator[list[tuple[str | None, list[dict[str, Any]]]]]:
    """Transactions within DynamoDB's limits: alert pairs, then window rows, then the done-mark, in that order,
    the done-mark in the last (the only one that is not idempotent to write again)."""
    entries: list[tuple[str | None, list[dict[str, Any]]]] = [
        *pairs, *((None, [row]) for row in rows), *((None, [row]) for row in done)]
    chunk: list[tuple[str | None, list[dict[str, Any]]]] = []
    items = size = 0
    for entry in entries:
        entry_size = sum(_size(item["Put"]["Item"]) for item in entry[1])
        if chunk and (items + len(entry[1]) > MAX_TRANSACTION_ITEMS or size + entry_size > MAX_TRANSACTION_BYTES):
            yield chunk
            chunk, items, size = [], 0, 0
        chunk.append(entry)
        items += len(entry[1])
        size += entry_size
    if chunk:
        yield chunk


def _window_changed(chunk: list[tuple[str | None, list[dict[str, Any]]]], reasons: list[str]) -> bool:
    """Whether a window row of ``chunk`` failed its revision condition."""
    if len(reasons) != sum(len(group) for _, group in chunk):
        return False
    at = 0
    for uid, group in chunk:
        is_window = group[0]["Put"]["Item"]["pk"]["S"].startswith("window#")
        if uid is None and is_window and reasons[at] == "ConditionalCheckFailed":
            return True
        at += len(group)
    return False


def _seen_already(chunk: list[tuple[str | None, list[dict[str, Any]]]], reasons: list[str]) -> set[int]:
    """Positions in ``chunk`` of the alerts whose seen-mark put failed its condition (raised before)."""
    if len(reasons) != sum(len(group) for _, group in chunk):
        return set()
    dropped, at = set(), 0
    for position, (uid, group) in enumerate(chunk):
        if uid is not None and reasons[at] == "ConditionalCheckFailed":
            dropped.add(position)
        at += len(group)
    return dropped
