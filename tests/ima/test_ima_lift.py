"""Campaign lift tests as evidence in IMA ("experiments as priors")."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mixlens.errors import DataError
from mixlens.ima.fit import fit_ima
from mixlens.ima.lift import read_campaign_lifts
from mixlens.ima.run import fit_to_dir

DAYS = pd.date_range("2024-01-01", periods=280, freq="D")


def _twin_campaigns() -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Two campaigns flighted identically (data cannot split them), effects 2.0 and 0.5."""
    rng = np.random.default_rng(4)
    flight = rng.gamma(3.0, 40.0, DAYS.size) * (np.arange(DAYS.size) % 28 < 14)
    x = np.stack([flight, 0.8 * flight], axis=1)
    parts = x * np.array([2.0, 0.5])
    y = parts.sum(axis=1) + rng.normal(0, 1.0, DAYS.size)
    contributions = pd.DataFrame({"date": DAYS, "channel": "social", "contribution": y})
    campaigns = pd.DataFrame(
        [
            {"date": d, "channel": "social", "campaign": name, "spend": v, "impressions": v}
            for k, name in enumerate(("strong", "weak"))
            for d, v in zip(DAYS, x[:, k], strict=True)
        ]
    )
    return contributions, campaigns, parts


def _lift(parts: np.ndarray, se: float) -> pd.DataFrame:
    window = slice(56, 84)
    return pd.DataFrame(
        {
            "channel": ["social", "social"],
            "campaign": ["strong", ""],  # the second row is channel-level: skipped by IMA
            "start": [DAYS[window.start].date(), DAYS[0].date()],
            "end": [DAYS[window.stop - 1].date(), DAYS[-1].date()],
            "incremental_outcome": [parts[window, 0].sum(), 1.0],
            "se": [se, 1.0],
            "method": ["recommended:did", "did"],
        }
    )


def _error(result_campaigns: pd.DataFrame, parts: np.ndarray) -> float:
    est = result_campaigns.set_index("campaign").loc[["strong", "weak"], "contribution_mean"]
    return float(np.abs(est.to_numpy() - parts.sum(axis=0)).sum() / parts.sum())


@pytest.mark.parametrize("model", ["linear", "saturating"])
def test_a_lift_test_separates_campaigns_flighted_together(model: str) -> None:
    contributions, campaigns, parts = _twin_campaigns()
    # Daily grain only: the lift test is what is under test here, not the choice of grain
    # (``grain="auto"`` would fit both and double the time).
    kwargs = {
        "media": "spend",
        "model": model,
        "method": "laplace",
        "draws": 80,
        "seed": 0,
        "grain": "daily",
    }
    plain = fit_ima(contributions, {"social": None}, campaigns, **kwargs)  # type: ignore[arg-type]
    tests = read_campaign_lifts(_lift(parts, se=0.05 * parts[56:84, 0].sum()))
    assert len(tests) == 1
    tested = fit_ima(
        contributions,
        {"social": None},
        campaigns,
        lift_tests=tests,
        **kwargs,  # type: ignore[arg-type]
    )
    assert tested.meta["lift_tests"] == 1
    before, after = _error(plain.campaigns(), parts), _error(tested.campaigns(), parts)
    assert after < 0.15, (before, after)
    assert after < before / 2, (before, after)


def test_lift_tests_through_the_run_directory(tmp_path: Path) -> None:
    contributions, campaigns, parts = _twin_campaigns()
    lift_file = tmp_path / "lift_tests.csv"
    _lift(parts, se=100.0).to_csv(lift_file, index=False)
    summary = fit_to_dir(
        campaigns=campaigns,
        mmm_contributions=contributions,
        out_dir=tmp_path / "ima",
        media="spend",
        model="linear",
        method="laplace",
        draws=50,
        lift_tests=lift_file,
    )
    assert summary["meta"]["lift_tests"] == 1
    assert summary["inputs"]["lift_tests"] == str(lift_file)


def test_bad_campaign_lift_tests_name_file_column_and_row(tmp_path: Path) -> None:
    contributions, campaigns, parts = _twin_campaigns()
    no_campaign = tmp_path / "channel_only.csv"
    _lift(parts, 1.0).drop(columns="campaign").to_csv(no_campaign, index=False)
    with pytest.raises(DataError, match=r"channel_only\.csv: column 'campaign'.*campaign lift"):
        read_campaign_lifts(no_campaign)
    unknown = tmp_path / "unknown.csv"
    _lift(parts, 1.0).assign(campaign=["nope", ""]).to_csv(unknown, index=False)
    with pytest.raises(DataError, match=r"unknown\.csv: column 'campaign', row 1: .*'nope'"):
        fit_to_dir(
            campaigns=campaigns,
            mmm_contributions=contributions,
            out_dir=tmp_path / "x",
            media="spend",
            model="linear",
            lift_tests=unknown,
        )
    bad_se = tmp_path / "bad_se.csv"
    _lift(parts, 1.0).assign(se=[-1.0, 1.0]).to_csv(bad_se, index=False)
    with pytest.raises(DataError, match=r"bad_se\.csv: column 'se', row 1"):
        read_campaign_lifts(bad_se)
    assert not (tmp_path / "x").exists()


def test_lift_tests_with_mean_field_advi_warn() -> None:
    contributions, campaigns, parts = _twin_campaigns()
    tests = read_campaign_lifts(_lift(parts, se=100.0))
    with pytest.warns(UserWarning, match="laplace"):
        fit_ima(
            contributions,
            {"social": None},
            campaigns,
            media="spend",
            model="linear",
            draws=20,
            advi_steps=200,
            lift_tests=tests,
        )
