"""Geo MMM calibration: ROI error with and without a geo lift test on the worst channel.

Run (one seed per process; then the table)::

    PYTHONPATH=src nice python benchmarks/mmm_geo_calibration.py --seed 1 --out /tmp/geocal.jsonl
    PYTHONPATH=src python benchmarks/mmm_geo_calibration.py --table /tmp/geocal.jsonl

Per seed: a simulated world of 4 regions (``simulate_mmm``, 5 channels) is fitted with the
geo model without lift tests; the channel whose total ROI is furthest from the truth
(relative error) is the *worst channel*. A lift test of that channel in the largest region
is then added and the model refitted on the same data and seed. The test is a
whole-period holdout of the channel in that region: its exact true incremental outcome is
the channel's simulated contribution there (Hill saturation is 0 at zero spend and the
world has no spend before its first week). The measurement is that truth plus noise of
its standard error, 10% of the truth (drawn with the seed), as an experiment would
report it. The table reports the worst channel's ROI error (total and in the tested
region) and whether the 90% interval covers the true ROI, before and after, and every
channel's mean ROI error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import peak_rss_mib, update_section

SECTION = "mmm_geo_calibration"
SE_SHARE = 0.10


def _fit(frame: Any, lift: Any, args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    import pandas as pd

    from mixlens.mmm.run import fit_to_dir

    with tempfile.TemporaryDirectory() as out, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        summary = fit_to_dir(
            frame,
            out_dir=out,
            controls=("price", "promotion"),
            draws=args.draws,
            tune=args.tune,
            chains=args.chains,
            seed=args.seed,
            lift_tests=lift,
        )
        roi = pd.read_csv(Path(out) / "roi.csv")
    return roi, summary


def _errors(roi: Any, truth: Any, truth_geo: Any, channel: str, geo: str) -> dict[str, Any]:
    total = roi[roi["geo"] == "all"].set_index("channel").loc[truth.index]
    rel = (total["roi_mean"] - truth["roi"]).abs() / truth["roi"]
    row = total.loc[channel]
    true = truth.loc[channel, "roi"]
    local = roi[(roi["geo"] == geo) & (roi["channel"] == channel)].iloc[0]
    true_local = truth_geo.loc[(geo, channel), "roi"]
    return {
        "mean_roi_error": float(rel.mean()),
        "worst_roi_error": float(rel.loc[channel]),
        "worst_covered": bool(row["roi_lo"] <= true <= row["roi_hi"]),
        "worst_width": float((row["roi_hi"] - row["roi_lo"]) / true),
        "geo_roi_error": float(abs(local["roi_mean"] - true_local) / true_local),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    import numpy as np
    import pandas as pd

    from mixlens.data.simulate.mmm import MMMWorldConfig, simulate_mmm

    world = simulate_mmm(MMMWorldConfig(weeks=args.weeks, n_channels=5, regions=4), seed=args.seed)
    frame = world.weekly_channel
    truth = world.roi.set_index("channel")
    truth_geo = pd.DataFrame(world.summary["roi_by_geo"]).set_index(["geo", "channel"])
    started = time.perf_counter()
    roi, summary = _fit(frame, None, args)
    plain_s = time.perf_counter() - started
    total = roi[roi["geo"] == "all"].set_index("channel").loc[truth.index]
    rel = (total["roi_mean"] - truth["roi"]).abs() / truth["roi"]
    channel = str(rel.idxmax())
    geo = str(frame.groupby("geo")["sales"].sum().idxmax())
    contributions = world.weekly_contributions
    pick = (contributions["geo"] == geo) & (contributions["component"] == channel)
    true_lift = float(contributions.loc[pick, "contribution"].sum())
    se = SE_SHARE * true_lift
    measured = true_lift + se * float(np.random.default_rng(args.seed).standard_normal())
    lift = pd.DataFrame(
        {
            "channel": [channel],
            "start": [frame["date"].min()],
            "end": [(pd.Timestamp(frame["date"].max()) + pd.Timedelta(days=6)).date()],
            "incremental_outcome": [measured],
            "se": [se],
            "method": ["simulated_whole_period_holdout"],
            "geo": [geo],
        }
    )
    before = _errors(roi, truth, truth_geo, channel, geo)
    started = time.perf_counter()
    roi_cal, summary_cal = _fit(frame, lift, args)
    calibrated_s = time.perf_counter() - started
    after = _errors(roi_cal, truth, truth_geo, channel, geo)
    implied = summary_cal["lift_tests"][0]
    return {
        "seed": args.seed,
        "weeks": args.weeks,
        "chains": args.chains,
        "draws": args.draws,
        "tune": args.tune,
        "channel": channel,
        "geo": geo,
        "true_lift": true_lift,
        "measured": measured,
        "implied_mean": implied["model_mean"],
        "before": before,
        "after": after,
        "fit_s": [plain_s, calibrated_s],
        "max_rhat": [summary["diagnostics"]["max_rhat"], summary_cal["diagnostics"]["max_rhat"]],
        "peak_rss_mib": peak_rss_mib(),
        "load": os.getloadavg()[0],
    }


def table(path: Path) -> str:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    lines = [
        "Simulated 4-region world, 5 channels; the geo model fitted without and with one",
        f"lift test (se {SE_SHARE:.0%} of its truth) of its worst channel in the largest",
        "region: a whole-period holdout whose exact truth is the simulated contribution.",
        "ROI errors are |estimated - true| / true of the posterior mean ROI.",
        "",
        "Columns after the tested geo are for the worst channel, before -> after the test,",
        "except the mean ROI error over all 5 channels; R-hat and fit time: without / with.",
        "",
        "| seed | weeks | chains x draws | worst channel | tested geo | total ROI error | "
        "ROI error in the tested geo | 90% interval covers true ROI | interval width / true "
        "ROI | mean ROI error, 5 channels | implied / true lift | max R-hat | fit s | load |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        b, a = r["before"], r["after"]
        lines.append(
            f"| {r['seed']} | {r['weeks']} | {r['chains']} x {r['draws']} | {r['channel']} | "
            f"{r['geo']} | {b['worst_roi_error']:.2f} -> {a['worst_roi_error']:.2f} | "
            f"{b['geo_roi_error']:.2f} -> {a['geo_roi_error']:.2f} | "
            f"{'yes' if b['worst_covered'] else 'no'} -> {'yes' if a['worst_covered'] else 'no'} | "
            f"{b['worst_width']:.2f} -> {a['worst_width']:.2f} | "
            f"{b['mean_roi_error']:.2f} -> {a['mean_roi_error']:.2f} | "
            f"{r['implied_mean'] / r['true_lift']:.2f} | "
            f"{r['max_rhat'][0]:.3f} / {r['max_rhat'][1]:.3f} | "
            f"{r['fit_s'][0]:.0f} / {r['fit_s'][1]:.0f} | {r['load']:.1f} |"
        )
    lines += [
        "",
        "Fit times are wall seconds of `fit_to_dir` on a shared, loaded machine (the load",
        "column is the 1-minute load average at the end); the accuracy columns do not depend",
        "on load.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--weeks", type=int, default=104)
    parser.add_argument("--draws", type=int, default=300)
    parser.add_argument("--tune", type=int, default=300)
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--out", type=Path, help="append the seed's row to this JSONL file")
    parser.add_argument("--table", type=Path, help="write the RESULTS.md section from JSONL")
    args = parser.parse_args()
    if args.table is not None:
        update_section(
            SECTION,
            table(args.table),
            command=(
                "python benchmarks/mmm_geo_calibration.py --seed N --draws 200 --tune 200 "
                "--out F; then --table F"
            ),
        )
        return
    row = run(args)
    line = json.dumps(row)
    if args.out is not None:
        with args.out.open("a") as handle:
            handle.write(line + "\n")
    sys.stdout.write(line + "\n")


if __name__ == "__main__":
    main()
