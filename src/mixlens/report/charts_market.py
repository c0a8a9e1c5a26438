"""Market charts as inline SVG: learning curves and the policy comparison.

Same conventions as :mod:`mixlens.report.charts`: tidy frames in, SVG text out.
"""

from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from mixlens.report.charts import _STYLE, PALETTE, _colors, to_svg

__all__ = ["learning_curves", "policy_profits"]


def learning_curves(curves: pd.DataFrame, *, references: pd.DataFrame | None = None) -> str:
    """Mean training-episode profit per update, one line per learner.

    Parameters
    ----------
    curves
        ``curve.csv`` rows (``episodes, profit``) with an optional ``learner`` column.
    references
        Optional ``evaluation.csv``: its non-learned policies are drawn as horizontal lines.
    """
    frame = curves if "learner" in curves else curves.assign(learner="learned")
    learners = list(dict.fromkeys(frame["learner"]))
    with mpl.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(9, 3.0))
        for name, color in zip(learners, _colors(len(learners)), strict=True):
            part = frame[frame["learner"] == name].sort_values("episodes")
            ax.plot(part["episodes"], part["profit"] / 1000.0, color=color, label=name)
        if references is not None:
            others = references[~references["policy"].str.startswith("learned")]
            styles = ("--", ":", "-.")
            rows = zip(others["policy"], others["profit_mean"].to_numpy(), strict=True)
            for k, (policy, value) in enumerate(rows):
                ax.axhline(
                    float(value) / 1000.0,
                    color="#555555",
                    ls=styles[k % len(styles)],
                    lw=1.0,
                    label=str(policy),
                )
        ax.set_xlabel("training episodes")
        ax.set_ylabel("episode profit (thousands)")
        ax.legend(frameon=False, fontsize=8)
        ax.set_title("Learning curves (exploring policies)", loc="left", fontsize=10)
        return to_svg(fig)


def policy_profits(evaluation: pd.DataFrame) -> str:
    """Mean cumulative profit per policy with its 95% interval (``evaluation.csv``)."""
    with mpl.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(9, 3.0))
        y = np.arange(len(evaluation))
        mean = evaluation["profit_mean"].to_numpy() / 1000.0
        err = np.vstack(
            [
                mean - evaluation["profit_lo"].to_numpy() / 1000.0,
                evaluation["profit_hi"].to_numpy() / 1000.0 - mean,
            ]
        )
        ax.errorbar(mean, y, xerr=err, fmt="o", color=PALETTE[0], capsize=4)
        ax.set_yticks(y, evaluation["policy"])
        ax.invert_yaxis()
        ax.set_xlabel("cumulative profit over the episode (thousands)")
        ax.set_title("Held-out profit by policy (95% interval)", loc="left", fontsize=10)
        return to_svg(fig)
