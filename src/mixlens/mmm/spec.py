"""The MMM specification as data: which channels, terms, transforms and priors to fit.

:class:`MMMSpec` is a frozen, typed dataclass that round-trips through JSON
(``to_dict`` / ``from_dict``); priors live in :mod:`mixlens.mmm.priors`, the media
transform components in :mod:`mixlens.mmm.components` (both re-exported here).

Scales the default priors assume (the model rescales the data so they hold for data
in any units):

* the outcome is divided by its mean, so ``intercept``, ``beta`` and the other
  coefficients are fractions of mean weekly outcome;
* ``roi`` (the default parameterisation of each channel's effect, Meridian-style) is
  measured in units of the panel's *reference ROI* ``sum(outcome) / sum(spend)``, the ROI
  every channel would have if all of the outcome came from media; the posterior and the
  results report it back in the data's own units (see :attr:`MMMSpec.roi_reference`);
* each channel's media (its spend, or its impressions or clicks converted to spend at the
  channel's cost per unit over the fitted weeks, see :attr:`MMMSpec.media_input`) is divided
  by its mean over weeks with media, so ``half_saturation`` is in multiples of a typical
  week's (adstocked) media;
* controls are standardized (mean 0, standard deviation 1).

Examples
--------
>>> spec = MMMSpec(channels=("tv", "search"), priors={"theta": {"tv": Prior("Beta", {"alpha": 4, "beta": 2})}})
>>> spec.channel_prior("theta", "tv").params["alpha"]
4.0
>>> spec.channel_prior("theta", "search") == DelayedAdstock.default_priors["theta"]
True
>>> MMMSpec.from_dict(spec.to_dict()) == spec
True
"""  # noqa: E501

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any, Literal, TypeAlias, TypeVar

from mixlens.mmm.channel_transforms import ChannelAdstocks, ChannelSaturations
from mixlens.mmm.components import (
    ADSTOCK_KINDS,
    SATURATION_KINDS,
    AdstockTransform,
    DelayedAdstock,
    GeometricAdstock,
    HillSaturation,
    LogisticSaturation,
    SaturationTransform,
    WeibullAdstock,
    _Transform,
    freeze_priors,
    transform_from_dict,
)
from mixlens.mmm.knots import TimeKnots, check_time_knots
from mixlens.mmm.priors import FrozenMap, Prior

__all__ = [
    "EFFECT_PRIORS",
    "MEDIA_INPUTS",
    "MODEL_PRIORS",
    "AdstockTransform",
    "DelayedAdstock",
    "FrozenMap",
    "GeometricAdstock",
    "HillSaturation",
    "LogisticSaturation",
    "MMMSpec",
    "MediaInput",
    "MediaInputSetting",
    "Parameterization",
    "Prior",
    "PriorOverrides",
    "SaturationTransform",
    "WeibullAdstock",
]

# --------------------------------------------------------------------------- model spec


def _pooled_from_json(value: Any) -> tuple[str, ...] | Literal["auto"]:
    return "auto" if value == "auto" else tuple(str(v) for v in value)


_Component = TypeVar("_Component", AdstockTransform, SaturationTransform)


def _transforms_to_json(
    value: _Transform | Mapping[str, _Transform],
    channels: Sequence[str],
    each: Sequence[_Transform],
) -> dict[str, Any]:
    """One transform's dict, or ``{channel: dict}`` for every channel if chosen per channel.

    ``each`` holds the transform of each of ``channels``.
    """
    if isinstance(value, _Transform):
        return value.to_dict()
    return {c: transform.to_dict() for c, transform in zip(channels, each, strict=True)}


def _transforms_from_json(
    data: Mapping[str, Any], registry: Mapping[str, type[_Component]]
) -> _Component | Mapping[str, _Component]:
    """Inverse of :func:`_transforms_to_json`."""
    if "kind" in data:
        return transform_from_dict(data, registry)
    return {str(channel): transform_from_dict(value, registry) for channel, value in data.items()}


#: Priors of the non-media parameters (outcome scaled by its mean, controls standardized).
MODEL_PRIORS: Mapping[str, Prior] = MappingProxyType(
    {
        "intercept": Prior("Normal", {"mu": 0.5, "sigma": 0.5}),
        "trend": Prior("Normal", {"mu": 0.0, "sigma": 0.2}),
        "fourier": Prior("Normal", {"mu": 0.0, "sigma": 0.1}),
        "holiday": Prior("Normal", {"mu": 0.0, "sigma": 0.1}),
        "control": Prior("Normal", {"mu": 0.0, "sigma": 0.1}),
        "sigma": Prior("HalfNormal", {"sigma": 0.1}),
        # time-varying baseline: standard deviation of its random walk over one year
        "knot_drift": Prior("HalfNormal", {"sigma": 0.3}),
    }
)

#: Default priors of each parameterisation's per-channel effect parameter.
#:
#: * ``roi``: ROI relative to the reference ROI ``sum(outcome) / sum(spend)``; median 0.2
#:   (if every channel had it, media would drive a fifth of the outcome, the middle of the
#:   10-40% usual for paid media) and a factor of about 5 either way at 90%, so it is weakly
#:   informative and unit-free. Set :attr:`MMMSpec.roi_reference` to 1.0 to give ROI
#:   priors in the data's own units instead (Meridian's convention).
#: * ``beta``: the largest weekly contribution (at saturation), as a fraction of the mean
#:   weekly outcome.
EFFECT_PRIORS: Mapping[str, Prior] = MappingProxyType(
    {
        "roi": Prior("LogNormal", {"mu": math.log(0.2), "sigma": 1.0}),
        "beta": Prior("HalfNormal", {"sigma": 0.5}),
    }
)

Parameterization: TypeAlias = Literal["roi", "beta"]

MediaInput: TypeAlias = Literal["spend", "impressions", "clicks"]
"""The panel column a channel's media series comes from (``{channel}_{input}``)."""

MediaInputSetting: TypeAlias = Literal["spend", "impressions", "clicks", "auto"]
"""A channel's media input as set in a spec; ``"auto"`` is resolved on the panel."""

#: The media inputs a channel can be modelled on, and the settings a spec accepts.
MEDIA_INPUTS: tuple[MediaInput, ...] = ("spend", "impressions", "clicks")
_MEDIA_SETTINGS: tuple[MediaInputSetting, ...] = (*MEDIA_INPUTS, "auto")

PriorOverrides: TypeAlias = Mapping[str, Prior | Mapping[str, Prior]]
"""Prior overrides keyed by parameter; a channel parameter may map channel -> Prior."""


@dataclass(frozen=True)
class MMMSpec:
    """What the MMM fits: channels, target, controls, transforms, baseline terms and priors.

    Parameters
    ----------
    channels
        Channel names; the panel has a ``{channel}_spend`` column for each.
    target
        Outcome column.
    controls
        Control columns (standardized in the model; linear effects).
    adstock, saturation
        Media transforms: one for every channel (its parameters are per channel), or
        ``{channel: transform}`` to choose them per channel (channels left out get the
        defaults, :class:`DelayedAdstock` and :class:`HillSaturation`). Channels with the
        same kind of transform must share its configuration (``l_max``, options, prior
        overrides); give per-channel priors through ``priors``. See
        :mod:`mixlens.mmm.channel_transforms` and :attr:`adstocks`, :attr:`saturations`.
    yearly_fourier
        Number of yearly Fourier pairs (sin, cos) in the baseline; 0 for none.
    trend
        Whether the baseline has a linear trend.
    holidays
        Whether the baseline has weekly holiday indicators (:mod:`mixlens.data.calendar`).
    priors
        Overrides keyed by parameter name: a :class:`Prior` for every channel (or for a
        model parameter, see :data:`MODEL_PRIORS`), or ``{channel: Prior}`` for some
        channels of a channel parameter. A parameter's priors must share one family.
    parameterization
        How each channel's effect size is parameterised: ``"roi"`` (the default; a prior
        on the channel's ROI over the window, Meridian-style; the Hill or logistic
        coefficient follows from it, which decouples effect size from curve shape and
        removes the divergences of the ``beta`` form) or ``"beta"`` (a prior on the
        saturation coefficient, PyMC-Marketing-style).
    roi_reference
        Unit of the ``roi`` prior, in outcome units per spend unit: ``None`` (default)
        uses the panel's ``sum(outcome) / sum(spend)`` so that default priors are
        unit-free; ``1.0`` makes ``roi`` priors plain ROIs in the data's own units.
    time_knots
        Time-varying baseline (Meridian-style knots, on top of the trend): ``0`` for none,
        ``N >= 2`` for a piecewise-linear curve through ``N`` knots spread evenly over the
        weeks (a random walk across knots whose step scale, prior ``knot_drift``, is
        learned; shared by the geos of a geo model), or ``"auto"`` (default): one knot per
        week on a geo panel (Meridian's geo default), none on a national panel (see
        :mod:`mixlens.mmm.knots`). The geo model leaves out the shared time terms the
        knots span (the trend under any knots; trend, seasonality and holidays under one
        knot per week) and reports them, see :func:`mixlens.mmm.geo_data.identified_spec`.
    media_input
        The series each channel's adstock and saturation act on: ``"spend"`` (default),
        ``"impressions"`` or ``"clicks"`` (the panel's ``{channel}_impressions`` or
        ``{channel}_clicks`` column, Meridian-style), or ``"auto"`` (impressions where the
        panel has a complete impressions column with a positive total, else spend); one
        setting for every channel or ``{channel: setting}`` (channels left out use
        ``"spend"``). Whatever the input, ROI, marginal ROI, response curves and
        ``half_saturation`` stay in spend units: impressions or clicks are converted to
        spend at the channel's cost per unit over the fitted weeks (total spend / total
        units), see :class:`mixlens.mmm.data.MMMData`.
    pooled
        Adstock or saturation parameters whose per-channel log-normal priors are
        partially pooled across channels: with channel ``c``'s prior
        ``LogNormal(mu_c, sigma_c)``, ``log p_c = mu_c + sigma_c * (shift + spread * z_c)``
        with ``shift ~ Normal(0, 1/sqrt(2))``, ``spread ~ HalfNormal(1/sqrt(2))`` and
        ``z_c ~ Normal(0, 1)``, so each channel's marginal prior keeps its own variance
        (``sigma_c**2``) while weakly identified channels borrow the common shift from the
        channels the data pin down. ``"auto"`` (default) pools the saturation's parameters
        whose priors are log-normal for every channel that has them (Hill:
        ``half_saturation`` and ``slope``; logistic: ``lam``), each over its own channels;
        ``()`` pools none (measured in ``benchmarks/RESULTS.md``, ``mmm_variants`` and
        ``mmm_transforms``). It applies to the national model; the geo model keeps each
        channel's own prior (pooling is not measured there).

    Raises
    ------
    ValueError
        On empty or duplicate channels, unknown prior keys or channels, or mixed families.
    """

    channels: tuple[str, ...]
    target: str = "sales"
    controls: tuple[str, ...] = ()
    adstock: AdstockTransform | Mapping[str, AdstockTransform] = field(
        default_factory=DelayedAdstock
    )
    saturation: SaturationTransform | Mapping[str, SaturationTransform] = field(
        default_factory=HillSaturation
    )
    yearly_fourier: int = 2
    trend: bool = True
    holidays: bool = True
    priors: PriorOverrides = field(default_factory=dict)
    parameterization: Parameterization = "roi"
    roi_reference: float | None = None
    time_knots: TimeKnots = "auto"
    media_input: MediaInputSetting | Mapping[str, MediaInputSetting] = "spend"
    pooled: tuple[str, ...] | Literal["auto"] = "auto"

    def __post_init__(self) -> None:
        object.__setattr__(self, "time_knots", check_time_knots(self.time_knots))
        object.__setattr__(self, "channels", tuple(str(c) for c in self.channels))
        object.__setattr__(self, "media_input", self._check_media_input(self.media_input))
        if self.parameterization not in EFFECT_PRIORS:
            raise ValueError(
                f"parameterization must be 'roi' or 'beta', got {self.parameterization!r}"
            )
        if self.roi_reference is not None:
            reference = float(self.roi_reference)
            if not (math.isfinite(reference) and reference > 0):
                raise ValueError(f"roi_reference must be positive, got {self.roi_reference}")
            object.__setattr__(self, "roi_reference", reference)
        object.__setattr__(self, "controls", tuple(str(c) for c in self.controls))
        if not self.channels:
            raise ValueError("an MMM needs at least one channel")
        object.__setattr__(
            self,
            "adstock",
            self._check_transforms(self.adstock, AdstockTransform, DelayedAdstock()),
        )
        object.__setattr__(
            self,
            "saturation",
            self._check_transforms(self.saturation, SaturationTransform, HillSaturation()),
        )
        _ = self.adstocks, self.saturations  # one configuration per kind (raises otherwise)
        for label, names in (("channel", self.channels), ("control", self.controls)):
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"duplicate {label} names: {', '.join(dupes)}")
        if self.target in self.controls:
            raise ValueError(f"target {self.target!r} cannot also be a control")
        if self.yearly_fourier < 0:
            raise ValueError(f"yearly_fourier must be >= 0, got {self.yearly_fourier}")
        frozen: dict[str, Prior | Mapping[str, Prior]] = {}
        for key, value in self.priors.items():
            frozen[key] = self._check_override(key, value)
        object.__setattr__(self, "priors", FrozenMap(frozen))
        for name in self.channel_parameters:
            families = {self.channel_prior(name, c).dist for c in self.channels_with(name)}
            if len(families) > 1:
                raise ValueError(
                    f"priors of {name!r} mix families {sorted(families)}; "
                    "use one family per parameter (per-channel parameters may differ)"
                )
        pooled = self._check_pooled(self.pooled)  # raises on what cannot be pooled
        object.__setattr__(self, "pooled", "auto" if self.pooled == "auto" else pooled)

    def _check_pooled(self, names: tuple[str, ...] | Literal["auto"]) -> tuple[str, ...]:
        if names == "auto":
            return tuple(
                name
                for name in self.saturations.parameters
                if all(
                    self.channel_prior(name, c).dist == "LogNormal"
                    for c in self.channels_with(name)
                )
            )
        pooled = tuple(dict.fromkeys(str(n) for n in names))
        shapes = (*self.adstocks.parameters, *self.saturations.parameters)
        for name in pooled:
            if name not in shapes:
                raise ValueError(
                    f"only adstock or saturation parameters can be pooled "
                    f"({', '.join(shapes)}), got {name!r}"
                )
            family = self.channel_prior(name, self.channels_with(name)[0]).dist
            if family != "LogNormal":
                raise ValueError(f"pooling {name!r} needs LogNormal priors, got {family}")
        return pooled

    def _check_transforms(
        self,
        value: _Component | Mapping[str, _Component],
        family: type[_Component],
        default: _Component,
    ) -> _Component | Mapping[str, _Component]:
        """Check a transform setting.

        A mapping comes back over every channel (``default`` filled in), so that equal
        settings compare equal.
        """
        label = family.__name__.removesuffix("Transform").lower()
        if isinstance(value, family):
            return value
        if isinstance(value, _Transform) or not isinstance(value, Mapping):
            raise TypeError(
                f"{label} must be a {family.__name__} or a mapping channel -> "
                f"{family.__name__}, got {type(value).__name__}"
            )
        unknown = sorted(set(value) - set(self.channels))
        if unknown:
            raise ValueError(f"{label} names unknown channels {', '.join(map(str, unknown))}")
        for channel, transform in value.items():
            if not isinstance(transform, family):
                raise TypeError(
                    f"{label} of {channel!r} must be a {family.__name__}, "
                    f"got {type(transform).__name__}"
                )
        return FrozenMap({c: value.get(c, default) for c in self.channels})

    @cached_property
    def adstocks(self) -> ChannelAdstocks:
        """Each channel's adstock, grouped by kind (:mod:`mixlens.mmm.channel_transforms`)."""
        chosen = self.adstock
        return ChannelAdstocks(
            self.channels,
            tuple(
                chosen if isinstance(chosen, AdstockTransform) else chosen[c] for c in self.channels
            ),
        )

    @cached_property
    def saturations(self) -> ChannelSaturations:
        """Each channel's saturation, grouped by kind (:mod:`mixlens.mmm.channel_transforms`)."""
        chosen = self.saturation
        return ChannelSaturations(
            self.channels,
            tuple(
                chosen if isinstance(chosen, SaturationTransform) else chosen[c]
                for c in self.channels
            ),
        )

    @property
    def pooled_parameters(self) -> tuple[str, ...]:
        """The channel parameters whose priors are partially pooled (:attr:`pooled`, resolved)."""
        return self._check_pooled(self.pooled)

    def _check_media_input(
        self, value: MediaInputSetting | Mapping[str, MediaInputSetting]
    ) -> MediaInputSetting | Mapping[str, MediaInputSetting]:
        settings = ", ".join(repr(s) for s in _MEDIA_SETTINGS)
        if isinstance(value, str):
            if value not in _MEDIA_SETTINGS:
                raise ValueError(f"media_input must be one of {settings}, got {value!r}")
            return value
        unknown = sorted(set(value) - set(self.channels))
        if unknown:
            raise ValueError(f"media_input names unknown channels {', '.join(unknown)}")
        bad = {str(c): v for c, v in value.items() if v not in _MEDIA_SETTINGS}
        if bad:
            raise ValueError(f"media_input must be one of {settings}, got {bad}")
        return FrozenMap({str(c): value[c] for c in self.channels if c in value})

    def channel_media_input(self, channel: str) -> MediaInputSetting:
        """Return ``channel``'s media input setting (``"auto"`` is resolved on the panel).

        Raises
        ------
        KeyError
            If ``channel`` is not in the spec.
        """
        if channel not in self.channels:
            raise KeyError(f"unknown channel {channel!r}")
        if isinstance(self.media_input, str):
            return self.media_input
        return self.media_input.get(channel, "spend")

    def _check_override(
        self, key: str, value: Prior | Mapping[str, Prior]
    ) -> Prior | Mapping[str, Prior]:
        if key not in self.channel_parameters and key not in MODEL_PRIORS:
            known = sorted({*self.channel_parameters, *MODEL_PRIORS})
            hint = ""
            if key in EFFECT_PRIORS:
                hint = f" ({key!r} needs parameterization={key!r})"
            raise ValueError(
                f"no parameter {key!r} to set a prior on{hint}; known: {', '.join(known)}"
            )
        if isinstance(value, Prior):
            return value
        if key not in self.channel_parameters:
            raise ValueError(f"{key!r} is not a channel parameter; give one Prior, not a mapping")
        unknown = sorted(set(value) - set(self.channels))
        if unknown:
            raise ValueError(f"prior for {key!r} names unknown channels {', '.join(unknown)}")
        without = sorted(set(value) - set(self.channels_with(key)))
        if without:
            raise ValueError(
                f"prior for {key!r} names channels without that parameter: {', '.join(without)}"
            )
        return freeze_priors(value)

    @property
    def channel_parameters(self) -> tuple[str, ...]:
        """Per-channel parameters: the adstocks', the saturations' and the effect size's.

        The effect size is ``roi`` or ``beta``, by :attr:`parameterization`. With
        transforms chosen per channel, a shape parameter belongs to the channels of its
        transform only (:meth:`channels_with`).
        """
        return (*self.adstocks.parameters, *self.saturations.parameters, self.parameterization)

    def channels_with(self, name: str) -> tuple[str, ...]:
        """Return the channels that have channel parameter ``name`` (all for the effect)."""
        for family in (self.adstocks, self.saturations):
            if name in family.parameters:
                return family.channels_of(name)
        if name in EFFECT_PRIORS:  # roi and beta: every channel has both (one is derived)
            return self.channels
        raise KeyError(f"{name!r} is not a channel parameter")

    def channel_prior(self, name: str, channel: str) -> Prior:
        """Return the prior of channel parameter ``name`` for ``channel``.

        Precedence: a per-channel override, then a spec-wide override, then the
        component's own ``priors``, then its ``default_priors`` (or :data:`MODEL_PRIORS`).
        """
        if channel not in self.channels_with(name):  # raises KeyError on unknown names
            raise KeyError(f"channel {channel!r} has no parameter {name!r}")
        override = self.priors.get(name)
        if isinstance(override, Prior):
            return override
        if override is not None and channel in override:
            return override[channel]
        for family in (self.adstocks, self.saturations):
            if name in family.parameters:
                return family.transform_of(channel).prior(name)
        return EFFECT_PRIORS[name]

    def model_prior(self, name: str) -> Prior:
        """Return the prior of a non-channel parameter (see :data:`MODEL_PRIORS`)."""
        override = self.priors.get(name)
        if isinstance(override, Prior):
            return override
        return MODEL_PRIORS[name]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe description; :meth:`from_dict` restores an equal spec."""
        priors: dict[str, Any] = {}
        for key, value in self.priors.items():
            if isinstance(value, Prior):
                priors[key] = value.to_dict()
            else:
                priors[key] = {ch: p.to_dict() for ch, p in value.items()}
        return {
            "channels": list(self.channels),
            "target": self.target,
            "controls": list(self.controls),
            "adstock": _transforms_to_json(self.adstock, self.channels, self.adstocks.transforms),
            "saturation": _transforms_to_json(
                self.saturation, self.channels, self.saturations.transforms
            ),
            "yearly_fourier": self.yearly_fourier,
            "trend": self.trend,
            "holidays": self.holidays,
            "priors": priors,
            "parameterization": self.parameterization,
            "roi_reference": self.roi_reference,
            "time_knots": self.time_knots,
            "media_input": (
                self.media_input if isinstance(self.media_input, str) else dict(self.media_input)
            ),
            "pooled": self.pooled if self.pooled == "auto" else list(self.pooled),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MMMSpec:
        """Inverse of :meth:`to_dict`."""
        priors: dict[str, Prior | Mapping[str, Prior]] = {}
        for key, value in data.get("priors", {}).items():
            if "dist" in value:
                priors[key] = Prior.from_dict(value)
            else:
                priors[key] = {ch: Prior.from_dict(p) for ch, p in value.items()}
        return cls(
            channels=tuple(data["channels"]),
            target=str(data.get("target", "sales")),
            controls=tuple(data.get("controls", ())),
            adstock=_transforms_from_json(data.get("adstock", {"kind": "delayed"}), ADSTOCK_KINDS),
            saturation=_transforms_from_json(
                data.get("saturation", {"kind": "hill"}), SATURATION_KINDS
            ),
            yearly_fourier=int(data.get("yearly_fourier", 2)),
            trend=bool(data.get("trend", True)),
            holidays=bool(data.get("holidays", True)),
            priors=priors,
            # specs saved before the ROI parameterisation existed were fitted with beta
            parameterization=data.get("parameterization", "beta"),
            roi_reference=data.get("roi_reference"),
            # specs saved before the time-varying baseline existed had none
            time_knots=data.get("time_knots", 0),
            # specs saved before the media input existed modelled spend
            media_input=data.get("media_input", "spend"),
            # specs saved before pooled shape priors existed had none
            pooled=_pooled_from_json(data.get("pooled", ())),
        )
