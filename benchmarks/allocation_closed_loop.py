"""Closed-loop re-allocation: cumulative regret per policy over 52 simulated weeks.

    python benchmarks/allocation_closed_loop.py   # writes the RESULTS.md section

Worlds: ``MMMWorldConfig(weeks=104, n_channels=5)``, seeds 1-10; the weekly curves are the
true curves over the last 52 weeks' flighting; at week 26 the largest channel of the
oracle's plan loses 70% of its response (``shift_factor=0.3``). The initial model's
coefficients are off by a lognormal error (sd 0.3); profit = outcome - spend (margin 1,
fixed weekly budget = historical), so regret is the oracle's expected outcome minus the
policy's. Delivered spend is the plan times mean-one lognormal delivery noise (CV 0.2, the
same draws for every policy). Weekly outcome noise is the simulator's (daily noise CV 0.06
of sales: about 7% of the weekly media outcome, 2% of weekly sales).

Learners (``LearnerConfig``; greedy, Thompson sampling and directed exploration share it):

* ``default``: change detection (CUSUM 5, branches over all-channel / one-channel jumps),
  ramp limit 0.25 a week, tempered Thompson (0.5), directed tests valued over the weeks
  left in the loop;
* ``plain TS``: the same with untempered Thompson sampling (``explore=1``): Thompson run only.

Then the value of information in each world (why regret hardly shrinks within 26 weeks)
and 156 weeks without a shift.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from typing import Any

import numpy as np
from scipy.linalg import eigh

from _results import peak_rss_mib, update_section
from mixlens.allocation.closed_loop import POLICIES, LoopWorld, simulate_closed_loop
from mixlens.allocation.learner import LearnerConfig, decision_loss
from mixlens.allocation.optimize import optimize_budget
from mixlens.allocation.scenarios import ScaledResponse
from mixlens.data.simulate.mmm import MMMWorldConfig

SEEDS = tuple(range(1, 11))
CHECKPOINTS = (13, 26, 39, 52)
ADAPTIVE = ("greedy", "thompson", "directed")
LEARNERS: dict[str, tuple[LearnerConfig, tuple[str, ...]]] = {
    "default": (LearnerConfig(), POLICIES),
    "plain TS": (LearnerConfig(explore=1.0), ("thompson",)),
}
LONG_WEEKS = 156
LONG_BLOCK = 26


def _run(
    learner: LearnerConfig, policies: tuple[str, ...], worlds: list[LoopWorld]
) -> dict[str, Any]:
    regret = {p: np.zeros((len(SEEDS), len(CHECKPOINTS))) for p in policies}
    profit, delays, lags, false_alarms, seconds, priors = [], [], [], 0, [], []
    for s, (seed, world) in enumerate(zip(SEEDS, worlds, strict=True)):
        start = time.perf_counter()
        result = simulate_closed_loop(world, seed=seed, policies=policies, learner=learner)
        seconds.append(time.perf_counter() - start)
        priors.append(np.array(list(result.meta["initial_model"].values())))
        summary = result.summary(CHECKPOINTS)["policies"]
        profit.append(summary["oracle"]["cumulative_profit"])
        for p in policies:
            regret[p][s] = [summary[p]["regret_at"][str(w)] for w in CHECKPOINTS]
        for policy, weeks in result.meta["changes_detected"].items():
            alarms = result.meta["change_alarms"][policy]
            false_alarms += sum(w < world.shift_week - 2 for w in weeks)
            found = [
                (w, a) for w, a in zip(weeks, alarms, strict=True) if w >= world.shift_week - 2
            ]
            delays.append(found[0][0] - world.shift_week if found else np.nan)
            lags.append(found[0][1] - world.shift_week if found else np.nan)
    return {
        "regret": regret,
        "profit": float(np.mean(profit)),
        "delays": np.array(delays, dtype=float),
        "lags": np.array(lags, dtype=float),
        "false_alarms": false_alarms,
        "seconds": seconds,
        "priors": priors,
    }


def _value_of_information(world: LoopWorld, prior: np.ndarray, sd: float) -> tuple[float, float]:
    """Expected weekly loss from the prior's uncertainty, and a test's break-even weeks.

    At the static plan (optimal under the prior mean ``prior``): ``0.5 tr(G S)`` with ``G``
    from :func:`decision_loss` and ``S`` the prior covariance; and ``1 / r``, with ``r``
    the largest ratio of weekly loss removed to weekly cost over small budget-neutral
    moves, after 4 weeks at the static plan (the weeks one week's test must keep paying
    for to be worth its cost).
    """
    budget = float(world.response.current.sum())
    plan = optimize_budget(
        ScaledResponse(world.response, prior[None, :]),
        budget=budget,
        current=world.response.current,
    ).recommended
    n = plan.size
    h = 1e-3 * np.maximum(plan, budget / n)
    mid = world.response.contributions(plan)[0]
    up = world.response.contributions(plan + h)[0]
    down = world.response.contributions(np.maximum(plan - h, 0.0))[0]
    slope = (up - down) / (2 * h)
    curvature = np.where(plan > 1e-6 * budget, -prior * (up - 2 * mid + down) / h**2, np.nan)
    loss = decision_loss(slope, curvature)
    cov0 = np.diag((sd * prior) ** 2)
    cov = np.linalg.inv(np.linalg.inv(cov0) + 4 * np.outer(mid, mid) / world.noise_sd**2)
    idx = np.flatnonzero(np.isfinite(curvature) & (curvature > 0))
    basis = np.linalg.svd(np.ones((1, idx.size)))[2][1:].T
    gain = slope[idx, None] * (cov @ loss @ cov)[np.ix_(idx, idx)] * slope[None, idx]
    num = basis.T @ gain @ basis / world.noise_sd**2
    den = basis.T @ np.diag(curvature[idx]) @ basis
    ratio = float(eigh(0.5 * (num + num.T), den, eigvals_only=True)[-1])
    return 0.5 * float(np.trace(loss @ cov0)), 1.0 / ratio


def _long_horizon(worlds: list[LoopWorld]) -> tuple[list[str], dict[str, float]]:
    """Regret per half-year and the posterior's relative sd over 3 years without a shift."""
    policies = ("static", *ADAPTIVE)
    blocks = LONG_WEEKS // LONG_BLOCK
    added = {p: np.zeros((len(SEEDS), blocks)) for p in policies}
    spread = {p: np.zeros((len(SEEDS), blocks + 1)) for p in ADAPTIVE}
    marks = [1] + [LONG_BLOCK * (b + 1) for b in range(blocks)]
    for s, (seed, world) in enumerate(zip(SEEDS, worlds, strict=True)):
        calm = replace(world, shift_week=10**6)
        result = simulate_closed_loop(calm, seed=seed, weeks=LONG_WEEKS, policies=policies)
        frame = result.frame
        prior = np.array(list(result.meta["initial_model"].values()))
        sd_cols = [c for c in frame.columns if c.startswith("sd_")]
        for p in policies:
            part = frame[frame["policy"] == p].set_index("week")
            ends = part["cumulative_regret"].loc[marks[1:]]
            added[p][s] = np.diff(ends.to_numpy(), prepend=0.0)
            if p in spread:
                rel = part[sd_cols].to_numpy() / prior[None, :]
                spread[p][s] = rel[np.array(marks) - 1].mean(axis=1)
    head = " | ".join(f"{LONG_BLOCK * b + 1}-{LONG_BLOCK * (b + 1)}" for b in range(blocks))
    rows = [f"| policy | {head} | 2nd / 1st | last / 1st |", "|---|" + "---|" * (blocks + 2)]
    ratios = {}
    for p in policies:
        mean = added[p].mean(axis=0)
        ratios[p] = float(mean[-1] / mean[0])
        rows.append(
            f"| {p} | "
            + " | ".join(f"{v / 1e3:,.0f}" for v in mean)
            + f" | {mean[1] / mean[0]:.2f} | {mean[-1] / mean[0]:.2f} |"
        )
    weeks_head = " | ".join(f"week {w}" for w in marks)
    rows += ["", f"| policy | {weeks_head} |", "|---|" + "---|" * (blocks + 1)]
    for p, values in spread.items():
        rows.append(f"| {p} | " + " | ".join(f"{v:.3f}" for v in values.mean(axis=0)) + " |")
    return rows, ratios


def _verdict(regret: dict[str, np.ndarray], after: dict[str, np.ndarray], n: int) -> str:
    """The goal, judged on the figures above: shrinking increments and TS vs static."""
    parts = []
    for p in ("thompson", "directed", "greedy"):
        inc = np.diff(regret[p], prepend=0, axis=1)
        first, second = inc[:, 0].mean(), inc[:, 1].mean()
        parts.append(f"{p} {second / first:.2f} ({int(np.sum(inc[:, 1] < inc[:, 0]))}/{n} worlds)")
    inc = np.diff(regret["thompson"], prepend=0, axis=1)
    ratio, shrink = inc[:, 1].mean() / inc[:, 0].mean(), int(np.sum(inc[:, 1] < inc[:, 0]))
    met = ratio <= 0.9 and shrink > n / 2
    ts_beats = int(np.sum(after["thompson"] < after["static"]))
    best = min(("greedy", "thompson", "directed"), key=lambda p: float(regret[p][:, 3].mean()))
    directed = (
        f"Directed tests against greedy at week 52: {regret['directed'][:, 3].mean() / 1e3:,.0f}"
        f"k vs {regret['greedy'][:, 3].mean() / 1e3:,.0f}k (directed lower in "
        f"{int(np.sum(regret['directed'][:, 3] < regret['greedy'][:, 3]))}/{n} worlds); "
        f"against Thompson sampling: lower in "
        f"{int(np.sum(regret['directed'][:, 3] < regret['thompson'][:, 3]))}/{n}."
    )
    return (
        "Goal check. Regret added in weeks 14-26 relative to weeks 1-13 (before the shift): "
        + ", ".join(parts)
        + ". Sub-linear growth of Thompson sampling's regret within the 26 weeks before the "
        f"shift (counted as met when the mean increment falls by at least 10% and falls in "
        f"most worlds): **{'met' if met else 'not met'}**. Thompson sampling adds less regret "
        f"than the static optimiser after the shift in {ts_beats}/{n} worlds. Lowest mean "
        f"regret at week 52 among the learning policies: {best}. " + directed
    )


def _span(values: np.ndarray) -> str:
    """Mean and range of weeks, or a dash."""
    if not len(values):
        return "-"
    return f"{values.mean():+.1f} ({values.min():+.0f} to {values.max():+.0f})"


def main() -> None:
    load = os.getloadavg()[0]
    worlds = [
        LoopWorld.from_simulator(MMMWorldConfig(weeks=104, n_channels=5), seed=seed)
        for seed in SEEDS
    ]
    runs = {name: _run(cfg, pol, worlds) for name, (cfg, pol) in LEARNERS.items()}
    load_mid = os.getloadavg()[0]
    default = runs["default"]
    scale = default["profit"]
    n = len(SEEDS)
    rows, quarter_rows, beat_rows = [], [], []
    for name, run in runs.items():
        for p in run["regret"]:
            mean = run["regret"][p].mean(axis=0)
            cells = " | ".join(f"{v / 1e3:,.0f}" for v in mean)
            rows.append(f"| {name} | {p} | {cells} | {mean[-1] / scale:.1%} |")
            if p == "oracle":
                continue
            inc = np.diff(run["regret"][p], prepend=0, axis=1)
            quarter_rows.append(
                f"| {name} | {p} | "
                + " | ".join(f"{v / 1e3:,.0f}" for v in inc.mean(axis=0))
                + f" | {inc[:, 1].mean() / inc[:, 0].mean():.2f} "
                f"| {int(np.sum(inc[:, 1] < inc[:, 0]))}/{n} "
                f"| {inc[:, 3].mean() / inc[:, 2].mean():.2f} "
                f"| {int(np.sum(inc[:, 3] < inc[:, 2]))}/{n} |"
            )
    regret = {**default["regret"], "plain TS": runs["plain TS"]["regret"]["thompson"]}
    after = {p: r[:, 3] - r[:, 1] for p, r in regret.items()}
    for p in ("greedy", "thompson", "plain TS", "directed"):
        beat_rows.append(
            f"| {p} | {int(np.sum(after[p] < after['static']))}/{n} "
            f"| {int(np.sum(regret[p][:, 3] < regret['static'][:, 3]))}/{n} "
            f"| {int(np.sum(after[p] < after['greedy']))}/{n} "
            f"| {np.mean(after[p]) / 1e3:,.0f} |"
        )
    delays, lags = default["delays"], default["lags"]
    found = np.isfinite(delays)
    detect = (
        f"| {int(found.sum())}/{len(delays)} | {_span(lags[found])} | {_span(delays[found])} "
        f"| {default['false_alarms']} |"
    )
    voi = np.array(
        [
            _value_of_information(world, prior, LearnerConfig().prior_sd)
            for world, prior in zip(worlds, default["priors"], strict=True)
        ]
    )
    static_weekly = default["regret"]["static"][:, 1] / 26
    verdict = _verdict(regret, after, n)
    long_rows, ratios = _long_horizon(worlds)
    seconds = default["seconds"]
    body = "\n".join(
        [
            f"Closed loop, 52 weeks, mean over {n} worlds (5 channels; shift at week 26: the "
            "oracle plan's largest channel drops to 30% of its response). Cumulative regret vs "
            "the oracle, thousands of currency (expected profit, outcome noise-free; delivery "
            "noise CV 0.2 on every policy's spend; outcome noise about 7% of the weekly media "
            "outcome, 2% of weekly sales). Learner `default` = change detection (CUSUM 5 on "
            "standardised prediction errors, posterior branched over all-channel / one-channel "
            "jumps), ramp limit 0.25 a week; `thompson` = tempered Thompson sampling (draw "
            "spread 0.5), `plain TS` = untempered; `directed` = the greedy plan, or an in-market "
            "test around it (a budget-neutral move as far as the ramp allows, along the "
            "direction that removes most expected decision loss per unit of cost) in the weeks "
            "where the value of what it teaches over the weeks left exceeds its cost; none while "
            "the plan is still travelling after a change. historical, static and oracle do "
            "not learn.",
            "",
            "| learner | policy | week 13 | week 26 | week 39 | week 52 | of oracle profit |",
            "|---|---|---|---|---|---|---|",
            *rows,
            "",
            "Regret added per quarter (thousands); sub-linear growth shows as shrinking "
            "increments within a regime (weeks 1-26 before the shift, 27-52 after); ratios "
            "of the mean increments and worlds where the second quarter of the regime adds "
            "less than the first:",
            "",
            "| learner | policy | weeks 1-13 | 14-26 | 27-39 | 40-52 | 14-26 / 1-13 | worlds "
            "| 40-52 / 27-39 | worlds |",
            "|---|---|---|---|---|---|---|---|---|---|",
            *quarter_rows,
            "",
            f"After the shift (regret added in weeks 27-52), worlds out of {n} where the policy "
            "beats static, and greedy:",
            "",
            "| policy | < static after shift | < static at week 52 | < greedy after shift "
            "| mean added (thousands; static "
            f"{np.mean(after['static']) / 1e3:,.0f}) |",
            "|---|---|---|---|---|",
            *beat_rows,
            "",
            "Change detection (default learner; greedy, Thompson and directed runs together): "
            "shift found; weeks from the shift to the alarm and to the week the alarm dates the "
            "change (mean, range); alarms dated before week 24:",
            "",
            "| found | alarm after | dated at | false alarms |",
            "|---|---|---|---|",
            detect,
            "",
            "Why the regret hardly shrinks within 26 weeks: the value of information. At the "
            "static plan, planning on coefficients off by `db` loses `0.5 db' G db` a week "
            "(`decision_loss`); under the prior (sd 0.3 of the initial model) that predicts "
            f"{voi[:, 0].mean() / 1e3:,.1f}k a week (range {voi[:, 0].min() / 1e3:,.1f}k to "
            f"{voi[:, 0].max() / 1e3:,.1f}k) against static's measured "
            f"{static_weekly.mean() / 1e3:,.1f}k a week in weeks 1-26. The overall scale of "
            "the coefficients is learnt in a few weeks but cannot change a fixed budget's "
            "split; the ratios are learnt only from spend moves, and the best small "
            "budget-neutral move (after 4 weeks) removes expected loss at a rate that repays "
            f"its cost after {np.mean(voi[:, 1]):.0f} weeks on average (range "
            f"{voi[:, 1].min():.0f} to {voi[:, 1].max():.0f}): a test run in the first "
            "quarter has barely paid for itself by the shift at week 26. The learner knows "
            "the true curve shapes and carryover (only their scales are unknown) and its prior "
            "sd equals the initial model's error, so neither learning the saturation nor a "
            "better-calibrated prior would add information here: the limit is what an "
            "outcome with 7% noise says about how 5 channels share a fixed budget.",
            "",
            f"Same {n} worlds, {LONG_WEEKS} weeks and no shift: regret added per half-year "
            "(thousands), then the posterior sd of the coefficients relative to the initial "
            "model's (mean over channels and worlds; the prior's is 0.3):",
            "",
            *long_rows,
            "",
            "Over three years the regret added per half-year falls to "
            + ", ".join(f"{ratios[p]:.2f} of the first for {p}" for p in ratios)
            + ".",
            "",
            verdict,
            "",
            f"Seconds per 52-week run (6 policies, default learner): {np.mean(seconds):.1f} "
            f"mean, {np.max(seconds):.1f} max (load average {load:.1f} at the start, "
            f"{load_mid:.1f} after the 52-week runs, {os.getloadavg()[0]:.1f} at the end; "
            f"shared machine). Peak RSS: {peak_rss_mib():.0f} MiB.",
        ]
    )
    update_section(
        "allocation_closed_loop", body, command="python benchmarks/allocation_closed_loop.py"
    )


if __name__ == "__main__":
    main()
