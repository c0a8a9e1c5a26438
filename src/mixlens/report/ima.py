"""Report section for integrated marketing attribution (campaign credit anchored in the MMM)."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from mixlens.report.charts_ima import (
    campaign_correlation,
    campaign_credit_scatter,
    weekly_fit_panels,
)
from mixlens.report.html import Block, Figure, Metrics, Section, Table, Text


def ima_section(
    fit: pd.DataFrame,
    scores: pd.DataFrame,
    *,
    weekly: pd.DataFrame | None = None,
    campaigns: pd.DataFrame | None = None,
    media: Mapping[str, pd.DataFrame] | None = None,
    models: Mapping[str, str] | None = None,
    families: pd.DataFrame | None = None,
) -> Section:
    """Weekly fit against the MMM, and campaign accuracy against the simulator's truth.

    Parameters
    ----------
    fit
        ``fit.csv`` of ``mixlens ima fit``: ``channel, weekly_mape, r2`` (MAPE in percent).
    scores
        :func:`mixlens.ima.evaluate.score_campaigns` output for method ``ima`` and its
        baselines (e.g. ``spend share``, ``media share``): ``method, channel,
        n_campaigns, spearman, total_error`` and,
        when present, ``split_error``.
    weekly
        ``fit_weekly.csv``: ``date, channel, observed, predicted`` (optional chart).
    campaigns
        ``campaigns.csv`` with a ``truth`` column (true campaign totals), for the
        scatter and the top and bottom campaigns (optional).
    media
        Channel -> days x campaigns daily media, for the correlation heatmap of the
        channel with the most campaigns (optional).
    models
        Channel -> regression model IMA kept (``saturating`` or ``linear``; optional).
    families
        :func:`mixlens.ima.families.summarise_families` of IMA and its baselines:
        ``method, channel, band, n_families, n_campaigns, mean_corr, split_error``
        (optional: the split inside campaign families).
    """
    values = [
        v for v in ("spearman", "total_error", "split_error", "roi_spearman") if v in scores.columns
    ]
    wide = scores.pivot_table(index="channel", columns="method", values=values, sort=False)
    wide.columns = [f"{pair[0]} ({pair[1]})" for pair in wide.columns.to_flat_index()]
    wide = wide.reset_index()
    counts = scores.drop_duplicates("channel").set_index("channel")["n_campaigns"]
    wide.insert(1, "campaigns", wide["channel"].map(counts))
    ima = scores[scores["method"] == "ima"]
    fit_table = fit.copy()
    if models:
        fit_table.insert(1, "model", fit_table["channel"].map(dict(models)))
    blocks: list[Block] = [
        Metrics(
            {
                "campaigns": f"{int(ima['n_campaigns'].sum())}",
                "median weekly R² vs MMM": f"{fit['r2'].median():.2f}",
                "median weekly MAPE": f"{fit['weekly_mape'].median():.1f}%",
                "median campaign rank correlation": f"{ima['spearman'].median():.2f}",
            }
        ),
        Table(
            fit_table,
            "Daily campaign contributions summed to weeks, against the MMM's weekly channel "
            "contributions. `model`: the regression IMA kept for the channel (the saturating "
            "share model or the paper's linear regression, whichever fits better).",
            {"weekly_mape": ".1f", "r2": ".3f"},
        ),
    ]
    if weekly is not None:
        blocks.append(
            Figure(
                weekly_fit_panels(weekly, title="Weekly channel contribution: MMM vs IMA"),
                "The MMM's weekly channel contribution and IMA's daily campaign model summed "
                "to weeks.",
            )
        )
    blocks.append(
        Table(
            wide,
            "Campaign totals against the simulator's truth: rank correlation and total "
            "absolute error over the channel's true contribution, IMA vs splitting by spend "
            "and by adstocked media (impressions: IMA's own prior centre, the bar its "
            "regression must clear to show the MMM told it something about the campaigns). "
            "`split_error`: the same error after rescaling the campaigns to the true channel "
            "total, i.e. the split alone (IMA keeps the MMM's channel total, whose error it "
            "cannot correct). `roi_spearman`: rank correlation of campaign ROI with the true "
            "ROI (which campaign is the most efficient; none for spend share, whose ROI is "
            "the same for every campaign).",
            dict.fromkeys(wide.columns[2:], ".2f"),
        )
    )
    if families is not None and not families.empty:
        keys = ["channel", "band"]
        # a channel whose families all fall in one band: its "all" row says it
        bands = families[families["band"] != "all"].groupby("channel")["band"].nunique()
        single = families["channel"].map(bands).fillna(0) <= 1
        families = families[~single | (families["band"] == "all")]
        described = families.drop_duplicates(keys)[
            [*keys, "n_families", "n_campaigns", "mean_corr"]
        ]
        errors = families.pivot(index=keys, columns="method", values="split_error")
        by_band = described.merge(errors.reset_index(), on=keys, how="left")
        by_band.columns = [str(c) for c in by_band.columns]
        blocks.append(
            Table(
                by_band,
                "Inside campaign families (campaigns flighted together, whose daily media "
                "move together): the error of each method's split of the family after "
                "rescaling it to the family's true total, by how correlated the family's "
                "daily impressions are (`mean_corr`; bands over all families and from 0.8). "
                "NNLS-like regressions fall apart here; the pooled prior keeps IMA stable.",
                dict.fromkeys(by_band.columns[4:], ".2f"),
            )
        )
    if media:
        channel = max(media, key=lambda c: media[c].shape[1])
        blocks.append(
            Figure(
                campaign_correlation(
                    media[channel], title=f"{channel}: correlation of campaigns' daily media"
                ),
                "Campaigns flighted together (blocks of strong correlation) are what makes "
                "campaign credit hard: a regression cannot tell them apart without pooling.",
            )
        )
    if campaigns is not None:
        named = campaigns[campaigns["campaign"] != "unattributed"].rename(
            columns={
                "contribution_mean": "mean",
                "contribution_lo": "lo",
                "contribution_hi": "hi",
            }
        )
        blocks.append(
            Figure(
                campaign_credit_scatter(named, title="Campaign credit: IMA vs truth"),
                "Each point a campaign: its true contribution against IMA's estimate with the "
                "90% interval; the dashed line is a perfect estimate.",
            )
        )
        ranked = named.assign(true_roi=named["truth"] / named["spend"]).sort_values(
            "roi_mean", ascending=False
        )
        cols = ["channel", "campaign", "spend", "mean", "lo", "hi", "roi_mean", "true_roi"]
        top_bottom = pd.concat([ranked.head(5), ranked.tail(5)])[cols]
        blocks.append(
            Table(
                top_bottom,
                "Top and bottom five campaigns by IMA's ROI (contribution per unit of spend), "
                "with the true ROI.",
                {
                    "spend": ",.0f",
                    "mean": ",.0f",
                    "lo": ",.0f",
                    "hi": ",.0f",
                    "roi_mean": ".2f",
                    "true_roi": ".2f",
                },
            )
        )
    blocks.append(
        Text(
            "IMA inherits the MMM's channel-level error: where the MMM's channel total is off, "
            "every campaign of the channel is off by the same factor, whatever the split."
        )
    )
    return Section(
        key="ima",
        title="Campaign attribution (IMA)",
        lead=(
            "Each channel's MMM contribution is spread over days through adstocked daily media, "
            "then over campaigns by a non-negative Bayesian model of the channel's response to "
            "its campaigns; campaigns plus an 'unattributed' row add up to the channel exactly, "
            "every day."
        ),
        blocks=blocks,
    )
