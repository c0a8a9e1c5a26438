"""The PyMC model of the MMM, built from an :class:`MMMSpec` and :class:`MMMData`.

On the scaled data (outcome / its mean, spend / each channel's typical weekly spend,
standardized controls)::

    y[t] ~ Normal(mu[t], sigma)
    mu[t] = intercept + trend * time[t] + knots(t) + fourier[t] @ gamma + holiday[t] @ delta
            + control_z[t] @ kappa + sum_c beta[c] * saturation(adstock(media[:, c]))[t]

With the default ``parameterization="roi"`` (Meridian-style) each channel's free
parameter is its ROI over the window, in units of the spec's ROI reference, and ``beta``
is the deterministic function of ROI and curve shape that gives that ROI::

    beta[c] = roi[c] * reference * spend_total[c] / (y_scale * sum_t saturation(...)[t])

so effect size and curve shape no longer trade off against each other along a curved
ridge (the source of the divergences of the ``beta`` form). Lift tests add
``implied_lift[i] ~ Normal(measured[i], se[i])`` (see :mod:`mixlens.mmm.calibration`).

Coordinates: ``date``, ``channel``, ``control``, ``fourier``, ``holiday``. Data enter
through ``pm.Data`` containers (``media``, its channel-first lag stack ``media_lags_cf``,
``roi_scale``, ``baseline_design`` (trend, Fourier, holiday and standardized control
columns, :func:`baseline_design`), ``y_scaled``) of static shape (:func:`pm_data`): the
compiled graph then depends on the data's shapes only, not on their values, so its numba
compilation is cached across processes and datasets of the same shapes (see
:mod:`mixlens.mmm._nutpie`). The graph is laid out for a cheap gradient (the function NUTS
evaluates at every leapfrog step): the adstock is one batched matrix-vector product over
the lag stack and the linear baseline terms one design-matrix product, with the same
density as a term-by-term graph (``tests/mmm/test_model_gradient.py``).

Posterior variables are named by parameter (``theta``, ``peak``, ``half_saturation``,
``slope``, ``roi`` (or ``beta``) over ``channel``; ``intercept``, ``trend``, ``gamma``
over ``fourier``, ``delta`` over ``holiday``, ``kappa`` over ``control``, ``sigma``); no
per-week deterministics are stored, so the trace stays small (parameters pooled across
channels, :attr:`MMMSpec.pooled` (by default Hill's ``half_saturation`` and ``slope``), are
deterministics of ``{name}_shift``, ``{name}_spread`` and ``{name}_z``; with ``time_knots``, the
time-varying baseline ``knots(t)`` adds ``knot_drift``, ``knot_z`` over ``knot_step`` and
the deterministic ``baseline_knots`` over ``knot``, see :func:`add_time_effect`);
:mod:`mixlens.mmm.results` recomputes contributions.
"""

# pytensor's functions are only partly annotated.
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

from typing import Any

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from mixlens.mmm import pt_transforms
from mixlens.mmm.calibration import LiftTests
from mixlens.mmm.data import MMMData
from mixlens.mmm.spec import MMMSpec, Prior

__all__ = [
    "MODEL_VARIABLES",
    "add_lift_likelihood",
    "add_time_effect",
    "baseline_design",
    "build_model",
    "channel_coords",
    "channel_dim",
    "lost_response",
    "pm_data",
    "removed_lags",
    "roi_scale",
    "time_coords",
]

#: Posterior variable of each non-channel prior key (the key names the prior in MMMSpec).
MODEL_VARIABLES: dict[str, str] = {
    "intercept": "intercept",
    "trend": "trend",
    "fourier": "gamma",
    "holiday": "delta",
    "control": "kappa",
    "sigma": "sigma",
    "knot_drift": "knot_drift",
}

#: Weeks per year, the unit of the ``knot_drift`` prior (the random walk's scale).
_WEEKS_PER_YEAR = 52.0


def pm_data(name: str, value: Any, dims: str | tuple[str, ...] | None = None) -> Any:
    """Register ``value`` as ``pm.Data`` of static shape in the model in context.

    With static shapes PyTensor needs no run-time shape checks, so the rewritten graph
    (and its compilation cache key) is the same in every process; the values stay
    inputs of the compiled functions, so other data of the same shapes reuse the cache.
    """
    array = np.asarray(value)
    return pm.Data(name, array, dims=dims, shape=array.shape)


def _distribution(prior: Prior) -> Any:
    dist = getattr(pm, prior.dist, None)
    if dist is None:  # pragma: no cover - Prior checks the family
        raise ValueError(f"PyMC has no distribution {prior.dist!r}")
    return dist


def channel_dim(spec: MMMSpec, name: str) -> str:
    """Return the dimension of channel parameter ``name``.

    ``channel``, or its transform group's when transforms differ by channel
    (:mod:`mixlens.mmm.channel_transforms`).
    """
    for family in (spec.adstocks, spec.saturations):
        if name in family.parameters:
            return family.dim_of(name)
    return "channel"


def channel_coords(spec: MMMSpec) -> dict[str, list[str]]:
    """Coordinates of the channel dimensions: ``channel`` and the transform groups'."""
    return {"channel": list(spec.channels), **spec.adstocks.coords, **spec.saturations.coords}


def _channel_variable(spec: MMMSpec, name: str, *, pool: bool = False) -> Any:
    """One random variable over the channels that have ``name``, with per-channel priors.

    Its dimension is :func:`channel_dim` (``channel`` unless transforms differ by
    channel). With ``pool`` (the national model, :func:`build_model`), a parameter named in
    ``spec.pooled_parameters`` gets its partially pooled prior (:func:`_pooled_lognormal`);
    without it (the geo model's default) each channel keeps its own prior.
    """
    dim = channel_dim(spec, name)
    priors = [spec.channel_prior(name, channel) for channel in spec.channels_with(name)]
    keys = set(priors[0].params)
    if any(set(p.params) != keys for p in priors):
        raise ValueError(
            f"per-channel priors of {name!r} must use the same parameter names, "
            f"got {sorted({tuple(sorted(p.params)) for p in priors})}"
        )
    params = {k: np.array([p.params[k] for p in priors]) for k in sorted(keys)}
    if pool and name in spec.pooled_parameters:
        return _pooled_lognormal(name, params["mu"], params["sigma"], dim)
    return _distribution(priors[0])(name, **params, dims=dim)


#: Prior sd of the pooled shift and scale of the pooled spread, in prior sds: the two
#: add up to each channel's own prior variance (``0.5 + E[spread**2] = 1``).
_POOL_SD = float(np.sqrt(0.5))


def _pooled_lognormal(name: str, mu: Any, sigma: Any, dim: str = "channel") -> Any:
    """``name`` over ``dim`` with its log-normal priors partially pooled (non-centred).

    ``log p_c = mu_c + sigma_c * (shift + spread * z_c)`` (see :attr:`MMMSpec.pooled`);
    the free variables are ``{name}_shift``, ``{name}_spread`` and ``{name}_z``.
    """
    shift = pm.Normal(f"{name}_shift", 0.0, _POOL_SD)
    spread = pm.HalfNormal(f"{name}_spread", _POOL_SD)
    z = pm.Normal(f"{name}_z", 0.0, 1.0, dims=dim)
    return pm.Deterministic(name, pt.exp(mu + sigma * (shift + spread * z)), dims=dim)


def _model_variable(spec: MMMSpec, key: str, dims: str | None = None) -> Any:
    prior = spec.model_prior(key)
    return _distribution(prior)(MODEL_VARIABLES[key], **dict(prior.params), dims=dims)


def time_coords(data: MMMData) -> dict[str, Any]:
    """Coordinates of the time-varying baseline (``knot``, ``knot_step``); empty without one."""
    if not data.n_knots:
        return {}
    return {"knot": np.arange(data.n_knots), "knot_step": np.arange(data.n_knots - 1)}


def add_time_effect(spec: MMMSpec, data: MMMData, *, centred: bool = False) -> Any | None:
    """Add the time-varying baseline to the model in context; its weekly values ``(date,)``.

    A random walk across the knots, non-centred by default::

        knot_drift ~ prior "knot_drift"            # its standard deviation over one year
        walk[0] = 0,  walk[k] = walk[k-1] + knot_drift * sqrt(gap_k / 52) * knot_z[k-1]
        baseline_knots = walk - mean_t(W @ walk)   # centred over the fitted weeks
        time_effect[t] = W[t] @ baseline_knots

    With ``centred`` the steps are the free variables instead,
    ``knot_steps[k-1] ~ Normal(0, knot_drift * sqrt(gap_k / 52))``: the better geometry
    when the data pin each knot down (one knot per week on a geo panel, where every week
    is seen in every geo), since the non-centred ``knot_z`` then has to move with
    ``1 / knot_drift`` (a funnel that mixes slowly).

    with ``gap_k`` the weeks between knots ``k-1`` and ``k`` and ``W`` the interpolation
    design (:func:`mixlens.mmm.knots.knot_weights`). Centring leaves the level to the
    intercept; the stored ``baseline_knots`` evaluate the curve at any weeks. Returns
    None when ``data`` has no knots.
    """
    if not data.n_knots:
        return None
    gaps = np.diff(data.knot_weeks)
    prior = spec.model_prior("knot_drift")
    drift = _distribution(prior)("knot_drift", **dict(prior.params))
    step_sd = drift * np.sqrt(gaps / _WEEKS_PER_YEAR)
    if centred:
        steps = pm.Normal("knot_steps", 0.0, step_sd, dims="knot_step")
    else:
        steps = step_sd * pm.Normal("knot_z", 0.0, 1.0, dims="knot_step")
    walk = pt.concatenate([pt.zeros(1), pt.cumsum(steps)])
    centre = data.knot_weights.mean(axis=0)
    knots = pm.Deterministic("baseline_knots", walk - pt.dot(centre, walk), dims="knot")
    weights = pm_data("knot_weights", data.knot_weights, dims=("date", "knot"))
    return pt.dot(weights, knots)


def roi_reference(data: MMMData, spec: MMMSpec) -> float:
    """Return the unit of the ``roi`` variable, outcome units per spend unit (see MMMSpec)."""
    return spec.roi_reference if spec.roi_reference is not None else data.reference_roi


def roi_scale(data: MMMData, spec: MMMSpec) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Per channel ``reference * total spend / y_scale``: ``beta = roi * roi_scale / sum_t f``.

    ``f`` is the channel's saturated adstocked media (the ``roi`` parameterisation).
    """
    out: np.ndarray[Any, np.dtype[np.float64]] = (
        roi_reference(data, spec) * data.spend.sum(axis=0) / data.y_scale
    )
    return out


def baseline_design(data: MMMData, spec: MMMSpec) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Columns of the linear baseline terms, ``(date, k)``, in the model's coefficient order.

    Trend (if ``spec.trend``), then the Fourier terms, holidays and standardized
    controls of ``data``: ``design @ concat([trend], gamma, delta, kappa)`` is the sum of
    those terms of ``mu``, evaluated as one matrix-vector product.
    """
    columns = [data.trend[:, None]] if spec.trend else []
    columns += [data.fourier] if data.fourier_terms else []
    columns += [data.holiday] if data.holidays else []
    columns += [data.control_z] if data.controls else []
    if not columns:
        return np.zeros((data.n_weeks, 0))
    out: np.ndarray[Any, np.dtype[np.float64]] = np.ascontiguousarray(
        np.concatenate(columns, axis=1), dtype=np.float64
    )
    return out


def build_model(
    data: MMMData,
    spec: MMMSpec,
    *,
    lift_tests: LiftTests | None = None,
    keep_mu: bool = False,
) -> pm.Model:
    """Build the PyMC model of ``spec`` on ``data``.

    Parameters
    ----------
    data
        The prepared weekly panel (see :meth:`MMMData.from_panel`).
    spec
        Channels, transforms, baseline terms and priors.
    lift_tests
        Lift tests aligned with ``data`` (:func:`~mixlens.mmm.calibration.prepare_lift_tests`);
        each adds its measured incremental outcome to the likelihood (``lift``, over
        ``lift_test``).
    keep_mu
        Also store the scaled mean ``mu`` (``date``) and the lift tests' implied lift
        ``lift_implied`` (scaled) as deterministics; off by default because it makes
        traces ``n_weeks`` times larger (tests use it).

    Returns
    -------
    pymc.Model
        The model, with the observed variable ``y`` (scaled outcome, ``date``).

    Raises
    ------
    ValueError
        If ``data`` was prepared for other channels or controls than ``spec``'s.
    """
    if data.channels != spec.channels or data.controls != spec.controls:
        raise ValueError("data were prepared for another spec (channels or controls differ)")
    coords = {
        "date": data.dates,
        **channel_coords(spec),
        "control": list(data.controls),
        "fourier": list(data.fourier_terms),
        "holiday": list(data.holidays),
        **time_coords(data),
    }
    if lift_tests is not None and lift_tests.n_tests:
        coords["lift_test"] = lift_tests.labels
    with pm.Model(coords=coords) as model:
        pm_data("media", data.media, dims=("date", "channel"))
        y_scaled = pm_data("y_scaled", data.y / data.y_scale, dims="date")
        # channel-first lag stack (channel, date, l_max): the adstock is one batched
        # matrix-vector product per evaluation (and its gradient another)
        lags = pm_data(
            "media_lags_cf", pt_transforms.lagged_channel_first(data.media, spec.adstocks.l_max)
        )

        adstock_params = {
            p: _channel_variable(spec, p, pool=True) for p in spec.adstocks.parameters
        }
        saturation_params = {
            p: _channel_variable(spec, p, pool=True) for p in spec.saturations.parameters
        }
        weights = spec.adstocks.pt_weights(adstock_params)  # (l_max, channel)
        adstocked = pt_transforms.adstock_lagged_channel_first(lags, weights)  # (channel, date)
        response_cf = spec.saturations.pt_apply(adstocked, saturation_params)  # (channel, date)
        if spec.parameterization == "roi":
            roi = _channel_variable(spec, "roi")
            # beta = roi * reference * spend_c / (y_scale * sum_t response), per channel
            scale = pm_data("roi_scale", roi_scale(data, spec), dims="channel")
            beta = pm.Deterministic(
                "beta", roi * scale / pt.sum(response_cf, axis=1), dims="channel"
            )
        else:
            beta = _channel_variable(spec, "beta")
        mu = _model_variable(spec, "intercept") + pt.dot(beta, response_cf)
        if lift_tests is not None and lift_tests.n_tests:
            _add_lift_tests(
                spec,
                data,
                lift_tests,
                weights,
                saturation_params,
                response_cf.T,
                beta,
                keep=keep_mu,
            )

        # the linear baseline terms enter as one design-matrix product (see baseline_design)
        coefficients = []
        if spec.trend:
            coefficients.append(_model_variable(spec, "trend")[None])
        time_effect = add_time_effect(spec, data)
        if data.fourier_terms:
            coefficients.append(_model_variable(spec, "fourier", "fourier"))
        if data.holidays:
            coefficients.append(_model_variable(spec, "holiday", "holiday"))
        if data.controls:
            coefficients.append(_model_variable(spec, "control", "control"))
        if coefficients:
            design = pm_data("baseline_design", baseline_design(data, spec))
            mu = mu + pt.dot(design, pt.concatenate(coefficients))
        if time_effect is not None:
            mu = mu + time_effect
        if keep_mu:
            mu = pm.Deterministic("mu", mu, dims="date")
        pm.Normal("y", mu=mu, sigma=_model_variable(spec, "sigma"), observed=y_scaled, dims="date")
    return model


def _add_lift_tests(
    spec: MMMSpec,
    data: MMMData,
    tests: LiftTests,
    weights: Any,
    saturation_params: dict[str, Any],
    response: Any,
    beta: Any,
    *,
    keep: bool,
) -> None:
    """Add ``lift ~ Normal(measured, se)`` (scaled units) for each lift test.

    With ``keep``, the implied lift is also stored as ``lift_implied`` (tests use it).
    """
    idx = tests.channel_index
    lost = lost_response(
        spec,
        removed_lags(spec, data.media, idx, tests.exposure),
        weights,
        saturation_params,
        response,
        idx,
    )
    implied = beta[idx] * lost * tests.share  # a geo holdout read nationally: its share
    add_lift_likelihood(tests, implied, np.full(tests.n_tests, data.y_scale), keep=keep)


def removed_lags(
    spec: MMMSpec,
    media: np.ndarray[Any, Any],
    channel_index: np.ndarray[Any, Any],
    exposure: np.ndarray[Any, Any],
) -> Any:
    """Lag stack of each lift test's media without its spend, as ``pm.Data`` ``lift_media_lags``.

    ``media`` is the scaled media (time first, channels last); ``exposure`` the share of
    the spend each test removes, broadcastable to ``media[..., channel_index]``. Returns
    ``(l_max, *media.shape[:-1], n_tests)``, the input of :func:`lost_response`.
    """
    removed = media[..., channel_index] * (1.0 - exposure)
    return pm_data("lift_media_lags", pt_transforms.lagged(removed, spec.adstocks.l_max))


def lost_response(
    spec: MMMSpec,
    removed: Any,
    weights: Any,
    saturation_params: dict[str, Any],
    response: Any,
    channel_index: Any,
) -> Any:
    """Sum over weeks of the response lost when lift tests remove their spend.

    Parameters
    ----------
    spec
        The model's spec (its adstock and saturation).
    removed
        Lag stack of each test's scaled media without the test's spend,
        ``(l_max, date, ..., n_tests)`` (:func:`removed_lags`).
    weights, saturation_params
        The adstock kernel ``(l_max, channel)`` and saturation parameters (each over the
        channels that have it, see :mod:`mixlens.mmm.channel_transforms`).
    response
        The saturated response to the scaled media, time on axis 0 and channels on the
        last axis (``(date, channel)`` or ``(date, geo, channel)``).
    channel_index
        Each test's channel, ``(n_tests,)``.

    Returns
    -------
    Tensor
        ``sum_t response[t, ..., c_i] - response_without_test[t, ..., c_i]``, shape
        ``response.shape[1:-1] + (n_tests,)``, in the response's (saturated) units.
    """
    adstocked = pt_transforms.adstock_lagged(removed, weights[:, channel_index])
    counterfactual = spec.saturations.pt_apply(
        adstocked, saturation_params, axis=-1, channel_index=np.asarray(channel_index)
    )
    return pt.sum(response[..., channel_index] - counterfactual, axis=0)


def add_lift_likelihood(tests: LiftTests, implied: Any, scale: Any, *, keep: bool) -> None:
    """Add ``implied ~ Normal(measured / scale, se / scale)`` over ``lift_test``.

    ``implied`` is each test's implied lift in scaled units (target units divided by
    ``scale``, the outcome scale of each test, ``(n_tests,)``), so the term is the
    likelihood of ``Normal(measured, se)`` in the target's units. With ``keep``,
    ``implied`` is also stored as the deterministic ``lift_implied`` (scaled units).
    """
    if keep:
        implied = pm.Deterministic("lift_implied", implied, dims="lift_test")
    pm.Normal(
        "lift",
        mu=implied,
        sigma=tests.se / scale,
        observed=tests.measured / scale,
        dims="lift_test",
    )
