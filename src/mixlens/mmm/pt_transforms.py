"""PyTensor twins of the numpy media transforms in :mod:`mixlens.transforms`.

Each function builds a symbolic expression equal (to floating-point rounding) to its
numpy counterpart, with gradients that stay finite where the model needs them (zero
media, normalized kernels). Shapes follow the numpy conventions: kernels are
``(l_max, *batch)``, media is ``(n_time, *batch)`` with time on axis 0.

Only the model builds these graphs; results are computed with the numpy versions, so
tests check that both agree (``tests/mmm/test_pt_transforms.py``).
"""

# pytensor's functions are only partly annotated.
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

from typing import Any, Literal, TypeAlias

import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Variable
from pytensor.tensor.variable import TensorVariable

__all__ = [
    "adstock",
    "adstock_lagged",
    "adstock_lagged_channel_first",
    "delayed_weights",
    "geometric_weights",
    "hill",
    "lag_stack",
    "lagged",
    "lagged_channel_first",
    "logistic_saturation",
    "weibull_weights",
]

Tensor: TypeAlias = TensorVariable[Any, Any]
TensorLike: TypeAlias = Variable[Any, Any] | np.ndarray[Any, Any] | float


def _tensor(value: TensorLike) -> Tensor:
    """Symbolic inputs as they are; numbers and arrays as float64 constants.

    (PyTensor would otherwise make float32 constants of Python floats.)
    """
    if isinstance(value, Variable):
        return pt.as_tensor_variable(value)
    out: Tensor = pt.as_tensor_variable(np.asarray(value, dtype=np.float64))
    return out


def _lags(l_max: int, ndim: int) -> Tensor:
    """Lags ``0 .. l_max-1`` shaped ``(l_max, 1, ..., 1)`` to broadcast over ``ndim`` axes."""
    lags = np.arange(l_max, dtype=np.float64).reshape((l_max,) + (1,) * ndim)
    return pt.as_tensor_variable(lags)


def _normalize_log(log_w: Tensor, *, normalize: bool) -> Tensor:
    """Exponentiate log-weights; optionally normalize along axis 0 (stable softmax)."""
    if not normalize:
        raw: Tensor = pt.exp(log_w)
        return raw
    shifted = log_w - pt.max(log_w, axis=0, keepdims=True)
    w = pt.exp(shifted)
    out: Tensor = w / pt.sum(w, axis=0, keepdims=True)
    return out


def geometric_weights(alpha: TensorLike, *, l_max: int, normalize: bool = False) -> Tensor:
    """Geometric kernel ``alpha**l``, twin of :func:`mixlens.transforms.geometric_weights`.

    Parameters
    ----------
    alpha
        Retention per time step in ``[0, 1)``, scalar or shape ``batch``.
    l_max
        Kernel length in time steps, ``>= 1``.
    normalize
        If true, the weights sum to one.

    Returns
    -------
    Tensor
        Weights of shape ``(l_max, *batch)``.
    """
    a = _tensor(alpha)
    w: Tensor = pt.power(a, _lags(l_max, a.ndim))
    if normalize:
        w = w / pt.sum(w, axis=0, keepdims=True)
    return w


def delayed_weights(
    theta: TensorLike, *, peak: TensorLike = 0.0, l_max: int, normalize: bool = True
) -> Tensor:
    """Delayed kernel ``theta**((l - peak)**2)``, twin of the numpy ``delayed_weights``.

    Parameters
    ----------
    theta
        Retention in ``(0, 1)``, scalar or shape ``batch``.
    peak
        Lag of the peak effect in time steps, ``>= 0``, broadcastable with ``theta``.
    l_max
        Kernel length in time steps, ``>= 1``.
    normalize
        If true (the default), the weights sum to one.

    Returns
    -------
    Tensor
        Weights of shape ``(l_max, *batch)``.
    """
    t = _tensor(theta)
    p = _tensor(peak)
    ndim = max(t.ndim, p.ndim)
    log_w = pt.log(t) * (_lags(l_max, ndim) - p) ** 2
    return _normalize_log(log_w, normalize=normalize)


def weibull_weights(
    shape: TensorLike,
    scale: TensorLike,
    *,
    l_max: int,
    kind: Literal["pdf", "cdf"] = "pdf",
    normalize: bool = True,
) -> Tensor:
    """Weibull kernel, twin of :func:`mixlens.transforms.weibull_weights`.

    Parameters
    ----------
    shape
        Weibull shape ``> 0``, scalar or shape ``batch``.
    scale
        Weibull scale ``> 0`` in time steps, broadcastable with ``shape``.
    l_max
        Kernel length in time steps, ``>= 1``.
    kind
        ``"pdf"`` (mass of each unit lag bin) or ``"cdf"`` (survival).
    normalize
        If true (the default), the weights sum to one.

    Returns
    -------
    Tensor
        Weights of shape ``(l_max, *batch)``.
    """
    k = _tensor(shape)
    lam = _tensor(scale)
    ndim = max(k.ndim, lam.ndim)
    lag_values = np.arange(l_max, dtype=np.float64).reshape((l_max,) + (1,) * ndim)
    # In logs and clipped, so that neither value nor gradient is NaN anywhere in the prior
    # (ADVI and NUTS visit shapes far from 1): ``(0 / lam) ** k`` has a NaN gradient in
    # ``lam`` for ``k < 1``, and ``(l / lam) ** k`` overflows for large ``k``. Lag 0 is
    # written out. The clip changes a weight only where it is below exp(-e^50) (zero
    # anyway) or where ``(l / lam) ** k`` is below e^-700.
    positive = np.maximum(lag_values, 1.0)  # lag 0 is handled apart: no log(0)
    at_zero = pt.as_tensor_variable(lag_values == 0.0)
    log_lo = pt.clip(k * (pt.log(positive) - pt.log(lam)), _LOG_MIN, _LOG_MAX)
    lo = pt.switch(at_zero, 0.0, pt.exp(log_lo))
    if kind == "cdf":
        return _normalize_log(-lo, normalize=normalize)
    # log(hi - lo): lag 0: k log(1 / lam); later lags: log lo + b + log(1 - e^-b),
    # b = k log(1 + 1 / l) = log(hi / lo) > 0
    ratio = k * pt.log1p(1.0 / positive)
    log_gap = pt.switch(
        at_zero,
        -k * pt.log(lam),
        k * (pt.log(positive) - pt.log(lam)) + ratio + pt.log1mexp(-ratio),
    )
    gap = pt.exp(pt.clip(log_gap, _LOG_MIN, _LOG_MAX))
    log_w = -lo + pt.log1mexp(-gap)  # log(exp(-lo) - exp(-hi))
    return _normalize_log(log_w, normalize=normalize)


#: Clip of the exponents in :func:`weibull_weights` (``exp`` of them stays finite and > 0).
_LOG_MIN, _LOG_MAX = -700.0, 50.0


def adstock(x: TensorLike, weights: TensorLike, *, l_max: int) -> Tensor:
    """Causal truncated convolution ``y[t] = sum_l weights[l] * x[t - l]`` along axis 0.

    Twin of :func:`mixlens.transforms.adstock` with ``axis=0``.

    Parameters
    ----------
    x
        Media with time on axis 0, shape ``(n_time, *batch)``.
    weights
        Kernel of shape ``(l_max, *batch)`` (or ``(l_max,)``).
    l_max
        Kernel length (static).

    Returns
    -------
    Tensor
        Adstocked media, shape ``(n_time, *batch)``, in the units of ``x``.

    Notes
    -----
    Computed as ``sum_l w[l] * lag_stack(x)[l]``: one product and one sum, which keeps
    the graph (and its gradient) small, so it compiles fast.
    """
    xt = _tensor(x)
    w = _tensor(weights)
    lagged = lag_stack(xt, l_max=l_max)  # (l_max, n_time, *batch)
    missing = ["x"] * (xt.ndim - w.ndim)  # right-align the kernel's batch with x's
    w_b = w.dimshuffle(0, "x", *missing, *range(1, w.ndim))
    out: Tensor = pt.sum(w_b * lagged, axis=0)
    return out


def lagged(x: np.ndarray[Any, Any], l_max: int) -> np.ndarray[Any, Any]:
    """Numeric lag stack of data: ``out[l, t] = x[t - l]`` (0 if ``t < l``), float64.

    The numpy twin of :func:`lag_stack`, to precompute the lags of media *data* once so
    that the model's adstock is :func:`adstock_lagged` (one product and one sum per
    evaluation, and a smaller graph to compile than slicing inside the model).

    Examples
    --------
    >>> lagged(np.array([1.0, 2.0, 3.0]), 2)
    array([[1., 2., 3.],
           [0., 1., 2.]])
    """
    values = np.asarray(x, dtype=np.float64)
    out = np.zeros((l_max, *values.shape))
    n_time = values.shape[0]
    for lag in range(min(l_max, n_time)):
        out[lag, lag:] = values[: n_time - lag]
    return out


def adstock_lagged(lags: TensorLike, weights: TensorLike) -> Tensor:
    """Adstock from a precomputed lag stack: ``y[t] = sum_l weights[l] * lags[l, t]``.

    Equal to ``adstock(x, weights, l_max)`` when ``lags = lagged(x, l_max)``.

    Parameters
    ----------
    lags
        Lagged media ``(l_max, n_time, *batch)`` (see :func:`lagged`).
    weights
        Kernel ``(l_max, *batch)`` (or ``(l_max,)``), right-aligned with the batch axes.

    Returns
    -------
    Tensor
        Adstocked media, shape ``(n_time, *batch)``.
    """
    lt = _tensor(lags)
    w = _tensor(weights)
    missing = ["x"] * (lt.ndim - 1 - w.ndim)
    w_b = w.dimshuffle(0, "x", *missing, *range(1, w.ndim))
    out: Tensor = pt.sum(w_b * lt, axis=0)
    return out


def lagged_channel_first(x: np.ndarray[Any, Any], l_max: int) -> np.ndarray[Any, Any]:
    """Numeric lag stack of ``(n_time, n_channel)`` data as ``(n_channel, n_time, l_max)``.

    ``out[c, t, l] = x[t - l, c]`` (0 if ``t < l``), C-contiguous float64: the layout in
    which the adstock of channel ``c`` is one matrix-vector product ``out[c] @ w[:, c]``
    (:func:`adstock_lagged_channel_first`), the same numbers as :func:`lagged` transposed.

    Examples
    --------
    >>> lagged_channel_first(np.array([[1.0], [2.0], [3.0]]), 2)[0]
    array([[1., 0.],
           [2., 1.],
           [3., 2.]])
    """
    values = np.asarray(x, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"x must be (n_time, n_channel), got shape {values.shape}")
    return np.ascontiguousarray(lagged(values, l_max).transpose(2, 1, 0))


def adstock_lagged_channel_first(lags: TensorLike, weights: TensorLike) -> Tensor:
    """Adstock from a channel-first lag stack: ``y[c, t] = sum_l lags[c, t, l] * weights[l, c]``.

    Equal to ``adstock_lagged(lagged(x, l_max), weights).T`` when
    ``lags = lagged_channel_first(x, l_max)``, but computed as one batched
    matrix-vector product (and its gradient as another) instead of a broadcast product
    over ``(l_max, n_time, n_channel)`` and a sum, which is cheaper to evaluate.

    Parameters
    ----------
    lags
        Lagged media ``(n_channel, n_time, l_max)`` (see :func:`lagged_channel_first`).
    weights
        Kernel ``(l_max, n_channel)``.

    Returns
    -------
    Tensor
        Adstocked media, channels first: shape ``(n_channel, n_time)``.
    """
    lt: Any = _tensor(lags)  # (pt.matmul is annotated for numpy arrays only)
    w = _tensor(weights)
    out: Tensor = pt.matmul(lt, w.T[:, :, None])[:, :, 0]
    return out


def lag_stack(x: TensorLike, *, l_max: int) -> Tensor:
    """Lagged copies of ``x`` along a new leading axis: ``out[l, t] = x[t - l]`` (0 if ``t < l``).

    Parameters
    ----------
    x
        Series with time on axis 0, shape ``(n_time, *batch)``.
    l_max
        Number of lags (static).

    Returns
    -------
    Tensor
        Shape ``(l_max, n_time, *batch)``, in the units of ``x``.
    """
    xt = _tensor(x)
    n_time = xt.shape[0]
    pad = pt.zeros((l_max - 1, *[xt.shape[i] for i in range(1, xt.ndim)]), dtype=xt.dtype)
    padded = pt.concatenate([pad, xt], axis=0)
    out: Tensor = pt.stack(
        [padded[l_max - 1 - lag : l_max - 1 - lag + n_time] for lag in range(l_max)]
    )
    return out


def hill(x: TensorLike, *, half_saturation: TensorLike, slope: TensorLike) -> Tensor:
    """Hill curve ``x**s / (x**s + K**s)`` as ``sigmoid(s * (log x - log K))``.

    Zero media gives exactly zero with finite gradients (the double-``where`` trick).

    Parameters
    ----------
    x
        Non-negative media, any shape.
    half_saturation
        ``K > 0`` in units of ``x``, broadcastable with ``x``.
    slope
        ``s > 0``, dimensionless.

    Returns
    -------
    Tensor
        Dimensionless response in ``[0, 1)``.
    """
    xt = _tensor(x)
    positive = pt.gt(xt, 0.0)
    safe = pt.switch(positive, xt, 1.0)
    h = pt.sigmoid(_tensor(slope) * (pt.log(safe) - pt.log(_tensor(half_saturation))))
    out: Tensor = pt.switch(positive, h, 0.0)
    return out


def logistic_saturation(x: TensorLike, *, lam: TensorLike) -> Tensor:
    """Logistic saturation ``tanh(lam * x / 2)``, twin of the numpy version.

    Parameters
    ----------
    x
        Non-negative media, any shape.
    lam
        Steepness ``> 0`` in 1 / (units of ``x``).

    Returns
    -------
    Tensor
        Dimensionless response in ``[0, 1)``.
    """
    out: Tensor = pt.tanh(0.5 * _tensor(lam) * _tensor(x))
    return out
