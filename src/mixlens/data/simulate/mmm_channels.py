"""Paid media channels of the MMM world: their true carryover and saturation, and presets.

A channel's truth (:class:`MediaChannelSpec`) names the *kind* of its adstock
(``"delayed"``, ``"geometric"`` or ``"weibull"``) and of its saturation (``"hill"`` or
``"logistic"``), with the kind's parameters named as in the MMM's components
(:mod:`mixlens.mmm.components`), so that true and estimated parameters line up:

=========  ================================  ===================================================
kind       parameters                        kernel or curve
=========  ================================  ===================================================
delayed    ``theta``, ``peak`` (weeks)       ``theta**((l - peak)**2)`` (Jin et al. 2017)
geometric  ``alpha``                         ``alpha**l``
weibull    ``shape``, ``scale`` (weeks)      Weibull density on unit lag bins (``"pdf"``)
hill       ``half_saturation``, ``slope``    ``x**slope / (x**slope + half_saturation**slope)``
logistic   ``lam``                           ``tanh(lam * x / 2)``
=========  ================================  ===================================================

Adstock parameters are on the **weekly** scale (lags in weeks, ``l_max`` weeks), as a
weekly MMM sees them. The world runs daily: :meth:`MediaChannelSpec.daily_adstock`
converts them with :func:`mixlens.transforms.timescale.to_daily`, which keeps the kernel's
shape in calendar time: geometric daily retention ``alpha**(1/7)``, delayed
``theta**(1/49)`` and ``peak * 7`` days, Weibull ``scale * 7`` days with the same
``shape``, and ``l_max * 7`` days. Every kernel is normalized to sum to one, so adstock
moves media in time without creating or losing any. Summed over the days of each week,
the daily kernel of a geometric or Weibull channel *is* its weekly kernel (exact); a
delayed kernel's weekly sums only approximate it (week ``l`` sums days ``7l .. 7l + 6``
while the weekly kernel samples day ``7l``).

Saturation parameters are in units of the channel's *typical adstocked pressure* (the
mean of its positive daily effective pressure, thousand impressions x campaign
effectiveness): Hill's ``half_saturation`` is a multiple of it, logistic ``lam`` is per
unit of it (``tanh(lam / 2)`` is the response at typical pressure). The world then sets
each channel's ``beta`` so that its ROI is the spec's ``roi``, whatever the kinds.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, replace
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from mixlens.data.simulate.flighting import FlightingKind
from mixlens.transforms.adstock import delayed_weights, geometric_weights, weibull_weights
from mixlens.transforms.timescale import (
    AdstockParams,
    DelayedParams,
    GeometricParams,
    WeibullParams,
    to_daily,
)

__all__ = [
    "ADSTOCK_KINDS",
    "DEFAULT_CHANNELS",
    "SATURATION_KINDS",
    "TRANSFORM_PRESETS",
    "AdstockKind",
    "MediaChannelSpec",
    "SaturationKind",
    "daily_kernel",
    "mixed_transform_channels",
    "preset_channels",
    "transform_preset",
]

AdstockKind = Literal["delayed", "geometric", "weibull"]
"""Kind of a channel's true adstock."""

SaturationKind = Literal["hill", "logistic"]
"""Kind of a channel's true saturation."""

#: Parameters of each adstock kind (weekly scale), as the MMM's components name them.
ADSTOCK_KINDS: dict[str, tuple[str, ...]] = {
    "delayed": ("theta", "peak"),
    "geometric": ("alpha",),
    "weibull": ("shape", "scale"),
}

#: Parameters of each saturation kind (typical-pressure units), as the MMM names them.
SATURATION_KINDS: dict[str, tuple[str, ...]] = {
    "hill": ("half_saturation", "slope"),
    "logistic": ("lam",),
}

_TRANSFORM_FIELDS = ("theta", "peak", "alpha", "shape", "scale", "half_saturation", "slope", "lam")


@dataclass(frozen=True)
class MediaChannelSpec:
    """True behaviour of one paid media channel.

    The first thirteen fields keep their historical order, so positional construction
    of a delayed-adstock, Hill-saturation channel works as before; the transform kinds
    and the other kinds' parameters are keyword-only. A kind's parameters are required
    and the parameters of kinds the channel does not use must stay ``None``.

    Attributes
    ----------
    name
        Channel name (``{name}_spend`` in the weekly panel).
    n_campaigns, n_families
        Campaigns in the channel and families they are grouped in.
    flighting
        Flighting kinds cycled over the channel's families.
    daily_budget
        Mean daily spend of the national world, currency units.
    cpm, ctr
        Mean cost per thousand impressions (currency) and click-through rate.
    theta, peak
        Delayed adstock (weekly scale): retention in (0, 1) and peak lag in weeks, >= 0.
    l_max
        Adstock kernel length in weeks, >= 1 (every kind).
    half_saturation
        Hill half-saturation as a multiple of the channel's typical (mean positive) daily
        adstocked pressure, > 0.
    slope
        Hill slope (shape), > 0; above 1 the curve is S-shaped.
    roi
        Target ROI (contribution / spend) of the channel over the national window, >= 0.
        Required: the NaN default only lets the fields before it have defaults.
    adstock
        Adstock kind: ``"delayed"`` (default), ``"geometric"`` or ``"weibull"``.
    saturation
        Saturation kind: ``"hill"`` (default) or ``"logistic"``.
    alpha
        Geometric adstock retention per week, in [0, 1).
    shape, scale
        Weibull adstock (``"pdf"`` kind): shape > 0 and scale > 0 in weeks.
    lam
        Logistic steepness per unit of typical daily adstocked pressure, > 0.

    Raises
    ------
    ValueError
        On an unknown kind (the message lists the known ones), a missing parameter of
        the chosen kinds, a parameter of another kind, or a value out of range.

    Examples
    --------
    >>> search = MediaChannelSpec("search", 24, 5, ("always_on",), 5000.0, 30.0, 0.05,
    ...                           l_max=2, roi=3.0, adstock="geometric", alpha=0.2,
    ...                           saturation="logistic", lam=2.0)
    >>> search.adstock_parameters(), search.saturation_parameters()
    ({'alpha': 0.2}, {'lam': 2.0})
    >>> round(search.daily_adstock().alpha ** 7, 12), search.daily_adstock().l_max
    (0.2, 14)
    """

    name: str
    n_campaigns: int
    n_families: int
    flighting: tuple[FlightingKind, ...]
    daily_budget: float
    cpm: float
    ctr: float
    theta: float | None = None
    peak: float | None = None
    l_max: int = 8
    half_saturation: float | None = None
    slope: float | None = None
    roi: float = math.nan
    _: KW_ONLY
    adstock: AdstockKind = "delayed"
    saturation: SaturationKind = "hill"
    alpha: float | None = None
    shape: float | None = None
    scale: float | None = None
    lam: float | None = None

    def __post_init__(self) -> None:
        for what, kind, known in (
            ("adstock", self.adstock, ADSTOCK_KINDS),
            ("saturation", self.saturation, SATURATION_KINDS),
        ):
            if kind not in known:
                raise ValueError(
                    f"channel {self.name!r}: unknown {what} kind {kind!r}; "
                    f"known: {', '.join(known)}"
                )
        needed = ADSTOCK_KINDS[self.adstock] + SATURATION_KINDS[self.saturation]
        given = {p: getattr(self, p) for p in _TRANSFORM_FIELDS}
        missing = [p for p in needed if given[p] is None]
        foreign = [p for p in _TRANSFORM_FIELDS if p not in needed and given[p] is not None]
        kinds = f"{self.adstock} adstock with {self.saturation} saturation"
        if missing:
            raise ValueError(f"channel {self.name!r}: {kinds} needs {', '.join(missing)}")
        if foreign:
            raise ValueError(
                f"channel {self.name!r}: {kinds} does not use {', '.join(foreign)} "
                f"(its parameters: {', '.join(needed)}); leave them None"
            )
        checks = {
            "n_campaigns >= 1": self.n_campaigns >= 1,
            "1 <= n_families <= n_campaigns": 1 <= self.n_families <= self.n_campaigns,
            "daily_budget > 0": self.daily_budget > 0,
            "cpm > 0": self.cpm > 0,
            "0 < ctr < 1": 0 < self.ctr < 1,
            "integer l_max >= 1": isinstance(self.l_max, int)
            and not isinstance(self.l_max, bool)
            and self.l_max >= 1,
            "roi >= 0 (required)": self.roi >= 0,
        }
        finite = {p: v for p, v in given.items() if v is not None}
        checks.update({f"finite {p}": math.isfinite(v) for p, v in finite.items()})
        bounds: dict[str, tuple[str, Callable[[float], bool]]] = {
            "theta": ("0 < theta < 1", lambda v: 0 < v < 1),
            "peak": ("peak >= 0", lambda v: v >= 0),
            "alpha": ("0 <= alpha < 1", lambda v: 0 <= v < 1),
            "shape": ("shape > 0", lambda v: v > 0),
            "scale": ("scale > 0", lambda v: v > 0),
            "half_saturation": ("half_saturation > 0", lambda v: v > 0),
            "slope": ("slope > 0", lambda v: v > 0),
            "lam": ("lam > 0", lambda v: v > 0),
        }
        checks.update({bounds[p][0]: bounds[p][1](v) for p, v in finite.items()})
        failed = [rule for rule, ok in checks.items() if not ok]
        if failed:
            raise ValueError(f"channel {self.name!r}: needs {', '.join(failed)}")

    def adstock_parameters(self) -> dict[str, float]:
        """Return the weekly-scale parameters of the channel's adstock kind, keyed by name."""
        return {p: float(getattr(self, p)) for p in ADSTOCK_KINDS[self.adstock]}

    def saturation_parameters(self) -> dict[str, float]:
        """Return the saturation kind's parameters (typical-pressure units), keyed by name."""
        return {p: float(getattr(self, p)) for p in SATURATION_KINDS[self.saturation]}

    def weekly_adstock(self) -> AdstockParams:
        """Return the adstock as typed parameters on the weekly scale (lags in weeks)."""
        p = self.adstock_parameters()
        if self.adstock == "delayed":
            return DelayedParams(theta=p["theta"], peak=p["peak"], l_max=self.l_max)
        if self.adstock == "geometric":
            return GeometricParams(alpha=p["alpha"], l_max=self.l_max)
        return WeibullParams(shape=p["shape"], scale=p["scale"], l_max=self.l_max, kind="pdf")

    def daily_adstock(self) -> AdstockParams:
        """Return the same kernel shape with lags in days (:func:`~mixlens.transforms.to_daily`)."""
        return to_daily(self.weekly_adstock())


def daily_kernel(params: AdstockParams) -> NDArray[np.float64]:
    """Return the normalized kernel of adstock parameters, shape ``(l_max,)``, summing to one.

    Parameters
    ----------
    params
        Delayed, geometric or Weibull parameters (any time scale; the simulator passes
        :meth:`MediaChannelSpec.daily_adstock`).

    Returns
    -------
    numpy.ndarray
        ``delayed_weights``, ``geometric_weights`` or ``weibull_weights`` of
        :mod:`mixlens.transforms.adstock`, with ``normalize=True``.

    Examples
    --------
    >>> w = daily_kernel(GeometricParams(alpha=0.5, l_max=3))
    >>> w.round(4).tolist()
    [0.5714, 0.2857, 0.1429]
    """
    if isinstance(params, DelayedParams):
        return delayed_weights(params.theta, peak=params.peak, l_max=params.l_max, normalize=True)
    if isinstance(params, GeometricParams):
        return geometric_weights(params.alpha, l_max=params.l_max, normalize=True)
    return weibull_weights(
        params.shape, params.scale, l_max=params.l_max, kind=params.kind, normalize=True
    )


#: Eight realistic channels; the world uses the first ``n_channels`` of them. All use
#: delayed adstock and Hill saturation (the ``"delayed-hill"`` preset).
DEFAULT_CHANNELS: tuple[MediaChannelSpec, ...] = (
    MediaChannelSpec("tv", 4, 2, ("burst",), 9000.0, 18.0, 0.0005, 0.55, 1.0, 6, 0.9, 2.0, 1.1),
    MediaChannelSpec(
        "social",
        32,
        7,
        ("always_on", "burst", "pulsed"),
        6000.0,
        7.0,
        0.012,
        0.35,
        0.3,
        3,
        0.8,
        1.3,
        2.2,
    ),
    MediaChannelSpec(
        "paid_search", 24, 5, ("always_on",), 5000.0, 30.0, 0.05, 0.15, 0.0, 2, 1.1, 1.0, 3.0
    ),
    MediaChannelSpec(
        "online_video",
        18,
        4,
        ("burst", "pulsed", "always_on"),
        4500.0,
        12.0,
        0.004,
        0.45,
        0.6,
        4,
        0.7,
        1.6,
        1.5,
    ),
    MediaChannelSpec(
        "display", 20, 4, ("pulsed", "always_on"), 3000.0, 3.5, 0.002, 0.3, 0.2, 3, 1.0, 1.2, 0.7
    ),
    MediaChannelSpec("radio", 3, 1, ("burst",), 2500.0, 8.0, 0.0002, 0.4, 0.5, 4, 0.8, 2.2, 0.9),
    MediaChannelSpec("ooh", 2, 1, ("burst",), 2000.0, 5.0, 0.0001, 0.6, 1.5, 6, 0.9, 2.5, 0.6),
    MediaChannelSpec(
        "affiliate",
        15,
        3,
        ("always_on", "pulsed"),
        1500.0,
        20.0,
        0.03,
        0.2,
        0.0,
        2,
        1.2,
        1.0,
        1.8,
    ),
)


@dataclass(frozen=True)
class _Transforms:
    """Transform truth of one channel of a preset (internal)."""

    adstock: AdstockKind
    saturation: SaturationKind
    l_max: int
    params: dict[str, float]

    def apply(self, spec: MediaChannelSpec) -> MediaChannelSpec:
        p = self.params
        return replace(
            spec,
            adstock=self.adstock,
            saturation=self.saturation,
            l_max=self.l_max,
            theta=p.get("theta"),
            peak=p.get("peak"),
            alpha=p.get("alpha"),
            shape=p.get("shape"),
            scale=p.get("scale"),
            half_saturation=p.get("half_saturation"),
            slope=p.get("slope"),
            lam=p.get("lam"),
        )


#: Transform truth of the ``"mixed"`` preset, per default channel (media fields unchanged).
_MIXED: dict[str, _Transforms] = {
    # Long, delayed carryover (recall builds over weeks) and an S-shaped response.
    "tv": _Transforms(
        "weibull", "hill", 10, {"shape": 1.6, "scale": 3.0, "half_saturation": 0.9, "slope": 2.0}
    ),
    # Feed ads: short geometric decay, concave response with diminishing returns.
    "social": _Transforms("geometric", "logistic", 4, {"alpha": 0.4, "lam": 1.2}),
    # Demand capture: almost no carryover and fast saturation of the searches there are.
    "paid_search": _Transforms("geometric", "logistic", 2, {"alpha": 0.1, "lam": 2.0}),
    # As the default world: a peak after a fraction of a week, mild S-shape.
    "online_video": _Transforms(
        "delayed", "hill", 4, {"theta": 0.45, "peak": 0.6, "half_saturation": 0.7, "slope": 1.6}
    ),
    # Retargeting effect a day or two later, concave curve.
    "display": _Transforms("delayed", "logistic", 3, {"theta": 0.3, "peak": 0.2, "lam": 1.5}),
    # Flights of spots whose memory decays geometrically; threshold (S-shaped) response.
    "radio": _Transforms(
        "geometric", "hill", 5, {"alpha": 0.5, "half_saturation": 0.8, "slope": 2.2}
    ),
    # Posters seen over weeks: Weibull carryover peaking after about a week, concave.
    "ooh": _Transforms("weibull", "logistic", 6, {"shape": 2.5, "scale": 2.0, "lam": 1.0}),
    # Partner traffic: a few days of carryover, steep then flat.
    "affiliate": _Transforms("geometric", "logistic", 2, {"alpha": 0.05, "lam": 2.5}),
}


def mixed_transform_channels(n_channels: int = 7) -> tuple[MediaChannelSpec, ...]:
    """Channels of the default world whose true transforms differ by channel.

    The first ``n_channels`` of :data:`DEFAULT_CHANNELS` with the same media (campaigns,
    flighting, budget, CPM, CTR) and target ROI, but the carryover and saturation a
    marketer would expect of each medium:

    ============  ===================================  ==============================
    channel       adstock (weekly scale; w = weeks)    saturation
    ============  ===================================  ==============================
    tv            weibull shape 1.6, scale 3 w, 10 w   hill 0.9, slope 2.0 (S-shaped)
    social        geometric alpha 0.4, 4 w             logistic lam 1.2
    paid_search   geometric alpha 0.1, 2 w             logistic lam 2.0
    online_video  delayed theta 0.45, peak 0.6 w, 4 w  hill 0.7, slope 1.6
    display       delayed theta 0.3, peak 0.2 w, 3 w   logistic lam 1.5
    radio         geometric alpha 0.5, 5 w             hill 0.8, slope 2.2
    ooh           weibull shape 2.5, scale 2 w, 6 w    logistic lam 1.0
    affiliate     geometric alpha 0.05, 2 w            logistic lam 2.5
    ============  ===================================  ==============================

    The first five already hold every kind; the first seven (the default) hold every
    adstock x saturation pair. Use it as ``MMMWorldConfig(channels=...)``; the other
    fields of the world keep their defaults.

    Parameters
    ----------
    n_channels
        How many channels, 5 to 8.

    Returns
    -------
    tuple of MediaChannelSpec

    Raises
    ------
    ValueError
        If ``n_channels`` is outside 5 to 8.

    Examples
    --------
    >>> [(c.name, c.adstock, c.saturation) for c in mixed_transform_channels(5)][:3]
    [('tv', 'weibull', 'hill'), ('social', 'geometric', 'logistic'), ('paid_search', 'geometric', 'logistic')]
    """  # noqa: E501
    _check_n_channels(n_channels)
    return tuple(_MIXED[spec.name].apply(spec) for spec in DEFAULT_CHANNELS[:n_channels])


def _default_channels(n_channels: int) -> tuple[MediaChannelSpec, ...]:
    _check_n_channels(n_channels)
    return DEFAULT_CHANNELS[:n_channels]


def _check_n_channels(n_channels: int) -> None:
    if not 5 <= n_channels <= len(DEFAULT_CHANNELS):
        raise ValueError(f"n_channels must be between 5 and 8, got {n_channels}")


#: Named sets of channel transforms: ``"delayed-hill"`` (the default world) and ``"mixed"``.
TRANSFORM_PRESETS = ("delayed-hill", "mixed")


def preset_channels(preset: str, n_channels: int) -> tuple[MediaChannelSpec, ...]:
    """Return the first ``n_channels`` channels of a transform preset.

    Parameters
    ----------
    preset
        ``"delayed-hill"`` (:data:`DEFAULT_CHANNELS`) or ``"mixed"``
        (:func:`mixed_transform_channels`).
    n_channels
        How many channels, 5 to 8.

    Returns
    -------
    tuple of MediaChannelSpec

    Raises
    ------
    ValueError
        On an unknown preset (the message lists the known ones) or ``n_channels``
        outside 5 to 8.

    Examples
    --------
    >>> preset_channels("delayed-hill", 6) == DEFAULT_CHANNELS[:6]
    True
    """
    if preset == "delayed-hill":
        return _default_channels(n_channels)
    if preset == "mixed":
        return mixed_transform_channels(n_channels)
    raise ValueError(f"unknown transforms preset {preset!r}; known: {', '.join(TRANSFORM_PRESETS)}")


def transform_preset(channels: tuple[MediaChannelSpec, ...]) -> str:
    """Name the preset ``channels`` are, or ``"custom"``.

    Examples
    --------
    >>> transform_preset(mixed_transform_channels(6)), transform_preset(DEFAULT_CHANNELS[:2])
    ('mixed', 'custom')
    """
    if 5 <= len(channels) <= len(DEFAULT_CHANNELS):
        for preset in TRANSFORM_PRESETS:
            if preset_channels(preset, len(channels)) == channels:
                return preset
    return "custom"
