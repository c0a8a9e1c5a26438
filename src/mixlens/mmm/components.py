"""Media transform components: adstock and saturation with their default priors.

Each component knows its PyTensor function (used by the model, and whose signature its
prior keys are checked against at construction, as PyMC-Marketing's
``Transformation._checks``) and its numpy twin from :mod:`mixlens.transforms` (used by the
results).
"""

from __future__ import annotations

import inspect
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar, Literal, TypeVar

import numpy as np
from numpy.typing import NDArray

from mixlens.mmm import pt_transforms
from mixlens.mmm.priors import FrozenMap, Prior
from mixlens.transforms.adstock import delayed_weights as np_delayed_weights
from mixlens.transforms.adstock import geometric_weights as np_geometric_weights
from mixlens.transforms.adstock import weibull_weights as np_weibull_weights
from mixlens.transforms.saturation import hill as np_hill
from mixlens.transforms.saturation import logistic_saturation as np_logistic_saturation

_T = TypeVar("_T", bound="_Transform")

__all__ = [
    "ADSTOCK_KINDS",
    "SATURATION_KINDS",
    "AdstockTransform",
    "DelayedAdstock",
    "GeometricAdstock",
    "HillSaturation",
    "LogisticSaturation",
    "SaturationTransform",
    "WeibullAdstock",
    "freeze_priors",
    "transform_from_dict",
]

_CONFIG_ARGS = frozenset({"x", "l_max", "normalize", "kind"})


def _function_parameters(function: Callable[..., Any]) -> tuple[str, ...]:
    """Names of the random parameters of a transform function (config arguments dropped)."""
    names = inspect.signature(function).parameters
    return tuple(name for name in names if name not in _CONFIG_ARGS)


def freeze_priors(priors: Mapping[str, Prior]) -> Mapping[str, Prior]:
    """Return ``priors`` as an immutable, hashable mapping; every value must be a Prior."""
    for key, prior in priors.items():
        if not isinstance(prior, Prior):
            raise TypeError(f"prior for {key!r} must be a Prior, got {type(prior).__name__}")
    return FrozenMap(priors)


@dataclass(frozen=True)
class _Transform(ABC):
    """Shared checks of adstock and saturation components.

    ``default_priors`` must name exactly the parameters of the component's PyTensor
    function (checked at construction, as PyMC-Marketing's ``Transformation._checks``);
    ``priors`` overrides some of them.
    """

    priors: Mapping[str, Prior] = field(default_factory=dict)

    kind_name: ClassVar[str] = ""
    default_priors: ClassVar[Mapping[str, Prior]] = MappingProxyType({})

    def __post_init__(self) -> None:
        params = self.parameters
        if set(self.default_priors) != set(params):
            raise TypeError(
                f"{type(self).__name__}.default_priors keys {sorted(self.default_priors)} "
                f"do not match its function's parameters {sorted(params)}"
            )
        unknown = sorted(set(self.priors) - set(params))
        if unknown:
            raise ValueError(
                f"{type(self).__name__} has no parameter {', '.join(map(repr, unknown))}; "
                f"its parameters are {', '.join(params)}"
            )
        object.__setattr__(self, "priors", freeze_priors(self.priors))

    @property
    @abstractmethod
    def function(self) -> Callable[..., Any]:
        """The PyTensor function the component applies (parameters checked against it)."""

    @property
    def parameters(self) -> tuple[str, ...]:
        """Names of the component's random parameters, in the function's order."""
        return _function_parameters(self.function)

    def prior(self, name: str) -> Prior:
        """Return the prior of parameter ``name`` (the override, else the default)."""
        return self.priors.get(name, self.default_priors[name])

    def _config(self) -> dict[str, Any]:
        return {}

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe description (``kind``, configuration and prior overrides)."""
        return {
            "kind": self.kind_name,
            **self._config(),
            "priors": {k: v.to_dict() for k, v in self.priors.items()},
        }


@dataclass(frozen=True)
class AdstockTransform(_Transform):
    """Base of adstock components: a kernel of ``l_max`` weekly lags.

    Parameters
    ----------
    l_max
        Kernel length in weeks, ``>= 1``.
    priors
        Overrides of :attr:`default_priors`, keyed by parameter.
    """

    l_max: int = 8

    def __post_init__(self) -> None:
        if isinstance(self.l_max, bool) or not isinstance(self.l_max, int) or self.l_max < 1:
            raise ValueError(f"l_max must be an integer >= 1, got {self.l_max!r}")
        super().__post_init__()

    def _config(self) -> dict[str, Any]:
        return {"l_max": self.l_max}

    def _kernel_options(self) -> dict[str, Any]:
        return {"l_max": self.l_max, "normalize": True}

    @property
    @abstractmethod
    def numpy_function(self) -> Callable[..., NDArray[np.float64]]:
        """The numpy twin of :attr:`function` (from :mod:`mixlens.transforms.adstock`)."""

    def pt_weights(self, params: Mapping[str, Any]) -> Any:
        """Symbolic kernel ``(l_max, *batch)`` for parameter tensors keyed by name."""
        return self.function(**params, **self._kernel_options())

    def np_weights(self, params: Mapping[str, NDArray[np.float64]]) -> NDArray[np.float64]:
        """Numeric kernel ``(l_max, *batch)`` for parameter arrays of shape ``batch``."""
        return self.numpy_function(**params, **self._kernel_options())


@dataclass(frozen=True)
class DelayedAdstock(AdstockTransform):
    """Delayed adstock ``theta**((l - peak)**2)``, normalized (Jin et al., 2017); the default.

    ``theta`` is the retention in (0, 1); ``peak`` the lag of the largest effect, in weeks.
    Default priors: ``theta`` Beta(2, 2); ``peak`` HalfNormal(1) (peak effect within about
    1.6 weeks at 90%).
    """

    kind_name: ClassVar[str] = "delayed"
    default_priors: ClassVar[Mapping[str, Prior]] = MappingProxyType(
        {
            "theta": Prior("Beta", {"alpha": 2.0, "beta": 2.0}),
            "peak": Prior("HalfNormal", {"sigma": 1.0}),
        }
    )

    @property
    def function(self) -> Callable[..., Any]:
        """The kernel function, :func:`mixlens.mmm.pt_transforms.delayed_weights`."""
        return pt_transforms.delayed_weights

    @property
    def numpy_function(self) -> Callable[..., NDArray[np.float64]]:
        """The numpy kernel, :func:`mixlens.transforms.delayed_weights`."""
        return np_delayed_weights


@dataclass(frozen=True)
class GeometricAdstock(AdstockTransform):
    """Geometric adstock ``alpha**l`` (normalized so that media totals are preserved)."""

    kind_name: ClassVar[str] = "geometric"
    default_priors: ClassVar[Mapping[str, Prior]] = MappingProxyType(
        {"alpha": Prior("Beta", {"alpha": 1.0, "beta": 3.0})}
    )

    @property
    def function(self) -> Callable[..., Any]:
        """The kernel function, :func:`mixlens.mmm.pt_transforms.geometric_weights`."""
        return pt_transforms.geometric_weights

    @property
    def numpy_function(self) -> Callable[..., NDArray[np.float64]]:
        """The numpy kernel, :func:`mixlens.transforms.geometric_weights`."""
        return np_geometric_weights


@dataclass(frozen=True)
class WeibullAdstock(AdstockTransform):
    """Weibull adstock (normalized); ``scale`` in weeks, ``kind`` ``"pdf"`` or ``"cdf"``."""

    kind: Literal["pdf", "cdf"] = "pdf"

    kind_name: ClassVar[str] = "weibull"
    default_priors: ClassVar[Mapping[str, Prior]] = MappingProxyType(
        {
            "shape": Prior("Gamma", {"alpha": 3.0, "beta": 2.0}),
            "scale": Prior("Gamma", {"alpha": 2.0, "beta": 1.0}),
        }
    )

    def __post_init__(self) -> None:
        if self.kind not in ("pdf", "cdf"):
            raise ValueError(f"kind must be 'pdf' or 'cdf', got {self.kind!r}")
        super().__post_init__()

    def _config(self) -> dict[str, Any]:
        return {"l_max": self.l_max, "weibull_kind": self.kind}

    def _kernel_options(self) -> dict[str, Any]:
        return {"l_max": self.l_max, "normalize": True, "kind": self.kind}

    @property
    def function(self) -> Callable[..., Any]:
        """The kernel function, :func:`mixlens.mmm.pt_transforms.weibull_weights`."""
        return pt_transforms.weibull_weights

    @property
    def numpy_function(self) -> Callable[..., NDArray[np.float64]]:
        """The numpy kernel, :func:`mixlens.transforms.weibull_weights`."""
        return np_weibull_weights


@dataclass(frozen=True)
class SaturationTransform(_Transform):
    """Base of saturation components: a curve from scaled adstocked media to ``[0, 1)``.

    Parameters
    ----------
    priors
        Overrides of :attr:`default_priors`, keyed by parameter.
    """

    #: Power of the media scale each parameter carries (to report it in spend units).
    media_power: ClassVar[Mapping[str, int]] = MappingProxyType({})

    @property
    @abstractmethod
    def numpy_function(self) -> Callable[..., NDArray[np.float64]]:
        """The numpy twin of :attr:`function` (from :mod:`mixlens.transforms.saturation`)."""

    def pt_apply(self, x: Any, params: Mapping[str, Any]) -> Any:
        """Symbolic response to scaled adstocked media ``x``."""
        return self.function(x, **params)

    def np_apply(
        self, x: NDArray[np.float64], params: Mapping[str, NDArray[np.float64]]
    ) -> NDArray[np.float64]:
        """Numeric response to scaled adstocked media ``x`` (parameters broadcast with it)."""
        return self.numpy_function(x, **params)

    @abstractmethod
    def np_elasticity(
        self, x: NDArray[np.float64], params: Mapping[str, NDArray[np.float64]]
    ) -> NDArray[np.float64]:
        """``x * f'(x)``: the response's change per unit relative change of media."""


@dataclass(frozen=True)
class HillSaturation(SaturationTransform):
    """Hill curve ``x**slope / (x**slope + half_saturation**slope)``; the default.

    ``half_saturation`` is in multiples of the channel's typical weekly spend (the
    mean over weeks with spend), which a normalized adstock preserves; ``slope`` is
    dimensionless. Default priors: ``half_saturation`` LogNormal(0, 0.5) (half
    saturation between about 0.45 and 2.3 typical weeks at 90%); ``slope`` LogNormal(0,
    0.5), centred on Meridian's fixed slope of 1 (concave) while allowing S-shapes up
    to about 2.3.
    """

    kind_name: ClassVar[str] = "hill"
    default_priors: ClassVar[Mapping[str, Prior]] = MappingProxyType(
        {
            "half_saturation": Prior("LogNormal", {"mu": 0.0, "sigma": 0.5}),
            "slope": Prior("LogNormal", {"mu": 0.0, "sigma": 0.5}),
        }
    )
    media_power: ClassVar[Mapping[str, int]] = MappingProxyType({"half_saturation": 1})

    @property
    def function(self) -> Callable[..., Any]:
        """The curve, :func:`mixlens.mmm.pt_transforms.hill`."""
        return pt_transforms.hill

    @property
    def numpy_function(self) -> Callable[..., NDArray[np.float64]]:
        """The numpy curve, :func:`mixlens.transforms.hill`."""
        return np_hill

    def np_elasticity(
        self, x: NDArray[np.float64], params: Mapping[str, NDArray[np.float64]]
    ) -> NDArray[np.float64]:
        """``x * hill'(x) = slope * h * (1 - h)`` (finite at ``x = 0``)."""
        h = self.np_apply(x, params)
        out: NDArray[np.float64] = params["slope"] * h * (1.0 - h)
        return out


@dataclass(frozen=True)
class LogisticSaturation(SaturationTransform):
    """Logistic curve ``tanh(lam * x / 2)`` (PyMC-Marketing's); ``lam`` per scaled media.

    The curve reaches half its maximum at ``x = ln(3) / lam`` typical weeks of spend. Default
    prior: ``lam`` LogNormal(ln(ln 3), 0.5), i.e. that half point LogNormal(0, 0.5), the
    same belief as :class:`HillSaturation`'s ``half_saturation`` prior (half effect at
    about 0.45 to 2.3 typical weeks at 90%), and log-normal so that it is partially pooled
    across channels like Hill's (:attr:`MMMSpec.pooled`). PyMC-Marketing's Gamma(3, 1) is
    set for media scaled by its maximum; on media scaled by its mean, as here, it put a
    typical week at 90% of saturation (``tanh(1.5)``), and ROI recovery on the simulator's
    mixed-transform worlds was worse for it (``mmm_transforms`` in benchmarks/RESULTS.md).
    """

    kind_name: ClassVar[str] = "logistic"
    default_priors: ClassVar[Mapping[str, Prior]] = MappingProxyType(
        {"lam": Prior("LogNormal", {"mu": math.log(math.log(3.0)), "sigma": 0.5})}
    )
    media_power: ClassVar[Mapping[str, int]] = MappingProxyType({"lam": -1})

    @property
    def function(self) -> Callable[..., Any]:
        """The curve, :func:`mixlens.mmm.pt_transforms.logistic_saturation`."""
        return pt_transforms.logistic_saturation

    @property
    def numpy_function(self) -> Callable[..., NDArray[np.float64]]:
        """The numpy curve, :func:`mixlens.transforms.logistic_saturation`."""
        return np_logistic_saturation

    def np_elasticity(
        self, x: NDArray[np.float64], params: Mapping[str, NDArray[np.float64]]
    ) -> NDArray[np.float64]:
        """``x * f'(x) = (lam x / 2) * (1 - tanh(lam x / 2)**2)``."""
        u = 0.5 * params["lam"] * x
        out: NDArray[np.float64] = u * (1.0 - np.tanh(u) ** 2)
        return out


ADSTOCK_KINDS: dict[str, type[AdstockTransform]] = {
    cls.kind_name: cls for cls in (DelayedAdstock, GeometricAdstock, WeibullAdstock)
}
SATURATION_KINDS: dict[str, type[SaturationTransform]] = {
    cls.kind_name: cls for cls in (HillSaturation, LogisticSaturation)
}


def transform_from_dict(data: Mapping[str, Any], registry: Mapping[str, type[_T]]) -> _T:
    """Rebuild a component from its ``to_dict`` form, looking its ``kind`` up in ``registry``."""
    cls = registry.get(str(data["kind"]))
    if cls is None:
        raise ValueError(f"unknown transform kind {data['kind']!r}; use one of {sorted(registry)}")
    kwargs: dict[str, Any] = {
        "priors": {k: Prior.from_dict(v) for k, v in data.get("priors", {}).items()}
    }
    if "l_max" in data:
        kwargs["l_max"] = int(data["l_max"])
    if "weibull_kind" in data:
        kwargs["kind"] = str(data["weibull_kind"])
    return cls(**kwargs)
