"""How scan time and API calls grow with the size of the account.

Seeds the embedded AWS with the sample company at scale 1, 10 and 50 (per-team resources multiplied),
scans it over HTTP exactly as a real account, and prints wall time, API calls, resources and findings per
scale, then the ratio time(50)/time(1). Target: time grows at most linearly (ratio <= 60 for 50x the
resources) and API calls per resource stay flat.

    .venv/bin/python bench/scan_scale.py [--scales 1,10,50] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

from cloudwarden.demo.emulator import DEFAULT_ACCOUNT_ID, EmbeddedAws
from cloudwarden.demo.environment import DEMO_REGIONS, seed_sample_company
from cloudwarden.posture.scan import scan_account


def measure(emulator: EmbeddedAws, scale: int, repeat: int, core_only: bool) -> dict[str, float]:
    emulator.reset()
    seeder = emulator.context(read_only=False)
    seed_sample_company(lambda s, r: seeder.client(s, r), DEFAULT_ACCOUNT_ID, scale=scale,
                        more_samples=not core_only)
    times, calls, resources, findings = [], 0, 0, 0
    for _ in range(repeat):
        scanner = emulator.context()
        started = time.perf_counter()
        inventory, result = scan_account(scanner, list(DEMO_REGIONS))
        times.append(time.perf_counter() - started)
        calls, resources, findings = result.api_calls, len(inventory.resources), len(result.findings)
    return {"scale": scale, "seconds": statistics.median(times), "calls": calls, "resources": resources,
            "findings": findings}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="1,10,50")
    parser.add_argument("--repeat", type=int, default=3, help="scans per scale; the median time is reported")
    parser.add_argument("--core-only", action="store_true",
                        help="seed only the first slice's resources (IAM, S3, EC2, CloudTrail, KMS, Config)")
    args = parser.parse_args()
    scales = [int(s) for s in args.scales.split(",")]
    with EmbeddedAws() as emulator:
        rows = [measure(emulator, scale, args.repeat, args.core_only) for scale in scales]
    print(f"{'scale':>5} {'resources':>9} {'API calls':>9} {'calls/res':>9} {'findings':>8} {'seconds':>8}")
    for row in rows:
        print(f"{row['scale']:>5} {row['resources']:>9} {row['calls']:>9} {row['calls'] / row['resources']:>9.2f} "
              f"{row['findings']:>8} {row['seconds']:>8.2f}")
    first, last = rows[0], rows[-1]
    growth = last["resources"] / first["resources"]
    print(f"time({last['scale']})/time({first['scale']}) = {last['seconds'] / first['seconds']:.1f} "
          f"for {growth:.1f}x the resources (target: <= {last['scale'] / first['scale'] * 1.2:.0f})")


if __name__ == "__main__":
    main()
