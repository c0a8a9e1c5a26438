from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from mixlens.ima.regression import ChannelDesign, fit_regression, reconcile

_floats = st.floats(-50.0, 1e4, allow_nan=False)


@settings(max_examples=100, deadline=None)
@given(
    data=st.data(),
    n_draws=st.integers(1, 3),
    n_days=st.integers(1, 10),
    n_campaigns=st.integers(1, 5),
    rule=st.sampled_from(["cap", "proportional"]),
)
def test_reconciliation_is_exact_every_day(
    data: st.DataObject, n_draws: int, n_days: int, n_campaigns: int, rule: str
) -> None:
    y = data.draw(arrays(np.float64, n_days, elements=_floats))
    parts = data.draw(
        arrays(np.float64, (n_draws, n_days, n_campaigns), elements=st.floats(0.0, 1e4))
    )
    scaled, unattributed = reconcile(y, parts, rule=rule)  # type: ignore[arg-type]
    assert scaled.shape == parts.shape and unattributed.shape == (n_draws, n_days)
    total = scaled.sum(axis=-1) + unattributed
    np.testing.assert_allclose(total, np.broadcast_to(y, total.shape), rtol=1e-12, atol=1e-9)
    assert np.all(scaled >= 0)
    if rule == "cap":
        assert np.all(scaled <= parts * (1 + 1e-12))
        assert np.all(unattributed[:, y > 0] >= -1e-9)
    assert np.all(scaled[:, y <= 0] == 0)


def test_reconcile_rejects_unknown_rule() -> None:
    with pytest.raises(ValueError, match="rule"):
        reconcile([1.0], [[1.0]], rule="nope")  # type: ignore[arg-type]


def test_design_checks_shapes() -> None:
    with pytest.raises(ValueError, match="shape"):
        ChannelDesign("a", ("x", "y"), np.ones(3), np.ones((3, 1)))


def test_regression_recovers_campaign_effects() -> None:
    rng = np.random.default_rng(0)
    x = rng.gamma(2.0, 50.0, (200, 3)) * (rng.random((200, 3)) > 0.3)
    beta = np.array([0.5, 2.0, 1.0])
    y = x @ beta + rng.normal(0, 5.0, 200)
    x2 = rng.gamma(2.0, 10.0, (200, 2))
    y2 = x2 @ np.array([3.0, 1.0])
    designs = [ChannelDesign("a", ("x1", "x2", "x3"), y, x), ChannelDesign("b", ("u", "v"), y2, x2)]
    draws = fit_regression(designs, draws=50, seed=1, advi_steps=3000)
    again = fit_regression(designs, draws=50, seed=1, advi_steps=3000)
    assert draws.beta["a"].shape == (50, 3) and draws.alpha["b"].shape == (50,)
    np.testing.assert_allclose(draws.beta["a"].mean(0), beta, rtol=0.15)
    np.testing.assert_allclose(draws.beta["b"].mean(0), [3.0, 1.0], rtol=0.15)
    np.testing.assert_array_equal(draws.beta["a"], again.beta["a"])  # same seed, same draws
    assert np.all(draws.beta["a"] > 0) and np.all(draws.alpha["a"] >= 0)
