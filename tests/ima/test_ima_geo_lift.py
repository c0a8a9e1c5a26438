"""Campaign lift tests at the geo level: a test in some geos separates twin campaigns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mixlens.errors import DataError
from mixlens.ima.geo import GeoIMAResult, fit_geo_ima
from mixlens.ima.lift import read_campaign_lifts
from mixlens.ima.run import fit_to_dir

DAYS = pd.date_range("2024-01-01", periods=112, freq="D")
GEOS = ("north", "south")
EFFECTS = np.array([2.0, 0.5])  # 'strong', 'weak': flighted identically in both geos
WINDOW = slice(56, 84)


def _twin_geo_world() -> tuple[pd.DataFrame, pd.DataFrame, dict[str, np.ndarray]]:
    """Daily contributions per geo, campaign media with a geo column, true daily parts."""
    rng = np.random.default_rng(7)
    weekly, rows, parts = [], [], {}
    for g, geo in enumerate(GEOS):
        flight = rng.gamma(3.0, 40.0 * (1 + g), DAYS.size) * (np.arange(DAYS.size) % 28 < 14)
        x = np.stack([flight, 0.8 * flight], axis=1)
        parts[geo] = x * EFFECTS
        y = parts[geo].sum(axis=1) + rng.normal(0, 1.0, DAYS.size)
        weekly.append(
            pd.DataFrame({"date": DAYS, "geo": geo, "channel": "social", "contribution": y})
        )
        for k, name in enumerate(("strong", "weak")):
            rows += [
                {"date": d, "geo": geo, "channel": "social", "campaign": name, "spend": v,
                 "impressions": v}
                for d, v in zip(DAYS, x[:, k], strict=True)
            ]  # fmt: skip
    return pd.concat(weekly, ignore_index=True), pd.DataFrame(rows), parts


def _lift(parts: dict[str, np.ndarray], geo: str, se_share: float = 0.05) -> pd.DataFrame:
    geos = GEOS if geo == "" else (geo,)
    value = sum(parts[g][WINDOW, 0].sum() for g in geos)
    return pd.DataFrame(
        {
            "channel": ["social"],
            "campaign": ["strong"],
            "geo": [geo],
            "start": [DAYS[WINDOW.start].date()],
            "end": [DAYS[WINDOW.stop - 1].date()],
            "incremental_outcome": [value],
            "se": [se_share * value],
        }
    )


def _error(result: GeoIMAResult, parts: dict[str, np.ndarray], geos: tuple[str, ...]) -> float:
    """Total error of the twins' credit, summed over ``geos``, over their true total."""
    true = sum(parts[g].sum(axis=0) for g in geos)
    est = sum(
        result.by_geo[g].campaigns().set_index("campaign")["contribution_mean"]
        .loc[["strong", "weak"]].to_numpy()
        for g in geos
    )  # fmt: skip
    return float(np.abs(est - true).sum() / true.sum())


KWARGS = {"media": "spend", "model": "linear", "method": "nuts", "draws": 60, "tune": 300,
          "seed": 0, "grain": "daily"}  # fmt: skip


@pytest.fixture(scope="module")
def without_tests() -> GeoIMAResult:
    weekly, campaigns, _ = _twin_geo_world()
    return fit_geo_ima(weekly, {"social": None}, campaigns, **KWARGS)  # type: ignore[arg-type]


@pytest.mark.parametrize("geo", ["north", ""])
def test_a_geo_lift_test_separates_twin_campaigns_in_every_geo(
    geo: str, without_tests: GeoIMAResult
) -> None:
    weekly, campaigns, parts = _twin_geo_world()
    kwargs = KWARGS
    plain = without_tests
    tests = read_campaign_lifts(_lift(parts, geo), geo=True)
    tested = fit_geo_ima(weekly, {"social": None}, campaigns, lift_tests=tests, **kwargs)  # type: ignore[arg-type]
    assert tested.meta["lift_tests"] == 1
    geos = GEOS if geo == "" else (geo,)
    before, after = _error(plain, parts, geos), _error(tested, parts, geos)
    # Measured (seed 0): north-only test 0.66 -> 0.02 in north, 0.55 -> 0.28 over both
    # geos; national test 0.55 -> 0.09.
    assert after < 0.15, (before, after)
    assert after < before / 2, (before, after)
    # Every geo together, the untested one included (it learns through the pooled effect).
    assert _error(tested, parts, GEOS) < _error(plain, parts, GEOS)


def test_geo_lift_tests_through_the_run_directory_and_bad_geos(tmp_path: Path) -> None:
    weekly, campaigns, parts = _twin_geo_world()
    lift_file = tmp_path / "lift_tests.csv"
    _lift(parts, "north", se_share=0.5).to_csv(lift_file, index=False)
    common = {"campaigns": campaigns, "mmm_contributions": weekly, "media": "spend",
              "model": "linear", "grain": "daily", "draws": 30, "advi_steps": 500}  # fmt: skip
    with pytest.warns(UserWarning, match="method='nuts'"):
        summary = fit_to_dir(out_dir=tmp_path / "ok", lift_tests=lift_file, **common)  # type: ignore[arg-type]
    assert summary["meta"]["lift_tests"] == 1
    bad = tmp_path / "bad.csv"
    _lift(parts, "north").assign(geo="east").to_csv(bad, index=False)
    with pytest.raises(DataError, match=r"bad\.csv: column 'geo', row 1: geo 'east'"):
        fit_to_dir(out_dir=tmp_path / "x", lift_tests=bad, **common)  # type: ignore[arg-type]
    assert not (tmp_path / "x").exists()
