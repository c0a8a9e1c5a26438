"""Pareto fronts by the epsilon-constraint method, on the same SLSQP solver.

Two fronts, both as :class:`ParetoFront` (every objective maximised, dominated points
removed):

* :func:`pareto_spend`: outcome against spend; the epsilon-constraint ``spend <= eps``
  solved by the fixed-budget optimiser at each ``eps`` (the outcome grows with spend);
* :func:`pareto_front`: two responses over the same channels at a fixed budget (revenue
  against acquisitions or reach): maximise the first subject to the second ``>= eps``
  for ``eps`` from the second's value at the first's optimum up to its own optimum.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import minimize

from mixlens.allocation.optimize import (
    Bounds,
    Objective,
    _box,
    _check_budget,
    _project,
    _sources,
    _weights,
    optimize_budget,
    utility,
)
from mixlens.allocation.response import ResponseModel, as_plan
from mixlens.errors import DataError

__all__ = ["ParetoFront", "non_dominated", "pareto_front", "pareto_spend"]

FloatArray = NDArray[np.float64]


def non_dominated(values: ArrayLike, *, rtol: float = 1e-9) -> NDArray[np.bool_]:
    """Mask of the rows no other row dominates (all objectives maximised).

    Row ``j`` dominates row ``i`` when it is at least as good in every objective and
    better by more than ``rtol`` (relative) in one. Of exact duplicates the first is kept.

    Examples
    --------
    >>> non_dominated([[1.0, 3.0], [2.0, 2.0], [1.0, 2.0]]).tolist()
    [True, True, False]
    """
    v = np.asarray(values, dtype=np.float64)
    tol = rtol * np.maximum(np.abs(v).max(axis=0), 1e-300)
    keep = np.ones(len(v), dtype=bool)
    for i in range(len(v)):
        geq = np.all(v >= v[i] - tol, axis=1)
        better = np.any(v > v[i] + tol, axis=1)
        same = np.all(np.abs(v - v[i]) <= tol, axis=1)
        if np.any(geq & better) or np.any(same[:i]):
            keep[i] = False
    return keep


@dataclass(frozen=True)
class ParetoFront:
    """Non-dominated plans and their objective values (all maximised).

    Attributes
    ----------
    channels
        Channel names, length ``C``.
    objectives
        Names of the objectives, e.g. ``("outcome", "-spend")``.
    plans
        Spend per plan and channel, currency, ``(K, C)``.
    values
        Objective values per plan, ``(K, len(objectives))``.
    """

    channels: tuple[str, ...]
    objectives: tuple[str, ...]
    plans: FloatArray
    values: FloatArray

    def to_frame(self) -> pd.DataFrame:
        """Return ``pareto.csv``: ``point, spend``, one column per objective, per-channel spend.

        Returns
        -------
        pandas.DataFrame
            ``point`` (0-based), ``spend`` (total, currency), the objectives (``-spend``
            is written as ``spend`` only), then ``spend_<channel>`` columns.
        """
        frame = pd.DataFrame({"point": np.arange(len(self.plans))})
        frame["spend"] = self.plans.sum(axis=1)
        for k, name in enumerate(self.objectives):
            if name != "-spend":
                frame[name] = self.values[:, k]
        for c, name in enumerate(self.channels):
            frame[f"spend_{name}"] = self.plans[:, c]
        return frame


def _front(
    channels: tuple[str, ...], names: tuple[str, ...], plans: list[FloatArray], values: FloatArray
) -> ParetoFront:
    keep = non_dominated(values)
    stacked = np.asarray(plans)[keep]
    kept = values[keep]
    order = np.lexsort(kept.T[::-1])
    return ParetoFront(channels, names, stacked[order], kept[order])


def pareto_spend(
    model: ResponseModel,
    *,
    cap: float,
    points: int = 11,
    current: ArrayLike | None = None,
    bounds: Bounds | None = None,
    locked: Collection[str] = (),
    ramp: float | None = None,
    objective: Objective = "mean",
) -> ParetoFront:
    """Outcome against spend: the best plan at ``points`` budgets up to ``cap``.

    Budgets are evenly spaced from the smallest feasible total (or ``cap / points``) to
    ``cap``; each is the epsilon-constraint ``spend <= eps`` of the outcome, solved by
    :func:`~mixlens.allocation.optimize.optimize_budget`.

    Returns
    -------
    ParetoFront
        Objectives ``("outcome", "-spend")``; ``outcome`` is the objective's utility.

    Examples
    --------
    >>> from mixlens.allocation.response import SeparableCurves
    >>> curves = SeparableCurves(("a", "b"), beta=[4.0, 1.0], half=[1.0, 1.0])
    >>> front = pareto_spend(curves, cap=2.0, points=4, current=[1.0, 1.0])
    >>> front.plans.sum(axis=1).round(6).tolist()
    [0.5, 1.0, 1.5, 2.0]
    """
    if points < 2:
        raise DataError(f"a Pareto front needs at least 2 points, got {points}")
    if current is None:
        current = getattr(model, "current", None)
        if current is None:
            raise DataError("give current spend: the model has no current plan")
    now = as_plan(model, current, name="current")
    box = _box(tuple(model.channels), now, cap=cap, bounds=bounds, locked=locked, ramp=ramp)
    lowest = float(box.lo.sum())
    top = min(cap, float(box.hi.sum()))
    if lowest > top * (1 + 1e-12):
        raise DataError(
            f"budget cap {cap:g} is below the {lowest:g} that the lower bounds "
            f"({_sources(bounds, locked, ramp)}) require"
        )
    start = max(lowest, top / points)
    plans, values = [], []
    for budget in np.linspace(start, top, points):
        res = optimize_budget(
            model, budget=float(budget), current=now, bounds=bounds, locked=locked, ramp=ramp,
            objective=objective,
        )  # fmt: skip
        plans.append(res.recommended)
        values.append([res.recommended_utility, -float(res.recommended.sum())])
    return _front(tuple(model.channels), ("outcome", "-spend"), plans, np.asarray(values))


def pareto_front(
    primary: ResponseModel,
    secondary: ResponseModel,
    *,
    budget: float,
    points: int = 11,
    names: tuple[str, str] = ("revenue", "volume"),
    current: ArrayLike | None = None,
    bounds: Bounds | None = None,
    locked: Collection[str] = (),
    ramp: float | None = None,
    objective: Objective = "mean",
) -> ParetoFront:
    """Two responses at a fixed budget by the epsilon-constraint method.

    For ``eps`` evenly spaced between the secondary's value at the primary's optimum and
    the secondary's own optimum, maximise the primary's utility subject to the
    secondary's utility ``>= eps`` (SLSQP, scaled, started from both end points' blend).
    A solve that misses its constraint is dropped; dominated points are removed.

    Parameters
    ----------
    primary, secondary
        Response models over the same channels (e.g. revenue and acquisitions).
    budget, current, bounds, locked, ramp, objective
        As in :func:`~mixlens.allocation.optimize.optimize_budget`.
    points
        Values of ``eps`` (end points included).
    names
        Names of the two objectives.

    Returns
    -------
    ParetoFront

    Raises
    ------
    DataError
        If the channels differ or the constraints conflict.

    Examples
    --------
    >>> from mixlens.allocation.response import SeparableCurves
    >>> revenue = SeparableCurves(("a", "b"), beta=[4.0, 1.0], half=[1.0, 1.0])
    >>> volume = SeparableCurves(("a", "b"), beta=[1.0, 4.0], half=[1.0, 1.0])
    >>> front = pareto_front(revenue, volume, budget=2.0, points=5, current=[1.0, 1.0])
    >>> len(front.plans), front.values[0].round(3).tolist(), front.values[-1].round(3).tolist()
    (5, [1.625, 2.75], [2.75, 1.625])
    """
    if tuple(primary.channels) != tuple(secondary.channels):
        raise DataError("the two response models must have the same channels, in order")
    if points < 2:
        raise DataError(f"a Pareto front needs at least 2 points, got {points}")
    kwargs: dict[str, Any] = {
        "bounds": bounds, "locked": locked, "ramp": ramp, "objective": objective,
    }  # fmt: skip
    if current is None:
        current = getattr(primary, "current", None)
        if current is None:
            raise DataError("give current spend: the model has no current plan")
    now = as_plan(primary, current, name="current")
    channels = tuple(primary.channels)
    cap = max(budget, float(now.max()) * (1 + (ramp or 0.0)))
    box = _box(channels, now, cap=cap, bounds=bounds, locked=locked, ramp=ramp)
    _check_budget(box, budget, _sources(bounds, locked, ramp))
    a = optimize_budget(primary, budget=budget, current=now, **kwargs).recommended
    b = optimize_budget(secondary, budget=budget, current=now, **kwargs).recommended

    def u(model: ResponseModel, s: FloatArray) -> float:
        return utility(model.expected(s), objective)

    lo_eps, hi_eps = u(secondary, a), u(secondary, b)
    free = box.hi - box.lo > 1e-12 * max(budget, 1.0)
    plans: list[FloatArray] = [a, b]
    values = [[u(primary, a), lo_eps], [u(primary, b), hi_eps]]
    if free.any() and hi_eps > lo_eps * (1 + 1e-9):
        scale = budget / int(free.sum())
        n1 = max(abs(values[0][0]), 1e-12)
        n2 = max(abs(hi_eps), 1e-12)
        fixed = float(box.lo[~free].sum())

        def full(x: FloatArray) -> FloatArray:
            s = box.lo.copy()
            s[free] = np.clip(x * scale, box.lo[free], box.hi[free])
            return s

        def fun(x: FloatArray) -> tuple[float, FloatArray]:
            s = full(x)
            vals = primary.expected(s)
            w = _weights(vals, objective)
            return -float(w @ vals) / n1, -(w @ primary.gradient(s))[free] * scale / n1

        limits = list(zip(box.lo[free] / scale, box.hi[free] / scale, strict=True))
        budget_constraint = {
            "type": "eq",
            "fun": lambda x: np.array([(x.sum() * scale + fixed - budget) / budget]),
            "jac": lambda x: np.full((1, x.size), scale / budget),
        }
        for k, eps in enumerate(np.linspace(lo_eps, hi_eps, points)[1:-1], start=1):

            def g(x: FloatArray, eps: float = float(eps)) -> FloatArray:
                vals = secondary.expected(full(x))
                return np.array([(float(_weights(vals, objective) @ vals) - eps) / n2])

            def g_jac(x: FloatArray) -> FloatArray:
                s = full(x)
                vals = secondary.expected(s)
                grad = _weights(vals, objective) @ secondary.gradient(s)
                out: FloatArray = (grad[free] * scale / n2)[None, :]
                return out

            t = k / (points - 1)
            x0 = _project((1 - t) * a + t * b, box, budget)
            res = minimize(
                fun,
                x0[free] / scale,
                jac=True,
                method="SLSQP",
                bounds=limits,
                constraints=[budget_constraint, {"type": "ineq", "fun": g, "jac": g_jac}],
                options={"maxiter": 500, "ftol": 1e-12},
            )
            plan = _project(full(np.asarray(res.x, dtype=np.float64)), box, budget)
            second = u(secondary, plan)
            if second >= eps - 1e-6 * n2:
                plans.append(plan)
                values.append([u(primary, plan), second])
    return _front(channels, names, plans, np.asarray(values))
