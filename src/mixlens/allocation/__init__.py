"""Budget allocation: optimise spend plans on posterior response curves.

Scenarios (:mod:`~mixlens.allocation.scenarios`): best outcome for a budget, least spend
for a target, target ROI or marginal ROI, profit with a margin, volume via a value per
unit; Pareto fronts over spend or over revenue, acquisitions and reach
(:mod:`~mixlens.allocation.pareto`, :class:`ReachCurves`); the closed loop in the
simulator's world (:mod:`~mixlens.allocation.closed_loop`); campaign splits from IMA
(:mod:`~mixlens.allocation.campaigns`).

The optimiser sees only a :class:`ResponseModel` (expected outcome of a spend plan per
posterior draw), implemented by a fitted MMM (:class:`MMMResponse`), the simulator's true
curves (:class:`TrueResponse`) and analytic curves (:class:`SeparableCurves`).

Examples
--------
>>> from mixlens.allocation import SeparableCurves, optimize_budget
>>> curves = SeparableCurves(("tv", "search"), beta=[4.0, 1.0], half=[1.0, 1.0])
>>> optimize_budget(curves, budget=2.0, current=[1.0, 1.0]).summary()["prob_better_than_current"]
1.0
"""

from __future__ import annotations

from mixlens.allocation.campaigns import split_campaigns
from mixlens.allocation.closed_loop import LoopWorld, simulate_closed_loop
from mixlens.allocation.optimize import (
    AllocationResult,
    Objective,
    minimize_spend_for_target,
    optimize_budget,
    utility,
)
from mixlens.allocation.pareto import ParetoFront, pareto_front, pareto_objectives, pareto_spend
from mixlens.allocation.reach import ReachCurves
from mixlens.allocation.response import (
    MMMResponse,
    ResponseModel,
    SeparableCurves,
    TrueResponse,
    as_plan,
)
from mixlens.allocation.scenarios import (
    ScaledResponse,
    marginal_roi,
    maximize_profit,
    target_marginal_roi,
    target_roi,
)

__all__ = [
    "AllocationResult",
    "LoopWorld",
    "MMMResponse",
    "Objective",
    "ParetoFront",
    "ReachCurves",
    "ResponseModel",
    "ScaledResponse",
    "SeparableCurves",
    "TrueResponse",
    "allocate_to_dir",
    "as_plan",
    "marginal_roi",
    "maximize_profit",
    "minimize_spend_for_target",
    "optimize_budget",
    "pareto_front",
    "pareto_objectives",
    "pareto_spend",
    "simulate_closed_loop",
    "split_campaigns",
    "target_marginal_roi",
    "target_roi",
    "utility",
]


def __getattr__(name: str) -> object:
    if name == "allocate_to_dir":
        from mixlens.allocation.run import allocate_to_dir

        return allocate_to_dir
    raise AttributeError(f"module 'mixlens.allocation' has no attribute {name!r}")
