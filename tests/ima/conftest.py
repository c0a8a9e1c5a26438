from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest

from mixlens.data.simulate.mmm import (
    DEFAULT_CHANNELS,
    MMMWorldConfig,
    SimulatedMMM,
    simulate_mmm,
)


@pytest.fixture(scope="session")
def ima_world() -> SimulatedMMM:
    return simulate_mmm(MMMWorldConfig(weeks=52, n_channels=5), seed=1)


@pytest.fixture(scope="session")
def geo_world() -> SimulatedMMM:
    """A small geo world: 3 geos x 2 channels x 3-4 campaigns (2 families each) x 8 weeks."""
    specs = (
        replace(DEFAULT_CHANNELS[1], n_campaigns=4, n_families=2),
        replace(DEFAULT_CHANNELS[3], n_campaigns=3, n_families=2),
    )
    return simulate_mmm(MMMWorldConfig(weeks=8, channels=specs, regions=3), seed=2)


def true_weekly(world: SimulatedMMM) -> pd.DataFrame:
    wc = world.weekly_contributions
    channels = list(world.channel_params["channel"])
    return wc[wc["component"].isin(channels)].rename(columns={"component": "channel"})


def true_adstock(world: SimulatedMMM) -> pd.DataFrame:
    cp = world.channel_params
    return pd.DataFrame(
        {
            "channel": cp["channel"],
            "theta": cp["theta_weekly"],
            "peak": cp["peak_weekly"],
            "l_max": cp["l_max_weekly"],
        }
    )
