"""Allocation charts as inline SVG: response curves, Pareto front, closed-loop regret.

Same conventions as :mod:`mixlens.report.charts`: tidy frames in, SVG text out.
"""

from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from mixlens.report.charts import _STYLE, _colors, to_svg

__all__ = ["pareto_front", "regret_curves", "response_curves"]


def response_curves(curves: pd.DataFrame, plan: pd.DataFrame) -> str:
    """Small multiples: each channel's response curve with its current and recommended spend.

    Parameters
    ----------
    curves
        ``curves.csv``: ``channel, spend, contribution_mean, contribution_lo,
        contribution_hi``.
    plan
        ``allocation.csv``: ``channel, current_spend, recommended_spend``.
    """
    channels = list(plan["channel"])
    n = len(channels)
    cols = min(3, n)
    rows = -(-n // cols)
    with mpl.rc_context(_STYLE):
        fig, axes = plt.subplots(rows, cols, figsize=(9, 2.3 * rows + 0.4), squeeze=False)
        for ax, channel, color in zip(axes.flat, channels, _colors(n), strict=False):
            part = curves[curves["channel"] == channel].sort_values("spend")
            x = part["spend"].to_numpy() / 1000.0
            ax.fill_between(
                x, part["contribution_lo"] / 1000.0, part["contribution_hi"] / 1000.0,
                color=color, alpha=0.2, linewidth=0,
            )  # fmt: skip
            mean = part["contribution_mean"].to_numpy() / 1000.0
            ax.plot(x, mean, color=color)
            row = plan[plan["channel"] == channel].iloc[0]
            for key, marker, name in (
                ("current_spend", "o", "current"),
                ("recommended_spend", "*", "recommended"),
            ):
                s = float(row[key]) / 1000.0
                ax.plot([s], [np.interp(s, x, mean)], marker, color="black", ms=7, label=name)
            ax.set_title(channel, loc="left", fontsize=9)
            ax.set_ylim(bottom=0)
        for ax in list(axes.flat)[n:]:
            ax.set_visible(False)
        axes[0, 0].legend(frameon=False, fontsize=8)
        fig.supxlabel("spend over the horizon (thousands)", fontsize=9)
        fig.supylabel("contribution (thousands)", fontsize=9)
        return to_svg(fig)


def pareto_front(front: pd.DataFrame, *, x: str = "spend", y: str = "outcome") -> str:
    """Plot the Pareto front (``pareto.csv``): ``y`` against ``x``, points joined in order."""
    with mpl.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(6, 3.2))
        data = front.sort_values(x)
        ax.plot(data[x] / 1000.0, data[y] / 1000.0, "o-", color=_colors(1)[0])
        ax.set_xlabel(f"{x} (thousands)")
        ax.set_ylabel(f"{y} (thousands)")
        ax.set_title(f"Pareto front: {y} vs {x}", loc="left", fontsize=10)
        return to_svg(fig)


def regret_curves(regret: pd.DataFrame, *, shift_week: int | None = None) -> str:
    """Cumulative regret per policy by week (``regret.csv``), the shift marked."""
    with mpl.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(9, 3.2))
        policies = list(dict.fromkeys(regret["policy"]))
        for policy, color in zip(policies, _colors(len(policies)), strict=True):
            part = regret[regret["policy"] == policy]
            ax.plot(part["week"], part["cumulative_regret"] / 1000.0, label=policy, color=color)
        if shift_week is not None:
            ax.axvline(shift_week, color="grey", linestyle="--", linewidth=1)
            ax.annotate("shift", (shift_week, 0), xytext=(3, 3), textcoords="offset points")
        ax.set_xlabel("week")
        ax.set_ylabel("cumulative regret (thousands)")
        ax.legend(frameon=False, ncol=len(policies))
        ax.set_title("Closed loop: cumulative regret vs the oracle", loc="left", fontsize=10)
        return to_svg(fig)
