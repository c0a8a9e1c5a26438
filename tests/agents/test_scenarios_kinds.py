"""The agents' shared model from truth tables whose channels have their own transform kinds."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from mixlens.agents.scenarios import shared_model_from
from mixlens.data.simulate.mmm import MMMWorldConfig, mixed_transform_channels, simulate_mmm
from mixlens.data.simulate.mmm_channels import DEFAULT_CHANNELS, MediaChannelSpec
from mixlens.errors import DataError

START = "2023-01-02"


def _params(channels: tuple[MediaChannelSpec, ...]) -> pd.DataFrame:
    return simulate_mmm(MMMWorldConfig(weeks=8, channels=channels), seed=0).channel_params


def _geometric(spec: MediaChannelSpec, alpha: float) -> MediaChannelSpec:
    return replace(spec, adstock="geometric", theta=None, peak=None, alpha=alpha)


@pytest.fixture(scope="module")
def default_params() -> pd.DataFrame:
    return _params(DEFAULT_CHANNELS[:5])


def test_default_world_model_is_unchanged(default_params: pd.DataFrame) -> None:
    """Delayed and Hill everywhere: retention, peak and slope straight from the table."""
    delayed = shared_model_from(default_params, horizon=52.0, start=START)
    assert delayed.adstock == "delayed"
    assert delayed.channels == tuple(default_params["channel"])
    assert delayed.alpha == tuple(default_params["theta_weekly"])
    assert delayed.peak == tuple(default_params["peak_weekly"])
    assert delayed.slope == tuple(default_params["slope"])
    geometric = shared_model_from(default_params, horizon=52.0, start=START, adstock="geometric")
    assert geometric.alpha == tuple(default_params["theta_weekly"])  # the peak is dropped
    assert geometric.peak is None


def test_a_table_without_kind_columns_is_delayed_hill(default_params: pd.DataFrame) -> None:
    legacy = default_params.drop(columns=["adstock", "saturation", "alpha_weekly"])
    assert shared_model_from(legacy, horizon=52.0, start=START) == shared_model_from(
        default_params, horizon=52.0, start=START
    )


def test_geometric_channels_keep_their_alpha_in_a_geometric_model() -> None:
    channels = (_geometric(DEFAULT_CHANNELS[0], 0.35), *DEFAULT_CHANNELS[1:4])
    params = _params(channels)
    model = shared_model_from(params, horizon=52.0, start=START, adstock="geometric")
    assert model.alpha == (0.35, *params["theta_weekly"].iloc[1:])
    assert model.slope == tuple(params["slope"])
    weeks = pd.date_range(START, periods=6, freq="7D")
    frame = pd.DataFrame({f"{c}_spend": np.linspace(1.0, 6.0, 6) for c in model.channels})
    frame.insert(0, "date", weeks)
    assert np.isfinite(model.media(frame)).all()
    with pytest.raises(DataError, match=r"channel 'tv' has geometric adstock.*adstock='geometric'"):
        shared_model_from(params, horizon=52.0, start=START)


def test_kinds_the_shared_model_cannot_express_are_named() -> None:
    mixed = _params(mixed_transform_channels(5))  # tv: Weibull + Hill, social: logistic
    for adstock in ("delayed", "geometric"):
        with pytest.raises(DataError, match="channel 'tv' has weibull adstock"):
            shared_model_from(mixed, horizon=52.0, start=START, adstock=adstock)
    logistic = mixed[mixed["channel"] != "tv"]
    with pytest.raises(DataError, match="channel 'social' has logistic saturation"):
        shared_model_from(logistic, horizon=52.0, start=START, adstock="geometric")
    with pytest.raises(DataError, match="adstock must be one of"):
        shared_model_from(logistic, horizon=52.0, start=START, adstock="weibull")
    with pytest.raises(ValueError, match="channel 'social'"):  # DataError is a ValueError
        shared_model_from(logistic, horizon=52.0, start=START)
