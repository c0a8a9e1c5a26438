"""Gaussian-mechanism calibration, local versus distributed noise, and the accounting."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm
from tests.agents.helpers import synthetic_agents

from mixlens.agents import (
    Bus,
    DPConfig,
    centralized_fit,
    exact_protocol,
    gaussian_sigma,
    pairwise_seeds,
    run_to_dir,
    setup_protocol,
)
from mixlens.agents.protocols import analytic_gaussian_sigma, rel_diff
from mixlens.errors import DataError


def _privacy_loss_delta(sigma: float, eps: float, sens: float) -> float:
    a, b = sens / (2 * sigma), eps * sigma / sens
    return float(norm.cdf(a - b) - math.exp(eps) * norm.cdf(-a - b))


@settings(max_examples=40, deadline=None)
@given(
    eps=st.floats(0.05, 20.0),
    log_delta=st.floats(-10.0, -2.0),
    sens=st.floats(0.1, 100.0),
)
def test_analytic_sigma_is_the_tightest_private_noise(
    eps: float, log_delta: float, sens: float
) -> None:
    delta = 10.0**log_delta
    sigma = analytic_gaussian_sigma(eps, delta, sens)
    # (eps, delta)-DP at sigma (Balle and Wang 2018, Thm 8), and not 0.1% below it
    assert _privacy_loss_delta(sigma, eps, sens) <= delta * (1 + 1e-6)
    assert _privacy_loss_delta(sigma * 0.999, eps, sens) > delta
    if eps < 1:  # where the classical bound is proved, the analytic one is tighter
        assert sigma < gaussian_sigma(eps, delta, sens)


def test_classical_formula_is_not_private_at_large_epsilon() -> None:
    # why the analytic calibration is the default: at epsilon 10 the classical sigma is
    # too small to be (10, 1e-6)-DP
    classical = gaussian_sigma(10.0, 1e-6, 1.0)
    assert _privacy_loss_delta(classical, 10.0, 1.0) > 1e-6
    assert analytic_gaussian_sigma(10.0, 1e-6, 1.0) > classical


def test_distributed_noise_splits_the_same_total() -> None:
    local = DPConfig(epsilon=1.0)
    dist = DPConfig(epsilon=1.0, distributed=True)
    tolerant = DPConfig(epsilon=1.0, distributed=True, colluders=1)
    w = [1.0, 1.0, 0.25, 1.0]  # a profit objective (margin 0.5) has loss weight 0.25
    sigma = local.sigma()
    np.testing.assert_allclose(local.noise_sds(w), sigma)
    # the masked sum carries exactly one release's noise, or more when collusion is allowed
    assert np.sqrt((dist.noise_sds(w) ** 2).sum()) == pytest.approx(sigma, rel=1e-12)
    assert np.sqrt((tolerant.noise_sds(w)[:3] ** 2).sum()) == pytest.approx(sigma, rel=1e-12)
    np.testing.assert_allclose(local.noise_sds([3.24, 1.0]), [3.24 * sigma, sigma])
    with pytest.raises(DataError, match="more than 4 agents"):
        DPConfig(epsilon=1.0, distributed=True, colluders=4).noise_sds(w)
    with pytest.raises(DataError, match="calibration"):
        DPConfig(epsilon=1.0, calibration="laplace")


def test_centered_release_gives_the_same_fit_when_noise_and_clipping_vanish() -> None:
    # under DP agents release statistics of rows centered at the model's reference point;
    # the slopes are unchanged and the intercept is shifted back exactly
    agents = synthetic_agents(3, 40, seed=2)
    seeds = pairwise_seeds([a.name for a in agents], 0)
    model = setup_protocol(agents, Bus(), seeds=seeds)
    assert model.control_center is not None and len(model.control_center) == 2
    mu, y0 = model.reference_point()
    assert y0 == 1.0 and mu[0] == 0.0 and mu[1] == 0.5
    # epsilon 1e6 (noise sd ~ sensitivity / sqrt(2 epsilon) ~ 1e-2), bounds that never clip
    loose = DPConfig(epsilon=1e6, row_norm=3.0, target_bound=3.0)
    got = exact_protocol(agents, Bus(), seeds=seeds, dp=loose, rng=0).coef
    ref = centralized_fit(agents)
    assert rel_diff(got, ref) < 0.05
    # the intercept is shifted back: without it, it would be off by ~0.75
    assert abs(got[0] - ref[0]) < 0.05 < 0.5 < abs(y0 - float(ref[1:] @ mu[1:]))


def test_more_budget_means_less_error_and_distributed_beats_local() -> None:
    agents = synthetic_agents(5, 200, seed=4)
    seeds = pairwise_seeds([a.name for a in agents], 0)
    setup_protocol(agents, Bus(), seeds=seeds)
    ref = centralized_fit(agents)

    def err(dp: DPConfig) -> float:
        runs = [exact_protocol(agents, Bus(), seeds=seeds, dp=dp, rng=r).coef for r in range(8)]
        return float(np.median([rel_diff(c, ref) for c in runs]))

    tight, loose = err(DPConfig(epsilon=0.3)), err(DPConfig(epsilon=10.0))
    dist = err(DPConfig(epsilon=0.3, distributed=True))
    assert loose < tight and dist < tight


def test_dp_run_writes_the_accounting(tmp_path: Path) -> None:
    summary = run_to_dir("regions", out_dir=tmp_path, dp_epsilon=0.5, dp_distributed=True)
    dp = summary["dp"]
    assert summary["epsilon_spent"] == 0.5 and summary["delta_spent"] == dp["delta"] > 0
    assert dp["mode"] == "distributed" and dp["calibration"] == "analytic"
    assert dp["sigma_per_release"] == pytest.approx(
        analytic_gaussian_sigma(0.5, dp["delta"], dp["sensitivity_l2"])
    )
    assert len(dp["noise_sd_per_agent"]) == 5
    with pytest.raises(DataError, match="needs --dp-epsilon"):
        run_to_dir("regions", out_dir=tmp_path / "x", dp_distributed=True)
