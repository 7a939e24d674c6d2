"""The DynamoDB checkpoint store against the moto server (boto3 over loopback HTTP), and the exactly-once
properties both stores share, run over both."""

from __future__ import annotations

import gzip
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from cloudwarden.demo.emulator import EMULATOR_CREDENTIALS
from cloudwarden.detect.checkpoints import Checkpoints, CheckpointStore, WindowConflict, open_checkpoints
from cloudwarden.detect.checkpoints_dynamodb import (
    ATTRIBUTE_DEFINITIONS,
    KEY_SCHEMA,
    MAX_ITEM_BYTES,
    CheckpointStoreError,
    DynamoCheckpoints,
)
from cloudwarden.detect.engine import Detector
from cloudwarden.detect.lanes import fast
from cloudwarden.detect.lanes.slow import SlowLane, handle_notification
from cloudwarden.detect.sinks import MAX_REFUSALS_BEFORE_ONE_TAKEN, deliver
from tests.conftest import Emulated
from tests.trail.helpers import cloudtrail_key

TABLE = "cw-checkpoints"


def _alert(uid: str, size: int = 100) -> dict[str, Any]:
    return {"finding_info": {"uid": uid, "analytic": {"uid": uid.split(":")[0]}}, "message": "m",
            "unmapped": {}, "evidences": [{"data": {"eventID": uid, "requestParameters": "x" * size}}]}


class Collected:
    """A sink that keeps what it was sent (what the drain hands over is the property under test)."""

    def __init__(self) -> None:
        self.alerts: list[dict[str, Any]] = []

    def send(self, alerts: Any) -> None:
        self.alerts.extend(alerts)

    def uids(self) -> list[str]:
        return sorted(a["finding_info"]["uid"] for a in self.alerts)


def _dynamo_store(aws: Emulated) -> DynamoCheckpoints:
    return DynamoCheckpoints(aws.emulator.context(read_only=False).client("dynamodb"), TABLE)


@pytest.fixture
def table(aws: Emulated) -> Emulated:
    aws.client("dynamodb").create_table(TableName=TABLE, KeySchema=KEY_SCHEMA,
                                        AttributeDefinitions=ATTRIBUTE_DEFINITIONS, BillingMode="PAY_PER_REQUEST")
    return aws


@pytest.fixture(params=["sqlite", "dynamodb"])
def new_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], CheckpointStore]]:
    """Opens a new store object over the same state each call (a restarted process, or another lane)."""
    opened: list[CheckpointStore] = []
    if request.param == "sqlite":
        def make() -> CheckpointStore:
            opened.append(Checkpoints(tmp_path / "checkpoints.sqlite"))
            return opened[-1]
    else:
        aws = request.getfixturevalue("table")

        def make() -> CheckpointStore:
            opened.append(_dynamo_store(aws))
            return opened[-1]
    yield make
    for store in opened:
        store.close()


# -- properties both stores have --------------------------------------------------------------------------------

def test_a_replayed_file_is_skipped_and_its_alerts_are_not_raised_again(new_store: Callable[[], Any]) -> None:
    store = new_store()
    assert not store.file_done("s3://b/k1.json.gz", "etag1")
    assert store.record([_alert("r1:e1"), _alert("r2:e1")], "s3://b/k1.json.gz", "etag1") == 2
    again = new_store()
    assert again.file_done("s3://b/k1.json.gz", "etag1")
    assert not again.file_done("s3://b/k1.json.gz", "etag2")  # a new version of the file is evaluated again
    assert again.record([_alert("r1:e1"), _alert("r2:e1")], "s3://b/k1.json.gz", "etag2") == 0
    assert again.counts() == {"files": 1, "seen": 2, "outbox": 2}


def test_the_same_uid_recorded_twice_is_kept_once(new_store: Callable[[], Any]) -> None:
    fast, slow = new_store(), new_store()  # the two lanes
    assert fast.record([_alert("r1:e1")]) == 1
    assert slow.record([_alert("r1:e1"), _alert("r1:e2")], "s3://b/k.json.gz", "v") == 1
    sink = Collected()
    assert slow.drain([sink]) == 2
    assert sink.uids() == ["r1:e1", "r1:e2"]
    assert fast.drain([sink]) == 0 and fast.counts()["outbox"] == 0


def test_an_outbox_survives_a_crash_and_a_new_store_delivers_it(new_store: Callable[[], Any]) -> None:
    crashed = new_store()
    crashed.record([_alert(f"r:e{n}") for n in range(7)], "s3://b/k.json.gz", "v")
    # The process dies here, before any delivery.
    restarted, sink = new_store(), Collected()
    assert [uid for uid, _ in restarted.pending()] == [f"r:e{n}" for n in range(7)]  # oldest first
    assert restarted.drain([sink]) == 7 and sink.uids() == sorted(f"r:e{n}" for n in range(7))
    assert new_store().pending() == []


def test_a_failing_sink_keeps_the_alerts_for_the_next_drain(new_store: Callable[[], Any]) -> None:
    class Broken:
        def send(self, alerts: Any) -> None:
            raise RuntimeError("sink down")

    store = new_store()
    store.record([_alert("r:e1")])
    with pytest.raises(RuntimeError, match="sink down"):
        store.drain([Broken()])
    sink = Collected()
    assert new_store().drain([sink]) == 1 and sink.uids() == ["r:e1"]


class Picky:
    """A sink whose service refuses some alerts for their content (here: a poisoned message) and takes the rest."""

    name = "picky"

    def __init__(self, down: bool = False) -> None:
        self.down = down
        self.taken: list[str] = []

    def send(self, alerts: Any) -> None:
        if self.down:
            raise RuntimeError("sink down")
        if any(alert["message"] == "poison" for alert in alerts):
            raise RuntimeError("InvalidInput: the service refused a finding")
        self.taken += [alert["finding_info"]["uid"] for alert in alerts]


def _poisoned(uid: str) -> dict[str, Any]:
    return {**_alert(uid), "message": "poison"}


def test_an_alert_a_sink_refuses_does_not_hold_back_the_others(new_store: Callable[[], Any]) -> None:
    store = new_store()
    store.record([_alert("r:e1"), _poisoned("r:e2"), _alert("r:e3"), _poisoned("r:e4"), _alert("r:e5")])
    picky, collected = Picky(), Collected()
    assert store.drain([picky, collected]) == 3
    assert picky.taken == ["r:e1", "r:e3", "r:e5"]
    assert sorted(collected.uids()) == ["r:e1", "r:e2", "r:e3", "r:e4", "r:e5"]  # the other sink got them all
    letters = new_store().dead_letters()
    assert [(uid, sink) for uid, sink, _ in letters] == [("r:e2", "picky"), ("r:e4", "picky")]
    assert all("InvalidInput" in reason for _, _, reason in letters)
    assert new_store().pending() == [] and new_store().drain([Picky()]) == 0


def test_dead_letters_requeued_reach_a_sink_that_takes_them_now(new_store: Callable[[], Any]) -> None:
    store = new_store()
    store.record([_alert("r:e1"), _poisoned("r:e2"), _alert("r:e3"), _poisoned("r:e4")])
    first, second = Picky(), Picky()
    first.name, second.name = "picky-a", "picky-b"
    store.drain([first, second])  # two sinks refuse each poisoned alert: two dead letters per alert
    assert len(new_store().dead_letters()) == 4
    assert new_store().requeue_dead_letters() == 2  # once per alert
    assert new_store().dead_letters() == [] and sorted(uid for uid, _ in new_store().pending()) == ["r:e2", "r:e4"]
    collected = Collected()
    assert new_store().drain([collected]) == 2
    assert collected.uids() == ["r:e2", "r:e4"] and collected.alerts[0]["message"] == "poison"  # the whole alert
    assert new_store().pending() == [] and new_store().requeue_dead_letters() == 0


def test_more_dead_letters_than_one_batch_write_takes_are_written_in_several(table: Emulated) -> None:
    store = _dynamo_store(table)
    sizes: list[int] = []
    write = store.client.batch_write_item

    def spy(**kwargs: Any) -> Any:
        sizes.extend(len(requests) for requests in kwargs["RequestItems"].values())
        return write(**kwargs)

    store.client.batch_write_item = spy
    store.record([_alert("r:e0"), *(_poisoned(f"r:p{n:02d}") for n in range(30))])
    assert store.drain([Picky()]) == 1
    assert len(store.dead_letters()) == 30 and store.pending() == []
    assert sizes and max(sizes) <= 25  # BatchWriteItem takes at most 25 requests a call (the emulator takes more)


def test_a_sink_that_takes_nothing_is_down_and_keeps_every_alert(new_store: Callable[[], Any]) -> None:
    store = new_store()
    store.record([_alert(f"r:e{n}") for n in range(20)])
    with pytest.raises(RuntimeError, match="sink down"):
        store.drain([Picky(down=True)])
    assert len(new_store().pending()) == 20 and new_store().dead_letters() == []
    picky = Picky()
    assert new_store().drain([picky]) == 20 and len(picky.taken) == 20


def test_correlation_windows_round_trip(new_store: Callable[[], Any]) -> None:
    store = new_store()
    state = orjson.dumps({"events": [[1, "e1", 0, None]], "consumed_until": None, "evidence": {"e1": {"a": 1}}})
    long_group = '["' + "é" * 600 + '"]'  # over DynamoDB's 1 KB sort key in UTF-8: stored under its digest
    store.record([], None, "", [("corr", '["alice"]', 1000, state), ("corr", long_group, 2000, state + b" "),
                                ("other", '["bob"]', 5, b"{}")])
    again = new_store()
    assert again.load_windows("corr", ['["alice"]', long_group, '["nobody"]']) == {
        '["alice"]': state, long_group: state + b" "}
    assert again.window_groups("corr") == 2 and again.window_groups("other") == 1
    again.record([], None, "", [("corr", '["alice"]', 3000, b"{}")])
    assert new_store().load_windows("corr", ['["alice"]']) == {'["alice"]': b"{}"}


# -- what only the DynamoDB store has to get right -------------------------------------------------------------

def _calls(store: DynamoCheckpoints, operation: str) -> list[dict[str, Any]]:
    """The parameters of every ``operation`` the store's client sends (botocore's own event hook)."""
    seen: list[dict[str, Any]] = []
    store.client.meta.events.register(f"provide-client-params.dynamodb.{operation}",
                                      lambda params, **_: seen.append(params))
    return seen


def test_more_than_one_transaction_of_alerts_is_chunked_with_the_done_mark_last(table: Emulated) -> None:
    store = _dynamo_store(table)
    transactions = _calls(store, "TransactWriteItems")
    assert store.record([_alert(f"r:e{n:03d}") for n in range(130)], "s3://b/big.json.gz", "v") == 130
    assert [len(t["TransactItems"]) for t in transactions] == [100, 100, 61]  # 130 pairs + the done-mark
    assert all(len(t["TransactItems"]) <= 100 for t in transactions)
    last = transactions[-1]["TransactItems"][-1]["Put"]["Item"]
    assert last["pk"] == {"S": "file#s3://b/big.json.gz"}
    assert store.counts() == {"files": 1, "seen": 130, "outbox": 130}


def test_big_alerts_are_chunked_by_bytes_and_each_fits_an_item(table: Emulated) -> None:
    store = _dynamo_store(table)
    transactions = _calls(store, "TransactWriteItems")
    # Random characters hardly compress: an attacker's request parameters. 200 KB each fit an item (~265 KB
    # compressed) but 16 of them not one 4 MB transaction; 1 MB does not fit an item and is cut to fit.
    alerts = [_alert(f"r:e{n}") for n in range(17)]
    for alert in alerts:
        alert["evidences"][0]["data"]["requestParameters"] = os.urandom(200_000).decode("latin-1")
    alerts[-1]["evidences"][0]["data"]["requestParameters"] = os.urandom(1_000_000).decode("latin-1")
    assert store.record(alerts, "s3://b/huge.json.gz", "v") == 17
    assert len(transactions) == 2
    for transaction in transactions:
        payloads = [i["Put"]["Item"]["payload"]["B"] for i in transaction["TransactItems"] if "payload" in
                    i["Put"]["Item"]]
        assert all(len(p) <= MAX_ITEM_BYTES for p in payloads)
        assert sum(len(p) for p in payloads) < 4_000_000
    pending = dict(store.pending())
    assert [pending[f"r:e{n}"] for n in range(16)] == alerts[:16]  # kept whole
    huge = pending["r:e16"]
    assert huge["unmapped"]["evidence_trimmed"]["original_bytes"] > 1_000_000
    assert huge["finding_info"]["uid"] == "r:e16"


def test_killed_between_two_transactions_the_file_is_redone_without_repeats(table: Emulated) -> None:
    store = _dynamo_store(table)
    sent: list[int] = []

    def die_on_the_second(params: Any, **_: Any) -> None:
        sent.append(1)
        if len(sent) == 2:
            raise KeyboardInterrupt("killed")  # the process dies between the first and second transaction

    store.client.meta.events.register("provide-client-params.dynamodb.TransactWriteItems", die_on_the_second)
    alerts = [_alert(f"r:e{n:03d}") for n in range(120)]
    with pytest.raises(KeyboardInterrupt):
        store.record(alerts, "s3://b/k.json.gz", "v")
    restarted = _dynamo_store(table)
    assert not restarted.file_done("s3://b/k.json.gz", "v")  # the done-mark was in the last transaction
    assert restarted.counts()["outbox"] == 50  # the first transaction: 50 seen + outbox pairs
    assert restarted.record(alerts, "s3://b/k.json.gz", "v") == 70  # the 50 written before are seen
    assert restarted.file_done("s3://b/k.json.gz", "v")
    sink = Collected()
    assert restarted.drain([sink]) == 120 and sink.uids() == sorted(a["finding_info"]["uid"] for a in alerts)


def test_two_stores_racing_on_the_same_alerts_raise_each_once(table: Emulated) -> None:
    alerts = [_alert(f"r:e{n}") for n in range(30)]
    results: list[int] = []
    errors: list[BaseException] = []

    def lane() -> None:
        try:
            results.append(_dynamo_store(table).record(alerts))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=lane) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(results) == 30  # each alert counted new by exactly one of the two
    sink = Collected()
    assert _dynamo_store(table).drain([sink]) == 30 and sink.uids() == sorted(a["finding_info"]["uid"]
                                                                              for a in alerts)


def test_a_transaction_conflict_is_retried(table: Emulated) -> None:
    store = _dynamo_store(table)
    answered: list[int] = []

    def conflict_once(model: Any, params: Any, **_: Any) -> Any:
        if answered:
            return None
        answered.append(1)  # AWS's answer when another transaction holds one of the items (moto cannot make it)
        reasons = [{"Code": "TransactionConflict"}] * len(orjson.loads(params["body"])["TransactItems"])
        error = {"Error": {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"},
                 "CancellationReasons": reasons, "ResponseMetadata": {"HTTPStatusCode": 400}}
        return type("Response", (), {"status_code": 400})(), error

    store.client.meta.events.register("before-call.dynamodb.TransactWriteItems", conflict_once)
    assert store.record([_alert("r:e1")], "s3://b/k.json.gz", "v") == 1
    assert answered == [1] and store.file_done("s3://b/k.json.gz", "v")


def test_a_missing_table_is_a_clear_error(aws: Emulated) -> None:
    store = DynamoCheckpoints(aws.emulator.context(read_only=False).client("dynamodb"), "no-such-table")
    with pytest.raises(CheckpointStoreError, match=r"checkpoint table no-such-table: .*ResourceNotFoundException"):
        store.file_done("s3://b/k", "v")
    with pytest.raises(CheckpointStoreError, match="no-such-table"):
        store.record([_alert("r:e1")])


def test_the_spec_selects_the_store(table: Emulated, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {**EMULATOR_CREDENTIALS, "AWS_ENDPOINT_URL": table.endpoint_url,
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    store = open_checkpoints(f"dynamodb:{TABLE}")
    assert isinstance(store, DynamoCheckpoints) and store.table == TABLE
    assert store.record([_alert("r:e1")]) == 1 and _dynamo_store(table).counts()["seen"] == 1
    local = open_checkpoints(str(tmp_path / "c.sqlite"))
    assert isinstance(local, Checkpoints)
    local.close()


# -- both lanes on one table -----------------------------------------------------------------------------------

ADMIN_ATTACHED = "0958a477-c075-4feb-9a5d-e68586a6f3c9"  # cw_admin_policy_attached.yml
TRAIL = "acme-trail"


def _admin_attached() -> dict[str, Any]:
    return {"eventVersion": "1.09", "eventID": "5f1c0e9e-0000-4000-8000-000000000001",
            "eventTime": "2026-11-20T10:00:00Z", "eventSource": "iam.amazonaws.com", "eventName": "AttachUserPolicy",
            "awsRegion": "us-east-1", "recipientAccountId": "123456789012",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/alice"},
            "requestParameters": {"userName": "mallory", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}}


def _sqs_batch(*notifications: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return {"Records": [{"messageId": message, "eventSource": "aws:sqs", "body": orjson.dumps(body).decode()}
                        for message, body in notifications]}


def _s3_created(key: str, etag: str) -> dict[str, Any]:
    return {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                         "s3": {"bucket": {"name": TRAIL}, "object": {"key": key, "size": 10, "eTag": etag}}}]}


def test_an_event_both_lanes_see_alerts_once_and_an_unreadable_file_is_reported_to_sqs(table: Emulated) -> None:
    detector, sink = Detector.load([]), Collected()
    record = _admin_attached()
    envelope = {"detail-type": "AWS API Call via CloudTrail", "detail": record}
    fast_result = fast.process(envelope, detector, [sink], _dynamo_store(table))
    assert ADMIN_ATTACHED in fast_result["rules"] and fast_result["alerts"] >= 1
    by_fast = sink.uids()
    assert len(by_fast) == fast_result["alerts"]

    s3 = table.client("s3")
    s3.create_bucket(Bucket=TRAIL)
    good, torn = cloudtrail_key(name="good"), cloudtrail_key(name="torn")
    s3.put_object(Bucket=TRAIL, Key=good, Body=gzip.compress(orjson.dumps({"Records": [record]})))
    s3.put_object(Bucket=TRAIL, Key=torn, Body=gzip.compress(b'{"Records": [')[:-6])
    lane = SlowLane(detector, _dynamo_store(table), [sink])  # the other function: its own store object
    batch = _sqs_batch(("m-good", _s3_created(good, "e1")), ("m-torn", _s3_created(torn, "e2")))
    result = handle_notification(batch, lane, table.context().client("s3"))
    assert result["files"] == 2 and result["alerts"] == 0  # the fast lane raised them all already
    assert result["batchItemFailures"] == [{"itemIdentifier": "m-torn"}]  # SQS keeps only that message
    assert sink.uids() == by_fast  # nothing more reached the sink

    again = handle_notification(_sqs_batch(("m-good", _s3_created(good, "e1"))), lane, table.context().client("s3"))
    assert again["skipped"] == 1 and again["batchItemFailures"] == [] and sink.uids() == by_fast
    direct = handle_notification(_s3_created(torn, "e2"), lane, table.context().client("s3"))
    assert "batchItemFailures" not in direct and direct["errors"]  # S3 or SNS directly: logged, as before


def test_a_cancellation_no_retry_can_fix_fails_at_once(table: Emulated) -> None:
    store = _dynamo_store(table)
    answered: list[int] = []

    def invalid(model: Any, params: Any, **_: Any) -> Any:
        answered.append(1)
        reasons = [{"Code": "ValidationError"}] * len(orjson.loads(params["body"])["TransactItems"])
        error = {"Error": {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"},
                 "CancellationReasons": reasons, "ResponseMetadata": {"HTTPStatusCode": 400}}
        return type("Response", (), {"status_code": 400})(), error

    store.client.meta.events.register("before-call.dynamodb.TransactWriteItems", invalid)
    with pytest.raises(CheckpointStoreError, match="ValidationError"):
        store.record([_alert("r:e1")])
    assert answered == [1]


def test_the_fast_lane_spends_no_checkpoint_call_on_an_event_no_rule_matches(table: Emulated) -> None:
    store = _dynamo_store(table)
    queries, writes = _calls(store, "Query"), _calls(store, "TransactWriteItems")
    quiet = {**_admin_attached(), "eventName": "ListUsers", "requestParameters": None}
    result = fast.process({"detail-type": "AWS API Call via CloudTrail", "detail": quiet}, Detector.load([]),
                          [Collected()], store)
    assert result == {"alerts": 0, "rules": []} and queries == [] and writes == []


# -- concurrent slow-lane invocations on one correlation window ------------------------------------------------

BURST = "9e45708d-0f6b-4d29-9719-45c9f59893e7"  # cw_corr_access_denied_burst.yml: 10 refusals in 10 minutes


def test_a_window_another_writer_moved_is_not_overwritten(table: Emulated) -> None:
    first, second = _dynamo_store(table), _dynamo_store(table)
    assert first.load_windows("corr", ['["alice"]']) == {} and second.load_windows("corr", ['["alice"]']) == {}
    first.record([], None, "", [("corr", '["alice"]', 1, b'{"first": 1}')])
    with pytest.raises(WindowConflict):  # both read "no window"; the first wrote one since
        second.record([_alert("r:e1")], "s3://b/k.json.gz", "v", [("corr", '["alice"]', 2, b'{"second": 1}')])
    assert not second.file_done("s3://b/k.json.gz", "v")  # nothing after the conflicting row was written
    assert second.load_windows("corr", ['["alice"]']) == {'["alice"]': b'{"first": 1}'}
    assert second.record([_alert("r:e1")], "s3://b/k.json.gz", "v", [("corr", '["alice"]', 2, b'{"both": 1}')]) == 1
    assert first.load_windows("corr", ['["alice"]']) == {'["alice"]': b'{"both": 1}'}
    with pytest.raises(WindowConflict):  # read at the revision the second store replaced
        _stale = _dynamo_store(table)
        _stale._window_revs[("corr", '["alice"]')] = 1
        _stale.record([], None, "", [("corr", '["alice"]', 3, b"{}")])


def _refused(n: int, minute: int) -> dict[str, Any]:
    return {"eventVersion": "1.09", "eventID": f"denied-{n:02d}", "eventTime": f"2026-11-20T10:{minute:02d}:00Z",
            "eventSource": "s3.amazonaws.com", "eventName": "ListBuckets", "awsRegion": "us-east-1",
            "errorCode": "AccessDenied", "recipientAccountId": "123456789012",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/intruder"}}


def test_two_invocations_correlating_one_group_at_once_lose_no_event(table: Emulated) -> None:
    s3 = table.client("s3")
    s3.create_bucket(Bucket=TRAIL)
    keys = [cloudtrail_key(name=f"part{n}") for n in (1, 2)]
    for part, key in enumerate(keys):  # five refusals each: the burst needs both files' events
        records = [_refused(part * 5 + n, part * 5 + n // 2) for n in range(5)]
        s3.put_object(Bucket=TRAIL, Key=key, Body=gzip.compress(orjson.dumps({"Records": records})))
    detector, sink = Detector.load([]), Collected()
    reader = table.context().client("s3")
    one, two = SlowLane(detector, _dynamo_store(table), [sink]), SlowLane(detector, _dynamo_store(table), [sink])
    interleaved: list[int] = []

    def meanwhile(**_: Any) -> None:  # the other invocation finishes its file between this one's read and write
        if not interleaved:
            interleaved.append(1)
            handle_notification(_s3_created(keys[0], "e1"), one, reader)

    two.checkpoints.client.meta.events.register("provide-client-params.dynamodb.TransactWriteItems", meanwhile)
    result = handle_notification(_s3_created(keys[1], "e2"), two, reader)
    assert interleaved == [1] and result["errors"] == []
    bursts = [a for a in sink.alerts if a["finding_info"]["analytic"]["uid"] == BURST]
    assert len(bursts) == 1  # the second file correlated again over the first file's five: ten, one alert
    assert len(sink.alerts) == 11 and len(set(sink.uids())) == 11  # ten single refusals and the burst, once each


@pytest.mark.parametrize(("poisoned_first", "set_aside"), [(7, True), (8, False)])
def test_a_run_of_refusals_before_any_alert_is_taken_reads_as_a_sink_down(poisoned_first: int, set_aside: bool) -> None:
    alerts = [_poisoned(f"r:p{n}") for n in range(poisoned_first)] + [_alert("r:good")]
    encoded = [(alert["finding_info"]["uid"], orjson.dumps(alert)) for alert in alerts]
    picky = Picky()
    if set_aside:  # the sink took the good alert after the refusals: they are its content's fault
        assert [r.uid for r in deliver([picky], encoded)] == [uid for uid, _ in encoded[:-1]]
        assert picky.taken == ["r:good"]
    else:  # as many refusals as MAX_REFUSALS_BEFORE_ONE_TAKEN before any success: the sink is down
        assert poisoned_first == MAX_REFUSALS_BEFORE_ONE_TAKEN
        with pytest.raises(RuntimeError, match="InvalidInput"):
            deliver([picky], encoded)
        assert picky.taken == []
