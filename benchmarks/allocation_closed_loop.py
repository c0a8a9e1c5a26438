"""Closed-loop re-allocation: cumulative regret per policy over 52 simulated weeks.

    python benchmarks/allocation_closed_loop.py   # writes the RESULTS.md section

Worlds: ``MMMWorldConfig(weeks=104, n_channels=5)``, seeds 1-5; the weekly curves are the
true curves over the last 52 weeks' flighting; at week 26 the largest channel of the
oracle's plan loses 70% of its response (``shift_factor=0.3``). The initial model's
coefficients are off by a lognormal error (sd 0.3), prior sd 0.3; profit = outcome -
spend (margin 1, fixed weekly budget = historical), so regret is the oracle's expected
outcome minus the policy's. Delivered spend is the plan times mean-one lognormal delivery
noise (CV 0.2, the same draws for every policy). Two learners: exact sequential Bayes
(``forget=1``) and a discounted one (``forget=0.9``, about ten weeks of memory).
"""

from __future__ import annotations

import time

import numpy as np

from _results import peak_rss_mib, update_section
from mixlens.allocation.closed_loop import POLICIES, LoopWorld, simulate_closed_loop
from mixlens.data.simulate.mmm import MMMWorldConfig

SEEDS = (1, 2, 3, 4, 5)
CHECKPOINTS = (13, 26, 39, 52)


def main() -> None:
    lines = []
    beats = {}
    quarters: dict[float, list[np.ndarray]] = {}
    seconds = []
    for forget in (1.0, 0.9):
        regret = {p: np.zeros((len(SEEDS), len(CHECKPOINTS))) for p in POLICIES}
        oracle_profit = []
        for s, seed in enumerate(SEEDS):
            world = LoopWorld.from_simulator(MMMWorldConfig(weeks=104, n_channels=5), seed=seed)
            start = time.perf_counter()
            result = simulate_closed_loop(world, seed=seed, forget=forget)
            seconds.append(time.perf_counter() - start)
            summary = result.summary(CHECKPOINTS)["policies"]
            oracle_profit.append(summary["oracle"]["cumulative_profit"])
            for p in POLICIES:
                regret[p][s] = [summary[p]["regret_at"][str(w)] for w in CHECKPOINTS]
        scale = float(np.mean(oracle_profit))
        for p in POLICIES:
            mean = regret[p].mean(axis=0)
            cells = " | ".join(f"{v / 1e3:,.0f}" for v in mean)
            lines.append(f"| {forget:g} | {p} | {cells} | {mean[-1] / scale:.1%} |")
        after_ts = regret["thompson"][:, 3] - regret["thompson"][:, 1]
        after_static = regret["static"][:, 3] - regret["static"][:, 1]
        after_greedy = regret["greedy"][:, 3] - regret["greedy"][:, 1]
        beats[forget] = (
            int(np.sum(after_ts < after_static)),
            int(np.sum(regret["thompson"][:, 3] < regret["static"][:, 3])),
            int(np.sum(after_ts < after_greedy)),
        )
        quarters[forget] = [np.diff(regret[p], prepend=0, axis=1).mean(axis=0) for p in POLICIES]
    quarter_lines = [
        f"| {forget:g} | {p} | " + " | ".join(f"{v / 1e3:,.0f}" for v in q[i]) + " |"
        for forget, q in quarters.items()
        for i, p in enumerate(POLICIES)
        if p != "oracle"
    ]
    beat_lines = [
        f"| {forget:g} | {a}/{len(SEEDS)} | {b}/{len(SEEDS)} | {c}/{len(SEEDS)} |"
        for forget, (a, b, c) in beats.items()
    ]
    body = "\n".join(
        [
            "Closed loop, 52 weeks, mean over 5 worlds (5 channels; shift at week 26: the oracle "
            "plan's largest channel drops to 30% of its response). Cumulative regret vs the "
            "oracle, thousands of currency (expected profit, outcome noise-free; delivery "
            "noise CV 0.2 on every policy's spend):",
            "",
            "| forget | policy | week 13 | week 26 | week 39 | week 52 | of oracle profit |",
            "|---|---|---|---|---|---|---|",
            *lines,
            "",
            "Regret added per quarter (thousands); sub-linear growth shows as shrinking "
            "increments within a regime (weeks 1-26 before the shift, 27-52 after):",
            "",
            "| forget | policy | weeks 1-13 | 14-26 | 27-39 | 40-52 |",
            "|---|---|---|---|---|---|",
            *quarter_lines,
            "",
            "Thompson sampling against the static optimiser and greedy (worlds out of 5):",
            "",
            "| forget | TS < static after the shift (weeks 27-52) | TS < static at week 52 "
            "| TS < greedy after the shift |",
            "|---|---|---|---|",
            *beat_lines,
            "",
            f"Seconds per 52-week run (5 policies): {np.mean(seconds):.1f} mean, "
            f"{np.max(seconds):.1f} max. Peak RSS: {peak_rss_mib():.0f} MiB.",
        ]
    )
    update_section(
        "allocation_closed_loop", body, command="python benchmarks/allocation_closed_loop.py"
    )


if __name__ == "__main__":
    main()
