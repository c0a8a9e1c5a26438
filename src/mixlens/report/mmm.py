"""Report section for the Bayesian MMM, judged against the simulator's truth."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from mixlens.report import charts
from mixlens.report.html import Figure, Metrics, Section, Table, Text


def mmm_section(
    roi: pd.DataFrame,
    true_roi: pd.DataFrame,
    diagnostics: Mapping[str, Any],
    *,
    ci: float,
    plan: pd.DataFrame | None = None,
) -> Section:
    """Estimated ROI with credible intervals next to the true ROI, and fit diagnostics.

    Parameters
    ----------
    roi
        ``roi.csv`` of ``mixlens mmm fit`` (for a geo fit, its ``all`` rows are shown).
        Where it has the identification columns (``contraction``, ``identification``),
        the table shows them and the text names the channels that are mostly prior.
    true_roi
        The simulator's ``channel, roi, mroi``.
    diagnostics
        ``summary.json["diagnostics"]`` of the fit (R-hat, ESS, divergences).
    ci
        Credible-interval mass of ``lo``/``hi`` (e.g. 0.9).
    plan
        ``lift_test_plan.csv`` of the fit, shown as a table when given.
    """
    truth = true_roi.set_index("channel")
    if "geo" in roi.columns:
        roi = roi[roi["geo"] == "all"].reset_index(drop=True)
    frame = pd.DataFrame(
        {
            "channel": roi["channel"],
            "mean": roi["roi_mean"],
            "lo": roi["roi_lo"],
            "hi": roi["roi_hi"],
            "truth": roi["channel"].map(truth["roi"]),
        }
    )
    covered = int(((frame["lo"] <= frame["truth"]) & (frame["truth"] <= frame["hi"])).sum())
    weights = roi["spend"] / roi["spend"].sum()
    weighted_error = float((weights * (frame["mean"] - frame["truth"]).abs()).sum())
    mroi_columns = [c for c in ("mroi_mean", "mroi_lo", "mroi_hi") if c in roi.columns]
    ident_columns = [c for c in ("contraction", "identification") if c in roi.columns]
    table = roi[["channel", "spend", "roi_mean", "roi_lo", "roi_hi", *mroi_columns]].copy()
    table["true_roi"] = frame["truth"]
    table["true_mroi"] = roi["channel"].map(truth["mroi"])
    for column in ident_columns:
        table[column] = roi[column]
    fmt = {c: ".2f" for c in ("roi_mean", "roi_lo", "roi_hi", *mroi_columns, "true_roi")}
    fmt["contraction"] = ".2f"
    return Section(
        key="mmm",
        title="Marketing mix model",
        lead=(
            "A Bayesian weekly MMM (delayed adstock, Hill saturation, trend, seasonality, "
            "holidays, price and promotion) fitted to the simulated panel, without seeing the "
            "truth. Intervals are "
            f"{ci:.0%} credible intervals."
        ),
        blocks=[
            Metrics(
                {
                    "channels covered": f"{covered} of {len(frame)}",
                    "spend-weighted ROI error": f"{weighted_error:.2f}",
                    "max R-hat": f"{float(diagnostics.get('max_rhat', float('nan'))):.3f}",
                    "divergences": f"{int(diagnostics.get('divergences', 0))}",
                    **_prior_card(roi),
                }
            ),
            Figure(
                charts.interval_comparison(
                    frame, label="channel", title="ROI: estimate vs truth", ylabel="ROI"
                ),
                "Where the orange diamond falls outside the blue bar, the model missed.",
            ),
            Table(
                table,
                "Return on spend per channel: estimated (mean and interval) and true"
                + (
                    "; contraction is the share of the ROI prior's variance the data removed."
                    if ident_columns
                    else "."
                ),
                {"spend": ",.0f", **fmt, "true_mroi": ".2f"},
            ),
            Text(identification_text(roi)),
            *_plan_blocks(plan),
        ],
    )


def _prior_card(roi: pd.DataFrame) -> dict[str, str]:
    """Return the headline card of channels whose ROI is mostly prior (none without them)."""
    if "identification" not in roi.columns:
        return {}
    return {
        "ROI mostly prior": f"{int((roi['identification'] == 'mostly prior').sum())} of {len(roi)}"
    }


def identification_text(roi: pd.DataFrame) -> str:
    """One paragraph on which channels the data identify, from ``roi.csv``'s columns.

    Examples
    --------
    >>> frame = pd.DataFrame({"channel": ["tv", "search"], "contraction": [0.99, 0.3],
    ...                       "identification": ["data-driven", "mostly prior"]})
    >>> identification_text(frame).split(".")[0]
    "Mostly prior: search (the data removed 30% of its ROI prior's variance)"
    """
    if "identification" not in roi.columns:
        return (
            "Always-on channels such as paid search vary little from week to week, so the "
            "data carry little information about them and their intervals stay wide; lift "
            "tests (experiments, `mixlens mmm fit --lift-tests`) are the remedy."
        )
    parts = []
    for label, lead in (
        ("mostly prior", "Mostly prior"),
        ("weakly identified", "Weakly identified"),
    ):
        rows = roi[roi["identification"] == label]
        if len(rows):
            names = ", ".join(
                f"{r.channel} (the data removed {r.contraction:.0%} of its ROI prior's variance)"
                for r in rows.itertuples()
            )
            parts.append(f"{lead}: {names}")
    if not parts:
        return "The data identify every channel's ROI: each removed most of its prior's variance."
    return (
        "; ".join(parts)
        + ". Their estimates lean on the ROI prior more than on the data (typically "
        "always-on channels whose level the data cannot tell from the baseline): read "
        "their intervals, not their means, and calibrate them with lift tests."
    )


def _plan_blocks(plan: pd.DataFrame | None) -> list[Table | Text]:
    """Return the lift-test plan as a table (nothing without a plan)."""
    if plan is None or plan.empty:
        return []
    table = pd.DataFrame(
        {
            "rank": plan["rank"],
            "channel": plan["channel"],
            "window": plan["start"].astype(str) + " .. " + plan["end"].astype(str),
            "expected lift / se": plan["lift_to_se"],
            "sd log ROI now": plan["log_roi_sd"],
            "after": plan["log_roi_sd_after"],
            "gain": plan["gain"],
        }
    )
    if "geo" in plan.columns:  # a geo holdout: the geos switched off
        table.insert(2, "geos", plan["geo"])
    return [
        Table(
            table,
            "Lift-test plan: each channel switched off for 8 weeks where it spent most in the "
            "last year, ranked by how much the test would cut the spend-weighted uncertainty "
            "of ROI (sd of log ROI, i.e. relative) after the tests above it. A test whose "
            "expected lift is under about twice its standard error teaches little.",
            {
                "expected lift / se": ".1f",
                "sd log ROI now": ".2f",
                "after": ".2f",
                "gain": ".3f",
            },
        )
    ]
