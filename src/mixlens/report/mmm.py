"""Report section for the Bayesian MMM, judged against the simulator's truth."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from mixlens.report import charts
from mixlens.report.html import Figure, Metrics, Section, Table, Text


def mmm_section(
    roi: pd.DataFrame, true_roi: pd.DataFrame, diagnostics: Mapping[str, Any], *, ci: float
) -> Section:
    """Estimated ROI with credible intervals next to the true ROI, and fit diagnostics.

    Parameters
    ----------
    roi
        ``roi.csv`` of ``mixlens mmm fit`` (for a geo fit, its ``all`` rows are shown).
    true_roi
        The simulator's ``channel, roi, mroi``.
    diagnostics
        ``summary.json["diagnostics"]`` of the fit (R-hat, ESS, divergences).
    ci
        Credible-interval mass of ``lo``/``hi`` (e.g. 0.9).
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
    table = roi[["channel", "spend", "roi_mean", "roi_lo", "roi_hi", *mroi_columns]].copy()
    table["true_roi"] = frame["truth"]
    table["true_mroi"] = roi["channel"].map(truth["mroi"])
    fmt = {c: ".2f" for c in ("roi_mean", "roi_lo", "roi_hi", *mroi_columns, "true_roi")}
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
                "Return on spend per channel: estimated (mean and interval) and true.",
                {"spend": ",.0f", **fmt, "true_mroi": ".2f"},
            ),
            Text(
                "Always-on channels such as paid search vary little from week to week, so the "
                "data carry little information about them and their intervals stay wide; "
                "lift tests (experiments) are the remedy, and calibration with them is on "
                "the MMM roadmap."
            ),
        ],
    )
