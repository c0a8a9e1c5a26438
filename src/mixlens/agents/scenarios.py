"""Simulated partitions for the ``channels`` (vertical) and ``mixed`` scenarios."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from mixlens.agents.agent import ADSTOCKS, Agent, LiftTest, LocalObjective, SharedModel
from mixlens.agents.vertical import ChannelOwner, SalesOwner
from mixlens.errors import DataError

__all__ = [
    "CHANNEL_TEAMS",
    "JOURNEY_CHANNEL_MAP",
    "MIXED_OBJECTIVES",
    "MixedScenario",
    "channel_owners",
    "journey_weekly",
    "mixed_agents",
    "shared_model_from",
]

CHANNEL_TEAMS: dict[str, tuple[str, ...]] = {
    "tv_team": ("tv",),
    "social_team": ("social",),
    "search_team": ("paid_search",),
    "programmatic_team": ("online_video", "display"),
}
"""Which team owns which channels of the simulated world in the ``channels`` scenario."""

JOURNEY_CHANNEL_MAP: dict[str, str] = {
    "display": "display",
    "retargeting": "display",
    "online_video": "online_video",
    "social": "social",
    "paid_search_generic": "paid_search",
    "paid_search_brand": "paid_search",
}
"""Journey touchpoint channel to shared-model channel (``direct`` has no spend and is dropped)."""


MIXED_OBJECTIVES: dict[str, LocalObjective] = {
    "region_2": LocalObjective("profit", 0.35),
    "journeys": LocalObjective("ltv", 1.8),
}
"""Local objectives of the ``mixed`` scenario's agents (the others value revenue)."""


def shared_model_from(
    params: pd.DataFrame,
    *,
    horizon: float,
    start: str,
    per_capita: bool = True,
    adstock: str = "delayed",
) -> SharedModel:
    """Shared model agreed up front from a channel table (the simulator's ``channel_params``).

    The shared model has one adstock kind for every channel and Hill saturation (see
    :class:`~mixlens.agents.agent.SharedModel`). With delayed adstock (the MMM's default)
    a delayed channel keeps its retention ``theta_weekly`` and peak lag ``peak_weekly``;
    with ``adstock="geometric"`` a geometric channel keeps its ``alpha_weekly`` and a
    delayed one its ``theta_weekly`` as the retention (its peak is dropped). Hill slopes
    are ``slope``; half-saturations here are initial values; the setup round sets them
    from pooled spend. A table without ``adstock`` and ``saturation`` columns (written
    before channels had kinds) is delayed and Hill throughout.

    Raises
    ------
    DataError
        If ``adstock`` is unknown, or a channel's true kind cannot be expressed by the
        shared model (logistic saturation; Weibull adstock; geometric adstock in a
        delayed model); the message names the channel and its kind.
    """
    channels = tuple(str(c) for c in params["channel"])
    alpha, peak, slope = _shared_transforms(params, adstock)
    return SharedModel(
        channels=channels,
        alpha=alpha,
        half_saturation=(1.0,) * len(channels),
        slope=slope,
        horizon=horizon,
        start=start,
        adstock=adstock,
        peak=peak if adstock == "delayed" else None,
        per_capita=per_capita,
    )


def _shared_transforms(
    params: pd.DataFrame, adstock: str
) -> tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]]:
    """Per-channel retention, peak lag and Hill slope of a shared model of kind ``adstock``."""
    if adstock not in ADSTOCKS:
        raise DataError(f"adstock must be one of {', '.join(ADSTOCKS)}, got {adstock!r}")
    alpha, peak, slope = [], [], []
    for row in params.to_dict(orient="records"):
        name = str(row["channel"])
        kind, curve = str(row.get("adstock", "delayed")), str(row.get("saturation", "hill"))
        if curve != "hill":
            raise DataError(
                f"channel {name!r} has {curve} saturation; the agents' shared model has "
                "Hill saturation only"
            )
        if kind == "delayed":
            alpha.append(float(row["theta_weekly"]))
            peak.append(float(row["peak_weekly"]))
        elif kind == "geometric" and adstock == "geometric":
            alpha.append(float(row["alpha_weekly"]))
            peak.append(0.0)
        else:
            raise DataError(
                f"channel {name!r} has {kind} adstock, which the agents' shared "
                f"{adstock} adstock cannot express"
                + ("; use adstock='geometric'" if kind == "geometric" else "")
            )
        slope.append(float(row["slope"]))
    return tuple(alpha), tuple(peak), tuple(slope)


def _check_scale(scale: int) -> None:
    if scale < 1:
        raise DataError(f"--scale must be >= 1, got {scale}")


def channel_owners(
    scale: int = 1, *, seed: int = 0, weeks: int = 104
) -> tuple[SalesOwner, list[ChannelOwner]]:
    """Build the sales owner and four channel teams over one national simulated world.

    ``scale`` multiplies the weeks (the rows every party holds).
    """
    from mixlens.data.simulate.mmm import MMMWorldConfig, simulate_mmm

    _check_scale(scale)
    n_weeks = weeks * scale
    world = simulate_mmm(MMMWorldConfig(weeks=n_weeks, n_channels=5, regions=1), seed=seed)
    params = world.channel_params
    retention, _, slopes = _shared_transforms(params, "geometric")  # owners' adstock
    alpha = dict(zip(params["channel"], retention, strict=True))
    slope = dict(zip(params["channel"], slopes, strict=True))
    panel = world.weekly_channel.sort_values("date").reset_index(drop=True)
    start = str(panel["date"].iloc[0])[:10]
    sales = SalesOwner(
        "sales_owner", panel[["date", "sales", "price", "promotion"]], start=start, weeks=n_weeks
    )
    owners = [
        ChannelOwner(
            team,
            panel[["date", *(f"{c}_spend" for c in chans)]],
            chans,
            [float(alpha[c]) for c in chans],
            [float(slope[c]) for c in chans],
            start=start,
            weeks=n_weeks,
        )
        for team, chans in CHANNEL_TEAMS.items()
    ]
    return sales, owners


def journey_weekly(
    touchpoints: pd.DataFrame,
    conversions: pd.DataFrame,
    *,
    channels: tuple[str, ...],
    channel_map: Mapping[str, str],
    start: str,
    weeks: int,
) -> pd.DataFrame:
    """Aggregate user-level journeys into the weekly rows the shared model needs.

    Spend per shared channel is the summed touch cost of the journey channels mapped to
    it (a channel journeys cannot see, such as TV, gets 0); the outcome is the summed
    conversion value; ``price`` is 1 and ``promotion`` 0 (not observed in journeys).

    Returns
    -------
    pandas.DataFrame
        ``date, sales, {c}_spend..., price, promotion``, one row per week from ``start``.
    """
    origin = pd.Timestamp(start)
    dates = pd.date_range(start, periods=weeks, freq="7D")

    def week_of(ts: pd.Series) -> np.ndarray:
        return np.asarray((pd.to_datetime(ts) - origin).dt.days // 7, dtype=np.int64)

    frame = pd.DataFrame({"date": dates})
    conv_week = week_of(conversions["timestamp"])
    keep = (conv_week >= 0) & (conv_week < weeks)
    frame["sales"] = np.bincount(
        conv_week[keep], weights=conversions["value"].to_numpy(float)[keep], minlength=weeks
    )
    touch_week = week_of(touchpoints["timestamp"])
    mapped = touchpoints["channel"].astype(str).map(dict(channel_map))
    cost = touchpoints["cost"].to_numpy(float)
    for c in channels:
        sel = (mapped == c).to_numpy() & (touch_week >= 0) & (touch_week < weeks)
        frame[f"{c}_spend"] = np.bincount(touch_week[sel], weights=cost[sel], minlength=weeks)
    frame["price"] = 1.0
    frame["promotion"] = 0.0
    return frame


@dataclass(frozen=True)
class MixedScenario:
    """Agents of the ``mixed`` scenario and what the lift test measured.

    Attributes
    ----------
    agents
        Weekly-aggregate regions, the journeys unit, and the region that ran the test.
    lift_agent
        Name of the agent that brings the lift test.
    lift
        The lift test (measured lift and its standard error, target units).
    true_lift
        The simulator's true incremental outcome over the test weeks (for the check).
    true_credit
        The simulator's true contribution of the tested channel over all regions and
        weeks (for the check; the journeys unit's world is separate).
    journey_rows
        User-level touchpoint rows the journeys unit aggregated locally.
    """

    agents: list[Agent]
    lift_agent: str
    lift: LiftTest
    true_lift: float
    true_credit: float
    journey_rows: int


def mixed_agents(
    scale: int = 1,
    *,
    seed: int = 0,
    weeks: int = 104,
    users: int = 4000,
    lift_channel: str = "tv",
    lift_cv: float = 0.1,
    objectives: Mapping[str, LocalObjective] | None = None,
    per_capita: bool = True,
    adstock: str = "delayed",
) -> MixedScenario:
    """Mixed measurement technologies on one simulated world.

    Three regions of a simulated MMM world: ``region_1`` and ``region_2`` hold weekly
    aggregates; ``region_3`` also ran a holdout of ``lift_channel`` over its 8 weeks of
    heaviest spend and brings the measured lift (the simulator's true contribution over those weeks
    plus Gaussian error with coefficient of variation ``lift_cv``) as a prior. A fourth
    unit, ``journeys``, holds user-level journeys (``users * scale`` users over the same
    calendar) and aggregates them locally into weekly rows. ``scale`` multiplies every
    agent's rows (weeks for the regions, users for the journeys unit). ``objectives``
    sets agents' local objectives; default :data:`MIXED_OBJECTIVES` (``region_2`` values
    profit at a 35% margin, ``journeys`` long-term value at 1.8x the first purchase).

    The shared model is :func:`shared_model_from` the simulator's channel table (delayed
    adstock unless ``adstock="geometric"``), per capita unless ``per_capita`` is false.
    Per capita matters here: ``region_3`` is about 1/20 of ``region_1``, and one
    half-saturation in absolute spend puts its spend in the toe of the Hill curve, so a
    lift test there cannot transfer to the others (with the absolute model it pulled the
    tv credit to 1.17M against a true 7.18M; per capita it gives 8.18M).
    """
    from mixlens.data.simulate.journeys import JourneyWorldConfig, simulate_journeys
    from mixlens.data.simulate.mmm import MMMWorldConfig, simulate_mmm

    _check_scale(scale)
    objs = dict(MIXED_OBJECTIVES if objectives is None else objectives)
    n_weeks = weeks * scale
    world = simulate_mmm(MMMWorldConfig(weeks=n_weeks, n_channels=5, regions=3), seed=seed)
    start = str(world.weekly_channel["date"].iloc[0])[:10]
    model = shared_model_from(
        world.channel_params,
        horizon=float(n_weeks),
        start=start,
        per_capita=per_capita,
        adstock=adstock,
    )
    channels = model.channels
    if lift_channel not in channels:
        raise DataError(f"lift channel {lift_channel!r} is not one of {channels}")
    dates = pd.date_range(start, periods=n_weeks, freq="7D")
    shard3 = world.weekly_channel[world.weekly_channel["geo"] == "region_3"].sort_values("date")
    window = shard3[f"{lift_channel}_spend"].rolling(8).sum().to_numpy()
    last = int(np.nanargmax(window))  # the test ran in the 8 weeks of heaviest spend
    t0, t1 = dates[last - 7], dates[last]
    contrib = world.weekly_contributions
    geo = contrib["geo"] == "region_3"
    inside = (pd.to_datetime(contrib["date"]) >= t0) & (pd.to_datetime(contrib["date"]) <= t1)
    true_lift = float(
        contrib.loc[geo & inside & (contrib["component"] == lift_channel), "contribution"].sum()
    )
    rng = np.random.default_rng([seed, 7])
    se = max(lift_cv * abs(true_lift), 1.0)
    lift = LiftTest(
        lift_channel,
        str(t0)[:10],
        str(t1)[:10],
        float(true_lift + rng.normal(0.0, se)),
        float(max(se, 1e-9)),
    )
    agents: list[Agent] = []
    for name, frame in world.weekly_channel.groupby("geo", sort=True):
        shard = frame.sort_values("date")
        agents.append(
            Agent(
                str(name),
                shard,
                model,
                lift=lift if name == "region_3" else None,
                objective=objs.get(str(name)),
            )
        )
    sim = simulate_journeys(
        JourneyWorldConfig(
            users=users * scale, days=7 * n_weeks, n_channels=6, start=date.fromisoformat(start)
        ),
        seed=seed,
    )
    weekly = journey_weekly(
        sim.touchpoints,
        sim.conversions,
        channels=channels,
        channel_map=JOURNEY_CHANNEL_MAP,
        start=start,
        weeks=n_weeks,
    )
    agents.append(Agent("journeys", weekly, model, objective=objs.get("journeys")))
    true_credit = float(contrib.loc[contrib["component"] == lift_channel, "contribution"].sum())
    return MixedScenario(agents, "region_3", lift, true_lift, true_credit, len(sim.touchpoints))
