"""Pareto fronts: every returned plan is feasible and non-dominated."""

from __future__ import annotations

import numpy as np
import pytest

from mixlens.allocation import SeparableCurves
from mixlens.allocation.pareto import non_dominated, pareto_front, pareto_spend

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
