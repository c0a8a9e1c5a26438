from __future__ import annotations

import pandas as pd
import pytest

from mixlens.data.simulate.mmm import MMMWorldConfig, SimulatedMMM, simulate_mmm


@pytest.fixture(scope="session")
def ima_world() -> SimulatedMMM:
    return simulate_mmm(MMMWorldConfig(weeks=52, n_channels=5), seed=1)


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
