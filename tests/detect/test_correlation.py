"""Sigma correlation rules: thresholds, windows on eventTime across real gzip log files, group-by, restarts and
replays of the slow lane (exactly once through the checkpoints SQLite), hostile records, memory bounds, and the
features that are reported instead of run. One test drives the slow lane over S3 (the emulator, over HTTP).
"""

from __future__ import annotations

import gzip
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from cloudwarden.cli.app import app
from cloudwarden.detect import correlation as correlation_module
from cloudwarden.detect.checkpoints import Checkpoints
from cloudwarden.detect.correlation import MemoryWindows
from cloudwarden.detect.engine import Detector
from cloudwarden.detect.lanes import fast
from cloudwarden.detect.lanes.slow import SlowLane, handle_notification
from cloudwarden.detect.sinks import FileSink
from cloudwarden.trail.sources import LocalSource, LogObject, S3Source
from tests.trail.helpers import cloudtrail_key, event, iam_user, write_log

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
BUCKET = "acme-trail"

BASE = """title: Refused call
name: refused
id: 7d1f0c7e-5b1a-4c2e-9a51-0c1f5e0a0001
logsource: {product: aws, service: cloudtrail}
detection:
    selection:
        errorCode: AccessDenied
    condition: selection
---
title: Secret read
name: secret_read
id: 7d1f0c7e-5b1a-4c2e-9a51-0c1f5e0a0002
logsource: {product: aws, service: cloudtrail}
detection:
    selection:
        eventName: GetSecretValue
    condition: selection
---
title: Login
name: login
id: 7d1f0c7e-5b1a-4c2e-9a51-0c1f5e0a0003
logsource: {product: aws, service: cloudtrail}
detection:
    selection:
        eventName: ConsoleLogin
    condition: selection
---
title: Key created
name: key_created
id: 7d1f0c7e-5b1a-4c2e-9a51-0c1f5e0a0004
logsource: {product: aws, service: cloudtrail}
detection:
    selection:
        eventName: CreateAccessKey
    condition: selection
"""


def correlation(kind: str, rules: str, condition: str, timespan: str = "10m", extra: str = "",
                title: str = "Correlated", identifier: str = "7d1f0c7e-5b1a-4c2e-9a51-0c1f5e0a00c0") -> str:
    return (f"---\ntitle: {title}\nid: {identifier}\nlevel: high\ntags: [attack.discovery, attack.t1580]\n"
            f"correlation:\n    type: {kind}\n    rules: {rules}\n    group-by: [userIdentity.arn]\n"
            f"    timespan: {timespan}\n{condition}{extra}")


EVENT_COUNT = correlation("event_count", "[refused]", "    condition: {gte: 5}\n")
VALUE_COUNT = correlation(
    "value_count", "[secret_read]", "    condition: {field: requestParameters.secretId, gte: 3}\n", timespan="1h"
)
TEMPORAL = correlation("temporal", "[login, key_created]", "", timespan="1h")
TEMPORAL_ORDERED = correlation("temporal_ordered", "[login, key_created]", "", timespan="1h")


def load(tmp_path: Path, *texts: str) -> Detector:
    folder = tmp_path / "rules"
    folder.mkdir(parents=True, exist_ok=True)
    for n, text in enumerate(texts):
        (folder / f"rules_{n}.yml").write_text(text)
    detector = Detector.load([folder], bundled=False)
    assert detector.problems == []
    return detector


def at(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def refused(minutes: float, user: str = "alice", **extra: Any) -> dict[str, Any]:
    return event("ListUsers", "iam.amazonaws.com", at(minutes), iam_user(user), errorCode="AccessDenied", **extra)


def secret(minutes: float, secret_id: Any, user: str = "alice") -> dict[str, Any]:
    return event("GetSecretValue", "secretsmanager.amazonaws.com", at(minutes), iam_user(user),
                 requestParameters={"secretId": secret_id})


def login(minutes: float, user: str = "alice") -> dict[str, Any]:
    return event("ConsoleLogin", "signin.amazonaws.com", at(minutes), iam_user(user))


def key_created(minutes: float, user: str = "alice") -> dict[str, Any]:
    return event("CreateAccessKey", "iam.amazonaws.com", at(minutes), iam_user(user))


def hunt(detector: Detector, *batches: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Correlation alerts over ``batches`` (one per log file), windows kept in memory between them."""
    correlator = detector.correlator()
    assert correlator is not None
    windows, alerts = MemoryWindows(), []
    for batch in batches:
        run = correlator.run(batch, windows, "hunt")
        windows.apply(run.changes)
        alerts += run.alerts
    return alerts


# --- thresholds -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rule, below, completing",
    [
        (EVENT_COUNT, [refused(m) for m in range(4)], refused(4)),
        (VALUE_COUNT, [secret(0, "a"), secret(1, "b"), secret(2, "a"), secret(3, "b")], secret(4, "c")),
        (TEMPORAL, [key_created(0), key_created(5)], login(10)),  # any order
        (TEMPORAL_ORDERED, [login(0), login(5)], key_created(10)),
    ],
    ids=["event_count", "value_count", "temporal", "temporal_ordered"],
)
def test_each_type_fires_exactly_at_its_threshold_and_not_below(
    tmp_path: Path, rule: str, below: list[dict[str, Any]], completing: dict[str, Any]
) -> None:
    detector = load(tmp_path, BASE + rule)
    assert hunt(detector, below) == []
    alerts = hunt(detector, [*below, completing])
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert["class_uid"] == 2004 and alert["finding_info"]["analytic"]["uid"] == detector.correlations[0].id
    assert alert["finding_info"]["uid"].endswith(":" + completing["eventID"])
    assert alert["evidences"][0]["data"] == completing  # the event that completed the condition comes first
    assert alert["unmapped"]["correlation"]["group"] == {"userIdentity.arn": "arn:aws:iam::111122223333:user/alice"}
    assert [attack["technique"]["uid"] for attack in alert["finding_info"]["attacks"]] == ["T1580"]
    # More events in the same window do not raise it again: the window's events are consumed by its alert.
    assert len(hunt(detector, [*below, completing, *(dict(e, eventID=e["eventID"] + "x") for e in below)])) == 1


def test_temporal_ordered_needs_the_order_temporal_does_not(tmp_path: Path) -> None:
    ordered = load(tmp_path, BASE + TEMPORAL_ORDERED)
    assert hunt(ordered, [key_created(0), login(10)]) == []
    unordered = load(tmp_path / "other", BASE + TEMPORAL)
    assert len(hunt(unordered, [key_created(0), login(10)])) == 1


def test_eq_and_gt_conditions(tmp_path: Path) -> None:
    gt = load(tmp_path, BASE + correlation("event_count", "[refused]", "    condition: {gt: 3}\n"))
    assert hunt(gt, [refused(m) for m in range(3)]) == []
    assert len(hunt(gt, [refused(m) for m in range(4)])) == 1
    eq = load(tmp_path / "eq", BASE + correlation("event_count", "[refused]", "    condition: {eq: 3}\n"))
    assert hunt(eq, [refused(m) for m in range(2)]) == []
    assert len(hunt(eq, [refused(m) for m in range(3)])) == 1


def test_group_by_keeps_principals_apart(tmp_path: Path) -> None:
    detector = load(tmp_path, BASE + EVENT_COUNT)
    mixed = [refused(m, "alice") for m in range(4)] + [refused(m, "bob") for m in range(4)]
    assert hunt(detector, mixed) == []
    alerts = hunt(detector, [*mixed, refused(5, "bob")])
    assert [a["unmapped"]["correlation"]["group"]["userIdentity.arn"] for a in alerts] == [
        "arn:aws:iam::111122223333:user/bob"
    ]


def test_events_outside_the_window_do_not_count(tmp_path: Path) -> None:
    detector = load(tmp_path, BASE + EVENT_COUNT)  # 5 within 10 minutes
    assert hunt(detector, [refused(m) for m in (0, 3, 6, 9, 11)]) == []  # 11 - 0 > 10: at most 4 in any window
    assert len(hunt(detector, [refused(m) for m in (0, 3, 6, 9, 10)])) == 1  # the window's edge is inside it
    spaced = load(tmp_path / "v", BASE + VALUE_COUNT)  # 3 distinct within an hour
    assert hunt(spaced, [secret(0, "a"), secret(40, "b"), secret(70, "c")]) == []


def test_events_out_of_order_within_the_window_count(tmp_path: Path) -> None:
    detector = load(tmp_path, BASE + EVENT_COUNT)
    # Delivered in two files, the later file holding the earlier events (as across regions).
    assert len(hunt(detector, [refused(8), refused(9)], [refused(1), refused(2), refused(3)])) == 1
    ordered = load(tmp_path / "o", BASE + TEMPORAL_ORDERED)
    assert len(hunt(ordered, [key_created(30)], [login(10)])) == 1  # the login arrives after the key, but was first


def test_a_window_spans_two_gzip_log_files_in_the_slow_lane(tmp_path: Path) -> None:
    detector = load(tmp_path, BASE + EVENT_COUNT)
    logs = tmp_path / "AWSLogs"
    write_log(logs / cloudtrail_key(name="a").removeprefix("AWSLogs/"), [refused(0), refused(1), refused(2)])
    write_log(logs / cloudtrail_key(name="b").removeprefix("AWSLogs/"), [refused(3), event(when=at(3)), refused(4)])
    out = tmp_path / "alerts.jsonl"
    with Checkpoints(tmp_path / "c.sqlite") as checkpoints:
        lane = SlowLane(detector, checkpoints, [FileSink(out)])
        outcomes = lane.process_all(LocalSource(logs))
        assert [o.alerts for o in outcomes] == [0, 1]
        assert checkpoints.window_groups(detector.correlations[0].id) == 1
    alerts = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert len(alerts) == 1 and alerts[0]["metadata"]["labels"] == ["lane:slow"]
    assert alerts[0]["unmapped"]["correlation"]["events"] == 5
    assert len(alerts[0]["evidences"]) == 5


def test_a_restart_mid_window_fires_once_and_replays_raise_nothing_twice(tmp_path: Path) -> None:
    load(tmp_path, BASE + EVENT_COUNT)
    first = write_log(tmp_path / "logs" / "one.json.gz", [refused(0), refused(1), refused(2)])
    second = write_log(tmp_path / "logs" / "two.json.gz", [refused(3), refused(4), refused(5)])
    store, out = tmp_path / "checkpoints.sqlite", tmp_path / "alerts.jsonl"

    def run_file(path: Path, version: str = "1") -> int:
        with Checkpoints(store) as checkpoints:  # a new process each time: nothing is remembered in memory
            lane = SlowLane(Detector.load([tmp_path / "rules"], bundled=False), checkpoints, [FileSink(out)])
            source = LocalSource(path)
            log_object = next(iter(source.list()))
            return lane.process(source, LogObject(log_object.location, log_object.size, version)).alerts

    assert run_file(first) == 0
    assert run_file(second) == 1  # the window began in the first file, before the "restart"
    assert run_file(second) == 0  # a replay of the same file is skipped
    assert run_file(first, "2") == 0  # a new version of a file (re-delivered): its events were consumed
    assert run_file(second, "2") == 0
    lines = out.read_bytes().splitlines()
    assert len(lines) == 1
    assert orjson.loads(lines[0])["finding_info"]["uid"].endswith(":" + orjson.loads(gzip.decompress(
        second.read_bytes()))["Records"][1]["eventID"])


def test_a_correlation_alert_lost_with_its_transaction_is_raised_on_the_retry(tmp_path: Path) -> None:
    detector = load(tmp_path, BASE + EVENT_COUNT)
    logs = tmp_path / "logs"
    write_log(logs / "one.json.gz", [refused(m) for m in range(3)])
    write_log(logs / "two.json.gz", [refused(m) for m in range(3, 6)])
    store = tmp_path / "c.sqlite"

    class Killed(BaseException):
        pass

    with Checkpoints(store) as checkpoints:
        lane = SlowLane(detector, checkpoints, [FileSink(tmp_path / "a.jsonl")])
        source = LocalSource(logs)
        one, two = list(source.list())
        lane.process(source, one)
        original = checkpoints._db

        class Dying:  # the process dies inside the second file's transaction, before COMMIT
            def __getattr__(self, name: str) -> Any:
                return getattr(original, name)

            def execute(self, sql: str, *args: Any) -> Any:
                if sql == "COMMIT":
                    raise Killed
                return original.execute(sql, *args)

        checkpoints._db = Dying()  # type: ignore[assignment]
        with pytest.raises(Killed):
            lane.process(source, two)
        checkpoints._db = original
    with Checkpoints(store) as checkpoints:
        assert checkpoints.counts() == {"files": 1, "seen": 0, "outbox": 0}
        lane = SlowLane(detector, checkpoints, [FileSink(tmp_path / "a.jsonl")])
        assert [o.alerts for o in lane.process_all(LocalSource(logs))] == [0, 1]


def test_the_slow_lane_over_s3_fires_once_across_files_and_lanes(aws: Any, tmp_path: Path) -> None:
    detector = load(tmp_path, BASE + EVENT_COUNT + "\n" + TEMPORAL_ORDERED.replace("0c1f5e0a00c0", "0c1f5e0a00c1"))
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    files = [[refused(0), refused(1), login(2)], [refused(2), key_created(20)], [refused(3), refused(4)]]
    keys = []
    for n, records in enumerate(files):
        key = cloudtrail_key(name=f"part-{n}")
        etag = s3.put_object(Bucket=BUCKET, Key=key, Body=gzip.compress(orjson.dumps({"Records": records})))["ETag"]
        keys.append((key, etag.strip('"')))
    out = tmp_path / "alerts.jsonl"
    notification = {"Records": [
        {"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
         "s3": {"bucket": {"name": BUCKET}, "object": {"key": key, "size": 1, "eTag": etag}}} for key, etag in keys
    ]}  # fmt: skip
    with Checkpoints(tmp_path / "c.sqlite") as checkpoints:
        lane = SlowLane(detector, checkpoints, [FileSink(out)])
        assert handle_notification(notification, lane, aws.context().client("s3"))["alerts"] == 2
        assert handle_notification(notification, lane, aws.context().client("s3"))["alerts"] == 0
        lane.process_all(S3Source(aws.context().client("s3"), BUCKET, ""))
        # The fast lane sees single events only: the base rules have generate false, so it raises nothing.
        assert fast.process({"detail-type": "AWS API Call via CloudTrail", "detail": refused(5)}, detector,
                            [FileSink(out)], checkpoints)["alerts"] == 0
    titles = sorted(orjson.loads(line)["finding_info"]["title"] for line in out.read_bytes().splitlines())
    assert titles == ["Correlated", "Correlated"]
    kinds = sorted(orjson.loads(line)["unmapped"]["correlation"]["type"] for line in out.read_bytes().splitlines())
    assert kinds == ["event_count", "temporal_ordered"]


def test_the_fast_lane_says_once_that_it_does_not_correlate(tmp_path: Path, monkeypatch: Any, caplog: Any) -> None:
    load(tmp_path, BASE + EVENT_COUNT)
    monkeypatch.setenv(fast.RULES_ENV, str(tmp_path / "rules"))
    monkeypatch.setattr(fast, "_detector", None)
    with caplog.at_level(logging.WARNING, logger="cloudwarden.detect.fast"):
        fast.detector()
        fast.detector()
    notes = [r.getMessage() for r in caplog.records if "not by the fast lane" in r.getMessage()]
    assert len(notes) == 1 and "Correlated" in notes[0]


def test_generate_false_silences_base_rules_and_generate_true_keeps_them(tmp_path: Path) -> None:
    silent = load(tmp_path, BASE + EVENT_COUNT)
    assert silent.alerts(refused(0), "slow") == [] and silent.matches(refused(0))
    assert len(silent.alerts(login(0), "slow")) == 1  # a base rule no correlation refers to alerts as ever
    loud = load(tmp_path / "g", BASE + EVENT_COUNT + "    generate: true\n")
    assert [a["finding_info"]["title"] for a in loud.alerts(refused(0), "slow")] == ["Refused call"]


def test_a_correlation_may_refer_to_a_rule_in_another_file_by_id(tmp_path: Path) -> None:
    other = EVENT_COUNT.replace("[refused]", "[7d1f0c7e-5b1a-4c2e-9a51-0c1f5e0a0001]")
    detector = load(tmp_path, BASE, other)
    assert len(hunt(detector, [refused(m) for m in range(5)])) == 1


def test_the_hunt_evaluates_correlations_in_event_time_order(tmp_path: Path) -> None:
    load(tmp_path, BASE + EVENT_COUNT)
    logs = tmp_path / "AWSLogs"
    # Region by region, path order is not time order: eu-west-1 sorts first but holds the later events.
    write_log(logs / cloudtrail_key(region="eu-west-1", name="x").removeprefix("AWSLogs/"),
              [refused(3), refused(4)])
    write_log(logs / cloudtrail_key(region="us-east-1", name="y").removeprefix("AWSLogs/"),
              [refused(0), refused(1), refused(2), refused(40)])
    result = CliRunner().invoke(app, ["detect", str(logs), "--no-bundled", "--rules", str(tmp_path / "rules"),
                                      "--json"])
    assert result.exit_code == 1, result.output
    alerts = [orjson.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [a["finding_info"]["title"] for a in alerts] == ["Correlated"]
    assert alerts[0]["metadata"]["labels"] == ["lane:hunt"]
    assert alerts[0]["evidences"][0]["data"]["eventTime"] == at(4)


# --- hostile input and bounds -----------------------------------------------------------------------------------


def test_hostile_records_do_not_crash_and_huge_values_are_bounded(tmp_path: Path) -> None:
    detector = load(tmp_path, BASE + EVENT_COUNT, VALUE_COUNT.replace("0c1f5e0a00c0", "0c1f5e0a00c1"))
    huge = "A" * 1_000_000
    hostile: list[Any] = [
        None, [], "text", 7,
        {"errorCode": "AccessDenied"},  # no eventTime
        {"errorCode": "AccessDenied", "eventTime": 12345, "eventID": ["x"]},
        {"errorCode": "AccessDenied", "eventTime": "not a time", "userIdentity": "root"},
        {"errorCode": "AccessDenied", "eventTime": "2026-11-20T10:00:00"},  # no zone: not trusted as UTC
        {"errorCode": "AccessDenied", "eventTime": at(0), "userIdentity": {"arn": {"nested": [1, 2]}}},
        {"errorCode": "AccessDenied", "eventTime": at(0), "eventID": 5, "userIdentity": [{"arn": "a"}, {"arn": "b"}]},
        {"eventName": "GetSecretValue", "eventTime": at(0), "requestParameters": {"secretId": {"a": huge}}},
        {"eventName": "GetSecretValue", "eventTime": at(0), "requestParameters": None},
    ]  # fmt: skip
    hostile += [refused(m / 10, identity_arn := huge) | {"userIdentity": {"arn": identity_arn}} for m in range(5)]
    correlator = detector.correlator()
    assert correlator is not None
    run = correlator.run(hostile, MemoryWindows(), "slow")
    assert run.untimed == 4
    assert len(run.alerts) == 1  # the five refusals by the principal with the huge ARN
    alert = run.alerts[0]
    assert alert["unmapped"]["correlation"]["group"]["userIdentity.arn"].startswith("sha256:")
    assert len(alert["finding_info"]["uid"]) < 200
    assert all(len(key) < 2000 for _, key, _, _ in run.changes)
    assert len(orjson.dumps(alert)) < 12 * correlation_module.MAX_EVIDENCE_BYTES  # each event kept bounded


def test_memory_bounds_hold_for_groups_events_and_evidence(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr(correlation_module, "MAX_EVENTS_PER_GROUP", 50)
    detector = load(tmp_path, BASE + correlation("event_count", "[refused]", "    condition: {gte: 40}\n",
                                                 timespan="1d"))
    correlator = detector.correlator()
    assert correlator is not None
    windows = MemoryWindows(max_groups=100)
    # 1000 principals, one refusal each: only the 100 most recent groups are remembered.
    run = correlator.run([refused(m / 100, f"u{m}") for m in range(1000)], windows, "hunt")
    windows.apply(run.changes)
    rule = detector.correlations[0].id
    assert windows.groups(rule) == 100
    assert windows.load_windows(rule, [orjson.dumps(["arn:aws:iam::111122223333:user/u999"]).decode()])
    assert not windows.load_windows(rule, [orjson.dumps(["arn:aws:iam::111122223333:user/u0"]).decode()])
    # One group, 30 events: under the threshold; its state holds at most MAX_EVIDENCE whole events.
    run = correlator.run([refused(m / 100, "zed") for m in range(30)], windows, "hunt")
    state = orjson.loads(run.changes[0][3])
    assert len(state["events"]) == 30 and len(state["evidence"]) == correlation_module.MAX_EVIDENCE
    # The same in the checkpoints file: beyond max_groups per rule, the least recent rows go.
    with Checkpoints(tmp_path / "c.sqlite") as checkpoints:
        run = correlator.run([refused(m / 100, f"u{m}") for m in range(300)], checkpoints, "slow")
        checkpoints.record(run.alerts, "file-1", "v", run.changes, max_groups=100)
        assert checkpoints.window_groups(rule) == 100


def test_events_per_group_are_bounded(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr(correlation_module, "MAX_EVENTS_PER_GROUP", 50)
    detector = load(tmp_path, BASE + correlation("value_count", "[secret_read]",
                                                 "    condition: {field: requestParameters.secretId, gte: 40}\n",
                                                 timespan="1d"))
    correlator = detector.correlator()
    assert correlator is not None
    # 1000 reads of one secret: the group remembers the newest 50 events, never more.
    run = correlator.run([secret(m / 100, "same") for m in range(1000)], MemoryWindows(), "hunt")
    assert run.alerts == [] and len(orjson.loads(run.changes[0][3])["events"]) == 50


# --- what is not supported is said ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, reason",
    [
        (correlation("event_count", "[refused]", "    condition: {lt: 5}\n"), "condition lt is not supported"),
        (correlation("event_count", "[refused]", "    condition: {neq: 5}\n"), "condition neq is not supported"),
        (correlation("value_sum", "[refused]", "    condition: {field: x, gte: 5}\n"), "value_sum is not supported"),
        (correlation("event_count", "[nowhere]", "    condition: {gte: 5}\n"), "'nowhere', which is not a loaded"),
        (correlation("event_count", "[refused]", "    condition: {gte: 5000}\n"), "above the 1000 events"),
        (correlation("event_count", "[refused]", "    condition: {gte: 5}\n", timespan="90d"), "longer than 31 days"),
        (correlation("temporal", "[login, key_created]", "    condition: {gte: 3}\n", timespan="1h"),
         "3 is more than its 2 rules"),
        (correlation("temporal", None, "    condition: login and key_created\n"),  # type: ignore[arg-type]
         "extended (boolean) correlation conditions"),
        (correlation("temporal_ordered", "[login, key_created]", "    condition: {gte: 1}\n"),
         "only its default condition"),
        (correlation("event_count", "[refused]", "    condition: {gte: 5, field: x}\n"),
         "only meaningful for value_count"),
        (correlation("event_count", "[inner]", "    condition: {gte: 5}\n")
         + correlation("event_count", "[refused]", "    condition: {gte: 2}\n", title="Inner",
                       identifier="7d1f0c7e-5b1a-4c2e-9a51-0c1f5e0a00c9").replace("title: Inner",
                                                                                  "title: Inner\nname: inner"),
         "chained correlations are not supported"),
        (correlation("event_count", "[refused]", "    condition: {gte: 5}\n",
                     extra="    aliases:\n        who:\n            login: userIdentity.arn\n").replace(
                         "group-by: [userIdentity.arn]", "group-by: [who]"), "alias 'who' names no field"),
    ],
    ids=["lt", "neq", "value_sum", "missing-rule", "count-over-bound", "timespan", "temporal-count", "extended",
         "ordered-condition", "field-on-event-count", "chained", "alias"],
)
def test_unsupported_correlation_features_are_reported_with_the_reason(tmp_path: Path, text: str, reason: str) -> None:
    (tmp_path / "r.yml").write_text(BASE + text.replace("    rules: None\n", ""))
    detector = Detector.load([tmp_path / "r.yml"], bundled=False)
    assert any(reason in problem.reason for problem in detector.problems), detector.problems
    assert all(p.source == str(tmp_path / "r.yml") for p in detector.problems)
    assert len(detector.rules) == 4  # the base rules still load (and, unreferenced by a loaded correlation, alert)
    assert all(rule.generates for rule in detector.rules if rule.title != "Refused call" or "chained" not in reason)


def test_aliases_map_group_by_to_each_rules_field(tmp_path: Path) -> None:
    aliased = correlation("temporal_ordered", "[login, key_created]", "", timespan="1h",
                          extra="    aliases:\n        who:\n            login: userIdentity.arn\n"
                                "            key_created: requestParameters.userName\n").replace(
        "group-by: [userIdentity.arn]", "group-by: [who]")
    detector = load(tmp_path, BASE + aliased)
    admin_creates_for_alice = key_created(10, "admin") | {"requestParameters": {
        "userName": "arn:aws:iam::111122223333:user/alice"}}
    alerts = hunt(detector, [login(0, "alice"), admin_creates_for_alice])
    assert [a["unmapped"]["correlation"]["group"] for a in alerts] == [{"who": "arn:aws:iam::111122223333:user/alice"}]
