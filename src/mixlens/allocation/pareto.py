"""Pareto fronts by the epsilon-constraint method, on the same SLSQP solver.

Three fronts, each a :class:`ParetoFront` (every objective maximised, dominated points
removed):

* :func:`pareto_spend`: outcome against spend; the epsilon-constraint ``spend <= eps``
  solved by the fixed-budget optimiser at each ``eps`` (the outcome grows with spend);
* :func:`pareto_objectives`: two or more responses over the same channels at a fixed budget
  (revenue, acquisitions and reach): maximise the first subject to every other ``>= eps_k``
  on a grid of levels spanning the payoff table of the single-objective optima;
* :func:`pareto_front`: the two-response case (revenue against acquisitions or reach).
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import minimize

from mixlens.allocation.optimize import (
    Bounds,
    Objective,
    _Box,
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

__all__ = ["ParetoFront", "non_dominated", "pareto_front", "pareto_objectives", "pareto_spend"]

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

    :func:`pareto_objectives` with two models: for ``eps`` evenly spaced between the
    secondary's value at the primary's optimum and the secondary's own optimum, maximise
    the primary's utility subject to the secondary's utility ``>= eps``.

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
    return pareto_objectives(
        (primary, secondary), budget=budget, points=points, names=names, current=current,
        bounds=bounds, locked=locked, ramp=ramp, objective=objective,
    )  # fmt: skip


def pareto_objectives(
    models: Sequence[ResponseModel],
    *,
    budget: float,
    points: int = 7,
    names: Sequence[str] | None = None,
    current: ArrayLike | None = None,
    bounds: Bounds | None = None,
    locked: Collection[str] = (),
    ramp: float | None = None,
    objective: Objective = "mean",
) -> ParetoFront:
    """Pareto front of several responses at a fixed budget (epsilon-constraint method).

    First the payoff table: each objective's own optimum by
    :func:`~mixlens.allocation.optimize.optimize_budget`. Each objective after the first
    then ranges from its worst value over those optima to its own best; for every
    combination of ``points`` evenly spaced levels ``eps_k`` (``points ** (m - 1)``
    solves for ``m`` objectives) SLSQP maximises the first objective's utility subject
    to the budget, the constraint box and every other objective's utility ``>= eps_k``
    (all scaled by their optimum), started from the blend of the single-objective optima
    that the levels point to. A solve that misses a constraint is dropped, so is every
    dominated plan: every plan returned is non-dominated among those found, and each
    single-objective optimum is on the front.

    Parameters
    ----------
    models
        Two or more response models over the same channels, e.g. revenue, acquisitions
        (:class:`~mixlens.allocation.scenarios.ScaledResponse`) and reach
        (:class:`~mixlens.allocation.reach.ReachCurves`).
    budget, current, bounds, locked, ramp, objective
        As in :func:`~mixlens.allocation.optimize.optimize_budget`.
    points
        Levels per constrained objective (end points included), at least 2.
    names
        Names of the objectives (default ``objective_1, ...``).

    Returns
    -------
    ParetoFront
        One column of ``values`` per model, in order.

    Raises
    ------
    DataError
        If fewer than two models, the channels differ or the constraints conflict.

    Examples
    --------
    >>> from mixlens.allocation.response import SeparableCurves
    >>> a = SeparableCurves(("x", "y", "z"), beta=[4.0, 1.0, 1.0], half=[1.0, 1.0, 1.0])
    >>> b = SeparableCurves(("x", "y", "z"), beta=[1.0, 4.0, 1.0], half=[1.0, 1.0, 1.0])
    >>> c = SeparableCurves(("x", "y", "z"), beta=[1.0, 1.0, 4.0], half=[1.0, 1.0, 1.0])
    >>> front = pareto_objectives((a, b, c), budget=3.0, points=3, current=[1.0, 1.0, 1.0])
    >>> bool(non_dominated(front.values).all()), front.values.shape[1]
    (True, 3)
    """
    models = tuple(models)
    if len(models) < 2:
        raise DataError(f"a Pareto front needs at least 2 objectives, got {len(models)}")
    channels = tuple(models[0].channels)
    if any(tuple(m.channels) != channels for m in models[1:]):
        raise DataError("the response models must have the same channels, in order")
    if points < 2:
        raise DataError(f"a Pareto front needs at least 2 points, got {points}")
    labels = (
        tuple(names)
        if names is not None
        else tuple(f"objective_{i + 1}" for i in range(len(models)))
    )
    if len(labels) != len(models):
        raise DataError(f"{len(labels)} names for {len(models)} objectives")
    kwargs: dict[str, Any] = {
        "bounds": bounds, "locked": locked, "ramp": ramp, "objective": objective,
    }  # fmt: skip
    if current is None:
        current = getattr(models[0], "current", None)
        if current is None:
            raise DataError("give current spend: the model has no current plan")
    now = as_plan(models[0], current, name="current")
    cap = max(budget, float(now.max()) * (1 + (ramp or 0.0)))
    box = _box(channels, now, cap=cap, bounds=bounds, locked=locked, ramp=ramp)
    _check_budget(box, budget, _sources(bounds, locked, ramp))
    optima = [optimize_budget(m, budget=budget, current=now, **kwargs).recommended for m in models]

    def u(model: ResponseModel, s: FloatArray) -> float:
        return utility(model.expected(s), objective)

    payoff = np.array([[u(m, plan) for m in models] for plan in optima])  # (plan, objective)
    plans: list[FloatArray] = list(optima)
    values: list[list[float]] = payoff.tolist()
    low, high = payoff.min(axis=0), np.diag(payoff)
    norms = np.maximum(np.abs(high), 1e-12)
    free = box.hi - box.lo > 1e-12 * max(budget, 1.0)
    spread = high[1:] > low[1:] + 1e-9 * norms[1:]
    if free.any() and spread.any():
        solve = _EpsilonSolver(models, box, budget, free, norms, objective)
        levels = np.linspace(0.0, 1.0, points)
        for t in itertools.product(levels, repeat=len(models) - 1):
            frac = np.asarray(t)
            if np.all(frac == 0.0) or np.sum(frac == 1.0) > 1:
                continue  # the first objective's optimum, or two objectives at their best
            eps = low[1:] + frac * (high[1:] - low[1:])
            blend = np.concatenate([[max(0.0, 1.0 - frac.sum())], frac])
            start = np.asarray(optima).T @ (blend / blend.sum())
            plan = solve(eps, _project(start, box, budget))
            achieved = [u(m, plan) for m in models]
            if all(a >= e - 1e-6 * n for a, e, n in zip(achieved[1:], eps, norms[1:], strict=True)):
                plans.append(plan)
                values.append(achieved)
    return _front(channels, labels, plans, np.asarray(values))


class _EpsilonSolver:
    """SLSQP for ``max u_0(s)`` s.t. budget, box and ``u_k(s) >= eps_k`` (scaled)."""

    def __init__(
        self,
        models: tuple[ResponseModel, ...],
        box: _Box,
        budget: float,
        free: NDArray[np.bool_],
        norms: FloatArray,
        objective: Objective,
    ) -> None:
        self.models, self.box, self.budget, self.free = models, box, budget, free
        self.norms, self.objective = norms, objective
        self.scale = budget / int(free.sum())
        self.fixed = float(box.lo[~free].sum())

    def full(self, x: FloatArray) -> FloatArray:
        """Spend plan from the scaled free variables."""
        s = self.box.lo.copy()
        s[self.free] = np.clip(x * self.scale, self.box.lo[self.free], self.box.hi[self.free])
        return s

    def value(self, k: int, x: FloatArray) -> tuple[float, FloatArray]:
        """Scaled utility of objective ``k`` and its gradient in the free variables."""
        s = self.full(x)
        model = self.models[k]
        vals = model.expected(s)
        w = _weights(vals, self.objective)
        grad = (w @ model.gradient(s))[self.free] * self.scale / self.norms[k]
        return float(w @ vals) / self.norms[k], grad

    def __call__(self, eps: FloatArray, start: FloatArray) -> FloatArray:
        """Best plan for the levels ``eps`` (objectives 1..m-1), projected into the box."""
        free, scale, budget = self.free, self.scale, self.budget

        def fun(x: FloatArray) -> tuple[float, FloatArray]:
            v, g = self.value(0, x)
            return -v, -g

        constraints: list[dict[str, Any]] = [
            {
                "type": "eq",
                "fun": lambda x: np.array([(x.sum() * scale + self.fixed - budget) / budget]),
                "jac": lambda x: np.full((1, x.size), scale / budget),
            }
        ]
        for k in range(1, len(self.models)):
            level = float(eps[k - 1]) / self.norms[k]
            constraints.append(
                {
                    "type": "ineq",
                    "fun": lambda x, k=k, level=level: np.array([self.value(k, x)[0] - level]),
                    "jac": lambda x, k=k: self.value(k, x)[1][None, :],
                }
            )
        limits = list(zip(self.box.lo[free] / scale, self.box.hi[free] / scale, strict=True))
        res = minimize(
            fun,
            start[free] / scale,
            jac=True,
            method="SLSQP",
            bounds=limits,
            constraints=constraints,
            options={"maxiter": 500, "ftol": 1e-12},
        )
        return _project(self.full(np.asarray(res.x, dtype=np.float64)), self.box, budget)
