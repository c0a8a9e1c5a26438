"""Benchmark: time to simulate and write the MMM world at growing sizes.

Run: ``python benchmarks/simulate_mmm.py`` (writes its section of benchmarks/RESULTS.md).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _results import peak_rss_mib, update_section
from mixlens.data.simulate.mmm import MMMWorldConfig, simulate_mmm

CASES = [
    ("156 weeks, 6 channels", MMMWorldConfig()),
    ("156 weeks, 8 channels", MMMWorldConfig(n_channels=8)),
    ("156 weeks, 6 channels, 10 regions", MMMWorldConfig(regions=10)),
    ("520 weeks, 8 channels, 10 regions", MMMWorldConfig(weeks=520, n_channels=8, regions=10)),
]


def main() -> None:
    rows = [
        "| world | campaign-days with spend | simulate s | write s | peak RSS MiB |",
        "|---|---|---|---|---|",
    ]
    for label, config in CASES:
        t0 = time.perf_counter()
        world = simulate_mmm(config, seed=1)
        t1 = time.perf_counter()
        with tempfile.TemporaryDirectory() as out:
            world.write(out)
        t2 = time.perf_counter()
        rows.append(
            f"| {label} | {len(world.daily_campaign):,} | {t1 - t0:.2f} | {t2 - t1:.2f} "
            f"| {peak_rss_mib():.0f} |"
        )
        print(rows[-1], flush=True)
    update_section("simulate_mmm", "\n".join(rows), command="python benchmarks/simulate_mmm.py")


if __name__ == "__main__":
    main()
