"""Allocation report section: old call unchanged, new inputs add their charts."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mixlens.allocation import SeparableCurves, optimize_budget
from mixlens.allocation.pareto import pareto_spend
from mixlens.allocation.run import response_curves
from mixlens.report.allocation import allocation_section
from mixlens.report.html import Figure, Table, render_report

CURVES = SeparableCurves(("tv", "search", "video"), beta=[400.0, 150.0, 80.0], half=[100, 30, 40])
CURRENT = np.array([100.0, 100.0, 100.0])


def _inputs() -> tuple[pd.DataFrame, dict[str, object]]:
    result = optimize_budget(CURVES, budget=300.0, current=CURRENT)
    summary = {**result.summary(), "weeks": 13}
    summary["marginal_roi"] = {c: {"current": 1.0, "recommended": 0.5} for c in result.channels}
    return result.to_frame(), summary


def test_backward_compatible_call() -> None:
    plan, summary = _inputs()
    section = allocation_section(plan, summary, true_current=None, true_recommended=None)
    assert sum(isinstance(b, Figure) for b in section.blocks) == 1
    assert sum(isinstance(b, Table) for b in section.blocks) == 2  # plan + marginal ROI


def test_curves_pareto_and_regret_are_drawn() -> None:
    plan, summary = _inputs()
    result = optimize_budget(CURVES, budget=300.0, current=CURRENT)
    curves = response_curves(CURVES, CURRENT, result.recommended)
    front = pareto_spend(CURVES, cap=600.0, points=5, current=CURRENT).to_frame()
    regret = pd.DataFrame(
        {
            "week": [1, 2, 1, 2],
            "policy": ["static", "static", "oracle", "oracle"],
            "cumulative_regret": [5.0, 9.0, 0.0, 0.0],
        }
    )
    loop = {"meta": {"shift": {"week": 2, "channel": "tv"}}}
    section = allocation_section(
        plan, summary, true_current=1.0, true_recommended=1.1, curves=curves, pareto=front,
        regret=regret, loop_summary=loop,
    )  # fmt: skip
    figures = [b for b in section.blocks if isinstance(b, Figure)]
    assert len(figures) == 4
    assert all(f.svg.startswith("<svg") for f in figures)
    html = render_report([section])
    assert html.count("<svg") == 4
    assert "true gain (simulator)" in html


def test_regret_is_tabulated_per_quarter() -> None:
    plan, summary = _inputs()
    weeks = np.arange(1, 27)
    regret = pd.DataFrame(
        {
            "week": np.concatenate([weeks, weeks]),
            "policy": ["thompson"] * 26 + ["oracle"] * 26,
            "cumulative_regret": np.concatenate([10.0 * weeks, np.zeros(26)]),
        }
    )
    loop = {
        "meta": {
            "shift": {"week": 14, "channel": "tv"},
            "learner": {"explore": 0.5, "step": 0.25},
            "changes_detected": {"thompson": [15]},
        }
    }
    section = allocation_section(
        plan, summary, true_current=None, true_recommended=None, regret=regret, loop_summary=loop
    )
    table = [b for b in section.blocks if isinstance(b, Table)][-1]
    assert table.frame["weeks"].tolist() == ["weeks 1-13", "weeks 14-26"]
    assert table.frame["thompson"].tolist() == [130.0, 130.0]
    assert "oracle" not in table.frame.columns
    figure = [b for b in section.blocks if isinstance(b, Figure)][-1]
    assert "thompson: week 15" in figure.caption
