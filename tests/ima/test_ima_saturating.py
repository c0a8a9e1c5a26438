"""The saturating share model, model choice, daily MMM input, and a real published case."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mixlens.ima.evaluate import score_campaigns, spend_share_baseline
from mixlens.ima.fit import fit_ima, period_days
from mixlens.ima.regression import ChannelDesign, fit_regression
from mixlens.ima.run import fit_to_dir

CREDIBILITY = Path(__file__).resolve().parents[3] / "shared/data/external/pymc-marketing"


def _saturated_channel(seed: int = 0) -> tuple[ChannelDesign, np.ndarray, np.ndarray]:
    """Two bursty campaigns flighted in a busy and a quiet period, one always on.

    Truth: y = 300 * hill(P; K=1, s=1.5), P = sum_k w_k x_k / mean pressure, and
    the Aumann-Shapley split; returns the design, w and the true campaign totals.
    """
    rng = np.random.default_rng(seed)
    t = 364
    x = np.zeros((t, 3))
    x[:, 0] = rng.gamma(5.0, 20.0, t)  # always on
    phase = np.arange(t) % 91
    busy, quiet = phase < 30, (phase >= 30) & (phase < 60)
    x[busy, 1] = rng.gamma(5.0, 60.0, busy.sum())  # flighted with the peak
    x[quiet, 2] = rng.gamma(5.0, 20.0, quiet.sum())  # flighted alone
    w = np.array([1.0, 1.0, 1.0])
    pressure = (x * w).sum(axis=1)
    p = pressure / pressure.mean()
    y_clean = 300.0 * p**1.5 / (1 + p**1.5)
    truth = (y_clean[:, None] * (x * w) / pressure[:, None]).sum(axis=0)
    y = y_clean + rng.normal(0, 3.0, t)
    return ChannelDesign("social", ("always_on", "busy", "quiet"), y, x), w, truth


def test_saturating_model_splits_by_weighted_pressure() -> None:
    design, _, truth = _saturated_channel()
    sat = fit_regression([design], model="saturating", draws=100, seed=1, advi_steps=4000)
    lin = fit_regression([design], model="linear", draws=100, seed=1, advi_steps=4000)
    est_sat = sat.campaign_parts(design).mean(axis=0).sum(axis=0)
    est_lin = lin.campaign_parts(design).mean(axis=0).sum(axis=0)
    err_sat = np.abs(est_sat - truth).sum() / truth.sum()
    err_lin = np.abs(est_lin - truth).sum() / truth.sum()
    assert err_sat < 0.1, (est_sat, truth)
    assert err_sat < err_lin / 2, (err_sat, err_lin)
    # Equal true effectiveness per media unit: relative weights close to one another.
    ratio = sat.beta["social"].mean(axis=0)
    np.testing.assert_allclose(ratio / ratio.mean(), 1.0, atol=0.15)
    # The model's own response fits the channel.
    pred = sat.predict(design)
    assert np.corrcoef(pred, design.y)[0, 1] > 0.98
    assert sat.model == "saturating" and set(sat.curve["social"]) == {"B", "K", "s"}


def test_unknown_model_is_rejected() -> None:
    design, _, _ = _saturated_channel()
    with pytest.raises(ValueError, match="model"):
        fit_regression([design], model="cubic")  # type: ignore[arg-type]


def _daily_frames(design: ChannelDesign) -> tuple[pd.DataFrame, pd.DataFrame]:
    days = pd.date_range("2024-01-01", periods=design.y.size, freq="D")
    contributions = pd.DataFrame({"date": days, "channel": "social", "contribution": design.y})
    rows = [
        {"date": d, "channel": "social", "campaign": name, "spend": v, "impressions": v * 100}
        for k, name in enumerate(design.campaigns)
        for d, v in zip(days, design.x[:, k], strict=True)
    ]
    return contributions, pd.DataFrame(rows)


def test_daily_mmm_input_is_the_identity_and_auto_picks_saturating(tmp_path: Path) -> None:
    design, _, truth = _saturated_channel(seed=2)
    contributions, campaigns = _daily_frames(design)
    assert period_days(pd.DatetimeIndex(contributions["date"])) == 1
    summary = fit_to_dir(
        campaigns=campaigns,
        mmm_contributions=contributions,
        out_dir=tmp_path,
        media="spend",
        draws=60,
        seed=0,
    )
    assert summary["meta"]["period_days"] == 1
    assert summary["meta"]["model_by_channel"] == {"social": "saturating"}
    daily = pd.read_csv(tmp_path / "campaign_daily.csv")
    per_day = daily.groupby("date")["contribution"].sum().to_numpy()
    np.testing.assert_allclose(per_day, design.y, rtol=1e-9, atol=1e-9)  # stage 2 = identity
    camps = pd.read_csv(tmp_path / "campaigns.csv").set_index("campaign")
    est = camps.loc[list(design.campaigns), "contribution_mean"].to_numpy()
    assert np.abs(est - truth).sum() / truth.sum() < 0.15


def test_auto_picks_linear_on_linear_data() -> None:
    rng = np.random.default_rng(3)
    x = rng.gamma(2.0, 50.0, (300, 3)) * (rng.random((300, 3)) > 0.4)
    y = x @ np.array([0.5, 2.0, 1.0]) + rng.normal(0, 2.0, 300)
    contributions, campaigns = _daily_frames(ChannelDesign("social", ("a", "b", "c"), y, x))
    res = fit_ima(contributions, {"social": None}, campaigns, media="spend", draws=60, seed=0)
    assert res.meta["model_by_channel"] == {"social": "linear"}
    got = res.campaigns().set_index("campaign").loc[["a", "b", "c"], "contribution_mean"]
    np.testing.assert_allclose(got.to_numpy() / (x * [0.5, 2.0, 1.0]).sum(0), 1.0, atol=0.12)


@pytest.mark.skipif(not CREDIBILITY.exists(), reason="external data folder absent")
def test_published_credibility_case_ranks_campaigns() -> None:
    """PyMC-Marketing's 7 social campaigns: IMA (auto) from the true daily channel series."""
    metrics = pd.read_csv(CREDIBILITY / "credibility_campaign_daily_metrics.csv")
    wide = pd.read_csv(CREDIBILITY / "credibility_ground_truth_campaign_contributions.csv")
    truth = wide.melt(id_vars="date", var_name="campaign", value_name="contribution")
    truth["channel"] = "social"
    channel = truth.groupby("date", as_index=False)["contribution"].sum().assign(channel="social")
    res = fit_ima(
        channel, {"social": None}, metrics.assign(channel="social"), media="spend", seed=0
    )
    est = res.campaigns()
    scores = score_campaigns(
        {
            "ima": est.rename(columns={"contribution_mean": "contribution"}),
            "spend": spend_share_baseline(est),
        },
        truth,
    ).set_index("method")
    assert scores.loc["ima", "spearman"] >= 0.9
    assert scores.loc["ima", "spearman"] > scores.loc["spend", "spearman"]
    assert res.fit()["r2"].iloc[0] > 0.95
