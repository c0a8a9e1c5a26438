"""IMA at the geo level from files: a geo MMM run directory, a BYO table, the CLI, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mixlens.cli import app
from mixlens.data.schemas import validate_campaigns
from mixlens.data.simulate.mmm import (
    DEFAULT_CHANNELS,
    SimulatedMMM,
)
from mixlens.errors import DataError
from mixlens.ima.geo import prepare_geo_inputs
from mixlens.ima.results import UNATTRIBUTED
from mixlens.ima.run import fit_to_dir, read_mmm_dir
from mixlens.mmm.geo import ALL_GEOS
from mixlens.transforms.timescale import DelayedParams

runner = CliRunner()
CHANNELS = ("social", "online_video")


def _true_weekly(world: SimulatedMMM) -> pd.DataFrame:
    wc = world.weekly_contributions
    out = wc[wc["component"].isin(CHANNELS)].rename(columns={"component": "channel"})
    return out[["date", "geo", "channel", "contribution"]].reset_index(drop=True)


def _adstock(world: SimulatedMMM) -> pd.DataFrame:
    cp = world.channel_params
    return pd.DataFrame(
        {
            "channel": cp["channel"],
            "theta": cp["theta_weekly"],
            "peak": cp["peak_weekly"],
            "l_max": cp["l_max_weekly"],
        }
    )


def _geo_mmm_dir(world: SimulatedMMM, root: Path) -> Path:
    """A geo MMM run directory in `mixlens mmm fit`'s format, holding the truth."""
    root.mkdir(parents=True)
    weekly = _true_weekly(world)
    total = weekly.groupby(["date", "channel"], sort=False)["contribution"].sum().reset_index()
    contrib = pd.concat([weekly, total.assign(geo=ALL_GEOS)], ignore_index=True)
    contrib = contrib.rename(columns={"channel": "component", "contribution": "mean"})
    contrib = contrib.assign(lo=contrib["mean"], hi=contrib["mean"])
    contrib[["geo", "date", "component", "mean", "lo", "hi"]].to_csv(
        root / "contributions.csv", index=False
    )
    rows = []
    for r in _adstock(world).itertuples():
        rows += [(ALL_GEOS, r.channel, "theta", r.theta), (ALL_GEOS, r.channel, "peak", r.peak)]
        rows += [(geo, r.channel, "roi", 1.0) for geo in sorted(weekly["geo"].unique())]
    params = pd.DataFrame(rows, columns=["geo", "channel", "parameter", "mean"])
    params.assign(lo=params["mean"], hi=params["mean"]).to_csv(root / "params.csv", index=False)
    l_max = int(world.channel_params["l_max_weekly"].max())
    spec = {"channels": list(CHANNELS), "adstock": {"kind": "delayed", "l_max": l_max}}
    (root / "spec.json").write_text(json.dumps({"model": "geo", "spec": spec}))
    return root


@pytest.fixture(scope="module")
def cli_run(geo_world: SimulatedMMM, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ima_geo_cli")
    mmm = _geo_mmm_dir(geo_world, root / "mmm")
    geo_world.daily_campaign.to_csv(root / "campaigns.csv", index=False)
    result = runner.invoke(
        app,
        [
            "ima", "fit", "--mmm", str(mmm), "--campaigns", str(root / "campaigns.csv"),
            "--model", "saturating", "--grain", "daily", "--draws", "40", "--advi-steps", "500",
            "--out", str(root / "ima"),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return root / "ima"


def test_reads_a_geo_mmm_run_dir(geo_world: SimulatedMMM, tmp_path: Path) -> None:
    weekly, params = read_mmm_dir(_geo_mmm_dir(geo_world, tmp_path / "mmm"))
    assert set(weekly["geo"]) == {"region_1", "region_2", "region_3"}  # no "all" rows
    expected = _true_weekly(geo_world)["contribution"].sum()
    np.testing.assert_allclose(weekly["contribution"].sum(), expected, rtol=1e-12)
    assert params["social"].theta == pytest.approx(DEFAULT_CHANNELS[1].theta)


def test_cli_writes_geo_tables_that_conserve_the_mmm(
    cli_run: Path, geo_world: SimulatedMMM
) -> None:
    daily = pd.read_csv(cli_run / "campaign_daily.csv", parse_dates=["date"])
    camps = pd.read_csv(cli_run / "campaigns.csv")
    fit = pd.read_csv(cli_run / "fit.csv")
    assert list(daily.columns) == ["date", "geo", "channel", "campaign", "contribution"]
    assert list(camps.columns) == [
        "geo", "channel", "campaign", "spend", "contribution_mean", "contribution_lo",
        "contribution_hi", "roi_mean",
    ]  # fmt: skip
    assert list(fit.columns) == ["geo", "channel", "weekly_mape", "r2"]
    assert set(fit["geo"]) == {"region_1", "region_2", "region_3", ALL_GEOS}
    # Per geo, channel and week the days sum exactly to the MMM's contribution.
    weekly = _true_weekly(geo_world).assign(date=lambda f: pd.to_datetime(f["date"]))
    per_geo = daily[daily["geo"] != ALL_GEOS]
    week = per_geo["date"] - pd.to_timedelta(per_geo["date"].dt.day_of_week, unit="D")
    sums = per_geo.groupby(["geo", "channel", week.rename("date")])["contribution"].sum()
    merged = weekly.set_index(["geo", "channel", "date"]).join(sums.rename("ima"))
    np.testing.assert_allclose(merged["ima"], merged["contribution"], rtol=1e-9)
    # The "all" rows are the sums over geos, day by day and campaign by campaign.
    keys = ["date", "channel", "campaign"]
    national = daily[daily["geo"] == ALL_GEOS].set_index(keys)["contribution"]
    summed = per_geo.groupby(keys)["contribution"].sum()
    np.testing.assert_allclose(national.loc[summed.index], summed, rtol=1e-9, atol=1e-9)
    totals = camps[camps["geo"] == ALL_GEOS].groupby("channel")["contribution_mean"].sum()
    expected = weekly.groupby("channel")["contribution"].sum()
    np.testing.assert_allclose(totals.loc[expected.index], expected, rtol=1e-9)
    assert (camps["campaign"] == UNATTRIBUTED).sum() == 4 * len(CHANNELS)
    summary = json.loads((cli_run / "summary.json").read_text())
    assert summary["meta"]["pooling"] == "partial"
    assert "campaign_effects.csv" in summary["files"]


def test_byo_table_with_geo_column(geo_world: SimulatedMMM, tmp_path: Path) -> None:
    weekly = _true_weekly(geo_world)
    summary = fit_to_dir(
        mmm_contributions=weekly,
        adstock=_adstock(geo_world),
        campaigns=geo_world.daily_campaign,
        out_dir=tmp_path / "out",
        model="linear",
        grain="mmm",
        likelihood="daily",
        pooling="none",
        draws=20,
        advi_steps=1000,
    )
    assert summary["meta"]["pooling"] == "none"
    camps = pd.read_csv(tmp_path / "out" / "campaigns.csv")
    per_geo = camps[camps["geo"] != ALL_GEOS]
    got = per_geo.groupby(["geo", "channel"])["contribution_mean"].sum()
    want = weekly.groupby(["geo", "channel"])["contribution"].sum()
    np.testing.assert_allclose(got.loc[want.index], want, rtol=1e-9)
    # Daily likelihood: no re-split, so every geo, channel and day sums exactly to the
    # national method's disaggregation of that geo's weekly contribution.
    daily = pd.read_csv(tmp_path / "out" / "campaign_daily.csv", parse_dates=["date"])
    daily = daily[daily["geo"] != ALL_GEOS]
    sums = daily.groupby(["geo", "channel", "date"])["contribution"].sum()
    params = {
        r.channel: DelayedParams(theta=r.theta, peak=r.peak, l_max=int(r.l_max))
        for r in _adstock(geo_world).itertuples()
    }
    camp = validate_campaigns(geo_world.daily_campaign)
    inputs = prepare_geo_inputs(weekly, params, camp, adstock="mmm")
    for gd in inputs.designs:
        for geo, d in zip(gd.geos, gd.designs, strict=True):
            got_days = sums.loc[(geo, gd.channel)].to_numpy()
            np.testing.assert_allclose(got_days, d.y, rtol=1e-9, atol=1e-9 * np.abs(d.y).max())


def _byo(world: SimulatedMMM, campaigns: pd.DataFrame, tmp_path: Path) -> None:
    campaigns.to_csv(tmp_path / "campaigns.csv", index=False)
    fit_to_dir(
        mmm_contributions=_true_weekly(world),
        adstock=_adstock(world),
        campaigns=tmp_path / "campaigns.csv",
        out_dir=tmp_path / "out",
        draws=10,
    )


def test_campaign_geo_missing_from_the_mmm_is_located(
    geo_world: SimulatedMMM, tmp_path: Path
) -> None:
    campaigns = geo_world.daily_campaign.copy()
    campaigns.loc[5, "geo"] = "atlantis"
    with pytest.raises(DataError, match="atlantis") as err:
        _byo(geo_world, campaigns, tmp_path)
    assert err.value.file == str(tmp_path / "campaigns.csv")
    assert (err.value.column, err.value.row) == ("geo", 6)


def test_campaigns_without_geo_for_a_geo_mmm(geo_world: SimulatedMMM, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="needs a geo column") as err:
        campaigns = geo_world.daily_campaign
        one = campaigns[campaigns["geo"] == "region_1"].drop(columns="geo")
        _byo(geo_world, one, tmp_path)
    assert err.value.column == "geo"


def test_geo_missing_weeks_is_located(geo_world: SimulatedMMM, tmp_path: Path) -> None:
    weekly = _true_weekly(geo_world)
    weekly = weekly.drop(index=weekly.index[(weekly["geo"] == "region_2")][3])
    with pytest.raises(DataError, match="region_2") as err:
        fit_to_dir(
            mmm_contributions=weekly,
            campaigns=geo_world.daily_campaign,
            out_dir=tmp_path / "out",
        )
    assert err.value.column == "geo"


def test_cli_bad_geo_exits_2(geo_world: SimulatedMMM, tmp_path: Path) -> None:
    _true_weekly(geo_world).to_csv(tmp_path / "weekly.csv", index=False)
    campaigns = geo_world.daily_campaign.copy()
    campaigns.loc[2, "geo"] = "region_9"
    campaigns.to_csv(tmp_path / "campaigns.csv", index=False)
    args = ["ima", "fit", "--contributions", str(tmp_path / "weekly.csv")]
    args += ["--campaigns", str(tmp_path / "campaigns.csv"), "--out", str(tmp_path / "o")]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "region_9" in result.stderr and "row 3" in result.stderr
    campaigns.loc[2, "geo"] = "region_1"
    campaigns.to_csv(tmp_path / "campaigns.csv", index=False)
    # Every method works at the geo level (laplace: tests/ima/test_ima_geo_laplace.py);
    # an unknown one is a bad option.
    result = runner.invoke(app, [*args, "--method", "lbfgs"])
    assert result.exit_code == 2
    assert "--method must be advi, laplace or nuts" in result.stderr
