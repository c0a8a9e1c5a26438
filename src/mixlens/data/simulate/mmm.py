"""The MMM world: daily campaign media and sales with exact, reconciling ground truth.

Generative process (all daily, then summed to weeks for the MMM panel):

1. **Media.** Each channel has campaigns grouped in families with a shared flighting
   pattern (:mod:`mixlens.data.simulate.flighting`). Campaign ``k`` has its own CPM, CTR
   and *effectiveness* ``w_k`` (incremental effect per thousand impressions, relative
   to the channel). Impressions = spend / CPM * 1000 (with delivery noise), clicks =
   impressions * CTR.
2. **Carryover.** A channel's effective pressure is
   ``A_c(t) = sum_k w_k * adstock(impressions_k / 1000)(t)`` with the channel's true
   adstock: *delayed* (Jin et al. 2017; the default world's), *geometric* or *Weibull*,
   specified on the weekly scale and applied on the daily scale through the exact
   kernel-shape conversion of :func:`mixlens.transforms.timescale.to_daily` (see
   :mod:`mixlens.data.simulate.mmm_channels`); every kernel sums to one.
3. **Shape.** The channel's daily contribution is ``beta_c * f_c(A_c(t))`` with its true
   saturation ``f_c``: Hill (the default world's) with half-saturation ``K_c`` and slope
   ``s_c``, or logistic ``tanh(lam_c A_c / 2)``. ``K_c`` and ``1 / lam_c`` are set
   relative to the channel's typical (mean positive) pressure, and ``beta_c`` so that the
   channel's ROI over the window equals its specified target in the national world.
4. **Campaign truth.** A campaign's daily contribution is its share of the channel's
   adstocked effective pressure times the channel's contribution,
   ``contrib_c(t) * w_k adstock_k(t) / A_c(t)``: the Aumann-Shapley split of a response that
   depends on the campaigns only through their sum, so campaigns add up to the channel exactly.
5. **Baseline** = intercept + trend + yearly seasonality (two Fourier pairs) + weekday
   rhythm + holidays (:mod:`mixlens.data.calendar`). **Controls**: a price index
   (AR(1) around 1, cut during promotions) with a negative linear effect, and a
   promotion indicator with a positive one. **Noise** is Gaussian, daily.
6. **Sales** = baseline + controls + channels + noise, exactly, every day and week.

Regions (``regions > 1``) share campaigns and response curves per capita: region ``r``
gets a share ``s_r`` of national spend (with region-week delivery noise, so regions
differ) and of the baseline, and its Hill half-saturation, logistic ``1 / lam`` and
``beta`` scale by ``s_r``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from mixlens.data.calendar import HOLIDAYS, holiday_frame
from mixlens.data.io import write_json, write_table
from mixlens.data.simulate.flighting import campaign_plan
from mixlens.data.simulate.mmm_channels import (
    DEFAULT_CHANNELS,
    MediaChannelSpec,
    daily_kernel,
    transform_preset,
)
from mixlens.data.simulate.mmm_channels import (
    mixed_transform_channels as mixed_transform_channels,
)
from mixlens.data.simulate.mmm_channels import preset_channels as preset_channels
from mixlens.transforms.adstock import adstock
from mixlens.transforms.saturation import hill, logistic_saturation
from mixlens.transforms.timescale import AdstockParams

ProgressCallback = Callable[[str, float], None]

#: Effect of each holiday on daily sales, as a fraction of the daily baseline level.
HOLIDAY_EFFECTS: dict[str, float] = {
    "new_year": -0.35,
    "easter": 0.10,
    "memorial_day": 0.15,
    "independence_day": 0.12,
    "labor_day": 0.15,
    "black_friday": 0.90,
    "cyber_monday": 0.55,
    "christmas_eve": 0.30,
    "christmas": -0.60,
}


@dataclass(frozen=True)
class MMMWorldConfig:
    """Size and truth of the MMM world.

    Attributes
    ----------
    weeks
        Number of weeks (default 156, three years).
    start
        First day (ISO date); weeks start on its weekday.
    n_channels
        How many of :data:`DEFAULT_CHANNELS` to use (5 to 8) when ``channels`` is empty.
    channels
        Explicit channel specs; overrides ``n_channels``. For channels whose true adstock
        and saturation kinds differ, pass :func:`mixed_transform_channels` (the
        ``"mixed"`` preset; the world's summary names the preset under ``transforms``).
    regions
        Number of regions; above 1 the panel gets a ``geo`` column.
    media_share
        Approximate share of sales driven by paid media in the national world.
    trend_growth
        Baseline growth over the window, fraction of the intercept.
    seasonality_amplitude
        Peak size of yearly seasonality, fraction of the intercept.
    price_elasticity
        Sales change, as a fraction of the intercept, per unit change of the price index.
    promotion_lift
        Sales lift on promotion days, fraction of the intercept.
    noise_cv
        Daily noise standard deviation, fraction of mean daily sales.
    """

    weeks: int = 156
    start: str = "2023-01-02"
    n_channels: int = 6
    channels: tuple[MediaChannelSpec, ...] = ()
    regions: int = 1
    media_share: float = 0.3
    trend_growth: float = 0.15
    seasonality_amplitude: float = 0.12
    price_elasticity: float = -1.5
    promotion_lift: float = 0.12
    noise_cv: float = 0.06

    def __post_init__(self) -> None:
        if self.weeks < 8:
            raise ValueError(f"weeks must be >= 8, got {self.weeks}")
        if not self.channels and not 5 <= self.n_channels <= len(DEFAULT_CHANNELS):
            raise ValueError(f"n_channels must be between 5 and 8, got {self.n_channels}")
        if self.regions < 1:
            raise ValueError(f"regions must be >= 1, got {self.regions}")
        if not 0 < self.media_share < 1:
            raise ValueError(f"media_share must be in (0, 1), got {self.media_share}")
        if self.noise_cv < 0:
            raise ValueError(f"noise_cv must be >= 0, got {self.noise_cv}")
        pd.Timestamp(self.start)  # raises on a bad date

    @property
    def channel_specs(self) -> tuple[MediaChannelSpec, ...]:
        """The channels the world uses."""
        return self.channels or DEFAULT_CHANNELS[: self.n_channels]


@dataclass(frozen=True)
class SimulatedMMM:
    """An MMM world: model inputs and their exact truth.

    Attributes
    ----------
    weekly_channel
        Weekly channel panel (design.md contract): ``date, [geo], sales, {ch}_spend,
        {ch}_impressions, {ch}_clicks, price, promotion``.
    daily_campaign
        Daily campaign media (days with spend only): ``date, [geo], channel, campaign,
        spend, impressions, clicks``.
    weekly_contributions
        Long truth: ``date, [geo], component, contribution``; components are each channel,
        ``baseline``, ``price``, ``promotion`` and ``noise``; they sum to weekly sales.
    daily_contributions
        Wide daily truth: baseline parts, controls, channels, noise and sales.
    daily_campaign_contributions
        ``date, [geo], channel, campaign, contribution``; sums to each channel's daily truth.
    channel_params, campaign_params
        True parameters per channel and per campaign.
    roi
        ``channel, spend, contribution, roi, mroi`` over the whole world.
    summary
        JSON-safe totals, configuration and definitions.
    """

    weekly_channel: pd.DataFrame
    daily_campaign: pd.DataFrame
    weekly_contributions: pd.DataFrame
    daily_contributions: pd.DataFrame
    daily_campaign_contributions: pd.DataFrame
    channel_params: pd.DataFrame
    campaign_params: pd.DataFrame
    roi: pd.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)

    def write(self, out_dir: str | Path) -> list[Path]:
        """Write the inputs and ``truth/`` under ``out_dir``; each file atomically."""
        out = Path(out_dir)
        truth = out / "truth"
        files = [
            write_table(self.weekly_channel, out / "weekly_channel.csv"),
            write_table(self.daily_campaign, out / "daily_campaign.csv"),
            write_table(self.weekly_contributions, truth / "weekly_contributions.csv"),
            write_table(self.daily_contributions, truth / "daily_contributions.csv"),
            write_table(
                self.daily_campaign_contributions, truth / "daily_campaign_contributions.csv"
            ),
            write_table(self.channel_params, truth / "channels.csv"),
            write_table(self.campaign_params, truth / "campaigns.csv"),
            write_table(self.roi, truth / "roi.csv"),
            write_json(self.summary, truth / "summary.json"),
        ]
        return files

    def to_frame(self) -> pd.DataFrame:
        """Return the true ROI and marginal ROI per channel."""
        return self.roi.copy()


@dataclass(frozen=True)
class _Channel:
    """One channel's national campaign draws (internal)."""

    spec: MediaChannelSpec
    names: tuple[str, ...]
    families: tuple[str, ...]
    kinds: tuple[str, ...]
    spend: NDArray[np.float64]  # (days, campaigns)
    cpm: NDArray[np.float64]  # (campaigns,)
    ctr: NDArray[np.float64]  # (campaigns,)
    effectiveness: NDArray[np.float64]  # (campaigns,)
    weights: NDArray[np.float64]  # daily adstock kernel, (l_max_daily,)
    daily: AdstockParams


def simulate_mmm(
    config: MMMWorldConfig | None = None,
    *,
    seed: int = 0,
    progress: ProgressCallback | None = None,
) -> SimulatedMMM:
    """Simulate the MMM world.

    Parameters
    ----------
    config
        World size and truth; defaults to :class:`MMMWorldConfig`.
    seed
        Random seed; the same seed gives identical output.
    progress
        Optional callback ``(stage, fraction_done)`` for progress bars.

    Returns
    -------
    SimulatedMMM
        Inputs (weekly panel, daily campaigns) and exact truth.

    Examples
    --------
    >>> world = simulate_mmm(MMMWorldConfig(weeks=20, n_channels=5), seed=1)
    >>> sorted(world.roi["channel"])[:2]
    ['display', 'online_video']
    """
    cfg = config or MMMWorldConfig()
    report = progress or (lambda stage, fraction: None)
    streams = np.random.SeedSequence(seed).spawn(4)
    rng_media, rng_base, rng_region, rng_noise = (np.random.default_rng(s) for s in streams)
    n_days = cfg.weeks * 7
    dates = pd.date_range(cfg.start, periods=n_days, freq="D")
    first_weekday = int(dates[0].weekday())

    report("media plans", 0.0)
    channels = [_draw_channel(spec, n_days, rng_media, first_weekday) for spec in cfg.channel_specs]
    report("baseline and controls", 0.3)
    base = _baseline(dates, cfg, channels, rng_base)
    shares = _region_shares(cfg.regions, rng_region)
    # National calibration: half-saturation and beta from the national pressure, so each
    # channel's national ROI equals its target; regions scale both per capita.
    calibration = [_calibrate(ch) for ch in channels]
    report("regions", 0.5)
    geo_names = [f"region_{r + 1}" for r in range(cfg.regions)]
    parts = [
        _simulate_region(
            cfg, dates, channels, calibration, base, share, rng_region, rng_noise, geo=geo
        )
        for share, geo in zip(shares, geo_names, strict=True)
    ]
    report("truth tables", 0.8)
    world = _assemble(cfg, dates, channels, calibration, base, parts, shares, seed)
    report("done", 1.0)
    return world


def channel_lift(
    world: SimulatedMMM,
    config: MMMWorldConfig,
    *,
    seed: int,
    channel: str,
    start: pd.Timestamp,
    end: pd.Timestamp,
    keep: float = 0.0,
) -> float:
    """Return the true incremental outcome of ``channel``'s media in ``start..end``.

    Re-runs the channel's daily response with the world's delivered impressions, then with
    the window's impressions scaled by ``keep`` (0: switched off), adstock carried forward
    to the end of the panel; the difference summed over days is what an experiment that
    changed the channel in that window would measure without noise (target units).
    ``world`` must come from ``simulate_mmm(config, seed=seed)`` with one region (a
    national world). Switched off over the whole panel, the lift is the channel's whole
    true contribution.

    Examples
    --------
    >>> cfg = MMMWorldConfig(weeks=20, n_channels=5)
    >>> world = simulate_mmm(cfg, seed=1)
    >>> lift = channel_lift(world, cfg, seed=1, channel="social",
    ...                     start=pd.Timestamp(cfg.start), end=pd.Timestamp(cfg.start) + pd.Timedelta(days=27))
    >>> lift > 0
    True
    >>> whole = channel_lift(world, cfg, seed=1, channel="social",
    ...                      start=pd.Timestamp(cfg.start), end=pd.Timestamp("2100-01-01"))
    >>> math.isclose(whole, world.daily_contributions["social"].sum(), rel_tol=1e-6)
    True
    """  # noqa: E501
    if config.regions != 1:
        raise ValueError("channel_lift needs a national world (regions=1)")
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(4)[0])
    n_days = config.weeks * 7
    days = pd.date_range(config.start, periods=n_days, freq="D")
    drawn = [_draw_channel(s, n_days, rng, int(days[0].weekday())) for s in config.channel_specs]
    ch = next(c for c in drawn if c.spec.name == channel)
    cal = _calibrate(ch)
    media = world.daily_campaign[world.daily_campaign["channel"] == channel]
    wide = media.pivot_table(index="date", columns="campaign", values="impressions", aggfunc="sum")
    wide.index = pd.DatetimeIndex(wide.index)
    observed = wide.reindex(index=days, columns=list(ch.names), fill_value=0.0).fillna(0.0)

    def contribution(impressions: NDArray[np.float64]) -> NDArray[np.float64]:
        pressure = _pressure(ch, impressions).sum(axis=1)
        return np.asarray(cal.beta * cal.response(pressure), dtype=np.float64)

    base = contribution(observed.to_numpy(dtype=np.float64))
    changed = observed.to_numpy(dtype=np.float64).copy()
    changed[(days >= start) & (days <= end)] *= keep
    return float((base - contribution(changed)).sum())


def _draw_channel(
    spec: MediaChannelSpec, n_days: int, rng: np.random.Generator, first_weekday: int
) -> _Channel:
    plan = campaign_plan(
        spec.name,
        n_campaigns=spec.n_campaigns,
        n_families=spec.n_families,
        kinds=spec.flighting,
        n_days=n_days,
        daily_budget=spec.daily_budget,
        rng=rng,
        first_weekday=first_weekday,
    )
    n = spec.n_campaigns
    daily = spec.daily_adstock()
    return _Channel(
        spec=spec,
        names=plan.names,
        families=plan.families,
        kinds=plan.kinds,
        spend=plan.spend,
        cpm=spec.cpm * rng.lognormal(0.0, 0.25, n),
        ctr=np.minimum(spec.ctr * rng.lognormal(0.0, 0.3, n), 0.5),
        effectiveness=rng.lognormal(0.0, 0.35, n),
        weights=daily_kernel(daily),
        daily=daily,
    )


@dataclass(frozen=True)
class _Baseline:
    intercept: float
    trend: NDArray[np.float64]
    seasonality: NDArray[np.float64]
    holidays: NDArray[np.float64]
    price: NDArray[np.float64]
    promotion: NDArray[np.float64]


def _baseline(
    dates: pd.DatetimeIndex,
    cfg: MMMWorldConfig,
    channels: list[_Channel],
    rng: np.random.Generator,
) -> _Baseline:
    """National baseline parts (per unit intercept) and the control series."""
    n_days = len(dates)
    media_per_day = sum(ch.spec.roi * ch.spec.daily_budget for ch in channels)
    intercept = media_per_day * (1 - cfg.media_share) / cfg.media_share
    t = np.arange(n_days) / n_days
    trend = cfg.trend_growth * (0.8 * t + 0.2 * t**2)
    year = 2 * np.pi * dates.day_of_year.to_numpy() / 365.25
    phases = rng.uniform(0, 2 * np.pi, 2)
    yearly = np.sin(year + phases[0]) + 0.4 * np.sin(2 * year + phases[1])
    weekday = np.array([-0.04, -0.05, -0.03, 0.0, 0.05, 0.06, 0.01])[dates.day_of_week.to_numpy()]
    seasonality = cfg.seasonality_amplitude * yearly / np.abs(yearly).max() + weekday
    flags = holiday_frame(dates)
    holidays = flags.to_numpy() @ np.array([HOLIDAY_EFFECTS[h] for h in HOLIDAYS])
    promotion = np.zeros(n_days)
    n_promos = max(1, rng.poisson(n_days / 40))
    for start in rng.integers(0, n_days, n_promos):
        promotion[start : start + int(rng.integers(3, 11))] = 1.0
    level = np.zeros(n_days)
    for i in range(1, n_days):
        level[i] = 0.97 * level[i - 1] + rng.normal(0.0, 0.006)
    price = 1.0 + level - 0.15 * promotion
    return _Baseline(intercept, trend, seasonality, holidays, price, promotion)


def _region_shares(regions: int, rng: np.random.Generator) -> NDArray[np.float64]:
    if regions == 1:
        return np.ones(1)
    return np.sort(rng.dirichlet(np.full(regions, 2.0)))[::-1].copy()


@dataclass(frozen=True)
class _Calibration:
    """A channel's national saturation curve in daily effective pressure units (internal)."""

    half_saturation: float  # Hill, national, in daily effective pressure units; NaN if logistic
    beta: float  # national daily maximum contribution, currency
    saturation: str  # "hill" or "logistic"
    slope: float  # Hill slope; NaN if logistic
    lam: float  # logistic steepness per daily effective pressure unit, national; NaN if Hill
    typical_pressure: float  # mean positive daily effective pressure, national

    def response(self, pressure: NDArray[np.float64], share: float = 1.0) -> NDArray[np.float64]:
        """Saturation in [0, 1) of a region with ``share`` of the national pressure."""
        if self.saturation == "hill":
            return hill(pressure, half_saturation=self.half_saturation * share, slope=self.slope)
        return logistic_saturation(pressure, lam=self.lam / share)

    def mroi_numerator(
        self, pressure: NDArray[np.float64], response: NDArray[np.float64], share: float = 1.0
    ) -> float:
        """``d/d(lambda) sum_t beta f(lambda A_t)`` at ``lambda = 1``: ``sum beta A f'(A)``."""
        if self.saturation == "hill":
            # A f'(A) = s h (1 - h) for the Hill curve h.
            return float((self.beta * share * self.slope * response * (1 - response)).sum())
        # A f'(A) = u (1 - tanh(u)**2) with u = lam A / 2 for the logistic curve tanh(u).
        u = 0.5 * (self.lam / share) * pressure
        return float((self.beta * share * u * (1.0 - np.tanh(u) ** 2)).sum())


def _pressure(ch: _Channel, impressions: NDArray[np.float64]) -> NDArray[np.float64]:
    """Adstocked effective pressure per campaign, shape ``(days, campaigns)``."""
    return np.asarray(adstock(impressions / 1000.0, ch.weights, axis=0) * ch.effectiveness)


def _impressions(ch: _Channel, spend: NDArray[np.float64]) -> NDArray[np.float64]:
    return spend / ch.cpm * 1000.0


def _calibrate(ch: _Channel) -> _Calibration:
    pressure = _pressure(ch, _impressions(ch, ch.spend)).sum(axis=1)
    typical = float(pressure[pressure > 0].mean())
    params = ch.spec.saturation_parameters()
    hill_curve = ch.spec.saturation == "hill"
    curve = _Calibration(
        half_saturation=params["half_saturation"] * typical if hill_curve else math.nan,
        beta=math.nan,
        saturation=ch.spec.saturation,
        slope=params["slope"] if hill_curve else math.nan,
        lam=math.nan if hill_curve else params["lam"] / typical,
        typical_pressure=typical,
    )
    response = curve.response(pressure)
    beta = ch.spec.roi * float(ch.spend.sum()) / float(response.sum())
    return replace(curve, beta=beta)


@dataclass(frozen=True)
class _Region:
    geo: str
    share: float
    spend: list[NDArray[np.float64]]  # per channel, (days, campaigns)
    impressions: list[NDArray[np.float64]]
    clicks: list[NDArray[np.float64]]
    campaign_contrib: list[NDArray[np.float64]]  # per channel, (days, campaigns)
    mroi_numerator: NDArray[np.float64]  # (channels,): d contribution / d log spend
    components: pd.DataFrame  # daily wide truth


def _simulate_region(
    cfg: MMMWorldConfig,
    dates: pd.DatetimeIndex,
    channels: list[_Channel],
    calibration: list[_Calibration],
    base: _Baseline,
    share: float,
    rng: np.random.Generator,
    rng_noise: np.random.Generator,
    *,
    geo: str,
) -> _Region:
    n_days = len(dates)
    spends, imps, clicks, contribs = [], [], [], []
    mroi_num = np.zeros(len(channels))
    channel_daily: dict[str, NDArray[np.float64]] = {}
    for i, (ch, cal) in enumerate(zip(channels, calibration, strict=True)):
        if cfg.regions == 1:
            spend = ch.spend.copy()
        else:
            weekly_noise = rng.lognormal(-0.5 * 0.3**2, 0.3, (cfg.weeks, ch.spend.shape[1]))
            spend = ch.spend * share * np.repeat(weekly_noise, 7, axis=0)
        spend = np.round(spend, 2)  # platforms bill in cents
        delivery = rng.lognormal(-0.5 * 0.05**2, 0.05, spend.shape)
        impressions = np.round(_impressions(ch, spend) * delivery)
        click = np.round(impressions * ch.ctr * rng.lognormal(-0.5 * 0.1**2, 0.1, spend.shape))
        pressure_k = _pressure(ch, impressions)
        pressure = pressure_k.sum(axis=1)
        response = cal.response(pressure, share)
        contribution = cal.beta * share * response
        with np.errstate(invalid="ignore", divide="ignore"):
            split = np.where(pressure[:, None] > 0, pressure_k / pressure[:, None], 0.0)
        spends.append(spend)
        imps.append(impressions)
        clicks.append(click)
        contribs.append(contribution[:, None] * split)
        mroi_num[i] = cal.mroi_numerator(pressure, response, share)
        channel_daily[ch.spec.name] = contribution
    level = base.intercept * share * rng.lognormal(0.0, 0.05) if cfg.regions > 1 else base.intercept
    parts = {
        "intercept": np.full(n_days, level),
        "trend": level * base.trend,
        "seasonality": level * base.seasonality,
        "holidays": level * base.holidays,
        "price": level * cfg.price_elasticity * (base.price - 1.0),
        "promotion": level * cfg.promotion_lift * base.promotion,
    }
    expected = sum(parts.values()) + sum(channel_daily.values())
    noise = rng_noise.normal(0.0, cfg.noise_cv * float(np.mean(expected)), n_days)
    frame = pd.DataFrame({"date": dates, **parts, **channel_daily, "noise": noise})
    frame["sales"] = np.asarray(expected) + noise
    return _Region(geo, share, spends, imps, clicks, contribs, mroi_num, frame)


def _week_index(n_days: int) -> NDArray[np.int64]:
    return np.arange(n_days) // 7


def _assemble(
    cfg: MMMWorldConfig,
    dates: pd.DatetimeIndex,
    channels: list[_Channel],
    calibration: list[_Calibration],
    base: _Baseline,
    parts: list[_Region],
    shares: NDArray[np.float64],
    seed: int,
) -> SimulatedMMM:
    with_geo = cfg.regions > 1
    week = _week_index(len(dates))
    week_dates = dates[::7]
    names = [ch.spec.name for ch in channels]
    weekly_rows, long_rows, daily_rows, campaign_rows, truth_rows = [], [], [], [], []
    for region in parts:
        daily = region.components
        weekly = daily.drop(columns="date").groupby(week).sum()
        panel = pd.DataFrame({"date": week_dates.strftime("%Y-%m-%d")})
        panel["sales"] = weekly["sales"].to_numpy()
        for i, name in enumerate(names):
            panel[f"{name}_spend"] = _weekly_sum(region.spend[i].sum(axis=1), week)
            panel[f"{name}_impressions"] = _weekly_sum(region.impressions[i].sum(axis=1), week)
            panel[f"{name}_clicks"] = _weekly_sum(region.clicks[i].sum(axis=1), week)
        # Weekly means of the daily controls: the truth is linear in them, so a weekly
        # model of these columns can recover the control effects exactly.
        panel["price"] = _weekly_sum(base.price, week) / 7.0
        panel["promotion"] = _weekly_sum(base.promotion, week) / 7.0
        components = {
            "baseline": weekly[["intercept", "trend", "seasonality", "holidays"]].sum(axis=1),
            "price": weekly["price"],
            "promotion": weekly["promotion"],
            **{name: weekly[name] for name in names},
            "noise": weekly["noise"],
        }
        for component, values in components.items():
            long_rows.append(
                pd.DataFrame(
                    {
                        "date": panel["date"],
                        "geo": region.geo,
                        "component": component,
                        "contribution": values.to_numpy(),
                    }
                )
            )
        panel.insert(1, "geo", region.geo)
        weekly_rows.append(panel)
        day = daily.copy()
        day["date"] = day["date"].dt.strftime("%Y-%m-%d")
        day.insert(1, "geo", region.geo)
        daily_rows.append(day)
        for i, ch in enumerate(channels):
            campaign_rows.append(_campaign_long(region, i, ch, dates))
            spend_total = float(region.spend[i].sum())
            contribution_total = float(region.campaign_contrib[i].sum())
            truth_rows.append(
                {
                    "geo": region.geo,
                    "channel": ch.spec.name,
                    "spend": spend_total,
                    "contribution": contribution_total,
                    "mroi_numerator": float(region.mroi_numerator[i]),
                }
            )
    weekly_channel = pd.concat(weekly_rows, ignore_index=True)
    long = pd.concat(long_rows, ignore_index=True)
    daily_wide = pd.concat(daily_rows, ignore_index=True)
    campaigns_long = pd.concat(campaign_rows, ignore_index=True)
    media = campaigns_long[campaigns_long["spend"] > 0][
        ["date", "geo", "channel", "campaign", "spend", "impressions", "clicks"]
    ].reset_index(drop=True)
    truth_campaign = campaigns_long[campaigns_long["contribution"] != 0][
        ["date", "geo", "channel", "campaign", "contribution"]
    ].reset_index(drop=True)
    by_geo = pd.DataFrame(truth_rows)
    roi = _roi_table(by_geo.groupby("channel", sort=False).sum(numeric_only=True).reset_index())
    if not with_geo:
        weekly_channel, long, daily_wide, media, truth_campaign = (
            frame.drop(columns="geo")
            for frame in (weekly_channel, long, daily_wide, media, truth_campaign)
        )
    channel_params = _channel_params(channels, calibration)
    campaign_params = _campaign_params(channels, campaigns_long)
    summary = _summary(cfg, seed, roi, weekly_channel, long, shares, parts)
    if with_geo:
        summary["roi_by_geo"] = _roi_table(by_geo).to_dict(orient="records")
    return SimulatedMMM(
        weekly_channel=weekly_channel,
        daily_campaign=media,
        weekly_contributions=long,
        daily_contributions=daily_wide,
        daily_campaign_contributions=truth_campaign,
        channel_params=channel_params,
        campaign_params=campaign_params,
        roi=roi,
        summary=summary,
    )


def _weekly_sum(values: NDArray[np.float64], week: NDArray[np.int64]) -> NDArray[np.float64]:
    return np.asarray(np.bincount(week, weights=values), dtype=np.float64)


def _campaign_long(region: _Region, i: int, ch: _Channel, dates: pd.DatetimeIndex) -> pd.DataFrame:
    n_days, n_campaigns = region.spend[i].shape
    return pd.DataFrame(
        {
            "date": np.repeat(dates.strftime("%Y-%m-%d").to_numpy(), n_campaigns),
            "geo": region.geo,
            "channel": ch.spec.name,
            "campaign": np.tile(np.array(ch.names, dtype=object), n_days),
            "spend": region.spend[i].ravel(),
            "impressions": region.impressions[i].ravel(),
            "clicks": region.clicks[i].ravel(),
            "contribution": region.campaign_contrib[i].ravel(),
        }
    )


def _roi_table(totals: pd.DataFrame) -> pd.DataFrame:
    table = totals.copy()
    table["roi"] = table["contribution"] / table["spend"]
    table["mroi"] = table["mroi_numerator"] / table["spend"]
    return table.drop(columns="mroi_numerator")


def _channel_params(channels: list[_Channel], calibration: list[_Calibration]) -> pd.DataFrame:
    """One row per channel: kinds and parameters, NaN where the channel's kind lacks one."""
    rows = []
    for ch, cal in zip(channels, calibration, strict=True):
        weekly = ch.spec.adstock_parameters()
        daily = ch.daily
        saturation = ch.spec.saturation_parameters()
        nan = math.nan
        rows.append(
            {
                "channel": ch.spec.name,
                "adstock": ch.spec.adstock,
                "theta_weekly": weekly.get("theta", nan),
                "peak_weekly": weekly.get("peak", nan),
                "alpha_weekly": weekly.get("alpha", nan),
                "shape": weekly.get("shape", nan),
                "scale_weekly": weekly.get("scale", nan),
                "l_max_weekly": ch.spec.l_max,
                "theta_daily": getattr(daily, "theta", nan),
                "peak_daily": getattr(daily, "peak", nan),
                "alpha_daily": getattr(daily, "alpha", nan),
                "scale_daily": getattr(daily, "scale", nan),
                "l_max_daily": daily.l_max,
                "saturation": ch.spec.saturation,
                "half_saturation": saturation.get("half_saturation", nan),
                "half_saturation_daily": cal.half_saturation,
                "slope": saturation.get("slope", nan),
                "lam": saturation.get("lam", nan),
                "lam_daily": cal.lam,
                "typical_pressure_daily": cal.typical_pressure,
                "beta_daily": cal.beta,
                "media_unit": "thousand impressions x campaign effectiveness",
                "n_campaigns": ch.spec.n_campaigns,
                "target_roi": ch.spec.roi,
            }
        )
    return pd.DataFrame(rows)


def _campaign_params(channels: list[_Channel], campaigns_long: pd.DataFrame) -> pd.DataFrame:
    grouped = campaigns_long.groupby(["channel", "campaign"], sort=False)[
        ["spend", "contribution"]
    ].sum()
    totals = dict(zip(grouped.index, grouped.to_numpy(dtype=np.float64), strict=True))
    rows = []
    for ch in channels:
        for k, name in enumerate(ch.names):
            spend, contribution = (float(v) for v in totals[(ch.spec.name, name)])
            rows.append(
                {
                    "channel": ch.spec.name,
                    "campaign": name,
                    "family": ch.families[k],
                    "flighting": ch.kinds[k],
                    "effectiveness": float(ch.effectiveness[k]),
                    "cpm": float(ch.cpm[k]),
                    "ctr": float(ch.ctr[k]),
                    "spend": spend,
                    "contribution": contribution,
                    "roi": float(contribution / spend) if spend > 0 else math.nan,
                }
            )
    return pd.DataFrame(rows)


def _summary(
    cfg: MMMWorldConfig,
    seed: int,
    roi: pd.DataFrame,
    weekly_channel: pd.DataFrame,
    long: pd.DataFrame,
    shares: NDArray[np.float64],
    parts: list[_Region],
) -> dict[str, Any]:
    totals = long.groupby("component", sort=False)["contribution"].sum()
    config = asdict(cfg)
    config["channels"] = [asdict(spec) for spec in cfg.channel_specs]
    return {
        "world": "mmm",
        "seed": seed,
        "config": config,
        "transforms": transform_preset(cfg.channel_specs),
        "channel_transforms": {
            spec.name: {"adstock": spec.adstock, "saturation": spec.saturation}
            for spec in cfg.channel_specs
        },
        "start": str(weekly_channel["date"].iloc[0]),
        "end": str(weekly_channel["date"].iloc[-1]),
        "weeks": cfg.weeks,
        "channels": [spec.name for spec in cfg.channel_specs],
        "controls": ["price", "promotion"],
        "holidays": {name: HOLIDAY_EFFECTS[name] for name in HOLIDAYS},
        "regions": {part.geo: float(share) for part, share in zip(parts, shares, strict=True)},
        "total_sales": float(weekly_channel["sales"].sum()),
        "total_spend": float(roi["spend"].sum()),
        "component_totals": {str(k): float(v) for k, v in totals.items()},
        "media_share": float(roi["contribution"].sum() / weekly_channel["sales"].sum()),
        "definitions": {
            "roi": "channel contribution within the window / channel spend within the window",
            "mroi": "d contribution / d spend when all of the channel's spend scales together",
            "campaign_contribution": "channel contribution x campaign share of adstocked "
            "effective pressure (Aumann-Shapley split; sums to the channel exactly)",
            "transforms": "preset of the channels' true adstock and saturation kinds "
            "(delayed-hill, mixed) or custom; parameters in config.channels",
            "reconciliation": "sum of components = sales, every day and week",
        },
    }
