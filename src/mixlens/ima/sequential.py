"""Sequential updating: a rolling window whose posterior is carried forward as the prior.

The campaign regression of one channel in its linear-Gaussian form (the paper's linear
model with a Gaussian prior and a known noise scale), on the MMM's periods::

    y_p = alpha * n_p + sum_k beta_k * X_{p,k} + e_p,   e_p ~ Normal(0, sigma**2)

with ``y_p`` the channel's contribution in period ``p``, ``X_{p,k}`` the campaign's
adstocked media summed over the period and ``n_p`` its days. The posterior of
``theta = (alpha, beta)`` is Gaussian with precision ``Lambda = Lambda_0 + X'X / sigma**2``
and information vector ``eta = eta_0 + X'y / sigma**2`` (mean ``Lambda^-1 eta``): each
period adds its own information. So a window's posterior is the previous window's
posterior, as prior, plus the periods that entered, minus (for a moving window) those
that left: the same numbers as a refit from scratch, to rounding, at the cost of the
periods that changed instead of the whole window. :func:`rolling_fit` does that and
:func:`fit_window` is the refit it replaces.

The prior (:func:`gaussian_prior`) is centred as in :mod:`mixlens.ima.regression`: each
``beta_k`` on the channel's effectiveness ``b0`` (target units per media unit over the
data) with standard deviation ``prior_scale * b0``, ``alpha`` on zero with standard
deviation ``0.05`` of the mean daily contribution. Non-negativity is imposed on the
campaign credit, not on the Gaussian posterior: draws of ``beta`` are clipped at zero
before :func:`~mixlens.ima.regression.reconcile`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from mixlens._blas import single_thread_blas
from mixlens.ima.regression import ChannelDesign, ReconcileRule, reconcile
from mixlens.ima.results import UNATTRIBUTED

__all__ = [
    "GaussianPosterior",
    "Memory",
    "WindowFit",
    "carry_forward",
    "check_rolling",
    "fit_window",
    "gaussian_prior",
    "rolling_credit",
    "rolling_fit",
    "window_credit",
]

FloatArray = NDArray[np.float64]
Memory = Literal["window", "all"]


@dataclass(frozen=True, eq=False)
class GaussianPosterior:
    """A Gaussian over ``theta = (alpha, beta_1..beta_K)`` in information form.

    Parameters
    ----------
    precision
        ``Lambda``, shape ``(K + 1, K + 1)``: per day for ``alpha``, per media unit for
        ``beta``.
    information
        ``eta = Lambda @ mean``, shape ``(K + 1,)``.
    sigma
        The noise scale of a period's contribution, target units (fixed).
    """

    precision: FloatArray
    information: FloatArray
    sigma: float

    @property
    @single_thread_blas()
    def mean(self) -> FloatArray:
        """Posterior mean ``Lambda^-1 eta``: ``alpha`` (per day) then each ``beta_k``."""
        out: FloatArray = np.asarray(np.linalg.solve(self.precision, self.information))
        return out

    @property
    @single_thread_blas()
    def covariance(self) -> FloatArray:
        """Posterior covariance ``Lambda^-1``."""
        out: FloatArray = np.asarray(np.linalg.inv(self.precision), dtype=np.float64)
        return out

    def sample(self, draws: int, seed: int = 0) -> FloatArray:
        """Draws of ``theta``, shape ``(draws, n_params)`` (Cholesky of the covariance)."""
        rng = np.random.default_rng(seed)
        cov = self.covariance
        out: FloatArray = rng.multivariate_normal(
            self.mean, (cov + cov.T) / 2, size=draws, method="cholesky"
        )
        return out

    def update(self, x: FloatArray, y: FloatArray, *, sign: float = 1.0) -> GaussianPosterior:
        """Add (``sign=1``) or remove (``sign=-1``) the information of some periods.

        Parameters
        ----------
        x
            Regressors of the periods, shape ``(n, K + 1)`` (days, then media sums).
        y
            Their contributions, shape ``(n,)``.
        sign
            ``1`` to condition on the periods, ``-1`` to take them back out.

        Returns
        -------
        GaussianPosterior
            The updated posterior (this one is unchanged).
        """
        w = sign / self.sigma**2
        return GaussianPosterior(
            precision=self.precision + w * (x.T @ x),
            information=self.information + w * (x.T @ y),
            sigma=self.sigma,
        )


def _period_rows(design: ChannelDesign, period: int) -> tuple[FloatArray, FloatArray]:
    """Regressors ``(n_periods, K + 1)`` (days, media sums) and period contributions."""
    if design.y.size % period:
        raise ValueError(f"{design.y.size} days are not whole periods of {period} days")
    n = design.y.size // period
    media = design.x.reshape(n, period, -1).sum(axis=1)
    x = np.concatenate([np.full((n, 1), float(period)), media], axis=1)
    return x, design.y.reshape(n, period).sum(axis=1)


@single_thread_blas()
def gaussian_prior(
    design: ChannelDesign,
    *,
    prior_scale: float = 1.0,
    sigma: float | None = None,
    period: int = 7,
) -> GaussianPosterior:
    """Build the prior of one channel's regression (see the module docstring).

    Parameters
    ----------
    design
        Data the prior's centre and scales are taken from (the first window, to keep the
        prior free of later data).
    prior_scale
        Prior standard deviation of each ``beta_k`` relative to ``b0``.
    sigma
        Noise scale of a period's contribution; default: the root mean square residual
        of the posterior-mean fit to ``design``'s periods, iterated three times from the
        prior-mean fit (floored at 1% of the mean absolute period contribution).
    period
        Days per MMM period.

    Returns
    -------
    GaussianPosterior
        The prior in information form.
    """
    if prior_scale <= 0:
        raise ValueError(f"prior_scale must be positive, got {prior_scale}")
    k = len(design.campaigns)
    b0 = design.effectiveness
    sd = np.r_[0.05 * design.y_scale, np.full(k, prior_scale * b0)]
    mean = np.r_[0.0, np.full(k, b0)]
    x, y = _period_rows(design, period)
    precision = np.diag(1.0 / sd**2)
    noise = 0.0 if sigma is None else float(sigma)
    if sigma is None:
        floor = 0.01 * max(float(np.mean(np.abs(y))), 1e-12)
        fitted = mean
        for _ in range(3):
            noise = max(float(np.sqrt(np.mean((y - x @ fitted) ** 2))), floor)
            fitted = GaussianPosterior(precision, precision @ mean, noise).update(x, y).mean
    if not noise > 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    return GaussianPosterior(precision, precision @ mean, noise)


@single_thread_blas()
def fit_window(
    design: ChannelDesign, prior: GaussianPosterior, *, period: int = 7
) -> GaussianPosterior:
    """Posterior from ``prior`` and every period of ``design`` (the refit from scratch)."""
    x, y = _period_rows(design, period)
    return prior.update(x, y)


@dataclass(frozen=True, eq=False)
class WindowFit:
    """One window of :func:`rolling_fit`.

    Parameters
    ----------
    start, stop
        Day indices of the window in the design (``stop`` exclusive).
    posterior
        The posterior given the window's periods (and, with ``memory="all"``, every
        earlier one).
    periods_used
        Periods whose information was added or removed to get this posterior from the
        previous window's (from the prior for the first window): the work of the
        update, linear in it (a refit from scratch uses every period of the window).
    """

    start: int
    stop: int
    posterior: GaussianPosterior
    periods_used: int = 0


def _slice(design: ChannelDesign, start: int, stop: int) -> ChannelDesign:
    return ChannelDesign(
        design.channel, design.campaigns, design.y[start:stop], design.x[start:stop]
    )


@single_thread_blas()
def rolling_fit(
    design: ChannelDesign,
    prior: GaussianPosterior,
    *,
    window: int,
    step: int,
    period: int = 7,
    memory: Memory = "window",
) -> list[WindowFit]:
    """Fit a rolling window, carrying each posterior forward as the next one's prior.

    Parameters
    ----------
    design
        One channel's regression data over all days.
    prior
        The prior of the first window (e.g. :func:`gaussian_prior`).
    window, step
        Window length and step, in days; multiples of ``period``. The first window
        starts on day 0; windows end on or before the last day.
    period
        Days per MMM period.
    memory
        ``"window"``: each window's posterior is conditioned on its own periods only
        (the periods that leave the window are taken back out); ``"all"``: on every
        period up to the window's end (nothing is forgotten).

    Returns
    -------
    list of WindowFit
        One per window; each equals :func:`fit_window` of ``prior`` on the window's
        days (``memory="window"``) or on days ``0..stop`` (``"all"``), to rounding.
    """
    check_rolling(window=window, step=step, period=period, memory=memory, n_days=design.y.size)
    x_all, y_all = _period_rows(design, period)  # every period once
    return carry_forward(
        x_all, y_all, prior, window=window, step=step, period=period, memory=memory
    )


def check_rolling(*, window: int, step: int, period: int, memory: str, n_days: int) -> None:
    """Check a rolling window's options (see :func:`rolling_fit`).

    Raises
    ------
    ValueError
        If ``window`` or ``step`` is not a positive multiple of ``period``, ``memory`` is
        unknown or the window is longer than the ``n_days`` days.
    """
    if window <= 0 or step <= 0 or window % period or step % period:
        raise ValueError(
            f"window and step must be positive multiples of {period} days, got {window}, {step}"
        )
    if memory not in ("window", "all"):
        raise ValueError(f"memory must be 'window' or 'all', got {memory!r}")
    if window > n_days:
        raise ValueError(f"window of {window} days is longer than the {n_days} days")


def carry_forward(
    x_all: FloatArray,
    y_all: FloatArray,
    prior: GaussianPosterior,
    *,
    window: int,
    step: int,
    period: int = 7,
    memory: Memory = "window",
) -> list[WindowFit]:
    """Run the rolling windows of :func:`rolling_fit` on precomputed period rows.

    Parameters
    ----------
    x_all
        Regressors of every period, shape ``(n_periods, ..., n_params)``: each period's
        rows (one, or one per geo as in :mod:`mixlens.ima.geo_sequential`), in the
        parameter space of ``prior``.
    y_all
        Their contributions, shape ``(n_periods, ...)``.
    prior
        The prior of the first window.
    window, step, period, memory
        See :func:`rolling_fit` (checked by :func:`check_rolling`).

    Returns
    -------
    list of WindowFit
        One per window; each posterior is the previous one plus the periods that entered
        and (``memory="window"``) minus those that left.
    """
    n_params = prior.information.size

    def rows(first: int, stop: int) -> tuple[FloatArray, FloatArray]:
        return x_all[first:stop].reshape(-1, n_params), y_all[first:stop].reshape(-1)

    w, s = window // period, step // period
    post = prior.update(*rows(0, w))
    out = [WindowFit(0, window, post, w)]
    first = s
    while first + w <= y_all.shape[0]:
        prev_first, prev_stop = out[-1].start // period, out[-1].stop // period
        stop = first + w
        # The periods that entered (and, without memory, those skipped over).
        entered = max(prev_stop, first) if memory == "window" else prev_stop
        post = post.update(*rows(entered, stop))
        used = stop - entered
        if memory == "window":
            post = post.update(*rows(prev_first, min(first, prev_stop)), sign=-1.0)
            used += min(first, prev_stop) - prev_first
        out.append(WindowFit(first * period, stop * period, post, used))
        first += s
    return out


@single_thread_blas()
def window_credit(
    design: ChannelDesign,
    fit: WindowFit,
    *,
    draws: int = 200,
    seed: int = 0,
    ci: float = 0.9,
    rule: ReconcileRule = "cap",
) -> pd.DataFrame:
    """Campaign credit over one window, reconciled with the channel day by day.

    Parameters
    ----------
    design
        The channel's regression data over all days.
    fit
        The window's fit.
    draws
        Posterior draws (``beta`` clipped at zero).
    seed
        Random seed.
    ci
        Mass of the central intervals.
    rule
        Reconciliation rule, see :func:`~mixlens.ima.regression.reconcile`.

    Returns
    -------
    pandas.DataFrame
        ``channel, campaign, contribution_mean, contribution_lo, contribution_hi,
        beta_mean, beta_sd`` with an ``unattributed`` row; ``contribution_mean`` sums to
        the channel's contribution over the window.
    """
    part = _slice(design, fit.start, fit.stop)
    post = fit.posterior
    cov = post.covariance
    theta = post.sample(draws, seed)
    beta = np.clip(theta[:, 1:], 0.0, None)
    parts = beta[:, None, :] * part.x[None, :, :]
    alpha = np.clip(theta[:, 0], 0.0, None)[:, None]
    scaled, unattr = reconcile(part.y, parts, rule=rule, intercept=alpha)
    totals = np.concatenate([scaled.sum(axis=1), unattr.sum(axis=1)[:, None]], axis=1)
    lo, hi = np.quantile(totals, [(1 - ci) / 2, (1 + ci) / 2], axis=0)
    sd = np.sqrt(np.clip(np.diag(cov)[1:], 0.0, None))
    return pd.DataFrame(
        {
            "channel": design.channel,
            "campaign": [*design.campaigns, UNATTRIBUTED],
            "contribution_mean": totals.mean(axis=0),
            "contribution_lo": lo,
            "contribution_hi": hi,
            "beta_mean": np.r_[post.mean[1:], np.nan],
            "beta_sd": np.r_[sd, np.nan],
        }
    )


@single_thread_blas()
def rolling_credit(
    designs: list[ChannelDesign],
    days: pd.DatetimeIndex,
    *,
    window: int,
    step: int,
    period: int = 7,
    memory: Memory = "window",
    prior_scale: float = 1.0,
    draws: int = 200,
    seed: int = 0,
    ci: float = 0.9,
    rule: ReconcileRule = "cap",
) -> pd.DataFrame:
    """Campaign credit per rolling window for every channel (``mixlens ima fit --window``).

    Each channel's prior is :func:`gaussian_prior` of its first window; the windows are
    fitted by :func:`rolling_fit` and credited by :func:`window_credit`.

    Parameters
    ----------
    designs
        One :class:`~mixlens.ima.regression.ChannelDesign` per channel, over ``days``.
    days
        The days of the designs.
    window, step, period, memory
        See :func:`rolling_fit`.
    prior_scale
        See :func:`gaussian_prior`.
    draws, seed, ci, rule
        See :func:`window_credit`.

    Returns
    -------
    pandas.DataFrame
        ``window_start, window_end`` (ISO dates, inclusive) followed by the columns of
        :func:`window_credit`, one block per window and channel.
    """
    frames = []
    for design in designs:
        prior = gaussian_prior(
            _slice(design, 0, min(window, design.y.size)), prior_scale=prior_scale, period=period
        )
        for fit in rolling_fit(
            design, prior, window=window, step=step, period=period, memory=memory
        ):
            credit = window_credit(design, fit, draws=draws, seed=seed, ci=ci, rule=rule)
            credit.insert(0, "window_end", days[fit.stop - 1].strftime("%Y-%m-%d"))
            credit.insert(0, "window_start", days[fit.start].strftime("%Y-%m-%d"))
            frames.append(credit)
    return pd.concat(frames, ignore_index=True)
