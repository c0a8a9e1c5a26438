"""The geo (hierarchical) MMM on Meridian's published geo panel and at scale.

Run (each case in a fresh process, so peak memory is per case)::

    PYTHONPATH=src nice python benchmarks/mmm_geo.py --case meridian --out /tmp/geo.jsonl
    PYTHONPATH=src nice python benchmarks/mmm_geo.py --case scale --out /tmp/geo.jsonl
    PYTHONPATH=src python benchmarks/mmm_geo.py --table /tmp/geo.jsonl

Cases:

* ``meridian``: ``geo_full_funnel_data.csv`` from google/meridian (20 geos x 156 weeks,
  3 channels, outcome ``conversions``, controls ``BrandedGQV_control`` and
  ``GenericGQV_control``; read from ``../shared/data/external/meridian``, never copied).
  The file has no ground truth, so the table reports fit time, diagnostics, memory and
  the estimated ROI (conversions per currency unit).
* ``scale``: a simulated world of 10 regions x 156 weeks x 15 channels (the simulator's
  channels repeated under new names), fitted with the full pipeline (``fit_to_dir``), to
  check that it fits without running out of memory; peak RSS of the whole process, and
  the total ROI's recovery against the simulator's truth.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import peak_rss_mib, update_section

EXTERNAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "external" / "meridian"
MERIDIAN_FILE = EXTERNAL / "geo_full_funnel_data.csv"


def run_meridian(draws: int, tune: int, chains: int, method: str) -> dict:
    import pandas as pd

    from mixlens.mmm.run import fit_to_dir

    frame = pd.read_csv(MERIDIAN_FILE).rename(columns={"time": "date"})
    controls = ("BrandedGQV_control", "GenericGQV_control")
    keep = ["geo", "date", "conversions", *controls]
    keep += [c for c in frame.columns if c.endswith("_spend")]
    frame = frame[keep]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as out, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        summary = fit_to_dir(
            frame,
            out_dir=out,
            target="conversions",
            controls=controls,
            method=method,  # type: ignore[arg-type]
            draws=draws,
            tune=tune,
            chains=chains,
        )
        steps = steps_per_draw(Path(out) / "posterior.nc")
    d = summary["diagnostics"]
    return {
        "case": "meridian",
        "steps_per_draw": steps,
        "geos": len(summary["geos"]),
        "weeks": summary["weeks"],
        "channels": len(summary["spec"]["channels"]),
        "method": method,
        "chains": chains,
        "draws": draws,
        "tune": tune,
        "wall_s": time.perf_counter() - started,
        "fit_s": summary["timings_s"]["fit"],
        "peak_rss_mib": peak_rss_mib(),
        "cpu_s": cpu_s(),
        "max_rhat": d["max_rhat"],
        "min_ess": d["min_ess_bulk"],
        "divergences": d["divergences"],
        "roi": {
            r["channel"]: [round(r["roi_mean"], 3), round(r["roi_lo"], 3), round(r["roi_hi"], 3)]
            for r in summary["roi"]
        },
    }


def run_scale(
    regions: int, weeks: int, channels: int, draws: int, tune: int, chains: int, method: str
) -> dict:
    import numpy as np
    import pandas as pd

    from mixlens.data.simulate.mmm import DEFAULT_CHANNELS, MMMWorldConfig, simulate_mmm
    from mixlens.mmm.run import fit_to_dir

    specs = tuple(
        replace(DEFAULT_CHANNELS[k % len(DEFAULT_CHANNELS)], name=f"ch{k:02d}")
        for k in range(channels)
    )
    cfg = MMMWorldConfig(weeks=weeks, channels=specs, regions=regions)
    world = simulate_mmm(cfg, seed=11)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as out, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        summary = fit_to_dir(
            world.weekly_channel,
            out_dir=out,
            controls=("price", "promotion"),
            method=method,  # type: ignore[arg-type]
            draws=draws,
            tune=tune,
            chains=chains,
        )
        steps = steps_per_draw(Path(out) / "posterior.nc")
    wall = time.perf_counter() - started
    roi = pd.DataFrame(summary["roi"]).merge(world.roi[["channel", "roi", "spend"]], on="channel")
    err = (roi["roi_mean"] - roi["roi"]).abs() / roi["roi"]
    covered = (roi["roi_lo"] <= roi["roi"]) & (roi["roi"] <= roi["roi_hi"])
    d = summary["diagnostics"]
    return {
        "case": "scale",
        "steps_per_draw": steps,
        "geos": regions,
        "weeks": weeks,
        "channels": channels,
        "method": method,
        "chains": chains,
        "draws": draws,
        "tune": tune,
        "wall_s": wall,
        "fit_s": summary["timings_s"]["fit"],
        "peak_rss_mib": peak_rss_mib(),
        "cpu_s": cpu_s(),
        "max_rhat": d["max_rhat"],
        "min_ess": d["min_ess_bulk"],
        "divergences": d["divergences"],
        "roi_err_mean": float(err.mean()),
        "roi_err_weighted": float(np.average(err, weights=roi["spend"])),
        "covered": int(covered.sum()),
    }


def steps_per_draw(posterior: Path) -> float | None:
    """Mean leapfrog steps per posterior draw (nutpie's ``n_steps``), None without them."""
    import xarray as xr

    with xr.open_dataset(posterior, group="sample_stats", engine="h5netcdf") as stats:
        return float(stats["n_steps"].mean()) if "n_steps" in stats else None


def cpu_s() -> float:
    """User + system CPU seconds of this process and its finished children."""
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _fmt(value: object, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def table(files: list[Path]) -> str:
    rows = [json.loads(line) for f in files for line in f.read_text().splitlines() if line]
    head = (
        "| case | geos x weeks x channels | method | chains x draws (tune) | fit wall s | "
        "process CPU s | peak RSS MiB | max R-hat | min ESS | steps/draw | div. | ROI |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for r in rows:
        if r["case"] == "meridian":
            roi = "; ".join(f"{k} {v[0]:.3g} [{v[1]:.3g}, {v[2]:.3g}]" for k, v in r["roi"].items())
        else:
            roi = (
                f"error mean {r['roi_err_mean']:.2f}, spend-weighted "
                f"{r['roi_err_weighted']:.2f}; 90% covers {r['covered']}/{r['channels']}"
            )
        lines.append(
            f"| {r['case']} | {r['geos']} x {r['weeks']} x {r['channels']} | {r['method']} | "
            f"{r['chains']} x {r['draws']} ({r['tune']}) | {r['fit_s']:.0f} | "
            f"{_fmt(r.get('cpu_s'), '.0f')} | "
            f"{r['peak_rss_mib']:.0f} | {_fmt(r['max_rhat'], '.3f')} | "
            f"{_fmt(r['min_ess'], '.0f')} | {_fmt(r.get('steps_per_draw'), '.0f')} | "
            f"{r['divergences']} | {roi} |"
        )
    return head + "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--case", choices=("meridian", "scale"))
    parser.add_argument("--out", type=Path)
    parser.add_argument("--method", default="nuts", choices=("nuts", "advi"))
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--tune", type=int, default=500)
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--regions", type=int, default=10)
    parser.add_argument("--weeks", type=int, default=156)
    parser.add_argument("--channels", type=int, default=15)
    parser.add_argument("--table", type=Path, nargs="+")
    parser.add_argument("--note", default="")
    args = parser.parse_args()
    if args.table:
        body = table(args.table) + (f"\n{args.note}\n" if args.note else "")
        files = " ".join(str(f) for f in args.table)
        command = f"python benchmarks/mmm_geo.py --table {files} (rows from --case meridian|scale)"
        update_section("mmm_geo", body, command=command)
        print(body)
        return
    if args.case == "meridian":
        if not MERIDIAN_FILE.exists():
            print(f"skipped: {MERIDIAN_FILE} not found")
            return
        row = run_meridian(args.draws, args.tune, args.chains, args.method)
    else:
        row = run_scale(
            args.regions,
            args.weeks,
            args.channels,
            args.draws,
            args.tune,
            args.chains,
            args.method,
        )
    print(json.dumps(row))
    if args.out:
        with args.out.open("a") as fh:
            fh.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
