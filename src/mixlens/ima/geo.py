"""IMA at the geo level: campaign credit per geo, campaign effects pooled across geos.

Given a geo MMM's weekly channel contributions per geo (``date, geo, channel,
contribution``) and daily campaign media with a ``geo`` column, :func:`fit_geo_ima`

1. disaggregates each geo's weekly channel contributions to days exactly as the
   national method does (:func:`mixlens.ima.fit.prepare_inputs`, one geo at a time);
2. fits, per channel, one Bayesian campaign regression over all geos in which each
   campaign's effect in a geo is partially pooled around the campaign's shared effect
   (:mod:`mixlens.ima.geo_regression`);
3. splits, reconciles and scores each geo as the national method does
   (:func:`~mixlens.ima.regression.reconcile`; campaigns plus ``unattributed`` equal the
   geo's channel contribution every day), and totals over geos draw by draw.

Given the geo MMM's posterior (:func:`mixlens.ima.anchor.read_geo_mmm_posterior`), each
geo is anchored in it as the national method is in a national MMM's
(:func:`mixlens.ima.fit.fit_ima`): the posterior-mean kernels (shared by the geos) under
the MMM's grain; each geo's weeks weighed by the posterior sd of the geo's weekly shape
(``mmm_error``); and each geo's contribution draws propagated into its campaign
intervals (:func:`~mixlens.ima.fit.mmm_deviation`). Every geo and channel pairs
regression draw ``i`` with the same MMM draw, so the national totals, summed draw by
draw, carry the MMM's joint uncertainty across geos and channels.

The result (:class:`GeoIMAResult`) holds one :class:`~mixlens.ima.results.IMAResult` per
geo and the national one (sums over geos); its tables carry a ``geo`` column with each
geo and ``all`` (the geo MMM's convention, :data:`mixlens.mmm.geo.ALL_GEOS`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from mixlens.ima.anchor import GeoMMMPosterior
from mixlens.ima.disaggregate import split_weekly
from mixlens.ima.fit import (
    Grain,
    _period_sd,
    mmm_deviation,
    period_days,
    prepare_inputs,
)
from mixlens.ima.geo_regression import (
    GeoChannelDesign,
    GeoDraws,
    GeoFitMethod,
    Pooling,
    fit_geo_regression,
)
from mixlens.ima.interactions import (
    check_targets,
    interaction_share,
    interaction_summary,
    source_activity,
)
from mixlens.ima.lift import align_geo_lifts, warn_lifts_with_advi
from mixlens.ima.regression import (
    ChannelDesign,
    ReconcileRule,
    RegressionModel,
    reconcile,
)
from mixlens.ima.results import UNATTRIBUTED, IMAResult
from mixlens.mmm.geo import ALL_GEOS
from mixlens.transforms.timescale import AdstockParams

__all__ = [
    "GeoIMAInputs",
    "GeoIMAResult",
    "check_geo_posterior",
    "fit_geo_ima",
    "prepare_geo_inputs",
]

FloatArray = NDArray[np.float64]
_COEF_COLUMNS = ["channel", "campaign", "beta_mean", "beta_lo", "beta_hi"]


def _weekly_sums(daily: FloatArray) -> FloatArray:
    out: FloatArray = np.add.reduceat(daily, np.arange(0, daily.size, 7))
    return out


def _mape(observed: FloatArray, predicted: FloatArray) -> float:
    """Weekly MAPE (percent) over weeks with at least 1% of the mean absolute week."""
    keep = np.abs(observed) >= 0.01 * np.mean(np.abs(observed))
    if not keep.any():
        return 0.0
    return float(np.mean(np.abs(predicted[keep] - observed[keep]) / np.abs(observed[keep]))) * 100


@dataclass(frozen=True, eq=False)
class GeoIMAInputs:
    """The regression inputs of every geo (see :func:`prepare_geo_inputs`).

    Parameters
    ----------
    designs
        One :class:`~mixlens.ima.geo_regression.GeoChannelDesign` per channel.
    spend
        Geo -> channel -> campaign spend over the window, in the design's campaign order.
    media
        Media metric per channel.
    weeks
        First day of each MMM period.
    days
        Every day of the periods.
    skipped
        ``(geo, channel)`` pairs of the MMM without campaign rows (not attributed).
    """

    designs: list[GeoChannelDesign]
    spend: dict[str, dict[str, FloatArray]]
    media: dict[str, str]
    weeks: pd.DatetimeIndex
    days: pd.DatetimeIndex
    skipped: list[tuple[str, str]]


def prepare_geo_inputs(
    weekly: pd.DataFrame,
    adstock_params: Mapping[str, AdstockParams | None],
    campaigns: pd.DataFrame,
    *,
    media: str | Mapping[str, str] = "impressions",
    adstock: Grain = "mmm",
    kernels: Mapping[str, FloatArray] | None = None,
) -> GeoIMAInputs:
    """Daily channel contributions and adstocked campaign media of every geo.

    Each geo goes through :func:`mixlens.ima.fit.prepare_inputs` (the national stages
    1-2); the geos' campaign lists of a channel are then aligned on their union (a
    campaign without media in a geo has a zero column there).

    Parameters
    ----------
    weekly
        ``date, geo, channel, contribution``: each geo's weekly (or daily) channel
        contributions, every geo on the same periods.
    adstock_params
        Per channel, its adstock with lags in MMM periods, shared by the geos.
    campaigns
        Daily campaign media with a ``geo`` column (validated, ``date`` as datetime).
    media
        Media metric for every channel, or one per channel.
    adstock
        ``"mmm"`` or ``"daily"`` (see :func:`mixlens.ima.fit.campaign_media`).
    kernels
        The MMM's weekly kernel per channel on its own scale, shared by the geos (e.g.
        :attr:`~mixlens.ima.anchor.GeoMMMPosterior.kernels`), for ``adstock="mmm"``.

    Returns
    -------
    GeoIMAInputs
        Designs per channel over its geos, spend per geo, the calendar.

    Raises
    ------
    ValueError
        If no geo of ``weekly`` has campaign rows.
    """
    geos = [str(g) for g in weekly["geo"].drop_duplicates()]
    per_geo = {}
    for geo in geos:
        camp = campaigns[campaigns["geo"] == geo].drop(columns="geo")
        wk = weekly[weekly["geo"] == geo].drop(columns="geo")
        if len(camp):
            per_geo[geo] = prepare_inputs(
                wk, adstock_params, camp, media=media, adstock=adstock, kernels=kernels
            )
    if not per_geo:
        raise ValueError("no geo of the MMM has campaign rows")
    first = next(iter(per_geo.values()))
    channels = [str(c) for c in weekly["channel"].drop_duplicates()]
    designs: list[GeoChannelDesign] = []
    spend: dict[str, dict[str, FloatArray]] = {geo: {} for geo in per_geo}
    metrics: dict[str, str] = {}
    skipped: list[tuple[str, str]] = [(g, c) for g in geos if g not in per_geo for c in channels]
    for channel in channels:
        found = {
            geo: next(d for d in inp.designs if d.channel == channel)
            for geo, inp in per_geo.items()
            if any(d.channel == channel for d in inp.designs)
        }
        skipped += [(g, channel) for g in per_geo if g not in found]
        if not found:
            continue
        names = tuple(sorted({k for d in found.values() for k in d.campaigns}))
        aligned = []
        for geo, d in found.items():
            index = [names.index(k) for k in d.campaigns]
            x = np.zeros((d.y.size, len(names)))
            x[:, index] = d.x
            aligned.append(ChannelDesign(channel=channel, campaigns=names, y=d.y, x=x))
            sp = np.zeros(len(names))
            sp[index] = per_geo[geo].spend[channel]
            spend[geo][channel] = sp
            metrics[channel] = per_geo[geo].media[channel]
        designs.append(GeoChannelDesign(channel, tuple(found), tuple(aligned)))
    return GeoIMAInputs(designs, spend, metrics, first.weeks, first.days, skipped)


@dataclass(frozen=True, eq=False)
class GeoIMAResult:
    """Campaign credit per geo and in total, anchored in a geo MMM.

    Parameters
    ----------
    by_geo
        Geo -> its :class:`~mixlens.ima.results.IMAResult` (per channel and day, the
        geo's campaigns plus ``unattributed`` sum to the geo's channel contribution).
    national
        The sums over geos (campaign totals summed draw by draw, so their intervals
        are those of the sum).
    shared
        ``channel, campaign, effect_mean, effect_lo, effect_hi``: each campaign's shared
        effect relative to its channel (``exp(s_c u_k)``; ones without pooling).
    meta
        JSON-safe extras (choices, timings, the spread of campaign effects across geos).
    """

    by_geo: Mapping[str, IMAResult]
    national: IMAResult
    shared: pd.DataFrame
    meta: Mapping[str, Any] = field(default_factory=dict)

    def with_ci(self, ci: float) -> GeoIMAResult:
        """Return the same result with intervals of mass ``ci``."""
        return replace(
            self,
            by_geo={g: r.with_ci(ci) for g, r in self.by_geo.items()},
            national=self.national.with_ci(ci),
        )

    def _stack(self, table: str) -> pd.DataFrame:
        frames = [
            getattr(r, table)().assign(geo=geo)
            for geo, r in [*self.by_geo.items(), (ALL_GEOS, self.national)]
        ]
        out = pd.concat(frames, ignore_index=True)
        columns = list(out.columns)
        columns.remove("geo")
        insert = 1 if columns[0] == "date" else 0
        ordered: pd.DataFrame = out[[*columns[:insert], "geo", *columns[insert:]]]
        return ordered

    def campaign_daily(self) -> pd.DataFrame:
        """Daily credit: ``date, geo, channel, campaign, contribution`` (geo ``all``: sums)."""
        return self._stack("campaign_daily")

    def campaigns(self) -> pd.DataFrame:
        """Credit per geo and campaign (geo ``all``: sums over geos).

        Columns ``geo, channel, campaign, spend, contribution_mean, contribution_lo,
        contribution_hi, roi_mean`` (see :meth:`mixlens.ima.results.IMAResult.campaigns`).
        """
        return self._stack("campaigns")

    def fit(self) -> pd.DataFrame:
        """Weekly fit to the MMM: ``geo, channel, weekly_mape, r2`` (geo ``all``: the sums)."""
        return self._stack("fit")

    def weekly(self) -> pd.DataFrame:
        """``date, geo, channel, observed, predicted``: the weekly series behind :meth:`fit`."""
        frames = [
            r.weekly.assign(geo=geo) for geo, r in [*self.by_geo.items(), (ALL_GEOS, self.national)]
        ]
        out = pd.concat(frames, ignore_index=True)
        return out[["date", "geo", "channel", "observed", "predicted"]]

    def to_frame(self) -> pd.DataFrame:
        """Return :meth:`campaigns` (the tidy per-geo, per-campaign table)."""
        return self.campaigns()

    def summary(self) -> dict[str, Any]:
        """JSON-safe summary: the national summary, each geo's fit and ``meta``."""
        out = self.national.summary()
        out["geos"] = list(self.by_geo)
        out["fit_by_geo"] = {geo: r.summary()["fit"] for geo, r in self.by_geo.items()}
        out["meta"] = dict(self.meta)
        return out


def _geo_activity(
    weekly: pd.DataFrame,
    designs: Sequence[GeoChannelDesign],
    interactions: Mapping[str, Sequence[str]] | None,
    weeks: pd.DatetimeIndex,
    step: int,
) -> dict[str, dict[str, FloatArray]] | None:
    """Geo -> target -> its sources' activity per day in that geo (``None``: no terms)."""
    if not interactions:
        return None
    channels = {gd.channel: gd for gd in designs}
    check_targets(interactions, channels)
    out: dict[str, dict[str, FloatArray]] = {}
    for geo, part in weekly.groupby("geo", sort=False):
        targets = {t: s for t, s in interactions.items() if str(geo) in channels[t].geos}
        if targets:
            out[str(geo)] = source_activity(part, targets, weeks, step)
    return out


def _unit_frames(
    d: ChannelDesign,
    parts: FloatArray,
    alpha: FloatArray,
    *,
    spend: FloatArray,
    days: pd.DatetimeIndex,
    rule: ReconcileRule,
    resplit: bool,
    ci: float,
    mmm_draws: FloatArray | None = None,
    period: int = 7,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame, FloatArray, pd.DataFrame, pd.DataFrame]:
    """One geo and channel, as :func:`mixlens.ima.fit.fit_ima` treats one channel.

    ``mmm_draws`` (the geo MMM's draws of this geo's channel contribution per period,
    ``(S_mmm, n_periods)``) are propagated into the campaign totals' draws by
    :func:`~mixlens.ima.fit.mmm_deviation` (mean zero: the daily credit and the means
    are those of the posterior-mean fit).
    """
    pred = parts.sum(axis=2).mean(axis=0) + alpha.mean()
    if resplit:
        d = replace(d, y=split_weekly(_weekly_sums(d.y), pred, days_per_week=7))
    exposure = d.x.sum(axis=0)
    beta = np.where(exposure > 0, parts.sum(axis=1) / np.where(exposure > 0, exposure, 1.0), 0.0)
    scaled, unattr = reconcile(d.y, parts, rule=rule, intercept=alpha[:, None])
    mean_daily = np.concatenate([scaled.mean(axis=0), unattr.mean(axis=0)[:, None]], axis=1)
    total = np.concatenate([scaled.sum(axis=1), unattr.sum(axis=1)[:, None]], axis=1)
    if mmm_draws is not None:
        total = total + mmm_deviation(
            d, parts, pred, mmm_draws, rule=rule, period=period, seed=seed, intercept=alpha
        )
    names = [*d.campaigns, UNATTRIBUTED]
    daily = pd.DataFrame(
        {
            "date": np.repeat(days.to_numpy(), len(names)),
            "channel": d.channel,
            "campaign": np.tile(np.array(names, dtype=object), len(days)),
            "contribution": mean_daily.reshape(-1),
        }
    )
    rows = pd.DataFrame({"channel": d.channel, "campaign": names, "spend": np.r_[spend, 0.0]})
    weekly = pd.DataFrame(
        {
            "date": days[::7],
            "channel": d.channel,
            "observed": _weekly_sums(d.y),
            "predicted": _weekly_sums(pred),
        }
    )
    lo, hi = np.quantile(beta, [(1 - ci) / 2, (1 + ci) / 2], axis=0)
    coefs = pd.DataFrame(
        {
            "channel": d.channel,
            "campaign": list(d.campaigns),
            "beta_mean": beta.mean(axis=0),
            "beta_lo": lo,
            "beta_hi": hi,
        }
    )
    return daily, rows, total, weekly, coefs


def _national(by_geo: Mapping[str, IMAResult], ci: float, meta: dict[str, Any]) -> IMAResult:
    """Sum over geos: daily credit, spend, draws (draw by draw) and weekly series."""
    results = list(by_geo.values())
    daily = (
        pd.concat([r.daily for r in results], ignore_index=True)
        .groupby(["date", "channel", "campaign"], sort=False)["contribution"]
        .sum()
        .reset_index()
    )
    keys = ["channel", "campaign"]
    rows = (
        pd.concat([r.rows for r in results], ignore_index=True)
        .groupby(keys, sort=False)["spend"]
        .sum()
        .reset_index()
    )
    index = pd.MultiIndex.from_frame(rows[keys])
    total = np.zeros((results[0].total_draws.shape[0], len(rows)))
    for r in results:
        cols = index.get_indexer(pd.MultiIndex.from_frame(r.rows[keys]))
        total[:, cols] += r.total_draws
    weekly = (
        pd.concat([r.weekly for r in results], ignore_index=True)
        .groupby(["date", "channel"], sort=False)[["observed", "predicted"]]
        .sum()
        .reset_index()
    )
    first = results[0]
    return IMAResult(
        daily=daily,
        rows=rows,
        total_draws=total,
        weekly=weekly,
        coefficients=pd.DataFrame(columns=_COEF_COLUMNS),
        method=first.method,
        media=first.media,
        ci=ci,
        meta=meta,
    )


def check_geo_posterior(posterior: GeoMMMPosterior, weekly: pd.DataFrame) -> None:
    """Check that a geo MMM's posterior covers the geos, channels and periods of ``weekly``.

    Parameters
    ----------
    posterior
        From :func:`~mixlens.ima.anchor.read_geo_mmm_posterior`.
    weekly
        ``date, geo, channel, contribution`` as given to :func:`fit_geo_ima`.

    Raises
    ------
    ValueError
        Naming the first geo, channel or period the posterior lacks.

    Examples
    --------
    >>> from mixlens.ima.anchor import MMMPosterior
    >>> post = GeoMMMPosterior(
    ...     by_geo={"n": MMMPosterior(kernels={}, draws={"tv": np.zeros((3, 2))})},
    ...     dates=pd.DatetimeIndex(["2024-01-01", "2024-01-08"]),
    ... )
    >>> weekly = pd.DataFrame({"date": post.dates, "geo": "n", "channel": "tv",
    ...                        "contribution": 1.0})
    >>> check_geo_posterior(post, weekly)
    >>> check_geo_posterior(post, weekly.assign(geo="s"))
    Traceback (most recent call last):
    ...
    ValueError: the MMM posterior has no geo 's' (it has: n)
    """
    dates = pd.DatetimeIndex(pd.to_datetime(weekly["date"]).drop_duplicates().sort_values())
    if len(dates) != len(posterior.dates) or not (dates == posterior.dates).all():
        raise ValueError(
            f"the MMM posterior's {len(posterior.dates)} periods "
            f"({posterior.dates[0].date()} ..) are not the contributions' {len(dates)} "
            f"({dates[0].date()} ..)"
        )
    for (geo, channel), _ in weekly.groupby(["geo", "channel"], sort=False):
        found = posterior.by_geo.get(str(geo))
        if found is None:
            have = ", ".join(posterior.by_geo)
            raise ValueError(f"the MMM posterior has no geo {geo!r} (it has: {have})")
        draws = found.draws.get(str(channel))
        if draws is None or draws.shape[1:] != (len(dates),) or draws.shape[0] < 1:
            raise ValueError(
                f"the MMM posterior has no draws of channel {channel!r} in geo {geo!r} "
                f"over the {len(dates)} periods"
            )


def fit_geo_ima(
    weekly: pd.DataFrame,
    adstock_params: Mapping[str, AdstockParams | None],
    campaigns: pd.DataFrame,
    *,
    media: str | Mapping[str, str] = "impressions",
    method: GeoFitMethod = "advi",
    model: RegressionModel | Literal["auto"] = "auto",
    pooling: Pooling = "partial",
    draws: int = 200,
    seed: int = 0,
    ci: float = 0.9,
    advi_steps: int = 8000,
    rule: ReconcileRule = "cap",
    likelihood: Literal["period", "daily"] = "period",
    grain: Grain | Literal["auto"] = "auto",
    posterior: GeoMMMPosterior | None = None,
    mmm_error: bool = True,
    lift_tests: pd.DataFrame | None = None,
    tune: int = 500,
    interactions: Mapping[str, Sequence[str]] | None = None,
) -> GeoIMAResult:
    """Attribute each geo's weekly channel contributions to campaigns, day by day.

    Parameters
    ----------
    weekly
        ``date, geo, channel, contribution``: each geo's contribution per channel and
        MMM period (target units), every geo on the same consecutive periods.
    adstock_params
        Per channel, its adstock with lags in MMM periods (``None``: no carryover).
    campaigns
        Daily campaign media with a ``geo`` column. Geos of ``weekly`` without campaign
        rows (and channels of a geo without them) are not attributed.
    media
        Media metric for every channel, or one per channel.
    method
        ``"advi"`` (default), ``"laplace"`` (the posterior mode by L-BFGS and a Gaussian
        with the full inverse Hessian, pooling hyperparameters at the mode: the choice
        with lift tests, as in :func:`mixlens.ima.fit.fit_ima`) or ``"nuts"``.
    model
        ``"linear"``, ``"saturating"`` or ``"auto"`` (both; per channel the one with the
        lower weekly MAPE averaged over geos), as in :func:`mixlens.ima.fit.fit_ima`.
    pooling
        ``"partial"`` (default: campaign effects pooled across geos) or ``"none"``.
    draws
        Posterior draws.
    seed
        Random seed.
    ci
        Mass of the central intervals.
    advi_steps
        ADVI optimisation steps.
    rule
        Reconciliation rule, see :func:`~mixlens.ima.regression.reconcile`.
    likelihood
        ``"period"`` (default) or ``"daily"``, as in :func:`mixlens.ima.fit.fit_ima`.
    grain
        ``"mmm"``, ``"daily"`` or ``"auto"`` (both, chosen per channel as ``model``), as
        in :func:`mixlens.ima.fit.fit_ima`.
    posterior
        The geo MMM's posterior (:func:`~mixlens.ima.anchor.read_geo_mmm_posterior`),
        used as ``posterior`` in :func:`mixlens.ima.fit.fit_ima`, geo by geo: its
        posterior-mean kernels (shared by the geos) under ``grain="mmm"``, and each
        geo's contribution draws propagated into that geo's campaign intervals (and,
        summed draw by draw, the national ones); the means and the daily credit stay
        those of the posterior-mean fit.
    mmm_error
        With ``posterior``: each geo's period likelihood treats the geo's contribution
        as measured with the posterior sd of its shape (each draw rescaled to the
        posterior mean's total over the window), as ``mmm_error`` in
        :func:`mixlens.ima.fit.fit_ima`; ``False``: exact contributions.

    lift_tests
        Campaign lift tests from :func:`mixlens.ima.lift.read_campaign_lifts` with
        ``geo=True`` (a test's ``geo``: the geos it ran in; empty: every geo), as
        evidence in the regression (:class:`~mixlens.ima.geo_regression.GeoLift`).
    tune
        NUTS tuning steps per chain (``method="nuts"``).
    interactions
        Cross-channel interaction terms, target channel -> source channels, as in
        :func:`mixlens.ima.fit.fit_ima`: in each geo the sources' activity is their MMM
        contribution in that geo; ``gamma`` is shared by the geos. ``meta["interactions"]``
        reports ``gamma`` and the share of each target's contribution (all geos) owed to
        its sources.

    Returns
    -------
    GeoIMAResult
        Credit per geo and in total.

    Raises
    ------
    ValueError
        On an unknown option, or a ``posterior`` that lacks a geo, channel or period of
        ``weekly`` (:func:`check_geo_posterior`).
    """
    if likelihood not in ("period", "daily"):
        raise ValueError(f"likelihood must be 'period' or 'daily', got {likelihood!r}")
    if grain not in ("mmm", "daily", "auto"):
        raise ValueError(f"grain must be 'mmm', 'daily' or 'auto', got {grain!r}")
    start = time.perf_counter()
    weekly = weekly.assign(date=pd.to_datetime(weekly["date"]))
    weeks = pd.DatetimeIndex(weekly["date"].drop_duplicates().sort_values())
    step = period_days(weeks)
    kernels = None
    period_sd: dict[str, dict[str, FloatArray]] | None = None
    if posterior is not None:
        check_geo_posterior(posterior, weekly)
        kernels = posterior.kernels
        if mmm_error:
            daily_likelihood = likelihood != "period"
            period_sd = {
                geo: _period_sd(post, step, daily=daily_likelihood)
                for geo, post in posterior.by_geo.items()
            }
    grains: tuple[Grain, ...] = (
        ("mmm", "daily")
        if grain == "auto" and step > 1
        else ("daily",)
        if grain == "daily"
        else ("mmm",)
    )
    inputs = {
        g: prepare_geo_inputs(
            weekly, adstock_params, campaigns, media=media, adstock=g, kernels=kernels
        )
        for g in grains
    }
    models: tuple[RegressionModel, ...] = ("saturating", "linear") if model == "auto" else (model,)
    lifts = {
        g: []
        if lift_tests is None or lift_tests.empty
        else align_geo_lifts(
            lift_tests, inputs[g].designs, inputs[g].days, file=lift_tests.attrs.get("source")
        )
        for g in grains
    }
    if any(lifts.values()) and method == "advi":
        warn_lifts_with_advi("method='laplace' or method='nuts'")
    activity = _geo_activity(weekly, inputs[grains[0]].designs, interactions, weeks, step)
    fit_start = time.perf_counter()
    fitted: dict[tuple[Grain, RegressionModel], GeoDraws] = {
        (g, name): fit_geo_regression(
            inputs[g].designs,
            model=name,
            pooling=pooling,
            method=method,
            draws=draws,
            seed=seed,
            advi_steps=advi_steps,
            tune=tune,
            period_days=step if likelihood == "period" else 1,
            saturation_days=step if likelihood == "period" and g == "mmm" else 1,
            period_sd=period_sd,
            lifts=lifts[g],
            interactions=activity,
        )
        for g in grains
        for name in models
    }
    fit_seconds = time.perf_counter() - fit_start
    base = inputs[grains[0]]
    chosen: dict[str, tuple[Grain, RegressionModel]] = {}
    for c, gd in enumerate(base.designs):

        def score(key: tuple[Grain, RegressionModel], c: int = c) -> float:
            geo_design = inputs[key[0]].designs[c]
            return float(
                np.mean(
                    [
                        _mape(_weekly_sums(d.y), _weekly_sums(fitted[key].by_geo[geo].predict(d)))
                        for geo, d in zip(geo_design.geos, geo_design.designs, strict=True)
                    ]
                )
            )

        chosen[gd.channel] = min(fitted, key=score)
    resplit = likelihood == "period" and step == 7
    parts_by_geo: dict[str, list[tuple[pd.DataFrame, ...]]] = {}
    synergy: dict[str, Any] = {}
    totals_by_geo: dict[str, list[FloatArray]] = {}
    for c, gd0 in enumerate(base.designs):
        key = chosen[gd0.channel]
        gd = inputs[key[0]].designs[c]
        for geo, d in zip(gd.geos, gd.designs, strict=True):
            draws_ = fitted[key].by_geo[geo]
            if interactions and activity and d.channel in draws_.gamma:
                gamma = draws_.gamma[d.channel]
                owed = interaction_share(d.y, gamma, activity[geo][d.channel]) * d.y.sum()
                entry = synergy.setdefault(d.channel, {"gamma": gamma, "owed": 0.0, "y": 0.0})
                entry["owed"] = entry["owed"] + owed
                entry["y"] += float(d.y.sum())
            daily, rows, total, wk, coefs = _unit_frames(
                d,
                draws_.campaign_parts(d),
                draws_.alpha[d.channel],
                spend=base.spend[geo][d.channel],
                days=base.days,
                rule=rule,
                resplit=resplit,
                ci=ci,
                mmm_draws=None if posterior is None else posterior.by_geo[geo].draws[d.channel],
                period=step,
                seed=seed,
            )
            parts_by_geo.setdefault(geo, []).append((daily, rows, wk, coefs))
            totals_by_geo.setdefault(geo, []).append(total)
    meta: dict[str, Any] = {
        "n_days": len(base.days),
        "n_weeks": len(base.days[::7]),
        "period_days": step,
        "pooling": pooling,
        "rule": rule,
        "likelihood": likelihood,
        "model": model,
        "model_by_channel": {c: key[1] for c, key in chosen.items()},
        "grain": grain,
        "grain_by_channel": {c: key[0] for c, key in chosen.items()},
        "skipped": [list(pair) for pair in base.skipped],
        "mmm_uncertainty": posterior is not None,
        "mmm_error": period_sd is not None,
        "mmm_draws": 0 if posterior is None else posterior.n_draws,
        "lift_tests": len(lifts[grains[0]]),
        "interactions": {
            channel: interaction_summary(
                (interactions or {})[channel], e["gamma"], e["owed"] / e["y"], ci
            )
            for channel, e in synergy.items()
        },
    }
    by_geo = {}
    for geo, frames in parts_by_geo.items():
        columns = zip(*frames, strict=True)
        daily, rows, wk, coefs = (pd.concat(list(f), ignore_index=True) for f in columns)
        by_geo[geo] = IMAResult(
            daily=daily,
            rows=rows,
            total_draws=np.concatenate(totals_by_geo[geo], axis=1),
            weekly=wk,
            coefficients=coefs,
            method=method,
            media=base.media,
            ci=ci,
            meta={"geo": geo, **meta},
        )
    shared_rows = []
    for gd0 in base.designs:
        key = chosen[gd0.channel]
        effect = fitted[key].shared[gd0.channel]
        lo, hi = np.quantile(effect, [(1 - ci) / 2, (1 + ci) / 2], axis=0)
        shared_rows.append(
            pd.DataFrame(
                {
                    "channel": gd0.channel,
                    "campaign": list(gd0.campaigns),
                    "effect_mean": effect.mean(axis=0),
                    "effect_lo": lo,
                    "effect_hi": hi,
                }
            )
        )
        geo_sd = fitted[key].geo_sd[gd0.channel]
        if geo_sd.size:
            meta.setdefault("geo_sd_mean", {})[gd0.channel] = float(geo_sd.mean())
    meta["fit_seconds"] = round(fit_seconds, 3)
    meta["total_seconds"] = round(time.perf_counter() - start, 3)
    return GeoIMAResult(
        by_geo=by_geo,
        national=_national(by_geo, ci, meta),
        shared=pd.concat(shared_rows, ignore_index=True),
        meta=meta,
    )
