"""Closed-loop re-allocation: cumulative regret per policy over 52 simulated weeks.

    python benchmarks/allocation_closed_loop.py   # writes the RESULTS.md section

Worlds: ``MMMWorldConfig(weeks=104, n_channels=5)``, seeds 1-10; the weekly curves are the
true curves over the last 52 weeks' flighting; at week 26 the largest channel of the
oracle's plan loses 70% of its response (``shift_factor=0.3``). The initial model's
coefficients are off by a lognormal error (sd 0.3); profit = outcome - spend (margin 1,
fixed weekly budget = historical), so regret is the oracle's expected outcome minus the
policy's. Delivered spend is the plan times mean-one lognormal delivery noise (CV 0.2, the
same draws for every policy). Weekly outcome noise is the simulator's (about 7% of the
weekly media outcome).

Learners compared (greedy and Thompson sampling share each):

* ``default``: ``LearnerConfig()``: change detection (CUSUM 5, branches over
  all-channel / one-channel jumps), ramp limit 0.25 a week, tempered Thompson (0.5);
* ``plain TS``: the same with untempered Thompson sampling (``explore=1``);
* ``no detection``: the previous session's learner: exact sequential Bayes with no change
  model, no ramp limit, plain Thompson sampling (but the relative prior sd of the others).
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from typing import Any

import numpy as np

from _results import peak_rss_mib, update_section
from mixlens.allocation.closed_loop import POLICIES, LoopWorld, simulate_closed_loop
from mixlens.allocation.learner import LearnerConfig
from mixlens.data.simulate.mmm import MMMWorldConfig

SEEDS = tuple(range(1, 11))
CHECKPOINTS = (13, 26, 39, 52)
LEARNERS: dict[str, LearnerConfig] = {
    "default": LearnerConfig(),
    "plain TS": LearnerConfig(explore=1.0),
    "no detection": LearnerConfig(detect=None, step=None, explore=1.0),
}


def _run(name: str, learner: LearnerConfig, worlds: list[LoopWorld]) -> dict[str, Any]:
    policies = POLICIES if name == "default" else ("greedy", "thompson")
    regret = {p: np.zeros((len(SEEDS), len(CHECKPOINTS))) for p in policies}
    profit, delays, lags, false_alarms, seconds = [], [], [], 0, []
    for s, (seed, world) in enumerate(zip(SEEDS, worlds, strict=True)):
        start = time.perf_counter()
        result = simulate_closed_loop(world, seed=seed, policies=policies, learner=learner)
        seconds.append(time.perf_counter() - start)
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
    }


LONG_WEEKS = 156
LONG_BLOCK = 26


def _long_horizon(worlds: list[LoopWorld]) -> tuple[list[str], dict[str, float]]:
    """Regret per half-year and the posterior's relative sd over 3 years without a shift."""
    policies = ("static", "greedy", "thompson")
    blocks = LONG_WEEKS // LONG_BLOCK
    added = {p: np.zeros((len(SEEDS), blocks)) for p in policies}
    spread = {p: np.zeros((len(SEEDS), blocks + 1)) for p in ("greedy", "thompson")}
    for s, (seed, world) in enumerate(zip(SEEDS, worlds, strict=True)):
        calm = replace(world, shift_week=10**6)
        frame = simulate_closed_loop(calm, seed=seed, weeks=LONG_WEEKS, policies=policies).frame
        sd_cols = [c for c in frame.columns if c.startswith("sd_")]
        for p in policies:
            part = frame[frame["policy"] == p].set_index("week")
            ends = part["cumulative_regret"].loc[[LONG_BLOCK * (b + 1) for b in range(blocks)]]
            added[p][s] = np.diff(ends.to_numpy(), prepend=0.0)
            if p in spread:
                prior = np.array(list(world_prior(seed, world).values()))
                rel = part[sd_cols].to_numpy() / prior[None, :]
                weeks = [1] + [LONG_BLOCK * (b + 1) for b in range(blocks)]
                spread[p][s] = rel[np.array(weeks) - 1].mean(axis=1)
    head = " | ".join(f"{LONG_BLOCK * b + 1}-{LONG_BLOCK * (b + 1)}" for b in range(blocks))
    rows = [
        f"| policy | {head} | last / first |",
        "|---|" + "---|" * (blocks + 1),
    ]
    ratios = {}
    for p in policies:
        mean = added[p].mean(axis=0)
        ratios[p] = float(mean[-1] / mean[0])
        rows.append(
            f"| {p} | "
            + " | ".join(f"{v / 1e3:,.0f}" for v in mean)
            + f" | {mean[-1] / mean[0]:.2f} |"
        )
    weeks_head = " | ".join(
        f"week {w}" for w in [1] + [LONG_BLOCK * (b + 1) for b in range(blocks)]
    )
    rows += ["", f"| policy | {weeks_head} |", "|---|" + "---|" * (blocks + 1)]
    for p, values in spread.items():
        rows.append(f"| {p} | " + " | ".join(f"{v:.3f}" for v in values.mean(axis=0)) + " |")
    return rows, ratios


def world_prior(seed: int, world: LoopWorld) -> dict[str, float]:
    """The initial model's coefficients of a run (as recorded in its meta)."""
    result = simulate_closed_loop(world, seed=seed, weeks=1, policies=("historical",))
    return dict(result.meta["initial_model"])


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
    runs = {name: _run(name, learner, worlds) for name, learner in LEARNERS.items()}
    long_rows, ratios = _long_horizon(worlds)
    scale = runs["default"]["profit"]
    base = runs["default"]["regret"]
    n = len(SEEDS)
    rows, quarter_rows, beat_rows, detect_rows = [], [], [], []
    for name, run in runs.items():
        regret = {**{p: base[p] for p in ("historical", "static", "oracle")}, **run["regret"]}
        for p in POLICIES if name == "default" else ("greedy", "thompson"):
            mean = regret[p].mean(axis=0)
            cells = " | ".join(f"{v / 1e3:,.0f}" for v in mean)
            rows.append(f"| {name} | {p} | {cells} | {mean[-1] / scale:.1%} |")
            if p == "oracle":
                continue
            inc = np.diff(regret[p], prepend=0, axis=1)
            shrink = int(np.sum(inc[:, 3] < inc[:, 2]))
            quarter_rows.append(
                f"| {name} | {p} | "
                + " | ".join(f"{v / 1e3:,.0f}" for v in inc.mean(axis=0))
                + f" | {shrink}/{n} |"
            )
        after = {p: regret[p][:, 3] - regret[p][:, 1] for p in ("static", "greedy", "thompson")}
        beat_rows.append(
            f"| {name} | {int(np.sum(after['thompson'] < after['static']))}/{n} "
            f"| {int(np.sum(regret['thompson'][:, 3] < regret['static'][:, 3]))}/{n} "
            f"| {int(np.sum(after['greedy'] < after['static']))}/{n} "
            f"| {int(np.sum(after['thompson'] < after['greedy']))}/{n} "
            f"| {np.mean(after['static']) / 1e3:,.0f} / {np.mean(after['greedy']) / 1e3:,.0f} "
            f"/ {np.mean(after['thompson']) / 1e3:,.0f} |"
        )
        delays = run["delays"]
        found = np.isfinite(delays)
        detect_rows.append(
            f"| {name} | {int(found.sum())}/{len(delays)} | {_span(run['lags'][found])} "
            f"| {_span(delays[found])} | {run['false_alarms']} |"
        )
    seconds = runs["default"]["seconds"]
    body = "\n".join(
        [
            f"Closed loop, 52 weeks, mean over {n} worlds (5 channels; shift at week 26: the "
            "oracle plan's largest channel drops to 30% of its response). Cumulative regret vs "
            "the oracle, thousands of currency (expected profit, outcome noise-free; delivery "
            "noise CV 0.2 on every policy's spend; outcome noise about 7% of the weekly media "
            "outcome). Learners: `default` = change detection (CUSUM 5 on standardised "
            "prediction errors, posterior branched over all-channel / one-channel jumps), "
            "ramp limit 0.25 a week, tempered Thompson sampling (draw spread 0.5); `plain TS` = "
            "the same with untempered Thompson draws; `no detection` = the previous "
            "session's learner (exact sequential Bayes, no change model, no ramp, plain "
            "Thompson; relative prior sd as the others). historical, static and oracle do not "
            "learn (rows shown once).",
            "",
            "| learner | policy | week 13 | week 26 | week 39 | week 52 | of oracle profit |",
            "|---|---|---|---|---|---|---|",
            *rows,
            "",
            "Regret added per quarter (thousands); sub-linear growth shows as shrinking "
            "increments within a regime (weeks 1-26 before the shift, 27-52 after). Last "
            "column: worlds whose weeks 40-52 increment is below weeks 27-39's:",
            "",
            "| learner | policy | weeks 1-13 | 14-26 | 27-39 | 40-52 | shrinks after shift |",
            "|---|---|---|---|---|---|---|",
            *quarter_rows,
            "",
            f"After the shift (regret added in weeks 27-52), worlds out of {n}:",
            "",
            "| learner | TS < static | TS < static at week 52 (whole year) | greedy < static "
            "| TS < greedy | mean static / greedy / TS (thousands) |",
            "|---|---|---|---|---|---|",
            *beat_rows,
            "",
            "Change detection (greedy and Thompson runs together): shift found; weeks from "
            "the shift to the alarm, and to the week the alarm dates the change (mean, range); "
            "alarms dated before week 24:",
            "",
            "| learner | found | alarm after | dated at | false alarms |",
            "|---|---|---|---|---|",
            *detect_rows,
            "",
            f"Why the regret does not shrink within the first half-year: the learner barely "
            f"learns in 26 weeks. Same {n} worlds, default learner, {LONG_WEEKS} weeks and no "
            "shift: regret added per half-year (thousands), then the posterior sd of the "
            "coefficients relative to the initial model's (mean over channels and worlds; "
            "the prior's is 0.3):",
            "",
            *long_rows,
            "",
            "The plans move little from week to week, so each channel's response varies only "
            "through delivery noise and exploration, while the outcome noise is about 7% of the "
            "weekly media outcome: the posterior narrows by a few percent a quarter. Over three "
            "years the regret added per half-year falls to "
            + " and ".join(f"{ratios[p]:.2f} of the first for {p}" for p in ratios)
            + ": Thompson sampling's cumulative regret grows sub-linearly, but on a scale of "
            "years, not within the 26 weeks before the shift.",
            "",
            f"Seconds per 52-week run (5 policies, default learner): {np.mean(seconds):.1f} "
            f"mean, {np.max(seconds):.1f} max (load average {load:.1f} at the start, "
            f"{os.getloadavg()[0]:.1f} at the end, shared machine). "
            f"Peak RSS: {peak_rss_mib():.0f} MiB.",
        ]
    )
    update_section(
        "allocation_closed_loop", body, command="python benchmarks/allocation_closed_loop.py"
    )


if __name__ == "__main__":
    main()
