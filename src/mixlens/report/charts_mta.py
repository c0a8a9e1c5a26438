"""Charts of journeys for the attribution section: the order-1 transition graph and matrix.

Inline SVG like :mod:`mixlens.report.charts` (same style and palette); inputs are the tidy
tables of :mod:`mixlens.mta.describe`.
"""

from __future__ import annotations

import matplotlib as mpl

mpl.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import FancyArrowPatch

from mixlens.mta.describe import CONVERSION, NULL, START
from mixlens.report.charts import _STYLE, PALETTE, to_svg

__all__ = ["credit_intervals", "node_layout", "transition_graph", "transition_heatmap"]


def node_layout(channels: list[str]) -> dict[str, tuple[float, float]]:
    """Place ``(start)`` left, channels on a circle, ``(conversion)`` and ``(null)`` right.

    Examples
    --------
    >>> xy = node_layout(["a", "b"])
    >>> xy["(start)"][0] < xy["a"][0] < xy["(conversion)"][0]
    True
    """
    n = max(len(channels), 1)
    angle = np.pi / 2 - 2 * np.pi * np.arange(len(channels)) / n
    xy = {
        c: (1.4 * float(np.cos(a)), float(np.sin(a))) for c, a in zip(channels, angle, strict=True)
    }
    xy[START] = (-2.7, 0.0)
    xy[CONVERSION] = (2.7, 0.55)
    xy[NULL] = (2.7, -0.55)
    return xy


def transition_graph(
    transitions: pd.DataFrame, *, title: str, min_probability: float = 0.05
) -> str:
    """Draw the transition graph: arrow width and opacity grow with the probability.

    Parameters
    ----------
    transitions
        ``from, to, probability`` (:func:`mixlens.mta.describe.transitions`).
    title
        Chart title.
    min_probability
        Transitions below this probability are not drawn (the caption should say so).
    """
    special = {START, CONVERSION, NULL}
    channels = sorted(
        {str(s) for s in pd.concat([transitions["from"], transitions["to"]])} - special
    )
    xy = node_layout(channels)
    shown = transitions[transitions["probability"] >= min_probability]
    colors = {START: "#7F7F7F", CONVERSION: PALETTE[2], NULL: PALETTE[5]}
    with mpl.rc_context({**_STYLE, "axes.grid": False}):
        fig, ax = plt.subplots(figsize=(9, 5.2))
        for src, dst, p in zip(
            shown["from"].astype(str), shown["to"].astype(str), shown["probability"], strict=True
        ):
            to_end = dst in (CONVERSION, NULL)
            arrow = FancyArrowPatch(
                xy[src],
                xy[dst],
                arrowstyle="-|>",
                mutation_scale=8 + 10 * p,
                lw=0.4 + 5.0 * p,
                alpha=0.25 + 0.65 * p,
                color=colors.get(dst, PALETTE[0]) if to_end else PALETTE[0],
                connectionstyle="arc3,rad=0.12",
                shrinkA=14,
                shrinkB=14,
                zorder=1,
            )
            ax.add_patch(arrow)
        for name, (x, y) in xy.items():
            if name not in special and name not in channels:
                continue
            ax.scatter([x], [y], s=520, color=colors.get(name, "#FFFFFF"), zorder=2,
                       edgecolors="#333333", linewidths=0.8)  # fmt: skip
            if name in special:
                offset, ha = (0.0, -16.0), "center"
            else:
                norm = max(float(np.hypot(x / 1.4, y)), 1e-9)
                offset = (16.0 * x / 1.4 / norm, 14.0 * y / norm)
                ha = "left" if x > 0.2 else "right" if x < -0.2 else "center"
            ax.annotate(name, (x, y), xytext=offset, textcoords="offset points", ha=ha,
                        va="center" if name not in special else "top", fontsize=8,
                        zorder=3)  # fmt: skip
        ax.set_xlim(-3.2, 3.2)
        ax.set_ylim(-1.3, 1.3)
        ax.set_aspect("equal")
        ax.axis("off")
        ax.set_title(title, loc="left", fontsize=10)
        return to_svg(fig)


def transition_heatmap(transitions: pd.DataFrame, *, title: str) -> str:
    """Draw the transition probability matrix, rows ``from`` and columns ``to``, annotated."""
    matrix = transitions.pivot_table(
        index="from", columns="to", values="probability", aggfunc="sum", fill_value=0.0
    )
    rows = [START, *sorted(r for r in matrix.index if r != START)]
    cols = [*sorted(c for c in matrix.columns if c not in (CONVERSION, NULL)), CONVERSION, NULL]
    matrix = matrix.reindex(index=rows, columns=cols, fill_value=0.0)
    values = matrix.to_numpy(dtype=np.float64)
    with mpl.rc_context({**_STYLE, "axes.grid": False}):
        fig, ax = plt.subplots(figsize=(9, 0.42 * len(rows) + 1.4))
        image = ax.imshow(values, cmap="Blues", vmin=0.0, vmax=max(float(values.max()), 1e-9))
        for i, j in zip(*np.nonzero(values >= 0.005), strict=True):
            v = values[i, j]
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if v > 0.6 * values.max() else "#222222")  # fmt: skip
        ax.set_xticks(np.arange(len(cols)), cols, rotation=30, ha="right")
        ax.set_yticks(np.arange(len(rows)), rows)
        ax.set_xlabel("to")
        ax.set_ylabel("from")
        fig.colorbar(image, ax=ax, fraction=0.025, pad=0.02, label="probability")
        ax.set_title(title, loc="left", fontsize=10)
        return to_svg(fig)


def credit_intervals(frame: pd.DataFrame, *, title: str, ylabel: str) -> str:
    """Draw credit per channel by model side by side, each with its interval.

    ``frame`` has ``model, channel, conversions, conversions_lo, conversions_hi``.
    """
    models = list(dict.fromkeys(frame["model"].astype(str)))
    channels = list(dict.fromkeys(frame["channel"].astype(str)))
    x = np.arange(len(channels))
    width = 0.8 / max(len(models), 1)
    with mpl.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(9, 3.4))
        for i, model in enumerate(models):
            part = frame[frame["model"].astype(str) == model].set_index("channel")
            part = part.reindex(channels)
            mid = part["conversions"].to_numpy(dtype=np.float64)
            lo = part["conversions_lo"].to_numpy(dtype=np.float64)
            hi = part["conversions_hi"].to_numpy(dtype=np.float64)
            err = np.vstack([np.maximum(mid - lo, 0.0), np.maximum(hi - mid, 0.0)])
            ax.errorbar(
                x + (i - (len(models) - 1) / 2) * width,
                mid,
                yerr=err,
                fmt="o",
                ms=4,
                capsize=3,
                color=PALETTE[i % len(PALETTE)],
                label=model,
            )
        ax.set_xticks(x, channels, rotation=20, ha="right")
        ax.set_ylabel(ylabel)
        ax.set_ylim(bottom=0)
        ax.legend(frameon=False, fontsize=8)
        ax.set_title(title, loc="left", fontsize=10)
        return to_svg(fig)
