from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.ima.conftest import true_adstock, true_weekly

from mixlens.data.simulate.mmm import SimulatedMMM
from mixlens.errors import DataError
from mixlens.ima.evaluate import score_campaigns, spend_share_baseline
from mixlens.ima.results import UNATTRIBUTED
from mixlens.ima.run import fit_to_dir


@pytest.fixture(scope="module")
def byo_run(ima_world: SimulatedMMM, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ima_byo")
    weekly = true_weekly(ima_world)
    weekly.to_csv(out / "weekly.csv", index=False)
    true_adstock(ima_world).to_csv(out / "adstock.csv", index=False)
    ima_world.daily_campaign.to_csv(out / "campaigns.csv", index=False)
    fit_to_dir(
        mmm_contributions=out / "weekly.csv",
        adstock=out / "adstock.csv",
        campaigns=out / "campaigns.csv",
        out_dir=out / "run",
        draws=100,
        seed=0,
        window=91,
        step=28,
        grain="daily",  # the weekly truth comes from a daily process
    )
    return out / "run"


def test_writes_design_tables(byo_run: Path) -> None:
    daily = pd.read_csv(byo_run / "campaign_daily.csv")
    camps = pd.read_csv(byo_run / "campaigns.csv")
    fit = pd.read_csv(byo_run / "fit.csv")
    assert list(daily.columns) == ["date", "channel", "campaign", "contribution"]
    assert list(camps.columns) == [
        "channel", "campaign", "spend", "contribution_mean", "contribution_lo",
        "contribution_hi", "roi_mean",
    ]  # fmt: skip
    assert list(fit.columns) == ["channel", "weekly_mape", "r2"]
    assert (camps["campaign"] == UNATTRIBUTED).sum() == 5
    summary = json.loads((byo_run / "summary.json").read_text())
    assert summary["method"] == "advi" and summary["n_campaigns"] == 98


def test_campaign_credit_conserves_the_mmm(byo_run: Path, ima_world: SimulatedMMM) -> None:
    daily = pd.read_csv(byo_run / "campaign_daily.csv", parse_dates=["date"])
    weekly = true_weekly(ima_world).assign(date=lambda f: pd.to_datetime(f["date"]))
    week = daily["date"] - pd.to_timedelta(daily["date"].dt.day_of_week, unit="D")
    sums = daily.groupby(["channel", week.rename("date")])["contribution"].sum().rename("ima")
    merged = weekly.set_index(["channel", "date"]).join(sums)
    np.testing.assert_allclose(merged["ima"], merged["contribution"], rtol=1e-9)
    camps = pd.read_csv(byo_run / "campaigns.csv")
    totals = camps.groupby("channel")["contribution_mean"].sum()
    np.testing.assert_allclose(
        totals.sort_index(), weekly.groupby("channel")["contribution"].sum().sort_index(), rtol=1e-9
    )


def test_recovers_campaign_ranking_better_than_spend_share(
    byo_run: Path, ima_world: SimulatedMMM
) -> None:
    camps = pd.read_csv(byo_run / "campaigns.csv")
    ima = camps.rename(columns={"contribution_mean": "contribution"})
    scores = score_campaigns(
        {"ima": ima, "spend_share": spend_share_baseline(camps)},
        ima_world.daily_campaign_contributions,
    ).pivot(index="channel", columns="method", values="spearman")
    many = scores.loc[["social", "paid_search", "online_video", "display"]]
    assert many["ima"].mean() > many["spend_share"].mean() + 0.02
    assert (many["ima"] >= many["spend_share"] - 0.05).all()
    assert (many["ima"] >= 0.65).all()
    fit = pd.read_csv(byo_run / "fit.csv").set_index("channel")
    assert (fit["r2"] > 0.9).all()


def _inputs(world: SimulatedMMM, tmp: Path) -> dict[str, Path]:
    weekly, adstock, camps = tmp / "w.csv", tmp / "a.csv", tmp / "c.csv"
    true_weekly(world).to_csv(weekly, index=False)
    true_adstock(world).to_csv(adstock, index=False)
    world.daily_campaign.to_csv(camps, index=False)
    return {"mmm_contributions": weekly, "adstock": adstock, "campaigns": camps}


def test_campaign_channel_missing_from_mmm(ima_world: SimulatedMMM, tmp_path: Path) -> None:
    paths = _inputs(ima_world, tmp_path)
    camps = ima_world.daily_campaign.copy()
    camps.loc[5, "channel"] = "tiktok"
    camps.to_csv(paths["campaigns"], index=False)
    with pytest.raises(DataError, match=r"c\.csv: column 'channel', row 6: channel 'tiktok'"):
        fit_to_dir(**paths, out_dir=tmp_path / "o")  # type: ignore[arg-type]


def test_weeks_not_covered(ima_world: SimulatedMMM, tmp_path: Path) -> None:
    paths = _inputs(ima_world, tmp_path)
    camps = ima_world.daily_campaign
    camps[camps["date"] < "2023-06-01"].to_csv(paths["campaigns"], index=False)
    with pytest.raises(DataError, match=r"column 'date', row \d+: .*do not cover"):
        fit_to_dir(**paths, out_dir=tmp_path / "o")  # type: ignore[arg-type]


def test_bad_weekly_table(ima_world: SimulatedMMM, tmp_path: Path) -> None:
    paths = _inputs(ima_world, tmp_path)
    weekly = true_weekly(ima_world)
    weekly = weekly[weekly["date"] != "2023-03-06"]
    weekly.to_csv(paths["mmm_contributions"], index=False)
    with pytest.raises(DataError, match=r"w\.csv: column 'date', row .*consecutive"):
        fit_to_dir(**paths, out_dir=tmp_path / "o")  # type: ignore[arg-type]
    true_weekly(ima_world).drop(columns="contribution").to_csv(
        paths["mmm_contributions"], index=False
    )
    with pytest.raises(DataError, match="column 'contribution'"):
        fit_to_dir(**paths, out_dir=tmp_path / "o")  # type: ignore[arg-type]


def test_adstock_missing_channel(ima_world: SimulatedMMM, tmp_path: Path) -> None:
    paths = _inputs(ima_world, tmp_path)
    true_adstock(ima_world).iloc[1:].to_csv(paths["adstock"], index=False)
    with pytest.raises(DataError, match=r"a\.csv: column 'channel': no adstock for channel 'tv'"):
        fit_to_dir(**paths, out_dir=tmp_path / "o")  # type: ignore[arg-type]


def test_rolling_windows_conserve_each_window(byo_run: Path, ima_world: SimulatedMMM) -> None:
    table = pd.read_csv(byo_run / "campaigns_by_window.csv")
    assert list(table.columns[:4]) == ["window_start", "window_end", "channel", "campaign"]
    assert table["window_start"].nunique() == (364 - 91) // 28 + 1
    daily = pd.read_csv(byo_run / "campaign_daily.csv", parse_dates=["date"])
    first = table[table["window_start"] == table["window_start"].iloc[0]]
    start, end = (
        pd.Timestamp(first["window_start"].iloc[0]),
        pd.Timestamp(first["window_end"].iloc[0]),
    )
    assert (end - start).days == 90
    inside = daily[(daily["date"] >= start) & (daily["date"] <= end)]
    np.testing.assert_allclose(
        first.groupby("channel")["contribution_mean"].sum().sort_index(),
        inside.groupby("channel")["contribution"].sum().sort_index(),
        rtol=1e-9,
    )
    summary = json.loads((byo_run / "summary.json").read_text())
    assert "campaigns_by_window.csv" in summary["files"]


def test_bad_window_is_a_data_error(ima_world: SimulatedMMM, tmp_path: Path) -> None:
    paths = _inputs(ima_world, tmp_path)
    with pytest.raises(DataError, match="multiples"):
        fit_to_dir(
            **paths, out_dir=tmp_path / "o", draws=10, window=30, model="linear", grain="daily"
        )  # type: ignore[arg-type]


def test_needs_exactly_one_mmm_source(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        fit_to_dir(campaigns=tmp_path / "c.csv", out_dir=tmp_path)
