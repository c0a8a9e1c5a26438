"""Allocation scenarios beyond "best outcome for a fixed budget".

* :func:`maximize_profit`: maximise ``margin * outcome - spend`` with the budget free up to a
  cap (risk-aware: the objective's utility of the outcome replaces its mean);
* :func:`target_marginal_roi`: spend until every free channel's marginal ROI falls to the
  target; the same problem as profit with ``margin = 1 / target``;
* :func:`target_roi`: the largest budget whose optimal plan keeps ROI (utility of the
  outcome over spend) at or above the target;
* volume instead of revenue: :class:`ScaledResponse` converts a response's units, e.g.
  revenue to acquisitions with a value per unit (a number, or one per channel).

Every scenario goes through the same constraint box as
:func:`~mixlens.allocation.optimize.optimize_budget` (per-channel bounds, ramp limits
relative to current spend, locked channels), raises :class:`~mixlens.errors.DataError`
naming a conflicting constraint, and never returns a plan worse than the current one
(projected into the constraints) on its own criterion.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mixlens.allocation.optimize import (
    AllocationResult,
    Bounds,
    Objective,
    _Box,
    _box,
    _multistart_slsqp,
    _sources,
    _weights,
    optimize_budget,
    utility,
)
from mixlens.allocation.response import ResponseModel, as_plan
from mixlens.errors import DataError

__all__ = [
    "ScaledResponse",
    "marginal_roi",
    "maximize_profit",
    "target_marginal_roi",
    "target_roi",
]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class ScaledResponse:
    """A response model with its outcome multiplied by a factor per channel (and draw).

    Converts units: revenue to volume with ``factor = 1 / value_per_unit`` (acquisitions
    per currency of revenue), volume to revenue with ``factor = value_per_unit``, or a
    posterior over per-channel coefficients with ``factor`` of shape ``(n_draws, C)``.
    A per-channel factor changes the optimal plan; a single number only rescales it.

    Parameters
    ----------
    base
        The response model converted.
    factor
        A number, one per channel ``(C,)`` or one per draw and channel ``(n_draws, C)``.

    Examples
    --------
    >>> from mixlens.allocation.response import SeparableCurves
    >>> revenue = SeparableCurves(("tv", "search"), beta=[10.0, 5.0], half=[1.0, 1.0])
    >>> ScaledResponse(revenue, 0.5).expected(np.array([1.0, 1.0])).tolist()
    [3.75]
    """

    base: ResponseModel
    factor: ArrayLike = 1.0

    @property
    def channels(self) -> tuple[str, ...]:
        """Channel names of the base model."""
        return tuple(self.base.channels)

    @property
    def current(self) -> FloatArray | None:
        """The base model's current plan, if it has one."""
        value = getattr(self.base, "current", None)
        return None if value is None else np.asarray(value, dtype=np.float64)

    def _factor(self) -> FloatArray:
        out: FloatArray = np.atleast_2d(np.asarray(self.factor, dtype=np.float64))
        return out

    def contributions(self, spend: FloatArray) -> FloatArray:
        """Per-draw channel contributions in the converted unit, ``(n_draws, C)``."""
        out: FloatArray = self.base.contributions(spend) * self._factor()
        return out

    def expected(self, spend: FloatArray) -> FloatArray:
        """Per-draw total outcome in the converted unit, ``(n_draws,)``."""
        out: FloatArray = self.contributions(spend).sum(axis=1)
        return out

    def gradient(self, spend: FloatArray) -> FloatArray:
        """Per-draw gradient in the converted unit per currency, ``(n_draws, C)``."""
        out: FloatArray = self.base.gradient(spend) * self._factor()
        return out


def marginal_roi(
    model: ResponseModel, spend: ArrayLike, objective: Objective = "mean"
) -> FloatArray:
    """Marginal return of one more currency unit per channel at ``spend``.

    The gradient of the objective's utility of the outcome (for ``"mean"`` the posterior
    mean of the per-draw gradient), target units per currency.

    Examples
    --------
    >>> from mixlens.allocation.response import SeparableCurves
    >>> curves = SeparableCurves(("tv", "search"), beta=[4.0, 1.0], half=[1.0, 1.0])
    >>> marginal_roi(curves, [1.0, 1.0]).tolist()
    [1.0, 0.25]
    """
    plan = as_plan(model, spend)
    w = _weights(model.expected(plan), objective)
    out: FloatArray = w @ model.gradient(plan)
    return out


def _current(model: ResponseModel, current: ArrayLike | None) -> FloatArray:
    if current is None:
        current = getattr(model, "current", None)
        if current is None:
            raise DataError("give current spend: the model has no current plan")
    return as_plan(model, current, name="current")


def _fit_cap(plan: FloatArray, box: _Box, cap: float) -> FloatArray:
    """Clip ``plan`` into the box, then shrink the free part until the total fits ``cap``."""
    out: FloatArray = np.clip(plan, box.lo, box.hi)
    excess = out.sum() - cap
    if excess > 0:
        room = out - box.lo
        out = out - room * min(1.0, excess / max(float(room.sum()), 1e-300))
    return out


def _profit(model: ResponseModel, plan: FloatArray, margin: float, objective: Objective) -> float:
    return margin * utility(model.expected(plan), objective) - float(plan.sum())


def _result(
    model: ResponseModel,
    now: FloatArray,
    plan: FloatArray,
    objective: Objective,
    ci: float,
    *,
    success: bool,
    fallback: bool,
    message: str,
    scenario: dict[str, Any],
) -> AllocationResult:
    current_draws = model.contributions(now)
    recommended_draws = model.contributions(plan)
    return AllocationResult(
        channels=tuple(model.channels),
        current=now,
        recommended=plan,
        current_draws=current_draws,
        recommended_draws=recommended_draws,
        objective=objective,
        current_utility=utility(current_draws.sum(axis=1), objective),
        recommended_utility=utility(recommended_draws.sum(axis=1), objective),
        success=success,
        fallback=fallback,
        message=message,
        ci=ci,
        scenario=scenario,
    )


def maximize_profit(
    model: ResponseModel,
    *,
    margin: float,
    cap: float,
    current: ArrayLike | None = None,
    bounds: Bounds | None = None,
    locked: Collection[str] = (),
    ramp: float | None = None,
    objective: Objective = "mean",
    ci: float = 0.9,
) -> AllocationResult:
    """Maximise ``margin * utility(outcome) - spend`` with total spend free up to ``cap``.

    At the optimum every channel strictly inside its bounds has marginal return
    ``1 / margin`` (the KKT condition), unless the cap binds. SLSQP from several starts:
    the current plan, the lower bounds, and fixed-budget optima at a few budgets (which
    guards S-shaped curves); the plan returned is never less profitable than the current
    one projected into the constraints.

    Parameters
    ----------
    model, current, bounds, locked, ramp, objective, ci
        As in :func:`~mixlens.allocation.optimize.optimize_budget`.
    margin
        Currency of profit per target unit of outcome (the gross margin on revenue, or
        value per unit times margin for a volume target), ``> 0``.
    cap
        Largest total spend, currency, ``> 0``.

    Returns
    -------
    AllocationResult
        ``scenario`` holds ``margin``, ``cap``, both plans' profit and the marginal ROI.

    Raises
    ------
    DataError
        If the constraints conflict or the lower bounds exceed the cap.

    Examples
    --------
    >>> from mixlens.allocation.response import SeparableCurves
    >>> curves = SeparableCurves(("a", "b"), beta=[4.0, 1.0], half=[1.0, 1.0])
    >>> res = maximize_profit(curves, margin=1.0, cap=10.0, current=[0.5, 0.5])
    >>> res.recommended.round(3).tolist()  # sqrt(margin * beta * half) - half
    [1.0, 0.0]
    """
    now = _current(model, current)
    if not (np.isfinite(margin) and margin > 0):
        raise DataError(f"margin must be a positive number, got {margin}")
    if not (np.isfinite(cap) and cap > 0):
        raise DataError(f"cap must be a positive number, got {cap}")
    box = _box(tuple(model.channels), now, cap=cap, bounds=bounds, locked=locked, ramp=ramp)
    if box.lo.sum() > cap * (1 + 1e-12) + 1e-9:
        raise DataError(
            f"budget cap {cap:g} is below the {box.lo.sum():g} that the lower bounds "
            f"({_sources(bounds, locked, ramp)}) require"
        )
    reference_plan = _fit_cap(now, box, cap)
    reference = _profit(model, reference_plan, margin, objective)
    starts = [reference_plan, box.lo.copy()]
    lo_total = float(box.lo.sum())
    top = min(cap, float(box.hi.sum()))
    for frac in (0.25, 0.5, 1.0):
        total = lo_total + frac * (top - lo_total)
        if total > 0 and total > lo_total * (1 + 1e-9):
            fixed = optimize_budget(
                model, budget=total, current=now, bounds=bounds, locked=locked, ramp=ramp,
                objective=objective,
            )  # fmt: skip
            starts.append(fixed.recommended)
    best_plan, best_value, fallback = reference_plan, reference, True
    success, message = True, "every channel is fixed by its constraints"
    norm = max(abs(reference), margin * abs(utility(model.expected(starts[-1]), objective)))

    def value_and_gradient(plan: FloatArray) -> tuple[float, FloatArray]:
        values = model.expected(plan)
        w = _weights(values, objective)
        value = margin * float(w @ values) - float(plan.sum())
        return value, margin * (w @ model.gradient(plan)) - 1.0

    best = _multistart_slsqp(
        value_and_gradient,
        box,
        starts,
        total=cap,
        equality=False,
        norm=max(norm, 1e-12),
        finish=lambda plan: _fit_cap(plan, box, cap),
        score=lambda plan: _profit(model, plan, margin, objective),
    )
    if best is not None and best[1] > best_value:
        best_plan, best_value, fallback = best[0], best[1], False
        success, message = best[2], best[3]
    if fallback:
        message = f"{message}; no plan beat the current one (within the constraints), kept it"
    scenario = {
        "name": "profit",
        "margin": float(margin),
        "cap": float(cap),
        "current_profit": _profit(model, now, margin, objective),
        "recommended_profit": best_value,
        "recommended_spend": float(best_plan.sum()),
        "marginal_roi": dict(
            zip(model.channels, marginal_roi(model, best_plan, objective).tolist(), strict=True)
        ),
    }
    return _result(
        model, now, best_plan, objective, ci, success=success, fallback=fallback,
        message=message, scenario=scenario,
    )  # fmt: skip


def target_marginal_roi(
    model: ResponseModel,
    target: float,
    *,
    cap: float,
    current: ArrayLike | None = None,
    bounds: Bounds | None = None,
    locked: Collection[str] = (),
    ramp: float | None = None,
    objective: Objective = "mean",
    ci: float = 0.9,
) -> AllocationResult:
    """Spend on each channel until its marginal ROI falls to ``target`` (up to ``cap``).

    The plan that maximises ``utility(outcome) - spend / target``: free channels end at
    marginal ROI ``target`` exactly; a channel whose first unit returns less gets its lower
    bound; if the cap binds, marginal ROIs are equal and above the target.

    Parameters
    ----------
    target
        Marginal ROI to reach, target units per currency, ``> 0``.
    cap, model, current, bounds, locked, ramp, objective, ci
        As in :func:`maximize_profit`.

    Returns
    -------
    AllocationResult

    Examples
    --------
    >>> from mixlens.allocation.response import SeparableCurves
    >>> curves = SeparableCurves(("a", "b"), beta=[4.0, 1.0], half=[1.0, 1.0])
    >>> res = target_marginal_roi(curves, 0.25, cap=10.0, current=[0.5, 0.5])
    >>> res.recommended.round(3).tolist()  # sqrt(beta * half / target) - half
    [3.0, 1.0]
    """
    if not (np.isfinite(target) and target > 0):
        raise DataError(f"target marginal ROI must be a positive number, got {target}")
    result = maximize_profit(
        model, margin=1.0 / target, cap=cap, current=current, bounds=bounds, locked=locked,
        ramp=ramp, objective=objective, ci=ci,
    )  # fmt: skip
    scenario = {"name": "mroi", "target": float(target), "cap": float(cap)}
    scenario["marginal_roi"] = result.scenario["marginal_roi"]
    scenario["recommended_spend"] = float(result.recommended.sum())
    return replace(result, scenario=scenario)


def target_roi(
    model: ResponseModel,
    target: float,
    *,
    cap: float,
    current: ArrayLike | None = None,
    bounds: Bounds | None = None,
    locked: Collection[str] = (),
    ramp: float | None = None,
    objective: Objective = "mean",
    ci: float = 0.9,
    rtol: float = 1e-4,
) -> AllocationResult:
    """Largest budget (up to ``cap``) whose optimal plan keeps ROI at or above ``target``.

    ROI of a budget ``B`` is ``utility(outcome of the best plan for B) / B``; with concave
    curves it falls as ``B`` grows, so bisection on ``B`` (relative tolerance ``rtol``)
    with :func:`~mixlens.allocation.optimize.optimize_budget` inside finds the crossing.

    Parameters
    ----------
    target
        Average ROI to keep, target units per currency, ``> 0``.
    cap, model, current, bounds, locked, ramp, objective, ci
        As in :func:`maximize_profit`.
    rtol
        Relative tolerance on the budget.

    Returns
    -------
    AllocationResult
        ``scenario`` holds the target, the budget found and its ROI.

    Raises
    ------
    DataError
        If even the smallest feasible budget's ROI is below the target, or the
        constraints conflict.

    Examples
    --------
    >>> from mixlens.allocation.response import SeparableCurves
    >>> curves = SeparableCurves(("a",), beta=[4.0], half=[1.0])
    >>> res = target_roi(curves, 2.0, cap=10.0, current=[0.5])
    >>> round(float(res.recommended.sum()), 3)  # 4 s / (1 + s) = 2 s
    1.0
    """
    now = _current(model, current)
    if not (np.isfinite(target) and target > 0):
        raise DataError(f"target ROI must be a positive number, got {target}")
    if not (np.isfinite(cap) and cap > 0):
        raise DataError(f"cap must be a positive number, got {cap}")
    box = _box(tuple(model.channels), now, cap=cap, bounds=bounds, locked=locked, ramp=ramp)
    lo = max(float(box.lo.sum()), 1e-6 * cap)
    hi = min(cap, float(box.hi.sum()))
    if lo > hi * (1 + 1e-12):
        raise DataError(
            f"budget cap {cap:g} is below the {lo:g} that the lower bounds "
            f"({_sources(bounds, locked, ramp)}) require"
        )
    kwargs: dict[str, Any] = {
        "current": now, "bounds": bounds, "locked": locked, "ramp": ramp,
        "objective": objective, "ci": ci,
    }  # fmt: skip

    def roi(budget: float) -> tuple[float, AllocationResult]:
        res = optimize_budget(model, budget=budget, **kwargs)
        return res.recommended_utility / budget, res

    top, best = roi(hi)
    if top < target:
        low, low_res = roi(lo)
        if low < target:
            raise DataError(
                f"target ROI {target:g} is out of reach: ROI is {low:g} at the smallest "
                f"budget {lo:g} the constraints ({_sources(bounds, locked, ramp)}) allow"
            )
        best = low_res
        while hi - lo > rtol * hi:
            mid = 0.5 * (lo + hi)
            value, trial = roi(mid)
            if value >= target:
                lo, best = mid, trial
            else:
                hi = mid
    spend = float(best.recommended.sum())
    scenario = {
        "name": "roi",
        "target": float(target),
        "cap": float(cap),
        "recommended_spend": spend,
        "recommended_roi": best.recommended_utility / spend,
        "current_roi": best.current_utility / max(float(now.sum()), 1e-300),
    }
    return replace(best, scenario=scenario)
