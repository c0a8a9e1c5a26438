"""Saturation (diminishing-returns) curves and their analytic derivatives.

Every function is pure numpy and broadcasts ``x`` against its parameters, so a
``(n_time, n_channels)`` array can be transformed with per-channel parameter
arrays of shape ``(n_channels,)``. Inputs ``x`` are (adstocked) media in any
non-negative unit; parameters that are "in units of x" must use the same unit.
The derivatives (d output / d x, in output units per unit of x) are what marginal
ROI computations need.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "hill",
    "hill_derivative",
    "logistic_saturation",
    "logistic_saturation_derivative",
    "michaelis_menten",
    "michaelis_menten_derivative",
]

_FloatArray = NDArray[np.float64]


def _media(x: ArrayLike) -> _FloatArray:
    """Return ``x`` as float64, requiring finite non-negative values."""
    arr = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(arr) & (arr >= 0.0)):
        raise ValueError("x must be finite and non-negative")
    return arr


def _positive(value: ArrayLike, name: str) -> _FloatArray:
    arr = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(arr) & (arr > 0.0)):
        raise ValueError(f"{name} must be finite and > 0, got {value!r}")
    return arr


def _hill_parts(
    x: ArrayLike, half_saturation: ArrayLike, slope: ArrayLike
) -> tuple[_FloatArray, _FloatArray, _FloatArray, _FloatArray]:
    """Return validated, broadcast ``x, s`` and the pair ``(h, 1 - h)`` computed stably."""
    xa = _media(x)
    k = _positive(half_saturation, "half_saturation")
    s = _positive(slope, "slope")
    xa, k, s = np.broadcast_arrays(xa, k, s)
    below = xa <= k
    # Use the ratio that is <= 1 so that neither power overflows.
    safe_x = np.where(below, 1.0, xa)
    r = np.where(below, xa / k, k / safe_x) ** s  # (x/K)^s below K, (K/x)^s above
    h = np.where(below, r / (1.0 + r), 1.0 / (1.0 + r))
    one_minus_h = np.where(below, 1.0 / (1.0 + r), r / (1.0 + r))
    return xa, s, h, one_minus_h


def hill(x: ArrayLike, *, half_saturation: ArrayLike, slope: ArrayLike) -> _FloatArray:
    """Hill saturation ``x**slope / (x**slope + half_saturation**slope)``.

    Parameters
    ----------
    x
        Non-negative media (any unit), any shape.
    half_saturation
        Media level giving half of the maximum response, ``> 0``, in units of ``x``.
    slope
        Hill exponent (shape), ``> 0``, dimensionless; ``> 1`` gives an S-curve.

    Returns
    -------
    numpy.ndarray
        Dimensionless response in ``[0, 1)`` (``1.0`` only through rounding for very
        large ``x``), with the broadcast shape of the inputs. Non-decreasing in ``x``,
        equal to ``0.5`` at ``x = half_saturation``.

    Raises
    ------
    ValueError
        If ``x`` is negative or not finite, or a parameter is not finite and positive.

    Examples
    --------
    >>> float(hill(2.0, half_saturation=2.0, slope=3.0))
    0.5
    >>> hill([0.0, 1.0, 3.0], half_saturation=1.0, slope=1.0).tolist()
    [0.0, 0.5, 0.75]
    """
    _, _, h, _ = _hill_parts(x, half_saturation, slope)
    return h


def hill_derivative(x: ArrayLike, *, half_saturation: ArrayLike, slope: ArrayLike) -> _FloatArray:
    """Compute the derivative of :func:`hill` with respect to ``x``.

    ``d/dx hill = slope * K**slope * x**(slope-1) / (x**slope + K**slope)**2
    = (slope / x) * h * (1 - h)`` with ``K = half_saturation`` and ``h = hill(x)``.
    At ``x = 0`` it is ``0`` for ``slope > 1``, ``1 / K`` for ``slope = 1`` and
    ``inf`` for ``slope < 1``.

    Parameters
    ----------
    x
        Non-negative media (any unit), any shape.
    half_saturation
        ``> 0``, in units of ``x``.
    slope
        ``> 0``, dimensionless.

    Returns
    -------
    numpy.ndarray
        Non-negative derivative in 1 / (units of ``x``), broadcast shape of the inputs.

    Raises
    ------
    ValueError
        As :func:`hill`.

    Examples
    --------
    >>> float(hill_derivative(2.0, half_saturation=2.0, slope=1.0))
    0.125
    >>> hill_derivative(0.0, half_saturation=2.0, slope=[0.5, 1.0, 2.0]).tolist()
    [inf, 0.5, 0.0]
    """
    xa, s, h, one_minus_h = _hill_parts(x, half_saturation, slope)
    k = np.broadcast_to(np.asarray(half_saturation, dtype=np.float64), xa.shape)
    positive = xa > 0.0
    below = positive & (xa <= k)
    above = xa > k
    # 0 < x <= K: (s / K) (x / K)**(s - 1) (1 - h)**2, with the power taken in log space
    # so that tiny x neither underflows x / K nor overflows an intermediate quotient.
    log_ratio = np.where(below, np.log(np.where(below, xa, 1.0)) - np.log(k), 0.0)
    with np.errstate(over="ignore"):  # true value beyond float range for slope < 1: inf
        d_below = s / k * np.exp((s - 1.0) * log_ratio) * one_minus_h**2
    # x > K: (s / x) h (1 - h), with 1 - h = (K/x)**s / (1 + (K/x)**s) accurate
    d_above = s / np.where(above, xa, 1.0) * h * one_minus_h
    at_zero = np.where(s > 1.0, 0.0, np.where(s == 1.0, 1.0 / k, np.inf))
    out: _FloatArray = np.where(above, d_above, np.where(positive, d_below, at_zero))
    return out


def logistic_saturation(x: ArrayLike, *, lam: ArrayLike) -> _FloatArray:
    """Logistic saturation ``(1 - exp(-lam x)) / (1 + exp(-lam x))`` (PyMC-Marketing).

    Equal to ``tanh(lam * x / 2)``, which is how it is computed (no overflow).

    Parameters
    ----------
    x
        Non-negative media (any unit), any shape.
    lam
        Steepness ``> 0`` in 1 / (units of ``x``).

    Returns
    -------
    numpy.ndarray
        Dimensionless response in ``[0, 1)``, non-decreasing, ``0`` at ``x = 0``;
        broadcast shape of the inputs.

    Raises
    ------
    ValueError
        If ``x`` is negative or not finite, or ``lam`` is not finite and positive.

    Examples
    --------
    >>> float(logistic_saturation(0.0, lam=2.0))
    0.0
    >>> round(float(logistic_saturation(1.0, lam=2.0)), 12)
    0.761594155956
    """
    xa = _media(x)
    lam_a = _positive(lam, "lam")
    out: _FloatArray = np.tanh(0.5 * lam_a * xa)
    return out


def logistic_saturation_derivative(x: ArrayLike, *, lam: ArrayLike) -> _FloatArray:
    """Compute the derivative of :func:`logistic_saturation` with respect to ``x``.

    ``d/dx = 2 lam exp(-lam x) / (1 + exp(-lam x))**2 = (lam / 2) (1 - tanh(lam x / 2)**2)``.

    Parameters
    ----------
    x
        Non-negative media (any unit), any shape.
    lam
        Steepness ``> 0`` in 1 / (units of ``x``).

    Returns
    -------
    numpy.ndarray
        Positive derivative in 1 / (units of ``x``), at most ``lam / 2`` (at ``x = 0``).

    Raises
    ------
    ValueError
        As :func:`logistic_saturation`.

    Examples
    --------
    >>> float(logistic_saturation_derivative(0.0, lam=3.0))
    1.5
    """
    xa = _media(x)
    lam_a = _positive(lam, "lam")
    e = np.exp(-lam_a * xa)
    out: _FloatArray = 2.0 * lam_a * e / (1.0 + e) ** 2
    return out


def michaelis_menten(x: ArrayLike, *, vmax: ArrayLike, k: ArrayLike) -> _FloatArray:
    """Michaelis-Menten saturation ``vmax * x / (k + x)``.

    Parameters
    ----------
    x
        Non-negative media (any unit), any shape.
    vmax
        Asymptotic maximum response, ``>= 0``, in output units (e.g. sales).
    k
        Half-saturation media level, ``> 0``, in units of ``x``.

    Returns
    -------
    numpy.ndarray
        Response in ``[0, vmax]``, non-decreasing, ``vmax / 2`` at ``x = k``;
        broadcast shape of the inputs.

    Raises
    ------
    ValueError
        If ``x`` is negative or not finite, ``vmax < 0`` or ``k <= 0``.

    Examples
    --------
    >>> michaelis_menten([0.0, 1.0, 3.0], vmax=10.0, k=1.0).tolist()
    [0.0, 5.0, 7.5]
    """
    xa = _media(x)
    v = _nonnegative_vmax(vmax)
    ka = _positive(k, "k")
    out: _FloatArray = v * xa / (ka + xa)
    return out


def michaelis_menten_derivative(x: ArrayLike, *, vmax: ArrayLike, k: ArrayLike) -> _FloatArray:
    """Compute the derivative of :func:`michaelis_menten`, ``vmax * k / (k + x)**2``.

    Parameters
    ----------
    x
        Non-negative media (any unit), any shape.
    vmax
        ``>= 0``, output units.
    k
        ``> 0``, in units of ``x``.

    Returns
    -------
    numpy.ndarray
        Non-negative derivative in output units per unit of ``x``, at most
        ``vmax / k`` (at ``x = 0``).

    Raises
    ------
    ValueError
        As :func:`michaelis_menten`.

    Examples
    --------
    >>> michaelis_menten_derivative([0.0, 1.0], vmax=10.0, k=1.0).tolist()
    [10.0, 2.5]
    """
    xa = _media(x)
    v = _nonnegative_vmax(vmax)
    ka = _positive(k, "k")
    out: _FloatArray = v * ka / (ka + xa) ** 2
    return out


def _nonnegative_vmax(vmax: ArrayLike) -> _FloatArray:
    arr = np.asarray(vmax, dtype=np.float64)
    if not np.all(np.isfinite(arr) & (arr >= 0.0)):
        raise ValueError(f"vmax must be finite and >= 0, got {vmax!r}")
    return arr
