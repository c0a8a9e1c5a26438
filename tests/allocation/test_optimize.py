"""Optimiser: analytic optimum, constraints, infeasibility, risk objectives, the oracle."""

from __future__ import annotations

import numpy as np
import pytest

from mixlens.allocation import (
    SeparableCurves,
    TrueResponse,
    minimize_spend_for_target,
    optimize_budget,
    utility,
)
from mixlens.data.simulate.mmm import MMMWorldConfig
from mixlens.errors import DataError

CHANNELS = ("tv", "social", "search", "video")
BETA = np.array([400.0, 250.0, 150.0, 80.0])
HALF = np.array([100.0, 60.0, 30.0, 40.0])


def curves() -> SeparableCurves:
    return SeparableCurves(CHANNELS, beta=BETA, half=HALF)


def analytic_optimum(budget: float) -> np.ndarray:
    """Equal marginal returns of ``beta h / (h + s)**2``: ``s = sqrt(beta h / lam) - h``."""
    lo, hi = 1e-9, 1e3
    for _ in range(200):
        lam = np.sqrt(lo * hi)
        s = np.maximum(np.sqrt(BETA * HALF / lam) - HALF, 0.0)
        lo, hi = (lam, hi) if s.sum() > budget else (lo, lam)
    return np.maximum(np.sqrt(BETA * HALF / lam) - HALF, 0.0)


@pytest.mark.parametrize("budget", [50.0, 200.0, 800.0])
def test_matches_equal_marginal_returns(budget: float) -> None:
    current = np.full(4, budget / 4)
    result = optimize_budget(curves(), budget=budget, current=current)
    expected = analytic_optimum(budget)
    np.testing.assert_allclose(result.recommended, expected, atol=1e-3 * budget)
    assert result.recommended.sum() == pytest.approx(budget, rel=1e-9)
    assert result.recommended_utility >= curves().expected(expected)[0] * (1 - 1e-9)
    frame = result.to_frame()
    assert list(frame.columns) == [
        "channel",
        "current_spend",
        "recommended_spend",
        "expected_contribution_mean",
        "expected_contribution_lo",
        "expected_contribution_hi",
    ]


def test_bounds_locked_and_ramp_are_respected() -> None:
    current = np.array([100.0, 100.0, 100.0, 100.0])
    model = curves()
    bounded = optimize_budget(
        model, budget=400.0, current=current, bounds={"tv": (None, 120.0), "search": (90.0, None)}
    )
    assert bounded.recommended[0] <= 120.0 + 1e-9
    assert bounded.recommended[2] >= 90.0 - 1e-9
    locked = optimize_budget(model, budget=400.0, current=current, locked=("social",))
    assert locked.recommended[1] == pytest.approx(100.0)
    ramped = optimize_budget(model, budget=400.0, current=current, ramp=0.1)
    assert np.all(np.abs(ramped.recommended - current) <= 10.0 + 1e-9)
    for result in (bounded, locked, ramped):
        assert result.recommended.sum() == pytest.approx(400.0)
        assert result.recommended_utility >= result.current_utility - 1e-9


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"bounds": {"tv": (300.0, None), "social": (200.0, None)}}, "lower bounds"),
        ({"bounds": {c: (None, 50.0) for c in CHANNELS}}, "upper bounds"),
        ({"bounds": {"tv": (150.0, 120.0)}}, "lower bound 150 exceeds upper bound 120"),
        ({"locked": ("tv",), "bounds": {"tv": (None, 50.0)}}, "locked channel 'tv'"),
        ({"ramp": 0.1, "budget": 600.0}, "ramp 0.1"),
        ({"bounds": {"radio": (0.0, 1.0)}}, "unknown channel 'radio'"),
    ],
)
def test_infeasible_constraints_raise_with_the_constraint_named(
    kwargs: dict[str, object], named: str
) -> None:
    args: dict[str, object] = {"budget": 400.0, "current": np.full(4, 100.0), **kwargs}
    with pytest.raises(DataError, match=named):
        optimize_budget(curves(), **args)  # type: ignore[arg-type]


def test_never_worse_than_current_on_a_flat_objective() -> None:
    """All-convex curves (slope 3) from the current split: the solver may stall; never worse."""
    model = SeparableCurves(CHANNELS, beta=BETA, half=HALF, slope=3.0)
    current = np.array([100.0, 60.0, 30.0, 40.0])
    for budget in (230.0, 100.0, 1000.0):
        result = optimize_budget(model, budget=budget, current=current * budget / 230.0)
        assert result.recommended_utility >= result.current_utility - 1e-9
        assert result.fallback or result.recommended_utility > 0


def test_risk_objectives_and_probability_of_beating_current() -> None:
    rng = np.random.default_rng(0)
    beta = BETA * rng.lognormal(0.0, 0.3, (400, 4))
    model = SeparableCurves(CHANNELS, beta=beta, half=HALF)
    current = np.full(4, 100.0)
    mean = optimize_budget(model, budget=400.0, current=current)
    cvar = optimize_budget(model, budget=400.0, current=current, objective=("cvar", 0.1))
    q10 = optimize_budget(model, budget=400.0, current=current, objective=("quantile", 0.1))
    assert cvar.recommended_utility <= utility(model.expected(cvar.recommended))
    assert q10.recommended_utility >= utility(model.expected(current), ("quantile", 0.1)) - 1e-9
    assert cvar.recommended_utility >= cvar.current_utility - 1e-9
    summary = mean.summary()
    assert 0.5 < summary["prob_better_than_current"] <= 1.0
    assert summary["recommended_expected"]["mean"] >= summary["current_expected"]["mean"]
    assert summary["recommended_expected"]["lo"] <= summary["recommended_expected"]["mean"]
    with pytest.raises(DataError, match="unknown objective"):
        optimize_budget(model, budget=400.0, current=current, objective=("var", 0.1))


def test_minimize_spend_for_target() -> None:
    target = float(curves().expected(analytic_optimum(200.0))[0])
    result = minimize_spend_for_target(curves(), target, current=np.full(4, 100.0))
    assert result.recommended.sum() == pytest.approx(200.0, rel=1e-3)
    assert result.recommended_utility >= target
    with pytest.raises(DataError, match="out of reach"):
        minimize_spend_for_target(curves(), float(BETA.sum()) * 2, current=np.full(4, 1.0))


@pytest.mark.parametrize("seed", [1, 2])
def test_true_response_plan_beats_current_and_reaches_oracle(seed: int) -> None:
    """On the simulator's true curves: >= current and >= 99% of a brute-force oracle."""
    model = TrueResponse.from_world(MMMWorldConfig(weeks=20, n_channels=5), seed=seed, weeks=8)
    budget = float(model.current.sum())
    result = optimize_budget(model, budget=budget, current=model.current)
    achieved = float(model.expected(result.recommended)[0])
    assert achieved >= float(model.expected(model.current)[0])
    # Oracle: best of many random feasible plans polished by coordinate pair swaps.
    rng = np.random.default_rng(seed)
    plans = rng.dirichlet(np.ones(5), 4000) * budget
    values = np.array([model.expected(p)[0] for p in plans])
    oracle = plans[int(np.argmax(values))]
    for step in budget * np.array([0.05, 0.01, 0.002, 0.0005]):
        for _ in range(40):
            for i in range(5):
                for j in range(5):
                    move = min(step, oracle[j])
                    trial = oracle.copy()
                    trial[i] += move
                    trial[j] -= move
                    if model.expected(trial)[0] > model.expected(oracle)[0]:
                        oracle = trial
    assert achieved >= 0.99 * float(model.expected(oracle)[0])
    assert achieved >= float(model.expected(oracle)[0]) - 1e-6 * achieved
