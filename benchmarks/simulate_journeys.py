"""Benchmark: simulate the journey world and write its files, at 100k and 1M users.

Each size runs in a fresh process, so its peak RSS is its own. Prints a markdown table and
updates the ``simulate_journeys`` section of benchmarks/RESULTS.md.

Run: ``PYTHONPATH=src python benchmarks/simulate_journeys.py [--users 100000 1000000]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _results import peak_rss_mib, update_section
from mixlens.data.simulate.journeys import JourneyWorldConfig, simulate_journeys

COMMAND = "PYTHONPATH=src python benchmarks/simulate_journeys.py"


def run_one(users: int, seed: int) -> dict[str, float]:
    """Simulate and write one world; return timings, sizes and peak RSS."""
    t0 = time.perf_counter()
    world = simulate_journeys(JourneyWorldConfig(users=users), seed=seed)
    t1 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        written = world.write(tmp)
        t2 = time.perf_counter()
        size = sum(p.stat().st_size for p in written)
    return {
        "users": users,
        "touches": len(world.touchpoints),
        "conversions": len(world.conversions),
        "paths": len(world.paths),
        "simulate_s": t1 - t0,
        "write_s": t2 - t1,
        "total_s": t2 - t0,
        "touches_per_s": len(world.touchpoints) / (t2 - t0),
        "mib_written": size / 2**20,
        "peak_rss_mib": peak_rss_mib(),
    }


def run_fresh(users: int, seed: int) -> dict[str, float]:
    """Run :func:`run_one` in a fresh interpreter so peak RSS is per size."""
    out = subprocess.run(
        [sys.executable, __file__, "--one", str(users), "--seed", str(seed)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def table(rows: list[dict[str, float]]) -> str:
    lines = [
        "| users | touchpoints | conversions | paths | simulate s | write s | total s "
        "| touchpoints/s | MiB written | peak RSS MiB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['users']:,.0f} | {r['touches']:,.0f} | {r['conversions']:,.0f} "
            f"| {r['paths']:,.0f} | {r['simulate_s']:.2f} | {r['write_s']:.2f} "
            f"| {r['total_s']:.2f} | {r['touches_per_s']:,.0f} | {r['mib_written']:,.0f} "
            f"| {r['peak_rss_mib']:,.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="Benchmark simulate_journeys + write.")
    parser.add_argument("--users", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--no-save", action="store_true", help="do not update RESULTS.md")
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(run_one(args.one, args.seed)))
        return
    rows = []
    for users in sorted(args.users):
        rows.append(run_fresh(users, args.seed))
        print(table(rows[-1:]).splitlines()[-1], flush=True)
    body = table(rows)
    print(body)
    if not args.no_save:
        note = (
            "`simulate_journeys(JourneyWorldConfig(users=N), seed=0)` then `.write(dir)` "
            "(touchpoints.csv, conversions.csv, paths.csv, truth/), 8 channels, 90 days; "
            "each size in a fresh process (peak RSS is its own).\n\n"
        )
        update_section("simulate_journeys", note + body, command=COMMAND)


if __name__ == "__main__":
    main()
