"""IMA end to end in memory: weekly channel contributions + campaign media -> credit.

:func:`fit_ima` chains the three stages: it converts each channel's adstock to days,
disaggregates the weekly channel contributions (:mod:`mixlens.ima.disaggregate`), fits
the campaign regression (:mod:`mixlens.ima.regression`, by default to the weekly totals)
and reconciles the campaign credit with the channel every day. With the period
likelihood, each week's contribution is split over its days again, in proportion to the
fitted daily response rather than the raw adstocked media, before reconciliation; the
days still sum exactly to the week.

**Grain.** A weekly MMM adstocks and saturates *weekly* media. A daily regression on the
weekly kernel converted to days cannot reproduce its weekly contributions at burst
edges (the converted kernel carries late-week media into the next week, and a daily
curve saturates days, not weeks), so by default (``grain="auto"``) each channel is also
fitted at the MMM's grain (campaign media whose weekly sums are the MMM's weekly
adstock, curve on weekly pressure) and the better weekly fit is kept. Given the MMM's
posterior (:mod:`mixlens.ima.anchor`), its draws are propagated into the campaign
intervals (:func:`mmm_deviation`), and the sd of the weekly shape they imply enters the
regression's likelihood (``mmm_error``), so the split does not chase weeks the MMM is
unsure of.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from mixlens.ima.anchor import MMMPosterior
from mixlens.ima.disaggregate import (
    daily_adstock,
    daily_grid,
    daily_media_matrix,
    period_consistent_adstock,
    split_weekly,
)
from mixlens.ima.interactions import (
    check_targets,
    interaction_share,
    interaction_summary,
    source_activity,
)
from mixlens.ima.lift import align_lifts, warn_lifts_with_advi
from mixlens.ima.regression import (
    ChannelDesign,
    FitMethod,
    ReconcileRule,
    RegressionDraws,
    RegressionModel,
    fit_regression,
    reconcile,
)
from mixlens.ima.results import UNATTRIBUTED, IMAResult
from mixlens.transforms.timescale import AdstockParams

__all__ = [
    "MEDIA_METRICS",
    "CampaignCalendar",
    "Grain",
    "IMAInputs",
    "campaign_calendar",
    "campaign_media",
    "fit_ima",
    "media_metric",
    "mmm_deviation",
    "period_days",
    "prepare_inputs",
]

FloatArray = NDArray[np.float64]
Grain = Literal["mmm", "daily"]

#: Media metrics a channel's regression can use.
MEDIA_METRICS = ("impressions", "spend", "clicks")


def period_days(starts: pd.DatetimeIndex) -> int:
    """Days per MMM period: ``1`` if the sorted dates are consecutive days, else ``7``.

    Examples
    --------
    >>> period_days(pd.date_range("2024-01-01", periods=3, freq="D"))
    1
    >>> period_days(pd.date_range("2024-01-01", periods=3, freq="7D"))
    7
    """
    steps = np.diff(starts.to_numpy()).astype("timedelta64[D]").astype(int)
    return 1 if steps.size and np.all(steps == 1) else 7


def _weekly_sums(daily: FloatArray) -> FloatArray:
    """Sum consecutive 7-day blocks from the first day (the last one may be short)."""
    out: FloatArray = np.add.reduceat(daily, np.arange(0, daily.size, 7))
    return out


def _weekly_mape(design: ChannelDesign, draws: RegressionDraws) -> float:
    """Weekly MAPE (percent) of a fitted regression against the channel's contribution."""
    observed, predicted = _weekly_sums(design.y), _weekly_sums(draws.predict(design))
    keep = np.abs(observed) >= 0.01 * np.mean(np.abs(observed))
    if not keep.any():
        return 0.0
    return float(np.mean(np.abs(predicted[keep] - observed[keep]) / np.abs(observed[keep]))) * 100


def _period_sd(posterior: MMMPosterior, period: int, *, daily: bool) -> dict[str, FloatArray]:
    """Per channel, the sd of the *shape* of the MMM's contribution per likelihood period.

    Each draw is first rescaled to the posterior mean's total over the window: IMA
    conserves the channel's total, so only the uncertainty of how it spreads over the
    periods bears on the campaign split (a channel's level is often far less certain
    than its shape, and would otherwise flatten the likelihood for nothing). The draws
    are per MMM period of ``period`` days; a daily likelihood (``daily``) under a longer
    period spreads each period's sd over its days as if independent (``sd / sqrt(period)``
    per day keeps the period total's variance).

    Examples
    --------
    >>> post = MMMPosterior(kernels={}, draws={"a": np.array([[1.0, 2.0], [2.0, 4.0]])})
    >>> _period_sd(post, 7, daily=False)["a"].tolist()  # level only: no shape error
    [0.0, 0.0]
    >>> post = MMMPosterior(kernels={}, draws={"a": np.array([[1.0, 3.0], [3.0, 1.0]])})
    >>> _period_sd(post, 7, daily=False)["a"].tolist()
    [1.0, 1.0]
    >>> _period_sd(post, 2, daily=True)["a"].round(3).tolist()
    [0.707, 0.707, 0.707, 0.707]
    """
    out: dict[str, FloatArray] = {}
    for channel, draws in posterior.draws.items():
        values = np.asarray(draws, dtype=np.float64)
        totals = values.sum(axis=1, keepdims=True)
        target = float(values.mean(axis=0).sum())
        shape = np.where(
            totals != 0, values * (target / np.where(totals != 0, totals, 1.0)), values
        )
        sd = shape.std(axis=0)
        out[channel] = np.repeat(sd / np.sqrt(period), period) if daily else sd
    return out


def media_metric(media: str | Mapping[str, str], channel: str) -> str:
    """Return ``channel``'s media metric: ``media`` itself, or its entry (default impressions).

    Examples
    --------
    >>> media_metric({"tv": "spend"}, "social")
    'impressions'
    """
    metric = media if isinstance(media, str) else media.get(channel, "impressions")
    if metric not in MEDIA_METRICS:
        raise ValueError(
            f"media for channel {channel!r} must be one of {MEDIA_METRICS}, got {metric!r}"
        )
    return metric


def campaign_media(
    campaigns: pd.DataFrame,
    channel: str,
    days: pd.DatetimeIndex,
    *,
    metric: str,
    weekly_params: AdstockParams | None,
    window: slice,
    period_days: int = 7,
    adstock: Grain = "mmm",
    weekly_weights: FloatArray | None = None,
) -> tuple[tuple[str, ...], FloatArray, FloatArray]:
    """Raw and adstocked daily media of one channel's campaigns.

    Parameters
    ----------
    campaigns
        Validated daily campaign table (``date`` as datetime).
    channel
        The channel.
    days
        Daily grid, possibly starting before the fitted window (carryover warm-up).
    metric
        ``impressions``, ``spend`` or ``clicks`` (missing values count as zero).
    weekly_params
        The channel's adstock with lags in MMM periods (``None``: no carryover).
    window
        The fitted days within ``days``.
    period_days
        Days per MMM period: 7 for a weekly MMM, 1 for a daily one.
    adstock
        ``"mmm"`` (default): the campaigns' adstocked media summed over each period is
        exactly the MMM's adstock of their period media
        (:func:`~mixlens.ima.disaggregate.period_consistent_adstock`); ``"daily"``: the
        MMM's kernel converted to days (:func:`~mixlens.ima.disaggregate.daily_adstock`).
    weekly_weights
        The MMM's kernel on its own scale (e.g. its posterior mean), for ``adstock="mmm"``.

    Returns
    -------
    tuple
        Campaign names, raw media in the window ``(n_window_days, K)`` and adstocked
        media in the window ``(n_window_days, K)``.
    """
    part = campaigns[campaigns["channel"] == channel]
    part = part.assign(**{metric: part[metric].fillna(0.0)})
    wide = daily_media_matrix(part, days, value=metric, key="campaign")
    names = tuple(sorted(wide.columns))
    raw = wide[list(names)].to_numpy(dtype=np.float64)
    if weekly_params is None:
        stock = raw
    elif adstock == "mmm" and period_days > 1:
        stock = period_consistent_adstock(
            raw,
            weekly_params,
            offset=window.start or 0,
            days_per_week=period_days,
            weekly_weights=weekly_weights,
        )
    else:
        stock = daily_adstock(raw, weekly_params, days_per_week=period_days)
    return names, raw[window], stock[window]


@dataclass(frozen=True, eq=False)
class CampaignCalendar:
    """The days IMA works on (see :func:`campaign_calendar`).

    Parameters
    ----------
    periods
        First day of each MMM period (weeks, or days for a daily MMM).
    period
        Days per MMM period.
    window_days
        Every day of the periods.
    days
        Daily grid from the first campaign day (carryover warm-up) to the last period day.
    window
        Where ``window_days`` lie in ``days``.
    campaigns
        The campaign rows up to the last period day, ``date`` as datetime.
    """

    periods: pd.DatetimeIndex
    period: int
    window_days: pd.DatetimeIndex
    days: pd.DatetimeIndex
    window: slice
    campaigns: pd.DataFrame


def campaign_calendar(weekly: pd.DataFrame, campaigns: pd.DataFrame) -> CampaignCalendar:
    """Calendar of the MMM's periods and of the campaign days that feed their carryover.

    Parameters
    ----------
    weekly
        ``date, channel, contribution`` per MMM period.
    campaigns
        Daily campaign media with a ``date`` column.

    Returns
    -------
    CampaignCalendar
        Periods, days and the campaign rows that matter.
    """
    periods = pd.DatetimeIndex(pd.to_datetime(weekly["date"]).drop_duplicates().sort_values())
    period = period_days(periods)
    window_days = daily_grid(periods, period)
    camp = campaigns.assign(date=pd.to_datetime(campaigns["date"]))
    camp = camp[camp["date"] <= window_days[-1]]
    first = min(camp["date"].min(), window_days[0]) if len(camp) else window_days[0]
    days = pd.date_range(first, window_days[-1], freq="D")
    window = slice(len(days) - len(window_days), len(days))
    return CampaignCalendar(periods, period, window_days, days, window, camp)


@dataclass(frozen=True, eq=False)
class IMAInputs:
    """The regression inputs of every attributable channel (see :func:`prepare_inputs`).

    Parameters
    ----------
    designs
        One :class:`~mixlens.ima.regression.ChannelDesign` per channel with campaigns.
    spend
        Per channel, campaign spend over the window, shape ``(n_campaigns,)``, currency.
    media
        Media metric per channel.
    weeks
        First day of each MMM period (weeks, or days for a daily MMM).
    days
        Every day of the periods.
    skipped
        Channels of the MMM without campaign rows (not attributed).
    """

    designs: list[ChannelDesign]
    spend: dict[str, FloatArray]
    media: dict[str, str]
    weeks: pd.DatetimeIndex
    days: pd.DatetimeIndex
    skipped: list[str]


def prepare_inputs(
    weekly: pd.DataFrame,
    adstock_params: Mapping[str, AdstockParams | None],
    campaigns: pd.DataFrame,
    *,
    media: str | Mapping[str, str] = "impressions",
    adstock: Grain = "mmm",
    kernels: Mapping[str, FloatArray] | None = None,
) -> IMAInputs:
    """Build the daily channel contributions and adstocked campaign media (stages 1-2).

    Parameters are those of :func:`fit_ima`; ``kernels`` are the MMM's weekly kernels
    per channel (e.g. :attr:`~mixlens.ima.anchor.MMMPosterior.kernels`).

    Returns
    -------
    IMAInputs
        The regression designs and their calendar.
    """
    weekly = weekly.assign(date=pd.to_datetime(weekly["date"]))
    cal = campaign_calendar(weekly, campaigns)
    weeks, step, window_days, camp = cal.periods, cal.period, cal.window_days, cal.campaigns
    days, window = cal.days, cal.window
    present = set(camp["channel"])
    order = [str(c) for c in weekly["channel"].drop_duplicates()]
    channels = [c for c in order if c in present]
    designs: list[ChannelDesign] = []
    metrics: dict[str, str] = {}
    spend: dict[str, FloatArray] = {}
    for channel in channels:
        metrics[channel] = media_metric(media, channel)
        names, _, stock = campaign_media(
            camp,
            channel,
            days,
            metric=metrics[channel],
            weekly_params=adstock_params[channel],
            window=window,
            period_days=step,
            adstock=adstock,
            weekly_weights=None if kernels is None else kernels.get(channel),
        )
        wk = weekly[weekly["channel"] == channel].sort_values("date")
        y = split_weekly(
            wk["contribution"].to_numpy(dtype=np.float64), stock.sum(axis=1), days_per_week=step
        )
        designs.append(ChannelDesign(channel=channel, campaigns=names, y=y, x=stock))
        sp = camp[(camp["channel"] == channel) & (camp["date"] >= window_days[0])]
        by = sp.groupby("campaign")["spend"].sum()
        spend[channel] = by.reindex(list(names)).fillna(0.0).to_numpy(dtype=np.float64)
    skipped = [c for c in order if c not in present]
    return IMAInputs(designs, spend, metrics, weeks, window_days, skipped)


def mmm_deviation(
    design: ChannelDesign,
    parts: FloatArray,
    response: FloatArray,
    mmm_draws: FloatArray,
    *,
    rule: ReconcileRule = "cap",
    period: int = 7,
    seed: int = 0,
    intercept: FloatArray | None = None,
) -> FloatArray:
    """Campaign-total deviations that carry the MMM's uncertainty (see :func:`fit_ima`).

    Parameters
    ----------
    design
        The channel's regression data; ``design.y`` is the point-estimate daily
        contribution the regression was reconciled with.
    parts
        Regression draws of the campaign contributions, ``(S, n_days, K)``.
    response
        The fitted daily channel response, ``(n_days,)``: how a period's contribution is
        split over its days.
    mmm_draws
        Draws of the channel's contribution per period, ``(S_mmm, n_days // period)``.
    rule
        Reconciliation rule.
    period
        Days per MMM period.
    seed
        Seed of the pairing of regression and MMM draws (with fewer regression draws
        than MMM draws, they pair with MMM draws spread evenly over all of them).
    intercept
        Regression draws of the daily intercept, ``(S,)``, for ``rule="residual"``.

    Returns
    -------
    numpy.ndarray
        ``(S, K + 1)``: per draw, campaign totals (and ``unattributed`` last) reconciled
        with the paired MMM draw minus those reconciled with ``design.y``, centred over
        draws (mean zero, so adding them keeps the point estimate). Each row sums to the
        paired draw's total contribution minus ``design.y``'s, up to the centring.
    """
    n_draws, n_mmm = parts.shape[0], mmm_draws.shape[0]
    rng = np.random.default_rng(seed)
    if n_draws <= n_mmm:  # spread over all MMM draws (every chain), not the first n_draws
        pool = np.linspace(0, n_mmm - 1, n_draws).round().astype(int)
    else:
        pool = np.resize(np.arange(n_mmm), n_draws)
    pick = rng.permutation(pool)
    base_w = design.y.reshape(-1, period).sum(axis=1)
    shape = np.clip(response, 0.0, None).reshape(-1, period)
    within = shape.sum(axis=1, keepdims=True)
    share = np.where(within > 0, shape / np.where(within > 0, within, 1.0), 1.0 / period)
    base_share = design.y.reshape(-1, period)
    out = np.empty((n_draws, parts.shape[2] + 1))
    for i in range(n_draws):
        y_w = mmm_draws[pick[i]]
        # The draw's periods split like the point estimate where it is positive.
        split = np.where(
            np.abs(base_w)[:, None] > 0,
            base_share * (y_w / np.where(base_w != 0, base_w, 1.0))[:, None],
            share * y_w[:, None],
        ).reshape(-1)
        ratio = np.where(design.y > 0, split / np.where(design.y > 0, design.y, 1.0), 1.0)
        factor = np.clip(ratio, 0.0, None)
        level = None if intercept is None else intercept[i]
        scaled, unattr = reconcile(
            split,
            parts[i] * factor[:, None],
            rule=rule,
            intercept=None if level is None else level * factor,
        )
        base, base_u = reconcile(design.y, parts[i], rule=rule, intercept=level)
        out[i, :-1] = scaled.sum(axis=0) - base.sum(axis=0)
        out[i, -1] = unattr.sum() - base_u.sum()
    centred: FloatArray = out - out.mean(axis=0)
    return centred


def fit_ima(
    weekly: pd.DataFrame,
    adstock_params: Mapping[str, AdstockParams | None],
    campaigns: pd.DataFrame,
    *,
    media: str | Mapping[str, str] = "impressions",
    method: FitMethod = "advi",
    model: RegressionModel | Literal["auto"] = "auto",
    draws: int = 200,
    seed: int = 0,
    ci: float = 0.9,
    advi_steps: int = 8000,
    rule: ReconcileRule = "cap",
    lift_tests: pd.DataFrame | None = None,
    likelihood: Literal["period", "daily"] = "period",
    grain: Grain | Literal["auto"] = "auto",
    posterior: MMMPosterior | None = None,
    mmm_error: bool = True,
    alpha_scale: float = 0.05,
    tau_scale: float = 0.5,
    interactions: Mapping[str, Sequence[str]] | None = None,
) -> IMAResult:
    """Attribute weekly channel contributions to campaigns, day by day.

    Parameters
    ----------
    weekly
        ``date, channel, contribution``: the MMM's weekly contribution per channel
        (target units), ``date`` the first day of each week, weeks consecutive.
    adstock_params
        Per channel, its adstock with lags in weeks (``None``: no carryover).
    campaigns
        Daily campaign media ``date, channel, campaign, spend, impressions[, clicks]``
        (as from :func:`mixlens.data.loaders.load_campaigns`). Days before the first
        week warm up the carryover; days after the last week are ignored. Channels with
        no campaign rows are not attributed.
    media
        Media metric for every channel, or a mapping channel -> metric
        (``impressions`` by default).
    method
        ``"advi"`` (default: mean-field ADVI), ``"laplace"`` (posterior mode by L-BFGS and
        a Gaussian with the full inverse Hessian, pooling hyperparameters at their mode:
        the choice with lift tests, and the more accurate campaign split where campaigns
        are flighted together, since mean-field ADVI's mean barely leaves the pooled
        start along that ridge; two to three times slower with ``model="auto"``; see
        ``ima_accuracy`` in ``benchmarks/RESULTS.md``) or ``"nuts"``: 4 to 8 times
        ADVI's time, and the choice for honest intervals of the campaign split (each
        campaign's share of its channel): mean-field ADVI's are far too narrow even where
        the model is right and the MMM's error is honest, NUTS's come near nominal there
        on most channels (:func:`~mixlens.ima.evaluate.score_split`; no method's split
        intervals are calibrated where the MMM's own weekly shape is not).
    model
        ``"saturating"`` (campaigns through the channel's Hill curve of their weighted
        pressure, Aumann-Shapley split), ``"linear"`` (the paper's regression; see
        :mod:`mixlens.ima.regression`), or ``"auto"`` (default): fit both and keep, per
        channel, the one whose weekly sums fit the MMM's channel contribution better
        (lower weekly MAPE; the two differ by three curve parameters per channel).
    draws
        Posterior draws.
    seed
        Random seed.
    ci
        Mass of the central intervals.
    advi_steps
        ADVI optimisation steps.
    rule
        Reconciliation rule, see :func:`~mixlens.ima.regression.reconcile`
        (``"residual"`` leaves only the regression's intercept unattributed).
    lift_tests
        Campaign lift tests from :func:`mixlens.ima.lift.read_campaign_lifts`, as
        evidence in the regression (``None``: none).
    likelihood
        ``"period"`` (default): the regression's daily prediction is fitted to the MMM's
        contribution per period (week), the only thing the MMM knows;
        ``"daily"``: to the disaggregated daily series (the paper's choice; it biases
        the fit at burst edges and overstates the data by the days per period). See
        ``period_days`` in :func:`~mixlens.ima.regression.fit_regression`.
    grain
        ``"auto"`` (default): fit both grains below and keep, per channel, the one whose
        weekly sums fit the MMM's contribution better (as ``model="auto"`` does; a
        weekly MMM's contributions come from weekly media, a simulator's or a daily
        model's from daily media). ``"mmm"``: the regression follows the MMM's own grain
        where the MMM is weekly: each campaign's adstocked media sums, per week, to the MMM's weekly
        adstock of its weekly media (only the split over the days follows the daily
        kernel; :func:`~mixlens.ima.disaggregate.period_consistent_adstock`), and the
        saturating model's curve acts on each week's pressure (``saturation_days`` in
        :func:`~mixlens.ima.regression.fit_regression`). A daily model cannot reproduce a
        weekly MMM's contributions at burst edges otherwise. ``"daily"``: the weekly
        kernel converted to days and a daily curve (the paper's choice; right when the
        weekly contributions come from a daily process).
    posterior
        The MMM's posterior (:func:`~mixlens.ima.anchor.read_mmm_posterior`): its
        posterior-mean kernels replace the kernels at ``adstock_params`` under
        ``grain="mmm"``, and its channel contribution draws are propagated into the
        campaign intervals: regression draw ``i`` is paired with an MMM draw, the
        campaign parts are rescaled day by day to that draw's contribution (split over
        the days like the point estimate) and reconciled with it; the campaign totals'
        deviations from the point estimate's are added to the regression draws, centred
        so that the campaign means (and ``campaign_daily.csv``) stay those of the
        posterior-mean fit.
    mmm_error
        With ``posterior``: the regression's likelihood treats each period's channel
        contribution as measured with the MMM's posterior standard deviation of its
        shape (each draw rescaled to the posterior mean's total over the window, since
        IMA conserves the channel total; ``period_sd`` in
        :func:`~mixlens.ima.regression.fit_regression`), so the campaign split does not
        chase the MMM's uncertain weeks and leans on the pooled prior there. ``False``:
        the contributions are taken as exact (before 2026-11-24, the only behaviour).
    alpha_scale, tau_scale
        Prior scales of the intercept and of the campaigns' effectiveness spread, see
        :func:`~mixlens.ima.regression.fit_regression`.
    interactions
        Cross-channel interaction terms, target channel -> source channels (any channels
        of ``weekly``; :mod:`mixlens.ima.interactions`): the target's campaign media are
        multiplied by a learnt function of the sources' MMM contributions. ``None``
        (default): none. ``meta["interactions"]`` reports each target's ``gamma`` per
        source and the share of its contribution the term accounts for.

    Returns
    -------
    IMAResult
        The campaign credit; see :class:`~mixlens.ima.results.IMAResult`.
    """
    if likelihood not in ("period", "daily"):
        raise ValueError(f"likelihood must be 'period' or 'daily', got {likelihood!r}")
    if grain not in ("mmm", "daily", "auto"):
        raise ValueError(f"grain must be 'mmm', 'daily' or 'auto', got {grain!r}")
    start = time.perf_counter()
    kernels = None if posterior is None else posterior.kernels
    first: Grain = "daily" if grain == "daily" else "mmm"
    inputs = prepare_inputs(
        weekly, adstock_params, campaigns, media=media, adstock=first, kernels=kernels
    )
    weeks, window_days = inputs.weeks, inputs.days
    step = period_days(weeks)
    # For a daily MMM the two grains are the same.
    grains: tuple[Grain, ...] = ("mmm", "daily") if grain == "auto" and step > 1 else (first,)
    by_grain = {first: inputs.designs}
    for g in grains[1:]:
        by_grain[g] = prepare_inputs(
            weekly, adstock_params, campaigns, media=media, adstock=g, kernels=kernels
        ).designs
    fit_start = time.perf_counter()
    models: tuple[RegressionModel, ...] = ("saturating", "linear") if model == "auto" else (model,)
    lifts = (
        []
        if lift_tests is None or lift_tests.empty
        else align_lifts(
            lift_tests, inputs.designs, window_days, file=lift_tests.attrs.get("source")
        )
    )
    if lifts and method == "advi":
        warn_lifts_with_advi("method='laplace' (or 'nuts')")
    activity = None
    if interactions:
        check_targets(interactions, {d.channel for d in inputs.designs})
        activity = source_activity(weekly, interactions, weeks, step)
    period_sd = None
    if posterior is not None and mmm_error:
        period_sd = _period_sd(posterior, step, daily=likelihood != "period")
    fitted = {
        (g, name): fit_regression(
            by_grain[g],
            method=method,
            model=name,
            draws=draws,
            seed=seed,
            advi_steps=advi_steps,
            lifts=lifts,
            period_days=step if likelihood == "period" else 1,
            saturation_days=step if likelihood == "period" and g == "mmm" else 1,
            alpha_scale=alpha_scale,
            tau_scale=tau_scale,
            period_sd=period_sd,
            interactions=activity,
        )
        for g in grains
        for name in models
    }
    chosen: dict[str, tuple[Grain, RegressionModel]] = {}
    for c, d in enumerate(inputs.designs):
        chosen[d.channel] = min(
            fitted, key=lambda key: _weekly_mape(by_grain[key[0]][c], fitted[key])
        )
    designs = [by_grain[chosen[d.channel][0]][c] for c, d in enumerate(inputs.designs)]
    fit_seconds = time.perf_counter() - fit_start
    daily, rows, totals, weekly_fit, coefs = [], [], [], [], []
    synergy: dict[str, Any] = {}
    resplit = likelihood == "period" and period_days(weeks) == 7
    for d in designs:
        draws_ = fitted[chosen[d.channel]]
        parts = draws_.campaign_parts(d)  # (S, T, K)
        pred = parts.sum(axis=2).mean(axis=0) + draws_.alpha[d.channel].mean()
        if resplit:
            # Stage 2 refined by stage 3: each period's contribution split over its days
            # in proportion to the fitted daily response (not the raw adstocked media,
            # which misplaces it where the channel saturates); periods still sum exactly.
            d = replace(d, y=split_weekly(_weekly_sums(d.y), pred, days_per_week=7))
        # Effect per unit of adstocked media over the window (the linear model's beta).
        exposure = d.x.sum(axis=0)
        beta = np.where(
            exposure > 0, parts.sum(axis=1) / np.where(exposure > 0, exposure, 1.0), 0.0
        )
        alpha = draws_.alpha[d.channel]
        if interactions and activity and d.channel in draws_.gamma:
            synergy[d.channel] = interaction_summary(
                interactions[d.channel],
                draws_.gamma[d.channel],
                interaction_share(d.y, draws_.gamma[d.channel], activity[d.channel]),
                ci,
            )
        scaled, unattr = reconcile(d.y, parts, rule=rule, intercept=alpha[:, None])
        mean_daily = np.concatenate([scaled.mean(axis=0), unattr.mean(axis=0)[:, None]], axis=1)
        total = np.concatenate([scaled.sum(axis=1), unattr.sum(axis=1)[:, None]], axis=1)
        if posterior is not None and d.channel in posterior.draws:
            total = total + mmm_deviation(
                d,
                parts,
                pred,
                posterior.draws[d.channel],
                rule=rule,
                period=step,
                seed=seed,
                intercept=alpha,
            )
        names = [*d.campaigns, UNATTRIBUTED]
        daily.append(
            pd.DataFrame(
                {
                    "date": np.repeat(window_days.to_numpy(), len(names)),
                    "channel": d.channel,
                    "campaign": np.tile(np.array(names, dtype=object), len(window_days)),
                    "contribution": mean_daily.reshape(-1),
                }
            )
        )
        rows.append(
            pd.DataFrame(
                {
                    "channel": d.channel,
                    "campaign": names,
                    "spend": np.r_[inputs.spend[d.channel], 0.0],
                }
            )
        )
        totals.append(total)
        weekly_fit.append(
            pd.DataFrame(
                {
                    "date": window_days[::7],
                    "channel": d.channel,
                    "observed": _weekly_sums(d.y),
                    "predicted": _weekly_sums(pred),
                }
            )
        )
        lo, hi = np.quantile(beta, [(1 - ci) / 2, (1 + ci) / 2], axis=0)
        coefs.append(
            pd.DataFrame(
                {
                    "channel": d.channel,
                    "campaign": list(d.campaigns),
                    "beta_mean": beta.mean(axis=0),
                    "beta_lo": lo,
                    "beta_hi": hi,
                }
            )
        )
    meta: dict[str, Any] = {
        "n_days": len(window_days),
        "n_weeks": len(window_days[::7]),
        "period_days": period_days(weeks),
        "n_channels": len(designs),
        "skipped_channels": inputs.skipped,
        "rule": rule,
        "likelihood": likelihood,
        "model": model,
        "model_by_channel": {c: key[1] for c, key in chosen.items()},
        "grain": grain,
        "grain_by_channel": {c: key[0] for c, key in chosen.items()},
        "lift_tests": len(lifts),
        "interactions": synergy,
        "fit_seconds": round(fit_seconds, 3),
        "total_seconds": round(time.perf_counter() - start, 3),
    }
    return IMAResult(
        daily=pd.concat(daily, ignore_index=True),
        rows=pd.concat(rows, ignore_index=True),
        total_draws=np.concatenate(totals, axis=1),
        weekly=pd.concat(weekly_fit, ignore_index=True),
        coefficients=pd.concat(coefs, ignore_index=True),
        method=method,
        media=inputs.media,
        ci=ci,
        meta=meta,
    )
