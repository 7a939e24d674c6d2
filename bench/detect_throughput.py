"""Fast-lane cost per event with every rule loaded (the bundled rules and SigmaHQ's 57 CloudTrail rules).

Generates N realistic CloudTrail records (the generator of bench/trail_ingest.py: IAM users, assumed roles,
Identity Center, root and AWS services, some large request parameters) mixed with the Stratus Red Team
detonation records, wraps each as EventBridge delivers it, and times the fast lane's ``process`` per event
(matching, building the OCSF alerts, writing them as JSON lines to /dev/null). Prints the median and p99 in
microseconds (target: median <= 20 us) and the alerts raised.

    .venv/bin/python bench/detect_throughput.py [--events 100000]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cloudwarden.detect.engine import Detector
from cloudwarden.detect.lanes.fast import process
from trail_ingest import REGIONS, record

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()
    detector = Detector.load([DATA / "sigma-rules-aws-cloudtrail"])
    print(f"{len(detector.rules)} rules loaded, {len(detector.problems)} not loaded")
    rng = random.Random(7)
    start = datetime.now(UTC) - timedelta(days=1)
    events = [record(rng, start + timedelta(milliseconds=i), REGIONS[i % 2]) for i in range(args.events)]
    attacks = [r for path in sorted((DATA / "stratus-red-team-detonation-logs").glob("*.json"))
               for r in json.loads(path.read_text())]
    for index, attack in enumerate(attacks):  # spread the detonations through the ordinary traffic
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
          f"(target: median <= 20 us); {alerts} alerts")


if __name__ == "__main__":
    main()
