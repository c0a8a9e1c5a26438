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
    region_agents,
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
    assert dp["releases_per_agent"] == 2 and len(dp["noise_sd_per_agent"]) == 5
    # the accounting adds up: the statistics get their share of mu^2, the scales the rest,
    # and one Gaussian mechanism with the composed mu is exactly (0.5, delta)-DP
    mu_total, scales = dp["mu_total"], dp["scales_release"]
    assert dp["sigma_per_release"] == pytest.approx(
        dp["sensitivity_l2"] / (math.sqrt(dp["stats_share"]) * mu_total), rel=1e-12
    )
    mu_stats = dp["sensitivity_l2"] / dp["sigma_per_release"]
    mu_scales = scales["sensitivity_l2"] / scales["sigma"]
    assert math.hypot(mu_stats, mu_scales) == pytest.approx(mu_total, rel=1e-12)
    assert _privacy_loss_delta(1.0 / mu_total, 0.5, 1.0) == pytest.approx(dp["delta"], rel=1e-6)
    # distributed: each sum carries exactly one release's noise
    assert dp["noise_sd_of_sum"] == pytest.approx(dp["sigma_per_release"], rel=1e-12)
    assert scales["noise_sd_of_sum"] == pytest.approx(scales["sigma"], rel=1e-12)
    assert len(scales["scales"]) == len(summary["coefficients"])
    with pytest.raises(DataError, match="needs --dp-epsilon"):
        run_to_dir("regions", out_dir=tmp_path / "x", dp_distributed=True)
    with pytest.raises(DataError, match="finite"):  # no noise is a diagnostic, not a run
        run_to_dir("regions", out_dir=tmp_path / "y", dp_epsilon=math.inf)


@settings(max_examples=40, deadline=None)
@given(
    eps=st.floats(0.05, 20.0),
    log_delta=st.floats(-9.0, -3.0),
    share=st.floats(0.0, 0.9),
    p=st.integers(2, 12),
)
def test_scales_and_statistics_compose_to_exactly_the_budget(
    eps: float, log_delta: float, share: float, p: int
) -> None:
    delta = 10.0**log_delta
    dp = DPConfig(epsilon=eps, delta=delta, scale_share=share)
    mu_stats = dp.sensitivity() / dp.sigma()
    mu_scales = dp.scale_sensitivity(p) / dp.scale_sigma(p) if share > 0 else 0.0
    assert mu_stats**2 == pytest.approx((1 - share) * dp.mu() ** 2, rel=1e-9)
    # Gaussian DP composition: the pair is one Gaussian mechanism of mu = hypot(...)
    mu = math.hypot(mu_stats, mu_scales)
    assert _privacy_loss_delta(1.0 / mu, eps, 1.0) == pytest.approx(delta, rel=1e-6)
    # the classical calibration splits epsilon and delta instead (basic composition)
    classical = DPConfig(epsilon=eps, delta=delta, scale_share=share, calibration="classical")
    assert classical.sigma() == pytest.approx(
        gaussian_sigma((1 - share) * eps, (1 - share) * delta, classical.sensitivity())
    )


def test_no_noise_gives_the_non_private_fit_when_the_bounds_do_not_bind() -> None:
    agents = synthetic_agents(4, 60, seed=4)
    seeds = pairwise_seeds([a.name for a in agents], 0)
    setup_protocol(agents, Bus(), seeds=seeds)
    ref = centralized_fit(agents)
    exact = exact_protocol(agents, Bus(), seeds=seeds, dp=DPConfig(epsilon=math.inf), rng=0)
    # centering, per-feature scaling and the intercept shift are exact reparameterizations
    assert rel_diff(exact.coef, ref) < 1e-9
    assert [r["phase"] for r in exact.rounds] == ["dp_scales", "stats"]
    # bounds that bind show up as a clipping bias with no noise at all
    tight = DPConfig(epsilon=math.inf, row_norm=0.5)
    assert rel_diff(exact_protocol(agents, Bus(), seeds=seeds, dp=tight).coef, ref) > 0.05
    # and the noise vanishes as epsilon grows (median of 3 draws, tolerances stated)
    errors = [
        float(
            np.median(
                [
                    rel_diff(
                        exact_protocol(
                            agents, Bus(), seeds=seeds, dp=DPConfig(epsilon=eps), rng=r
                        ).coef,
                        ref,
                    )
                    for r in range(3)
                ]
            )
        )
        for eps in (1e2, 1e4, 1e8)
    ]
    assert errors[0] > errors[1] > errors[2] and errors[2] < 1e-3


def test_scales_shrink_low_variance_features_and_error_falls_with_rows() -> None:
    def run(scale: int) -> tuple[float, list[float]]:
        agents = region_agents(scale, seed=0)
        seeds = pairwise_seeds([a.name for a in agents], 0)
        setup_protocol(agents, Bus(), seeds=seeds)
        ref = exact_protocol(agents, Bus(), seeds=seeds).coef
        runs = [
            exact_protocol(agents, Bus(), seeds=seeds, dp=DPConfig(epsilon=10.0), rng=r)
            for r in range(5)
        ]
        err = float(np.median([rel_diff(x.coef, ref) for x in runs]))
        return err, runs[0].privacy["scales_release"]["scales"]

    (small, _), (large, scales) = run(1), run(8)
    assert large < 0.5 * small
    # the price index varies by a few percent: its scale is far below the cap of 1
    assert scales[0] == 2.0 and scales[2] < 0.3 and max(scales[1:]) <= 1.0


def test_feature_scales_fall_back_to_the_cap_under_heavy_noise() -> None:
    dp = DPConfig(epsilon=1.0)
    np.testing.assert_allclose(dp.feature_scales([10.0, 50.0, 100.0], 1e3), [2.0, 1.0, 1.0])
    np.testing.assert_allclose(dp.feature_scales([1e-6, 0.0, 100.0], 0.0), [2.0, 0.01, 0.01])
    for bad in ({"scale_share": 1.0}, {"post": "lasso"}, {"intercept_scale": 0.0}):
        with pytest.raises(DataError):
            DPConfig(epsilon=1.0, **bad)  # type: ignore[arg-type]


def test_dp_rounds_send_the_same_bytes_whatever_the_rows() -> None:
    sizes = []
    for weeks in (40, 160):
        agents = synthetic_agents(3, weeks, seed=5)
        seeds = pairwise_seeds([a.name for a in agents], 0)
        setup_protocol(agents, Bus(), seeds=seeds)
        bus = Bus()
        exact_protocol(agents, bus, seeds=seeds, dp=DPConfig(epsilon=1.0), rng=0)
        kinds = {row["kind"] for row in bus.audit.rows}
        assert {"dp_scales", "dp_scales_agreed", "stats"} <= kinds
        sizes.append(bus.audit.total_bytes())
    assert sizes[0] == sizes[1]
