"""Report section for the multi-agent market: comparison table and learning curves."""

from __future__ import annotations

import pandas as pd

from mixlens.report import charts_market
from mixlens.report.html import Block, Figure, Metrics, Section, Table, Text

__all__ = ["market_section"]


def market_section(evaluation: pd.DataFrame, curves: pd.DataFrame | None = None) -> Section:
    """Compare learned policies with static, optimiser and oracle; show learning curves.

    Parameters
    ----------
    evaluation
        ``evaluation.csv`` of ``mixlens market evaluate`` (``policy, profit_mean,
        profit_lo, profit_hi, roi_mean``, optional ``roi_lo, roi_hi``; rows ``static``,
        ``optimiser``, ``oracle`` and one or more starting with ``learned``).
    curves
        Optional ``curve.csv`` (``episodes, profit``, optional ``learner``).

    Examples
    --------
    >>> ev = pd.DataFrame({"policy": ["static", "optimiser", "oracle", "learned"],
    ...                    "profit_mean": [50.0, 52.0, 60.0, 55.0],
    ...                    "profit_lo": [45.0, 47.0, 55.0, 50.0],
    ...                    "profit_hi": [55.0, 57.0, 65.0, 60.0],
    ...                    "roi_mean": [3.0, 3.1, 3.3, 3.2]})
    >>> market_section(ev).key
    'market'
    """
    profit = {
        str(p): float(v)
        for p, v in zip(evaluation["policy"], evaluation["profit_mean"], strict=True)
    }
    learned = [p for p in profit if p.startswith("learned")]
    best_learned = max(learned, key=profit.__getitem__, default=None)
    metrics: dict[str, str] = {}
    verdict = ""
    if best_learned is not None:
        mine = profit[best_learned]
        if "static" in profit:
            metrics["best learned vs static"] = f"{mine / profit['static'] - 1:+.1%}"
        if "optimiser" in profit:
            opt = profit["optimiser"]
            metrics["best learned vs optimiser"] = f"{mine / opt - 1:+.1%}"
            verdict = (
                "The budget optimiser beats the learned policies on these seeds."
                if opt > mine
                else f"The learned policy ({best_learned}) beats the budget optimiser here."
            )
        if "oracle" in profit:
            metrics["share of oracle profit"] = f"{mine / profit['oracle']:.0%}"
    columns = ["policy", "profit_mean", "profit_lo", "profit_hi", "roi_mean"]
    columns += [c for c in ("roi_lo", "roi_hi") if c in evaluation.columns]
    blocks: list[Block] = [
        Metrics(metrics),
        Figure(charts_market.policy_profits(evaluation), caption="Same held-out seeds for all."),
        Table(
            evaluation[columns],
            caption="Cumulative profit over the episode and ROI: mean and 95% interval over "
            "seeds; ROI is incremental revenue (same seed without ads) over spend.",
            formats={
                "profit_mean": ",.0f",
                "profit_lo": ",.0f",
                "profit_hi": ",.0f",
                "roi_mean": ".2f",
                "roi_lo": ".2f",
                "roi_hi": ".2f",
            },
        ),
    ]
    if curves is not None and len(curves):
        blocks.append(
            Figure(
                charts_market.learning_curves(curves, references=evaluation),
                caption="Mean profit of the training episodes (with exploration noise) per "
                "update; lines: baselines on the held-out seeds.",
            )
        )
    if verdict:
        blocks.append(Text(verdict))
    return Section(
        key="market",
        title="Multi-agent market",
        lead="A portfolio agent splits the budget; channel agents bid in second-price "
        "auctions against scripted competitors. Learned policies against the historical "
        "split, the budget optimiser and an oracle that simulates the true market.",
        blocks=blocks,
    )
