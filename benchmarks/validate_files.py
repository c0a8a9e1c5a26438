"""Benchmark: validating simulated input files at the boundary (read + checks + profile).

Run: ``python benchmarks/validate_files.py`` (writes its section of benchmarks/RESULTS.md).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _results import peak_rss_mib, update_section
from mixlens.data.loaders import validate_file
from mixlens.data.simulate.journeys import JourneyWorldConfig, simulate_journeys
from mixlens.data.simulate.mmm import MMMWorldConfig, simulate_mmm


def _time(path: Path, kind: str, **kwargs: object) -> tuple[float, int]:
    t0 = time.perf_counter()
    profile = validate_file(path, kind, **kwargs)  # type: ignore[arg-type]
    return time.perf_counter() - t0, profile.rows


def main() -> None:
    rows = ["| file | rows | MiB | validate s | rows/s |", "|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        simulate_mmm(MMMWorldConfig(regions=10), seed=1).write(out / "mmm")
        simulate_journeys(JourneyWorldConfig(users=1_000_000), seed=1).write(out / "journeys")
        cases = [
            ("weekly panel, 10 geos", out / "mmm" / "weekly_channel.csv", "weekly", {}),
            ("daily campaigns, 10 geos", out / "mmm" / "daily_campaign.csv", "campaigns", {}),
            ("touchpoints, 1M users", out / "journeys" / "touchpoints.csv", "touchpoints", {}),
            (
                "conversions + user check",
                out / "journeys" / "conversions.csv",
                "conversions",
                {"touchpoints": out / "journeys" / "touchpoints.csv"},
            ),
            ("paths, 1M users", out / "journeys" / "paths.csv", "paths", {}),
        ]
        for label, path, kind, kwargs in cases:
            seconds, n = _time(path, kind, **kwargs)
            size = path.stat().st_size / 2**20
            rows.append(f"| {label} | {n:,} | {size:.0f} | {seconds:.2f} | {n / seconds:,.0f} |")
            print(rows[-1], flush=True)
    rows.append(f"\npeak RSS {peak_rss_mib():.0f} MiB (includes simulating the worlds)")
    update_section("validate_files", "\n".join(rows), command="python benchmarks/validate_files.py")


if __name__ == "__main__":
    main()
