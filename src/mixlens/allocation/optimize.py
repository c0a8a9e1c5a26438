"""Budget optimisation on a :class:`~mixlens.allocation.response.ResponseModel`.

The solver is scipy's SLSQP on a scaled problem: spend is divided by the average budget
per channel and the utility by its value at the reference plan, so gradients are of order
one whatever the currency. Constraints (bounds, locked channels, ramp limits) collapse to
one box per channel plus the budget; conflicts raise :class:`~mixlens.errors.DataError`
naming the constraint. The returned plan is never worse than the current split (scaled to
the budget) under the chosen objective: if the solver does worse it falls back to it and
says so in ``message``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import minimize

from mixlens.allocation.response import ResponseModel, as_plan
from mixlens.errors import DataError

__all__ = [
    "AllocationResult",
    "Objective",
    "minimize_spend_for_target",
    "optimize_budget",
    "utility",
]

FloatArray = NDArray[np.float64]
Objective = Literal["mean"] | tuple[str, float]
Bounds = Mapping[str, tuple[float | None, float | None]]


def _weights(values: FloatArray, objective: Objective) -> FloatArray:
    """Weights over draws such that ``weights @ values`` is the utility (a subgradient)."""
    n = values.shape[0]
    w = np.zeros(n)
    if objective == "mean":
        w[:] = 1.0 / n
        return w
    if not (isinstance(objective, tuple) and len(objective) == 2):
        raise DataError(
            f"objective must be 'mean', ('quantile', q) or ('cvar', alpha): {objective}"
        )
    kind, level = objective[0], float(objective[1])
    if not 0 < level <= 1:
        raise DataError(f"objective {kind!r} level must lie in (0, 1], got {level}")
    order = np.argsort(values, kind="stable")
    if kind == "cvar":
        k = max(1, math.ceil(level * n - 1e-9))
        w[order[:k]] = 1.0 / k
    elif kind == "quantile":
        pos = level * (n - 1)
        lo = math.floor(pos)
        frac = pos - lo
        w[order[lo]] += 1.0 - frac
        if frac > 0:
            w[order[lo + 1]] += frac
    else:
        raise DataError(f"unknown objective {kind!r}; use 'mean', 'quantile' or 'cvar'")
    return w


def utility(values: ArrayLike, objective: Objective = "mean") -> float:
    """Risk utility of per-draw outcomes.

    Parameters
    ----------
    values
        Outcome per posterior draw, target units, shape ``(n_draws,)``.
    objective
        ``"mean"``; ``("quantile", q)``: the ``q`` quantile (linear interpolation, as
        ``numpy.quantile``); ``("cvar", alpha)``: the mean of the worst ``ceil(alpha *
        n_draws)`` draws (never above the mean).

    Returns
    -------
    float
        Target units.

    Examples
    --------
    >>> utility([1.0, 2.0, 3.0, 4.0], ("cvar", 0.5))
    1.5
    >>> utility([1.0, 2.0, 3.0, 4.0], ("quantile", 0.5))
    2.5
    """
    v = np.asarray(values, dtype=np.float64)
    return float(_weights(v, objective) @ v)


@dataclass(frozen=True)
class AllocationResult:
    """A recommended plan beside the current one, with per-draw contributions.

    Attributes
    ----------
    channels
        Channel names, length ``C``.
    current, recommended
        Spend per channel over the horizon, currency, ``(C,)``.
    current_draws, recommended_draws
        Per-draw channel contributions, target units, ``(n_draws, C)``.
    objective
        The objective optimised (see :func:`utility`).
    current_utility, recommended_utility
        The objective at each plan, target units.
    success
        Whether the solver converged (a fallback plan is still feasible).
    fallback
        True when the solver's plan was worse than the reference and the reference
        (the current split scaled to the budget) was returned.
    message
        What the solver said, and any fallback.
    ci
        Mass of the central intervals.
    scenario
        What was solved and its own figures (name, targets, profit, ROI); merged into
        :meth:`summary` under ``"scenario"``. Empty for a plain fixed-budget run.
    """

    channels: tuple[str, ...]
    current: FloatArray
    recommended: FloatArray
    current_draws: FloatArray
    recommended_draws: FloatArray
    objective: Objective
    current_utility: float
    recommended_utility: float
    success: bool
    fallback: bool
    message: str
    ci: float = 0.9
    scenario: dict[str, Any] = field(default_factory=dict)

    def _interval(self, values: FloatArray) -> tuple[FloatArray, FloatArray]:
        lo, hi = np.quantile(values, [(1 - self.ci) / 2, (1 + self.ci) / 2], axis=0)
        return np.asarray(lo), np.asarray(hi)

    def to_frame(self) -> pd.DataFrame:
        """Return the ``allocation.csv`` table of design.md.

        Returns
        -------
        pandas.DataFrame
            ``channel, current_spend, recommended_spend, expected_contribution_mean,
            expected_contribution_lo, expected_contribution_hi`` (spend in currency,
            contributions of the recommended plan in target units).
        """
        lo, hi = self._interval(self.recommended_draws)
        return pd.DataFrame(
            {
                "channel": list(self.channels),
                "current_spend": self.current,
                "recommended_spend": self.recommended,
                "expected_contribution_mean": self.recommended_draws.mean(axis=0),
                "expected_contribution_lo": lo,
                "expected_contribution_hi": hi,
            }
        )

    def summary(self) -> dict[str, Any]:
        """JSON-safe summary: expected outcome of both plans and ``prob_better_than_current``."""
        current = self.current_draws.sum(axis=1)
        recommended = self.recommended_draws.sum(axis=1)

        def block(values: FloatArray) -> dict[str, float]:
            lo, hi = self._interval(values)
            return {"mean": float(values.mean()), "lo": float(lo), "hi": float(hi)}

        return {
            "current_spend": float(self.current.sum()),
            "recommended_spend": float(self.recommended.sum()),
            "current_expected": block(current),
            "recommended_expected": block(recommended),
            "prob_better_than_current": float(np.mean(recommended > current)),
            "objective": list(self.objective)
            if isinstance(self.objective, tuple)
            else self.objective,
            "current_utility": self.current_utility,
            "recommended_utility": self.recommended_utility,
            "success": self.success,
            "fallback": self.fallback,
            "message": self.message,
            "ci": self.ci,
            **({"scenario": dict(self.scenario)} if self.scenario else {}),
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict: :meth:`summary` plus the table's records."""
        return {**self.summary(), "allocation": self.to_frame().to_dict("records")}


@dataclass(frozen=True)
class _Box:
    lo: FloatArray
    hi: FloatArray


def _box(
    channels: tuple[str, ...],
    current: FloatArray,
    *,
    cap: float,
    bounds: Bounds | None,
    locked: Collection[str],
    ramp: float | None,
) -> _Box:
    """Per-channel ``[lo, hi]`` from bounds, ramp and locks; raise naming a conflict."""
    n = len(channels)
    lo, hi = np.zeros(n), np.full(n, cap)
    lo_src, hi_src = ["non-negativity"] * n, ["budget"] * n
    unknown = [c for c in [*(bounds or {}), *locked] if c not in channels]
    if unknown:
        raise DataError(f"unknown channel {unknown[0]!r} in bounds/locked; channels: {channels}")
    if ramp is not None:
        if not ramp >= 0:
            raise DataError(f"ramp must be >= 0 (a relative change), got {ramp}")
        for i in range(n):
            lo[i], hi[i] = current[i] * (1 - ramp), current[i] * (1 + ramp)
            lo_src[i] = hi_src[i] = f"ramp {ramp:g}"
    for name, (lower, upper) in (bounds or {}).items():
        i = channels.index(name)
        if lower is not None and lower > lo[i]:
            lo[i], lo_src[i] = float(lower), "lower bound"
        if upper is not None and upper < hi[i]:
            hi[i], hi_src[i] = float(upper), "upper bound"
    for name in locked:
        i = channels.index(name)
        if not lo[i] <= current[i] <= hi[i]:
            src = lo_src[i] if current[i] < lo[i] else hi_src[i]
            raise DataError(
                f"locked channel {name!r} (spend {current[i]:g}) conflicts with its {src}"
            )
        lo[i] = hi[i] = current[i]
        lo_src[i] = hi_src[i] = "lock"
    for i, name in enumerate(channels):
        if lo[i] > hi[i] * (1 + 1e-12) + 1e-12:
            raise DataError(
                f"channel {name!r}: {lo_src[i]} {lo[i]:g} exceeds {hi_src[i]} {hi[i]:g}"
            )
    return _Box(lo, np.maximum(hi, lo))


def _project(x: FloatArray, box: _Box, total: float) -> FloatArray:
    """Closest-in-shift point ``clip(x + t, lo, hi)`` with ``sum == total`` (bisection)."""
    a, b = float(np.min(box.lo - x)) - 1.0, float(np.max(box.hi - x)) + 1.0
    for _ in range(200):
        t = 0.5 * (a + b)
        if np.clip(x + t, box.lo, box.hi).sum() < total:
            a = t
        else:
            b = t
    out: FloatArray = np.clip(x + 0.5 * (a + b), box.lo, box.hi)
    return out


def _check_budget(box: _Box, budget: float, sources: str) -> None:
    if budget < box.lo.sum() * (1 - 1e-12) - 1e-9:
        raise DataError(
            f"budget {budget:g} is below the {box.lo.sum():g} that the lower bounds "
            f"({sources}) require"
        )
    if budget > box.hi.sum() * (1 + 1e-12) + 1e-9:
        raise DataError(
            f"budget {budget:g} exceeds the {box.hi.sum():g} that the upper bounds "
            f"({sources}) allow"
        )


def _sources(bounds: Bounds | None, locked: Collection[str], ramp: float | None) -> str:
    parts = ["bounds"] if bounds else []
    parts += ["locked channels"] if locked else []
    parts += [f"ramp {ramp:g}"] if ramp is not None else []
    return ", ".join(parts) or "non-negativity"


def _greedy(
    model: ResponseModel, box: _Box, budget: float, objective: Objective, steps: int = 40
) -> FloatArray:
    """Start point for non-concave curves: spend in ``steps`` slices, each where it gains most."""
    plan = box.lo.copy()
    piece = (budget - plan.sum()) / steps
    for _ in range(steps):
        room = np.minimum(box.hi - plan, piece)
        best, gain = -1, -np.inf
        base = utility(model.expected(plan), objective)
        for i in np.flatnonzero(room > 0):
            trial = plan.copy()
            trial[i] += room[i]
            value = (utility(model.expected(trial), objective) - base) / room[i]
            if value > gain:
                best, gain = int(i), value
        if best < 0:
            break
        plan[best] += room[best]
    return _project(plan, box, budget)


def _multistart_slsqp(
    value_and_gradient: Callable[[FloatArray], tuple[float, FloatArray]],
    box: _Box,
    starts: Sequence[FloatArray],
    *,
    total: float,
    equality: bool,
    norm: float,
    finish: Callable[[FloatArray], FloatArray],
    score: Callable[[FloatArray], float],
) -> tuple[FloatArray, float, bool, str] | None:
    """Maximise a plan's value by SLSQP from several starts; return the best finished plan.

    The channels free inside ``box`` are optimised on a scale where one unit is
    ``total / n_free`` (so gradients neither vanish nor explode), under total spend
    ``== total`` (``equality``) or ``<= total``. Each solution goes through ``finish``
    (projection onto the constraints) and is ranked by ``score``.

    Parameters
    ----------
    value_and_gradient
        Plan ``(n_channels,)`` -> value to maximise and its gradient ``(n_channels,)``.
    box
        Per-channel bounds.
    starts
        Starting plans.
    total
        Budget (equality) or cap (inequality) on total spend.
    equality
        Whether total spend must equal ``total``.
    norm
        Positive scale of the value (the objective is divided by it).
    finish, score
        Projection of a solution, and the score that ranks finished plans.

    Returns
    -------
    tuple or None
        ``(plan, score, success, message)`` of the best start; ``None`` when no channel
        is free.
    """
    free = box.hi - box.lo > 1e-12 * max(total, 1.0)
    n_free = int(free.sum())
    if n_free == 0:
        return None
    scale = total / n_free
    fixed = float(box.lo[~free].sum())

    def full(u: FloatArray) -> FloatArray:
        plan = box.lo.copy()
        plan[free] = np.clip(u * scale, box.lo[free], box.hi[free])
        return plan

    def fun(u: FloatArray) -> tuple[float, FloatArray]:
        value, grad = value_and_gradient(full(u))
        return -value / norm, -grad[free] * scale / norm

    sign = 1.0 if equality else -1.0
    constraint = {
        "type": "eq" if equality else "ineq",
        "fun": lambda u: np.array([sign * (u.sum() * scale + fixed - total) / total]),
        "jac": lambda u: np.full((1, u.size), sign * scale / total),
    }
    limits = list(zip(box.lo[free] / scale, box.hi[free] / scale, strict=True))
    best: tuple[FloatArray, float, bool, str] | None = None
    for x0 in starts:
        res = minimize(
            fun,
            x0[free] / scale,
            jac=True,
            method="SLSQP",
            bounds=limits,
            constraints=[constraint],
            options={"maxiter": 500, "ftol": 1e-12},
        )
        plan = finish(full(np.asarray(res.x, dtype=np.float64)))
        value = score(plan)
        if best is None or value > best[1]:
            best = (plan, value, bool(res.success), str(res.message))
    return best


def _solve(
    model: ResponseModel,
    box: _Box,
    start: list[FloatArray],
    objective: Objective,
    *,
    budget: float,
    reference: float,
) -> tuple[FloatArray, bool, str]:
    def value_and_gradient(plan: FloatArray) -> tuple[float, FloatArray]:
        values = model.expected(plan)
        w = _weights(values, objective)
        return float(w @ values), w @ model.gradient(plan)

    best = _multistart_slsqp(
        value_and_gradient,
        box,
        start,
        total=budget,
        equality=True,
        norm=max(abs(reference), 1e-12),
        finish=lambda plan: _project(plan, box, budget),
        score=lambda plan: utility(model.expected(plan), objective),
    )
    if best is None:
        return start[0], True, "every channel is fixed by its constraints"
    return best[0], best[2], best[3]


def optimize_budget(
    model: ResponseModel,
    *,
    budget: float,
    current: ArrayLike | None = None,
    bounds: Bounds | None = None,
    locked: Collection[str] = (),
    ramp: float | None = None,
    objective: Objective = "mean",
    ci: float = 0.9,
    greedy_start: bool = True,
) -> AllocationResult:
    """Maximise the objective of the outcome for a fixed total budget.

    Parameters
    ----------
    model
        The response model; its ``current`` attribute is the default current plan.
    budget
        Total spend over the horizon, currency; the plan spends exactly this.
    current
        Current spend per channel, currency, ``(C,)`` (the reference for ramps, locks and
        ``prob_better_than_current``).
    bounds
        ``{channel: (lower, upper)}`` in currency; ``None`` leaves a side open.
    locked
        Channels kept at their current spend.
    ramp
        Largest relative change from current spend (``0.2``: within +-20%).
    objective
        ``"mean"``, ``("quantile", q)`` or ``("cvar", alpha)``, see :func:`utility`.
    ci
        Mass of the reported central intervals.
    greedy_start
        Also start the solver from a greedy plan (40 slices of the budget, each to the
        channel that gains most); guards against local optima of S-shaped curves at a
        cost of ``40 * n_channels`` evaluations.

    Returns
    -------
    AllocationResult

    Raises
    ------
    DataError
        If the constraints cannot all hold; the message names the constraint.

    Examples
    --------
    >>> from mixlens.allocation.response import SeparableCurves
    >>> curves = SeparableCurves(("a", "b"), beta=[4.0, 1.0], half=[1.0, 1.0])
    >>> result = optimize_budget(curves, budget=2.0, current=[1.0, 1.0])
    >>> result.recommended.round(3).tolist()
    [1.667, 0.333]
    """
    if current is None:
        current = getattr(model, "current", None)
        if current is None:
            raise DataError("give current spend: the model has no current plan")
    now = as_plan(model, current, name="current")
    if not (np.isfinite(budget) and budget > 0):
        raise DataError(f"budget must be a positive number, got {budget}")
    channels = tuple(model.channels)
    cap = max(budget, float(now.max()) * (1 + (ramp or 0.0)))
    box = _box(channels, now, cap=cap, bounds=bounds, locked=locked, ramp=ramp)
    _check_budget(box, budget, _sources(bounds, locked, ramp))
    base = now * budget / now.sum() if now.sum() > 0 else np.full(now.size, budget / now.size)
    reference_plan = _project(base, box, budget)
    reference = utility(model.expected(reference_plan), objective)
    starts = [reference_plan, _project(np.full(now.size, budget / now.size), box, budget)]
    if greedy_start:
        starts.append(_greedy(model, box, budget, objective))
    plan, success, message = _solve(
        model, box, starts, objective, budget=budget, reference=reference
    )
    value = utility(model.expected(plan), objective)
    fallback = value < reference
    if fallback:
        plan, value = reference_plan, reference
        message = f"{message}; solver plan was worse than the current split, kept it"
    current_draws = model.contributions(now)
    return AllocationResult(
        channels=channels,
        current=now,
        recommended=plan,
        current_draws=current_draws,
        recommended_draws=model.contributions(plan),
        objective=objective,
        current_utility=utility(current_draws.sum(axis=1), objective),
        recommended_utility=value,
        success=success,
        fallback=fallback,
        message=message,
        ci=ci,
    )


def minimize_spend_for_target(
    model: ResponseModel,
    target: float,
    *,
    current: ArrayLike | None = None,
    bounds: Bounds | None = None,
    locked: Collection[str] = (),
    ramp: float | None = None,
    objective: Objective = "mean",
    ci: float = 0.9,
) -> AllocationResult:
    """Find the smallest budget whose optimal plan reaches ``target`` under the objective.

    Bisection on the budget with :func:`optimize_budget` inside (the optimal outcome
    grows with the budget), to a relative tolerance of 1e-4.

    Parameters
    ----------
    model, current, bounds, locked, ramp, objective, ci
        As in :func:`optimize_budget`.
    target
        Required media outcome, target units.

    Returns
    -------
    AllocationResult
        The cheapest plan found; ``recommended_utility >= target``.

    Raises
    ------
    DataError
        If the target is out of reach within the constraints.

    Examples
    --------
    >>> from mixlens.allocation.response import SeparableCurves
    >>> curves = SeparableCurves(("a", "b"), beta=[4.0, 1.0], half=[1.0, 1.0])
    >>> res = minimize_spend_for_target(curves, 2.0, current=[1.0, 1.0])
    >>> round(float(res.recommended.sum()), 3)
    1.0
    """
    if current is None:
        current = getattr(model, "current", None)
        if current is None:
            raise DataError("give current spend: the model has no current plan")
    now = as_plan(model, current, name="current")
    channels = tuple(model.channels)
    kwargs: dict[str, Any] = {
        "current": now,
        "bounds": bounds,
        "locked": locked,
        "ramp": ramp,
        "objective": objective,
        "ci": ci,
    }
    probe = _box(channels, now, cap=np.inf, bounds=bounds, locked=locked, ramp=ramp)
    lo = max(float(probe.lo.sum()), 1e-12)
    hi = float(probe.hi.sum())
    if not np.isfinite(hi):
        hi = max(float(now.sum()), lo) * 2
        while optimize_budget(model, budget=hi, **kwargs).recommended_utility < target:
            hi *= 2
            if hi > 1e6 * max(float(now.sum()), 1.0):
                raise DataError(f"target {target:g} is out of reach: the response saturates")
    best = optimize_budget(model, budget=hi, **kwargs)
    if best.recommended_utility < target:
        raise DataError(
            f"target {target:g} is out of reach: {best.recommended_utility:g} at the "
            f"largest budget {hi:g} the constraints ({_sources(bounds, locked, ramp)}) allow"
        )
    if optimize_budget(model, budget=lo, **kwargs).recommended_utility >= target:
        return optimize_budget(model, budget=lo, **kwargs)
    while hi - lo > 1e-4 * hi:
        mid = 0.5 * (lo + hi)
        trial = optimize_budget(model, budget=mid, **kwargs)
        if trial.recommended_utility >= target:
            hi, best = mid, trial
        else:
            lo = mid
    return best
