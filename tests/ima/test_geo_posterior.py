"""Geo IMA anchored in a geo MMM's posterior: draws per geo, the MMM's error, the intervals.

The geo MMM is the real geo model (:func:`mixlens.mmm.geo_model.build_geo_model`) on a
small simulated panel, with prior draws dressed as its posterior (no sampler), saved as
``mixlens mmm fit`` saves a geo run: the posterior is far wider than a fitted one, which
makes the propagated MMM uncertainty easy to see.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import replace
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from mixlens.cli import app
from mixlens.data.geo_panel import GeoPanel
from mixlens.data.schemas import validate_campaigns
from mixlens.data.simulate.mmm import DEFAULT_CHANNELS, MMMWorldConfig, simulate_mmm
from mixlens.ima.anchor import GeoMMMPosterior, read_geo_mmm_posterior
from mixlens.ima.geo import GeoIMAResult, _unit_frames, fit_geo_ima
from mixlens.ima.geo_regression import (
    GeoChannelDesign,
    _layout,
    _measured_sd,
    fit_geo_regression,
)
from mixlens.ima.regression import ChannelDesign
from mixlens.ima.run import read_mmm_dir
from mixlens.mmm.geo import ALL_GEOS, GeoMMMResult
from mixlens.mmm.geo_data import GeoMMMData
from mixlens.mmm.geo_model import build_geo_model
from mixlens.mmm.results import Diagnostics
from mixlens.mmm.spec import MMMSpec

runner = CliRunner()
CHANNELS = ("social", "online_video")
WEEKS, GEOS, CHAINS, DRAWS = 10, 3, 2, 20
FIT = {"model": "linear", "draws": 20, "advi_steps": 300, "seed": 0}


@pytest.fixture(scope="module")
def geo_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A geo MMM run directory (prior draws as posterior) and the campaign media."""
    specs = tuple(
        replace(c, n_campaigns=3, n_families=2) for c in DEFAULT_CHANNELS if c.name in CHANNELS
    )
    world = simulate_mmm(MMMWorldConfig(weeks=WEEKS, channels=specs, regions=GEOS), seed=2)
    panel = GeoPanel.from_frame(world.weekly_channel)
    spec = MMMSpec(channels=panel.channels)
    data = GeoMMMData.from_panel(panel, spec)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        prior = pm.sample_prior_predictive(
            draws=CHAINS * DRAWS, model=build_geo_model(data, spec), random_seed=3
        ).prior
    post = prior.isel(chain=0, drop=True).rename({"draw": "_d"})
    post = post.coarsen(_d=DRAWS).construct(_d=("chain", "draw"))
    post = post.assign_coords(chain=range(CHAINS), draw=range(DRAWS))
    stats = az.from_dict(sample_stats={"diverging": [[False] * DRAWS] * CHAINS}).sample_stats
    diagnostics = Diagnostics(method="prior", sampler="prior", chains=CHAINS, draws=DRAWS, tune=0)
    result = GeoMMMResult(
        idata=az.InferenceData(posterior=post, sample_stats=stats),
        spec=spec,
        data=data,
        diagnostics=diagnostics,
    )
    root = tmp_path_factory.mktemp("geo_posterior")
    mmm = root / "mmm"
    result.save(mmm)
    contributions = result.contributions()
    contributions["date"] = pd.DatetimeIndex(contributions["date"]).strftime("%Y-%m-%d")
    contributions.to_csv(mmm / "contributions.csv", index=False)
    result.params().to_csv(mmm / "params.csv", index=False)
    world.daily_campaign.to_csv(root / "campaigns.csv", index=False)
    return root


def _weekly(root: Path) -> pd.DataFrame:
    weekly, _ = read_mmm_dir(root / "mmm")
    return weekly


def test_reads_each_geos_contribution_draws(geo_run: Path) -> None:
    post = read_geo_mmm_posterior(geo_run / "mmm", chunk_size=7)
    weekly = _weekly(geo_run)
    assert set(post.by_geo) == set(weekly["geo"]) and len(post.dates) == WEEKS
    assert post.n_draws == CHAINS * DRAWS
    for geo, geo_post in post.by_geo.items():
        assert geo_post.kernels is post.kernels  # the geo model shares its adstock
        for channel, draws in geo_post.draws.items():
            assert draws.shape == (CHAINS * DRAWS, WEEKS)
            # Every draw kept: their mean is contributions.csv's posterior mean.
            want = weekly[(weekly["geo"] == geo) & (weekly["channel"] == channel)]
            np.testing.assert_allclose(draws.mean(axis=0), want["contribution"], rtol=1e-9)
    for kernel in post.kernels.values():
        assert kernel.sum() == pytest.approx(1.0) and (kernel >= 0).all()
    # Chunking does not change the draws; thinning keeps the same draws in every geo.
    other = read_geo_mmm_posterior(geo_run / "mmm", chunk_size=1000)
    thin = read_geo_mmm_posterior(geo_run / "mmm", max_draws=7)
    assert thin.n_draws == 7
    for geo in post.by_geo:
        for channel in CHANNELS:
            full = post.by_geo[geo].draws[channel]
            np.testing.assert_array_equal(other.by_geo[geo].draws[channel], full)
            kept = np.linspace(0, CHAINS * DRAWS - 1, 7).round().astype(int)
            np.testing.assert_array_equal(thin.by_geo[geo].draws[channel], full[kept])


@pytest.fixture(scope="module")
def exact_cli(geo_run: Path) -> Path:
    """``mixlens ima fit`` on the geo run with --exact-mmm (draws propagated only)."""
    out = geo_run / "ima_exact"
    result = runner.invoke(
        app,
        [
            "ima", "fit", "--mmm", str(geo_run / "mmm"),
            "--campaigns", str(geo_run / "campaigns.csv"), "--exact-mmm",
            "--model", "linear", "--grain", "daily", "--draws", "20", "--advi-steps", "300",
            "--seed", "0", "--out", str(out),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return out


def test_cli_exact_mmm_on_a_geo_run(exact_cli: Path, geo_run: Path) -> None:
    summary = json.loads((exact_cli / "summary.json").read_text())
    assert summary["mmm_uncertainty"] is True and summary["mmm_error"] is False
    # As many MMM draws as regression draws (--draws 20), thinned over both chains.
    assert summary["mmm_draws"] == FIT["draws"]
    assert summary["meta"]["mmm_error"] is False
    assert "mmm_uncertainty_note" not in summary
    # Per geo, channel and week the days sum exactly to the MMM's posterior mean.
    weekly = _weekly(geo_run)
    daily = pd.read_csv(exact_cli / "campaign_daily.csv", parse_dates=["date"])
    per_geo = daily[daily["geo"] != ALL_GEOS]
    week = per_geo["date"] - pd.to_timedelta(per_geo["date"].dt.day_of_week, unit="D")
    sums = per_geo.groupby(["geo", "channel", week.rename("date")])["contribution"].sum()
    merged = weekly.set_index(["geo", "channel", "date"])["contribution"]
    np.testing.assert_allclose(sums.loc[merged.index], merged, rtol=1e-9)


@pytest.fixture(scope="module")
def anchored(geo_run: Path) -> tuple[GeoIMAResult, GeoMMMPosterior]:
    post = read_geo_mmm_posterior(geo_run / "mmm", max_draws=FIT["draws"])
    camp = validate_campaigns(pd.read_csv(geo_run / "campaigns.csv"))
    weekly, params = read_mmm_dir(geo_run / "mmm")
    result = fit_geo_ima(
        weekly,
        dict(params),
        camp,
        grain="mmm",
        posterior=post,
        **FIT,
    )
    return result, post


def test_mmm_error_fit_conserves_every_geo(
    anchored: tuple[GeoIMAResult, GeoMMMPosterior], geo_run: Path
) -> None:
    result, post = anchored
    assert result.meta["mmm_error"] is True and result.meta["mmm_draws"] == FIT["draws"]
    weekly = _weekly(geo_run)
    daily = result.campaign_daily().assign(date=lambda f: pd.to_datetime(f["date"]))
    per_geo = daily[daily["geo"] != ALL_GEOS]
    week = per_geo["date"] - pd.to_timedelta(per_geo["date"].dt.day_of_week, unit="D")
    sums = per_geo.groupby(["geo", "channel", week.rename("date")])["contribution"].sum()
    merged = weekly.set_index(["geo", "channel", "date"])["contribution"]
    np.testing.assert_allclose(sums.loc[merged.index], merged, rtol=1e-9)
    # Each geo and channel's draws carry its MMM totals: as many regression draws as MMM
    # draws, each MMM draw paired once, the same one in every geo and channel, so a draw's
    # total is the channel's point total plus its paired MMM draw's total, centred.
    national = np.zeros(result.national.total_draws.shape[0])
    mmm_national = np.zeros(post.n_draws)
    for geo, r in result.by_geo.items():
        for channel in CHANNELS:
            cols = (r.rows["channel"] == channel).to_numpy()
            total = r.total_draws[:, cols].sum(axis=1)
            point = weekly[(weekly["geo"] == geo) & (weekly["channel"] == channel)][
                "contribution"
            ].sum()
            mmm_total = post.by_geo[geo].draws[channel].sum(axis=1)
            np.testing.assert_allclose(
                np.sort(total - point), np.sort(mmm_total - mmm_total.mean()), rtol=1e-7
            )
            national += total - point
            mmm_national += mmm_total
    np.testing.assert_allclose(
        np.sort(national), np.sort(mmm_national - mmm_national.mean()), rtol=1e-7
    )
    geo_draws = sum(r.total_draws.sum(axis=1) for r in result.by_geo.values())
    np.testing.assert_allclose(result.national.total_draws.sum(axis=1), geo_draws, rtol=1e-9)


def test_measured_sd_reaches_each_geos_unit() -> None:
    days = 14
    a = ChannelDesign("tv", ("x", "y"), np.full(days, 2.0), np.ones((days, 2)))
    b = ChannelDesign("tv", ("x", "y"), np.full(days, 4.0), np.ones((days, 2)))
    designs = [GeoChannelDesign("tv", ("n", "s"), (a, b))]
    layout = _layout(designs, "linear")
    sd = _measured_sd(designs, layout, {"s": {"tv": [7.0, 14.0]}}, period_days=7)
    assert sd is not None
    # Geo "n" has none (exact); geo "s": period totals -> daily means on its y scale (4).
    np.testing.assert_allclose(sd, [[0.0, 0.25], [0.0, 0.5]])
    assert _measured_sd(designs, layout, {"n": {"tv": [0.0, 0.0]}}, period_days=7) is None
    with pytest.raises(ValueError, match="geo 'n' and channel 'tv'"):
        fit_geo_regression(designs, period_days=7, period_sd={"n": {"tv": [1.0]}})


@settings(max_examples=40, deadline=None)
@given(
    y=st.lists(st.floats(0.0, 100.0), min_size=14, max_size=14),
    parts=st.lists(st.floats(0.0, 50.0), min_size=6 * 14 * 2, max_size=6 * 14 * 2),
    mmm=st.lists(st.floats(-20.0, 400.0), min_size=6 * 2, max_size=6 * 2),
    rule=st.sampled_from(["cap", "proportional", "residual"]),
)
def test_mmm_draws_keep_daily_credit_and_carry_the_mmm_totals(
    y: list[float], parts: list[float], mmm: list[float], rule: str
) -> None:
    """Daily credit and means unchanged; draw totals carry the MMM's totals, centred."""
    d = ChannelDesign("tv", ("x", "z"), np.asarray(y), np.ones((14, 2)))
    p = np.asarray(parts).reshape(6, 14, 2)
    alpha = np.full(6, 0.5)
    mmm_draws = np.asarray(mmm).reshape(6, 2)
    days = pd.date_range("2024-01-01", periods=14, freq="D")
    common = {"spend": np.ones(2), "days": days, "rule": rule, "resplit": False, "ci": 0.9}
    daily, _, total, _, _ = _unit_frames(d, p, alpha, mmm_draws=mmm_draws, **common)
    daily0, _, total0, _, _ = _unit_frames(d, p, alpha, **common)
    pd.testing.assert_frame_equal(daily, daily0)
    sums = daily.groupby("date")["contribution"].sum().to_numpy()
    np.testing.assert_allclose(sums, d.y, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(total.mean(axis=0), total0.mean(axis=0), atol=1e-7)
    # Six regression draws, six MMM draws: each MMM draw is paired once.
    shift = np.sort(total.sum(axis=1) - total0.sum(axis=1))
    mmm_total = mmm_draws.sum(axis=1)
    np.testing.assert_allclose(shift, np.sort(mmm_total - mmm_total.mean()), atol=1e-7)
