"""Sequential updating at the geo level: rolling windows, campaign effects pooled across geos.

The geo analogue of :mod:`mixlens.ima.sequential`: one channel's campaign regression in
every geo at once, linear and Gaussian, so that a window's posterior is the previous
window's plus the periods that entered minus those that left, exactly. For geo ``g``
and MMM period ``p``::

    y_{g,p} = alpha_g * n_p + sum_k (beta_k + u_{g,k}) * X_{g,p,k} + e_{g,p}

with ``y_{g,p}`` the geo's channel contribution, ``X_{g,p,k}`` the campaign's adstocked
media in the geo summed over the period, ``n_p`` its days and ``e_{g,p} ~ Normal(0,
sigma_g**2)`` (a noise scale per geo, fixed). The priors:

* ``beta_k ~ Normal(b0, (prior_scale * b0)**2)``, the campaign's effect shared by the
  geos, centred on the channel's effectiveness ``b0`` over all geos (target units per
  media unit), as the national prior (:func:`~mixlens.ima.sequential.gaussian_prior`);
* ``u_{g,k} ~ Normal(0, (pool_scale * b0)**2)``, the campaign's deviation in geo ``g``
  (fixed scale: the Gaussian counterpart of the learnt spread ``tau_c`` of
  :mod:`mixlens.ima.geo_regression`); a geo with little data borrows the campaign's
  effect from the others;
* ``alpha_g ~ Normal(0, (0.05 * ybar_g)**2)`` with ``ybar_g`` the geo's mean absolute
  daily contribution.

``theta = (alpha_1..alpha_G, beta_1..beta_K, u_{1,1}..u_{G,K})`` then has a Gaussian
posterior in information form; each geo's rows are divided by its ``sigma_g`` (whitened),
so every row carries the same unit noise and the national update
(:func:`~mixlens.ima.sequential.carry_forward`) applies unchanged. With one geo the
deviations cannot be told from the shared effects and are left out: the model, its
posterior and its credit are the national ones. ``pooling="none"`` gives each geo its
own effects ``beta_{g,k} ~ Normal(b0_g, (prior_scale * b0_g)**2)`` (independent national
models, one per geo).

Each window's credit (:func:`geo_window_credit`) is split and reconciled geo by geo as
the national one is (draws of each geo's effects clipped at zero,
:func:`~mixlens.ima.regression.reconcile`): per geo, window and draw the campaigns plus
``unattributed`` sum to the geo's channel contribution over the window; geo ``all`` is
the sum over geos, draw by draw.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from mixlens._blas import single_thread_blas
from mixlens.ima.geo_regression import GeoChannelDesign, Pooling
from mixlens.ima.regression import ChannelDesign, ReconcileRule, reconcile
from mixlens.ima.results import UNATTRIBUTED
from mixlens.ima.sequential import (
    GaussianPosterior,
    Memory,
    WindowFit,
    carry_forward,
    check_rolling,
)
from mixlens.mmm.geo import ALL_GEOS

__all__ = [
    "GeoGaussianModel",
    "geo_fit_window",
    "geo_gaussian_prior",
    "geo_rolling_credit",
    "geo_rolling_fit",
    "geo_slice",
    "geo_window_credit",
]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class GeoGaussianModel:
    """One channel's linear-Gaussian geo regression: its prior, noise scales and layout.

    Parameters
    ----------
    channel
        Channel name.
    geos
        The geos, in the order of the design's.
    campaigns
        The channel's campaigns (shared by the geos).
    prior
        Prior of ``theta`` in information form, on whitened rows (``sigma`` is 1).
    sigma
        Noise scale of each geo's period contribution, target units, shape ``(G,)``.
    pooling
        ``"partial"`` (shared effects plus geo deviations) or ``"none"``.
    """

    channel: str
    geos: tuple[str, ...]
    campaigns: tuple[str, ...]
    prior: GaussianPosterior
    sigma: FloatArray
    pooling: Pooling

    @property
    def shared(self) -> bool:
        """Whether ``theta`` holds shared effects ``beta_k`` (partial pooling)."""
        return self.pooling == "partial"

    @property
    def n_params(self) -> int:
        """Length of ``theta``."""
        return int(self.prior.information.size)

    def effect_map(self, geo: int) -> FloatArray:
        """Matrix ``E_g``, shape ``(K, n_params)``: geo ``geo``'s campaign effects ``E_g theta``."""
        n_geo, n_k = len(self.geos), len(self.campaigns)
        out = np.zeros((n_k, self.n_params))
        eye = np.eye(n_k)
        if self.shared:
            out[:, n_geo : n_geo + n_k] = eye
            if n_geo > 1:
                start = n_geo + n_k * (geo + 1)
                out[:, start : start + n_k] = eye
        else:
            start = n_geo + n_k * geo
            out[:, start : start + n_k] = eye
        return out

    def rows(self, design: GeoChannelDesign, period: int) -> tuple[FloatArray, FloatArray]:
        """Whitened regressors ``(n_periods, G, n_params)`` and contributions ``(n_periods, G)``."""
        x, y = _raw_rows(design, self, period)
        return x / self.sigma[None, :, None], y / self.sigma[None, :]


def _raw_rows(
    design: GeoChannelDesign, model: GeoGaussianModel, period: int
) -> tuple[FloatArray, FloatArray]:
    """Regressors ``(n_periods, G, n_params)`` (days, media sums) and period contributions."""
    if (design.geos, design.campaigns) != (model.geos, model.campaigns):
        raise ValueError(
            f"channel {design.channel!r}: the design's geos and campaigns are not the model's"
        )
    n_days = design.designs[0].y.size
    if n_days % period:
        raise ValueError(f"{n_days} days are not whole periods of {period} days")
    n = n_days // period
    x = np.zeros((n, len(design.geos), model.n_params))
    y = np.zeros((n, len(design.geos)))
    for g, d in enumerate(design.designs):
        media = d.x.reshape(n, period, -1).sum(axis=1)
        x[:, g, :] = media @ model.effect_map(g)
        x[:, g, g] = float(period)
        y[:, g] = d.y.reshape(n, period).sum(axis=1)
    return x, y


def geo_slice(design: GeoChannelDesign, start: int, stop: int) -> GeoChannelDesign:
    """Days ``start:stop`` of every geo's design (a window of the rolling fit)."""
    return GeoChannelDesign(
        design.channel,
        design.geos,
        tuple(
            ChannelDesign(d.channel, d.campaigns, d.y[start:stop], d.x[start:stop])
            for d in design.designs
        ),
    )


@single_thread_blas()
def geo_gaussian_prior(
    design: GeoChannelDesign,
    *,
    prior_scale: float = 1.0,
    pool_scale: float = 0.5,
    pooling: Pooling = "partial",
    sigma: Sequence[float] | None = None,
    period: int = 7,
) -> GeoGaussianModel:
    """Build the prior of one channel's geo regression (see the module docstring).

    Parameters
    ----------
    design
        Data the prior's centre and scales are taken from (the first window, to keep the
        prior free of later data).
    prior_scale
        Prior standard deviation of each shared effect ``beta_k`` relative to ``b0``.
    pool_scale
        Prior standard deviation of each geo's deviation ``u_{g,k}`` relative to ``b0``
        (partial pooling): smaller pools the geos more.
    pooling
        ``"partial"`` (default) or ``"none"`` (independent geos).
    sigma
        Noise scale of each geo's period contribution; default: per geo, the root mean
        square residual of the posterior-mean fit to ``design``'s periods, iterated three
        times from the prior-mean fit (floored at 1% of the geo's mean absolute period
        contribution), as :func:`~mixlens.ima.sequential.gaussian_prior`; a geo whose
        contribution is zero throughout ``design`` takes the largest of the other geos'.
    period
        Days per MMM period.

    Returns
    -------
    GeoGaussianModel
        The prior in information form, the noise scales and the layout of ``theta``.

    Raises
    ------
    ValueError
        On a non-positive scale or an unknown ``pooling``.
    """
    if prior_scale <= 0 or pool_scale <= 0:
        raise ValueError(
            f"prior_scale and pool_scale must be positive, got {prior_scale}, {pool_scale}"
        )
    if pooling not in ("partial", "none"):
        raise ValueError(f"pooling must be 'partial' or 'none', got {pooling!r}")
    n_geo, n_k = len(design.geos), len(design.campaigns)
    alpha_sd = np.array([0.05 * d.y_scale for d in design.designs])
    if pooling == "partial":
        media = sum(float(d.x.sum()) for d in design.designs)
        total = sum(float(d.y.sum()) for d in design.designs)
        b0 = total / media if media > 0 and total > 0 else 1.0
        effect_sd = np.full(n_k, prior_scale * b0)
        effect_mean = np.full(n_k, b0)
        if n_geo > 1:
            effect_sd = np.r_[effect_sd, np.full(n_geo * n_k, pool_scale * b0)]
            effect_mean = np.r_[effect_mean, np.zeros(n_geo * n_k)]
    else:
        b0s = np.array([d.effectiveness for d in design.designs])
        effect_sd = np.repeat(prior_scale * b0s, n_k)
        effect_mean = np.repeat(b0s, n_k)
    sd = np.r_[alpha_sd, effect_sd]
    mean = np.r_[np.zeros(n_geo), effect_mean]
    precision = np.diag(1.0 / sd**2)
    prior = GaussianPosterior(precision, precision @ mean, 1.0)
    layout = GeoGaussianModel(
        design.channel, design.geos, design.campaigns, prior, np.ones(n_geo), pooling
    )
    x, y = _raw_rows(design, layout, period)
    if sigma is None:
        level = np.mean(np.abs(y), axis=0)
        floor = 0.01 * np.maximum(level, 1e-12)
        # A geo without contribution over the whole first window has no noise scale of
        # its own; it takes the largest of the others (a vanishing one would let its later
        # periods swamp every other geo's).
        silent = (level <= 0) & bool((level > 0).any())
        fitted = mean
        for _ in range(3):
            noise = np.maximum(np.sqrt(np.mean((y - x @ fitted) ** 2, axis=0)), floor)
            noise[silent] = noise[~silent].max() if silent.any() else 0.0
            w = x / noise[None, :, None]
            fitted = prior.update(w.reshape(-1, sd.size), (y / noise).reshape(-1)).mean
    else:
        noise = np.asarray(sigma, dtype=np.float64)
    if noise.shape != (n_geo,) or not np.all(noise > 0):
        raise ValueError(f"sigma must be one positive value per geo, got {sigma}")
    return GeoGaussianModel(design.channel, design.geos, design.campaigns, prior, noise, pooling)


@single_thread_blas()
def geo_fit_window(
    design: GeoChannelDesign, model: GeoGaussianModel, *, period: int = 7
) -> GaussianPosterior:
    """Posterior from the prior and every period of ``design`` (the refit from scratch)."""
    x, y = model.rows(design, period)
    return model.prior.update(x.reshape(-1, model.n_params), y.reshape(-1))


@single_thread_blas()
def geo_rolling_fit(
    design: GeoChannelDesign,
    model: GeoGaussianModel,
    *,
    window: int,
    step: int,
    period: int = 7,
    memory: Memory = "window",
) -> list[WindowFit]:
    """Fit a rolling window over all geos, carrying each posterior forward.

    Parameters
    ----------
    design
        One channel's regression data in every geo over all days.
    model
        The prior and layout (e.g. :func:`geo_gaussian_prior` of the first window).
    window, step, period, memory
        See :func:`mixlens.ima.sequential.rolling_fit`.

    Returns
    -------
    list of WindowFit
        One per window; each equals :func:`geo_fit_window` on the window's days
        (``memory="window"``) or on days ``0..stop`` (``"all"``), to rounding.
    """
    n_days = design.designs[0].y.size
    check_rolling(window=window, step=step, period=period, memory=memory, n_days=n_days)
    x_all, y_all = model.rows(design, period)
    return carry_forward(
        x_all, y_all, model.prior, window=window, step=step, period=period, memory=memory
    )


@single_thread_blas()
def geo_window_credit(
    design: GeoChannelDesign,
    model: GeoGaussianModel,
    fit: WindowFit,
    *,
    draws: int = 200,
    seed: int = 0,
    ci: float = 0.9,
    rule: ReconcileRule = "cap",
) -> pd.DataFrame:
    """Campaign credit per geo over one window, reconciled with each geo's channel daily.

    Parameters
    ----------
    design
        The channel's regression data in every geo over all days.
    model
        The layout the window was fitted with.
    fit
        The window's fit.
    draws
        Posterior draws (each geo's effects clipped at zero).
    seed
        Random seed.
    ci
        Mass of the central intervals.
    rule
        Reconciliation rule, see :func:`~mixlens.ima.regression.reconcile`.

    Returns
    -------
    pandas.DataFrame
        ``geo, channel, campaign, contribution_mean, contribution_lo, contribution_hi,
        beta_mean, beta_sd`` with an ``unattributed`` row per geo; per geo
        ``contribution_mean`` sums to the geo's channel contribution over the window.
        Geo ``all``: sums over geos (intervals of the sum, draw by draw), ``beta`` the
        shared effect (NaN with ``pooling="none"``).
    """
    part = geo_slice(design, fit.start, fit.stop)
    post = fit.posterior
    cov = post.covariance
    theta = post.sample(draws, seed)
    names = [*design.campaigns, UNATTRIBUTED]
    qs = [(1 - ci) / 2, (1 + ci) / 2]
    frames = []
    overall = np.zeros((draws, len(names)))
    for g, d in enumerate(part.designs):
        effect_map = model.effect_map(g)
        beta = np.clip(theta @ effect_map.T, 0.0, None)
        alpha = np.clip(theta[:, g], 0.0, None)[:, None]
        parts = beta[:, None, :] * d.x[None, :, :]
        scaled, unattr = reconcile(d.y, parts, rule=rule, intercept=alpha)
        totals = np.concatenate([scaled.sum(axis=1), unattr.sum(axis=1)[:, None]], axis=1)
        overall += totals
        sd = np.sqrt(np.clip(np.einsum("kd,de,ke->k", effect_map, cov, effect_map), 0.0, None))
        mean = effect_map @ post.mean
        frames.append(_credit_frame(model.geos[g], design.channel, names, totals, qs, mean, sd))
    n_geo, n_k = len(model.geos), len(design.campaigns)
    shared = slice(n_geo, n_geo + n_k)
    beta_mean = post.mean[shared] if model.shared else np.full(n_k, np.nan)
    beta_sd = np.sqrt(np.clip(np.diag(cov)[shared], 0.0, None)) if model.shared else beta_mean
    frames.append(_credit_frame(ALL_GEOS, design.channel, names, overall, qs, beta_mean, beta_sd))
    return pd.concat(frames, ignore_index=True)


def _credit_frame(
    geo: str,
    channel: str,
    names: list[str],
    totals: FloatArray,
    qs: list[float],
    beta_mean: FloatArray,
    beta_sd: FloatArray,
) -> pd.DataFrame:
    lo, hi = np.quantile(totals, qs, axis=0)
    return pd.DataFrame(
        {
            "geo": geo,
            "channel": channel,
            "campaign": names,
            "contribution_mean": totals.mean(axis=0),
            "contribution_lo": lo,
            "contribution_hi": hi,
            "beta_mean": np.r_[beta_mean, np.nan],
            "beta_sd": np.r_[beta_sd, np.nan],
        }
    )


@single_thread_blas()
def geo_rolling_credit(
    designs: Sequence[GeoChannelDesign],
    days: pd.DatetimeIndex,
    *,
    window: int,
    step: int,
    period: int = 7,
    memory: Memory = "window",
    pooling: Pooling = "partial",
    prior_scale: float = 1.0,
    pool_scale: float = 0.5,
    draws: int = 200,
    seed: int = 0,
    ci: float = 0.9,
    rule: ReconcileRule = "cap",
) -> pd.DataFrame:
    """Campaign credit per rolling window, geo and channel (``mixlens ima fit --window``).

    Each channel's prior is :func:`geo_gaussian_prior` of its first window; the windows
    are fitted by :func:`geo_rolling_fit` and credited by :func:`geo_window_credit`.

    Parameters
    ----------
    designs
        One :class:`~mixlens.ima.geo_regression.GeoChannelDesign` per channel, over
        ``days``.
    days
        The days of the designs.
    window, step, period, memory
        See :func:`mixlens.ima.sequential.rolling_fit`.
    pooling, prior_scale, pool_scale
        See :func:`geo_gaussian_prior`.
    draws, seed, ci, rule
        See :func:`geo_window_credit`.

    Returns
    -------
    pandas.DataFrame
        ``window_start, window_end`` (ISO dates, inclusive) followed by the columns of
        :func:`geo_window_credit`, one block per channel and window (each geo, then
        ``all``).
    """
    frames = []
    for design in designs:
        n_days = design.designs[0].y.size
        model = geo_gaussian_prior(
            geo_slice(design, 0, min(window, n_days)),
            prior_scale=prior_scale,
            pool_scale=pool_scale,
            pooling=pooling,
            period=period,
        )
        for fit in geo_rolling_fit(
            design, model, window=window, step=step, period=period, memory=memory
        ):
            credit = geo_window_credit(design, model, fit, draws=draws, seed=seed, ci=ci, rule=rule)
            credit.insert(0, "window_end", days[fit.stop - 1].strftime("%Y-%m-%d"))
            credit.insert(0, "window_start", days[fit.start].strftime("%Y-%m-%d"))
            frames.append(credit)
    return pd.concat(frames, ignore_index=True)
