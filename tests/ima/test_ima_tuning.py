"""Daily carryover tuned from the channel's contributions (IMA stage 2)."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from mixlens.cli import app
from mixlens.data.simulate.mmm import SimulatedMMM
from mixlens.ima.tuning import candidate_scores, tune_adstock
from mixlens.transforms.adstock import adstock
from mixlens.transforms.timescale import GeometricParams, to_daily, to_weekly

from .conftest import true_weekly

runner = CliRunner()


def _daily_world(
    retention: float, *, days: int = 180, k: int = 4, seed: int = 0, noise: float = 0.02
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One channel, ``k`` flighted campaigns, contribution = adstocked media x effect."""
    rng = np.random.default_rng(seed)
    on = rng.random((days, k)) < 0.4
    raw = rng.gamma(2.0, 50.0, (days, k)) * on
    weights = GeometricParams(retention, 40).weights(normalize=True)
    stock = adstock(raw, weights, axis=0) if retention > 0 else raw
    y = stock @ rng.uniform(0.5, 2.0, k)
    y = y + noise * y.mean() * rng.standard_normal(days)
    dates = pd.date_range("2025-01-01", periods=days, freq="D")
    contrib = pd.DataFrame({"date": dates, "channel": "social", "contribution": y})
    camps = pd.DataFrame(
        {
            "date": np.repeat(dates, k),
            "channel": "social",
            "campaign": np.tile([f"c{i}" for i in range(k)], days),
            "spend": raw.ravel(),
            "impressions": raw.ravel() * 10.0,
        }
    )
    return contrib, camps


@pytest.mark.parametrize("retention", [0.4, 0.8])
def test_daily_contributions_recover_the_retention(retention: float) -> None:
    contrib, camps = _daily_world(retention)
    result = tune_adstock(contrib, {"social": None}, camps, media="spend")
    (ch,) = result.channels
    assert ch.tuned
    assert isinstance(ch.chosen, GeometricParams)
    # daily MMM: the kernel is in days; the grid holds the truth exactly
    assert ch.chosen.alpha == pytest.approx(retention)
    assert result.tuned_channels == ("social",)
    summary = result.summary()["social"]
    assert summary["tuned"] is True
    assert summary["candidate"] == "geometric"
    assert summary["retention_per_day"] == pytest.approx(retention)
    assert float(summary["bic_gain"]) >= 10.0  # type: ignore[arg-type]


def test_no_carryover_keeps_the_given_none() -> None:
    contrib, camps = _daily_world(0.0)
    result = tune_adstock(contrib, {"social": None}, camps, media="spend")
    assert not result.channels[0].tuned
    assert result.params({"social": None, "tv": None}) == {"social": None, "tv": None}
    frame = result.to_frame()
    assert frame["chosen"].sum() == 1
    assert frame.loc[frame["chosen"], "candidate"].item() == "given"


@pytest.mark.parametrize("weekly", [False, True])
def test_the_true_kernel_is_kept(weekly: bool) -> None:
    """A linear response through the given kernel: no candidate earns the BIC margin."""
    contrib, camps = _daily_world(0.6, days=364, seed=2)
    given: GeometricParams = GeometricParams(0.6, 40)
    if weekly:
        contrib = contrib.assign(week=np.arange(len(contrib)) // 7)
        contrib = contrib.groupby("week", as_index=False).agg(
            date=("date", "first"),
            channel=("channel", "first"),
            contribution=("contribution", "sum"),
        )
        given = to_weekly(given)
    result = tune_adstock(contrib, {"social": given}, camps, media="spend")
    assert result.tuned_channels == ()
    assert result.params({"social": given}) == {"social": given}
    assert result.summary()["social"]["bic_gain"] == 0.0


def test_weekly_totals_ask_for_a_missing_carryover(ima_world: SimulatedMMM) -> None:
    """The simulator's channels carry over for days: without a kernel every one is tuned."""
    weekly = true_weekly(ima_world)
    none = dict.fromkeys(ima_world.channel_params["channel"])
    tuned = tune_adstock(weekly, none, ima_world.daily_campaign)
    assert set(tuned.tuned_channels) == {ch.channel for ch in tuned.channels}
    for ch in tuned.channels:
        assert isinstance(ch.chosen, GeometricParams)
        assert to_daily(ch.chosen).alpha > 0.3
        assert ch.scores["sse"].iloc[ch.chosen_row] < 0.5 * ch.scores["sse"].iloc[0]


def test_candidate_scores_layout_and_bic() -> None:
    rng = np.random.default_rng(1)
    raw = rng.gamma(1.0, 10.0, (14 + 70, 3))
    y = rng.gamma(2.0, 100.0, 10)
    scores = candidate_scores(
        y,
        raw,
        period=7,
        warmup=14,
        given=GeometricParams(0.5, 3),
        retentions=(0.0, 0.5),
        stretches=(Fraction(2),),
    )
    assert scores["candidate"].tolist() == ["given", "stretched", "geometric", "geometric"]
    assert scores["n_params"].tolist() == [4.0, 5.0, 5.0, 5.0]
    # the given kernel's median lag in days, doubled by the stretch; none without carryover
    lags = scores["median_lag_days"].tolist()
    assert lags[1] >= 2 * lags[0] - 1 and lags[2] == 0.0
    expected = 10 * np.log(scores["sse"] / 10) + scores["n_params"] * np.log(10)
    np.testing.assert_allclose(scores["bic"], expected, rtol=1e-12)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), scale=st.floats(0.01, 100.0))
def test_choice_is_invariant_to_the_units(seed: int, scale: float) -> None:
    """Contributions in other currency units, media in other units: the same kernel."""
    contrib, camps = _daily_world(0.6, days=90, seed=seed, noise=0.1)
    base = tune_adstock(contrib, {"social": None}, camps, media="spend")
    scaled = tune_adstock(
        contrib.assign(contribution=contrib["contribution"] * scale),
        {"social": None},
        camps.assign(spend=camps["spend"] * 3.0),
        media="spend",
    )
    assert base.channels[0].chosen == scaled.channels[0].chosen


def test_bad_retention_is_rejected() -> None:
    contrib, camps = _daily_world(0.4, days=30)
    with pytest.raises(ValueError, match="retentions"):
        tune_adstock(contrib, {"social": None}, camps, retentions=(0.5, 1.0))


def test_cli_tunes_a_bring_your_own_daily_mmm(tmp_path: Path) -> None:
    """`mixlens ima fit --tune-adstock`: the tuned kernel is used, reported and conserved."""
    contrib, camps = _daily_world(0.8, days=120, k=3, seed=4)
    contrib.to_csv(tmp_path / "contrib.csv", index=False)
    camps.to_csv(tmp_path / "campaigns.csv", index=False)
    args = ["ima", "fit", "--contributions", str(tmp_path / "contrib.csv")]
    args += ["--campaigns", str(tmp_path / "campaigns.csv"), "--media", "spend"]
    args += ["--draws", "20", "--advi-steps", "300", "--model", "linear"]
    result = runner.invoke(app, [*args, "--tune-adstock", "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    run = tmp_path / "run"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["adstock_tuning"]["social"]["tuned"] is True
    assert summary["adstock_tuning"]["social"]["retention_per_day"] == pytest.approx(0.8)
    assert summary["inputs"]["adstock"]["social"]["alpha"] == pytest.approx(0.8)
    assert "adstock_tuning.csv" in summary["files"] and summary["files"][-1] == "summary.json"
    table = pd.read_csv(run / "adstock_tuning.csv")
    assert table["chosen"].sum() == 1 and set(table["channel"]) == {"social"}
    daily = pd.read_csv(run / "campaign_daily.csv")
    np.testing.assert_allclose(
        daily.groupby("date")["contribution"].sum().to_numpy(),
        contrib["contribution"].to_numpy(),
        rtol=1e-9,
    )
    # without the flag: no carryover, no tuning file
    plain = runner.invoke(app, [*args, "--out", str(tmp_path / "plain")])
    assert plain.exit_code == 0, plain.output
    assert not (tmp_path / "plain" / "adstock_tuning.csv").exists()
    assert json.loads((tmp_path / "plain" / "summary.json").read_text())["inputs"]["adstock"] == {
        "social": None
    }


def test_geo_input_is_tuned_on_the_totals_over_geos() -> None:
    contrib, camps = _daily_world(0.6, days=150, seed=5)
    share = {"north": 0.3, "south": 0.7}
    geo_contrib = pd.concat(
        [contrib.assign(geo=g, contribution=contrib["contribution"] * s) for g, s in share.items()]
    )
    geo_camps = pd.concat([camps.assign(geo=g, spend=camps["spend"] * s) for g, s in share.items()])
    national = tune_adstock(contrib, {"social": None}, camps, media="spend")
    geo = tune_adstock(geo_contrib, {"social": None}, geo_camps, media="spend")
    assert geo.channels[0].chosen == national.channels[0].chosen
    pd.testing.assert_frame_equal(geo.to_frame(), national.to_frame())


def test_an_mmm_run_dirs_kernels_are_not_tuned(tmp_path: Path) -> None:
    _, camps = _daily_world(0.4, days=30)
    camps.to_csv(tmp_path / "campaigns.csv", index=False)
    (tmp_path / "mmm").mkdir()
    args = ["ima", "fit", "--mmm", str(tmp_path / "mmm"), "--campaigns"]
    args += [str(tmp_path / "campaigns.csv"), "--tune-adstock", "--out", str(tmp_path / "run")]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "--tune-adstock is for bring-your-own contributions" in result.output
