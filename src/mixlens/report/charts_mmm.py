"""MMM charts as inline SVG: fit against actual, channel contributions, response curves.

Same conventions as :mod:`mixlens.report.charts`: tidy frames in, SVG text out; none
touches a model. Weekly amounts are scaled by :func:`mixlens.report.charts.unit`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from mixlens.report.charts import _STYLE, PALETTE, _colors, to_svg, unit

__all__ = ["channel_contributions", "fit_vs_actual", "response_curves"]


def _axis_label(label: str, what: str) -> str:
    return f"{what} ({label})" if label else what


def fit_vs_actual(fit: pd.DataFrame, *, title: str, band_label: str) -> str:
    """Observed outcome per week, the model's posterior mean and its predictive band.

    Parameters
    ----------
    fit
        ``date, actual, mean, lo, hi`` (target units per week).
    title
        Chart title.
    band_label
        Legend label of the band (e.g. ``"90% predictive band"``).
    """
    dates = pd.to_datetime(fit["date"])
    divisor, label = unit(fit[["actual", "mean", "lo", "hi"]].to_numpy())
    with mpl.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(9, 3.2))
        ax.fill_between(
            dates,
            fit["lo"].to_numpy() / divisor,
            fit["hi"].to_numpy() / divisor,
            color=PALETTE[0],
            alpha=0.2,
            linewidth=0,
            label=band_label,
        )
        ax.plot(dates, fit["mean"] / divisor, color=PALETTE[0], lw=1.0, label="model (mean)")
        ax.plot(dates, fit["actual"] / divisor, color="black", lw=0.9, label="actual")
        ax.set_ylabel(_axis_label(label, "per week"))
        ax.margins(x=0)
        ax.legend(frameon=False, ncols=3, loc="upper left")
        ax.set_title(title, loc="left", fontsize=10)
        return to_svg(fig)


def channel_contributions(weekly: pd.DataFrame, *, title: str) -> str:
    """Small multiples per channel: estimated weekly contribution (mean, band) and the truth.

    Parameters
    ----------
    weekly
        ``date, channel, mean, lo, hi`` with an optional ``truth`` column (target units
        per week).
    title
        Figure title.
    """
    channels = list(dict.fromkeys(weekly["channel"]))
    columns = [c for c in ("mean", "lo", "hi", "truth") if c in weekly.columns]
    divisor, label = unit(weekly[columns].to_numpy())
    with mpl.rc_context(_STYLE):
        fig, axes = plt.subplots(
            len(channels), 1, figsize=(9, 1.5 * len(channels) + 0.5), sharex=True, squeeze=False
        )
        for ax, channel, color in zip(axes[:, 0], channels, _colors(len(channels)), strict=True):
            part = weekly[weekly["channel"] == channel]
            dates = pd.to_datetime(part["date"])
            ax.fill_between(
                dates,
                part["lo"].to_numpy() / divisor,
                part["hi"].to_numpy() / divisor,
                color=color,
                alpha=0.25,
                linewidth=0,
                label="estimate (interval)",
            )
            ax.plot(dates, part["mean"] / divisor, color=color, lw=1.0, label="estimate (mean)")
            if "truth" in part.columns:
                ax.plot(
                    dates, part["truth"] / divisor, color="black", lw=0.9, ls="--", label="truth"
                )
            ax.set_ylabel(str(channel), rotation=0, ha="right", va="center")
            ax.margins(x=0)
        axes[0, 0].legend(frameon=False, ncols=3, loc="upper left", fontsize=8)
        axes[0, 0].set_title(
            title + (f" ({label} per week)" if label else ""), loc="left", fontsize=10
        )
        return to_svg(fig)


def response_curves(
    curves: pd.DataFrame, *, title: str, markers: Mapping[str, float] | None = None
) -> str:
    """Small multiples per channel: weekly contribution against weekly spend, with its band.

    Parameters
    ----------
    curves
        ``channel, spend, mean, lo, hi`` (``response_curves.csv`` of one geo or ``all``).
    title
        Figure title.
    markers
        Channel -> a weekly spend to mark on its curve (e.g. its mean over the fitted
        weeks); channels without one get no marker.
    """
    channels = list(dict.fromkeys(curves["channel"]))
    marks = dict(markers or {})
    n_cols = min(3, len(channels))
    n_rows = math.ceil(len(channels) / n_cols)
    x_div, x_label = unit(curves["spend"].to_numpy())
    y_div, y_label = unit(curves[["mean", "lo", "hi"]].to_numpy())
    with mpl.rc_context(_STYLE):
        fig, axes = plt.subplots(
            n_rows, n_cols, figsize=(9, 2.4 * n_rows + 0.4), squeeze=False, layout="constrained"
        )
        for k, (channel, color) in enumerate(zip(channels, _colors(len(channels)), strict=True)):
            ax = axes[k // n_cols, k % n_cols]
            part = curves[curves["channel"] == channel].sort_values("spend")
            spend = part["spend"].to_numpy(dtype=np.float64)
            mean = part["mean"].to_numpy(dtype=np.float64)
            ax.fill_between(
                spend / x_div,
                part["lo"].to_numpy() / y_div,
                part["hi"].to_numpy() / y_div,
                color=color,
                alpha=0.25,
                linewidth=0,
            )
            ax.plot(spend / x_div, mean / y_div, color=color, lw=1.2)
            at = marks.get(str(channel))
            if at is not None and np.isfinite(at):
                ax.plot(
                    at / x_div,
                    float(np.interp(at, spend, mean)) / y_div,
                    "o",
                    color="black",
                    ms=4,
                    zorder=3,
                )
            ax.set_title(str(channel), fontsize=9)
            ax.set_xlim(left=0)
            ax.set_ylim(bottom=min(0.0, float(part["lo"].min()) / y_div))
        for k in range(len(channels), n_rows * n_cols):
            axes[k // n_cols, k % n_cols].set_visible(False)
        fig.supxlabel(_axis_label(x_label, "weekly spend"), fontsize=9)
        fig.supylabel(_axis_label(y_label, "weekly contribution"), fontsize=9)
        fig.suptitle(title, x=0.01, ha="left", fontsize=10)
        return to_svg(fig)
