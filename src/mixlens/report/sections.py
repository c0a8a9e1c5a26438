"""Report sections for the simulated worlds (each later stage adds its own module)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from mixlens.report import charts
from mixlens.report.html import Figure, Metrics, Section, Table, Text


def _money(value: float) -> str:
    return f"{value:,.0f}"


def mmm_world_section(
    weekly: pd.DataFrame,
    weekly_truth: pd.DataFrame,
    roi: pd.DataFrame,
    channels: Sequence[str],
) -> Section:
    """Section for the simulated MMM world: flighting, true decomposition, true ROI.

    Parameters
    ----------
    weekly
        Weekly channel panel (``geo`` rows, if any, are summed).
    weekly_truth
        Long truth ``date, [geo], component, contribution``.
    roi
        True ``channel, spend, contribution, roi, mroi``.
    channels
        Channel names in display order.
    """
    panel = weekly.drop(columns=[c for c in ("geo",) if c in weekly.columns])
    panel = panel.groupby("date", sort=True).sum(numeric_only=True).reset_index()
    truth: pd.DataFrame = (
        weekly_truth.groupby(["date", "component"], sort=False)["contribution"].sum().reset_index()
    )
    total_sales = float(panel["sales"].sum())
    media = float(roi["contribution"].sum())
    spend = float(roi["spend"].sum())
    table = roi[["channel", "spend", "contribution", "roi", "mroi"]].copy()
    table["share_of_sales"] = table["contribution"] / total_sales
    return Section(
        key="mmm-world",
        title="Simulated MMM world",
        lead=(
            f"{len(panel)} weeks of sales driven by {len(channels)} paid channels, a baseline "
            "(trend, seasonality, holidays), price and promotions. Every number below is the "
            "truth the models are judged against."
        ),
        blocks=[
            Metrics(
                {
                    "total sales": _money(total_sales),
                    "media spend": _money(spend),
                    "media-driven sales": f"{media / total_sales:.1%}",
                    "blended media ROI": f"{media / spend:.2f}",
                }
            ),
            Figure(
                charts.media_flighting(panel, channels),
                "Media flighting: bursts, pulses and always-on plans, summed over campaigns.",
            ),
            Figure(
                charts.decomposition(truth, title="True weekly sales decomposition (thousands)"),
                "Grey is the baseline; the black line is observed sales, including noise.",
            ),
            Table(
                table,
                "True return on spend: ROI over the window, and marginal ROI of the next unit.",
                {
                    "spend": ",.0f",
                    "contribution": ",.0f",
                    "roi": ".2f",
                    "mroi": ".2f",
                    "share_of_sales": ".1%",
                },
            ),
        ],
    )


def last_non_direct_conversions(paths: pd.DataFrame) -> pd.Series:
    """Conversions per channel credited to the last touch that is not ``direct``.

    Parameters
    ----------
    paths
        ChannelAttribution-format path table (``path``, ``total_conversions``).

    Returns
    -------
    pandas.Series
        Conversions indexed by channel; paths made only of direct touches are left out.
    """
    steps = paths["path"].str.split(" > ")
    last = steps.map(lambda s: next((c for c in reversed(s) if c != "direct"), None))
    return paths["total_conversions"].groupby(last).sum()


def journey_world_section(
    paths: pd.DataFrame, channel_truth: pd.DataFrame, summary: dict[str, object]
) -> Section:
    """Section for the simulated journey world: path lengths and true vs last-touch credit.

    Parameters
    ----------
    paths
        ChannelAttribution-format path table.
    channel_truth
        ``channel, incremental_conversions, ..., share, last_touch_conversions``.
    summary
        The world's ``summary.json`` content.
    """
    length = paths["path"].str.count(" > ") + 1
    journeys = paths["total_conversions"] + paths["total_null"]
    by_length = journeys.groupby(length.clip(upper=15)).sum().sort_index()
    by_length.index = [f"{i}" if i < 15 else "15+" for i in by_length.index]
    converting = paths["total_conversions"].groupby(length.clip(upper=15)).sum().sort_index()
    mean_length = float(np.average(length, weights=paths["total_conversions"].clip(lower=1e-12)))
    truth = channel_truth.copy()
    paid = truth[truth["channel"] != "direct"].copy()
    last_paid = last_non_direct_conversions(paths)
    paid["last_paid_share"] = paid["channel"].map(last_paid).fillna(0.0) / max(
        float(last_paid.sum()), 1e-12
    )
    compare = paid[["channel", "share", "last_paid_share"]].rename(
        columns={"share": "true incremental share", "last_paid_share": "last-paid-touch share"}
    )
    direct_last = float(truth.loc[truth["channel"] == "direct", "last_touch_conversions"].sum())
    total_last = float(truth["last_touch_conversions"].sum())
    conversions = float(str(summary.get("conversions", 0)))
    baseline = float(str(summary.get("baseline_conversions", 0)))
    return Section(
        key="journey-world",
        title="Simulated journey world",
        lead=(
            "Users with different appetites to buy meet ads on many channels; high-intent users "
            "see more retargeting and brand search, so naive last-touch credit is biased. The "
            "true incremental conversions come from re-simulating each user with a channel "
            "removed, using the same random draws."
        ),
        blocks=[
            Metrics(
                {
                    "users": f"{int(float(str(summary.get('users', 0)))):,}",
                    "conversions": f"{conversions:,.0f}",
                    "would convert without ads": f"{baseline / max(conversions, 1):.0%}",
                    "mean converting path length": f"{mean_length:.1f}",
                }
            ),
            Figure(
                charts.histogram(
                    by_length,
                    title="Journeys by number of touches",
                    xlabel="touches in journey",
                    ylabel="journeys",
                ),
                f"{int(converting.sum()):,} converting and "
                f"{int(paths['total_null'].sum()):,} non-converting journeys.",
            ),
            Figure(
                charts.bar_comparison(
                    compare,
                    label="channel",
                    series=["true incremental share", "last-paid-touch share"],
                    title="True incremental share of credit vs last paid touch",
                    ylabel="share",
                ),
                "Where the orange bar towers over the blue one, last-touch credit is too generous: "
                "high-intent users see more brand search and retargeting. Direct sessions are "
                f"the last touch of {direct_last / max(total_last, 1):.0%} of conversions and "
                "are left out here.",
            ),
            Table(
                truth[
                    [
                        "channel",
                        "touches",
                        "cost",
                        "incremental_conversions",
                        "share",
                        "last_touch_conversions",
                    ]
                ],
                "True incremental conversions per channel (counterfactual re-simulation).",
                {
                    "touches": ",.0f",
                    "cost": ",.0f",
                    "incremental_conversions": ",.0f",
                    "share": ".1%",
                    "last_touch_conversions": ",.0f",
                },
            ),
            Text(
                "Shares are each channel's removal effect over the sum of removal effects; "
                "interactions make removal effects add up to slightly more than the total "
                "incremental conversions."
            ),
        ],
    )
