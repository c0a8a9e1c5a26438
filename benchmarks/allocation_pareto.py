"""Pareto front over revenue, acquisitions and reach on the simulator's true curves.

    python benchmarks/allocation_pareto.py   # writes the RESULTS.md section

Worlds: ``MMMWorldConfig(weeks=52, n_channels=6)``, seeds 1-5, 13-week horizon,
``TrueResponse`` (revenue). Acquisitions: each channel's revenue divided by a value per
acquisition drawn per channel (log-uniform 20-200, so channels rank differently on revenue
and on acquisitions); reach: :class:`~mixlens.allocation.reach.ReachCurves` with CPMs drawn
log-uniform 3-40 and audiences that current spend reaches with an average frequency of 0.5
to 3 (population: the largest audience). Budget = current
spend, ramp 0.5, the last channel locked. The front comes from
:func:`~mixlens.allocation.pareto.pareto_objectives` (epsilon-constraint, SLSQP, 5 levels
per constrained objective). Checks: every plan feasible (budget, ramp, lock) and
non-dominated within the front, and none dominated (by more than 0.01% in all three
objectives) by any of 5,000 random feasible plans (uniform in the constraint box, shifted
onto the budget).
"""

from __future__ import annotations

import time

import numpy as np

from _results import peak_rss_mib, update_section
from mixlens.allocation import ReachCurves, ScaledResponse, TrueResponse, pareto_objectives
from mixlens.allocation.optimize import _box, _project
from mixlens.allocation.pareto import non_dominated
from mixlens.data.simulate.mmm import MMMWorldConfig

SEEDS = (1, 2, 3, 4, 5)
RAMP = 0.5
POINTS = 5
RANDOM_PLANS = 5_000


def _row(seed: int) -> str:
    rng = np.random.default_rng(seed)
    revenue = TrueResponse.from_world(MMMWorldConfig(weeks=52, n_channels=6), seed=seed, weeks=13)
    n = len(revenue.channels)
    value = np.exp(rng.uniform(np.log(20.0), np.log(200.0), n))
    acquisitions = ScaledResponse(revenue, 1.0 / value)
    cpm = np.exp(rng.uniform(np.log(3.0), np.log(40.0), n))
    # Audiences sized so that current spend (at least the mean channel's) reaches each with
    # an average frequency of 0.5 to 3: reach is neither negligible nor saturated.
    impressions = 1000.0 * np.maximum(revenue.current, revenue.current.mean()) / cpm
    reach = ReachCurves(revenue.channels, cpm=cpm, audience=impressions / rng.uniform(0.5, 3.0, n))
    models = (revenue, acquisitions, reach)
    now = revenue.current
    budget = float(now.sum())
    locked = (revenue.channels[-1],)
    t = time.perf_counter()
    front = pareto_objectives(
        models, budget=budget, points=POINTS, current=now, ramp=RAMP, locked=locked,
        names=("revenue", "acquisitions", "reach"),
    )  # fmt: skip
    seconds = time.perf_counter() - t
    box = _box(revenue.channels, now, cap=budget * 2, bounds=None, locked=locked, ramp=RAMP)
    tol = 1e-6 * budget
    bad = int(np.sum(np.abs(front.plans.sum(axis=1) - budget) > tol))
    bad += int(np.sum(front.plans < box.lo - tol) + np.sum(front.plans > box.hi + tol))
    inside = bool(non_dominated(front.values).all())
    raw = box.lo + rng.uniform(size=(RANDOM_PLANS, n)) * (box.hi - box.lo)
    plans = np.array([_project(p, box, budget) for p in raw])
    values = np.array([[float(m.expected(p)[0]) for m in models] for p in plans])
    dominated = sum(
        bool(np.any(np.all(values > point * (1 + 1e-4), axis=1))) for point in front.values
    )
    spans = front.values.max(axis=0) / front.values.min(axis=0) - 1
    return (
        f"| {seed} | {len(front.plans)} | {bad} | {inside} | {dominated} | "
        + " / ".join(f"{v:.1%}" for v in spans)
        + f" | {seconds:.1f} |"
    )


def main() -> None:
    rows = [_row(seed) for seed in SEEDS]
    body = "\n".join(
        [
            "Three objectives at the current budget (6 channels, 13-week horizon, ramp 0.5, "
            "last channel locked): revenue (true curves), acquisitions (revenue / a value per "
            "acquisition per channel) and deduplicated reach (Poisson reach per channel, "
            "audiences reached at an average frequency of 0.5-3 by current spend, Sainsbury "
            "deduplication). Front: `pareto_objectives`, epsilon-constraint on the "
            f"same SLSQP solver, {POINTS} levels per constrained objective. Dominated by "
            f"random: front points that one of {RANDOM_PLANS:,} random feasible plans beats by "
            "more than 0.01% in all three objectives. Spread: max / min - 1 of each objective "
            "over the front.",
            "",
            "| seed | plans on the front | constraint violations | non-dominated within "
            "the front | dominated by a random plan | spread revenue / acquisitions / reach "
            "| seconds |",
            "|---|---|---|---|---|---|---|",
            *rows,
            "",
            f"Peak RSS: {peak_rss_mib():.0f} MiB.",
        ]
    )
    update_section("allocation_pareto", body, command="python benchmarks/allocation_pareto.py")


if __name__ == "__main__":
    main()
