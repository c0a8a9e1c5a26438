"""Report section for decentralized attribution by agents that keep their data."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from mixlens.report.html import Metrics, Section, Table, Text


def agents_section(attribution: pd.DataFrame, summary: Mapping[str, Any]) -> Section:
    """Credit per agent and channel, with what crossed the wire and the check vs pooling.

    Parameters
    ----------
    attribution
        ``attribution.csv`` of ``mixlens agents run``: ``agent, channel, credit``.
    summary
        Its ``summary.json`` (``rounds``, ``bytes_total``, ``rel_diff_vs_centralized``).
    """
    wide = attribution.pivot_table(
        index="agent", columns="channel", values="credit", aggfunc="sum", sort=False
    ).reset_index()
    agents = [a for a in wide["agent"] if a != "all"]
    return Section(
        key="agents",
        title="Decentralized attribution",
        lead=(
            f"{len(agents)} regional agents keep their weekly rows and fit one shared response "
            "model by exchanging masked sufficient statistics; credit is a Shapley split over "
            "channels, computed by each agent on its own data."
        ),
        blocks=[
            Metrics(
                {
                    "agents": str(len(agents)),
                    "rounds": str(summary.get("rounds")),
                    "bytes exchanged": f"{int(summary.get('bytes_total', 0)):,}",
                    "difference vs pooled fit": f"{float(summary['rel_diff_vs_centralized']):.1e}",
                }
            ),
            Table(
                wide,
                "Credit per agent and channel (target units); the 'all' row is the global "
                "credit, and the agents' rows add up to it exactly.",
                {c: ",.0f" for c in wide.columns if c != "agent"},
            ),
            Text(
                "No row leaves an agent: message sizes do not grow with the rows held, and the "
                "coordinator sees only masked vectors whose sum is exact."
            ),
        ],
    )
