"""Detection throughput with every rule loaded (the bundled rules and SigmaHQ's 57 CloudTrail rules).

Slow lane: generates N gzip CloudTrail log files (the generator of bench/trail_ingest.py: IAM users, assumed
roles, Identity Center, root and AWS services, some large request parameters; several hundred records per file,
as CloudTrail delivers them), then in one run times

  (a) gunzip + orjson.loads of every file (the floor: what any reader must pay),
  (b) the slow lane over the same files: ``SlowLane`` over a ``LocalSource``, a real checkpoints file and a file
      sink (read, match, build the OCSF alerts, deliver them with one fsync per group of files, then commit their
      seen-marks and the files' checkpoints),

and prints events/s of both and the ratio (b)/(a) (target >= 0.7). For where the time goes it also times
  (c) reading and evaluating the same files without checkpoints or sinks (read, match, build the alerts).

Fast lane: N realistic records mixed with the Stratus Red Team detonations, each wrapped as EventBridge delivers
it, timed through the fast lane's ``process`` one by one (matching, building the OCSF alerts, writing them as
JSON lines to /dev/null). Prints the median and p99 in microseconds (target: median <= 20 us).

    .venv/bin/python bench/detect_throughput.py [--files 1000] [--records 300] [--events 100000]
    .venv/bin/python bench/detect_throughput.py --profile slow    # cProfile of (b), the top 25 by own time
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cloudwarden.detect.checkpoints import Checkpoints
from cloudwarden.detect.engine import Detector
from cloudwarden.detect.lanes.fast import process
from cloudwarden.detect.lanes.slow import SlowLane
from cloudwarden.detect.sinks import FileSink
from cloudwarden.trail.sources import LocalSource
from trail_ingest import REGIONS, generate, parse_only, record

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def stratus_records() -> list[dict[str, Any]]:
    return [r for path in sorted((DATA / "stratus-red-team-detonation-logs").glob("*.json"))
            for r in json.loads(path.read_text())]


def slow_lane(detector: Detector, files: int, records: int, profile: bool, work: Path | None) -> None:
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        paths, total = generate(folder / "logs", files, records)
        size = sum(p.stat().st_size for p in paths)
        print(f"generated {len(paths)} files, {total:,} events, {size / 1e6:.1f} MB gz "
              f"in {time.perf_counter() - started:.1f}s")
        parse_only(paths[: min(20, len(paths))])  # warm the page cache and the allocator
        events_a, seconds_a = parse_only(paths)
        with Checkpoints(folder / "checkpoints.sqlite") as checkpoints:
            lane = SlowLane(detector, checkpoints, [FileSink(folder / "alerts.ocsf.jsonl")])
            profiler = cProfile.Profile() if profile else None
            started = time.perf_counter()
            if profiler:
                profiler.enable()
            outcomes = lane.process_all(LocalSource(folder / "logs"))
            if profiler:
                profiler.disable()
            seconds_b = time.perf_counter() - started
            counts = checkpoints.counts()
        events_b = sum(o.events for o in outcomes)
        errors = [o.error for o in outcomes if o.error]
        assert events_b == total and not errors, (events_b, total, errors[:3])
        assert counts["outbox"] == 0, counts
        source = LocalSource(folder / "logs")
        started = time.perf_counter()
        events_c = alerts_c = 0
        for log in source.list():
            parsed = source.read(log)
            events_c += len(parsed.records)
            alerts_c += sum(len(detector.alerts(r, "slow")) for r in parsed.records)
        seconds_c = time.perf_counter() - started
        rate_a, rate_b = events_a / seconds_a, events_b / seconds_b
        print(f"(a) gunzip + orjson.loads: {events_a:,} events in {seconds_a:.2f}s = {rate_a:,.0f} events/s")
        print(f"(b) slow lane:             {events_b:,} events in {seconds_b:.2f}s = {rate_b:,.0f} events/s "
              f"({counts['seen']:,} alerts, {counts['seen'] / events_b:.1%} of events)")
        print(f"ratio (b)/(a) = {rate_b / rate_a:.2f} (target >= 0.7)")
        print(f"(c) read + evaluate only:  {events_c:,} events in {seconds_c:.2f}s = {events_c / seconds_c:,.0f} "
              f"events/s ({alerts_c:,} alerts built; ratio (c)/(a) = {events_c / seconds_c / rate_a:.2f}): the rest "
              "of (b) is encoding, delivering and recording the alerts")
        if profiler:
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


def fast_lane(detector: Detector, count: int) -> None:
    rng = random.Random(7)
    start = datetime.now(UTC) - timedelta(days=1)
    events = [record(rng, start + timedelta(milliseconds=i), REGIONS[i % 2]) for i in range(count)]
    for index, attack in enumerate(stratus_records()):  # spread the detonations through the ordinary traffic
        events[(index * 997) % len(events)] = attack
    envelopes = [{"detail-type": "AWS API Call via CloudTrail", "detail": e} for e in events]
    timings = []
    alerts = 0
    with open("/dev/null", "w") as sink:
        for envelope in envelopes[:1000]:  # warm caches and the allocator
            process(envelope, detector, sink)
        clock = time.perf_counter_ns
        for envelope in envelopes:
            started = clock()
            alerts += process(envelope, detector, sink)["alerts"]
            timings.append(clock() - started)
    timings.sort()
    median = statistics.median(timings) / 1000
    p99 = timings[int(len(timings) * 0.99)] / 1000
    print(f"fast lane over {len(envelopes):,} events: median {median:.1f} us, p99 {p99:.1f} us per event "
          f"(target: median <= 20 us); {alerts:,} alerts")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000, help="log files for the slow lane (0: skip it)")
    parser.add_argument("--records", type=int, default=300, help="records per log file")
    parser.add_argument("--events", type=int, default=100_000, help="events for the fast lane (0: skip it)")
    parser.add_argument("--profile", choices=("slow",), help="print a cProfile of the slow lane's run")
    parser.add_argument("--dir", type=Path, help="work folder (default: a temporary one; /dev/shm leaves out the "
                        "disk's fsync time)")
    args = parser.parse_args()
    detector = Detector.load([DATA / "sigma-rules-aws-cloudtrail"])
    print(f"{len(detector.rules)} rules loaded ({len(detector.correlations)} correlations), "
          f"{len(detector.problems)} not loaded")
    if args.files:
        slow_lane(detector, args.files, args.records, args.profile == "slow", args.dir)
    if args.events:
        fast_lane(detector, args.events)


if __name__ == "__main__":
    main()
