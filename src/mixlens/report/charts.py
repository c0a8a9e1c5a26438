"""Charts as inline SVG text: matplotlib renders, the report embeds (no CDN, no files).

Every function takes tidy frames and returns SVG markup; none touches a model.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any, cast

import matplotlib as mpl

mpl.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

#: A colour-blind-safe palette (Okabe-Ito, then Tableau extras) in a fixed order.
PALETTE: tuple[str, ...] = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#F0E442",
    "#7F7F7F",
    "#8C564B",
    "#17BECF",
)
_STYLE: Any = {
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "svg.fonttype": "none",
    "svg.hashsalt": "mixlens",
    "figure.dpi": 100,
}


def to_svg(fig: Figure) -> str:
    """Render ``fig`` to SVG markup (without the XML prolog) and close it."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _colors(n: int) -> list[str]:
    return [PALETTE[i % len(PALETTE)] for i in range(n)]


def media_flighting(weekly: pd.DataFrame, channels: Sequence[str]) -> str:
    """Small multiples of weekly spend per channel.

    Parameters
    ----------
    weekly
        Weekly panel with ``date`` and ``{channel}_spend`` columns (summed over geos).
    channels
        Channels to draw, in order.
    """
    with mpl.rc_context(_STYLE):
        n = len(channels)
        fig, axes = plt.subplots(n, 1, figsize=(9, 1.15 * n + 0.6), sharex=True, squeeze=False)
        dates = pd.to_datetime(weekly["date"])
        for ax, channel, color in zip(axes[:, 0], channels, _colors(n), strict=True):
            values = weekly[f"{channel}_spend"].to_numpy() / 1000.0
            ax.fill_between(dates, values, step="post", color=color, alpha=0.75, linewidth=0)
            ax.set_ylabel(channel, rotation=0, ha="right", va="center")
            ax.set_ylim(bottom=0)
            ax.margins(x=0)
        axes[-1, 0].set_xlabel("week")
        fig.suptitle("Weekly spend per channel (thousands)", x=0.01, ha="left", fontsize=10)
        return to_svg(fig)


def unit(values: ArrayLike) -> tuple[float, str]:
    """Divisor and axis label that keep weekly amounts readable (thousands, millions or as is).

    Examples
    --------
    >>> unit([12_000.0, 950_000.0])
    (1000.0, 'thousands')
    >>> unit([3.0, 40.0])
    (1.0, '')
    """
    array = np.abs(np.asarray(values, dtype=np.float64))
    top = float(np.nanmax(array)) if array.size and np.isfinite(array).any() else 0.0
    if top >= 1e8:
        return 1e6, "millions"
    if top >= 1e4:
        return 1e3, "thousands"
    return 1.0, ""


def decomposition(
    weekly: pd.DataFrame,
    *,
    title: str,
    base: str = "baseline",
    outcome: pd.Series | None = None,
    outcome_label: str | None = "sales",
) -> str:
    """Stacked weekly contributions with an outcome line on top.

    Parameters
    ----------
    weekly
        Long frame ``date, component, contribution`` (summed over geos); the ``noise``
        component, if present, is drawn as the gap between the stack and the outcome line.
    title
        Chart title.
    base
        The component drawn first, in grey (the baseline, or the model's grouped base).
    outcome
        The line drawn on top, indexed by date (e.g. observed sales); by default the sum of
        all components (noise included).
    outcome_label
        Legend label of the line; None draws no line.
    """
    wide = weekly.pivot_table(
        index="date", columns="component", values="contribution", aggfunc="sum", sort=False
    )
    wide.index = pd.to_datetime(wide.index)
    line = wide.sum(axis=1) if outcome is None else outcome.set_axis(pd.to_datetime(outcome.index))
    stack = wide.drop(columns=[c for c in ("noise",) if c in wide.columns])
    order = [base, *[c for c in stack.columns if c != base]]
    stack = stack[[c for c in order if c in stack.columns]]
    divisor, label = unit(np.concatenate([stack.to_numpy().ravel(), line.to_numpy()]))
    with mpl.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(9, 3.6))
        positive = stack.clip(lower=0) / divisor
        negative = stack.clip(upper=0) / divisor
        grey = ["#D9D9D9"] if base in stack.columns else []
        colors = [*grey, *_colors(stack.shape[1] - len(grey))]
        ax.stackplot(positive.index, positive.T.to_numpy(), labels=stack.columns, colors=colors)
        if (negative.to_numpy() < 0).any():
            ax.stackplot(negative.index, negative.T.to_numpy(), colors=colors, alpha=0.6)
        if outcome_label is not None:
            ax.plot(
                line.index, line.to_numpy() / divisor, color="black", lw=0.9, label=outcome_label
            )
        ax.set_ylabel(label)
        ax.margins(x=0)
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
        ax.set_title(title, loc="left", fontsize=10)
        return to_svg(fig)


def bar_comparison(
    frame: pd.DataFrame, *, label: str, series: Sequence[str], title: str, ylabel: str
) -> str:
    """Draw grouped bars: one group per row of ``frame``, one bar per column in ``series``."""
    with mpl.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(9, 3.2))
        x = np.arange(len(frame))
        width = 0.8 / max(len(series), 1)
        for i, (name, color) in enumerate(zip(series, _colors(len(series)), strict=True)):
            ax.bar(
                x + (i - (len(series) - 1) / 2) * width, frame[name], width, label=name, color=color
            )
        ax.set_xticks(x, frame[label], rotation=20, ha="right")
        ax.set_ylabel(ylabel)
        ax.legend(frameon=False)
        ax.set_title(title, loc="left", fontsize=10)
        return to_svg(fig)


def histogram(counts: pd.Series, *, title: str, xlabel: str, ylabel: str) -> str:
    """Bar chart of a distribution given as counts indexed by value."""
    with mpl.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(9, 2.8))
        ax.bar(counts.index.astype(str), counts.to_numpy(), color=PALETTE[0])
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title, loc="left", fontsize=10)
        return to_svg(fig)


def interval_comparison(
    frame: pd.DataFrame, *, label: str, title: str, ylabel: str, floor_at_zero: bool = True
) -> str:
    """Draw estimates with intervals (``mean, lo, hi``) per row, next to ``truth`` if a column."""
    with mpl.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(9, 3.2))
        x = np.arange(len(frame))
        mean = frame["mean"].to_numpy()
        err = np.vstack([mean - frame["lo"].to_numpy(), frame["hi"].to_numpy() - mean])
        ax.errorbar(
            x - (0.08 if "truth" in frame.columns else 0.0),
            mean,
            yerr=err,
            fmt="o",
            color=PALETTE[0],
            capsize=4,
            label="estimate (interval)",
        )
        if "truth" in frame.columns:
            ax.scatter(
                x + 0.08, frame["truth"], marker="D", color=PALETTE[1], zorder=3, label="truth"
            )
        ax.set_xticks(x, frame[label], rotation=20, ha="right")
        ax.set_ylabel(ylabel)
        if floor_at_zero:
            ax.set_ylim(bottom=0)
        else:
            ax.axhline(0.0, color="#999999", lw=0.8)
        ax.legend(frameon=False)
        ax.set_title(title, loc="left", fontsize=10)
        return to_svg(fig)


def counterfactual(series: pd.DataFrame, *, title: str) -> str:
    """Observed outcome vs a counterfactual over time, with the test window shaded.

    Parameters
    ----------
    series
        ``date, actual, counterfactual, window`` (``window`` true inside the test).
    title
        Chart title.
    """
    dates = pd.to_datetime(series["date"])
    with mpl.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(9, 3.0))
        ax.plot(dates, series["actual"] / 1000.0, color="black", lw=1.0, label="treated geos")
        ax.plot(
            dates,
            series["counterfactual"] / 1000.0,
            color=PALETTE[0],
            lw=1.0,
            ls="--",
            label="counterfactual",
        )
        window = dates[series["window"].to_numpy(dtype=bool)]
        if len(window):
            ax.axvspan(
                cast(Any, window.min()),
                cast(Any, window.max()),
                color=PALETTE[1],
                alpha=0.15,
                label="test",
            )
        ax.set_ylabel("thousands")
        ax.margins(x=0)
        ax.legend(frameon=False, loc="upper left")
        ax.set_title(title, loc="left", fontsize=10)
        return to_svg(fig)


def placebo_distribution(placebos: pd.DataFrame, observed: dict[str, float], *, title: str) -> str:
    """Histograms of placebo relative gaps per method, the observed relative effect marked.

    Parameters
    ----------
    placebos
        ``method, relative_error``: gaps where no effect exists (placebo windows or geos).
    observed
        Method -> the test's observed relative effect (estimate / counterfactual).
    title
        Figure title.
    """
    methods = list(dict.fromkeys(placebos["method"]))
    with mpl.rc_context(_STYLE):
        fig, axes = plt.subplots(1, len(methods), figsize=(9, 2.8), squeeze=False, sharey=False)
        for ax, method in zip(axes[0], methods, strict=True):
            errors = placebos.loc[placebos["method"] == method, "relative_error"].to_numpy()
            ax.hist(errors * 100, bins=min(20, max(5, errors.size // 3)), color=PALETTE[0])
            if method in observed:
                ax.axvline(observed[method] * 100, color=PALETTE[5], lw=2, label="this test")
                ax.legend(frameon=False, fontsize=8)
            ax.set_xlabel("relative gap (%)")
            ax.set_title(f"{method} ({errors.size} placebos)", fontsize=9)
        axes[0, 0].set_ylabel("placebos")
        fig.suptitle(title, x=0.01, y=1.06, ha="left", fontsize=10)
        return to_svg(fig)
