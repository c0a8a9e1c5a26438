"""Inference details of the geo estimators: AR(1) noise in the Bayesian counterfactual and
the post/pre RMSPE ratios of synthetic control's placebos."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.signal import lfilter

from mixlens.experiments import GeoExperimentData, bayesian_counterfactual, synthetic_control
from mixlens.experiments.bayes import AR_PHI_GRID, window_loadings
from mixlens.experiments.geo import placebo_quantile


@settings(max_examples=60, deadline=None)
@given(phi=st.floats(0.0, 0.95), length=st.integers(1, 40), q=st.floats(0.0, 2.0))
def test_window_loadings_give_the_variance_of_an_ar1_window_total(
    phi: float, length: int, q: float
) -> None:
    # Var(sum of L consecutive stationary AR(1) values, unit innovations) =
    # sum_{s,t} phi^|s-t| / (1 - phi^2); the loadings split it into the part carried by the
    # first period's state (c_0^2 times its variance) and the future innovations.
    c, future = window_loadings(phi, length, q)
    lags = np.abs(np.subtract.outer(np.arange(length), np.arange(length)))
    exact = float(np.sum(phi**lags)) / (1.0 - phi**2)
    level = q * sum((length - j) ** 2 for j in range(1, length))
    assert c[0] ** 2 / (1.0 - phi**2) + future == pytest.approx(exact + level, rel=1e-9)
    assert np.all(np.diff(c) <= 1e-12) and c[-1] == pytest.approx(1.0)


def _ar_panel(phi: float, seed: int, periods: int = 160, geos: int = 12) -> GeoExperimentData:
    """Treated geo = controls' common signal + AR(phi) noise; no effect in the window."""
    rng = np.random.default_rng(seed)
    common = 100.0 + np.cumsum(rng.normal(0.0, 1.0, periods))
    y = common[:, None] * rng.uniform(0.5, 2.0, geos)[None, :]
    y += rng.normal(0.0, 0.3, y.shape)
    innov = rng.normal(0.0, 1.0, periods) * math.sqrt(1 - phi**2)
    y[:, 0] = common + 2.0 * lfilter([1.0], [1.0, -phi], innov)
    treated = np.zeros(geos, dtype=bool)
    treated[0] = True
    return GeoExperimentData(
        y=y,
        dates=pd.date_range("2024-01-01", periods=periods, freq="D"),
        geos=tuple(f"g{i}" for i in range(geos)),
        treated=treated,
        pre=periods - 20,
        window=(periods - 20, periods),
        freq="D",
    )


@pytest.mark.parametrize(("phi", "low", "high"), [(0.0, 0.0, 0.2), (0.6, 0.45, 0.75)])
def test_bayesian_counterfactual_learns_the_noise_autocorrelation(
    phi: float, low: float, high: float
) -> None:
    # Posterior mean of phi over a few worlds, within 0.15 of the truth.
    means = []
    for seed in range(4):
        res = bayesian_counterfactual(_ar_panel(phi, seed), components=2, phi_grid=AR_PHI_GRID)
        grid, post = np.array(res.details["phi_grid"]), np.array(res.details["phi_posterior"])
        assert post.sum() == pytest.approx(1.0)
        means.append(float(grid @ post))
    assert low <= float(np.mean(means)) <= high, means


def test_ar1_noise_gives_the_window_total_its_true_spread() -> None:
    # The treated geo's noise is AR(0.7) with sd 2: a 20-period total has sd
    # 2 * sqrt(sum_{s,t} 0.7^|s-t|). With the phi grid the 90% half-width is close to
    # 1.645 times that, widened by the uncertainty of phi (140 pre-period days leave it
    # between about 0.6 and 0.8, and the total's variance grows fast with phi), of the level
    # and of the coefficients; with phi fixed at 0 the model mistakes the autocorrelation for
    # a wandering level (large q) and its interval is wider still.
    lags = np.abs(np.subtract.outer(np.arange(20), np.arange(20)))
    oracle = 1.645 * 2.0 * math.sqrt(float(np.sum(0.7**lags)))
    ar_half, iid_half = [], []
    for seed in range(4):
        data = _ar_panel(0.7, seed)
        ar = bayesian_counterfactual(data, components=2, phi_grid=AR_PHI_GRID)
        iid = bayesian_counterfactual(data, components=2, phi_grid=(0.0,))
        ar_half.append((ar.hi - ar.lo) / 2)
        iid_half.append((iid.hi - iid.lo) / 2)
    assert 0.9 * oracle <= float(np.mean(ar_half)) <= 2.0 * oracle, (ar_half, iid_half, oracle)
    assert float(np.mean(iid_half)) > 1.2 * float(np.mean(ar_half)), (ar_half, iid_half)
    with pytest.raises(ValueError, match="phi_grid"):
        bayesian_counterfactual(_ar_panel(0.7, 0), phi_grid=(1.0,))


def _regression_panel(seed: int, pre: int = 40, length: int = 10, k: int = 8) -> GeoExperimentData:
    """Treated geo = intercept + a fixed combination of ``k`` controls + independent noise."""
    rng = np.random.default_rng(seed)
    n = pre + length
    z = 1.5 + 0.1 * np.cumsum(rng.normal(0.0, 1.0, (n, k)), axis=0) / math.sqrt(n)
    y = np.empty((n, k + 1))
    y[:, 1:] = 100.0 * z
    y[:, 0] = 100.0 * (20.0 + z @ rng.normal(0.0, 1.0, k) + 0.2 * rng.normal(0.0, 1.0, n))
    treated = np.zeros(k + 1, dtype=bool)
    treated[0] = True
    return GeoExperimentData(
        y=y,
        dates=pd.date_range("2024-01-01", periods=n, freq="D"),
        geos=tuple(f"g{i}" for i in range(k + 1)),
        treated=treated,
        pre=pre,
        window=(pre, n),
        freq="D",
    )


@pytest.mark.parametrize("seed", range(4))
def test_bayesian_interval_is_the_exact_regression_prediction_interval(seed: int) -> None:
    # With a constant level (q = 0), independent noise and a wide coefficient prior the model
    # is a linear regression of the treated geo on the controls, whose exact 90% prediction
    # interval for the window total is t(pre - 1 - k) with the residual variance on
    # pre - 1 - k degrees of freedom. The old posterior (every innovation after the first
    # counted, plus InvGamma(1, ~0)'s two pseudo-observations) gave 0.863 times this width.
    data = _regression_panel(seed)
    pre, n = data.pre, data.y.shape[0]
    x = np.column_stack([np.ones(n), data.y[:, 1:]])
    coef, *_ = np.linalg.lstsq(x[:pre], data.y[:pre, 0], rcond=None)
    resid = data.y[:pre, 0] - x[:pre] @ coef
    dof = pre - x.shape[1]
    total_x = x[pre:].sum(axis=0)
    var = resid @ resid / dof * (n - pre + total_x @ np.linalg.solve(x[:pre].T @ x[:pre], total_x))
    estimate = float(data.y[pre:, 0].sum() - total_x @ coef)
    half = float(stats.t.ppf(0.95, dof)) * math.sqrt(var)
    res = bayesian_counterfactual(data, q_grid=(0.0,), prior_scale=1e8)
    assert res.estimate == pytest.approx(estimate, abs=1e-4 * half)
    assert res.lo == pytest.approx(estimate - half, rel=1e-4)
    assert res.hi == pytest.approx(estimate + half, rel=1e-4)


def test_synthetic_control_interval_is_the_ratio_quantile_times_own_rmspe(
    geo_data: GeoExperimentData,
) -> None:
    res = synthetic_control(geo_data, placebos=40, seed=2)
    errors = np.array(res.details["placebo_errors"])
    rmspe = np.array(res.details["placebo_pre_rmspe"])
    quantile, _ = placebo_quantile(errors / rmspe, 0.9)
    cf_sum = res.estimate / res.relative
    half = quantile * res.details["pre_rmspe"] * abs(cf_sum)
    assert res.hi - res.estimate == pytest.approx(half, rel=1e-9)
    assert res.estimate - res.lo == pytest.approx(half, rel=1e-9)
    # The cause of the old over-coverage: placebos are fitted from fewer donors than the
    # treated set (30 controls less the 10-geo placebo set), so they fit their pre-period
    # worse than the treated aggregate does.
    assert res.details["pre_rmspe"] < float(np.median(rmspe))


def test_synthetic_control_rmspe_is_over_the_residual_degrees_of_freedom(
    geo_data: GeoExperimentData,
) -> None:
    # The treated aggregate is fitted from 30 donors and each placebo from 20, so the treated
    # fit uses more non-zero weights and its raw in-sample RMSPE is deflated more: dividing
    # the squared relative errors by the periods less the donors used puts every unit's
    # RMSPE on the same footing (3,000 weekly A/A worlds apart from the benchmark's seeds:
    # 10.5% false positives with the raw RMSPE, 9.9% with this one; 10/101 = 9.9% if exact).
    res = synthetic_control(geo_data, placebos=10, seed=4)
    frame = res.counterfactual.iloc[: geo_data.pre]
    sq = float(np.sum((frame["actual"] / frame["counterfactual"] - 1.0) ** 2))
    used = len(res.details["weights"])
    assert 1 < used < geo_data.pre
    assert res.details["pre_rmspe"] == pytest.approx(math.sqrt(sq / (geo_data.pre - used)))
    assert res.details["pre_rmspe"] > math.sqrt(sq / geo_data.pre)


def test_synthetic_control_relative_interval_is_scale_free(geo_data: GeoExperimentData) -> None:
    scaled = GeoExperimentData(
        y=geo_data.y * 7.5,
        dates=geo_data.dates,
        geos=geo_data.geos,
        treated=geo_data.treated,
        pre=geo_data.pre,
        window=geo_data.window,
        freq=geo_data.freq,
    )
    a = synthetic_control(geo_data, placebos=20, seed=1)
    b = synthetic_control(scaled, placebos=20, seed=1)
    assert b.lo == pytest.approx(7.5 * a.lo, rel=1e-6)
    assert b.hi == pytest.approx(7.5 * a.hi, rel=1e-6)
    assert b.p_value == pytest.approx(a.p_value)
