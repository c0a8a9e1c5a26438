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
the national model. Geo intercepts are partially pooled too (non-centred around
``intercept_mean`` with spread ``intercept_geo_sd``): with independent intercepts, a
change of a channel's ROI had to be matched by every geo's intercept at once, and chains
mixed slowly (R-hat 1.1 on Meridian's 20-geo panel). The noise scale is per geo; trend,
the time-varying baseline ``knots(t)`` (with ``time_knots``: by default one knot per week,
Meridian's geo default, see :func:`~mixlens.mmm.model.add_time_effect`), seasonality,
holidays and control effects are shared in scaled units. The model fits the terms of the
spec it is given: :class:`~mixlens.mmm.geo.GeoMMM` first removes the shared time terms
that the knots span (:func:`~mixlens.mmm.geo_data.identified_spec`; all three with one
knot per week), which the likelihood cannot tell from the knots.

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

from typing import Any

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from mixlens.mmm import pt_transforms
from mixlens.mmm.calibration import LiftTests
from mixlens.mmm.geo_data import GeoMMMData
from mixlens.mmm.model import (
    _channel_variable,
    _distribution,
    _model_variable,
    add_lift_likelihood,
    add_time_effect,
    lost_response,
    pm_data,
    removed_lags,
    time_coords,
)
from mixlens.mmm.spec import MMMSpec, Prior

__all__ = ["GEO_INTERCEPT_SD", "GEO_ROI_SD", "build_geo_model"]

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
        ``sigma`` (geo),
        ``trend``, ``gamma``, ``delta``, ``kappa``.

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
        "channel": list(spec.channels),
        "control": list(spec.controls),
        "fourier": list(base.fourier_terms),
        "holiday": list(base.holidays),
        **time_coords(base),
    }
    with_lift = lift_tests is not None and lift_tests.n_tests > 0
    if lift_tests is not None and with_lift:
        if lift_tests.geo_mask is None or lift_tests.geo_mask.shape[0] != data.n_geos:
            raise ValueError("geo lift tests need prepare_geo_lift_tests on the same data")
        coords["lift_test"] = lift_tests.labels
    spend_total = data.spend.sum(axis=0)  # (G, C)
    spends = spend_total > 0
    reference = spec.roi_reference if spec.roi_reference is not None else data.reference_roi
    scale = reference * spend_total / data.y_scale[:, None]  # (G, C)
    with pm.Model(coords=coords) as model:
        pm_data("media", data.media, dims=("date", "geo", "channel"))
        y_scaled = pm_data("y_scaled", data.y / data.y_scale[None, :], dims=("date", "geo"))
        lags = pm_data("media_lags", pt_transforms.lagged(data.media, spec.adstock.l_max))
        adstock_params = {p: _channel_variable(spec, p) for p in spec.adstock.parameters}
        saturation_params = {p: _channel_variable(spec, p) for p in spec.saturation.parameters}
        weights = spec.adstock.pt_weights(adstock_params)  # (l_max, C)
        adstocked = pt_transforms.adstock_lagged(lags, weights)
        response = spec.saturation.pt_apply(adstocked, saturation_params)  # (T, G, C)

        roi = _channel_variable(spec, "roi")
        sd = _distribution(geo_roi_sd)("roi_geo_sd", **dict(geo_roi_sd.params), dims="channel")
        z = pm.Normal("roi_geo_z", 0.0, 1.0, dims=("geo", "channel"))
        roi_geo = roi[None, :] * pt.exp(sd[None, :] * z - 0.5 * sd[None, :] ** 2)
        totals = pt.sum(response, axis=0)  # (G, C)
        # data, not constants: the compiled graph is then the same for any data (cache)
        spends = pt.gt(pm_data("spend_mask", spends.astype(np.float64)), 0.0)
        scale = pm_data("roi_scale", scale, dims=("geo", "channel"))
        safe = pt.switch(spends, totals, 1.0)
        beta = pm.Deterministic(
            "beta",
            pt.switch(spends, roi_geo * scale / safe, 0.0),
            dims=("geo", "channel"),
        )
        # Geo intercepts around a shared mean (non-centred): a shift of media's share moves
        # one shared level instead of every geo's intercept at once (faster mixing).
        level = _distribution(spec.model_prior("intercept"))(
            "intercept_mean", **dict(spec.model_prior("intercept").params)
        )
        spread = _distribution(GEO_INTERCEPT_SD)(
            "intercept_geo_sd", **dict(GEO_INTERCEPT_SD.params)
        )
        offset = pm.Normal("intercept_geo_z", 0.0, 1.0, dims="geo")
        intercept = pm.Deterministic("intercept", level + spread * offset, dims="geo")
        mu = intercept[None, :] + pt.sum(response * beta[None, :, :], axis=2)
        if lift_tests is not None and with_lift:
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
            mu = mu + (_model_variable(spec, "trend") * time)[:, None]
        # Centred: every geo sees each week, so the data pin the knots down (add_time_effect).
        time_effect = add_time_effect(spec, base, centred=True)
        if time_effect is not None:
            mu = mu + time_effect[:, None]
        if base.fourier_terms:
            fourier = pm_data("fourier_features", base.fourier, dims=("date", "fourier"))
            mu = mu + pt.dot(fourier, _model_variable(spec, "fourier", "fourier"))[:, None]
        if base.holidays:
            holiday = pm_data("holiday_features", base.holiday, dims=("date", "holiday"))
            mu = mu + pt.dot(holiday, _model_variable(spec, "holiday", "holiday"))[:, None]
        if spec.controls:
            control = pm_data("control_z", data.control_z, dims=("date", "geo", "control"))
            mu = mu + pt.tensordot(control, _model_variable(spec, "control", "control"), 1)
        sigma = _model_variable(spec, "sigma", "geo")
        if keep_mu:
            mu = pm.Deterministic("mu", mu, dims=("date", "geo"))
        pm.Normal("y", mu=mu, sigma=sigma[None, :], observed=y_scaled, dims=("date", "geo"))
    return model


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
