"""Report section for budget allocation, with the plan also judged on the true curves."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from mixlens.report import charts, charts_allocation
from mixlens.report.html import Block, Figure, Metrics, Section, Table, Text


def allocation_section(
    plan: pd.DataFrame,
    summary: Mapping[str, Any],
    *,
    true_current: float | None,
    true_recommended: float | None,
    curves: pd.DataFrame | None = None,
    pareto: pd.DataFrame | None = None,
    regret: pd.DataFrame | None = None,
    loop_summary: Mapping[str, Any] | None = None,
) -> Section:
    """Show current vs recommended spend and the expected gain under the model and the truth.

    Parameters
    ----------
    plan
        ``allocation.csv`` of ``mixlens allocate``.
    summary
        Its ``summary.json`` (``current_expected``, ``recommended_expected``,
        ``prob_better_than_current``, ``weeks``).
    true_current, true_recommended
        Outcome of each plan on the simulator's true response curves (``None`` if unknown).
    curves
        Optional ``curves.csv``: response curves with both plans marked.
    pareto
        Optional ``pareto.csv`` (outcome against spend).
    regret, loop_summary
        Optional ``regret.csv`` and ``summary.json`` of ``mixlens allocate simulate``.
    """
    current = float(summary["current_expected"]["mean"])
    recommended = float(summary["recommended_expected"]["mean"])
    metrics = {
        "model's expected gain": f"{recommended / current - 1:+.1%}",
        "P(better than current)": f"{float(summary['prob_better_than_current']):.0%}",
    }
    if true_current is not None and true_recommended is not None:
        metrics["true gain (simulator)"] = f"{true_recommended / true_current - 1:+.1%}"
    spend = plan[["channel", "current_spend", "recommended_spend"]].rename(
        columns={"current_spend": "current", "recommended_spend": "recommended"}
    )
    blocks: list[Block] = [
        Metrics(metrics),
        Figure(
            charts.bar_comparison(
                spend,
                label="channel",
                series=["current", "recommended"],
                title="Spend per channel: current vs recommended",
                ylabel="spend",
            ),
            "Current spend is the last weeks' split; the plan keeps each channel's flighting.",
        ),
        Table(
            plan,
            "Expected contribution of the recommended plan per channel, with intervals.",
            {c: ",.0f" for c in plan.columns if c != "channel"},
        ),
    ]
    mroi = summary.get("marginal_roi")
    if isinstance(mroi, Mapping) and mroi:
        frame = pd.DataFrame(
            [
                {"channel": name, "current": v["current"], "recommended": v["recommended"]}
                for name, v in mroi.items()
            ]
        )
        blocks.append(
            Table(
                frame,
                "Marginal ROI (outcome per extra currency unit, posterior mean) at each plan: "
                "an optimal fixed-budget plan equalises it across unconstrained channels.",
                {"current": ".3f", "recommended": ".3f"},
            )
        )
    if curves is not None:
        blocks.append(
            Figure(
                charts_allocation.response_curves(curves, plan),
                "Each channel's response over the horizon (others at the recommended plan), "
                "with its posterior interval; circle: current spend, star: recommended.",
            )
        )
    if pareto is not None and len(pareto) > 1:
        blocks.append(
            Figure(
                charts_allocation.pareto_front(pareto),
                "Best expected outcome at each total spend (epsilon-constraint front); each "
                "point is a full plan in pareto.csv.",
            )
        )
    if regret is not None:
        blocks.extend(_loop_blocks(regret, loop_summary or {}))
    blocks.append(
        Text(
            "A recommendation is only as good as the model behind it: where the MMM "
            "misjudges a channel (see its ROI intervals above), the true gain can fall short "
            "of the expected one. Lift tests that calibrate the MMM close that gap."
        )
    )
    return Section(
        key="allocation",
        title="Budget allocation",
        lead=(
            f"The same budget for the next {int(summary['weeks'])} weeks, re-split across "
            "channels to maximise the MMM's expected contribution (posterior draws, carryover "
            "from past spend included). The simulator then scores both plans on the true curves."
        ),
        blocks=blocks,
    )


def _quarterly_regret(regret: pd.DataFrame, weeks: int = 13) -> pd.DataFrame:
    """Regret added per block of ``weeks`` weeks per policy (rows: blocks)."""
    wide = regret.pivot(index="week", columns="policy", values="cumulative_regret")
    wide = wide[[p for p in dict.fromkeys(regret["policy"]) if p != "oracle"]]
    ends = [w for w in wide.index if w % weeks == 0 or w == wide.index.max()]
    table = wide.loc[ends].diff().fillna(wide.loc[ends].iloc[:1])
    starts = [1, *(e + 1 for e in ends[:-1])]
    table.index = [f"weeks {a}-{b}" for a, b in zip(starts, ends, strict=True)]
    table.columns.name = None
    return table.reset_index(names="weeks")


def _loop_blocks(regret: pd.DataFrame, loop_summary: Mapping[str, Any]) -> list[Block]:
    meta = loop_summary.get("meta", {})
    shift = meta.get("shift", {})
    learner = meta.get("learner", {})
    found = meta.get("changes_detected", {})
    detected = ", ".join(f"{p}: week {', '.join(map(str, w)) or 'none'}" for p, w in found.items())
    table = _quarterly_regret(regret)
    return [
        Figure(
            charts_allocation.regret_curves(regret, shift_week=shift.get("week")),
            "Closed loop in the simulator's world: each week a policy allocates, observes a "
            "noisy outcome and updates its posterior over each channel's response scale (one "
            "sequential Bayesian step; a CUSUM on its prediction errors flags a change and "
            "branches the posterior over which channel jumped). Thompson sampling plans on a "
            f"posterior draw (spread {learner.get('explore', 1.0):g}); the directed policy runs an "
            "in-market test around the greedy plan only in weeks where what it teaches, over "
            "the weeks left, is worth more than it costs; adaptive plans move at "
            f"most {learner.get('step') or 'unlimited'} per channel a week. At the dashed line "
            f"{shift.get('channel', 'a channel')}'s response changes"
            + (f"; changes detected ({detected})." if detected else "."),
        ),
        Table(
            table,
            "Regret added per quarter (currency): shrinking increments within a regime mean "
            "the policy is learning; static keeps its week-0 plan.",
            {c: ",.0f" for c in table.columns if c != "weeks"},
        ),
    ]
