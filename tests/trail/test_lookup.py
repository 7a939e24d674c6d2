"""``trail ingest --lookup``: CloudTrail's LookupEvents API as a trail source, into a real DuckDB store.

The embedded emulator (moto) does not implement LookupEvents (see /work/shared/reference/emulator-coverage.md),
so these tests run ``tests/trail/lookup_server.py``: a loopback HTTP server that speaks CloudTrail's JSON 1.1
protocol (and STS GetCallerIdentity, for the CLI). The clients are real boto3 clients built by ``AwsContext``, so
request signing, pagination tokens, error parsing and botocore's adaptive retries all run for real. The source is
given a fixed clock (``NOW``); the server has none and serves whatever events a test gives it.

One test serves real CloudTrail records recorded while detonating Stratus Red Team attack techniques
(DataDog/stratus-red-team, Apache License 2.0; see the README and LICENSE beside the data in
shared/data/stratus-red-team-detonation-logs/).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cloudwarden.aws.session import DEFAULT_MAX_ATTEMPTS, AwsContext
from cloudwarden.demo.emulator import EMULATOR_CREDENTIALS
from cloudwarden.trail.ingest import ingest
from cloudwarden.trail.lookup import (
    MAX_EVENT_BYTES,
    PAGE_SIZE,
    LookupAccessDenied,
    LookupSource,
    _Pacer,
    lookup_window,
)
from cloudwarden.trail.store import TrailStore
from tests.e2e.conftest import cli_env, run_cli
from tests.trail.helpers import ACCOUNT, STRATUS_DIR, event, write_log
from tests.trail.lookup_server import FakeCloudTrail

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
START = datetime(2026, 11, 25, tzinfo=UTC)  # a fixed window start: slices 25, 26, 27 (complete) and 28 (open)
DAYS = ("2026-11-25", "2026-11-26", "2026-11-27", "2026-11-28")
POLICY = Path(__file__).parents[2] / "docs" / "iam" / "cloudwarden-trail-policy.json"


@pytest.fixture
def fake() -> Iterator[FakeCloudTrail]:
    with FakeCloudTrail(ACCOUNT) as server:
        yield server


def context(fake: FakeCloudTrail, max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> AwsContext:
    return AwsContext.create(
        endpoint_url=fake.endpoint_url, credentials=EMULATOR_CREDENTIALS, max_attempts=max_attempts
    )


def source(
    aws: AwsContext,
    regions: tuple[str, ...] = ("us-east-1",),
    now: datetime = NOW,
    start: datetime | None = START,
    rate: float = 0.0,
) -> LookupSource:
    return LookupSource(aws, ACCOUNT, list(regions), lookup_window(start, None, now), now=now, requests_per_second=rate)


def iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def stored_ids(store: TrailStore) -> set[str]:
    return {row[0] for row in store.connection.execute("SELECT event_id FROM events").fetchall()}


def location(region: str, day: str) -> str:
    return f"lookup://{ACCOUNT}/{region}/{day}"


def page_requests(fake: FakeCloudTrail, answer: str | None = "ok") -> list[dict[str, Any]]:
    """The requests that read slices (not the one-event access check of each region)."""
    return [r for r in fake.lookup_requests(answer) if r["params"]["MaxResults"] == PAGE_SIZE]


def epoch(when: datetime) -> int:
    return int(when.timestamp())


def seed_three_days(fake: FakeCloudTrail) -> set[str]:
    """300 events in us-east-1 every 10 minutes back from NOW (144 on 27 November: three pages), one at exactly
    midnight (LookupEvents' bounds are inclusive: two slices return it), three in eu-west-1."""
    ids = set()
    for i in range(300):
        ids.add(f"use1-{i}")
        fake.add("us-east-1", event(when=iso(NOW - timedelta(minutes=3 + 10 * i)), event_id=f"use1-{i}"))
    fake.add("us-east-1", event(when="2026-11-27T00:00:00Z", event_id="midnight"))
    for i, day in enumerate(DAYS[1:]):
        fake.add("eu-west-1", event(when=f"{day}T08:00:00Z", event_id=f"euw1-{i}", awsRegion="eu-west-1"))
    return ids | {"midnight", "euw1-0", "euw1-1", "euw1-2"}


def only_us_east_1(ids: set[str]) -> set[str]:
    return {i for i in ids if not i.startswith("euw1-")}


def test_pages_of_every_region_and_day_land_exactly_once(fake: FakeCloudTrail, tmp_path: Path) -> None:
    expected = seed_three_days(fake)
    aws = context(fake)
    with TrailStore(tmp_path / "trail.duckdb") as store:
        summary = ingest(store, source(aws, ("us-east-1", "eu-west-1")), workers=3)
        assert (summary.bad_files, summary.bad_records) == ([], [])
        assert summary.files_listed == summary.files_read == 8
        assert summary.events_added == store.count_events() == len(expected) == 304
        assert stored_ids(store) == expected
        assert summary.duplicates == 1  # the midnight event, returned by both of its days
        manifest = dict(store.connection.execute("SELECT location, events FROM ingested_files").fetchall())
    assert set(manifest) == {location(r, d) for r in ("us-east-1", "eu-west-1") for d in DAYS}
    assert manifest[location("us-east-1", "2026-11-27")] == 145  # 144 + midnight
    pages = page_requests(fake)
    assert {r["region"] for r in pages} == {"us-east-1", "eu-west-1"}
    assert sum(1 for r in pages if "NextToken" in r["params"]) >= 3  # 27 and 28 November take several pages
    assert all(len(r["params"]) <= 4 for r in pages)  # StartTime, EndTime, MaxResults, NextToken: no filters
    assert aws.api_calls == {"cloudtrail:LookupEvents": len(fake.requests)}


def test_second_run_skips_complete_days_and_reads_only_what_is_new(fake: FakeCloudTrail, tmp_path: Path) -> None:
    expected = only_us_east_1(seed_three_days(fake))
    aws = context(fake)
    with TrailStore(tmp_path / "trail.duckdb") as store:
        ingest(store, source(aws))
        fake.requests.clear()
        fake.add("us-east-1", event(when=iso(NOW + timedelta(minutes=5)), event_id="new-today"))
        again = ingest(store, source(aws, now=NOW + timedelta(minutes=10)))
        assert (again.files_listed, again.files_skipped, again.files_read) == (4, 3, 1)
        assert again.events_added == 1 and stored_ids(store) == expected | {"new-today"}
        assert {r["params"]["StartTime"] for r in page_requests(fake)} == {epoch(datetime(2026, 11, 28, tzinfo=UTC))}

        # Late in the evening, then after midnight: the 28th is read once more once complete (a late event
        # lands), and from then on skipped.
        fake.add("us-east-1", event(when="2026-11-28T23:50:00Z", event_id="late-evening"))
        after_midnight = ingest(store, source(aws, now=datetime(2026, 11, 29, 1, 30, tzinfo=UTC)))
        assert (after_midnight.files_skipped, after_midnight.files_read) == (3, 2)  # 28th (now complete), 29th
        assert after_midnight.events_added == 1 and "late-evening" in stored_ids(store)
        later = ingest(store, source(aws, now=datetime(2026, 11, 29, 2, 0, tzinfo=UTC)))
        assert (later.files_skipped, later.files_read, later.events_added) == (4, 1, 0)
        assert store.count_events() == len(expected) + 2


def test_throttling_is_retried(fake: FakeCloudTrail, tmp_path: Path) -> None:
    expected = seed_three_days(fake)
    throttles = iter([True, True])
    fake.throttle_if = lambda params: params["MaxResults"] == PAGE_SIZE and next(throttles, False)
    with TrailStore(tmp_path / "trail.duckdb") as store:
        summary = ingest(store, source(context(fake), ("us-east-1", "eu-west-1")))
        assert summary.bad_files == [] and stored_ids(store) == expected
    assert len(fake.lookup_requests("ThrottlingException")) == 2


def test_throttling_beyond_retries_is_reported_and_read_next_run(fake: FakeCloudTrail, tmp_path: Path) -> None:
    us_east_1 = only_us_east_1(seed_three_days(fake))
    day = datetime(2026, 11, 26, tzinfo=UTC)
    fake.throttle_if = lambda params: params["StartTime"] == epoch(day) and params["MaxResults"] == PAGE_SIZE
    aws = context(fake, max_attempts=2)
    throttled = location("us-east-1", "2026-11-26")
    with TrailStore(tmp_path / "trail.duckdb") as store:
        first = ingest(store, source(aws))
        [bad] = first.bad_files
        assert bad.location == throttled
        # AwsContext's max_attempts counts tries: the first and one retry
        assert bad.reason.startswith("cannot read: throttled by LookupEvents (ThrottlingException) after 2 attempts")
        assert throttled not in store.ingested()  # so the next run reads it again
        assert len(fake.lookup_requests("ThrottlingException")) == 2
        missing = {f"use1-{i}" for i in range(300) if (NOW - timedelta(minutes=3 + 10 * i)).date() == day.date()}
        assert len(missing) == 84 and stored_ids(store) == us_east_1 - missing  # midnight came with the 27th
        fake.throttle_if = None
        second = ingest(store, source(aws, now=NOW + timedelta(minutes=1)))
        assert second.bad_files == [] and second.files_read == 2  # the throttled day and today
        assert stored_ids(store) == us_east_1 and store.ingested()[throttled][2] is None


def test_a_throttled_access_check_does_not_stop_the_run(fake: FakeCloudTrail, tmp_path: Path) -> None:
    expected = only_us_east_1(seed_three_days(fake))
    fake.throttle_if = lambda params: params["MaxResults"] == 1  # only the access check
    with TrailStore(tmp_path / "trail.duckdb") as store:
        summary = ingest(store, source(context(fake, max_attempts=2)))
        assert summary.bad_files == [] and stored_ids(store) == expected
    assert len(fake.lookup_requests("ThrottlingException")) == 2


def test_malformed_cloudtrail_event_is_a_bad_record_and_the_rest_lands(fake: FakeCloudTrail, tmp_path: Path) -> None:
    when = "2026-11-27T10:00:00Z"
    for i in range(3):
        fake.add("us-east-1", event(when=when, event_id=f"good-{i}"))
    fake.add("us-east-1", event(when=when, event_id="cut-short"), text='{"eventID": "cut-short", "eventTi')
    fake.add("us-east-1", event(when=when, event_id="a-list"), text='["not", "an", "object"]')
    fake.add("us-east-1", event(when=when, event_id="huge"), text='"' + "x" * MAX_EVENT_BYTES + '"')
    with TrailStore(tmp_path / "trail.duckdb") as store:
        summary = ingest(store, source(context(fake)))
        assert summary.bad_files == []
        [bad] = summary.bad_records
        assert (bad.location, bad.count) == (location("us-east-1", "2026-11-27"), 3)
        reasons = sorted(bad.reasons)
        assert reasons[0].startswith("event a-list: CloudTrailEvent is a JSON list, not an object")
        assert reasons[1].startswith("event cut-short: CloudTrailEvent is not valid JSON: ")
        assert reasons[2].startswith(f"event huge: CloudTrailEvent is {MAX_EVENT_BYTES + 2} characters, over the")
        assert stored_ids(store) == {"good-0", "good-1", "good-2"}
        assert store.connection.execute(
            "SELECT events, bad_records FROM ingested_files WHERE location = ?", [bad.location]
        ).fetchone() == (3, 3)


def test_window_is_capped_at_the_90_days_lookupevents_keeps(fake: FakeCloudTrail, tmp_path: Path) -> None:
    capped = lookup_window(NOW - timedelta(days=200), None, NOW)
    assert (capped.start, capped.end) == (NOW - timedelta(days=90), NOW)
    assert capped.notice is not None and "only the last 90 days" in capped.notice
    default = lookup_window(None, None, NOW)  # whole days only: 31 August to now
    assert (default.start, default.notice) == (datetime(2026, 8, 31, tzinfo=UTC), None)
    assert lookup_window(NOW - timedelta(days=2), NOW + timedelta(days=5), NOW).end == NOW
    assert lookup_window(NOW.replace(tzinfo=None) - timedelta(days=1), None, NOW).start == NOW - timedelta(days=1)
    with pytest.raises(ValueError, match="LookupEvents answers for 2026-08-30T12:00:00Z to now"):
        lookup_window(NOW - timedelta(days=200), NOW - timedelta(days=100), NOW)

    fake.add("us-east-1", event(when=iso(NOW - timedelta(days=89)), event_id="old-but-kept"))
    with TrailStore(tmp_path / "trail.duckdb") as store:
        summary = ingest(store, source(context(fake), start=NOW - timedelta(days=200)))
        assert summary.files_read == 91 and stored_ids(store) == {"old-but-kept"}
    assert min(r["params"]["StartTime"] for r in fake.requests) == epoch(NOW - timedelta(days=90))


def test_access_denied_names_the_permission_and_changes_nothing(fake: FakeCloudTrail, tmp_path: Path) -> None:
    seed_three_days(fake)
    fake.deny = True
    with TrailStore(tmp_path / "trail.duckdb") as store:
        with pytest.raises(LookupAccessDenied, match=r"cloudtrail:LookupEvents in us-east-1 \(AccessDeniedException\)"):
            ingest(store, source(context(fake)))
        assert store.ingested() == {} and store.count_events() == 0


def test_requests_are_paced_per_region(fake: FakeCloudTrail, tmp_path: Path) -> None:
    seed_three_days(fake)
    with TrailStore(tmp_path / "trail.duckdb") as store:
        summary = ingest(store, source(context(fake), ("us-east-1", "eu-west-1"), rate=20.0), workers=4)
        assert summary.events_added == 304
    for region in ("us-east-1", "eu-west-1"):
        times = [r["at"] for r in fake.requests if r["region"] == region]
        assert len(times) >= 5
        # 20 a second, measured where the server receives them: a request may leave late (a client being built)
        # and the next one on time, so allow one interval of jitter; the exact schedule is tested below.
        assert times[-1] - times[0] >= 0.05 * (len(times) - 2)


def test_the_pacer_spaces_each_regions_requests_and_leaves_others_alone() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(round(seconds, 6))

    pacer = _Pacer(2.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(3):
        pacer.wait("us-east-1")
    pacer.wait("eu-west-1")
    assert slept == [0.5, 1.0]  # the second and third us-east-1 requests wait; eu-west-1 does not
    now[0] = 200.0
    pacer.wait("us-east-1")
    assert slept == [0.5, 1.0]  # after a quiet spell, no wait


def test_trail_policy_allows_what_lookup_ingestion_calls(fake: FakeCloudTrail, tmp_path: Path) -> None:
    seed_three_days(fake)
    aws = context(fake)
    with TrailStore(tmp_path / "trail.duckdb") as store:
        ingest(store, source(aws))
    allowed = set()
    for statement in json.loads(POLICY.read_text())["Statement"]:
        actions = statement["Action"]
        allowed |= {actions} if isinstance(actions, str) else set(actions)
    assert set(aws.api_calls) == {"cloudtrail:LookupEvents"} and set(aws.api_calls) <= allowed
    assert not any(action.split(":")[1].startswith(("Put", "Create", "Delete", "Update")) for action in allowed)


STRATUS_FILES = sorted(STRATUS_DIR.glob("*.json"))


@pytest.mark.skipif(not STRATUS_FILES, reason="shared/data/stratus-red-team-detonation-logs is not there")
def test_cli_ingests_stratus_red_team_events_through_lookup(fake: FakeCloudTrail, tmp_path: Path) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    ids = set()
    index = 0
    for path in STRATUS_FILES:
        for record in json.loads(path.read_text(encoding="utf-8")):  # real records, moved into the last 30 hours
            record["eventTime"] = iso(now - timedelta(minutes=2 + 5 * index))
            fake.add("us-east-1", record)
            ids.add(record["eventID"])
            index += 1
    assert len(ids) == 310
    env = cli_env()
    store = tmp_path / "trail.duckdb"
    args = ("trail", "ingest", "--lookup", "--endpoint-url", fake.endpoint_url, "--store", str(store))
    first = run_cli(*args, "--since", "2d", "--no-progress", env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    out = first.stdout.replace("\n", " ")
    assert "CloudTrail LookupEvents (111122223333: us-east-1)" in out and "310 events added" in out
    assert f"Account {ACCOUNT}" in first.stderr
    assert {r["region"] for r in fake.requests} == {"us-east-1"}

    who = run_cli(
        "trail", "who", "--action", "cloudtrail:StopLogging", "--store", str(store), "--json", env=env, cwd=tmp_path
    )
    [row] = [json.loads(line) for line in who.stdout.splitlines()]
    assert (row["principal"], row["event_id"]) == (
        "arn:aws:iam::143434273843:user/christophe",
        "10163ed2-2253-469d-a5ee-cbc6651f8934",
    )
    count = run_cli(
        "trail",
        "sql",
        "SELECT count(DISTINCT event_id) AS n FROM events",
        "--store",
        str(store),
        "--json",
        env=env,
        cwd=tmp_path,
    )
    assert json.loads(count.stdout) == {"n": 310}

    second = run_cli(*args, "--since", "2d", "--no-progress", env=env, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert "0 events added" in second.stdout.replace("\n", " ")

    # Asked for more than LookupEvents keeps: says so, and reads from 90 days ago.
    old = ("--from", iso(now - timedelta(days=200)), "--to", iso(now - timedelta(days=89)))
    fake.requests.clear()
    third = run_cli(*args, *old, "--no-progress", env=env, cwd=tmp_path)
    assert third.returncode == 0, third.stderr
    assert "LookupEvents keeps only the last 90 days" in " ".join(third.stderr.split())
    assert min(r["params"]["StartTime"] for r in fake.requests) >= epoch(now - timedelta(days=90))


def test_cli_usage_errors_and_access_denied(fake: FakeCloudTrail, tmp_path: Path) -> None:
    logs = write_log(tmp_path / "logs" / "a.json.gz", [event(event_id="x")]).parent
    env = cli_env(fake.endpoint_url)
    store = ("--store", str(tmp_path / "trail.duckdb"))
    for args, message in (
        (("--lookup", str(logs)), "give either SOURCE or --lookup"),
        ((), "give either SOURCE or --lookup"),
        ((str(logs), "--since", "1d"), "only with --lookup"),
        ((str(logs), "--region", "eu-west-1"), "only with --lookup"),
        (("--lookup", "--since", "1d", "--from", "2026-11-01"), "use --since or --from, not both"),
        (("--lookup", "--region", "eu-west-1", "--all-regions"), "use --region or --all-regions, not both"),
    ):
        result = run_cli("trail", "ingest", *args, *store, env=env, cwd=tmp_path)
        assert result.returncode == 2, (args, result.stderr)
        assert message in " ".join(result.stderr.split()), (args, result.stderr)
    assert fake.requests == []

    fake.deny = True
    denied = run_cli("trail", "ingest", "--lookup", "--since", "1d", *store, env=env, cwd=tmp_path)
    assert denied.returncode == 1
    assert "access denied to cloudtrail:LookupEvents in us-east-1" in " ".join(denied.stderr.split())
    assert "docs/iam/cloudwarden-trail-policy.json" in denied.stderr.replace("\n", "")
