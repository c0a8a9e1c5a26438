"""Adstock parameters as typed values, and their conversion between time scales.

A kernel's parameters depend on the length of the time step: a weekly model and a
daily model of the *same* carryover need different ``alpha``, ``theta``, ``peak``,
``scale`` and ``l_max``. This module converts them so that the continuous kernel
shape (as a function of elapsed calendar time) is unchanged.

Derivation, with ``f`` fine steps per coarse step (``f = 7`` days per week), a lag of
``l`` coarse steps equal to ``l_f = f * l`` fine steps:

* Geometric, ``w(l) = alpha**l``: ``alpha_f**(f l) = alpha**l`` for all ``l`` iff
  ``alpha_f = alpha**(1/f)`` (the daily retention compounds to the weekly one over
  seven days).
* Delayed, ``w(l) = theta**((l - P)**2)``: ``theta_f**((f l - P_f)**2) =
  theta_f**(f**2 (l - P_f/f)**2)`` equals ``theta**((l - P)**2)`` iff
  ``P_f = f P`` and ``theta_f = theta**(1/f**2)`` (``theta**(1/49)`` for days).
* Weibull, ``S(l) = exp(-(l/lambda)**k)``: ``(f l / lambda_f)**k = (l/lambda)**k``
  iff ``lambda_f = f lambda``; the shape ``k`` is unchanged.
* Window: ``l_max_f = f * l_max`` (the same calendar span); going the other way,
  ``l_max = ceil(l_max_f / f)``, so weekly -> daily -> weekly returns the original
  ``l_max``.

These are conversions of the *kernel shape*, exact in calendar time: the daily
kernel sampled every seventh day is the weekly kernel. The discrete kernels live on
different grids, so a daily kernel's weights summed over the days of each week
in general only approximate the weekly kernel's weights (delayed and Weibull
``"cdf"`` kernels: week ``l`` sums days ``7l .. 7l+6`` while the weekly kernel samples
day ``7l``, so the sums look about half a week earlier). Two cases aggregate
exactly: geometric kernels (the weekly sums are proportional to the weekly
weights, hence equal after normalization) and the Weibull ``"pdf"`` kind, which
integrates the density over each lag bin (equal with or without normalization).

Examples
--------
>>> daily = to_daily(GeometricParams(alpha=0.5, l_max=4))
>>> round(daily.alpha**7, 12), daily.l_max
(0.5, 28)
>>> back = to_weekly(daily)
>>> round(back.alpha, 12), back.l_max
(0.5, 4)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import TypeVar, cast

import numpy as np
from numpy.typing import NDArray

from mixlens.transforms.adstock import (
    WeibullKind,
    _check_alpha,
    _check_kind,
    _check_l_max,
    _check_nonnegative,
    _check_positive,
    _check_theta,
    delayed_weights,
    geometric_weights,
    weibull_weights,
)

__all__ = [
    "AdstockParams",
    "DelayedParams",
    "GeometricParams",
    "WeibullParams",
    "rescale",
    "to_daily",
    "to_weekly",
]


@dataclass(frozen=True)
class GeometricParams:
    """Geometric adstock parameters, see :func:`~mixlens.transforms.geometric_weights`.

    Parameters
    ----------
    alpha
        Retention per time step, in ``[0, 1)``.
    l_max
        Kernel length in time steps, ``>= 1``.

    Examples
    --------
    >>> GeometricParams(alpha=0.5, l_max=3).weights().tolist()
    [1.0, 0.5, 0.25]
    """

    alpha: float
    l_max: int

    def __post_init__(self) -> None:
        _check_alpha(self.alpha)
        _check_l_max(self.l_max)

    def weights(self, *, normalize: bool = False) -> NDArray[np.float64]:
        """Kernel weights, shape ``(l_max,)``; see :func:`geometric_weights`."""
        return geometric_weights(self.alpha, l_max=self.l_max, normalize=normalize)


@dataclass(frozen=True)
class DelayedParams:
    """Delayed adstock parameters, see :func:`~mixlens.transforms.delayed_weights`.

    Parameters
    ----------
    theta
        Retention, in ``(0, 1)``.
    peak
        Lag of the peak effect in time steps, ``>= 0``.
    l_max
        Kernel length in time steps, ``>= 1``.

    Examples
    --------
    >>> DelayedParams(theta=0.5, peak=1.0, l_max=3).weights().tolist()
    [0.25, 0.5, 0.25]
    """

    theta: float
    peak: float
    l_max: int

    def __post_init__(self) -> None:
        _check_theta(self.theta)
        _check_nonnegative(self.peak, "peak")
        _check_l_max(self.l_max)

    def weights(self, *, normalize: bool = True) -> NDArray[np.float64]:
        """Kernel weights, shape ``(l_max,)``; see :func:`delayed_weights`."""
        return delayed_weights(self.theta, peak=self.peak, l_max=self.l_max, normalize=normalize)


@dataclass(frozen=True)
class WeibullParams:
    """Weibull adstock parameters, see :func:`~mixlens.transforms.weibull_weights`.

    Parameters
    ----------
    shape
        Weibull shape, ``> 0``, dimensionless.
    scale
        Weibull scale, ``> 0``, in time steps.
    l_max
        Kernel length in time steps, ``>= 1``.
    kind
        ``"pdf"`` or ``"cdf"``.

    Examples
    --------
    >>> WeibullParams(shape=1.0, scale=1.0, l_max=2, kind="cdf").weights().round(6).tolist()
    [0.731059, 0.268941]
    """

    shape: float
    scale: float
    l_max: int
    kind: WeibullKind = "pdf"

    def __post_init__(self) -> None:
        _check_positive(self.shape, "shape")
        _check_positive(self.scale, "scale")
        _check_l_max(self.l_max)
        _check_kind(self.kind)

    def weights(self, *, normalize: bool = True) -> NDArray[np.float64]:
        """Kernel weights, shape ``(l_max,)``; see :func:`weibull_weights`."""
        return weibull_weights(
            self.shape, self.scale, l_max=self.l_max, kind=self.kind, normalize=normalize
        )


AdstockParams = GeometricParams | DelayedParams | WeibullParams
"""Any of the adstock parameter classes."""

_PARAM_TYPES: tuple[type, ...] = (GeometricParams, DelayedParams, WeibullParams)
_P = TypeVar("_P", bound=AdstockParams)


def rescale(params: _P, factor: int | Fraction) -> _P:
    """Express adstock parameters on a time grid ``factor`` times finer.

    ``factor`` is the number of new time steps per old step: ``7`` converts weekly
    parameters to daily ones, ``Fraction(1, 7)`` daily to weekly. The rules (derived
    in the module docstring) are, with ``f = factor``: ``alpha**(1/f)``,
    ``theta**(1/f**2)``, ``peak * f``, ``scale * f`` (shape and kind unchanged) and
    ``l_max -> ceil(l_max * f)``, computed exactly with integer arithmetic.

    Parameters
    ----------
    params
        A :class:`GeometricParams`, :class:`DelayedParams` or :class:`WeibullParams`.
    factor
        New steps per old step, a positive ``int`` or :class:`fractions.Fraction`.

    Returns
    -------
    GeometricParams or DelayedParams or WeibullParams
        Parameters of the same class on the new grid.

    Raises
    ------
    ValueError
        If ``factor`` is not a positive int or Fraction.
    TypeError
        If ``params`` is not one of the parameter classes.

    Examples
    --------
    >>> rescale(DelayedParams(theta=0.5, peak=1.0, l_max=3), 7).peak
    7.0
    >>> rescale(WeibullParams(shape=2.0, scale=14.0, l_max=30), Fraction(1, 7)).l_max
    5
    """
    if isinstance(factor, bool) or not isinstance(factor, int | Fraction) or factor <= 0:
        raise ValueError(f"factor must be a positive int or Fraction, got {factor!r}")
    if not isinstance(params, _PARAM_TYPES):
        raise TypeError(f"expected adstock parameters, got {type(params).__name__}")
    return cast(_P, _rescale(params, Fraction(factor)))


def _rescale(params: AdstockParams, f: Fraction) -> AdstockParams:
    l_max = math.ceil(params.l_max * f)  # exact: Fraction arithmetic

    def stretch(value: float) -> float:
        return value * f.numerator / f.denominator

    if isinstance(params, GeometricParams):
        return GeometricParams(alpha=params.alpha ** (f.denominator / f.numerator), l_max=l_max)
    if isinstance(params, DelayedParams):
        return DelayedParams(
            theta=params.theta ** (f.denominator**2 / f.numerator**2),
            peak=stretch(params.peak),
            l_max=l_max,
        )
    return WeibullParams(
        shape=params.shape, scale=stretch(params.scale), l_max=l_max, kind=params.kind
    )


def _days(days_per_week: int) -> int:
    if isinstance(days_per_week, bool) or not isinstance(days_per_week, int) or days_per_week < 1:
        raise ValueError(f"days_per_week must be a positive integer, got {days_per_week!r}")
    return days_per_week


def to_daily(params: _P, *, days_per_week: int = 7) -> _P:
    """Convert weekly adstock parameters to daily ones; see :func:`rescale`.

    Parameters
    ----------
    params
        Parameters of a kernel with lags in weeks.
    days_per_week
        Days per week, ``7`` unless the series only has (e.g.) business days.

    Returns
    -------
    GeometricParams or DelayedParams or WeibullParams
        Parameters of the same kernel shape with lags in days.

    Examples
    --------
    >>> to_daily(WeibullParams(shape=2.0, scale=3.0, l_max=8))
    WeibullParams(shape=2.0, scale=21.0, l_max=56, kind='pdf')
    """
    return rescale(params, _days(days_per_week))


def to_weekly(params: _P, *, days_per_week: int = 7) -> _P:
    """Convert daily adstock parameters to weekly ones; inverse of :func:`to_daily`.

    Parameters
    ----------
    params
        Parameters of a kernel with lags in days.
    days_per_week
        Days per week.

    Returns
    -------
    GeometricParams or DelayedParams or WeibullParams
        Parameters of the same kernel shape with lags in weeks; ``l_max`` is
        ``ceil(l_max_daily / days_per_week)``.

    Examples
    --------
    >>> to_weekly(WeibullParams(shape=2.0, scale=21.0, l_max=50))
    WeibullParams(shape=2.0, scale=3.0, l_max=8, kind='pdf')
    """
    return rescale(params, Fraction(1, _days(days_per_week)))
