"""Report section for a geo experiment, judged against the simulator's true lift."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from mixlens.report import charts
from mixlens.report.html import Figure, Metrics, Section, Table


def experiment_section(
    summary: Mapping[str, Any],
    counterfactual: pd.DataFrame,
    *,
    true_incremental: float,
    placebos: pd.DataFrame | None = None,
) -> Section:
    """Estimates with intervals per method next to the true lift, and the counterfactual.

    Parameters
    ----------
    summary
        ``summary.json`` of ``mixlens experiment analyze`` (``methods``, ``recommendation``).
    counterfactual
        ``counterfactual.csv``: ``date, method, actual, counterfactual, window``.
    true_incremental
        The simulator's true incremental outcome in treated geos over the window.
    placebos
        ``placebos.csv``: ``method, placebo, relative_error`` (optional chart).
    """
    methods: Mapping[str, Mapping[str, Any]] = summary["methods"]
    recommended = str(summary["recommendation"]["method"])
    frame = pd.DataFrame(
        {
            "method": list(methods),
            "mean": [float(m["incremental_outcome"]) for m in methods.values()],
            "lo": [float(m["incremental_lo"]) for m in methods.values()],
            "hi": [float(m["incremental_hi"]) for m in methods.values()],
            "truth": true_incremental,
        }
    )
    table = frame.rename(columns={"mean": "estimate"}).drop(columns="truth")
    table["pre_period_mape"] = [float(m["pre_mape"]) for m in methods.values()]
    table["p_value"] = [float(m.get("p_value", float("nan"))) for m in methods.values()]
    best = frame.set_index("method").loc[recommended]
    series = counterfactual[counterfactual["method"] == recommended]
    level = float(summary.get("level", 0.9))
    extra: list[Figure] = []
    if placebos is not None and len(placebos):
        observed = {name: float(m["relative"]) for name, m in methods.items() if "relative" in m}
        extra.append(
            Figure(
                charts.placebo_distribution(
                    placebos, observed, title="Placebo gaps (no effect) vs this test's effect"
                ),
                "Where no media changed (earlier windows for DiD, sets of control geos for the "
                "synthetic control), the gap between actual and counterfactual is pure noise: "
                "its spread sets the interval, and a test effect far outside it is real.",
            )
        )
    return Section(
        key="experiment",
        title="Geo experiment",
        lead=(
            f"Media of the tested channel ({summary['channel']}) was switched off in "
            f"{len(summary['treated'])} geos from {summary['start']} to {summary['end']}. Three "
            "estimators measure what the media produced there; the simulator knows the truth."
        ),
        blocks=[
            Metrics(
                {
                    "true incremental outcome": f"{true_incremental:,.0f}",
                    f"recommended ({recommended})": f"{best['mean']:,.0f}",
                    f"{level:.0%} interval": f"{best['lo']:,.0f} to {best['hi']:,.0f}",
                }
            ),
            Figure(
                charts.counterfactual(
                    series, title=f"Treated geos vs counterfactual ({recommended})"
                ),
                "The gap inside the shaded window is the estimated effect of the holdout.",
            ),
            Figure(
                charts.interval_comparison(
                    frame,
                    label="method",
                    title="Incremental outcome by method vs truth",
                    ylabel="incremental outcome",
                    floor_at_zero=False,
                ),
                str(summary["recommendation"].get("reason", "")),
            ),
            *extra,
            Table(
                table,
                "Estimates feed lift_tests.csv, which calibrates the MMM and MTA.",
                {
                    "estimate": ",.0f",
                    "lo": ",.0f",
                    "hi": ",.0f",
                    "pre_period_mape": ".2%",
                    "p_value": ".3f",
                },
            ),
        ],
    )
