"""Adstock (carryover) kernels and their causal application to media series.

Every function here is pure numpy. A *kernel* is a weight array ``w`` of shape
``(l_max, *batch)``: ``w[l]`` is the share of media spent at time ``t`` that is
still active at time ``t + l`` (``l`` in lags, i.e. time steps of the series).
Scalar parameters give a 1-D kernel of shape ``(l_max,)``; parameter arrays (for
example one value per channel, shape ``(n_channels,)``) give one kernel per
element, stacked along the trailing axes.

Applying a kernel is a causal, truncated convolution along the time axis:
``y[t] = sum_{l=0}^{min(t, l_max-1)} w[l] * x[t-l]``. With ``normalize=True`` the
weights sum to one, so the total media of a series that is zero-padded with
``l_max - 1`` steps at its end is preserved.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "WeibullKind",
    "adstock",
    "delayed_adstock",
    "delayed_weights",
    "geometric_adstock",
    "geometric_weights",
    "weibull_adstock",
    "weibull_weights",
]

WeibullKind = Literal["pdf", "cdf"]
"""Kind of Weibull kernel: ``"pdf"`` (delayed peak possible) or ``"cdf"`` (survival decay)."""

_FloatArray = NDArray[np.float64]


# --------------------------------------------------------------------------- validation


def _param(value: ArrayLike, name: str) -> _FloatArray:
    """Return ``value`` as a finite float64 array or raise ``ValueError``."""
    arr = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return arr


def _check_l_max(l_max: int) -> int:
    """Return ``l_max`` as an ``int`` >= 1 or raise ``ValueError``."""
    if isinstance(l_max, bool) or not isinstance(l_max, int | np.integer) or l_max < 1:
        raise ValueError(f"l_max must be an integer >= 1, got {l_max!r}")
    return int(l_max)


def _check_alpha(alpha: ArrayLike) -> _FloatArray:
    a = _param(alpha, "alpha")
    if not np.all((a >= 0.0) & (a < 1.0)):
        raise ValueError(f"alpha must lie in [0, 1), got {alpha!r}")
    return a


def _check_theta(theta: ArrayLike) -> _FloatArray:
    t = _param(theta, "theta")
    if not np.all((t > 0.0) & (t < 1.0)):
        raise ValueError(f"theta must lie in (0, 1), got {theta!r}")
    return t


def _check_nonnegative(value: ArrayLike, name: str) -> _FloatArray:
    v = _param(value, name)
    if not np.all(v >= 0.0):
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return v


def _check_positive(value: ArrayLike, name: str) -> _FloatArray:
    v = _param(value, name)
    if not np.all(v > 0.0):
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return v


def _check_kind(kind: str) -> WeibullKind:
    if kind == "pdf":
        return "pdf"
    if kind == "cdf":
        return "cdf"
    raise ValueError(f"kind must be 'pdf' or 'cdf', got {kind!r}")


def _lags(l_max: int, ndim: int) -> _FloatArray:
    """Lags ``0 .. l_max-1`` shaped ``(l_max, 1, ..., 1)`` to broadcast over ``ndim`` axes."""
    return np.arange(l_max, dtype=np.float64).reshape((l_max,) + (1,) * ndim)


def _from_log(log_w: _FloatArray, *, normalize: bool) -> _FloatArray:
    """Exponentiate log-weights; with ``normalize`` rescale them to sum to one along axis 0.

    Normalization is done in log space (subtracting the per-kernel maximum first)
    so that kernels whose raw weights all underflow still normalize correctly.
    """
    if not normalize:
        return np.exp(log_w)
    top = np.max(log_w, axis=0)
    if not np.all(np.isfinite(top)):
        raise ValueError("kernel weights are all zero; cannot normalize")
    w = np.exp(log_w - top)
    out: _FloatArray = w / np.sum(w, axis=0)
    return out


def _normalized(w: _FloatArray, *, normalize: bool) -> _FloatArray:
    if not normalize:
        return w
    total = np.sum(w, axis=0)
    if not np.all(total > 0.0):
        raise ValueError("kernel weights are all zero; cannot normalize")
    out: _FloatArray = w / total
    return out


# --------------------------------------------------------------------------- kernels


def geometric_weights(alpha: ArrayLike, *, l_max: int, normalize: bool = False) -> _FloatArray:
    """Geometric (exponential-decay) adstock kernel ``w[l] = alpha**l``.

    Parameters
    ----------
    alpha
        Retention per time step, dimensionless, in ``[0, 1)``. A scalar or an array
        of shape ``batch`` (e.g. one value per channel).
    l_max
        Kernel length in lags (time steps), ``>= 1``; lags are ``0 .. l_max-1``.
    normalize
        If true, divide by ``sum_l alpha**l`` so the weights sum to one.

    Returns
    -------
    numpy.ndarray
        Float64 weights of shape ``(l_max, *batch)``; ``(l_max,)`` for scalar alpha.

    Raises
    ------
    ValueError
        If ``alpha`` is outside ``[0, 1)`` or ``l_max < 1``.

    Examples
    --------
    >>> geometric_weights(0.5, l_max=4).tolist()
    [1.0, 0.5, 0.25, 0.125]
    >>> geometric_weights(0.5, l_max=2, normalize=True).round(4).tolist()
    [0.6667, 0.3333]
    >>> geometric_weights([0.0, 0.5], l_max=3).shape
    (3, 2)
    """
    a = _check_alpha(alpha)
    n = _check_l_max(l_max)
    w: _FloatArray = np.power(a, _lags(n, a.ndim))
    return _normalized(w, normalize=normalize)


def delayed_weights(
    theta: ArrayLike, *, peak: ArrayLike = 0.0, l_max: int, normalize: bool = True
) -> _FloatArray:
    """Delayed adstock kernel ``w[l] = theta**((l - peak)**2)`` (Jin et al., 2017).

    From Y. Jin, Y. Wang, Y. Sun, D. Chan and J. Koehler, "Bayesian methods for
    media mix modeling with carryover and shape effects", Google (2017), eq. (2).
    The kernel is maximal at lag ``peak`` and decays on both sides.

    Parameters
    ----------
    theta
        Retention, dimensionless, in ``(0, 1)``. Scalar or array of shape ``batch``.
    peak
        Lag of the maximum effect, in time steps, ``>= 0``; need not be an integer.
        Scalar or array broadcastable with ``theta``.
    l_max
        Kernel length in lags (time steps), ``>= 1``.
    normalize
        If true (the default, as in Jin et al.), rescale the weights to sum to one.

    Returns
    -------
    numpy.ndarray
        Float64 weights of shape ``(l_max, *batch)`` where ``batch`` is the broadcast
        shape of ``theta`` and ``peak``.

    Raises
    ------
    ValueError
        If ``theta`` is outside ``(0, 1)``, ``peak < 0`` or ``l_max < 1``.

    Examples
    --------
    >>> delayed_weights(0.5, peak=1.0, l_max=3, normalize=False).tolist()
    [0.5, 1.0, 0.5]
    >>> delayed_weights(0.5, peak=1.0, l_max=3).tolist()
    [0.25, 0.5, 0.25]
    """
    t = _check_theta(theta)
    p = _check_nonnegative(peak, "peak")
    n = _check_l_max(l_max)
    t, p = np.broadcast_arrays(t, p)
    lags = _lags(n, t.ndim)
    log_w: _FloatArray = np.log(t) * (lags - p) ** 2
    return _from_log(log_w, normalize=normalize)


def weibull_weights(
    shape: ArrayLike,
    scale: ArrayLike,
    *,
    l_max: int,
    kind: WeibullKind = "pdf",
    normalize: bool = True,
) -> _FloatArray:
    """Weibull adstock kernel (as in Robyn), with ``scale`` in lags.

    With ``F`` the Weibull CDF and ``S = 1 - F`` its survival function,
    ``S(l) = exp(-(l / scale)**shape)``:

    * ``kind="cdf"``: survival decay ``w[l] = S(l)``, so ``w[0] = 1`` and the weights
      decrease monotonically (faster then slower for ``shape < 1``, the other way
      round for ``shape > 1``).
    * ``kind="pdf"``: the Weibull density discretized on unit lag bins,
      ``w[l] = F(l + 1) - F(l) = integral of the pdf over [l, l + 1)``. This is finite
      at lag 0 for every shape (the density itself is infinite at 0 for
      ``shape < 1``), allows a delayed peak for ``shape > 1``, and aggregates exactly
      across time scales: the daily weights of the days of week ``k`` sum to the
      weekly weight of lag ``k`` (with ``scale_daily = 7 * scale_weekly``).

    Robyn's ``weibull_cdf`` uses the cumulative product of survivals and Robyn's
    ``weibull_pdf`` the density at ``l + 1``; both express ``scale`` as a quantile of
    the window length. Here ``scale`` is in time steps and the definitions above are
    used, so values are not interchangeable with Robyn's hyperparameters.

    Parameters
    ----------
    shape
        Weibull shape ``k > 0``, dimensionless. Scalar or array of shape ``batch``.
    scale
        Weibull scale ``lambda > 0``, in time steps (lags). Broadcastable with ``shape``.
    l_max
        Kernel length in lags (time steps), ``>= 1``.
    kind
        ``"pdf"`` or ``"cdf"``, see above.
    normalize
        If true (the default), rescale the weights to sum to one.

    Returns
    -------
    numpy.ndarray
        Float64 weights of shape ``(l_max, *batch)``.

    Raises
    ------
    ValueError
        If ``shape`` or ``scale`` is not positive, ``l_max < 1`` or ``kind`` is unknown.

    Examples
    --------
    >>> weibull_weights(1.0, 1.0, l_max=3, kind="cdf", normalize=False).round(6).tolist()
    [1.0, 0.367879, 0.135335]
    >>> w = weibull_weights(2.0, 3.0, l_max=8, kind="pdf")
    >>> int(w.argmax()), round(float(w.sum()), 12)
    (2, 1.0)
    """
    k = _check_positive(shape, "shape")
    lam = _check_positive(scale, "scale")
    n = _check_l_max(l_max)
    which = _check_kind(kind)
    k, lam = np.broadcast_arrays(k, lam)
    lags = _lags(n, k.ndim)
    cum_hazard_lo: _FloatArray = (lags / lam) ** k  # -log S(l)
    if which == "cdf":
        return _from_log(-cum_hazard_lo, normalize=normalize)
    cum_hazard_hi: _FloatArray = ((lags + 1.0) / lam) ** k  # -log S(l + 1)
    # F(l+1) - F(l) = S(l) * (1 - S(l+1)/S(l)), computed in log space for accuracy.
    with np.errstate(divide="ignore"):
        log_w = -cum_hazard_lo + np.log(-np.expm1(cum_hazard_lo - cum_hazard_hi))
    return _from_log(log_w, normalize=normalize)


# --------------------------------------------------------------------------- application


def adstock(x: ArrayLike, weights: ArrayLike, *, axis: int = 0) -> _FloatArray:
    """Apply an adstock kernel causally along the time axis of ``x``.

    Computes ``y[t] = sum_{l=0}^{min(t, l_max-1)} weights[l] * x[t-l]``: a causal
    convolution truncated to the length of ``x`` (carryover beyond the last time
    step is dropped; zero-pad ``x`` with ``l_max - 1`` steps to keep it).

    Parameters
    ----------
    x
        Media series (any unit, e.g. spend or impressions per time step), with time
        on ``axis``; shape ``(..., n_time, ...)``, at least 1-D.
    weights
        Kernel of shape ``(l_max,)``, applied to every series, or ``(l_max, *batch)``
        with ``batch`` broadcastable to the shape of ``x`` without its time axis
        (e.g. ``(l_max, n_channels)`` for ``x`` of shape ``(n_time, n_channels)``).
    axis
        Time axis of ``x``.

    Returns
    -------
    numpy.ndarray
        Float64 array with the shape of ``x`` and the units of ``x``.

    Raises
    ------
    ValueError
        If ``x`` is 0-D, ``weights`` is empty, not finite, or its batch shape does
        not broadcast to ``x``'s, or ``axis`` is out of range.

    Examples
    --------
    >>> adstock([1.0, 0.0, 0.0, 2.0], [1.0, 0.5]).tolist()
    [1.0, 0.5, 0.0, 2.0]
    >>> adstock([[1.0, 2.0], [0.0, 0.0]], [1.0, 0.5], axis=0).tolist()
    [[1.0, 2.0], [0.5, 1.0]]
    """
    xa = np.asarray(x, dtype=np.float64)
    if xa.ndim == 0:
        raise ValueError("x must have at least one (time) dimension")
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim == 0 or w.shape[0] == 0:
        raise ValueError(f"weights must have shape (l_max, ...) with l_max >= 1, got {w.shape}")
    if not np.all(np.isfinite(w)):
        raise ValueError("weights must be finite")
    xt = np.moveaxis(xa, axis, 0)
    batch = xt.shape[1:]
    try:
        ok = np.broadcast_shapes(batch, w.shape[1:]) == batch
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(
            f"weights batch shape {w.shape[1:]} does not broadcast to the shape of x "
            f"without its time axis, {batch}"
        )
    n_time = xt.shape[0]
    y = np.zeros_like(xt)
    for lag in range(min(w.shape[0], n_time)):
        y[lag:] += w[lag] * xt[: n_time - lag]
    out: _FloatArray = np.moveaxis(y, 0, axis)
    return out


def geometric_adstock(
    x: ArrayLike,
    alpha: ArrayLike,
    *,
    l_max: int = 12,
    normalize: bool = False,
    axis: int = 0,
) -> _FloatArray:
    """Geometric adstock: ``adstock(x, geometric_weights(alpha, ...), axis=axis)``.

    Parameters
    ----------
    x
        Media series with time on ``axis``.
    alpha
        Retention per time step in ``[0, 1)``; scalar or array broadcastable to the
        shape of ``x`` without its time axis (e.g. one value per channel).
    l_max
        Kernel length in time steps, ``>= 1``.
    normalize
        If true, the kernel sums to one.
    axis
        Time axis of ``x``.

    Returns
    -------
    numpy.ndarray
        Float64 array with the shape and units of ``x``.

    Examples
    --------
    >>> geometric_adstock([1.0, 0.0, 0.0], 0.5, l_max=3).tolist()
    [1.0, 0.5, 0.25]
    """
    return adstock(x, geometric_weights(alpha, l_max=l_max, normalize=normalize), axis=axis)


def delayed_adstock(
    x: ArrayLike,
    theta: ArrayLike,
    *,
    peak: ArrayLike = 0.0,
    l_max: int = 12,
    normalize: bool = True,
    axis: int = 0,
) -> _FloatArray:
    """Delayed adstock: ``adstock(x, delayed_weights(theta, ...), axis=axis)``.

    Parameters
    ----------
    x
        Media series with time on ``axis``.
    theta
        Retention in ``(0, 1)``; scalar or array broadcastable to the shape of ``x``
        without its time axis.
    peak
        Lag of the peak effect in time steps, ``>= 0``.
    l_max
        Kernel length in time steps, ``>= 1``.
    normalize
        If true (the default), the kernel sums to one.
    axis
        Time axis of ``x``.

    Returns
    -------
    numpy.ndarray
        Float64 array with the shape and units of ``x``.

    Examples
    --------
    >>> delayed_adstock([4.0, 0.0, 0.0], 0.5, peak=1.0, l_max=3).tolist()
    [1.0, 2.0, 1.0]
    """
    w = delayed_weights(theta, peak=peak, l_max=l_max, normalize=normalize)
    return adstock(x, w, axis=axis)


def weibull_adstock(
    x: ArrayLike,
    shape: ArrayLike,
    scale: ArrayLike,
    *,
    l_max: int = 12,
    kind: WeibullKind = "pdf",
    normalize: bool = True,
    axis: int = 0,
) -> _FloatArray:
    """Weibull adstock: ``adstock(x, weibull_weights(shape, scale, ...), axis=axis)``.

    Parameters
    ----------
    x
        Media series with time on ``axis``.
    shape
        Weibull shape ``> 0``; scalar or array broadcastable to the shape of ``x``
        without its time axis.
    scale
        Weibull scale ``> 0`` in time steps.
    l_max
        Kernel length in time steps, ``>= 1``.
    kind
        ``"pdf"`` or ``"cdf"``, see :func:`weibull_weights`.
    normalize
        If true (the default), the kernel sums to one.
    axis
        Time axis of ``x``.

    Returns
    -------
    numpy.ndarray
        Float64 array with the shape and units of ``x``.

    Examples
    --------
    >>> y = weibull_adstock([1.0, 0.0, 0.0, 0.0], 1.5, 2.0, l_max=4)
    >>> round(float(y.sum()), 12)
    1.0
    """
    w = weibull_weights(shape, scale, l_max=l_max, kind=kind, normalize=normalize)
    return adstock(x, w, axis=axis)
