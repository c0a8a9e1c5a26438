"""Pareto fronts: every returned plan is feasible and non-dominated."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mixlens.allocation import ScaledResponse, SeparableCurves, optimize_budget
from mixlens.allocation.pareto import (
    non_dominated,
    pareto_front,
    pareto_objectives,
    pareto_spend,
)
from mixlens.allocation.reach import ReachCurves
from mixlens.errors import DataError

CHANNELS = ("tv", "social", "search", "video")
HALF = np.array([100.0, 60.0, 30.0, 40.0])
REVENUE = SeparableCurves(CHANNELS, beta=[400.0, 250.0, 150.0, 80.0], half=HALF)
VOLUME = SeparableCurves(CHANNELS, beta=[4.0, 5.0, 9.0, 6.0], half=HALF)
CURRENT = np.full(4, 100.0)


def test_non_dominated_mask() -> None:
    values = np.array([[1.0, 3.0], [2.0, 2.0], [1.0, 2.0], [2.0, 2.0], [0.5, 3.0]])
    assert non_dominated(values).tolist() == [True, True, False, False, False]


def test_revenue_volume_front_is_non_dominated_and_feasible() -> None:
    bounds = {"tv": (None, 180.0)}
    front = pareto_front(
        REVENUE, VOLUME, budget=400.0, points=9, current=CURRENT, bounds=bounds, locked=("video",)
    )
    assert len(front.plans) >= 7
    np.testing.assert_allclose(front.plans.sum(axis=1), 400.0, rtol=1e-9)
    assert np.all(front.plans[:, 0] <= 180.0 + 1e-6)
    np.testing.assert_allclose(front.plans[:, 3], 100.0)
    assert non_dominated(front.values).all()
    # The front trades one for the other: revenue rises, volume falls.
    assert np.all(np.diff(front.values[:, 0]) > 0)
    assert np.all(np.diff(front.values[:, 1]) < 0)
    # No random feasible plan dominates any point of the front.
    rng = np.random.default_rng(0)
    free = rng.dirichlet(np.ones(3), 4000) * 300.0
    plans = np.column_stack([free, np.full(len(free), 100.0)])
    plans = plans[plans[:, 0] <= 180.0]
    rev = np.array([REVENUE.expected(p)[0] for p in plans])
    vol = np.array([VOLUME.expected(p)[0] for p in plans])
    for r, v in front.values:
        assert not np.any((rev > r * (1 + 1e-4)) & (vol > v * (1 + 1e-4)))


def test_outcome_spend_front() -> None:
    front = pareto_spend(REVENUE, cap=800.0, points=8, current=CURRENT)
    frame = front.to_frame()
    assert list(frame.columns[:3]) == ["point", "spend", "outcome"]
    assert np.all(np.diff(frame["spend"]) > 0)
    assert np.all(np.diff(frame["outcome"]) > 0)
    assert non_dominated(front.values).all()
    assert frame["spend"].iloc[-1] == pytest.approx(800.0)


# Three objectives: revenue, acquisitions (revenue / value per unit, per channel) and reach.
ACQUISITIONS = ScaledResponse(REVENUE, 1.0 / np.array([80.0, 20.0, 10.0, 8.0]))
REACH = ReachCurves(
    CHANNELS, cpm=[30.0, 6.0, 40.0, 12.0], audience=[9000.0, 4000.0, 2000.0, 3000.0]
)


def test_three_objective_front_is_non_dominated_and_feasible() -> None:
    models = (REVENUE, ACQUISITIONS, REACH)
    bounds = {"tv": (None, 250.0)}
    front = pareto_objectives(
        models, budget=400.0, points=4, current=CURRENT, bounds=bounds,
        names=("revenue", "acquisitions", "reach"),
    )  # fmt: skip
    assert front.objectives == ("revenue", "acquisitions", "reach")
    assert front.values.shape[1] == 3 and len(front.plans) >= 6
    np.testing.assert_allclose(front.plans.sum(axis=1), 400.0, rtol=1e-9)
    assert np.all(front.plans >= -1e-9) and np.all(front.plans[:, 0] <= 250.0 + 1e-6)
    assert non_dominated(front.values).all()
    # Each single-objective optimum is on the front (the payoff table's diagonal).
    for k, model in enumerate(models):
        best = optimize_budget(model, budget=400.0, current=CURRENT, bounds=bounds)
        assert front.values[:, k].max() == pytest.approx(best.recommended_utility, rel=1e-6)
    # Interior trade-offs: some plans are best in none of the three.
    tops = front.values.max(axis=0)
    interior = np.all(front.values < tops * (1 - 1e-6), axis=1)
    assert interior.sum() >= 2
    # No random feasible plan dominates a point of the front.
    rng = np.random.default_rng(1)
    plans = rng.dirichlet(np.ones(4), 3000) * 400.0
    plans = plans[plans[:, 0] <= 250.0]
    vals = np.array([[m.expected(p)[0] for m in models] for p in plans])
    for point in front.values:
        assert not np.any(np.all(vals > point * (1 + 1e-4), axis=1))


def test_pareto_objectives_checks_its_input() -> None:
    with pytest.raises(DataError, match="at least 2 objectives"):
        pareto_objectives((REVENUE,), budget=100.0, current=CURRENT)
    other = SeparableCurves(("a", "b"), beta=[1.0, 1.0], half=[1.0, 1.0])
    with pytest.raises(DataError, match="same channels"):
        pareto_objectives((REVENUE, other), budget=100.0, current=CURRENT)
    with pytest.raises(DataError, match="lower bound"):
        pareto_objectives(
            (REVENUE, REACH), budget=100.0, current=CURRENT, bounds={"tv": (150.0, None)}
        )


@settings(max_examples=40, deadline=None)
@given(spend=st.lists(st.floats(0.0, 500.0), min_size=4, max_size=4))
@example(spend=[388.33557215366045, 388.33557215366045, 243.38192437063637, 243.38192437063637])
def test_reach_is_bounded_concave_and_its_gradient_is_exact(spend: list[float]) -> None:
    s = np.asarray(spend)
    reach = float(REACH.expected(s)[0])
    assert 0.0 <= reach <= 9000.0 * (1 + 1e-12)
    assert REACH.contributions(s).sum() == pytest.approx(reach, rel=1e-9, abs=1e-9)
    grad = REACH.gradient(s)[0]
    assert np.all(grad > 0)
    for c in range(4):
        h = 1e-3 * max(s[c], 1.0)  # relative step: rounding stays far below the tolerance
        up, down = s.copy(), s.copy()
        up[c] += h
        down[c] = max(down[c] - h, 0.0)
        numeric = (REACH.expected(up)[0] - REACH.expected(down)[0]) / (up[c] - down[c])
        assert grad[c] == pytest.approx(numeric, rel=1e-4, abs=1e-8)


def test_reach_reference_values() -> None:
    # One channel: 1000 (1 - e^-1) people; two channels, same audience as the population:
    # missed by both with probability e^-1 * e^-1.
    one = ReachCurves(("tv",), cpm=[10.0], audience=[1000.0])
    assert one.expected(np.array([10.0]))[0] == pytest.approx(1000 * (1 - np.exp(-1)))
    two = ReachCurves(("tv", "social"), cpm=[10.0, 10.0], audience=[1000.0, 1000.0])
    assert two.expected(np.array([10.0, 10.0]))[0] == pytest.approx(1000 * (1 - np.exp(-2)))
    with pytest.raises(DataError, match="population"):
        ReachCurves(("tv",), cpm=[10.0], audience=[1000.0], population=10.0)
    with pytest.raises(DataError, match="cpm of channel 'tv'"):
        ReachCurves(("tv",), cpm=[0.0], audience=[1000.0])
