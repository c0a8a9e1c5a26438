"""Geo IMA with the Laplace approximation: the mode, conservation, lift tests, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mixlens.cli import app
from mixlens.ima.geo import GeoIMAResult, fit_geo_ima
from mixlens.ima.geo_regression import GeoChannelDesign, fit_geo_regression
from mixlens.ima.lift import read_campaign_lifts
from mixlens.ima.regression import ChannelDesign
from mixlens.ima.results import UNATTRIBUTED
from mixlens.mmm.geo import ALL_GEOS

# The twin world of the geo lift tests: twin campaigns, one four times as effective,
# flighted identically, so only a lift test can tell them apart.
from .test_ima_geo_lift import DAYS, GEOS, WINDOW, _error, _lift, _twin_geo_world

KWARGS = {"media": "spend", "model": "linear", "method": "laplace", "draws": 60, "seed": 0,
          "grain": "daily"}  # fmt: skip


@pytest.fixture(scope="module")
def world() -> tuple[pd.DataFrame, pd.DataFrame, dict[str, np.ndarray]]:
    return _twin_geo_world()


@pytest.fixture(scope="module")
def plain(world: tuple[pd.DataFrame, pd.DataFrame, dict[str, np.ndarray]]) -> GeoIMAResult:
    weekly, campaigns, _ = world
    return fit_geo_ima(weekly, {"social": None}, campaigns, **KWARGS)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def tested(world: tuple[pd.DataFrame, pd.DataFrame, dict[str, np.ndarray]]) -> GeoIMAResult:
    weekly, campaigns, parts = world
    tests = read_campaign_lifts(_lift(parts, "north"), geo=True)
    # No UserWarning (filterwarnings=error): only ADVI warns about lift tests.
    return fit_geo_ima(weekly, {"social": None}, campaigns, lift_tests=tests, **KWARGS)  # type: ignore[arg-type]


def test_laplace_mode_recovers_known_effects_and_agrees_with_a_long_advi() -> None:
    """Two geos, two campaigns flighted independently, small noise: the answer is known."""
    rng = np.random.default_rng(3)
    truth = {"north": np.array([2.0, 0.5]), "south": np.array([1.6, 0.7])}
    designs = []
    for b in truth.values():
        x = rng.gamma(2.0, 50.0, (56, 2)) * (rng.random((56, 2)) < 0.6)
        designs.append(ChannelDesign("social", ("a", "b"), x @ b + rng.normal(0, 2.0, 56), x))
    geo_design = GeoChannelDesign("social", tuple(truth), tuple(designs))
    laplace = fit_geo_regression([geo_design], method="laplace", draws=200, seed=1)
    advi = fit_geo_regression([geo_design], method="advi", draws=200, seed=1, advi_steps=10000)
    assert laplace.by_geo["north"].method == "laplace"
    # Measured (seed 1): Laplace means within 0.7% of the truth; a NUTS run (300 draws x 2
    # chains after 500 tuning steps, 70 s) agrees with them to 0.1%, and with their sd
    # (0.0025-0.0029 against NUTS's 0.0026-0.0035); ADVI (10000 steps) within 1.4%.
    for geo, b in truth.items():
        beta = laplace.by_geo[geo].beta["social"]
        assert beta.shape == (200, 2)
        np.testing.assert_allclose(beta.mean(axis=0), b, rtol=0.02)
        np.testing.assert_allclose(
            beta.mean(axis=0), advi.by_geo[geo].beta["social"].mean(axis=0), rtol=0.03
        )
        assert np.all(beta.std(axis=0) > 0) and np.all(beta.std(axis=0) < 0.02 * b)
    # The pooling hyperparameters are held at the mode: one value of tau in every draw.
    geo_sd = laplace.geo_sd["social"]
    assert geo_sd.shape == (200,) and np.ptp(geo_sd) == 0.0 and geo_sd[0] > 0
    # Without pooling too (the per-geo spreads held at the mode).
    alone = fit_geo_regression([geo_design], method="laplace", pooling="none", draws=50)
    for geo, b in truth.items():
        np.testing.assert_allclose(alone.by_geo[geo].beta["social"].mean(axis=0), b, rtol=0.02)
    with pytest.raises(ValueError, match="'advi', 'nuts' or 'laplace'"):
        fit_geo_regression([geo_design], method="map")  # type: ignore[arg-type]


@pytest.mark.parametrize("which", ["plain", "tested"])
def test_every_geo_conserves_its_channel_contribution_each_day(
    which: str,
    request: pytest.FixtureRequest,
    world: tuple[pd.DataFrame, pd.DataFrame, dict[str, np.ndarray]],
) -> None:
    result: GeoIMAResult = request.getfixturevalue(which)
    weekly = world[0].set_index(["geo", "channel", "date"])["contribution"]
    assert result.meta["lift_tests"] == (1 if which == "tested" else 0)
    daily = result.campaign_daily().assign(date=lambda f: pd.to_datetime(f["date"]))
    per_geo = daily[daily["geo"] != ALL_GEOS]
    assert UNATTRIBUTED in set(per_geo["campaign"])
    sums = per_geo.groupby(["geo", "channel", "date"])["contribution"].sum()
    scale = float(np.abs(weekly).max())
    # Campaigns plus unattributed equal the geo's channel contribution on every day.
    np.testing.assert_allclose(sums.loc[weekly.index], weekly, rtol=1e-9, atol=1e-9 * scale)
    for geo in GEOS:
        assert result.by_geo[geo].method == "laplace"


def test_a_geo_lift_test_moves_credit_toward_the_lift_with_laplace(
    plain: GeoIMAResult,
    tested: GeoIMAResult,
    world: tuple[pd.DataFrame, pd.DataFrame, dict[str, np.ndarray]],
) -> None:
    parts = world[2]
    before, after = _error(plain, parts, ("north",)), _error(tested, parts, ("north",))
    # Measured (seed 0): north 0.54 -> 0.024; both geos 0.55 -> 0.19 (NUTS: 0.66 -> 0.02).
    assert after < 0.1, (before, after)
    assert after < before / 4, (before, after)
    assert _error(tested, parts, GEOS) < _error(plain, parts, GEOS)
    # The tested campaign's credit in the tested window and geo moves toward the lift.
    measured = parts["north"][WINDOW, 0].sum()

    def window_credit(result: GeoIMAResult) -> float:
        daily = result.by_geo["north"].campaign_daily()
        days = pd.to_datetime(daily["date"])
        keep = (daily["campaign"] == "strong") & days.between(
            DAYS[WINDOW.start], DAYS[WINDOW.stop - 1]
        )
        return float(daily.loc[keep, "contribution"].sum())

    assert abs(window_credit(tested) - measured) < abs(window_credit(plain) - measured) / 4
    assert abs(window_credit(tested) - measured) < 0.05 * measured


def test_cli_geo_laplace_with_a_lift_test_writes_its_tables(
    world: tuple[pd.DataFrame, pd.DataFrame, dict[str, np.ndarray]], tmp_path: Path
) -> None:
    weekly, campaigns, parts = world
    weekly.to_csv(tmp_path / "contributions.csv", index=False)
    campaigns.to_csv(tmp_path / "campaigns.csv", index=False)
    _lift(parts, "north").to_csv(tmp_path / "lift_tests.csv", index=False)
    out = tmp_path / "out"
    args = ["ima", "fit", "--contributions", str(tmp_path / "contributions.csv")]
    args += ["--campaigns", str(tmp_path / "campaigns.csv"), "--out", str(out)]
    args += ["--lift-tests", str(tmp_path / "lift_tests.csv"), "--media", "spend"]
    args += ["--model", "linear", "--grain", "daily", "--draws", "30", "--method", "laplace"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    for name in ("campaign_daily.csv", "campaigns.csv", "fit.csv", "campaign_effects.csv"):
        assert (out / name).is_file(), name
    table = pd.read_csv(out / "campaigns.csv")
    assert set(table["geo"]) == {*GEOS, ALL_GEOS}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["meta"]["lift_tests"] == 1
    daily = pd.read_csv(out / "campaign_daily.csv")
    north = daily[daily["geo"] == "north"].groupby("date")["contribution"].sum()
    rows = weekly[weekly["geo"] == "north"]
    truth = rows.set_index(rows["date"].dt.strftime("%Y-%m-%d"))["contribution"]
    np.testing.assert_allclose(north.to_numpy(), truth.loc[north.index], rtol=1e-9, atol=1e-9)
