"""Adstock and saturation chosen per channel (:mod:`mixlens.mmm.channel_transforms`).

The model evaluates the transforms symbolically group by group; the results evaluate them
in numpy on full-width draws. Both must agree with each channel's own transform, and
with each other (the model's mean and lift likelihood against the result tables).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytensor
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from mixlens.mmm.calibration import prepare_lift_tests
from mixlens.mmm.channel_transforms import ChannelAdstocks, ChannelSaturations
from mixlens.mmm.data import MMMData
from mixlens.mmm.geo import ALL_GEOS, GeoMMMResult
from mixlens.mmm.geo_data import GeoMMMData, GeoPanel
from mixlens.mmm.geo_model import build_geo_model
from mixlens.mmm.model import build_model
from mixlens.mmm.results import Diagnostics, MMMResult
from mixlens.mmm.spec import (
    DelayedAdstock,
    GeometricAdstock,
    HillSaturation,
    LogisticSaturation,
    MMMSpec,
    Prior,
    WeibullAdstock,
)

from .conftest import prior_idata

ADSTOCKS = {
    "delayed": DelayedAdstock(),
    "geometric": GeometricAdstock(l_max=4),
    "weibull": WeibullAdstock(l_max=6),
}
SATURATIONS = {"hill": HillSaturation(), "logistic": LogisticSaturation()}
#: Draws of each kind's parameters inside their priors' usual range.
RANGES = {
    "theta": (0.1, 0.9),
    "peak": (0.0, 3.0),
    "alpha": (0.05, 0.9),
    "shape": (0.5, 4.0),
    "scale": (0.5, 5.0),
    "half_saturation": (0.3, 3.0),
    "slope": (0.5, 3.0),
    "lam": (0.2, 5.0),
}


def mixed_spec(channels: tuple[str, ...], **kwargs: object) -> MMMSpec:
    """Channel 0 geometric + logistic, channel 2 Weibull + logistic, the rest the defaults."""
    return MMMSpec(
        channels=channels,
        controls=("price", "promotion"),
        adstock={channels[0]: ADSTOCKS["geometric"], channels[2]: ADSTOCKS["weibull"]},
        saturation={channels[0]: SATURATIONS["logistic"], channels[2]: SATURATIONS["logistic"]},
        **kwargs,  # type: ignore[arg-type]
    )


def full_width(
    family: ChannelAdstocks | ChannelSaturations, rng: np.random.Generator, batch: tuple[int, ...]
) -> dict[str, np.ndarray]:
    """Random full-width parameters ``(*batch, C)``, NaN where a channel lacks one."""
    out = {}
    for name in family.parameters:
        lo, hi = RANGES[name]
        values = np.full((*batch, len(family.channels)), np.nan)
        index = family.group_of(name).index
        values[..., index] = rng.uniform(lo, hi, (*batch, index.size))
        out[name] = values
    return out


kinds = st.lists(
    st.tuples(st.sampled_from(sorted(ADSTOCKS)), st.sampled_from(sorted(SATURATIONS))),
    min_size=1,
    max_size=5,
)


@settings(max_examples=40, deadline=None)
@given(kinds=kinds, seed=st.integers(0, 2**16), picks=st.lists(st.integers(0, 4), max_size=6))
def test_numpy_transforms_apply_each_channels_own(
    kinds: list[tuple[str, str]], seed: int, picks: list[int]
) -> None:
    channels = tuple(f"c{i}" for i in range(len(kinds)))
    adstocks = ChannelAdstocks(channels, tuple(ADSTOCKS[a] for a, _ in kinds))
    saturations = ChannelSaturations(channels, tuple(SATURATIONS[s] for _, s in kinds))
    rng = np.random.default_rng(seed)
    a_params, s_params = full_width(adstocks, rng, (3,)), full_width(saturations, rng, (3,))
    weights = adstocks.np_weights(a_params)  # (l_max, 3, C)
    x = rng.uniform(0.0, 4.0, (3, 7, len(channels)))
    s_wide = {k: v[:, None, :] for k, v in s_params.items()}
    response = saturations.np_apply(x, s_wide)
    elasticity = saturations.np_elasticity(x, s_wide)
    assert weights.shape == (adstocks.l_max, 3, len(channels))
    assert np.isfinite(weights).all() and np.isfinite(response).all()
    for c, channel in enumerate(channels):
        adstock = adstocks.transform_of(channel)
        own = adstock.np_weights({p: a_params[p][:, c] for p in adstock.parameters})
        assert_allclose(weights[: adstock.l_max, :, c], own, rtol=1e-12)
        assert_allclose(weights[adstock.l_max :, :, c], 0.0)  # padded with zero lags
        saturation = saturations.transform_of(channel)
        params = {p: s_params[p][:, None, c] for p in saturation.parameters}
        assert_allclose(response[..., c], saturation.np_apply(x[..., c], params), rtol=1e-12)
        assert_allclose(elasticity[..., c], saturation.np_elasticity(x[..., c], params), rtol=1e-12)
    # a selection of channels (repeats allowed) gives the selected columns
    index = np.array([p % len(channels) for p in picks], dtype=np.int64)
    if index.size:
        assert_allclose(adstocks.np_weights(a_params, index), weights[..., index], rtol=1e-12)
        chosen = saturations.np_apply(x[..., index], s_wide, index)
        assert_allclose(chosen, response[..., index], rtol=1e-12)


def test_symbolic_transforms_equal_the_numpy_ones() -> None:
    channels = ("a", "b", "c", "d")
    adstocks = ChannelAdstocks(
        channels,
        (ADSTOCKS["weibull"], ADSTOCKS["delayed"], ADSTOCKS["geometric"], ADSTOCKS["delayed"]),
    )
    saturations = ChannelSaturations(
        channels,
        (
            SATURATIONS["logistic"],
            SATURATIONS["hill"],
            SATURATIONS["hill"],
            SATURATIONS["logistic"],
        ),
    )
    rng = np.random.default_rng(0)
    a_params, s_params = full_width(adstocks, rng, ()), full_width(saturations, rng, ())

    def over_group(family: ChannelAdstocks | ChannelSaturations, params: dict) -> dict:
        return {k: pytensor.shared(v[family.group_of(k).index]) for k, v in params.items()}

    weights = adstocks.pt_weights(over_group(adstocks, a_params)).eval()
    assert_allclose(weights, adstocks.np_weights(a_params), rtol=1e-12)
    x = rng.uniform(0.0, 3.0, (len(channels), 9))  # channel-first, as the model's
    first = saturations.pt_apply(x, over_group(saturations, s_params)).eval()
    assert_allclose(first, saturations.np_apply(x.T, s_params).T, rtol=1e-12)
    index = np.array([3, 0, 0, 2], dtype=np.int64)  # channel-last with a selection (lift tests)
    y = rng.uniform(0.0, 3.0, (9, index.size))
    last = saturations.pt_apply(
        y, over_group(saturations, s_params), axis=-1, channel_index=index
    ).eval()
    assert_allclose(last, saturations.np_apply(y, s_params, index), rtol=1e-12)


def test_spec_groups_round_trip_and_errors(spec: MMMSpec) -> None:
    channels = spec.channels
    mixed = mixed_spec(channels)
    assert [g.transform.kind_name for g in mixed.adstocks.groups] == [
        "geometric",
        "delayed",
        "weibull",
    ]
    assert mixed.adstocks.channels_of("theta") == (channels[1], *channels[3:])
    assert mixed.adstocks.dim_of("alpha") == "geometric_channel"
    assert mixed.saturations.channels_of("lam") == (channels[0], channels[2])
    assert mixed.adstocks.l_max == 8  # the longest kernel (delayed's default)
    assert mixed.pooled_parameters == ("lam", "half_saturation", "slope")  # all log-normal
    assert MMMSpec.from_dict(mixed.to_dict()).to_dict() == mixed.to_dict()
    assert mixed.channel_prior("alpha", channels[0]) == GeometricAdstock.default_priors["alpha"]
    with pytest.raises(KeyError, match="has no parameter 'alpha'"):
        mixed.channel_prior("alpha", channels[1])
    # per-channel priors of a group's parameter
    tight = Prior("Beta", {"alpha": 1.0, "beta": 9.0})
    assert (
        mixed_spec(channels, priors={"alpha": {channels[0]: tight}}).channel_prior(
            "alpha", channels[0]
        )
        == tight
    )
    with pytest.raises(ValueError, match="channels without that parameter"):
        mixed_spec(channels, priors={"alpha": {channels[1]: tight}})
    with pytest.raises(ValueError, match="names unknown channels"):
        MMMSpec(channels=channels, adstock={"nowhere": GeometricAdstock()})
    with pytest.raises(ValueError, match="must share one configuration"):
        MMMSpec(
            channels=channels,
            adstock={channels[0]: GeometricAdstock(l_max=4), channels[1]: GeometricAdstock()},
        )
    with pytest.raises(TypeError, match="must be a SaturationTransform"):
        MMMSpec(channels=channels, saturation={channels[0]: GeometricAdstock()})  # type: ignore[dict-item]


@pytest.fixture(scope="module")
def mixed_mock(panel: pd.DataFrame, spec: MMMSpec) -> MMMResult:
    mixed = mixed_spec(spec.channels)
    data = MMMData.from_panel(panel, mixed)
    model = build_model(data, mixed, keep_mu=True)
    idata = prior_idata(model, draws=30, seed=11)
    diagnostics = Diagnostics(method="prior", sampler="prior", chains=2, draws=30, tune=0)
    return MMMResult(idata=idata, spec=mixed, data=data, diagnostics=diagnostics)


def test_mixed_model_has_group_dims_and_matches_the_results(mixed_mock: MMMResult) -> None:
    spec, channels = mixed_mock.spec, mixed_mock.spec.channels
    post = mixed_mock.idata.posterior
    assert post["alpha"].dims[2:] == ("geometric_channel",)
    assert list(post["theta"].coords["delayed_channel"].values) == [channels[1], *channels[3:]]
    assert post["lam"].dims[2:] == ("logistic_channel",)
    assert post["roi"].dims[2:] == ("channel",)
    # the model's mean (symbolic, per group) is the sum of the numeric components
    frame = mixed_mock.contributions()
    total = frame.groupby("date", sort=True)["mean"].sum().to_numpy()
    mu = post["mu"].mean(("chain", "draw")).to_numpy()
    assert_allclose(total, mu * mixed_mock.data.y_scale, rtol=1e-10)
    # ROI is the model's roi parameter draw by draw (beta derived from it per group)
    roi = mixed_mock.roi().set_index("channel")
    params = mixed_mock.params()
    by_name = params.set_index(["parameter", "channel"])["mean"]
    assert_allclose(roi["roi_mean"], by_name.loc["roi"].loc[list(channels)], rtol=1e-9)
    # shape parameters are listed for the channels that have them only
    assert set(params.loc[params["parameter"] == "alpha", "channel"]) == {channels[0]}
    assert set(params.loc[params["parameter"] == "lam", "channel"]) == {channels[0], channels[2]}
    assert set(params.loc[params["parameter"] == "shape", "channel"]) == {channels[2]}
    assert len(params.loc[params["parameter"] == "slope"]) == len(channels) - 2
    for channel in channels:  # response curves rise from zero for every kind
        curve = mixed_mock.response_curve(channel, np.array([0.0, 1e3, 1e4, 1e5]))
        assert curve["mean"].iloc[0] == 0.0 and np.all(np.diff(curve["mean"]) > 0)
    assert spec.saturations.transform_of(channels[0]).kind_name == "logistic"


def test_mixed_results_chunk_save_and_reload(mixed_mock: MMMResult, tmp_path: Path) -> None:
    small = replace(mixed_mock, chunk_size=7)
    pd.testing.assert_frame_equal(small.roi(), mixed_mock.roi(), rtol=1e-12)
    mixed_mock.save(tmp_path)
    back = MMMResult.load(tmp_path)
    assert back.spec == mixed_mock.spec
    pd.testing.assert_frame_equal(back.roi(), mixed_mock.roi(), rtol=1e-12)
    pd.testing.assert_frame_equal(back.params(), mixed_mock.params(), rtol=1e-12)


def test_mixed_lift_likelihood_matches_the_results(panel: pd.DataFrame, spec: MMMSpec) -> None:
    mixed = mixed_spec(spec.channels)
    data = MMMData.from_panel(panel, mixed)
    weeks = data.dates
    frame = pd.DataFrame(
        {
            "channel": [spec.channels[2], spec.channels[0], spec.channels[1]],
            "start": [weeks[10], weeks[20], weeks[30]],
            "end": [weeks[13] + pd.Timedelta(days=6)] * 1
            + [weeks[23] + pd.Timedelta(days=6), weeks[33] + pd.Timedelta(days=6)],
            "incremental_outcome": [1e4, 2e4, 3e4],
            "se": [1e3, 2e3, 3e3],
        }
    )
    tests = prepare_lift_tests(frame, data)
    model = build_model(data, mixed, lift_tests=tests, keep_mu=True)
    idata = prior_idata(model, draws=10, seed=4)
    result = MMMResult(
        idata=idata,
        spec=mixed,
        data=data,
        diagnostics=Diagnostics(method="prior", sampler="prior", chains=2, draws=10, tune=0),
        lift_tests=tests,
    )
    symbolic = idata.posterior["lift_implied"].stack(s=("chain", "draw")).values.T
    numeric = result._engine.implied_lifts(tests.channel_index, tests.exposure)
    assert_allclose(numeric, symbolic * data.y_scale, rtol=1e-9)


def test_mixed_geo_model_matches_its_results(geo_world_small: pd.DataFrame) -> None:
    panel = GeoPanel.from_frame(geo_world_small, controls=("price", "promotion"))
    mixed = mixed_spec(panel.channels)
    data = GeoMMMData.from_panel(panel, mixed)
    model = build_geo_model(data, mixed)
    assert model.named_vars_to_dims["alpha"] == ("geometric_channel",)
    idata = prior_idata(model, draws=20, seed=6)
    diagnostics = Diagnostics(method="prior", sampler="prior", chains=2, draws=20, tune=0)
    result = GeoMMMResult(idata=idata, spec=mixed, data=data, diagnostics=diagnostics)
    roi = result.roi()
    params = result.params()
    by_geo = params[params["parameter"] == "roi"].set_index(["geo", "channel"])["mean"]
    for geo in result.geos:  # contributions / spend is the model's geo ROI, draw by draw
        mine = roi[roi["geo"] == geo].set_index("channel")["roi_mean"]
        assert_allclose(mine, by_geo.loc[geo].loc[mine.index], rtol=1e-9)
    assert set(params.loc[params["parameter"] == "alpha", "channel"]) == {panel.channels[0]}
    assert (roi.loc[roi["geo"] == ALL_GEOS, "roi_lo"] >= 0).all()


@pytest.fixture(scope="module")
def geo_world_small() -> pd.DataFrame:
    from mixlens.data.simulate.mmm import MMMWorldConfig, simulate_mmm

    return simulate_mmm(MMMWorldConfig(weeks=40, n_channels=5, regions=2), seed=2).weekly_channel
