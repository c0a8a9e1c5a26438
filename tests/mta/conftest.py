from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from tests.mta.helpers import ts

from mixlens.data.schemas import validate_conversions, validate_touchpoints
from mixlens.data.simulate.journeys import JourneyWorldConfig, SimulatedJourneys, simulate_journeys
from mixlens.mta import JourneyTable, build_journeys
from mixlens.mta.hazard import HazardFit, fit_hazard

CA_DATA = Path("/work/shared/data/external/channelattribution/Data.csv")
if not CA_DATA.exists():  # the shared folder next to the checkout, as the issue names it
    CA_DATA = (
        Path(__file__).resolve().parents[3] / "shared/data/external/channelattribution/Data.csv"
    )


@pytest.fixture(scope="session")
def world() -> SimulatedJourneys:
    return simulate_journeys(JourneyWorldConfig(users=4_000), seed=7)


@pytest.fixture(scope="session")
def world_dir(world: SimulatedJourneys, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("world")
    world.write(out)
    return out


@pytest.fixture(scope="session")
def logs(world: SimulatedJourneys) -> tuple[pd.DataFrame, pd.DataFrame]:
    tp = validate_touchpoints(world.touchpoints)
    return tp, validate_conversions(world.conversions)


@pytest.fixture(scope="session")
def world_journeys(logs: tuple[pd.DataFrame, pd.DataFrame]) -> JourneyTable:
    return build_journeys(*logs, lookback_days=30)


@pytest.fixture(scope="session")
def ca_paths() -> pd.DataFrame:
    if not CA_DATA.exists():
        pytest.skip("ChannelAttribution's Data.csv is not available")
    return pd.read_csv(CA_DATA, sep=";")


@pytest.fixture
def hand_logs() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Four users: u1 a,b,a -> conversion (10); u2 direct -> conversion (4);
    u3 b, direct -> conversion (6); u4 c, no conversion (a null journey)."""
    tp = pd.DataFrame(
        {
            "user_id": ["u1", "u1", "u1", "u2", "u3", "u3", "u4"],
            "timestamp": [ts(0), ts(6), ts(7), ts(1), ts(2), ts(3), ts(80)],
            "channel": ["a", "b", "a", "direct", "b", "direct", "c"],
        }
    )
    cv = pd.DataFrame(
        {
            "user_id": ["u1", "u2", "u3"],
            "timestamp": [ts(7), ts(1, 12), ts(3, 1)],
            "value": [10.0, 4.0, 6.0],
        }
    )
    return tp, cv


@pytest.fixture(scope="session")
def mid_world() -> SimulatedJourneys:
    """A 15k-user world: enough conversions (about 1,200) for the hazard model's tests."""
    return simulate_journeys(JourneyWorldConfig(users=15_000), seed=11)


@pytest.fixture(scope="session")
def mid_logs(mid_world: SimulatedJourneys) -> tuple[pd.DataFrame, pd.DataFrame]:
    return (
        validate_touchpoints(mid_world.touchpoints),
        validate_conversions(mid_world.conversions),
    )


@pytest.fixture(scope="session")
def mid_fit(mid_logs: tuple[pd.DataFrame, pd.DataFrame]) -> HazardFit:
    return fit_hazard(*mid_logs, seed=0)
