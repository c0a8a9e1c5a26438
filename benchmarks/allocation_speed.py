"""Allocation: solve time for 200 decision variables and the oracle ratio on true curves.

    python benchmarks/allocation_speed.py   # writes the RESULTS.md section

Speed: a toy separable model of 20 channels x 10 geos (200 Hill curves, 200 posterior
draws), mean and CVaR objectives. Oracle ratio: on the MMM simulator's true curves
(``TrueResponse``, 52-week worlds, 13-week horizon, budget = current spend) the true
outcome of the recommended plan over the best of 20,000 random plans polished by pairwise
moves, and over the current plan.
"""

from __future__ import annotations

import time

import numpy as np

from _results import peak_rss_mib, update_section
from mixlens.allocation import SeparableCurves, TrueResponse, optimize_budget
from mixlens.data.simulate.mmm import MMMWorldConfig

SEEDS = (1, 2, 3, 4, 5)


def speed_rows() -> list[str]:
    rng = np.random.default_rng(0)
    n = 200
    names = tuple(f"ch{c:02d}_geo{g}" for c in range(20) for g in range(10))
    beta = rng.lognormal(0.0, 0.5, n) * rng.lognormal(0.0, 0.2, (200, n))
    half = rng.lognormal(0.0, 0.5, n)
    model = SeparableCurves(names, beta=beta * 100, half=half * 10)
    current = rng.lognormal(0.0, 0.5, n) * 10
    rows = []
    for objective in ("mean", ("cvar", 0.1)):
        start = time.perf_counter()
        result = optimize_budget(
            model, budget=float(current.sum()), current=current, objective=objective
        )
        seconds = time.perf_counter() - start
        gain = result.recommended_utility / result.current_utility - 1
        label = objective if isinstance(objective, str) else f"{objective[0]} {objective[1]}"
        rows.append(
            f"| {label} | {n} | {seconds:.2f} | {gain:+.1%} | "
            f"{result.summary()['prob_better_than_current']:.2f} | {result.success} |"
        )
    return rows


def oracle(model: TrueResponse, budget: float, seed: int) -> float:
    rng = np.random.default_rng(seed)
    k = len(model.channels)
    plans = rng.dirichlet(np.ones(k), 20_000) * budget
    best = plans[int(np.argmax([model.expected(p)[0] for p in plans]))]
    value = model.expected(best)[0]
    for step in budget * np.array([0.05, 0.01, 0.002, 0.0005, 0.0001]):
        improved = True
        while improved:
            improved = False
            for i in range(k):
                for j in range(k):
                    trial = best.copy()
                    move = min(step, trial[j])
                    trial[i] += move
                    trial[j] -= move
                    v = model.expected(trial)[0]
                    if v > value:
                        best, value, improved = trial, v, True
    return float(value)


def oracle_rows() -> list[str]:
    rows = []
    for seed in SEEDS:
        model = TrueResponse.from_world(MMMWorldConfig(weeks=52, n_channels=6), seed=seed, weeks=13)
        budget = float(model.current.sum())
        start = time.perf_counter()
        result = optimize_budget(model, budget=budget, current=model.current)
        seconds = time.perf_counter() - start
        achieved = float(model.expected(result.recommended)[0])
        best = oracle(model, budget, seed)
        now = float(model.expected(model.current)[0])
        rows.append(
            f"| {seed} | {len(model.channels)} | {achieved / best:.5f} | {achieved / now:.4f} | "
            f"{seconds:.2f} |"
        )
    return rows


def main() -> None:
    speed = speed_rows()
    ratios = oracle_rows()
    body = "\n".join(
        [
            "Solve time for 200 decision variables (toy 20 channels x 10 geos, separable Hill "
            "curves, 200 draws; SLSQP on the scaled problem, three starts incl. greedy):",
            "",
            "| objective | variables | seconds | utility vs current | P(better) | converged |",
            "|---|---|---|---|---|---|",
            *speed,
            "",
            "Oracle ratio on the simulator's true curves (6 channels, 13-week horizon, budget = "
            "current spend; oracle = best of 20,000 random plans polished by pairwise moves):",
            "",
            "| seed | channels | true outcome / oracle | true outcome / current | seconds |",
            "|---|---|---|---|---|",
            *ratios,
            "",
            f"Peak RSS: {peak_rss_mib():.0f} MiB.",
        ]
    )
    update_section("allocation_speed", body, command="python benchmarks/allocation_speed.py")


if __name__ == "__main__":
    main()
