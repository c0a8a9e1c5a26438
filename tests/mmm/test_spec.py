from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar

import pytest

from mixlens.mmm import pt_transforms
from mixlens.mmm.spec import (
    EFFECT_PRIORS,
    MODEL_PRIORS,
    DelayedAdstock,
    GeometricAdstock,
    HillSaturation,
    LogisticSaturation,
    MMMSpec,
    Prior,
    WeibullAdstock,
)


def test_prior_validates_family_and_params() -> None:
    with pytest.raises(ValueError, match="unknown prior distribution"):
        Prior("Cauchyish", {"mu": 0})
    with pytest.raises(ValueError, match="has no parameter 'mu'"):
        Prior("HalfNormal", {"mu": 0, "sigma": 1})
    with pytest.raises(ValueError, match="finite"):
        Prior("Normal", {"mu": float("nan"), "sigma": 1})
    p = Prior("Beta", {"alpha": 2, "beta": 3})
    assert Prior.from_dict(json.loads(json.dumps(p.to_dict()))) == p
    assert hash(p) == hash(Prior("Beta", {"beta": 3.0, "alpha": 2.0}))


@pytest.mark.parametrize(
    ("component", "params"),
    [
        (DelayedAdstock(), ("theta", "peak")),
        (GeometricAdstock(), ("alpha",)),
        (WeibullAdstock(), ("shape", "scale")),
        (HillSaturation(), ("half_saturation", "slope")),
        (LogisticSaturation(), ("lam",)),
    ],
)
def test_components_know_their_function_parameters(component: Any, params: tuple[str, ...]) -> None:
    assert component.parameters == params
    assert set(component.default_priors) == set(params)


def test_default_priors_must_match_function_signature() -> None:
    @dataclass(frozen=True)
    class Broken(GeometricAdstock):
        default_priors: ClassVar[Mapping[str, Prior]] = MappingProxyType(
            {"decay": Prior("Beta", {"alpha": 1, "beta": 3})}
        )

        @property
        def function(self) -> Callable[..., Any]:
            return pt_transforms.geometric_weights

    with pytest.raises(TypeError, match="do not match"):
        Broken()


def test_component_prior_overrides_are_checked() -> None:
    with pytest.raises(ValueError, match="no parameter 'alpha'"):
        DelayedAdstock(priors={"alpha": Prior("Beta", {"alpha": 1, "beta": 1})})
    with pytest.raises(ValueError, match="l_max"):
        DelayedAdstock(l_max=0)
    custom = DelayedAdstock(l_max=4, priors={"theta": Prior("Beta", {"alpha": 5, "beta": 1})})
    assert custom.prior("theta").params["alpha"] == 5.0
    assert custom.prior("peak") == DelayedAdstock.default_priors["peak"]


def test_spec_priors_are_keyed_by_parameter_and_channel() -> None:
    tv = Prior("Beta", {"alpha": 6, "beta": 2})
    spec = MMMSpec(
        channels=("tv", "search"),
        priors={"theta": {"tv": tv}, "roi": {"tv": Prior("LogNormal", {"mu": 0, "sigma": 0.3})}},
    )
    assert spec.channel_prior("theta", "tv") == tv
    assert spec.channel_prior("theta", "search") == DelayedAdstock.default_priors["theta"]
    assert spec.channel_prior("roi", "tv").params["sigma"] == 0.3
    assert spec.channel_prior("roi", "search") == EFFECT_PRIORS["roi"]
    assert spec.model_prior("sigma") == MODEL_PRIORS["sigma"]
    assert spec.channel_parameters == ("theta", "peak", "half_saturation", "slope", "roi")
    beta = MMMSpec(
        channels=("tv",),
        parameterization="beta",
        priors={"beta": Prior("HalfNormal", {"sigma": 0.2})},
    )
    assert beta.channel_parameters[-1] == "beta"
    assert beta.channel_prior("beta", "tv").params["sigma"] == 0.2
    with pytest.raises(ValueError, match="needs parameterization='beta'"):
        MMMSpec(channels=("tv",), priors={"beta": Prior("HalfNormal", {"sigma": 0.2})})
    with pytest.raises(ValueError, match="parameterization"):
        MMMSpec(channels=("tv",), parameterization="share")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="roi_reference"):
        MMMSpec(channels=("tv",), roi_reference=0.0)


@pytest.mark.parametrize(
    ("priors", "match"),
    [
        ({"tv_S_thetas": Prior("Beta", {"alpha": 1, "beta": 1})}, "no parameter 'tv_S_thetas'"),
        ({"theta": {"radio": Prior("Beta", {"alpha": 1, "beta": 1})}}, "unknown channels radio"),
        ({"sigma": {"tv": Prior("HalfNormal", {"sigma": 1})}}, "not a channel parameter"),
        ({"theta": {"tv": Prior("Uniform", {"lower": 0, "upper": 1})}}, "mix families"),
        ({"alpha": Prior("Beta", {"alpha": 1, "beta": 1})}, "no parameter 'alpha'"),
    ],
)
def test_spec_rejects_bad_priors(priors: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        MMMSpec(channels=("tv", "search"), priors=priors)


def test_spec_rejects_bad_channels_and_controls() -> None:
    with pytest.raises(ValueError, match="at least one channel"):
        MMMSpec(channels=())
    with pytest.raises(ValueError, match="duplicate channel"):
        MMMSpec(channels=("tv", "tv"))
    with pytest.raises(ValueError, match="cannot also be a control"):
        MMMSpec(channels=("tv",), controls=("sales",))


def test_spec_round_trips_through_json() -> None:
    spec = MMMSpec(
        channels=("tv", "search"),
        controls=("price",),
        adstock=WeibullAdstock(l_max=6, kind="cdf"),
        saturation=LogisticSaturation(priors={"lam": Prior("Gamma", {"alpha": 2, "beta": 1})}),
        yearly_fourier=3,
        trend=False,
        priors={"scale": {"tv": Prior("Gamma", {"alpha": 3, "beta": 1})}},
        roi_reference=1.0,
    )
    back = MMMSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert back == spec
    assert hash(back) == hash(spec)
    assert back.adstock == WeibullAdstock(l_max=6, kind="cdf")
