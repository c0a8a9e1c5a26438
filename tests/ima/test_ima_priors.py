"""The MMM's own error in the campaign regression's likelihood (``period_sd``)."""

from __future__ import annotations

import numpy as np
import pytest
from tests.ima.conftest import true_weekly

from mixlens.data.simulate.mmm import SimulatedMMM
from mixlens.ima.anchor import MMMPosterior
from mixlens.ima.fit import fit_ima
from mixlens.ima.regression import ChannelDesign, fit_regression


def _world() -> ChannelDesign:
    """Two campaigns, ``b`` four times as effective as ``a``; daily contributions."""
    rng = np.random.default_rng(5)
    weeks = 28
    x = rng.gamma(2.0, 50.0, (weeks * 7, 2)) * (rng.random((weeks * 7, 2)) > 0.3)
    y = x @ np.array([1.0, 4.0]) + rng.normal(0.0, 5.0, weeks * 7)
    return ChannelDesign("c", ("a", "b"), y, x)


def _share_of_b(beta: np.ndarray, design: ChannelDesign) -> float:
    parts = beta.mean(axis=0) * design.x.sum(axis=0)
    return float(parts[1] / parts.sum())


def test_mmm_error_moves_the_split_from_the_data_to_the_pooled_prior() -> None:
    design = _world()
    true_share = float(4 * design.x[:, 1].sum() / (design.x @ [1.0, 4.0]).sum())
    media_share = float(design.x[:, 1].sum() / design.x.sum())
    kwargs = {"draws": 50, "seed": 0, "advi_steps": 3000}
    exact = fit_regression([design], **kwargs)  # type: ignore[arg-type]
    vague = fit_regression([design], period_sd={"c": 100 * np.abs(design.y)}, **kwargs)  # type: ignore[arg-type]
    # Contributions known to their noise: the data separate the campaigns. An MMM
    # unsure of every day by 100 times its contribution: no evidence, the split stays
    # near the pooled one (every campaign as effective as its channel: the media share).
    exact_share = _share_of_b(exact.beta["c"], design)
    vague_share = _share_of_b(vague.beta["c"], design)
    # Measured here (seed 0): truth 0.79, media share 0.48, exact 0.62, vague 0.39.
    assert true_share - media_share > 0.25
    assert exact_share > media_share + 0.1
    assert vague_share < exact_share - 0.15
    assert abs(vague_share - media_share) < 0.15


def test_period_sd_is_checked() -> None:
    design = _world()
    sd = np.ones(28 * 7)
    with pytest.raises(ValueError, match="period_sd"):
        fit_regression([design], period_days=7, period_sd={"c": sd[:-1]})
    with pytest.raises(ValueError, match="period_sd"):
        fit_regression([design], period_days=7, period_sd={"c": -sd})


def test_fit_ima_uses_only_the_shape_of_the_mmms_uncertainty(ima_world: SimulatedMMM) -> None:
    weekly = true_weekly(ima_world)
    channels = ["social"]
    weekly = weekly[weekly["channel"].isin(channels)]
    campaigns = ima_world.daily_campaign
    campaigns = campaigns[campaigns["channel"].isin(channels)]
    params = {c: None for c in channels}
    rng = np.random.default_rng(0)
    wide = {
        c: weekly[weekly["channel"] == c].sort_values("date")["contribution"].to_numpy()
        for c in channels
    }
    level = {c: w[None, :] * rng.lognormal(0.0, 0.5, (40, 1)) for c, w in wide.items()}
    shape = {c: w[None, :] * rng.lognormal(0.0, 0.5, (40, w.size)) for c, w in wide.items()}
    kwargs = {"model": "linear", "grain": "daily", "draws": 10, "advi_steps": 500, "seed": 0}

    def means(posterior: MMMPosterior | None, mmm_error: bool = True) -> np.ndarray:
        res = fit_ima(weekly, params, campaigns, posterior=posterior, mmm_error=mmm_error, **kwargs)  # type: ignore[arg-type]
        return res.campaigns()["contribution_mean"].to_numpy()

    exact = means(MMMPosterior(kernels={}, draws=shape), mmm_error=False)
    # A level-only posterior carries no information on the shape: the fit is the exact one.
    np.testing.assert_allclose(means(MMMPosterior(kernels={}, draws=level)), exact, rtol=1e-9)
    # An uncertain shape changes the fit (the split leans on the prior).
    assert np.abs(means(MMMPosterior(kernels={}, draws=shape)) - exact).max() > 1e-6 * exact.sum()
