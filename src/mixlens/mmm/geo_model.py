"""The hierarchical (geo) PyMC model: channel effects partially pooled across geos.

Meridian's structure on :class:`~mixlens.mmm.geo_data.GeoMMMData` (each geo's outcome
divided by its mean, its spend by its typical weekly spend)::

    y[t, g] ~ Normal(mu[t, g], sigma[g])
    mu[t, g] = intercept[g] + trend * time[t] + knots(t) + fourier[t] @ gamma
               + holiday[t] @ delta + control_z[t, g] @ kappa
               + sum_c beta[g, c] * sat(adstock(media[:, g, c]))[t]

Adstock and saturation parameters are shared by the geos (in per-geo scaled media, so a
geo's half-saturation is in multiples of its own typical spend). Each geo's ROI is
partially pooled, non-centred, around the channel's ROI::

    roi_geo[g, c] = roi[c] * exp(roi_geo_sd[c] * roi_geo_z[g, c] - roi_geo_sd[c]**2 / 2)
    roi_geo_z[g, c] ~ Normal(0, 1),   roi_geo_sd[c] ~ HalfNormal(GEO_ROI_SD)

(so ``roi[c]`` is the mean of the geo ROIs' distribution), and ``beta[g, c]`` is the
deterministic function of ``roi_geo`` that gives the geo that ROI over the window, as in
the national model. Geo intercepts are partially pooled too,
``intercept[g] ~ Normal(intercept_mean, intercept_geo_sd)``: with independent intercepts,
a change of a channel's ROI had to be matched by every geo's intercept at once, and chains
mixed slowly (R-hat 1.1 on Meridian's 20-geo panel). The noise scale is per geo; trend,
the time-varying baseline ``knots(t)`` (with ``time_knots``: by default one knot per week,
Meridian's geo default, see :func:`geo_time_effect`), seasonality, holidays and control
effects are shared in scaled units. The model fits the terms of the spec it is given:
:class:`~mixlens.mmm.geo.GeoMMM` first removes the shared time terms that the knots span
(:func:`~mixlens.mmm.geo_data.identified_spec`; all three with one knot per week), which
the likelihood cannot tell from the knots.

Parameterisation (what NUTS samples; the model above is unchanged by it, see
``tests/mmm/test_geo_parameterisation.py``). With ``v[t, g]`` the part of ``mu`` that
varies by geo and week (media contributions and control effects):

* each geo's intercept given everything else (:func:`_conditional_intercepts`): its
  conditional posterior is normal, and NUTS samples its standardised value
  ``intercept_geo_z`` (``intercept`` is a deterministic). In these coordinates the
  posterior is the other parameters' with the intercepts integrated out, times a
  standard normal: no funnel between the intercepts and their spread (the centred
  intercepts had one: at 4 chains x 1000 draws on Meridian's panel a chain stuck where
  the spread was 0.001 against 0.014 in the others, every draw divergent), and no
  intercept has to move with an ROI (the non-centred ones had to: R-hat 1.1).
* their mean as ``level_mean = intercept_mean + mean_g mean_t v[t, g]`` (the media's
  mean is ``roi_geo * roi_scale / T``), which the data pin down whatever the ROI.
* the knots' random walk through the centred knot values plus ``mean_g v[t, g]``
  (``knot_free``, :func:`geo_time_effect`) rather than its steps, each of which moves
  every later knot, and which had to move with every ROI.
* adstock as one batched matrix-vector product over a channel-first lag stack
  (:func:`channel_first_lags`); with one knot per week, the knots directly (no identity
  interpolation matrix).

Each is a change of variables whose Jacobian is constant or carried by the density: the
posterior is the same. On Meridian's 20-geo panel (2 chains x 300 draws after 300 tuning
steps) the knots' and levels' coordinates took NUTS from 390 leapfrog steps per draw to
31, and the whole ``mixlens mmm fit`` from 430 to 86 CPU seconds (34 with a warm compile
cache; benchmarks/RESULTS.md, ``peers_mmm_geo``); the conditional intercepts then removed
the funnel (``peers_mmm_geo_4x1000``, ``mmm_geo_intercepts``).

Lift tests (:func:`~mixlens.mmm.calibration.prepare_geo_lift_tests`) add, per test ``i``
of channel ``c`` in the geos ``G_i`` it covers (every geo for a national test)::

    implied[i] = sum_{g in G_i} y_scale[g] * beta[g, c]
                 * sum_t (sat(adstock(media[:, g, c]))[t] - sat(adstock(media_cf[:, g, c]))[t])
    implied[i] / scale[i] ~ Normal(measured[i] / scale[i], se[i] / scale[i])

with ``media_cf`` the media without the spend inside the test's window and ``scale[i]``
the summed outcome scale of its geos (a geo test's likelihood in the geo's scaled units).
"""

# pytensor's functions are only partly annotated.
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from numpy.typing import NDArray

from mixlens.mmm import pt_transforms
from mixlens.mmm.calibration import LiftTests
from mixlens.mmm.data import MMMData
from mixlens.mmm.geo_data import GeoMMMData
from mixlens.mmm.knots import free_coordinates, knot_reflector
from mixlens.mmm.model import (
    _channel_variable,
    _distribution,
    _model_variable,
    add_lift_likelihood,
    channel_coords,
    lost_response,
    pm_data,
    removed_lags,
    time_coords,
)
from mixlens.mmm.spec import MMMSpec, Prior

__all__ = [
    "GEO_INTERCEPT_SD",
    "GEO_ROI_SD",
    "WEEKS_PER_YEAR",
    "build_geo_model",
    "channel_first_lags",
    "geo_time_effect",
]

FloatArray = NDArray[np.float64]

#: Prior families of ``intercept`` with support on the whole real line: their mean is
#: sampled shifted (``level_mean``); another family samples ``intercept_mean`` itself.
_REAL_LINE = frozenset({"Normal", "StudentT", "Cauchy", "Laplace", "Logistic", "Gumbel"})

#: Weeks per year, the unit of the ``knot_drift`` prior (as in the national model).
WEEKS_PER_YEAR = 52.0

#: Prior of the spread of log ROI across geos, per channel: HalfNormal with this scale
#: (geos' ROIs typically within about 30% of the channel's).
GEO_ROI_SD = Prior("HalfNormal", {"sigma": 0.3})

#: Prior of the spread of the geos' intercepts around their mean (outcome scaled by each
#: geo's mean, so intercepts are fractions of the geo's mean outcome).
GEO_INTERCEPT_SD = Prior("HalfNormal", {"sigma": 0.2})


def build_geo_model(
    data: GeoMMMData,
    spec: MMMSpec,
    *,
    geo_roi_sd: Prior = GEO_ROI_SD,
    lift_tests: LiftTests | None = None,
    keep_lift: bool = False,
    keep_mu: bool = False,
) -> pm.Model:
    """Build the hierarchical PyMC model of ``spec`` on a geo panel.

    Parameters
    ----------
    data
        The prepared geo panel.
    spec
        Channels, transforms, baseline terms and priors (``roi`` parameterisation).
    geo_roi_sd
        Prior of each channel's spread of log ROI across geos (a positive family).
    lift_tests
        Lift tests from :func:`~mixlens.mmm.calibration.prepare_geo_lift_tests` (with a
        ``geo_mask``); each adds its measured incremental outcome to the likelihood
        (``lift``, over ``lift_test``).
    keep_lift
        Also store each test's implied lift (scaled units) as ``lift_implied``.
    keep_mu
        Also store the expected scaled outcome as ``mu`` over ``(date, geo)`` (tests).

    Returns
    -------
    pymc.Model
        Observed ``y`` over ``(date, geo)``; posterior variables ``roi``, ``roi_geo_sd``
        (channel), ``roi_geo_z`` (geo, channel), deterministic ``beta`` (geo, channel),
        adstock and saturation parameters (channel), ``intercept_mean``,
        ``intercept_geo_sd``, ``intercept_geo_z`` and deterministic ``intercept`` (geo),
        ``sigma`` (geo), ``trend``, ``gamma``, ``delta``, ``kappa``, and with knots
        ``knot_drift``, ``knot_free`` and deterministic ``baseline_knots``.

    Raises
    ------
    ValueError
        If the spec uses the ``beta`` parameterisation, the data were prepared for
        another spec, or the lift tests were not prepared for a geo model.
    """
    if spec.parameterization != "roi":
        raise ValueError("the geo model supports the 'roi' parameterisation only")
    base = data.base
    if base.channels != spec.channels or base.controls != spec.controls:
        raise ValueError("data were prepared for another spec (channels or controls differ)")
    coords = {
        "date": base.dates,
        "geo": list(data.geos),
        **channel_coords(spec),
        "control": list(spec.controls),
        "fourier": list(base.fourier_terms),
        "holiday": list(base.holidays),
        **time_coords(base),
    }
    if base.n_knots:
        coords["knot_coordinate"] = np.arange(base.n_knots - 1)
    with_lift = lift_tests is not None and lift_tests.n_tests > 0
    if lift_tests is not None and with_lift:
        if lift_tests.geo_mask is None or lift_tests.geo_mask.shape[0] != data.n_geos:
            raise ValueError("geo lift tests need prepare_geo_lift_tests on the same data")
        coords["lift_test"] = lift_tests.labels
    spend_total = data.spend.sum(axis=0)  # (G, C)
    spends = spend_total > 0
    reference = spec.roi_reference if spec.roi_reference is not None else data.reference_roi
    scale = reference * spend_total / data.y_scale[:, None]  # (G, C)
    n_weeks, n_geos, n_channels = data.media.shape
    with pm.Model(coords=coords) as model:
        pm_data("media", data.media, dims=("date", "geo", "channel"))
        y_scaled = pm_data("y_scaled", data.y / data.y_scale[None, :], dims=("date", "geo"))
        # channel-first lag stack (C, T * G, l_max): adstock is one batched matrix-vector
        # product per evaluation (and its gradient another), not a product and a sum
        lags = pm_data("media_lags_cf", channel_first_lags(data.media, spec.adstocks.l_max))
        adstock_params = {p: _channel_variable(spec, p) for p in spec.adstocks.parameters}
        saturation_params = {p: _channel_variable(spec, p) for p in spec.saturations.parameters}
        weights = spec.adstocks.pt_weights(adstock_params)  # (l_max, C)
        adstocked = pt.matmul(lags, weights.T[:, :, None])[:, :, 0]  # (C, T * G)
        flat = spec.saturations.pt_apply(adstocked, saturation_params)  # (C, T * G)
        response_cf = flat.reshape((n_channels, n_weeks, n_geos))  # (C, T, G)

        roi = _channel_variable(spec, "roi")
        sd = _distribution(geo_roi_sd)("roi_geo_sd", **dict(geo_roi_sd.params), dims="channel")
        z = pm.Normal("roi_geo_z", 0.0, 1.0, dims=("geo", "channel"))
        roi_geo = roi[None, :] * pt.exp(sd[None, :] * z - 0.5 * sd[None, :] ** 2)
        totals = pt.sum(response_cf, axis=1).T  # (G, C)
        # data, not constants: the compiled graph is then the same for any data (cache)
        spends = pt.gt(pm_data("spend_mask", spends.astype(np.float64)), 0.0)
        scale = pm_data("roi_scale", scale, dims=("geo", "channel"))
        safe = pt.switch(spends, totals, 1.0)
        beta = pm.Deterministic(
            "beta",
            pt.switch(spends, roi_geo * scale / safe, 0.0),
            dims=("geo", "channel"),
        )
        contribution = pt.sum(response_cf * beta.T[:, None, :], axis=0)  # (T, G)
        # mean weekly media contribution per geo: beta * totals / T = roi_geo * scale / T
        geo_mean = pt.sum(pt.switch(spends, roi_geo * scale, 0.0), axis=1) / n_weeks
        varying = contribution  # what varies by geo and week: media and controls
        if spec.controls:
            control = pm_data("control_z", data.control_z, dims=("date", "geo", "control"))
            control_mean = pm_data("control_z_geo_mean", data.control_z.mean(axis=0))
            kappa = _model_variable(spec, "control", "control")
            varying = varying + pt.tensordot(control, kappa, 1)
            geo_mean = geo_mean + pt.dot(control_mean, kappa)
        # The mean of the geo intercepts, sampled with the geos' mean media and control
        # effect added (``level_mean = intercept_mean + mean_g geo_mean[g]``, the prior
        # shifted: a unit Jacobian): the intercepts' mean had to move with every ROI.
        prior = spec.model_prior("intercept")
        overall = pt.mean(geo_mean)
        if prior.dist in _REAL_LINE:
            level_mean = pm.CustomDist(
                "level_mean",
                overall,
                dist=partial(_shifted, dist=_distribution(prior), params=dict(prior.params)),
            )
            intercept_mean = pm.Deterministic("intercept_mean", level_mean - overall)
        else:  # a bounded prior keeps its own variable (and its transform to the real line)
            intercept_mean = _distribution(prior)("intercept_mean", **dict(prior.params))
        spread = _distribution(GEO_INTERCEPT_SD)(
            "intercept_geo_sd", **dict(GEO_INTERCEPT_SD.params)
        )
        shared = pt.zeros(n_weeks)  # the shared time terms, per week
        if lift_tests is not None and with_lift:
            response = response_cf.dimshuffle(1, 2, 0)  # (T, G, C), as lost_response wants
            _add_geo_lift_tests(
                spec,
                data,
                lift_tests,
                (weights, saturation_params, response),
                beta,
                keep_lift,
            )
        if spec.trend:
            time = pm_data("trend_feature", base.trend, dims="date")
            shared = shared + _model_variable(spec, "trend") * time
        if base.fourier_terms:
            fourier = pm_data("fourier_features", base.fourier, dims=("date", "fourier"))
            shared = shared + pt.dot(fourier, _model_variable(spec, "fourier", "fourier"))
        if base.holidays:
            holiday = pm_data("holiday_features", base.holiday, dims=("date", "holiday"))
            shared = shared + pt.dot(holiday, _model_variable(spec, "holiday", "holiday"))
        # sum_t of mu without the intercepts, in closed form (so that the intercepts'
        # gradient takes no second pass over the media): the media and control effects
        # sum to n_weeks * geo_mean by construction of beta, the knots' weekly values to
        # zero (they are centred: the level is the intercepts')
        shared_sum = pt.sum(shared)
        time_effect = geo_time_effect(spec, base, pt.mean(varying, axis=1))
        if time_effect is not None:
            shared = shared + time_effect
        sigma = _model_variable(spec, "sigma", "geo")
        y_sum = pm_data("y_scaled_sum", (data.y / data.y_scale[None, :]).sum(axis=0))
        residual_sum = y_sum - n_weeks * geo_mean - shared_sum
        intercept = _conditional_intercepts(residual_sum, n_weeks, sigma, intercept_mean, spread)
        rest = varying + shared[:, None]
        mu = intercept[None, :] + rest
        if keep_mu:
            mu = pm.Deterministic("mu", mu, dims=("date", "geo"))
        pm.Normal("y", mu=mu, sigma=sigma[None, :], observed=y_scaled, dims=("date", "geo"))
    return model


def _conditional_intercepts(
    residual_sum: Any, n_weeks: int, sigma: Any, mean: Any, spread: Any
) -> Any:
    """Add the geo intercepts to the model in context, sampled given everything else.

    Given the other parameters, ``intercept[g] ~ Normal(mean, spread)`` and
    ``y[t, g] ~ Normal(intercept[g] + rest[t, g], sigma[g])`` make each intercept's
    conditional posterior normal, with precision ``P = T / sigma**2 + 1 / spread**2`` and
    mean ``(residual_sum / sigma**2 + mean / spread**2) / P`` (``residual_sum[g] =
    sum_t y[t, g] - rest[t, g]``). NUTS samples ``intercept_geo_z`` with
    ``intercept = conditional mean + P**-0.5 * intercept_geo_z``: the density carries the
    intercepts' prior and the Jacobian ``sum_g log P[g]**-0.5`` (a potential) in place of
    the standard normal's, so the posterior is unchanged, and in these coordinates it is
    the other parameters' (intercepts integrated out) times a standard normal for
    ``intercept_geo_z``: no funnel between the intercepts and their spread, and no
    intercept has to move with an ROI. Returns ``intercept``, shape ``(G,)``.
    """
    noise_precision = sigma**-2
    prior_precision = spread**-2
    precision = n_weeks * noise_precision + prior_precision
    centre = (residual_sum * noise_precision + mean * prior_precision) / precision
    z = pm.Normal("intercept_geo_z", 0.0, 1.0, dims="geo")
    intercept = pm.Deterministic("intercept", centre + z * precision**-0.5, dims="geo")
    # log Normal(intercept; mean, spread) - log Normal(z; 0, 1) + log P**-0.5, summed over
    # the geos (the 2 pi terms cancel); written out, as a few scalar-sized nodes matter
    # in a gradient of a few hundred microseconds
    deviation = intercept - mean
    density = (
        -0.5 * prior_precision * pt.sum(deviation**2)
        + pt.sum(z**2 - pt.log(precision)) * 0.5
        - z.shape[0] * pt.log(spread)
    )
    pm.Potential("intercept_geo_density", density)
    return intercept


def _shifted(shift: Any, size: Any, *, dist: Any, params: dict[str, float]) -> Any:
    """Return a prior's random variable plus ``shift`` (PyMC derives its log density)."""
    return dist.dist(**params, size=size) + shift


def channel_first_lags(media: FloatArray, l_max: int) -> FloatArray:
    """Lag stack of geo media ``(T, G, C)`` as ``(C, T * G, l_max)``, C-contiguous.

    ``out[c, t * G + g, l] = media[t - l, g, c]`` (0 before the first week): the layout
    in which the adstock of every geo and week of channel ``c`` is ``out[c] @ w[:, c]``.
    """
    n_weeks, n_geos, n_channels = media.shape
    stack = pt_transforms.lagged(media, l_max)  # (l_max, T, G, C)
    flat = stack.reshape(l_max, n_weeks * n_geos, n_channels).transpose(2, 1, 0)
    return np.ascontiguousarray(flat)


def geo_time_effect(spec: MMMSpec, base: MMMData, media: Any = None) -> Any | None:
    """Add the shared time-varying baseline to the model in context; its weekly values.

    The same random walk across knots as the national model's
    (:func:`~mixlens.mmm.model.add_time_effect`, centred form)::

        knot_drift ~ prior "knot_drift"
        knots[k] - knots[k-1] ~ Normal(0, knot_drift * sqrt(gap_k / 52))
        centre @ knots = 0                       # the level is the intercepts'

    but its free variable is ``knot_free``: the ``K - 1`` coordinates
    (:func:`~mixlens.mmm.knots.centred_knots`) of the centred knot values plus ``media``
    (the weekly media contribution averaged over geos, ``(date,)``, projected on the
    knots and centred), rather than the steps::

        knots = centred_knots(knot_free) - centred(pinv(W) @ media)

    Each step moves every later knot, so when the data pin each knot down (every geo
    sees every week) the steps are strongly correlated (NUTS took 390 leapfrog steps per
    draw on Meridian's 20-geo panel after 300 tuning steps); the weekly values
    are nearly independent a posteriori. Adding the geos' mean media contribution makes
    them so whatever the ROI too (what a week's knot and media explain together is
    pinned down; the ROI is left to the geos' differences). Given the other variables
    the map from steps to ``knot_free`` is a linear bijection shifted by a function of
    them, so the posterior is the same; the log density differs from the steps' by a
    constant (the map's log determinant), which is left out.

    Stored: ``knot_drift``, ``knot_free`` (``knot_coordinate``) and the deterministic
    ``baseline_knots`` (``knot``). Returns None when ``base`` has no knots.
    """
    if not base.n_knots:
        return None
    n_knots = base.n_knots
    gaps = np.diff(base.knot_weeks)
    prior = spec.model_prior("knot_drift")
    drift = _distribution(prior)("knot_drift", **dict(prior.params))
    step_sd = drift * np.sqrt(gaps / WEEKS_PER_YEAR)
    centre = base.knot_weights.mean(axis=0)
    reflector = knot_reflector(centre)
    weekly = np.array_equal(base.knot_weights, np.eye(n_knots))  # one knot per week
    if media is None:
        shift = pt.zeros(n_knots)
    elif weekly:
        shift = media
    else:
        projection = pm_data("knot_projection", np.linalg.pinv(base.knot_weights))
        shift = pt.dot(projection, media)
    shift = shift - pt.dot(centre, shift)
    free = pm.CustomDist(
        "knot_free",
        step_sd,
        shift,
        logp=partial(_walk_logp, reflector=reflector),
        random=partial(_walk_random, reflector=reflector, centre=centre),
        support_point=_walk_support_point,
        signature="(n),(k)->(n)",
        dims="knot_coordinate",
    )
    knots = pm.Deterministic(
        "baseline_knots", _pt_centred_knots(free, reflector) - shift, dims="knot"
    )
    if weekly:
        return knots
    weights = pm_data("knot_weights", base.knot_weights, dims=("date", "knot"))
    return pt.dot(weights, knots)


def _pt_centred_knots(free: Any, reflector: FloatArray) -> Any:
    """PyTensor twin of :func:`~mixlens.mmm.knots.centred_knots` (one vector)."""
    padded = pt.concatenate([free, pt.zeros(1)])
    factor = 2.0 * pt.dot(padded, reflector) / float(reflector @ reflector)
    return padded - factor * reflector


def _walk_logp(value: Any, step_sd: Any, shift: Any, *, reflector: FloatArray) -> Any:
    """Log density of the knots' random walk at free coordinates ``value``."""
    knots = _pt_centred_knots(value, reflector) - shift
    steps = knots[1:] - knots[:-1]
    return pt.sum(pm.logp(pm.Normal.dist(0.0, step_sd), steps))


def _walk_random(
    step_sd: FloatArray,
    shift: FloatArray,
    rng: np.random.Generator,
    size: tuple[int, ...] | None = None,
    *,
    reflector: FloatArray,
    centre: FloatArray,
) -> FloatArray:
    """Draw free coordinates of the centred random walk (prior predictive)."""
    shape = (
        tuple(size)
        if size is not None
        else np.broadcast_shapes(np.shape(step_sd)[:-1], np.shape(shift)[:-1])
    )
    steps = rng.normal(0.0, 1.0, (*shape, np.shape(step_sd)[-1])) * step_sd
    walk = np.concatenate([np.zeros((*shape, 1)), np.cumsum(steps, axis=-1)], axis=-1)
    knots = walk - (walk @ centre)[..., None]
    return free_coordinates(knots + shift, reflector)


def _walk_support_point(rv: Any, size: Any, step_sd: Any, shift: Any) -> Any:
    """Start the free coordinates at zero."""
    return pt.zeros_like(step_sd)


def _add_geo_lift_tests(
    spec: MMMSpec,
    data: GeoMMMData,
    tests: LiftTests,
    media_terms: tuple[Any, dict[str, Any], Any],
    beta: Any,
    keep: bool,
) -> None:
    """Add the lift tests' likelihood (see the module docstring).

    ``media_terms`` is ``(weights, saturation_params, response)`` of the model.
    """
    assert tests.geo_mask is not None
    weights, saturation_params, response = media_terms
    idx = tests.channel_index
    exposure = tests.exposure[:, None, :] * tests.geo_mask[None, :, :]  # (T, G, n)
    removed = removed_lags(spec, data.media, idx, exposure)
    lost = lost_response(spec, removed, weights, saturation_params, response, idx)
    y_scale = data.y_scale[:, None]  # (G, 1)
    scale = (tests.geo_mask * y_scale).sum(axis=0)  # (n,)
    weight = tests.geo_mask * y_scale / scale[None, :]  # (G, n): geos outside the test are 0
    implied = pt.sum(beta[:, idx] * lost * weight, axis=0)
    add_lift_likelihood(tests, implied, scale, keep=keep)
