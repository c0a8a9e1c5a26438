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

**Planned tests** (``--plan 1,2,3``). The uncalibrated fit's ``lift_test_plan.csv``
(:meth:`mixlens.mmm.geo.GeoMMMResult.lift_test_plan`) ranks 8-week geo holdouts; the
model is refitted with its top 1, 2 and 3 tests. Each test's truth is exact: the
simulator's :func:`~mixlens.data.simulate.mmm.channel_lift` run per treated region (a
region's response is the national curve per capita: its impressions divided by its
population share, the lift scaled back by it; checked against the regions' whole-panel
contributions to 1e-15), summed over the treated regions. The measurement is that truth
plus Normal noise of the plan's own expected se (the experiments stage's synthetic-control
error on the panel's placebo windows, times the treated outcome), one draw per plan rank
and seed, so the 2-test fit reuses the 1-test fit's draw. Every variant (no tests, the
section's worst-channel test, the plan's 1, 2, 3) is scored on all 5 channels' total ROI:
mean and spend-weighted relative error of the posterior mean, 90% coverage and the
intervals' median width relative to the true ROI.
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
    """Fit with ``fit_to_dir``; the ROI table and the summary (with the plan's frame)."""
    import pandas as pd

    from mixlens.mmm.run import fit_to_dir

    with tempfile.TemporaryDirectory() as out, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        started = time.perf_counter()
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
        summary["wall_s"] = time.perf_counter() - started
        roi = pd.read_csv(Path(out) / "roi.csv")
        summary["plan_frame"] = pd.read_csv(Path(out) / "lift_test_plan.csv")
    return roi, summary


def _accuracy(roi: Any, truth: Any) -> dict[str, Any]:
    """Every channel's total ROI against the truth: errors, coverage, width."""
    import numpy as np

    total = roi[roi["geo"] == "all"].set_index("channel").loc[truth.index]
    true = truth["roi"]
    rel = (total["roi_mean"] - true).abs() / true
    weights = truth["spend"] / truth["spend"].sum()
    covered = (total["roi_lo"] <= true) & (true <= total["roi_hi"])
    return {
        "mean": float(rel.mean()),
        "weighted": float((rel * weights).sum()),
        "covered": int(covered.sum()),
        "channels": len(true),
        "width": float(np.median((total["roi_hi"] - total["roi_lo"]) / true)),
        "per_channel": {str(c): float(rel[c]) for c in rel.index},
    }


def _region_lift(world: Any, config: Any, seed: int, test: Any) -> float:
    """Exact incremental outcome of switching ``test.channel`` off in its geos and window.

    A region's channel response is the national one per capita (its half-saturation and
    beta scaled by its share), so its lift is ``share x channel_lift`` of its impressions
    divided by its share, on the national configuration.
    """
    import dataclasses

    import pandas as pd

    from mixlens.data.simulate.mmm import channel_lift

    national = dataclasses.replace(config, regions=1)
    total = 0.0
    for geo in str(test["geo"]).split(","):
        share = float(world.summary["regions"][geo])
        media = world.daily_campaign[world.daily_campaign["geo"] == geo].copy()
        media["impressions"] = media["impressions"] / share
        regional = dataclasses.replace(world, daily_campaign=media)
        total += share * channel_lift(
            regional,
            national,
            seed=seed,
            channel=str(test["channel"]),
            start=pd.Timestamp(test["start"]),
            end=pd.Timestamp(test["end"]),
        )
    return total


def _planned(world: Any, config: Any, plan: Any, args: argparse.Namespace) -> Any:
    """The plan's top tests as ``lift_tests.csv`` rows: exact truth plus noise of the plan's se."""
    import numpy as np

    top = plan.head(max(args.plan)).copy()
    draws = np.random.default_rng([args.seed, 1]).standard_normal(len(top))
    top["true_lift"] = [_region_lift(world, config, args.seed, t) for _, t in top.iterrows()]
    top["incremental_outcome"] = top["true_lift"] + top["test_se"] * draws
    top["se"] = top["test_se"]
    top["method"] = "simulated_geo_holdout"
    return top


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

    config = MMMWorldConfig(weeks=args.weeks, n_channels=5, regions=4)
    world = simulate_mmm(config, seed=args.seed)
    frame = world.weekly_channel
    truth = world.roi.set_index("channel")
    truth_geo = pd.DataFrame(world.summary["roi_by_geo"]).set_index(["geo", "channel"])
    roi, summary = _fit(frame, None, args)
    plain_s = summary["wall_s"]
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
    roi_cal, summary_cal = _fit(frame, lift, args)
    calibrated_s = summary_cal["wall_s"]
    after = _errors(roi_cal, truth, truth_geo, channel, geo)
    implied = summary_cal["lift_tests"][0]
    accuracy = {"none": _accuracy(roi, truth), "section": _accuracy(roi_cal, truth)}
    fits = {"none": plain_s, "section": calibrated_s}
    planned = _planned(world, config, summary["plan_frame"], args) if args.plan else None
    for k in args.plan:
        assert planned is not None
        rows = planned.head(k)[["channel", "start", "end", "incremental_outcome", "se"]]
        rows = rows.assign(method="simulated_geo_holdout", geo=planned.head(k)["geo"])
        roi_k, summary_k = _fit(frame, rows, args)
        accuracy[f"plan{k}"] = _accuracy(roi_k, truth)
        fits[f"plan{k}"] = summary_k["wall_s"]
    plan_rows = [] if planned is None else planned.drop(columns=["method"]).to_dict("records")
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
        "accuracy": accuracy,
        "plan": plan_rows,
        "plan_notes": {k: v for k, v in summary["lift_test_plan"].items() if k != "tests"},
        "variant_fit_s": fits,
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
    planned = [r for r in rows if r.get("plan")]
    if planned:
        lines += ["", *_plan_table(planned)]
    return "\n".join(lines)


_VARIANTS = {"none": "no tests", "section": "worst channel, whole panel, largest region"}


def _plan_table(rows: list[dict[str, Any]]) -> list[str]:
    """The planned tests and every variant's accuracy on all 5 channels, per seed and mean."""
    lines = [
        "### Tests chosen by the geo lift-test plan",
        "",
        "`lift_test_plan.csv` of each uncalibrated fit (8-week geo holdouts in the top 1, 2, "
        "... regions by the channel's spend, leaving 2 controls; se = synthetic control's "
        "relative error on the panel's placebo windows x the treated regions' sales; greedy "
        "preposterior fall of the spend-weighted sd of the channels' total log ROI). "
        "Simulated measurement = exact regional truth (simulator, carryover included) + "
        "Normal noise of the plan's se:",
        "",
        "| seed | rank | channel | treated geos | window | expected lift / se | true lift / se "
        "| measured / true | gain | weighted sd after |",
        "|---|---:|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        for t in r["plan"]:
            lines.append(
                f"| {r['seed']} | {t['rank']} | {t['channel']} | {t['geo']} | "
                f"{t['start']}..{t['end']} | {t['lift_to_se']:.1f} | "
                f"{t['true_lift'] / t['test_se']:.1f} | "
                f"{t['incremental_outcome'] / t['true_lift']:.2f} | {t['gain']:.3f} | "
                f"{t['weighted_log_roi_sd_after']:.3f} |"
            )
    lines += [
        "",
        "Total ROI of all 5 channels after each variant (error = |posterior mean - true| / "
        "true; spend-weighted by true spend; coverage of the 90% interval; median width / "
        "true ROI):",
        "",
        "| seed | tests | channels tested | ROI error mean | spend-weighted | 90% coverage "
        "| median width / ROI | fit s |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    keys = [k for k in rows[0]["accuracy"] if all(k in r["accuracy"] for r in rows)]
    for r in rows:
        for key in keys:
            a = r["accuracy"][key]
            k = int(key[4:]) if key.startswith("plan") else 0
            tested = (
                ", ".join(f"{t['channel']} @ {t['geo']}" for t in r["plan"][:k])
                if k
                else (r["channel"] + " @ " + r["geo"] if key == "section" else "")
            )
            label = f"plan's top {k}" if k else _VARIANTS[key]
            lines.append(
                f"| {r['seed']} | {label} | {tested} | {a['mean']:.2f} | {a['weighted']:.2f} | "
                f"{a['covered']}/{a['channels']} | {a['width']:.2f} | "
                f"{r['variant_fit_s'][key]:.0f} |"
            )
    for key in keys:
        acc = [r["accuracy"][key] for r in rows]
        k = int(key[4:]) if key.startswith("plan") else 0
        label = f"plan's top {k}" if k else _VARIANTS[key]
        mean = sum(a["mean"] for a in acc) / len(acc)
        weighted = sum(a["weighted"] for a in acc) / len(acc)
        covered = sum(a["covered"] for a in acc)
        total = sum(a["channels"] for a in acc)
        width = sum(a["width"] for a in acc) / len(acc)
        lines.append(
            f"| **mean** | {label} | ({len(acc)} seeds) | {mean:.2f} | {weighted:.2f} | "
            f"{covered}/{total} | {width:.2f} | |"
        )
    lines += [
        "",
        "The section's test is an oracle: its channel is the one whose ROI the uncalibrated "
        "fit got most wrong (known only from the truth), held out over the whole panel with "
        "an se of 10% of its truth. The plan's tests are what a user can run: chosen from "
        "the posterior alone, 8 weeks each, with the se the experiments stage expects on "
        "this panel (`expected lift / se`: the model's guess; `true lift / se`: the "
        "simulator's). Same worlds, seeds and sampler settings for every variant; each "
        "test is one noise draw per seed.",
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--weeks", type=int, default=104)
    parser.add_argument("--draws", type=int, default=300)
    parser.add_argument("--tune", type=int, default=300)
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument(
        "--plan",
        type=lambda text: [int(k) for k in text.split(",") if k],
        default=[1, 2, 3],
        help="refit with the plan's top K tests for each K (comma-separated; '' for none)",
    )
    parser.add_argument("--out", type=Path, help="append the seed's row to this JSONL file")
    parser.add_argument("--table", type=Path, help="write the RESULTS.md section from JSONL")
    args = parser.parse_args()
    if args.table is not None:
        update_section(
            SECTION,
            table(args.table),
            command=(
                "python benchmarks/mmm_geo_calibration.py --seed N --draws 200 --tune 200 "
                "--plan 1,2,3 --out F (N = 1, 2); then --table F"
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
