"""Scenarios on analytic Hill curves with closed-form KKT optima, and their constraints."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mixlens.allocation import (
    ScaledResponse,
    SeparableCurves,
    marginal_roi,
    maximize_profit,
    minimize_spend_for_target,
    optimize_budget,
    target_marginal_roi,
    target_roi,
)
from mixlens.errors import DataError

CHANNELS = ("tv", "social", "search", "video")
BETA = np.array([400.0, 250.0, 150.0, 80.0])
HALF = np.array([100.0, 60.0, 30.0, 40.0])
CURRENT = np.full(4, 100.0)


def curves() -> SeparableCurves:
    return SeparableCurves(CHANNELS, beta=BETA, half=HALF)


def at_marginal(level: float, beta: np.ndarray = BETA) -> np.ndarray:
    """KKT of ``beta h / (h + s)**2 = level``: ``s = max(sqrt(beta h / level) - h, 0)``."""
    return np.maximum(np.sqrt(beta * HALF / level) - HALF, 0.0)


def best_for_budget(budget: float, beta: np.ndarray = BETA) -> np.ndarray:
    lo, hi = 1e-12, 1e3
    for _ in range(300):
        lam = np.sqrt(lo * hi)
        lo, hi = (lam, hi) if at_marginal(lam, beta).sum() > budget else (lo, lam)
    return at_marginal(np.sqrt(lo * hi), beta)


def value(plan: np.ndarray, beta: np.ndarray = BETA) -> float:
    return float(np.sum(beta * plan / (plan + HALF)))


@pytest.mark.parametrize("margin", [0.5, 1.0, 3.0])
def test_profit_matches_kkt(margin: float) -> None:
    result = maximize_profit(curves(), margin=margin, cap=1e5, current=CURRENT)
    expected = at_marginal(1.0 / margin)
    np.testing.assert_allclose(result.recommended, expected, atol=0.05)
    profit = margin * value(expected) - expected.sum()
    assert result.scenario["recommended_profit"] == pytest.approx(profit, rel=1e-6)
    assert result.scenario["recommended_profit"] >= result.scenario["current_profit"] - 1e-9


def test_profit_cap_binds_at_the_fixed_budget_optimum() -> None:
    result = maximize_profit(curves(), margin=3.0, cap=150.0, current=CURRENT)
    assert result.recommended.sum() == pytest.approx(150.0, rel=1e-6)
    np.testing.assert_allclose(result.recommended, best_for_budget(150.0), atol=0.05)


@pytest.mark.parametrize("target", [0.3, 1.0, 2.0])
def test_marginal_roi_target_matches_kkt(target: float) -> None:
    result = target_marginal_roi(curves(), target, cap=1e5, current=CURRENT)
    np.testing.assert_allclose(result.recommended, at_marginal(target), atol=0.05)
    mroi = marginal_roi(curves(), result.recommended)
    spent = result.recommended > 1.0
    np.testing.assert_allclose(mroi[spent], target, rtol=2e-3)
    assert np.all(mroi[~spent] <= target * (1 + 1e-3))


@pytest.mark.parametrize("target", [1.2, 2.0, 3.5])
def test_roi_target_is_the_largest_budget_keeping_it(target: float) -> None:
    result = target_roi(curves(), target, cap=1e4, current=CURRENT)
    # Analytic: the budget B with value(best_for_budget(B)) / B == target (ROI falls in B).
    lo, hi = 1e-6, 1e4
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if value(best_for_budget(mid)) / mid >= target else (lo, mid)
    spend = result.recommended.sum()
    assert spend == pytest.approx(lo, rel=1e-3)
    assert result.recommended_utility / spend >= target * (1 - 1e-9)
    np.testing.assert_allclose(result.recommended, best_for_budget(lo), atol=1e-3 * lo + 0.01)


def test_roi_target_out_of_reach_is_named() -> None:
    with pytest.raises(DataError, match="target ROI 50 is out of reach"):
        target_roi(curves(), 50.0, cap=1e4, current=CURRENT)


def test_min_spend_for_target_matches_kkt() -> None:
    goal = 500.0
    result = minimize_spend_for_target(curves(), goal, current=CURRENT)
    lo, hi = 1.0, 1e4
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if value(best_for_budget(mid)) >= goal else (mid, hi)
    assert result.recommended.sum() == pytest.approx(hi, rel=2e-4)
    assert result.recommended_utility >= goal


def test_volume_with_value_per_unit_per_channel() -> None:
    """Acquisitions = revenue / value per unit; a per-channel value moves the plan."""
    value_per_unit = np.array([50.0, 20.0, 10.0, 40.0])
    volume = ScaledResponse(curves(), 1.0 / value_per_unit)
    result = optimize_budget(volume, budget=400.0, current=CURRENT)
    np.testing.assert_allclose(
        result.recommended, best_for_budget(400.0, BETA / value_per_unit), atol=0.4
    )
    same = optimize_budget(ScaledResponse(curves(), 1 / 30.0), budget=400.0, current=CURRENT)
    np.testing.assert_allclose(same.recommended, best_for_budget(400.0), atol=0.4)
    assert same.recommended_utility == pytest.approx(value(same.recommended) / 30.0)


SCENARIOS = {
    "profit": lambda **kw: maximize_profit(curves(), margin=2.0, cap=500.0, **kw),
    "mroi": lambda **kw: target_marginal_roi(curves(), 0.4, cap=500.0, **kw),
    "roi": lambda **kw: target_roi(curves(), 1.5, cap=500.0, **kw),
    "target": lambda **kw: minimize_spend_for_target(curves(), 450.0, **kw),
    "budget": lambda **kw: optimize_budget(curves(), budget=400.0, **kw),
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_scenario_honours_bounds_locks_and_ramps(name: str) -> None:
    bounds = {"tv": (None, 130.0), "search": (60.0, None)}
    res = SCENARIOS[name](current=CURRENT, bounds=bounds, locked=("video",), ramp=0.6)
    plan = res.recommended
    assert plan[0] <= 130.0 + 1e-6
    assert plan[2] >= 60.0 - 1e-6
    assert plan[3] == pytest.approx(100.0)
    assert np.all(plan >= CURRENT * 0.4 - 1e-6)
    assert np.all(plan <= CURRENT * 1.6 + 1e-6)


def test_infeasible_cap_is_named() -> None:
    with pytest.raises(DataError, match="cap 100 is below the 160 that the lower bounds"):
        maximize_profit(
            curves(),
            margin=1.0,
            cap=100.0,
            current=CURRENT,
            bounds={"tv": (80.0, None), "social": (80.0, None)},
        )


@settings(max_examples=25, deadline=None)
@given(
    margin=st.floats(0.2, 5.0),
    cap=st.floats(50.0, 2000.0),
    scale=st.lists(st.floats(0.0, 3.0), min_size=4, max_size=4),
)
def test_profit_never_below_current(margin: float, cap: float, scale: list[float]) -> None:
    current = np.asarray(scale) * 50.0
    if 0.5 * current.sum() > cap:
        with pytest.raises(DataError, match=r"lower bounds \(ramp 0\.5\) require"):
            maximize_profit(curves(), margin=margin, cap=cap, current=current, ramp=0.5)
        return
    res = maximize_profit(curves(), margin=margin, cap=cap, current=current, ramp=0.5)
    assert res.recommended.sum() <= cap * (1 + 1e-9)
    assert np.all(np.abs(res.recommended - current) <= 0.5 * current + 1e-6)
    if current.sum() <= cap:
        assert res.scenario["recommended_profit"] >= res.scenario["current_profit"] - 1e-6


def test_run_scenario_volume_metric_and_errors() -> None:
    from mixlens.allocation.run import run_scenario

    revenue = run_scenario(curves(), scenario="budget", current=CURRENT, budget=400.0)
    volume = run_scenario(
        curves(), scenario="budget", current=CURRENT, budget=400.0, metric="volume",
        value_per_unit=50.0,
    )  # fmt: skip
    np.testing.assert_allclose(volume.recommended, revenue.recommended, rtol=1e-6)
    assert volume.recommended_utility == pytest.approx(revenue.recommended_utility / 50.0)
    reach = run_scenario(
        curves(), scenario="target", current=CURRENT, target=10.0, metric="volume",
        value_per_unit=50.0,
    )  # fmt: skip
    assert reach.recommended_utility >= 10.0
    assert value(reach.recommended) == pytest.approx(500.0, rel=1e-3)
    assert reach.scenario["metric"] == "volume"
    with pytest.raises(DataError, match="unknown scenario 'cheap'"):
        run_scenario(curves(), scenario="cheap", current=CURRENT, budget=1.0)
    with pytest.raises(DataError, match="needs a target"):
        run_scenario(curves(), scenario="roi", current=CURRENT, budget=1.0)
    with pytest.raises(DataError, match="needs a budget cap"):
        run_scenario(curves(), scenario="profit", current=CURRENT)
    with pytest.raises(DataError, match="metric must be revenue or volume"):
        run_scenario(curves(), scenario="budget", current=CURRENT, budget=1.0, metric="reach")
