"""Tune a channel's daily carryover where its contributions support it (IMA stage 2).

The MMM's adstock is fitted to *its* data: weekly media against weekly sales. IMA
converts it to days (:func:`~mixlens.transforms.timescale.to_daily`), which keeps the
kernel's shape in calendar time but cannot learn what only daily data show, and a
bring-your-own table may come with no adstock at all (a daily MMM whose carryover was
not modelled, or one fitted elsewhere). :func:`tune_adstock` lets the channel's own
contribution series choose: for each channel it compares the given kernel with the same
kernel stretched in time (:data:`DEFAULT_STRETCHES`) and with daily geometric kernels of a
grid of retentions (:data:`DEFAULT_RETENTIONS`), each scored by how well the campaigns'
adstocked media, summed over the MMM's periods, explain the channel's contribution per
period (non-negative least squares with an intercept per day, the linear IMA model
without its prior). A kernel other than the given one is kept only where it lowers the
Bayesian information criterion, counting one parameter more than the given kernel, by at
least :data:`MIN_BIC_GAIN`, so the given kernel stays wherever the data do not clearly
prefer another.

The scoring is linear in the media while responses saturate, and a longer kernel flattens
peaks as a saturating curve does, so a correct kernel is sometimes replaced (measured in
``benchmarks/RESULTS.md``, ``ima_tuning``). Tuning is meant for kernels that are missing
or come from elsewhere; ``mixlens ima fit`` refuses it on an MMM run directory, whose
kernels were fitted to the same data.

Daily contributions (a daily MMM, stage 2 the identity) carry the most information on
daily carryover; weekly ones only on the part that crosses week boundaries, so weekly
inputs move a kernel less often.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.optimize import nnls

from mixlens.ima.disaggregate import daily_media_matrix
from mixlens.transforms.adstock import adstock
from mixlens.transforms.timescale import (
    AdstockParams,
    GeometricParams,
    rescale,
    to_daily,
    to_weekly,
)

__all__ = [
    "DEFAULT_RETENTIONS",
    "DEFAULT_STRETCHES",
    "MIN_BIC_GAIN",
    "AdstockTuning",
    "ChannelTuning",
    "candidate_scores",
    "median_lag",
    "tune_adstock",
]

FloatArray = NDArray[np.float64]

#: Daily retentions tried (half-lives from under a day to about two weeks).
DEFAULT_RETENTIONS: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95)

#: Time stretches of a given kernel tried (its shape kept, its lags 0.5 to 2 times as long).
DEFAULT_STRETCHES: tuple[Fraction, ...] = (
    Fraction(1, 2),
    Fraction(7, 10),
    Fraction(10, 7),
    Fraction(2),
)

#: The BIC gain a candidate needs over the given kernel: "very strong" evidence in Kass and
#: Raftery's scale (1995); a smaller gain keeps the given kernel (several candidates are
#: tried, and the linear model is only an approximation of a saturating response).
MIN_BIC_GAIN = 10.0

#: Daily kernels are cut where the weight falls under this share of the first lag.
_TAIL = 1e-3


def _geometric_days(retention: float, cap: int) -> GeometricParams:
    """Return the daily geometric kernel of ``retention``, cut at ``_TAIL`` (``<= cap`` days)."""
    if retention <= 0.0:
        return GeometricParams(alpha=0.0, l_max=1)
    length = math.ceil(math.log(_TAIL) / math.log(retention)) + 1
    return GeometricParams(alpha=retention, l_max=max(1, min(cap, length)))


def _period_design(
    raw: FloatArray, weights: FloatArray | None, period: int, warmup: int
) -> FloatArray:
    """Adstocked daily media ``(warmup + n_days, K)`` summed over periods -> ``(n_periods, K)``.

    The first ``warmup`` days feed the carryover only.
    """
    stock = (raw if weights is None else adstock(raw, weights, axis=0))[warmup:]
    n_periods = stock.shape[0] // period
    out: FloatArray = stock[: n_periods * period].reshape(n_periods, period, -1).sum(axis=1)
    return out


def _sse(y: FloatArray, design: FloatArray, period: int) -> float:
    """Residual sum of squares of ``y ~ a * period + design @ b`` with ``a, b >= 0``."""
    full = np.column_stack([np.full(len(y), float(period)), design])
    scale = np.maximum(full.max(axis=0), 1e-300)  # column scaling keeps NNLS well conditioned
    coef, _ = nnls(full / scale, y, maxiter=50 * full.shape[1])
    resid = y - (full / scale) @ coef
    return float(resid @ resid)


def _over_geos(weekly: pd.DataFrame, campaigns: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """National totals of a geo input (unchanged without a ``geo`` column)."""
    if "geo" in weekly.columns:
        weekly = weekly.groupby(["date", "channel"], as_index=False, sort=False).agg(
            contribution=("contribution", "sum")
        )
    if "geo" in campaigns.columns:
        keys = ["date", "channel", "campaign"]
        numeric = [
            c
            for c in campaigns.columns
            if c not in (*keys, "geo") and pd.api.types.is_numeric_dtype(campaigns[c])
        ]
        campaigns = campaigns.groupby(keys, as_index=False, sort=False)[numeric].sum(min_count=1)
    return weekly, campaigns


@dataclass(frozen=True)
class _Candidate:
    name: str  # "given", "stretched" or "geometric"
    stretch: float  # lag multiplier of the given kernel (NaN for geometric ones)
    retention: float  # daily retention of a geometric kernel (NaN otherwise)
    daily: AdstockParams | None  # the kernel with lags in days (None: no carryover)


def _candidates(
    given: AdstockParams | None,
    period: int,
    retentions: Sequence[float],
    stretches: Sequence[Fraction],
    max_days: int,
) -> list[_Candidate]:
    given_days = None if given is None else to_daily(given, days_per_week=period)
    out = [_Candidate("given", 1.0, math.nan, given_days)]
    if given_days is not None:
        out += [
            _Candidate("stretched", float(f), math.nan, rescale(given_days, f)) for f in stretches
        ]
    for r in retentions:
        kernel = _geometric_days(float(r), max_days)
        out.append(_Candidate("geometric", math.nan, float(r), kernel if r > 0 else None))
    return out


def median_lag(kernel: AdstockParams | None) -> float:
    """Lag (in the kernel's steps) by which half of its normalised mass is delivered.

    Examples
    --------
    >>> median_lag(GeometricParams(alpha=0.8, l_max=10))
    2.0
    >>> median_lag(None)
    0.0
    """
    if kernel is None:
        return 0.0
    cumulative = np.cumsum(kernel.weights(normalize=True))
    return float(np.searchsorted(cumulative, 0.5))


def candidate_scores(
    y: FloatArray,
    raw: FloatArray,
    *,
    period: int,
    warmup: int,
    given: AdstockParams | None,
    retentions: Sequence[float] = DEFAULT_RETENTIONS,
    stretches: Sequence[Fraction] = DEFAULT_STRETCHES,
    max_days: int = 120,
) -> pd.DataFrame:
    """Fit of each candidate kernel to one channel's contribution per period.

    Parameters
    ----------
    y
        The channel's contribution per MMM period, shape ``(n_periods,)`` (target units).
    raw
        The campaigns' raw daily media, shape ``(warmup + n_periods * period, K)``: the
        first ``warmup`` days precede the first period.
    period
        Days per MMM period (7 weekly, 1 daily).
    warmup
        Days of ``raw`` before the first period.
    given
        The channel's kernel with lags in MMM periods (``None``: no carryover).
    retentions
        Daily geometric retentions to try, each in ``[0, 1)``.
    stretches
        Lag multipliers of the given kernel to try (its shape kept).
    max_days
        Longest daily geometric kernel tried (days).

    Returns
    -------
    pandas.DataFrame
        One row per candidate, the given kernel first: ``candidate`` (``given``,
        ``stretched`` or ``geometric``), ``stretch``, ``retention_per_day``,
        ``median_lag_days`` (day by which half the kernel's mass is delivered), ``sse``
        (squared target units), ``n_params`` (campaigns + intercept, + 1 for a tuned
        kernel) and ``bic``.
    """
    return _score(
        y, raw, period, warmup, _candidates(given, period, retentions, stretches, max_days)
    )[0]


def _score(
    y: FloatArray, raw: FloatArray, period: int, warmup: int, candidates: list[_Candidate]
) -> tuple[pd.DataFrame, list[_Candidate]]:
    n = len(y)
    k = raw.shape[1]
    rows = []
    for c in candidates:
        weights = None if c.daily is None else c.daily.weights(normalize=True)
        design = _period_design(raw, weights, period, warmup)[:n]
        sse = _sse(y, design, period)
        n_params = k + 1 + (c.name != "given")
        rows.append(
            {
                "candidate": c.name,
                "stretch": c.stretch,
                "retention_per_day": c.retention,
                "median_lag_days": median_lag(c.daily),
                "sse": sse,
                "n_params": float(n_params),
                "bic": n * math.log(max(sse, 1e-300) / n) + n_params * math.log(n),
            }
        )
    return pd.DataFrame(rows), candidates


@dataclass(frozen=True)
class ChannelTuning:
    """One channel's tuning: the kernel kept and why.

    Parameters
    ----------
    channel
        The channel.
    given
        Its kernel as given (lags in MMM periods; ``None``: no carryover).
    chosen
        The kernel IMA should use, lags in MMM periods.
    tuned
        Whether ``chosen`` differs from ``given`` (the data preferred another kernel).
    scores
        :func:`candidate_scores` of the channel.
    chosen_row
        Row of ``scores`` kept (``0``: the given kernel).
    """

    channel: str
    given: AdstockParams | None
    chosen: AdstockParams | None
    tuned: bool
    scores: pd.DataFrame
    chosen_row: int


@dataclass(frozen=True)
class AdstockTuning:
    """The kernels :func:`tune_adstock` chose, per channel.

    Parameters
    ----------
    channels
        One :class:`ChannelTuning` per channel with campaigns.
    period
        Days per MMM period.
    """

    channels: tuple[ChannelTuning, ...]
    period: int

    def params(self, given: Mapping[str, AdstockParams | None]) -> dict[str, AdstockParams | None]:
        """``given`` with each tuned channel's kernel replaced (lags in MMM periods)."""
        out = dict(given)
        for ch in self.channels:
            out[ch.channel] = ch.chosen
        return out

    @property
    def tuned_channels(self) -> tuple[str, ...]:
        """Channels whose kernel the data changed."""
        return tuple(ch.channel for ch in self.channels if ch.tuned)

    def to_frame(self) -> pd.DataFrame:
        """Every candidate of every channel.

        Columns ``channel``, those of :func:`candidate_scores` and ``chosen`` (the row kept).
        """
        frames = []
        for ch in self.channels:
            rows = range(len(ch.scores))
            frames.append(
                ch.scores.assign(chosen=[i == ch.chosen_row for i in rows], channel=ch.channel)
            )
        if not frames:
            return pd.DataFrame()
        out = pd.concat(frames, ignore_index=True)
        return out[["channel", *[c for c in out.columns if c != "channel"]]]

    def summary(self) -> dict[str, dict[str, object]]:
        """Per channel, JSON-safe: whether it was tuned and the kernel kept.

        Keys ``tuned``, ``candidate``, ``stretch`` or ``retention_per_day``,
        ``median_lag_days``, the given kernel's ``given_median_lag_days`` and the kept
        kernel's ``bic_gain`` over it.
        """
        out: dict[str, dict[str, object]] = {}
        for ch in self.channels:
            given = ch.scores.iloc[0]
            kept = ch.scores.iloc[ch.chosen_row]

            def number(value: float) -> float | None:
                return None if math.isnan(value) else float(value)

            out[ch.channel] = {
                "tuned": ch.tuned,
                "candidate": str(kept["candidate"]),
                "stretch": number(kept["stretch"]),
                "retention_per_day": number(kept["retention_per_day"]),
                "median_lag_days": float(kept["median_lag_days"]),
                "given_median_lag_days": float(given["median_lag_days"]),
                "bic_gain": float(given["bic"] - kept["bic"]),
            }
        return out


def tune_adstock(
    weekly: pd.DataFrame,
    adstock_params: Mapping[str, AdstockParams | None],
    campaigns: pd.DataFrame,
    *,
    media: str | Mapping[str, str] = "impressions",
    retentions: Sequence[float] = DEFAULT_RETENTIONS,
    stretches: Sequence[Fraction] = DEFAULT_STRETCHES,
    max_days: int = 120,
    min_bic_gain: float = MIN_BIC_GAIN,
) -> AdstockTuning:
    """Choose each channel's daily carryover from its contributions (see the module doc).

    Parameters
    ----------
    weekly
        ``date, channel, contribution`` per MMM period (weekly or daily), as for
        :func:`~mixlens.ima.fit.fit_ima`. With a ``geo`` column (and campaigns with
        one), contributions and media are summed over the geos first: the kernel is
        shared by the geos, as in the geo MMM.
    adstock_params
        Per channel, the given kernel with lags in MMM periods (``None``: no carryover).
    campaigns
        Daily campaign media ``date, channel, campaign, <media>``.
    media
        Media metric for every channel, or channel -> metric.
    retentions
        Daily geometric retentions to try, each in ``[0, 1)``.
    stretches
        Lag multipliers of each given kernel to try (its shape kept).
    max_days
        Longest daily geometric kernel tried (days).
    min_bic_gain
        BIC gain over the given kernel a candidate needs to replace it.

    Returns
    -------
    AdstockTuning
        The kernel per channel; :meth:`AdstockTuning.params` gives the mapping for
        :func:`~mixlens.ima.fit.fit_ima`.
    """
    from mixlens.ima.fit import campaign_calendar, media_metric  # the fit's own calendar

    if any(not 0.0 <= float(r) < 1.0 for r in retentions):
        raise ValueError(f"retentions must lie in [0, 1), got {list(retentions)}")
    weekly, campaigns = _over_geos(weekly, campaigns)
    cal = campaign_calendar(weekly, campaigns)
    period, camp, days, warmup = cal.period, cal.campaigns, cal.days, cal.window.start
    out: list[ChannelTuning] = []
    for channel in [str(c) for c in weekly["channel"].drop_duplicates()]:
        part = camp[camp["channel"] == channel]
        if part.empty:
            continue
        metric = media_metric(media, channel)
        wide = daily_media_matrix(
            part.assign(**{metric: part[metric].fillna(0.0)}), days, value=metric, key="campaign"
        )
        raw = wide[sorted(wide.columns)].to_numpy(dtype=np.float64)
        y = (
            weekly[weekly["channel"] == channel]
            .sort_values("date", key=pd.to_datetime)["contribution"]
            .to_numpy(dtype=np.float64)
        )
        given = adstock_params.get(channel)
        candidates = _candidates(given, period, retentions, stretches, max_days)
        scores, _ = _score(y, raw, period, warmup, candidates)
        best = int(np.argmin(scores["bic"].to_numpy()))
        tuned = (
            best != 0 and float(scores["bic"].iloc[0] - scores["bic"].iloc[best]) >= min_bic_gain
        )
        row = best if tuned else 0
        daily = candidates[row].daily
        chosen = (
            (None if daily is None else to_weekly(daily, days_per_week=period)) if tuned else given
        )
        out.append(ChannelTuning(channel, given, chosen, tuned, scores, row))
    return AdstockTuning(tuple(out), period)
