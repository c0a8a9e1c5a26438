"""IMA charts as inline SVG: weekly fit against the MMM, campaign correlation, campaign credit.

Every function takes tidy frames and returns SVG markup; none touches a model.
"""

from __future__ import annotations

from typing import Any

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from mixlens.report.charts import _STYLE, PALETTE, to_svg

__all__ = ["campaign_correlation", "campaign_credit_scatter", "weekly_fit_panels"]


def weekly_fit_panels(weekly: pd.DataFrame, *, title: str) -> str:
    """Small multiples per channel: the MMM's weekly contribution and IMA's weekly sums.

    Parameters
    ----------
    weekly
        ``date, channel, observed, predicted`` (target units per week).
    title
        Figure title.
    """
    channels = list(dict.fromkeys(weekly["channel"]))
    with mpl.rc_context(_STYLE):
        fig, axes = plt.subplots(
            len(channels), 1, figsize=(9, 1.6 * len(channels) + 0.4), sharex=True, squeeze=False
        )
        for ax, channel in zip(axes[:, 0], channels, strict=True):
            part = weekly[weekly["channel"] == channel]
            dates = pd.to_datetime(part["date"])
            ax.plot(dates, part["observed"], color=PALETTE[7], lw=1.6, label="MMM (channel)")
            ax.plot(dates, part["predicted"], color=PALETTE[0], lw=1.0, label="IMA (sum of days)")
            ax.set_ylabel(str(channel), rotation=0, ha="right", va="center")
        axes[0, 0].legend(frameon=False, ncols=2, loc="upper left")
        axes[0, 0].set_title(title, loc="left", fontsize=10)
        return to_svg(fig)


def campaign_correlation(media: pd.DataFrame, *, title: str) -> str:
    """Heatmap of the correlation between campaigns' daily media (columns = campaigns).

    Parameters
    ----------
    media
        Days x campaigns, one channel's daily media (any unit).
    title
        Figure title.
    """
    corr = media.loc[:, media.std() > 0].corr().to_numpy()
    names = [str(c) for c in media.columns[media.std() > 0]]
    size = min(6.0, 2.5 + 0.12 * len(names))
    with mpl.rc_context({**_STYLE, "axes.grid": False}):
        fig, ax = plt.subplots(figsize=(size + 1.2, size))
        image = ax.imshow(corr, vmin=-1, vmax=1, cmap="RdBu_r")
        ticks = np.arange(len(names))
        small = len(names) <= 25
        ax.set_xticks(ticks if small else [], names if small else [], rotation=90, fontsize=6)
        ax.set_yticks(ticks if small else [], names if small else [], fontsize=6)
        fig.colorbar(image, ax=ax, shrink=0.8, label="correlation of daily media")
        ax.set_title(title, loc="left", fontsize=10)
        return to_svg(fig)


def campaign_credit_scatter(campaigns: pd.DataFrame, *, title: str) -> str:
    """Estimated campaign credit (with interval) against the true credit, log-log.

    Parameters
    ----------
    campaigns
        ``channel, campaign, mean, lo, hi, truth``, target units over the window.
    title
        Figure title.
    """
    frame = campaigns[(campaigns["truth"] > 0) & (campaigns["mean"] > 0)]
    with mpl.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(6.5, 5.0))
        for i, (channel, part) in enumerate(frame.groupby("channel", sort=False)):
            mean = part["mean"].to_numpy()
            err = np.vstack(
                [mean - part["lo"].clip(lower=1e-9).to_numpy(), part["hi"].to_numpy() - mean]
            )
            ax.errorbar(
                part["truth"],
                mean,
                yerr=np.clip(err, 0, None),
                fmt="o",
                ms=3.5,
                lw=0.8,
                color=PALETTE[i % len(PALETTE)],
                label=str(channel),
            )
        low = float(min(frame["truth"].min(), frame["mean"].min()))
        high = float(max(frame["truth"].max(), frame["hi"].max()))
        diagonal: dict[str, Any] = {"color": "#999999", "lw": 0.8, "ls": "--"}
        ax.plot([low, high], [low, high], label="estimate = truth", **diagonal)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("true campaign contribution")
        ax.set_ylabel("IMA campaign contribution (90% interval)")
        ax.legend(frameon=False, fontsize=8)
        ax.set_title(title, loc="left", fontsize=10)
        return to_svg(fig)
