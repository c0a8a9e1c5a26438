from __future__ import annotations

import pytest

from mixlens.data.simulate.geo_experiment import (
    GeoExperimentConfig,
    SimulatedGeoExperiment,
    simulate_geo_experiment,
)
from mixlens.experiments.panel import GeoExperimentData, geo_experiment_data


@pytest.fixture(scope="session")
def sim() -> SimulatedGeoExperiment:
    return simulate_geo_experiment(GeoExperimentConfig(), seed=11)


@pytest.fixture(scope="session")
def geo_data(sim: SimulatedGeoExperiment) -> GeoExperimentData:
    return geo_experiment_data(sim.panel, treated=sim.treated, start=sim.start, end=sim.end)
