"""The ``residual`` reconciliation rule and the MMM-draw deviations it feeds."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from mixlens.ima.fit import mmm_deviation
from mixlens.ima.regression import ChannelDesign, reconcile


@settings(max_examples=100, deadline=None)
@given(
    data=st.data(),
    n_draws=st.integers(1, 3),
    n_days=st.integers(1, 10),
    n_campaigns=st.integers(1, 5),
)
def test_residual_rule_is_exact_and_keeps_only_the_intercept(
    data: st.DataObject, n_draws: int, n_days: int, n_campaigns: int
) -> None:
    y = data.draw(arrays(np.float64, n_days, elements=st.floats(-50.0, 1e4)))
    parts = data.draw(
        arrays(np.float64, (n_draws, n_days, n_campaigns), elements=st.floats(0.0, 1e4))
    )
    alpha = data.draw(arrays(np.float64, (n_draws, 1), elements=st.floats(0.0, 1e3)))
    scaled, unattributed = reconcile(y, parts, rule="residual", intercept=alpha)
    total = scaled.sum(axis=-1) + unattributed
    np.testing.assert_allclose(total, np.broadcast_to(y, total.shape), rtol=1e-12, atol=1e-9)
    assert np.all(scaled >= 0)
    assert np.all(scaled.sum(axis=-1) <= np.clip(y, 0.0, None) * (1 + 1e-12) + 1e-9)
    # Where campaigns are active and the channel positive, only the intercept is left over.
    active = (parts.sum(axis=-1) > 0) & (y > 0)
    kept = np.minimum(np.broadcast_to(alpha, active.shape), np.broadcast_to(y, active.shape))
    np.testing.assert_allclose(unattributed[active], kept[active], rtol=1e-9, atol=1e-9)


def test_residual_rule_is_unbiased_where_cap_loses_the_mean_absolute_residual() -> None:
    # True campaign parts and a symmetric regression error of 10% of the daily mean: the
    # campaigns' total should come back whole (the truth has no unattributed part).
    rng = np.random.default_rng(3)
    parts = rng.gamma(2.0, 50.0, size=(4000, 3))
    true_total = parts.sum()
    noise = rng.normal(0.0, 0.1 * parts.sum(axis=1).mean(), size=4000)
    y = parts.sum(axis=1) + noise
    capped, _ = reconcile(y, parts, rule="cap")
    shared, _ = reconcile(y, parts, rule="residual", intercept=0.0)
    cap_bias = capped.sum() / true_total - 1
    residual_bias = shared.sum() / true_total - 1
    # cap: about -E[max(-e, 0)] / mean = -0.1 * 0.399; residual: sampling noise only.
    assert -0.05 < cap_bias < -0.03
    assert abs(residual_bias) < 0.005


def test_mmm_deviation_rows_carry_the_draws_total_with_the_residual_rule() -> None:
    rng = np.random.default_rng(0)
    n_days, n_campaigns, n_draws = 28, 3, 50
    x = rng.gamma(2.0, 1.0, size=(n_days, n_campaigns))
    y = x.sum(axis=1) * 2.0
    design = ChannelDesign("c", ("a", "b", "d"), y, x)
    parts = 2.0 * x[None] * rng.lognormal(0.0, 0.05, size=(n_draws, 1, n_campaigns))
    weekly = y.reshape(-1, 7).sum(axis=1)
    mmm = weekly[None] * rng.lognormal(0.0, 0.2, size=(40, 1))
    alpha = np.full(n_draws, 0.1)
    dev = mmm_deviation(design, parts, y, mmm, rule="residual", period=7, seed=1, intercept=alpha)
    assert dev.shape == (n_draws, n_campaigns + 1)
    np.testing.assert_allclose(dev.mean(axis=0), 0.0, atol=1e-9)
    # Row sums: the paired draw's total less the point estimate's, centred.
    pick = np.random.default_rng(1).permutation(np.resize(np.arange(40), n_draws))
    expected = mmm[pick].sum(axis=1) - y.sum()
    np.testing.assert_allclose(dev.sum(axis=1), expected - expected.mean(), rtol=1e-9)
