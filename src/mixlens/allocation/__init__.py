"""Budget allocation: optimise spend plans on posterior response curves.

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

from mixlens.allocation.optimize import (
    AllocationResult,
    Objective,
    minimize_spend_for_target,
    optimize_budget,
    utility,
)
from mixlens.allocation.response import (
    MMMResponse,
    ResponseModel,
    SeparableCurves,
    TrueResponse,
    as_plan,
)

__all__ = [
    "AllocationResult",
    "MMMResponse",
    "Objective",
    "ResponseModel",
    "SeparableCurves",
    "TrueResponse",
    "allocate_to_dir",
    "as_plan",
    "minimize_spend_for_target",
    "optimize_budget",
    "utility",
]


def __getattr__(name: str) -> object:
    if name == "allocate_to_dir":
        from mixlens.allocation.run import allocate_to_dir

        return allocate_to_dir
    raise AttributeError(f"module 'mixlens.allocation' has no attribute {name!r}")
