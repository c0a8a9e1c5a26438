"""Report section for decentralized attribution by agents that keep their data."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import matplotlib as mpl

mpl.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from mixlens.report.charts import PALETTE, to_svg
from mixlens.report.html import Block, Figure, Metrics, Section, Table, Text

__all__ = ["agents_section", "convergence_svg", "credit_svg"]

_STYLE: Any = {
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "svg.fonttype": "none",
    "svg.hashsalt": "mixlens",
}

_LEADS = {
    "regions": "regional agents keep their weekly rows and fit one shared response model by "
    "exchanging masked sufficient statistics",
    "channels": "channel teams keep their spend columns and a sales owner keeps the outcome; "
    "they fit one shared response model by sharing-form ADMM over masked per-week vectors",
    "mixed": "weekly-aggregate regions, a unit holding user-level journeys (aggregated "
    "locally to weeks) and a region bringing a lift test fit one shared response model",
}


def convergence_svg(rounds: pd.DataFrame) -> str:
    """Primal and dual residual per round (log scale) from ``rounds.csv``."""
    fit = rounds.dropna(subset=["primal_residual", "dual_residual"])
    with mpl.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(8, 2.8))
        for col, color in zip(("primal_residual", "dual_residual"), PALETTE, strict=False):
            values = np.maximum(fit[col].to_numpy(dtype=float), 1e-16)
            ax.plot(fit["round"], values, color=color, lw=1.2, label=col.replace("_", " "))
        ax.set_yscale("log")
        ax.set_xlabel("round")
        ax.set_ylabel("relative residual")
        ax.legend(frameon=False, loc="upper right")
        return to_svg(fig)


def credit_svg(attribution: pd.DataFrame) -> str:
    """Credit per channel, stacked by agent (the ``all`` rows are their total)."""
    parts = attribution[attribution["agent"] != "all"]
    wide = parts.pivot_table(
        index="channel", columns="agent", values="credit", aggfunc="sum", sort=False
    ).fillna(0.0)
    with mpl.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(8, 0.45 * len(wide) + 1.0))
        left_pos = np.zeros(len(wide))
        left_neg = np.zeros(len(wide))
        for i, agent in enumerate(wide.columns):
            vals = wide[agent].to_numpy(dtype=float) / 1000.0
            left = np.where(vals >= 0, left_pos, left_neg)
            ax.barh(wide.index, vals, left=left, color=PALETTE[i % len(PALETTE)], label=agent)
            left_pos += np.maximum(vals, 0.0)
            left_neg += np.minimum(vals, 0.0)
        ax.set_xlabel("credit (thousands, target units)")
        ax.legend(frameon=False, fontsize=8, loc="lower right")
        return to_svg(fig)


def agents_section(
    attribution: pd.DataFrame,
    summary: Mapping[str, Any],
    rounds: pd.DataFrame | None = None,
) -> Section:
    """Credit per agent and channel, with what crossed the wire and the check vs pooling.

    Parameters
    ----------
    attribution
        ``attribution.csv`` of ``mixlens agents run``: ``agent, channel, credit``.
    summary
        Its ``summary.json`` (``rounds``, ``bytes_total``, ``rel_diff_vs_centralized``).
    rounds
        Its ``rounds.csv``; when given (and the protocol iterated), a convergence plot.
    """
    wide = attribution.pivot_table(
        index="agent", columns="channel", values="credit", aggfunc="sum", sort=False
    ).reset_index()
    agents = [a for a in wide["agent"] if a != "all"]
    scenario = str(summary.get("scenario", "regions"))
    blocks: list[Block] = [
        Metrics(
            {
                "agents": str(len(agents)),
                "rounds": str(summary.get("rounds")),
                "bytes exchanged": f"{int(summary.get('bytes_total', 0)):,}",
                "difference vs pooled fit": f"{float(summary['rel_diff_vs_centralized']):.1e}",
            }
        ),
        Figure(credit_svg(attribution), "Credit per channel, stacked by agent."),
        Table(
            wide,
            "Credit per agent and channel (target units); the 'all' row is the global "
            "credit, and the agents' rows add up to it exactly.",
            {c: ",.0f" for c in wide.columns if c != "agent"},
        ),
    ]
    if rounds is not None and rounds[["primal_residual", "dual_residual"]].notna().sum().min() > 1:
        blocks.append(
            Figure(
                convergence_svg(rounds),
                "Primal and dual residual per round, relative to the consensus (log scale).",
            )
        )
    lift = summary.get("lift_test")
    if isinstance(lift, Mapping):
        ch = lift["channel"]
        blocks.append(
            Text(
                f"{lift['agent']} brought a {ch} lift test of "
                f"{float(lift['measured_lift']):,.0f} (se {float(lift['lift_se']):,.0f}); it "
                f"moved the {ch} coefficient from {float(lift['coef_without_lift']):.3f} to "
                f"{float(lift['coef_with_lift']):.3f} and its credit from "
                f"{float(lift['credit_without_lift']):,.0f} to "
                f"{float(lift['credit_with_lift']):,.0f}"
                + (
                    " (simulated truth over the regions: "
                    f"{float(lift['true_credit_regions']):,.0f})."
                    if "true_credit_regions" in lift
                    else "."
                )
            )
        )
    blocks.append(
        Text(
            "No row leaves an agent: the coordinator sees only masked vectors whose sum is "
            "exact, and message sizes do not grow with the rows held (in the channels "
            "scenario they are per-week vectors, so they grow with weeks only)."
        )
    )
    return Section(
        key="agents",
        title="Decentralized attribution",
        lead=(
            f"{len(agents)} agents: {_LEADS.get(scenario, _LEADS['regions'])}; credit is a "
            "Shapley split over channels, computed by each agent on its own data."
        ),
        blocks=blocks,
    )
