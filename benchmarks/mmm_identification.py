"""Which channels the data identify, and does the lift-test plan pick the tests that help?

Run: ``PYTHONPATH=src python benchmarks/mmm_identification.py --seed 1 --out /tmp/ident.jsonl``
(one process per seed), then ``--table /tmp/ident.jsonl [--calibration F_1 F_2 F_3]``
writes the ``mmm_identification`` section of RESULTS.md.

Per world (the ``peers_mmm`` / ``mmm_calibration`` worlds: 156 weeks, 7 channels, controls
price and promotion), the default MMM is fitted as a user would (``fit_to_dir``, NUTS via
nutpie, 2 chains x 500 draws after 500 tuning steps, seed = world seed, the settings of the
uncalibrated fits of ``peers_mmm`` and ``mmm_calibration``). From its ``roi.csv`` (the
identification columns) and ``lift_test_plan.csv``, per channel: contraction of the
log-ROI variance, prior shift, class, ROI error |mean - true| / true, 90% coverage,
interval width / true ROI, spend share, and the channel's rank in the plan and in the
relative-width ranking ``mmm_calibration`` used.

``--calibration`` takes the JSON lines of ``mmm_calibration`` (its ``lift1`` .. ``lift4``
fits test the first 1 .. 4 channels of the relative-width ranking, in that order), and
scores each tested channel's test by what it measured: the fall in the spend-weighted ROI
error when that test was added to those before it, and the fall in the channel's own error
(uncalibrated -> ``lift4``). The truth enters only the scores.
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

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import peak_rss_mib, update_section

WEEKS, CHANNELS = 156, 7


def run_seed(seed: int, args: argparse.Namespace) -> dict[str, Any]:
    """Fit one world and return its JSON record (per channel: identification, plan, scores)."""
    from mixlens.data.simulate.mmm import MMMWorldConfig, simulate_mmm
    from mixlens.mmm.identification import relative_width_ranking
    from mixlens.mmm.run import fit_to_dir

    world = simulate_mmm(MMMWorldConfig(weeks=WEEKS, n_channels=CHANNELS), seed=seed)
    with tempfile.TemporaryDirectory() as tmp:
        load = os.getloadavg()[0]
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            summary = fit_to_dir(
                world.weekly_channel,
                out_dir=Path(tmp),
                controls=("price", "promotion"),
                draws=args.draws,
                tune=args.tune,
                chains=args.chains,
                seed=seed,
            )
        wall = time.perf_counter() - started
        roi = pd.read_csv(Path(tmp) / "roi.csv")
        plan = pd.read_csv(Path(tmp) / "lift_test_plan.csv")
    truth = world.roi.set_index("channel")["roi"]
    share = roi["spend"] / roi["spend"].sum()
    width_rank = relative_width_ranking(roi)
    plan_rank = list(plan["channel"])
    channels = {}
    for i, r in roi.iterrows():
        true = float(truth[r["channel"]])
        channels[str(r["channel"])] = {
            "true": true,
            "mean": float(r["roi_mean"]),
            "lo": float(r["roi_lo"]),
            "hi": float(r["roi_hi"]),
            "spend_share": float(share[i]),
            "contraction": float(r["contraction"]),
            "prior_shift": float(r["prior_shift"]),
            "log_roi_sd": float(r["log_roi_sd"]),
            "identification": str(r["identification"]),
        }
    d = summary["diagnostics"]
    calibrated = [_calibrate(world, seed, args, plan_rank[:k]) for k in args.calibrate]
    return {
        "seed": seed,
        "settings": f"{args.chains} chains x {args.draws} draws after {args.tune} tuning steps",
        "wall_s": wall,
        "load": (load + os.getloadavg()[0]) / 2,
        "write_s": summary["timings_s"]["write"],
        "max_rhat": d.get("max_rhat"),
        "divergences": d.get("divergences"),
        "peak_rss_mib": peak_rss_mib(),
        "channels": channels,
        "width_ranking": width_rank,
        "plan": plan.to_dict("records"),
        "plan_ranking": plan_rank,
        "weighted_log_roi_sd": summary["lift_test_plan"]["weighted_log_roi_sd"],
        "calibrated": calibrated,
    }


def _calibrate(world: Any, seed: int, args: argparse.Namespace, channels: list[str]) -> Any:
    """Refit with simulated lift tests on ``channels``, as ``mmm_calibration`` does."""
    import mmm_calibration
    from mmm_recovery import roi_scores

    tests = [mmm_calibration.simulate_test(world, seed, c) for c in channels]
    roi, info = mmm_calibration._fit(world, seed, args, tests, "national")
    return {"channels": channels, **info, **roi_scores(roi, world.roi)}


def _err(cell: list[float]) -> float:
    true, mean = cell[0], cell[1]
    return abs(mean - true) / true


def measured_cuts(calibration: list[dict[str, Any]], seed: int) -> dict[str, dict[str, float]]:
    """Per tested channel of ``mmm_calibration`` (one seed): what its test cut.

    ``weighted``: fall in the spend-weighted ROI error when the channel's test joined the
    tests before it (``lift{k-1}`` -> ``lift{k}``); ``own``: fall in the channel's own
    relative ROI error, uncalibrated -> ``lift4``; ``own_weighted``: that times its spend
    share.
    """
    rows = {r["variant"]: r for r in calibration if r["seed"] == seed and "reading" in r}
    rows = {k: v for k, v in rows.items() if v.get("reading", "national") == "national"}
    if "uncalibrated" not in rows:
        return {}
    ranking = rows["uncalibrated"]["ranking"]
    previous = rows["uncalibrated"]
    most = max((int(k[4:]) for k in rows if k.startswith("lift") and k[4:].isdigit()), default=0)
    out: dict[str, dict[str, float]] = {}
    for k in range(1, most + 1):
        variant = rows.get(f"lift{k}")
        if variant is None:
            break
        channel = ranking[k - 1]
        base, last = rows["uncalibrated"]["per_channel"], rows[f"lift{most}"]["per_channel"]
        out[channel] = {
            "order": k,
            "weighted": previous["roi_err_weighted"] - variant["roi_err_weighted"],
            "own": _err(base[channel]) - _err(last[channel]),
        }
        previous = variant
    return out


def _table(rows: list[dict[str, Any]], calibration: list[dict[str, Any]]) -> str:
    from mixlens.mmm.identification import classify

    for r in rows:  # classes by the current thresholds (the contraction is what was measured)
        for v in r["channels"].values():
            v["identification"] = classify(v["contraction"])
    settings = rows[0]["settings"]
    lines = [
        "Simulator worlds of `peers_mmm` / `mmm_calibration` (156 weeks, 7 channels, controls "
        f"price and promotion), default spec via `fit_to_dir` (NUTS via nutpie, {settings}, "
        "seed = world seed; the uncalibrated fits of those sections). Identification from "
        "`roi.csv`: contraction = 1 - var(log ROI | data) / var(log ROI) under the prior "
        "(the default ROI prior is log-normal with sd 1, so the prior's is exact), shift = "
        "posterior mean of log ROI minus the prior's, in prior sds; class: mostly prior < "
        "0.5 <= weakly identified < 0.9 <= data-driven. ROI error = |mean - true| / true; "
        "width = 90% interval width / true ROI; `plan` = rank in `lift_test_plan.csv` "
        "(greedy expected fall of the spend-weighted sd of log ROI, tests of 8 weeks with se "
        "1.18% of the window's sales); `width` = rank by relative interval width "
        "(`mmm_calibration`'s choice).",
        "",
        "| seed | channel | spend share | true ROI | ROI [90%] | error | covered | width / ROI "
        "| contraction | shift | class | plan | width rank |",
        "|---|---|---:|---:|---|---:|---|---:|---:|---:|---|---:|---:|",
    ]
    for r in rows:
        for c, v in r["channels"].items():
            err = abs(v["mean"] - v["true"]) / v["true"]
            cov = "yes" if v["lo"] <= v["true"] <= v["hi"] else "**no**"
            plan = r["plan_ranking"].index(c) + 1 if c in r["plan_ranking"] else "-"
            lines.append(
                f"| {r['seed']} | {c} | {v['spend_share']:.2f} | {v['true']:.2f} | "
                f"{v['mean']:.2f} [{v['lo']:.2f}, {v['hi']:.2f}] | {err:.2f} | {cov} | "
                f"{(v['hi'] - v['lo']) / v['true']:.2f} | {v['contraction']:.2f} | "
                f"{v['prior_shift']:+.2f} | {v['identification']} | {plan} | "
                f"{r['width_ranking'].index(c) + 1} |"
            )
    lines += [
        "",
        "By class (all seeds): channels, mean ROI error, coverage, median width / true ROI, "
        "mean contraction:",
        "",
        "| class | channels | ROI error mean | 90% coverage | median width / ROI | contraction |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    cells = [v for r in rows for v in r["channels"].values()]
    for label in ("data-driven", "weakly identified", "mostly prior"):
        mine = [v for v in cells if v["identification"] == label]
        if not mine:
            lines.append(f"| {label} | 0 | - | - | - | - |")
            continue
        err = np.mean([abs(v["mean"] - v["true"]) / v["true"] for v in mine])
        cov = sum(v["lo"] <= v["true"] <= v["hi"] for v in mine)
        width = np.median([(v["hi"] - v["lo"]) / v["true"] for v in mine])
        lines.append(
            f"| {label} | {len(mine)} | {err:.2f} | {cov}/{len(mine)} | {width:.2f} | "
            f"{np.mean([v['contraction'] for v in mine]):.2f} |"
        )
    lines += [
        "",
        "Lift-test plan per seed (`lift_test_plan.csv`; expected lift and se in the window, "
        "own sd of log ROI before -> after the tests up to this rank, gain = fall of the "
        "spend-weighted sd of log ROI):",
        "",
        "| seed | rank | channel | window | expected lift / se | sd log ROI | gain | "
        "weighted sd after |",
        "|---|---:|---|---|---:|---|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['seed']} | 0 | (none) | | | | | {r['weighted_log_roi_sd']:.3f} |")
        for p in r["plan"]:
            lines.append(
                f"| {r['seed']} | {p['rank']} | {p['channel']} | {p['start']}..{p['end']} | "
                f"{p['lift_to_se']:.1f} | {p['log_roi_sd']:.2f} -> {p['log_roi_sd_after']:.2f} "
                f"| {p['gain']:.3f} | {p['weighted_log_roi_sd_after']:.3f} |"
            )
    if calibration:
        lines += [
            "",
            "What each test of `mmm_calibration` cut (national reading; tests added in "
            "relative-width order), beside the channel's rank in this plan and its expected "
            "gain: `weighted cut` = fall of the spend-weighted ROI error when the test joined "
            "those before it; `own cut` = fall of the channel's own ROI error, uncalibrated -> "
            "all 4 tests:",
            "",
            "| seed | channel | order tested | weighted cut | own cut | plan rank | plan gain |",
            "|---|---|---:|---:|---:|---:|---:|",
        ]
        for r in rows:
            cuts = measured_cuts(calibration, r["seed"])
            gains = {p["channel"]: p for p in r["plan"]}
            for c, cut in cuts.items():
                p = gains.get(c)
                lines.append(
                    f"| {r['seed']} | {c} | {cut['order']} | {cut['weighted']:+.3f} | "
                    f"{cut['own']:+.2f} | {p['rank'] if p else '-'} | "
                    f"{p['gain'] if p else float('nan'):.3f} |"
                )
    lines += _calibration_rows(rows, calibration)
    lines += [
        "",
        "| seed | fit + write s (load) | write s (incl. identification and plan) | "
        "max R-hat | divergences | peak RSS MiB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['seed']} | {r['wall_s']:.0f} ({r['load']:.1f}) | {r['write_s']:.1f} | "
            f"{r['max_rhat']:.3f} | {r['divergences']} | {r['peak_rss_mib']:.0f} |"
        )
    return "\n".join(lines)


def _calibration_rows(rows: list[dict[str, Any]], calibration: list[dict[str, Any]]) -> list[str]:
    """Fits calibrated on the plan's top K beside ``mmm_calibration``'s ``liftK`` (width's)."""
    ks = sorted({len(c["channels"]) for r in rows for c in r.get("calibrated", [])})
    if not ks:
        return []
    width = {
        (r["seed"], len(r["tests"])): r
        for r in calibration
        if r.get("reading", "national") == "national" and r["variant"].startswith("lift")
    }
    lines = [
        "",
        "Calibrated refits: simulated geo-holdout lift tests (exactly as `mmm_calibration`: "
        "same windows, noise draws and national reading) on the plan's top K channels, beside "
        "`mmm_calibration`'s `liftK` (the top K by relative interval width); same worlds, "
        "settings and seeds:",
        "",
        "| seed | K | chosen by | channels tested | ROI error mean | spend-weighted | 90% coverage "
        "| median width / ROI |",
        "|---|---:|---|---|---:|---:|---:|---:|",
    ]
    means: dict[tuple[int, str], list[dict[str, Any]]] = {}
    for r in rows:
        for c in r.get("calibrated", []):
            k = len(c["channels"])
            pairs = [("plan", c), ("width", width.get((r["seed"], k)))]
            for label, fit in pairs:
                if fit is None:
                    continue
                tested = (
                    fit["channels"] if label == "plan" else [t["channel"] for t in fit["tests"]]
                )
                means.setdefault((k, label), []).append(fit)
                lines.append(
                    f"| {r['seed']} | {k} | {label} | {', '.join(tested)} | "
                    f"{fit['roi_err_mean']:.2f} | {fit['roi_err_weighted']:.2f} | "
                    f"{fit['covered']}/7 | {fit['width_median']:.2f} |"
                )
    for (k, label), fits in sorted(means.items()):
        n = len(fits)
        lines.append(
            f"| **mean** | {k} | {label} | ({n} seeds) | "
            f"{np.mean([f['roi_err_mean'] for f in fits]):.2f} | "
            f"{np.mean([f['roi_err_weighted'] for f in fits]):.2f} | "
            f"{sum(f['covered'] for f in fits)}/{7 * n} | "
            f"{np.mean([f['width_median'] for f in fits]):.2f} |"
        )
    return lines


def main() -> None:
    """Command line entry point (see the module docstring)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--tune", type=int, default=500)
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--out", default="/tmp/mmm_identification.jsonl")
    parser.add_argument("--table", nargs="+", metavar="FILE")
    parser.add_argument("--calibration", nargs="*", default=[], metavar="FILE")
    parser.add_argument("--note", default="")
    parser.add_argument(
        "--calibrate",
        type=lambda text: [int(k) for k in text.split(",") if k],
        default=[],
        help="also refit with simulated lift tests on the plan's top K channels, e.g. 2,3",
    )
    args = parser.parse_args()
    if args.table:
        rows = [json.loads(x) for f in args.table for x in Path(f).read_text().splitlines() if x]
        rows.sort(key=lambda r: r["seed"])
        calibration = [
            json.loads(x) for f in args.calibration for x in Path(f).read_text().splitlines() if x
        ]
        body = _table(rows, calibration)
        if args.note:
            body += "\n\n" + args.note
        seeds = ",".join(str(r["seed"]) for r in rows)
        command = (
            f"python benchmarks/mmm_identification.py --seed N --out F (N = {seeds}); then "
            "--table F --calibration (the JSON lines of mmm_calibration's national runs)"
        )
        update_section("mmm_identification", body, command=command)
        sys.stdout.write(body + "\n")
        return
    row = run_seed(args.seed, args)
    with open(args.out, "a") as handle:
        handle.write(json.dumps(row) + "\n")
    sys.stdout.write(
        f"seed {args.seed}: {row['wall_s']:.0f} s (load {row['load']:.1f}); "
        + ", ".join(
            f"{c} {v['contraction']:.2f} {v['identification']}" for c, v in row["channels"].items()
        )
        + f"; plan {row['plan_ranking']}; width {row['width_ranking']}\n"
    )


if __name__ == "__main__":
    main()
