"""Report section for the Bayesian MMM: fit, decomposition, ROI, response curves, diagnostics.

:func:`mmm_section` builds the section from the tables of a ``mixlens mmm fit`` folder
(judged against the simulator's truth where it is given); :mod:`mixlens.report.mmm_run`
reads and checks such a folder (``mixlens mmm report``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mixlens.data.schemas import ALL_GEOS
from mixlens.mmm.thresholds import (
    COVERAGE_SLACK,
    ESS_MIN,
    ESS_MIN_PER_CHAIN,
    EXTREME_P,
    RHAT_MAX,
)
from mixlens.report import charts, charts_mmm
from mixlens.report.html import Block, Figure, Metrics, Section, Table, Text
from mixlens.report.mmm_transforms import transform_blocks, transform_words

if TYPE_CHECKING:
    from mixlens.mmm.spec import MMMSpec

__all__ = [
    "P_VALUE_RANGE",
    "diagnostics_table",
    "identification_text",
    "mmm_section",
]

#: A posterior predictive p-value outside this range says the model misses that statistic.
P_VALUE_RANGE = (EXTREME_P, 1.0 - EXTREME_P)


def mmm_section(
    roi: pd.DataFrame,
    true_roi: pd.DataFrame | None,
    diagnostics: Mapping[str, Any],
    *,
    ci: float,
    plan: pd.DataFrame | None = None,
    fit: pd.DataFrame | None = None,
    contributions: pd.DataFrame | None = None,
    curves: pd.DataFrame | None = None,
    fit_summary: Mapping[str, Any] | None = None,
    true_contributions: pd.DataFrame | None = None,
    spec: MMMSpec | None = None,
    params: pd.DataFrame | None = None,
) -> Section:
    """Build the MMM section: fit, decomposition, ROI with intervals, curves, diagnostics.

    Every table may come from a geo fit (a ``geo`` column): its ``all`` rows are shown.

    Parameters
    ----------
    roi
        ``roi.csv`` of ``mixlens mmm fit``. Where it has the identification columns
        (``contraction``, ``identification``), the table shows them and the text names the
        channels that are mostly prior.
    true_roi
        The simulator's ``channel, roi, mroi``; None for a user's own data (no truth
        columns or markers, and the text says there is no truth).
    diagnostics
        ``summary.json["diagnostics"]`` of the fit (sampler, sizes, R-hat, ESS, divergences).
    ci
        Credible-interval mass of ``lo``/``hi`` (e.g. 0.9).
    plan
        ``lift_test_plan.csv`` of the fit, shown as a table when given.
    fit
        ``fit.csv``: ``date, actual, mean, lo, hi``, the in-sample fit, drawn as actual
        against the posterior mean and predictive band.
    contributions
        ``contributions.csv``: ``date, component, mean, lo, hi``, drawn as the estimated
        decomposition (components that are not channels grouped as ``base``).
    curves
        ``response_curves.csv``: ``channel, spend, mean, lo, hi`` (steady-state weekly
        contribution at a constant weekly spend), drawn per channel with a marker at its
        mean weekly spend over the fitted weeks (``roi.csv`` spend over the weeks of
        ``contributions`` or ``fit``).
    fit_summary
        ``summary.json["fit"]``: ``r2, mape, coverage, ci, p_values, warnings`` of the
        in-sample fit, in the chart's caption and the diagnostics table.
    true_contributions
        The simulator's weekly truth ``date, [geo], component, contribution``: with
        ``contributions``, each channel's estimated weekly contribution is drawn against it.
    spec
        The fit's spec (``spec.json``): the lead names its adstock and saturation (generic
        words without it).
    params
        ``params.csv``: ``channel, parameter, mean, lo, hi`` (and ``geo``); with ``spec``,
        a table of each channel's carryover and saturation and their fitted parameters
        (:func:`mixlens.report.mmm_transforms.transforms_table`).
    """
    if "geo" in roi.columns:
        roi = _all_rows(roi)
    fit = None if fit is None else _all_rows(fit)
    contributions = None if contributions is None else _all_rows(contributions)
    curves = None if curves is None else _all_rows(curves)
    channels = [str(c) for c in roi["channel"]]
    weeks = _weeks(contributions, fit)
    frame = pd.DataFrame(
        {
            "channel": roi["channel"],
            "mean": roi["roi_mean"],
            "lo": roi["roi_lo"],
            "hi": roi["roi_hi"],
        }
    )
    mroi_columns = [c for c in ("mroi_mean", "mroi_lo", "mroi_hi") if c in roi.columns]
    ident_columns = [c for c in ("contraction", "identification") if c in roi.columns]
    table = roi[["channel", "spend", "roi_mean", "roi_lo", "roi_hi", *mroi_columns]].copy()
    cards: dict[str, str] = {}
    if true_roi is not None:
        truth = true_roi.set_index("channel")
        frame["truth"] = roi["channel"].map(truth["roi"])
        covered = int(((frame["lo"] <= frame["truth"]) & (frame["truth"] <= frame["hi"])).sum())
        weights = roi["spend"] / roi["spend"].sum()
        weighted_error = float((weights * (frame["mean"] - frame["truth"]).abs()).sum())
        cards["channels covered"] = f"{covered} of {len(frame)}"
        cards["spend-weighted ROI error"] = f"{weighted_error:.2f}"
        table["true_roi"] = frame["truth"]
        table["true_mroi"] = roi["channel"].map(truth["mroi"])
    else:
        cards.update(_media_cards(roi, contributions, channels))
    for column in ident_columns:
        table[column] = roi[column]
    fmt = {c: ".2f" for c in ("roi_mean", "roi_lo", "roi_hi", *mroi_columns, "true_roi")}
    fmt["contraction"] = ".2f"
    if fit_summary is not None and _number(fit_summary, "r2") == _number(fit_summary, "r2"):
        cards["in-sample R²"] = f"{_number(fit_summary, 'r2'):.2f}"
    cards["max R-hat"] = _fixed(_number(diagnostics, "max_rhat"), ".3f")
    cards["divergences"] = _count(diagnostics.get("divergences"))
    cards.update(_prior_card(roi))
    blocks: list[Block] = [Metrics(cards)]
    blocks += _fit_blocks(fit, fit_summary, ci)
    blocks += _decomposition_blocks(contributions, fit, channels, true_contributions, ci)
    blocks += [
        Figure(
            charts.interval_comparison(
                frame,
                label="channel",
                title="ROI: estimate vs truth" if true_roi is not None else "ROI per channel",
                ylabel="ROI",
            ),
            "Where the orange diamond falls outside the blue bar, the model missed."
            if true_roi is not None
            else f"Posterior mean and {ci:.0%} credible interval of each channel's return on "
            "spend (contribution over spend in the fitted weeks).",
        ),
        Table(
            table,
            "Return on spend per channel: estimated (mean and interval)"
            + (" and true" if true_roi is not None else "")
            + (
                "; contraction is the share of the ROI prior's variance the data removed."
                if ident_columns
                else "."
            ),
            {"spend": ",.0f", **fmt, "true_mroi": ".2f"},
        ),
    ]
    blocks += _curve_blocks(curves, roi, weeks, ci)
    transforms = transform_blocks(spec, params, ci)
    blocks += transforms
    blocks.append(Text(identification_text(roi)))
    blocks += _diagnostics_blocks(diagnostics, fit_summary)
    blocks += _plan_blocks(plan)
    lead = _lead(true_roi, ci, transform_words(spec))
    if transforms:
        lead += (
            " The carryover and saturation table below gives each channel's adstock and "
            "saturation with their fitted parameters."
        )
    return Section(key="mmm", title="Marketing mix model", lead=lead, blocks=blocks)


def _lead(true_roi: pd.DataFrame | None, ci: float, transforms: str) -> str:
    """Return the section's lead; ``transforms`` names the adstock and saturation."""
    if true_roi is not None:
        return (
            f"A Bayesian weekly MMM ({transforms}, trend, seasonality, holidays, price and "
            "promotion) fitted to the simulated panel, without seeing the truth. Intervals "
            f"are {ci:.0%} credible intervals."
        )
    return (
        f"A Bayesian weekly MMM ({transforms}, a baseline with trend and seasonality, and "
        "the panel's controls) fitted to this panel. There is no truth to judge it "
        "against here: read the fit to the actual weeks, the width of the intervals and the "
        f"diagnostics. Intervals are {ci:.0%} credible intervals."
    )


def _all_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Return a geo table's ``all`` rows without the ``geo`` column (others as they are)."""
    if "geo" not in frame.columns:
        return frame.reset_index(drop=True)
    keep = frame["geo"].astype(str) == ALL_GEOS
    return frame[keep.to_numpy()].drop(columns="geo").reset_index(drop=True)


def _weeks(contributions: pd.DataFrame | None, fit: pd.DataFrame | None) -> int | None:
    """Fitted weeks, from the decomposition's dates (or the fit's); None without either."""
    for frame in (contributions, fit):
        if frame is not None and len(frame):
            return int(frame["date"].nunique())
    return None


def _number(values: Mapping[str, Any], key: str) -> float:
    """``values[key]`` as a float; NaN where it is absent, None or not a number."""
    value = values.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        return float("nan")
    return float(value)


def _fixed(value: float, spec: str) -> str:
    return format(value, spec) if math.isfinite(value) else "n/a"


def _count(value: Any) -> str:
    """Format a count from the diagnostics; n/a where the method has none (-1 or absent)."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        return "n/a"
    return f"{int(value)}" if value >= 0 else "n/a"


def _media_cards(
    roi: pd.DataFrame, contributions: pd.DataFrame | None, channels: Sequence[str]
) -> dict[str, str]:
    """Headline cards without truth: blended media ROI and the media share of the outcome."""
    cards: dict[str, str] = {}
    if "contribution_mean" in roi.columns and float(roi["spend"].sum()) > 0:
        blended = float(roi["contribution_mean"].sum()) / float(roi["spend"].sum())
        cards["blended media ROI"] = f"{blended:.2f}"
    if contributions is not None and len(contributions):
        total = float(contributions["mean"].sum())
        media = float(contributions.loc[contributions["component"].isin(channels), "mean"].sum())
        if total > 0:
            cards["media share of outcome"] = f"{media / total:.1%}"
    return cards


def _fit_blocks(
    fit: pd.DataFrame | None, fit_summary: Mapping[str, Any] | None, ci: float
) -> list[Block]:
    """Actual against the posterior mean and predictive band (nothing without ``fit.csv``)."""
    if fit is None or fit.empty:
        return []
    band = _number(fit_summary, "ci") if fit_summary is not None else float("nan")
    band = band if math.isfinite(band) else ci
    caption = (
        f"Actual outcome per week (black) against the model's posterior mean (blue) and its "
        f"{band:.0%} posterior predictive band, over the fitted weeks."
    )
    if fit_summary is not None:
        parts = []
        r2, mape = _number(fit_summary, "r2"), _number(fit_summary, "mape")
        coverage = _number(fit_summary, "coverage")
        if math.isfinite(r2):
            parts.append(f"R² {r2:.2f}")
        if math.isfinite(mape):
            parts.append(f"MAPE {mape:.1%}")
        if math.isfinite(coverage):
            parts.append(f"{coverage:.0%} of weeks inside the band (nominal {band:.0%})")
        if parts:
            caption += " In sample: " + ", ".join(parts) + "."
    chart = charts_mmm.fit_vs_actual(
        fit, title="Fit: actual vs model", band_label=f"{band:.0%} predictive band"
    )
    return [Figure(chart, caption)]


def _decomposition_blocks(
    contributions: pd.DataFrame | None,
    fit: pd.DataFrame | None,
    channels: Sequence[str],
    true_contributions: pd.DataFrame | None,
    ci: float,
) -> list[Block]:
    """Return the estimated decomposition, and each channel against the truth if given."""
    if contributions is None or contributions.empty:
        return []
    grouped = contributions.assign(
        component=contributions["component"].where(
            contributions["component"].isin(channels), "base"
        ),
        contribution=contributions["mean"],
    )
    weekly = grouped.groupby(["date", "component"], sort=False)["contribution"].sum().reset_index()
    outcome = None if fit is None or fit.empty else fit.set_index("date")["actual"]
    chart = charts.decomposition(
        weekly,
        title="Estimated weekly decomposition (posterior mean)",
        base="base",
        outcome=outcome,
        outcome_label=None if outcome is None else "actual",
    )
    caption = (
        "Grey is the base (intercept, trend, seasonality, holidays and controls together); "
        "each coloured band is a channel's estimated contribution."
        + (" The black line is the actual outcome." if outcome is not None else "")
    )
    blocks: list[Block] = [Figure(chart, caption)]
    if true_contributions is not None:
        estimate = contributions[contributions["component"].isin(channels)].rename(
            columns={"component": "channel"}
        )
        estimate = estimate.assign(date=pd.to_datetime(estimate["date"]))
        truth = (
            true_contributions.assign(date=pd.to_datetime(true_contributions["date"]))
            .groupby(["date", "component"], sort=False)["contribution"]
            .sum()
            .reset_index()
            .rename(columns={"component": "channel", "contribution": "truth"})
        )
        panels = estimate.merge(truth, on=["date", "channel"], how="left")
        blocks.append(
            Figure(
                charts_mmm.channel_contributions(
                    panels[["date", "channel", "mean", "lo", "hi", "truth"]],
                    title="Weekly contribution per channel: estimate vs truth",
                ),
                f"Each channel's estimated weekly contribution (line and {ci:.0%} band) against "
                "the simulator's truth (dashed): the shape says whether adstock and saturation "
                "were recovered, the level whether the ROI was.",
            )
        )
    return blocks


def _curve_blocks(
    curves: pd.DataFrame | None, roi: pd.DataFrame, weeks: int | None, ci: float
) -> list[Block]:
    """Response curves per channel, marked at the mean weekly spend (nothing without curves)."""
    if curves is None or curves.empty:
        return []
    markers: dict[str, float] = {}
    if weeks:
        markers = {
            str(c): float(s) / weeks for c, s in zip(roi["channel"], roi["spend"], strict=True)
        }
    caption = (
        "Expected weekly contribution of each channel at a constant weekly spend, once "
        f"adstock has built up (posterior mean and {ci:.0%} band)."
        + (
            " The dot marks the channel's mean weekly spend over the fitted weeks."
            if markers
            else ""
        )
        + " Where a curve flattens, more spend buys little."
    )
    chart = charts_mmm.response_curves(
        curves, title="Response curves: weekly spend to weekly contribution", markers=markers
    )
    return [Figure(chart, caption)]


def diagnostics_table(
    diagnostics: Mapping[str, Any], fit_summary: Mapping[str, Any] | None = None
) -> pd.DataFrame:
    """Tabulate the fit's diagnostics, a plain-words verdict per row (ok, look or n/a).

    Thresholds: R-hat at most :data:`RHAT_MAX`; bulk ESS at least :data:`ESS_MIN` or
    :data:`ESS_MIN_PER_CHAIN` per chain, whichever is less; no divergences; posterior
    predictive p-values inside :data:`P_VALUE_RANGE`; at least ``ci -``
    :data:`COVERAGE_SLACK` of the fitted weeks inside the ``ci`` predictive band (the fit's
    own checks warn at the same limits). R² and MAPE have no usual threshold (n/a). An ADVI
    fit has no sampler diagnostics (n/a) and its method row says ``look``.

    Parameters
    ----------
    diagnostics
        ``summary.json["diagnostics"]``.
    fit_summary
        ``summary.json["fit"]`` (``r2, mape, coverage, ci, p_values``), if the fit has one.

    Returns
    -------
    pandas.DataFrame
        ``check, value, threshold, verdict``.

    Examples
    --------
    >>> table = diagnostics_table({"method": "nuts", "sampler": "nutpie", "chains": 4,
    ...     "draws": 1000, "max_rhat": 1.02, "min_ess_bulk": 900.0, "divergences": 0})
    >>> table.set_index("check")["verdict"].to_dict()["max R-hat"]
    'look'
    """
    rows: list[tuple[str, str, str, str]] = []
    method = str(diagnostics.get("method", ""))
    sampler = str(diagnostics.get("sampler", ""))
    if method or sampler:
        advi = method == "advi"
        rows.append(
            (
                "method",
                f"{method} ({sampler})" if method and sampler else method or sampler,
                "NUTS for decisions",
                "look" if advi else "ok",
            )
        )
    chains, draws = _number(diagnostics, "chains"), _number(diagnostics, "draws")
    if math.isfinite(chains) and math.isfinite(draws):
        rows.append(("chains x draws", f"{int(chains)} x {int(draws)}", "", "n/a"))
    rhat = _number(diagnostics, "max_rhat")
    if "max_rhat" in diagnostics:
        rows.append(
            (
                "max R-hat",
                _fixed(rhat, ".3f"),
                f"<= {RHAT_MAX}",
                _verdict(rhat, lambda v: v <= RHAT_MAX),
            )
        )
    if "min_ess_bulk" in diagnostics:
        ess = _number(diagnostics, "min_ess_bulk")
        need = min(ESS_MIN, ESS_MIN_PER_CHAIN * int(chains)) if math.isfinite(chains) else ESS_MIN
        rows.append(
            ("min bulk ESS", _fixed(ess, ",.0f"), f">= {need}", _verdict(ess, lambda v: v >= need))
        )
    if "divergences" in diagnostics:
        raw = _number(diagnostics, "divergences")
        divergences = raw if math.isfinite(raw) and raw >= 0 else float("nan")
        rows.append(
            (
                "divergences",
                _count(diagnostics.get("divergences")),
                "0",
                _verdict(divergences, lambda v: v == 0),
            )
        )
    if fit_summary is not None:
        rows += _fit_rows(fit_summary)
    return pd.DataFrame(rows, columns=["check", "value", "threshold", "verdict"])


def _verdict(value: float, good: Any) -> str:
    if not math.isfinite(value):
        return "n/a"
    return "ok" if good(value) else "look"


def _fit_rows(fit_summary: Mapping[str, Any]) -> list[tuple[str, str, str, str]]:
    """Rows of the in-sample fit: R², MAPE, coverage of the band, predictive p-values."""
    rows: list[tuple[str, str, str, str]] = []
    r2, mape = _number(fit_summary, "r2"), _number(fit_summary, "mape")
    rows.append(("in-sample R²", _fixed(r2, ".3f"), "", "n/a"))
    rows.append(("in-sample MAPE", _fixed(mape, ".1%"), "", "n/a"))
    coverage, mass = _number(fit_summary, "coverage"), _number(fit_summary, "ci")
    if math.isfinite(coverage):
        if math.isfinite(mass):
            threshold = f">= {mass - COVERAGE_SLACK:.0%}"
            verdict = _verdict(coverage, lambda v: v >= mass - COVERAGE_SLACK)
        else:
            threshold, verdict = "", "n/a"
        rows.append(("weeks inside the predictive band", f"{coverage:.0%}", threshold, verdict))
    p_values = fit_summary.get("p_values") or {}
    low, high = P_VALUE_RANGE
    for statistic, raw in p_values.items():
        p = float(raw) if isinstance(raw, int | float) and not isinstance(raw, bool) else math.nan
        rows.append(
            (
                f"predictive p-value: {statistic}",
                _fixed(p, ".2f"),
                f"{low} to {high}",
                _verdict(p, lambda v: low <= v <= high),
            )
        )
    return rows


def _diagnostics_blocks(
    diagnostics: Mapping[str, Any], fit_summary: Mapping[str, Any] | None
) -> list[Block]:
    """Return the diagnostics table and the fit's warnings."""
    table = diagnostics_table(diagnostics, fit_summary)
    looks = table.loc[table["verdict"] == "look", "check"].tolist()
    blocks: list[Block] = [
        Table(
            table,
            "Diagnostics: 'ok' passes the usual threshold, 'look' does not (read the "
            "estimates with care, and refit or change the model), 'n/a' has no threshold."
            + (f" To look at: {', '.join(looks)}." if looks else " Nothing to look at."),
        )
    ]
    warnings = [str(w) for w in (fit_summary or {}).get("warnings") or []]
    if warnings:
        blocks.append(Text("Warnings from the fit: " + "; ".join(warnings) + "."))
    return blocks


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
    >>> identification_text(frame).split(";")[0]
    "Mostly prior: search (the data removed 30% of its ROI prior's variance)"
    """
    if "identification" not in roi.columns:
        return (
            "Always-on channels such as paid search vary little from week to week, so the "
            "data carry little information about them and their intervals stay wide; lift "
            "tests (experiments, `mixlens mmm fit --lift-tests`) are the remedy."
        )
    parts = []
    for label, lead, meaning in (
        (
            "mostly prior",
            "Mostly prior",
            "their estimates lean on the ROI prior more than on the data (typically "
            "always-on channels whose level the data cannot tell from the baseline)",
        ),
        (
            "weakly identified",
            "Weakly identified",
            "the data outweigh the prior, yet their intervals stay wide",
        ),
    ):
        rows = roi[roi["identification"] == label]
        if len(rows):
            names = ", ".join(
                f"{r.channel} (the data removed {r.contraction:.0%} of its ROI prior's variance)"
                for r in rows.itertuples()
            )
            parts.append(f"{lead}: {names}; {meaning}.")
    if not parts:
        return "The data identify every channel's ROI: each removed most of its prior's variance."
    return (
        " ".join(parts)
        + " Read these channels' intervals, not their means, and calibrate them with lift "
        "tests."
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
