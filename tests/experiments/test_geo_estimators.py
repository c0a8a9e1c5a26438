from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from mixlens.data.simulate.geo_experiment import (
    GeoExperimentConfig,
    SimulatedGeoExperiment,
    simulate_geo_experiment,
)
from mixlens.errors import DataError
from mixlens.experiments import (
    GeoExperimentData,
    GeoLiftResult,
    bayesian_counterfactual,
    difference_in_differences,
    geo_experiment_data,
    recommend,
    synthetic_control,
)

METHODS: dict[str, Callable[[GeoExperimentData], GeoLiftResult]] = {
    "did": difference_in_differences,
    "synthetic_control": lambda d: synthetic_control(d, placebos=60),
    "bayesian_ts": bayesian_counterfactual,
}


@pytest.mark.parametrize("method", sorted(METHODS))
def test_recovers_true_effect(
    method: str, sim: SimulatedGeoExperiment, geo_data: GeoExperimentData
) -> None:
    res = METHODS[method](geo_data)
    assert res.method == method
    assert res.lo < res.estimate < res.hi and res.se > 0
    assert res.lo <= sim.effect <= res.hi
    assert abs(res.estimate - sim.effect) < 3 * res.se
    assert res.pre_mape < 0.05
    frame = res.to_frame()
    assert list(frame["method"]) == [method] and len(res.counterfactual) == geo_data.y.shape[0]
    w = res.counterfactual["window"].to_numpy()
    gap = (res.counterfactual["actual"] - res.counterfactual["counterfactual"])[w].sum()
    assert gap == pytest.approx(res.estimate)


def _simulations(n: int, effect: float) -> list[tuple[GeoExperimentData, float]]:
    out = []
    for seed in range(n):
        sim = simulate_geo_experiment(GeoExperimentConfig(effect=effect), seed=1000 + seed)
        data = geo_experiment_data(sim.panel, treated=sim.treated, start=sim.start, end=sim.end)
        out.append((data, sim.effect))
    return out


@pytest.fixture(scope="module")
def lift_runs() -> list[tuple[GeoExperimentData, float]]:
    return _simulations(60, 0.05)


@pytest.fixture(scope="module")
def aa_runs() -> list[tuple[GeoExperimentData, float]]:
    return _simulations(60, 0.0)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_coverage_of_90_percent_interval(
    method: str, lift_runs: list[tuple[GeoExperimentData, float]]
) -> None:
    # 60 experiments: binomial sd of the coverage is ~0.04; accept 0.78..0.99.
    hits = []
    for data, truth in lift_runs:
        res = METHODS[method](data)
        hits.append(res.lo <= truth <= res.hi)
    assert 0.78 <= np.mean(hits) <= 0.99


@pytest.mark.parametrize("method", sorted(METHODS))
def test_aa_false_positive_rate(
    method: str, aa_runs: list[tuple[GeoExperimentData, float]]
) -> None:
    rejections = []
    for data, truth in aa_runs:
        assert truth == 0.0
        res = METHODS[method](data)
        rejections.append(not res.lo <= 0.0 <= res.hi)
    assert np.mean(rejections) <= 0.2


def test_determinism(geo_data: GeoExperimentData) -> None:
    for fit in METHODS.values():
        a, b = fit(geo_data), fit(geo_data)
        assert a.to_dict() == b.to_dict()
    a = synthetic_control(geo_data, seed=1).to_dict()
    assert a == synthetic_control(geo_data, seed=1).to_dict()


def test_recommend_states_a_reason(geo_data: GeoExperimentData) -> None:
    results = [fit(geo_data) for fit in METHODS.values()]
    rec = recommend(results)
    assert rec.method in METHODS and rec.method in rec.reason
    assert rec.result.se == min(r.se for r in results if r.method == rec.method)


def test_synthetic_weights_are_a_convex_combination(geo_data: GeoExperimentData) -> None:
    weights = synthetic_control(geo_data, placebos=10).details["weights"]
    values = np.array(list(weights.values()))
    assert (values >= 0).all() and values.sum() == pytest.approx(1.0)
    assert set(weights) <= set(geo_data.geos) - set(geo_data.treated_names)


# --------------------------------------------------------------------------- bad inputs


def _data(sim: SimulatedGeoExperiment, **kw: object) -> GeoExperimentData:
    args: dict[str, object] = {"treated": sim.treated, "start": sim.start, "end": sim.end}
    args.update(kw)
    return geo_experiment_data(sim.panel, file="panel.csv", **args)  # type: ignore[arg-type]


def test_unknown_treated_geo(sim: SimulatedGeoExperiment) -> None:
    with pytest.raises(DataError, match=r"panel.csv: column 'geo': treated: unknown geo 'G999'"):
        _data(sim, treated=["G001", "G999"])


def test_start_after_end(sim: SimulatedGeoExperiment) -> None:
    with pytest.raises(DataError, match="start 2023-12-25 is after end 2023-11-06"):
        _data(sim, start="2023-12-25", end="2023-11-06")


def test_window_outside_panel(sim: SimulatedGeoExperiment) -> None:
    with pytest.raises(DataError, match="outside the panel; the panel covers 2022-01-03 to"):
        _data(sim, start="2023-12-04", end="2024-03-04")


def test_too_short_pre_period(sim: SimulatedGeoExperiment) -> None:
    with pytest.raises(DataError, match="leaves 2 periods before the window; need 8"):
        _data(sim, start="2022-01-17", end="2022-03-07")


def test_bad_date_and_number_rows(sim: SimulatedGeoExperiment) -> None:
    panel = sim.panel.copy()
    panel.loc[4, "date"] = "2022/01/31"
    with pytest.raises(DataError, match=r"panel.csv: column 'date', row 5: cannot parse date"):
        geo_experiment_data(
            panel, treated=sim.treated, start=sim.start, end=sim.end, file="panel.csv"
        )
    panel = sim.panel.astype({"sales": object})
    panel.loc[6, "sales"] = "n/a"
    with pytest.raises(DataError, match=r"column 'sales', row 7: not a finite number"):
        geo_experiment_data(panel, treated=sim.treated, start=sim.start, end=sim.end)


def test_missing_geo_dates_and_bad_channel(sim: SimulatedGeoExperiment) -> None:
    panel = sim.panel.drop(index=[10]).reset_index(drop=True)
    with pytest.raises(DataError, match="geo 'G001' has no row for 2022-03-14"):
        geo_experiment_data(panel, treated=sim.treated, start=sim.start, end=sim.end)
    with pytest.raises(DataError, match="channel 'radio' has no 'radio_spend' column"):
        _data(sim, channel="radio")


def test_channel_is_inferred(geo_data: GeoExperimentData) -> None:
    assert geo_data.channel == "tv" and geo_data.freq == "W"


def test_daily_panel(tmp_path: object) -> None:
    cfg = GeoExperimentConfig(geos=15, treated=4, weeks=40, daily=True, test_weeks=4)
    sim = simulate_geo_experiment(cfg, seed=3)
    data = geo_experiment_data(sim.panel, treated=sim.treated, start=sim.start, end=sim.end)
    assert data.freq == "D" and data.length == 28
    for fit in METHODS.values():
        res = fit(data)
        assert abs(res.estimate - sim.effect) < 4 * res.se


def test_level_changes_width(geo_data: GeoExperimentData) -> None:
    for fit in (difference_in_differences, bayesian_counterfactual):
        narrow, wide = fit(geo_data, level=0.5), fit(geo_data, level=0.95)
        assert wide.hi - wide.lo > narrow.hi - narrow.lo
    with pytest.raises(ValueError, match="level"):
        difference_in_differences(geo_data, level=1.5)


def test_parse_of_datetime_column(sim: SimulatedGeoExperiment) -> None:
    panel = sim.panel.assign(date=pd.to_datetime(sim.panel["date"]))
    data = geo_experiment_data(panel, treated=sim.treated, start=sim.start, end=sim.end)
    assert data.start == sim.start and data.end == sim.end
