"""The slow lane: log files landing in S3 (the emulator over HTTP), exactly-once alerts across lanes, replays and
kills at random points.

Stratus Red Team detonation records (Apache 2.0) and SigmaHQ's CloudTrail rules (DRL 1.1), from ../shared/data.
"""

from __future__ import annotations

import gzip
import io
import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from cloudwarden.detect.checkpoints import Checkpoints
from cloudwarden.detect.engine import Detector
from cloudwarden.detect.lanes import fast
from cloudwarden.detect.lanes.slow import NewObject, SlowLane, handle_notification, objects_in
from cloudwarden.detect.sinks import FileSink
from tests.e2e.conftest import cli_env
from tests.trail.helpers import SIGMA_DIR, STRATUS_DIR, cloudtrail_key

pytestmark = pytest.mark.skipif(not SIGMA_DIR.is_dir(), reason="../shared/data is not beside this clone")
BUCKET = "acme-trail"
FILES = 150


def stratus_records() -> list[dict[str, Any]]:
    return [record for path in sorted(STRATUS_DIR.glob("*.json")) for record in json.loads(path.read_text())]


@pytest.fixture(scope="module")
def sigmahq() -> Detector:
    return Detector.load([SIGMA_DIR], bundled=False)


def s3_event(bucket: str, key: str, etag: str = "abc", name: str = "ObjectCreated:Put") -> dict[str, Any]:
    return {"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "eventName": name,
                         "s3": {"bucket": {"name": bucket}, "object": {"key": key, "size": 10, "eTag": etag}}}]}


def test_notifications_are_unwrapped_from_s3_sqs_and_sns() -> None:
    direct = s3_event("b", "AWSLogs/1/CloudTrail/us-east-1/2026/11/28/a%3Ab+c.json.gz")
    via_sns = {"Records": [{"EventSource": "aws:sns", "Sns": {"Message": json.dumps(direct)}}]}
    via_sqs = {"Records": [{"eventSource": "aws:sqs", "body": json.dumps(direct)}]}
    sns_via_sqs = {"Records": [{"eventSource": "aws:sqs",
                                "body": json.dumps({"Type": "Notification", "Message": json.dumps(direct)})}]}
    expected = [NewObject("b", "AWSLogs/1/CloudTrail/us-east-1/2026/11/28/a:b c.json.gz", 10, "abc")]
    for event in (direct, via_sns, via_sqs, sns_via_sqs):
        assert list(objects_in(event)) == expected
    test_event = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "b"}
    garbage = {"Records": [{"eventSource": "aws:sqs", "body": "{not json"}, "x", {"s3": "y", "eventName": "Obj"}]}
    removed = s3_event("b", "k", name="ObjectRemoved:Delete")
    deep = direct
    for _ in range(5):
        deep = {"Records": [{"eventSource": "aws:sqs", "body": json.dumps(deep)}]}
    assert [list(objects_in(e)) for e in (test_event, garbage, removed, deep, None, [])] == [[]] * 6


def upload(aws: Any, records: list[dict[str, Any]], name: str) -> tuple[str, str]:
    key = cloudtrail_key(name=name)
    body = gzip.compress(orjson.dumps({"Records": records}))
    etag = aws.client("s3").put_object(Bucket=BUCKET, Key=key, Body=body)["ETag"].strip('"')
    return key, etag


def test_slow_lane_alerts_once_per_rule_and_event_across_replays_and_lanes(aws: Any, sigmahq: Detector,
                                                                          tmp_path: Path) -> None:
    aws.client("s3").create_bucket(Bucket=BUCKET)
    records = stratus_records()
    first, second = records[: len(records) // 2], records[len(records) // 2 :]
    key_1, etag_1 = upload(aws, first, "one")
    key_2, etag_2 = upload(aws, second + first[:5], "two")  # an overlap, as when a trail is delivered twice
    expected = {a["finding_info"]["uid"] for r in records for a in sigmahq.alerts(r, "test")}
    out = tmp_path / "alerts.jsonl"
    s3 = aws.context().client("s3")
    with Checkpoints(tmp_path / "checkpoints.sqlite") as checkpoints:
        lane = SlowLane(sigmahq, checkpoints, [FileSink(out)])
        result = handle_notification(s3_event(BUCKET, key_1, etag_1), lane, s3)
        result_2 = handle_notification(
            {"Records": [{"eventSource": "aws:sqs", "body": json.dumps(s3_event(BUCKET, key_2, etag_2))}]}, lane, s3
        )
        replay = handle_notification(s3_event(BUCKET, key_1, etag_1), lane, s3)
        assert (result["files"], result_2["files"], replay["skipped"], replay["alerts"]) == (1, 1, 1, 0)
        # The fast lane sees an event the slow lane already alerted on: nothing new.
        stdout = io.StringIO()
        seen = next(r for r in records if sigmahq.matches(r))
        assert fast.process({"detail-type": "AWS API Call via CloudTrail", "detail": seen}, sigmahq, stdout,
                            checkpoints)["alerts"] == 0
        assert stdout.getvalue() == ""
        assert checkpoints.counts() == {"files": 2, "seen": len(expected), "outbox": 0}
    written = [orjson.loads(line)["finding_info"]["uid"] for line in out.read_bytes().splitlines()]
    assert sorted(written) == sorted(expected) and len(expected) > 10


def test_a_file_that_cannot_be_read_is_not_checkpointed(aws: Any, sigmahq: Detector, tmp_path: Path) -> None:
    aws.client("s3").create_bucket(Bucket=BUCKET)
    key = cloudtrail_key(name="torn")
    aws.client("s3").put_object(Bucket=BUCKET, Key=key, Body=gzip.compress(b'{"Records": [')[:-6])
    with Checkpoints(tmp_path / "c.sqlite") as checkpoints:
        lane = SlowLane(sigmahq, checkpoints, [FileSink(tmp_path / "a.jsonl")])
        result = handle_notification(s3_event(BUCKET, key), lane, aws.context().client("s3"))
        assert result["files"] == 1 and "gzip" in result["errors"][0] and checkpoints.counts()["files"] == 0


def test_killed_at_random_points_the_watcher_loses_nothing_and_repeats_nothing(aws: Any, sigmahq: Detector,
                                                                               tmp_path: Path) -> None:
    aws.client("s3").create_bucket(Bucket=BUCKET)
    records = stratus_records()
    rng = random.Random(20261128)  # noqa: S311 (reproducible kill points, not a secret)
    expected: set[str] = set()
    for index in range(FILES):  # many small files, so a kill can land between any two of them
        batch = [r | {"eventID": f"{r['eventID']}-{index}"} for r in rng.sample(records, 6)]
        upload(aws, batch, f"part-{index:03d}")
        expected |= {a["finding_info"]["uid"] for r in batch for a in sigmahq.alerts(r, "test")}
    out, checkpoints = tmp_path / "alerts.jsonl", tmp_path / "checkpoints.sqlite"

    def command(store: Path, output: Path) -> list[str]:
        return [sys.executable, "-m", "cloudwarden", "watch", "--once", "--bucket", BUCKET, "--checkpoints",
                str(store), "--sink", f"file:{output}", "--no-bundled", "--rules", str(SIGMA_DIR),
                "--settle-every", "20"]  # a few files a settle, so a kill can land between settles

    env = cli_env(aws.endpoint_url)
    started = time.monotonic()  # how long one whole run takes here, to aim the kills inside it
    subprocess.run(command(tmp_path / "timing.sqlite", tmp_path / "timing.jsonl"), env=env, check=True,
                   capture_output=True, timeout=300)
    whole_run = time.monotonic() - started
    mid_run_kills = 0
    for _ in range(20):
        process = subprocess.Popen(command(checkpoints, out), env=env, cwd=tmp_path, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.3, whole_run))
        if process.poll() is not None:
            break
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
        if checkpoints.exists():
            with Checkpoints(checkpoints) as store:
                mid_run_kills += 0 < store.counts()["files"] < FILES
    final = subprocess.run(command(checkpoints, out), env=env, cwd=tmp_path, capture_output=True, text=True,
                           timeout=300)
    assert final.returncode == 0, final.stderr
    written = [orjson.loads(line)["finding_info"]["uid"] for line in out.read_bytes().splitlines() if line.strip()]
    assert mid_run_kills >= 2, f"no kill landed while files were being evaluated (a run takes {whole_run:.1f}s)"
    assert len(written) == len(set(written)), "an alert was delivered twice"
    assert set(written) == expected
    with Checkpoints(checkpoints) as store:
        assert store.counts() == {"files": FILES, "seen": len(expected), "outbox": 0}
