"""In-sample fit and posterior predictive checks (:mod:`mixlens.mmm.checks`).

The statistics are checked on synthetic replicates whose truth is known; the fit table on
prior draws dressed as a posterior (national and geo); the files on one short ADVI fit.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from mixlens.data.geo_panel import GeoPanel
from mixlens.data.simulate.mmm import MMMWorldConfig, simulate_mmm
from mixlens.mmm.checks import (
    STATISTICS,
    PredictiveCheckWarning,
    array_blocks,
    array_chunks,
    check_fit,
    lag1_autocorrelation,
    p_values,
    predictive_bands,
    predictive_warnings,
    replicate_statistics,
    warn_predictive,
)
from mixlens.mmm.fit import ConvergenceWarning
from mixlens.mmm.geo import ALL_GEOS, GeoMMMResult
from mixlens.mmm.geo_data import GeoMMMData
from mixlens.mmm.geo_model import build_geo_model
from mixlens.mmm.results import Diagnostics, MMMResult
from mixlens.mmm.run import fit_to_dir
from mixlens.mmm.spec import MMMSpec

from .conftest import prior_idata

WEEKS = 104
DRAWS = 600


def _posterior(seed: int) -> tuple[np.ndarray, np.ndarray, np.random.Generator]:
    """Expected outcome ``(S, T)`` and noise sd ``(S,)`` of a toy posterior around a season."""
    rng = np.random.default_rng(seed)
    t = np.arange(WEEKS)
    season = 100.0 + 10.0 * np.sin(2 * np.pi * t / 52)
    level = rng.normal(0.0, 0.3, size=(DRAWS, 1))  # parameter uncertainty
    sigma = rng.uniform(2.8, 3.2, size=DRAWS)
    return season[None, :] + level, sigma, rng


def _p(y: np.ndarray, mu: np.ndarray, sigma: np.ndarray, seed: int = 0) -> dict[str, float]:
    p = p_values(replicate_statistics(y, array_chunks(mu, 128), sigma, seed=seed))
    assert all(value is not None for value in p.values())
    return {k: float(v) for k, v in p.items() if v is not None}


def test_lag1_autocorrelation_of_an_ar1_series() -> None:
    rng = np.random.default_rng(0)
    x = np.zeros(20_000)
    for i in range(1, len(x)):
        x[i] = 0.8 * x[i - 1] + rng.standard_normal()
    assert float(lag1_autocorrelation(x)) == pytest.approx(0.8, abs=0.02)
    assert np.isnan(lag1_autocorrelation(np.ones(5)))


def test_p_values_are_moderate_when_y_comes_from_the_model() -> None:
    """Over 20 worlds where y is a replicate itself, p-values spread over (0, 1)."""
    collected: dict[str, list[float]] = {name: [] for name in STATISTICS}
    for seed in range(20):
        mu, sigma, rng = _posterior(seed)
        truth = int(rng.integers(DRAWS))
        y = mu[truth] + rng.standard_normal(WEEKS) * sigma[truth]
        for name, value in _p(y, mu, sigma, seed=seed).items():
            collected[name].append(value)
    for name, values in collected.items():
        share_extreme = np.mean([(v < 0.01) or (v > 0.99) for v in values])
        assert 0.25 < np.mean(values) < 0.75, (name, values)
        assert share_extreme <= 0.1, (name, values)


def test_a_shifted_outcome_gives_an_extreme_mean_p_value() -> None:
    mu, sigma, rng = _posterior(1)
    y = mu[0] + rng.standard_normal(WEEKS) * sigma[0]
    assert _p(y + 3.0, mu, sigma)["mean"] < 0.01  # observed mean above every replicate
    assert _p(y - 3.0, mu, sigma)["mean"] > 0.99
    lines = predictive_warnings(_p(y + 3.0, mu, sigma), coverage=0.9, ci=0.9)
    assert any("observed mean" in line and "biased low" in line for line in lines)


def test_autocorrelated_residuals_give_an_extreme_p_value_and_a_warning() -> None:
    mu, sigma, rng = _posterior(2)
    noise = np.zeros(WEEKS)
    for i in range(1, WEEKS):  # AR(1), rho 0.8, marginal sd about 3
        noise[i] = 0.8 * noise[i - 1] + rng.standard_normal() * 3.0 * np.sqrt(1 - 0.8**2)
    p = _p(mu[0] + noise, mu, sigma)
    assert p["residual_acf1"] < 0.01
    lines = predictive_warnings(p, coverage=0.9, ci=0.9)
    assert any("residual autocorrelation" in line and "time structure" in line for line in lines)
    white = mu[0] + rng.standard_normal(WEEKS) * sigma[0]
    assert 0.01 < _p(white, mu, sigma)["residual_acf1"] < 0.99


def test_chunking_does_not_change_the_numbers() -> None:
    mu, sigma, rng = _posterior(3)
    y = mu[0] + rng.standard_normal(WEEKS) * sigma[0]
    small = replicate_statistics(y, array_chunks(mu, 7), sigma, seed=5)
    whole = replicate_statistics(y, array_chunks(mu, DRAWS), sigma, seed=5)
    for name in STATISTICS:
        assert_allclose(small.replicated[name], whole.replicated[name], rtol=1e-12)
        assert_allclose(small.observed[name], whole.observed[name], rtol=1e-12)
    assert p_values(small) == p_values(whole)
    blocked = predictive_bands(array_blocks(mu, 5), sigma, ci=0.9, seed=5)
    single = predictive_bands(array_blocks(mu, WEEKS), sigma, ci=0.9, seed=5)
    for a, b in zip(blocked, single, strict=True):
        assert_allclose(a, b, rtol=1e-12)
    other = replicate_statistics(y, array_chunks(mu, DRAWS), sigma, seed=6)
    assert not np.array_equal(other.replicated["mean"], whole.replicated["mean"])


def test_predictive_interval_covers_at_its_mass_and_totals_sum_draw_by_draw() -> None:
    mu, sigma, rng = _posterior(4)
    y = mu[0] + rng.standard_normal(WEEKS) * sigma[0]
    mean, lo, hi = predictive_bands(array_blocks(mu, 10), sigma, ci=0.8, seed=0)
    coverage = np.mean((lo[:, 0] <= y) & (y <= hi[:, 0]))
    assert abs(coverage - 0.8) < 3 * np.sqrt(0.8 * 0.2 / WEEKS)  # binomial error, 3 sd
    assert_allclose(mean[:, 0], mu.mean(axis=0))
    # two geos: the total's mean is the sum, its interval that of the summed replicates
    geo_mu = np.stack([mu, 2.0 * mu], axis=1)  # (S, 2, T)
    geo_sigma = np.column_stack([sigma, sigma])
    mean, lo, hi = predictive_bands(array_blocks(geo_mu, 10), geo_sigma, ci=0.8, seed=0, total=True)
    assert mean.shape == (WEEKS, 3)
    assert_allclose(mean[:, 2], mean[:, 0] + mean[:, 1])
    width = (hi - lo).mean(axis=0)  # noise sd ~3 each: the total's is ~3 * sqrt(2)
    assert width[2] == pytest.approx(np.sqrt(2) * width[0], rel=0.1)
    with pytest.raises(ValueError, match="ci"):
        predictive_bands(array_blocks(mu, 10), sigma, ci=1.0)


def test_warnings_for_extremes_and_low_coverage() -> None:
    assert predictive_warnings({"sd": 0.5, "acf1": None}, coverage=0.85, ci=0.9) == []
    lines = predictive_warnings({"sd": 0.995}, coverage=0.7, ci=0.9)
    assert "almost always exceed the observed standard deviation (p = 0.995)" in lines[0]
    assert lines[1].startswith("only 70% of the fitted weeks lie inside the 90%")
    with pytest.warns(PredictiveCheckWarning, match="p = 0.995"):
        warn_predictive({"warnings": lines[:1]})
    assert not issubclass(PredictiveCheckWarning, ConvergenceWarning)


def test_national_fit_table_matches_the_posterior(mock_result: MMMResult) -> None:
    checked = check_fit(mock_result, seed=1)
    table = checked.table
    assert list(table.columns) == ["date", "actual", "mean", "lo", "hi"]
    assert len(table) == mock_result.data.n_weeks
    assert table["date"].iloc[0] == mock_result.data.dates[0].strftime("%Y-%m-%d")
    mu = mock_result.idata.posterior["mu"].mean(("chain", "draw")).to_numpy()
    assert_allclose(table["mean"], mu * mock_result.data.y_scale, rtol=1e-10)
    assert (table["lo"] < table["mean"]).all() and (table["mean"] < table["hi"]).all()
    summary = checked.summary
    assert {"r2", "mape", "coverage", "ci", "p_values", "warnings"} <= set(summary)
    assert list(summary["p_values"]) == list(STATISTICS)
    again = check_fit(replace(mock_result, chunk_size=3), seed=1)
    pd.testing.assert_frame_equal(table, again.table, rtol=1e-12)
    assert again.summary == summary


def test_geo_fit_table_has_each_geo_and_the_total(world_geo: GeoMMMResult) -> None:
    checked = check_fit(world_geo, seed=0)
    table = checked.table
    assert list(table.columns) == ["geo", "date", "actual", "mean", "lo", "hi"]
    assert list(table["geo"].unique()) == [*world_geo.geos, ALL_GEOS]
    wide = table.pivot(index="date", columns="geo", values=["actual", "mean"])
    for column in ("actual", "mean"):
        parts = wide[column][list(world_geo.geos)].sum(axis=1)
        assert_allclose(parts, wide[column][ALL_GEOS], rtol=1e-10)
    summary = checked.summary
    assert [m["geo"] for m in summary["by_geo"]] == [*world_geo.geos, ALL_GEOS]
    assert summary["coverage"] == summary["by_geo"][-1]["coverage"]
    assert set(summary["p_values"]) == set(STATISTICS)


@pytest.fixture(scope="module")
def world_geo() -> GeoMMMResult:
    world = simulate_mmm(MMMWorldConfig(weeks=40, n_channels=5, regions=2), seed=4)
    panel = GeoPanel.from_frame(world.weekly_channel, controls=("price", "promotion"))
    spec = MMMSpec(channels=panel.channels, controls=("price", "promotion"))
    data = GeoMMMData.from_panel(panel, spec)
    idata = prior_idata(build_geo_model(data, spec), draws=20, seed=2)
    diagnostics = Diagnostics(method="prior", sampler="prior", chains=2, draws=20, tune=0)
    return GeoMMMResult(idata=idata, spec=spec, data=data, diagnostics=diagnostics)


def test_fit_to_dir_writes_the_in_sample_fit(tmp_path: Path) -> None:
    """One short ADVI fit of 30 weeks, the last 4 held out: fit.csv has the 26 fitted weeks."""
    world = simulate_mmm(MMMWorldConfig(weeks=30, n_channels=5), seed=1)
    out = tmp_path / "mmm"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", PredictiveCheckWarning)  # 26 weeks of ADVI
        summary = fit_to_dir(
            world.weekly_channel,
            out_dir=out,
            controls=("price", "promotion"),
            method="advi",
            draws=200,
            seed=0,
            holdout_weeks=4,
        )
    fit = pd.read_csv(out / "fit.csv")
    assert list(fit.columns) == ["date", "actual", "mean", "lo", "hi"]
    dates = world.weekly_channel["date"].astype(str).tolist()
    assert fit["date"].tolist() == dates[:26]
    assert pd.read_csv(out / "holdout.csv")["date"].tolist() == dates[26:]
    assert_allclose(fit["actual"], world.weekly_channel["sales"].iloc[:26])
    on_disk = json.loads((out / "summary.json").read_text())["fit"]
    assert on_disk == summary["fit"] and "fit.csv" in summary["files"]
    assert {"r2", "mape", "coverage", "ci", "p_values", "warnings"} <= set(on_disk)
    assert set(on_disk["p_values"]) == set(STATISTICS) and on_disk["weeks"] == 26
    # 26 weeks: binomial sd of a calibrated 90% coverage is 0.06; mean-field ADVI
    # overstates the noise sd, so the interval may cover every week
    assert on_disk["ci"] - 0.15 <= on_disk["coverage"] <= 1.0
    assert on_disk["r2"] > 0.5 and on_disk["mape"] < 0.1
    assert "check" in summary["timings_s"]
