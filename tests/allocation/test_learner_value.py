"""Value of information for the closed loop: the decision loss and what one week teaches."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mixlens.allocation.learner import CoefficientPosterior, decision_loss, information_value
from mixlens.allocation.optimize import optimize_budget
from mixlens.allocation.response import SeparableCurves
from mixlens.allocation.scenarios import ScaledResponse


def _hill_derivatives(beta: np.ndarray, half: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, ...]:
    """First and second derivative of ``beta x / (x + half)`` (slope 1)."""
    first = beta * half / (x + half) ** 2
    second = -2 * beta * half / (x + half) ** 3
    return first, second


def test_decision_loss_predicts_the_loss_of_a_wrong_coefficient() -> None:
    # Reference: plan a budget of 6 on coefficients off by db, evaluate under the truth.
    curves = SeparableCurves(("a", "b", "c"), beta=[10.0, 6.0, 4.0], half=[2.0, 1.5, 1.0])
    budget, truth = 6.0, np.ones(3)
    best = optimize_budget(curves, budget=budget, current=[2.0, 2.0, 2.0]).recommended
    slope, second = _hill_derivatives(np.array([10.0, 6.0, 4.0]), np.array([2.0, 1.5, 1.0]), best)
    loss = decision_loss(slope, -truth * second)
    rng = np.random.default_rng(0)
    for _ in range(5):
        db = rng.normal(0.0, 0.05, 3)
        wrong = ScaledResponse(curves, (truth + db)[None, :])
        plan = optimize_budget(wrong, budget=budget, current=best).recommended
        actual = float(curves.expected(best)[0] - curves.expected(plan)[0])
        predicted = 0.5 * db @ loss @ db
        # Second order: within 15% for 5% errors.
        assert actual == pytest.approx(predicted, rel=0.15)


@settings(max_examples=30, deadline=None)
@given(
    slope=st.lists(st.floats(0.01, 10.0), min_size=2, max_size=6),
    seed=st.integers(0, 1000),
)
def test_decision_loss_is_psd_and_blind_to_a_common_scale(slope: list[float], seed: int) -> None:
    rng = np.random.default_rng(seed)
    f1 = np.array(slope)
    curvature = rng.uniform(0.1, 5.0, f1.size)
    loss = decision_loss(f1, curvature)
    assert np.linalg.eigvalsh(loss).min() > -1e-9 * max(1.0, np.abs(loss).max())
    # At the optimum every marginal return is equal, so scaling every coefficient by the
    # same factor (db proportional to lambda / f') leaves the plan where it is: no loss.
    common = 1.0 / f1
    assert common @ loss @ common == pytest.approx(0.0, abs=1e-9 * (common @ common))


def test_decision_loss_leaves_out_inactive_channels() -> None:
    loss = decision_loss(np.array([1.0, 2.0, 3.0]), np.array([1.0, np.nan, 2.0]))
    assert np.all(loss[1] == 0) and np.all(loss[:, 1] == 0)
    assert np.all(decision_loss(np.ones(2), np.array([1.0, -1.0])) == 0)


def test_information_value_matches_the_learners_update() -> None:
    rng = np.random.default_rng(4)
    n = 4
    prior = np.diag(rng.uniform(0.5, 2.0, n))
    loss = decision_loss(rng.uniform(0.5, 2.0, n), rng.uniform(0.5, 2.0, n))
    phi, ref = rng.uniform(0.0, 3.0, n), rng.uniform(0.0, 3.0, n)
    covs = []
    for x in (phi, ref):
        post = CoefficientPosterior(np.ones(n), np.linalg.inv(prior))
        post.update(x, 1.0, noise_sd=0.7)
        covs.append(post.cov)
    expected = 0.5 * np.trace(loss @ (covs[1] - covs[0]))
    assert information_value(prior, loss, phi, ref, 0.7) == pytest.approx(expected, rel=1e-9)
    # Features along a known direction teach nothing new; across it they do.
    known = np.eye(n) * 1e-12
    assert information_value(known, loss, phi, ref, 0.7) == pytest.approx(0.0, abs=1e-12)
