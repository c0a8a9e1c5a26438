"""What lift-test calibration buys the national MMM on the simulator, end to end.

Run: ``PYTHONPATH=src python benchmarks/mmm_calibration.py --seed 1 --tests 1,2
--out /tmp/calib.jsonl`` (one process per seed), then ``--table FILE...`` writes the
``mmm_calibration`` section of RESULTS.md.

Per world (the ``peers_mmm`` / ``mmm_variants`` worlds: 156 weeks, 7 channels, controls
price and promotion, default spec, 2 chains x 500 draws after 500 tuning steps), as a user
would do it:

1. Fit the uncalibrated model (:func:`mixlens.mmm.run.fit_to_dir`).
2. Rank the channels by the relative width of their 90% ROI interval
   ((hi - lo) / posterior mean, from ``roi.csv``): the ones the model is least sure of
   get the experiments. The truth plays no part in the choice.
3. For the ``k`` least sure channels, design a geo holdout (:func:`design_test`): the
   channel switched off for :data:`TEST_WEEKS` weeks in :data:`MARKET_SHARE` of the
   market (10 of 40 equal geos), in the 8-week window of the last year (ending at least
   :data:`COOLDOWN_WEEKS` weeks before the panel ends) where the channel spent most.
4. Simulate the experiment's result (:func:`simulate_test`): true incremental outcome
   (:func:`true_lift`, the simulator re-run without the window's impressions, times the
   market share, carryover after the window included) plus Normal noise whose standard
   error is what mixlens's synthetic control achieves on a 40-geo panel
   (``experiments_accuracy``: RMSE 23.5% of an effect worth 5% of the treated geos'
   baseline over the window, i.e. :data:`SE_SHARE_OF_SALES` = 1.18% of the treated
   geos' sales over the window). The measured value and its se go into
   ``lift_tests.csv`` (:func:`lift_rows`) and the model is refitted with
   ``fit_to_dir(..., lift_tests=path)``. ``--reading national`` (default) scales the test
   to the whole market (outcome and se / market share): exact for geos that are scaled
   copies of the market, as this benchmark assumes (the simulator's truth is one national
   response; a holdout in geos holding 25% of it loses 25% of the national lift).
   ``--reading share`` writes it as measured with ``spend_share`` = the market share,
   which the national model reads as that share of the national spend removed
   (``--ranking-from`` reuses an earlier run's ranking).
5. Score ROI as ``mmm_variants`` does (:func:`mmm_recovery.roi_scores`).

The truth is used only in step 4 (to simulate the experiment, with noise) and step 5.
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
from mmm_recovery import roi_scores

#: Length of the holdout (weeks) and the share of the market held out (10 of 40 geos).
TEST_WEEKS = 8
MARKET_SHARE = 0.25
#: The window ends at least this many weeks before the panel (room for carryover).
COOLDOWN_WEEKS = 4
#: Standard error of the experiment as a share of the treated geos' sales over the window:
#: synthetic control RMSE 23.5% of an effect of 5% of baseline (``experiments_accuracy``).
SE_SHARE_OF_SALES = 0.235 * 0.05
WEEKS, CHANNELS = 156, 7


def _config() -> Any:
    from mixlens.data.simulate.mmm import MMMWorldConfig

    return MMMWorldConfig(weeks=WEEKS, n_channels=CHANNELS)


def true_lift(
    world: Any, seed: int, channel: str, start: pd.Timestamp, end: pd.Timestamp, keep: float = 0.0
) -> float:
    """National incremental outcome of ``channel``'s impressions in ``start..end`` (truth).

    The simulator's :func:`~mixlens.data.simulate.mmm.channel_lift`: the window's
    impressions scaled by ``keep`` (0: removed), adstock carried forward.
    """
    from mixlens.data.simulate.mmm import channel_lift

    return channel_lift(
        world, _config(), seed=seed, channel=channel, start=start, end=end, keep=keep
    )


def choose_channels(roi: pd.DataFrame, k: int) -> list[str]:
    """The ``k`` channels with the widest 90% ROI interval relative to the posterior mean.

    :func:`mixlens.mmm.identification.relative_width_ranking`.
    """
    from mixlens.mmm.identification import relative_width_ranking

    return relative_width_ranking(roi)[:k]


def design_test(panel: pd.DataFrame, channel: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Window (first day, last day) of the test: the 8 weeks of the last year that spent most.

    :func:`mixlens.mmm.identification.lift_test_window` (the window ``mixlens mmm fit``
    plans its lift tests in, ``lift_test_plan.csv``).
    """
    from mixlens.mmm.identification import lift_test_window

    spend = panel[f"{channel}_spend"].to_numpy(float)
    i = lift_test_window(spend, weeks=TEST_WEEKS, lookback=52, cooldown=COOLDOWN_WEEKS)
    if i is None:
        raise ValueError(f"{channel} has no spend in the last year: no test window")
    dates = pd.DatetimeIndex(panel["date"])
    return dates[i], dates[i + TEST_WEEKS - 1] + pd.Timedelta(days=6)


def simulate_test(world: Any, seed: int, channel: str) -> dict[str, Any]:
    """One geo holdout of ``channel``: a ``lift_tests.csv`` row plus its truth (see module)."""
    panel = world.weekly_channel
    start, end = design_test(panel, channel)
    full = true_lift(world, seed, channel, start, end)
    truth = MARKET_SHARE * full
    # what the national model's reading of spend_share computes: the share of the national
    # spend removed (exact for a geo holdout only where the response is linear)
    national = true_lift(world, seed, channel, start, end, keep=1.0 - MARKET_SHARE)
    dates = pd.DatetimeIndex(panel["date"])
    in_window = (dates >= start) & (dates <= end)
    sales = float(panel.loc[in_window, "sales"].sum())
    se = SE_SHARE_OF_SALES * MARKET_SHARE * sales
    index = list(world.roi["channel"]).index(channel)
    rng = np.random.default_rng([seed, 7919, index])
    measured = truth + se * float(rng.standard_normal())
    return {
        "channel": channel,
        "start": start.date().isoformat(),
        "end": end.date().isoformat(),
        "measured_in_test_geos": measured,
        "se_in_test_geos": se,
        "method": "synthetic_control (simulated)",
        "true_lift": truth,
        "true_lift_share_of_national_spend": national,
    }


def lift_rows(tests: list[dict[str, Any]], reading: str) -> pd.DataFrame:
    """``lift_tests.csv`` rows of simulated tests.

    ``reading="national"`` scales each test to the whole market (outcome and se divided by
    the market share, no ``spend_share``): exact for geos that are scaled copies of the
    market, as the simulator's regions are. ``reading="share"`` writes the test as
    measured with ``spend_share`` = the market share, which the national model reads as
    that share of the national spend removed.
    """
    frame = pd.DataFrame(tests)
    columns = ["channel", "start", "end", "incremental_outcome", "se", "method"]
    if reading == "share":
        frame["spend_share"] = MARKET_SHARE
        columns.append("spend_share")
        scale = 1.0
    else:
        scale = 1.0 / MARKET_SHARE
    frame["incremental_outcome"] = frame["measured_in_test_geos"] * scale
    frame["se"] = frame["se_in_test_geos"] * scale
    return frame[columns]


def _fit(
    world: Any, seed: int, args: argparse.Namespace, tests: list[dict[str, Any]], reading: str
) -> Any:
    from mixlens.mmm.run import fit_to_dir

    with tempfile.TemporaryDirectory() as tmp:
        lift_path = None
        if tests:
            lift_path = Path(tmp) / "lift_tests.csv"
            lift_rows(tests, reading).to_csv(lift_path, index=False)
        load = os.getloadavg()[0]
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            summary = fit_to_dir(
                world.weekly_channel,
                out_dir=Path(tmp) / "fit",
                controls=("price", "promotion"),
                draws=args.draws,
                tune=args.tune,
                chains=args.chains,
                seed=seed,
                lift_tests=lift_path,
            )
        wall = time.perf_counter() - started
        roi = pd.read_csv(Path(tmp) / "fit" / "roi.csv")
    d = summary["diagnostics"]
    return roi, {
        "wall_s": wall,
        "load": (load + os.getloadavg()[0]) / 2,
        "max_rhat": d.get("max_rhat"),
        "divergences": d.get("divergences"),
        "lift_fit": summary.get("lift_tests") or [],
        "peak_rss_mib": peak_rss_mib(),
    }


def run_seed(seed: int, ks: list[int], args: argparse.Namespace) -> None:
    """Uncalibrated fit, then one fit per number of tests in ``ks``; one JSON line each."""
    from mixlens.data.simulate.mmm import simulate_mmm

    world = simulate_mmm(_config(), seed=seed)
    settings = f"{args.chains} chains x {args.draws} draws after {args.tune} tuning steps"

    def record(variant: str, roi: pd.DataFrame, info: dict[str, Any], tests: list[Any]) -> None:
        row = {"variant": variant, "seed": seed, "settings": settings, "channels": CHANNELS}
        row.update(info)
        row["tests"] = tests
        row["reading"] = args.reading
        row.update(roi_scores(roi, world.roi))
        with open(args.out, "a") as handle:
            handle.write(json.dumps(row) + "\n")
        sys.stdout.write(
            f"{variant} seed {seed}: err {row['roi_err_mean']:.2f} / "
            f"{row['roi_err_weighted']:.2f}, cov {row['covered']}/{CHANNELS}, "
            f"width {row['width_median']:.2f}, {row['wall_s']:.0f} s (load {row['load']:.1f})\n"
        )
        sys.stdout.flush()

    if args.ranking_from:
        # the uncalibrated fit of an earlier run of this seed (same settings)
        earlier = [json.loads(x) for x in Path(args.ranking_from).read_text().splitlines() if x]
        ranking = next(
            r["ranking"] for r in earlier if r["seed"] == seed and r["variant"] == "uncalibrated"
        )
    else:
        roi, info = _fit(world, seed, args, [], args.reading)
        ranking = choose_channels(roi, CHANNELS)
        info["ranking"] = ranking
        record("uncalibrated", roi, info, [])
    suffix = "" if args.reading == "national" else "_share"
    for k in ks:
        tests = [simulate_test(world, seed, c) for c in ranking[:k]]
        roi_k, info_k = _fit(world, seed, args, tests, args.reading)
        info_k["ranking"] = ranking
        record(f"lift{k}{suffix}", roi_k, info_k, tests)


def _table(files: list[str]) -> str:
    rows = [json.loads(x) for f in files for x in Path(f).read_text().splitlines() if x]
    settings = rows[0]["settings"]
    lines = [
        "Simulator worlds of `peers_mmm` / `mmm_variants` (156 weeks, 7 channels, controls "
        f"price and promotion), default spec via `fit_to_dir`, NUTS via nutpie ({settings}). "
        "`liftK`: the K channels with the widest 90% ROI interval relative to the posterior "
        "mean in the uncalibrated fit each get one simulated geo holdout: channel off for "
        f"{TEST_WEEKS} weeks in {MARKET_SHARE:.0%} of the market (10 of 40 geos), the "
        f"{TEST_WEEKS}-week window of the last year with the most spend (ending >= "
        f"{COOLDOWN_WEEKS} weeks before the panel's end); measured = true incremental "
        f"outcome (simulator, carryover included) + Normal noise with se = "
        f"{SE_SHARE_OF_SALES:.2%} of the treated market's sales over the window (synthetic "
        "control's RMSE in `experiments_accuracy`: 23.5% of an effect worth 5% of sales); "
        "written to `lift_tests.csv` scaled to the whole market (outcome and se / 0.25, no "
        "`spend_share`: exact for geos that are scaled copies of the market, as assumed "
        "here). `liftK_share`: the same tests written as measured with `spend_share` "
        "0.25, as `mixlens experiment analyze` writes a geo test. The truth enters only the "
        "simulated measurement and the scores. Columns as `mmm_variants`; fit s is the "
        "wall time of `fit_to_dir` with three fits running at once on the 2 shared cores.",
        "",
        "| variant | seeds | ROI error mean | spend-weighted | 90% coverage | median width / ROI "
        "| divergences | max R-hat | fit s (load) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    for v in variants:
        mine = [r for r in rows if r["variant"] == v]

        def avg(key: str, rows: list[dict[str, Any]] = mine) -> float:
            return sum(float(r[key]) for r in rows) / len(rows)

        seeds = ",".join(str(r["seed"]) for r in mine)
        cov = sum(r["covered"] for r in mine)
        tot = sum(r["channels"] for r in mine)
        lines.append(
            f"| {v} | {seeds} | {avg('roi_err_mean'):.2f} | {avg('roi_err_weighted'):.2f} | "
            f"{cov}/{tot} | {avg('width_median'):.2f} | {avg('divergences'):.1f} | "
            f"{max(r['max_rhat'] for r in mine):.3f} | {avg('wall_s'):.0f} ({avg('load'):.1f}) |"
        )
    lines += [
        "",
        "Per seed (ROI error mean / spend-weighted, coverage, median width / ROI):",
        "",
        "| variant | " + " | ".join(f"seed {s}" for s in sorted({r["seed"] for r in rows})) + " |",
        "|---|" + "---|" * len({r["seed"] for r in rows}),
    ]
    for v in variants:
        by_seed = {r["seed"]: r for r in rows if r["variant"] == v}
        cells = [
            f"{by_seed[s]['roi_err_mean']:.2f} / {by_seed[s]['roi_err_weighted']:.2f}, "
            f"{by_seed[s]['covered']}/{by_seed[s]['channels']}, {by_seed[s]['width_median']:.2f}"
            if s in by_seed
            else "-"
            for s in sorted({r["seed"] for r in rows})
        ]
        lines.append(f"| {v} | " + " | ".join(cells) + " |")
    channels = list(rows[0]["per_channel"])
    lines += [
        "",
        "Per-channel ROI error (mean over seeds) and coverage:",
        "",
        "| variant | " + " | ".join(channels) + " |",
        "|---|" + "---:|" * len(channels),
    ]
    for v in variants:
        mine = [r for r in rows if r["variant"] == v]
        cells = []
        for c in channels:
            t = [r["per_channel"][c] for r in mine]
            err = np.mean([abs(m - true) / true for true, m, _, _ in t])
            hits = sum(lo <= true <= hi for true, _, lo, hi in t)
            cells.append(f"{err:.2f} ({hits}/{len(t)})")
        lines.append(f"| {v} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Tests and per-seed ROI of the tested channels (true; uncalibrated mean [90%] -> "
        "calibrated), for the variant with the most tests per seed (`liftK` tests the first "
        "K of the same ranking, so its tests are the first K rows). `true lift` is the geo "
        "holdout's truth; `national reading` is the "
        "truth of what the national model computes from `spend_share` (25% of the "
        "national spend removed), as a ratio to the true lift; `model` the calibrated "
        "model's implied lift (posterior mean):",
        "",
        "| seed | variant | channel | window | true lift | measured | se / true | "
        "national reading / true | model / true | true ROI | uncalibrated | calibrated |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    most = {}  # per seed and reading, the variant with the most tests
    for r in rows:
        key = (r["seed"], r.get("reading", "national"))
        if r["tests"] and len(r["tests"]) >= len(most.get(key, {"tests": []})["tests"]):
            most[key] = r
    for r in sorted(most.values(), key=lambda r: (r["seed"], r["variant"])):
        base = next(b for b in rows if b["seed"] == r["seed"] and b["variant"] == "uncalibrated")
        # the model's implied lift, in the test geos (a national reading is 1/share of it)
        factor = MARKET_SHARE if r.get("reading", "national") == "national" else 1.0
        implied = {f["channel"]: factor * f["model_mean"] for f in r["lift_fit"]}
        for t in r["tests"]:
            c = t["channel"]
            true, m0, lo0, hi0 = base["per_channel"][c]
            _, m1, lo1, hi1 = r["per_channel"][c]
            lines.append(
                f"| {r['seed']} | {r['variant']} | {c} | {t['start']}..{t['end']} | "
                f"{t['true_lift']:,.0f} | {t['measured_in_test_geos']:,.0f} | "
                f"{t['se_in_test_geos'] / t['true_lift']:.2f} | "
                f"{t['true_lift_share_of_national_spend'] / t['true_lift']:.2f} | "
                f"{implied.get(c, float('nan')) / t['true_lift']:.2f} | {true:.2f} | "
                f"{m0:.2f} [{lo0:.2f}, {hi0:.2f}] | {m1:.2f} [{lo1:.2f}, {hi1:.2f}] |"
            )
    return "\n".join(lines)


def main() -> None:
    """Command line entry point (see the module docstring)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--tests", default="1,2", help="numbers of tested channels")
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--tune", type=int, default=500)
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--out", default="/tmp/mmm_calibration.jsonl")
    parser.add_argument("--table", nargs="+", metavar="FILE")
    parser.add_argument("--note", default="")
    parser.add_argument("--reading", choices=("national", "share"), default="national")
    parser.add_argument(
        "--ranking-from", metavar="FILE", help="skip the uncalibrated fit; its ranking from FILE"
    )
    args = parser.parse_args()
    if args.table:
        body = _table(args.table)
        if args.note:
            body += "\n\n" + args.note
        rows = [json.loads(x) for f in args.table for x in Path(f).read_text().splitlines() if x]
        seeds = sorted({r["seed"] for r in rows})
        command = (
            "python benchmarks/mmm_calibration.py --seed N --tests 1,2,3 --out F_N; "
            "--seed N --tests 4 --ranking-from F_N --out F_N; --seed N --tests 2 --reading "
            f"share --ranking-from F_N --out G_N (N = {','.join(map(str, seeds))}); "
            "then --table F_1 ... G_3"
        )
        update_section("mmm_calibration", body, command=command)
        sys.stdout.write(body + "\n")
        return
    run_seed(args.seed, [int(k) for k in args.tests.split(",")], args)


if __name__ == "__main__":
    main()
