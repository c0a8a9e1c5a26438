"""MTA accuracy against the journey simulator's causal truth, with and without lift tests.

At 100k users (`simulate_journeys(JourneyWorldConfig(users=100_000), seed=0)`), every model
runs on the logs; then the incrementality-aware model is calibrated with simulated lift tests
for a third of the paid channels (three rotations: channels 1, 4, 7 / 2, 5, 8 / 3, 6 of the
simulator's order). A lift test is the channel's true incremental conversions plus normal noise
with a stated standard error, se = 0.15 x truth + 5 conversions. Robustness: worlds of seeds
0, 1 and 2, each with six tested thirds (the three rotations and three random draws of three
channels), hazard model and calibration only.

    python benchmarks/mta_accuracy.py            # writes the RESULTS.md section
    python benchmarks/mta_accuracy.py --users 20000 --no-write
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

import numpy as np
import pandas as pd

from _results import peak_rss_mib, update_section
from mixlens.data.schemas import validate_conversions, validate_touchpoints
from mixlens.data.simulate.journeys import JourneyWorldConfig, simulate_journeys
from mixlens.mta import AVAILABLE_MODELS, build_journeys, markov_attribution, run_models
from mixlens.mta.evaluate import accuracy_against_truth
from mixlens.mta.hazard import fit_hazard
from mixlens.mta.incremental import incremental_attribution

SEED = 0
ROBUSTNESS_SEEDS = (0, 1, 2)
CORRELATIONAL = ("first", "last", "last_non_direct", "linear", "time_decay", "position", "markov",
                 "shapley", "markov (order 2)", "markov (order 3)")  # fmt: skip


def lift_tests(truth: pd.DataFrame, channels: list[str], seed: int) -> pd.DataFrame:
    """Simulated experiments: truth plus N(0, se), se = 0.15 x truth + 5."""
    t = truth.set_index("channel")["incremental_conversions"]
    true = t[channels].to_numpy(dtype=np.float64)
    se = 0.15 * true + 5.0
    noise = np.random.default_rng([SEED, seed]).normal(size=len(channels)) * se
    return pd.DataFrame({"channel": channels, "incremental_conversions": true + noise, "se": se})


def tested_thirds(paid: list[str], seed: int) -> list[list[str]]:
    """The three rotations plus three random draws of three channels."""
    rng = np.random.default_rng([SEED, 100 + seed])
    draws = [sorted(rng.choice(paid, size=3, replace=False).tolist()) for _ in range(3)]
    return [paid[k::3] for k in range(3)] + draws


def robustness(users: int) -> pd.DataFrame:
    """Share and raw-count error of the hazard model over seeds and tested thirds."""
    rows = []
    for seed in ROBUSTNESS_SEEDS:
        world = simulate_journeys(JourneyWorldConfig(users=users), seed=seed)
        tp = validate_touchpoints(world.touchpoints)
        cv = validate_conversions(world.conversions)
        truth = world.channel_truth
        fit = fit_hazard(tp, cv, seed=SEED)
        paid = [c for c in truth["channel"] if c != "direct"]
        frames = [incremental_attribution(fit).to_frame().assign(model="none")]
        for k, tested in enumerate(tested_thirds(paid, seed)):
            tests = lift_tests(truth, tested, 10 * seed + k)
            frame = incremental_attribution(fit, lift_tests=tests).to_frame()
            frames.append(frame.assign(model=", ".join(tested)))
        acc = accuracy_against_truth(pd.concat(frames, ignore_index=True), truth)
        rows.append(acc.assign(seed=seed))
    return pd.concat(rows, ignore_index=True)


def run(users: int) -> dict[str, Any]:
    world = simulate_journeys(JourneyWorldConfig(users=users), seed=SEED)
    tp = validate_touchpoints(world.touchpoints)
    cv = validate_conversions(world.conversions)
    jt = build_journeys(tp, cv, lookback_days=30)
    truth = world.channel_truth
    seconds: dict[str, float] = {}
    frames = []
    for result, s in run_models(jt, AVAILABLE_MODELS, seed=SEED, logs=(tp, cv)):
        frames.append(result.to_frame())
        seconds[result.model] = s
    for order in (2, 3):
        frame = markov_attribution(jt, order=order).to_frame()
        frame["model"] = f"markov (order {order})"
        frames.append(frame)
    t = time.perf_counter()
    fit = fit_hazard(tp, cv, seed=SEED)
    seconds["hazard fit"] = time.perf_counter() - t
    paid = [c for c in truth["channel"] if c != "direct"]
    rotations = [paid[k::3] for k in range(3)]
    calibrated = []
    for k, tested in enumerate(rotations):
        tests = lift_tests(truth, tested, k)
        frame = incremental_attribution(fit, lift_tests=tests).to_frame()
        name = f"incremental + lift tests ({', '.join(tested)})"
        frame["model"] = name
        frames.append(frame)
        calibrated.append(name)
    table = accuracy_against_truth(pd.concat(frames, ignore_index=True), truth)
    return {
        "users": users,
        "touchpoints": len(tp),
        "conversions": len(cv),
        "true_baseline_share": float(world.summary["baseline_conversions"]) / len(cv),
        "table": table,
        "calibrated": calibrated,
        "seconds": seconds,
        "hazard": fit.diagnostics,
        "load": os.getloadavg()[0],
        "robustness": robustness(users),
        "peak_rss_mib": peak_rss_mib(),
        "hazard_credit": incremental_attribution(fit)
        .to_frame()
        .set_index("channel")["conversions"],
        "truth": truth.set_index("channel")["incremental_conversions"],
    }


def body(out: dict[str, Any]) -> str:
    table: pd.DataFrame = out["table"]
    acc = table.set_index("model")
    corr = acc.loc[[m for m in CORRELATIONAL if m in acc.index]]
    cal = acc.loc[out["calibrated"]]
    lines = [
        "| model | share error | Spearman rho | raw-count error | share to direct + baseline |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, a in acc.iterrows():
        lines.append(
            f"| {name} | {a['share_error']:.3f} | {a['spearman']:.2f} "
            f"| {a['raw_count_error']:.3f} | {a['non_causal_share']:.3f} |"
        )
    lines.append(
        f"| incremental + lift tests, mean of the 3 rotations | {cal['share_error'].mean():.3f} "
        f"| {cal['spearman'].mean():.2f} | {cal['raw_count_error'].mean():.3f} "
        f"| {cal['non_causal_share'].mean():.3f} |"
    )
    best_corr_share = float(corr["share_error"].min())
    best_corr_raw = float(corr["raw_count_error"].min())
    inc = acc.loc["incremental"]
    h = out["hazard"]
    goals = [
        f"- Without lift tests, `logistic`/`incremental` (identical without calibration) vs the "
        f"best correlational model: share error {inc['share_error']:.3f} vs {best_corr_share:.3f}, "
        f"raw-count error {inc['raw_count_error']:.3f} vs {best_corr_raw:.3f}: goal (better than "
        "every correlational model on both) "
        + ("met." if inc["share_error"] < best_corr_share and inc["raw_count_error"] < best_corr_raw
           else "NOT met."),
        f"- With lift tests for a third of the channels: share error "
        f"{cal['share_error'].min():.3f}-{cal['share_error'].max():.3f} (goal < 0.2: met in "
        f"{int((cal['share_error'] < 0.2).sum())} of 3 rotations), raw-count error "
        f"{cal['raw_count_error'].min():.3f}-{cal['raw_count_error'].max():.3f} (goal < 0.3: met "
        f"in {int((cal['raw_count_error'] < 0.3).sum())} of 3).",
    ]  # fmt: skip
    return (
        f"`simulate_journeys(JourneyWorldConfig(users={out['users']:,}), seed={SEED})`: "
        f"{out['touchpoints']:,} touchpoints, {out['conversions']:,} conversions, of which "
        f"{out['true_baseline_share']:.1%} would have happened without any ad (the simulator's "
        "baseline). Metrics as in `mta_speed` (share error over the 8 paid channels, Spearman "
        "rho, raw-count error counting the baseline). `logistic` is the discrete-time hazard "
        "over decaying exposure stocks; `incremental` is it plus calibration (without lift "
        "tests it equals `logistic`). Lift tests: truth + N(0, se), se = 0.15 x truth + 5, for "
        "the channels named in the row (a third of the 8).\n\n"
        + "\n".join(lines)
        + "\n\n"
        + "\n".join(goals)
        + f"\n\nHazard model: {h['rows']:,} person-day rows ({h['events']:,} first-conversion "
        f"events, non-events sampled at {h['nonevent_sampling_rate']:.3f}), held-out AUC "
        f"{h['auc']:.3f}, log-loss {h['log_loss']:.4f}; "
        f"fit in {out['seconds']['hazard fit']:.1f} s "
        f"(busy shared 2-core machine, 1-minute load average {out['load']:.1f}); peak RSS "
        f"{out['peak_rss_mib']:,.0f} MiB. The peers (ChannelAttribution, DP6) are scored on "
        "this same world in the `peers_mta` section (`benchmarks/peers/mta_channelattribution"
        ".py`); their models match the mixlens correlational rows here.\n\n" + robustness_text(out)
    )


def robustness_text(out: dict[str, Any]) -> str:
    """Per-channel hazard credit at seed 0 and the seeds x tested-thirds table."""
    credit: pd.Series = out["hazard_credit"]
    truth: pd.Series = out["truth"]
    paid = [c for c in truth.index if c != "direct"]
    per_channel = ", ".join(f"{c} {credit.get(c, 0.0):,.0f} ({truth[c]:,.0f})" for c in paid)
    rob: pd.DataFrame = out["robustness"]
    lines = [
        "| world seed | lift tests | share error | raw-count error | Spearman rho |",
        "|---:|---|---:|---:|---:|",
    ]
    for _, r in rob.iterrows():
        lines.append(
            f"| {r['seed']} | {r['model']} | {r['share_error']:.3f} | {r['raw_count_error']:.3f} "
            f"| {r['spearman']:.2f} |"
        )
    cal = rob[rob["model"] != "none"]
    none = rob[rob["model"] == "none"]
    return (
        f"Hazard credit per paid channel at seed {SEED} (truth in brackets): {per_channel}.\n\n"
        f"Robustness over world seeds {', '.join(map(str, ROBUSTNESS_SEEDS))} and six tested "
        "thirds each (three rotations, three random draws of three channels); `none` is the "
        "hazard model without lift tests:\n\n"
        + "\n".join(lines)
        + f"\n\nWith lift tests, over {len(cal)} (seed, third) pairs: share error "
        f"{cal['share_error'].min():.3f}-{cal['share_error'].max():.3f} (mean "
        f"{cal['share_error'].mean():.3f}; < 0.2 in {int((cal['share_error'] < 0.2).sum())} of "
        f"{len(cal)}), raw-count error {cal['raw_count_error'].min():.3f}-"
        f"{cal['raw_count_error'].max():.3f} (< 0.3 in "
        f"{int((cal['raw_count_error'] < 0.3).sum())} of {len(cal)}). Without: share error "
        f"{none['share_error'].min():.3f}-{none['share_error'].max():.3f}, raw-count error "
        f"{none['raw_count_error'].min():.3f}-{none['raw_count_error'].max():.3f}.\n\n"
        "Why brand search, retargeting and email used to get about zero: the hazard model "
        "compared converters' exposure stocks at the conversion instant with non-converters' "
        "stocks at the end of each day. Touches follow a diurnal profile, so the end-of-day "
        "stocks held the whole day's touches while the event rows held only those before the "
        "conversion; for channels with half-lives of a day or less this made exposure look "
        "harmful or useless (at seed 0, unconstrained log-odds per fresh touch: brand search "
        "-0.28, retargeting -0.20; credit with the non-negativity bound: 0, 0 and email 54 of "
        "340 true). Non-events are now case-base samples at uniformly drawn instants of each "
        "user's time at risk (the previous version measured share error 0.364 without and "
        "0.257-0.266 with lift tests on this world). What remains under-credited is selection "
        "on intent: brand search (intent lift 10, selection 1.5) and retargeting touch users "
        "in market, whose hazard is already high; after controlling for who a channel targets "
        "(window touch counts) and for being in market (each channel's touches in the next 1 "
        "and 7 days), the short within-user bump after a touch is a weak signal."
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    out = run(args.users)
    text = body(out)
    sys.stdout.write(text + "\n")
    if not args.no_write:
        update_section("mta_accuracy", text, command="python benchmarks/mta_accuracy.py")


if __name__ == "__main__":
    main()
