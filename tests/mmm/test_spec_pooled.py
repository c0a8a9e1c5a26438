"""Partially pooled shape priors (``MMMSpec.pooled``): validation, round trip, model prior."""

from __future__ import annotations

import json
import warnings
from dataclasses import replace

import numpy as np
import pymc as pm
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mixlens.data.geo_panel import GeoPanel
from mixlens.data.simulate.mmm import MMMWorldConfig, simulate_mmm
from mixlens.mmm.data import MMMData
from mixlens.mmm.geo_data import GeoMMMData
from mixlens.mmm.geo_model import build_geo_model
from mixlens.mmm.model import build_model
from mixlens.mmm.spec import LogisticSaturation, MMMSpec, Prior


def test_pooled_round_trips_and_defaults_to_the_saturation(spec: MMMSpec) -> None:
    assert spec.pooled == "auto"
    assert spec.pooled_parameters == ("half_saturation", "slope")  # Hill's log-normal priors
    logistic = MMMSpec(channels=spec.channels, saturation=LogisticSaturation())
    assert logistic.pooled_parameters == ("lam",)  # log-normal by default, so pooled too
    gamma_lam = LogisticSaturation(priors={"lam": Prior("Gamma", {"alpha": 3, "beta": 1})})
    assert MMMSpec(channels=spec.channels, saturation=gamma_lam).pooled_parameters == ()
    gamma = Prior("Gamma", {"alpha": 2, "beta": 2})
    assert replace(spec, priors={"slope": gamma}).pooled_parameters == ("half_saturation",)
    assert MMMSpec(channels=spec.channels, pooled=()).pooled_parameters == ()
    assert MMMSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    pooled = MMMSpec(channels=spec.channels, controls=spec.controls, pooled=["slope", "slope"])  # type: ignore[arg-type]
    assert pooled.pooled == ("slope",)
    again = MMMSpec.from_dict(json.loads(json.dumps(pooled.to_dict())))
    assert again == pooled
    # specs saved before the option existed load without pooling
    old = pooled.to_dict()
    del old["pooled"]
    assert MMMSpec.from_dict(old).pooled == ()


@pytest.mark.parametrize(
    ("pooled", "priors", "match"),
    [
        (("roi",), {}, "only adstock or saturation parameters"),
        (("nope",), {}, "only adstock or saturation parameters"),
        (("theta",), {}, "needs LogNormal priors, got Beta"),
        (("slope",), {"slope": Prior("Gamma", {"alpha": 2, "beta": 2})}, "got Gamma"),
    ],
)
def test_pooled_rejects_what_it_cannot_pool(
    spec: MMMSpec, pooled: tuple[str, ...], priors: dict[str, Prior], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        MMMSpec(channels=spec.channels, priors=priors, pooled=pooled)


def test_pooled_model_keeps_names_and_each_channels_prior(spec: MMMSpec, data: MMMData) -> None:
    """The pooled ``slope`` is a deterministic over ``channel`` whose marginal prior has the
    location and (to Monte Carlo error) the spread of each channel's own log-normal prior."""
    mus = np.linspace(-0.5, 0.5, len(spec.channels))
    per_channel = {
        c: Prior("LogNormal", {"mu": m, "sigma": 0.4})
        for c, m in zip(spec.channels, mus, strict=True)
    }
    pooled = MMMSpec(
        channels=spec.channels,
        controls=spec.controls,
        priors={"slope": per_channel},
        pooled=("slope",),
    )
    model = build_model(data, pooled)
    free = {v.name for v in model.free_RVs}
    assert {"slope_shift", "slope_spread", "slope_z"} <= free
    assert "slope" not in free
    assert model.named_vars_to_dims["slope"] == ("channel",)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        prior = pm.sample_prior_predictive(
            draws=4000, model=model, var_names=["slope"], random_seed=3
        )
    log_slope = np.log(prior.prior["slope"].values.reshape(-1, len(spec.channels)))
    # mean mu_c; variance sigma**2 * (1/2 + E[spread**2]) = sigma**2 (se of a variance ~2.5%)
    np.testing.assert_allclose(log_slope.mean(axis=0), mus, atol=0.05)
    np.testing.assert_allclose(log_slope.std(axis=0), 0.4, rtol=0.08)
    # channels share the pooled shift: their log slopes are positively correlated a priori
    corr = np.corrcoef(log_slope.T)[np.triu_indices(len(spec.channels), 1)]
    assert corr.min() > 0.3


@settings(max_examples=20, deadline=None)
@given(st.lists(st.sampled_from(["theta", "peak", "half_saturation", "slope"]), max_size=4))
def test_pooled_validates_and_round_trips_any_subset(names: list[str]) -> None:
    lognormal = Prior("LogNormal", {"mu": 0.0, "sigma": 0.5})
    spec = MMMSpec(channels=("tv", "radio"), priors={"peak": lognormal})
    if "theta" in names:  # Beta prior: cannot be pooled
        with pytest.raises(ValueError, match="needs LogNormal"):
            replace(spec, pooled=tuple(names))
        return
    pooled = replace(spec, pooled=tuple(names))
    assert pooled.pooled_parameters == tuple(dict.fromkeys(names))
    assert MMMSpec.from_dict(json.loads(json.dumps(pooled.to_dict()))) == pooled


def test_geo_model_keeps_each_channels_own_prior() -> None:
    """Pooling is measured on the national model only; the geo model does not pool."""
    world = simulate_mmm(MMMWorldConfig(weeks=20, n_channels=5, regions=2), seed=1)
    panel = GeoPanel.from_frame(world.weekly_channel)
    spec = MMMSpec(channels=panel.channels)
    model = build_geo_model(GeoMMMData.from_panel(panel, spec), spec)
    free = {v.name for v in model.free_RVs}
    assert {"half_saturation", "slope"} <= free
    assert not any(name.endswith(("_shift", "_spread")) for name in free)
