"""Analyse an experiment end to end and write ``lift_tests.csv`` (the calibration input).

A geo holdout writes ``lift_tests.csv`` with ``channel, start, end, incremental_outcome, se,
method``: first the recommended estimate (``method`` is ``recommended:<method>``), then one row
per method. ``incremental_outcome`` is what the tested media produced in the treated geos over
the window: minus the estimated effect when the treated spend fell (a holdout), the effect
itself when it rose, so it is positive when switching media off lost sales. It also writes
``counterfactual.csv`` (``date, method, actual, counterfactual, window``),
``placebos.csv`` (``method, placebo, relative_error``: the placebo windows' or placebo
geo sets' relative gaps, the null distribution the intervals come from) and
``summary.json``.

A user-level A/B test (``ab=``) writes ``lift_tests.csv`` with ``incremental_conversions``
instead, ``ab_metrics.csv`` (conversion, value, ROAS and incremental ROAS with intervals)
and ``summary.json``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mixlens.data.io import write_json, write_table
from mixlens.data.loaders import read_table
from mixlens.errors import DataError
from mixlens.experiments.ab import ab_test
from mixlens.experiments.bayes import bayesian_counterfactual
from mixlens.experiments.geo import (
    GeoLiftResult,
    Recommendation,
    difference_in_differences,
    recommend,
    synthetic_control,
)
from mixlens.experiments.panel import GeoExperimentData, geo_experiment_data, spend_direction

__all__ = ["GeoAnalysis", "analyze_geo", "analyze_to_dir"]

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[str, float], None]
TableSource = str | Path | pd.DataFrame
LIFT_COLUMNS = ("channel", "start", "end", "incremental_outcome", "se", "method")


@dataclass(frozen=True)
class GeoAnalysis:
    """Every method's result on one geo experiment, and the recommendation.

    Attributes
    ----------
    data
        The validated experiment.
    results
        One result per method, in the order run.
    recommendation
        Which result to trust, and why.
    direction
        -1 when the treated spend fell in the window (a holdout), +1 when it rose.
    """

    data: GeoExperimentData
    results: tuple[GeoLiftResult, ...]
    recommendation: Recommendation
    direction: float

    def lift_tests(self, channel: str) -> pd.DataFrame:
        """Rows of ``lift_tests.csv``: the recommended estimate first, then each method.

        ``geo`` lists the treated geos (comma-separated), so a geo MMM calibrates exactly
        those geos; ``spend_share`` is their share of the channel's pre-period spend, so a
        national MMM reads the test as switching off that share of the channel (empty when
        the panel has no spend column: a national MMM then refuses the rows).
        """
        rows = []
        treated = ",".join(g for g, t in zip(self.data.geos, self.data.treated, strict=True) if t)
        share = _treated_spend_share(self.data)
        chosen = self.recommendation.result
        for label, res in [(f"recommended:{chosen.method}", chosen)] + [
            (r.method, r) for r in self.results
        ]:
            rows.append(
                {
                    "channel": channel,
                    "start": self.data.start,
                    "end": self.data.end,
                    "incremental_outcome": self.direction * res.estimate,
                    "se": res.se,
                    "method": label,
                    "geo": treated,
                    "spend_share": share,
                }
            )
        return pd.DataFrame(rows, columns=[*LIFT_COLUMNS, "geo", "spend_share"])

    def to_frame(self) -> pd.DataFrame:
        """One row per method: the estimate of the effect, interval, p-value and fit."""
        return pd.concat([r.to_frame() for r in self.results], ignore_index=True)


def analyze_geo(
    data: GeoExperimentData,
    *,
    level: float = 0.9,
    seed: int = 0,
    placebos: int = 100,
    progress: ProgressCallback | None = None,
) -> GeoAnalysis:
    """Run DiD, synthetic control and the Bayesian counterfactual; recommend one.

    Parameters
    ----------
    data
        The experiment (see :func:`~mixlens.experiments.panel.geo_experiment_data`).
    level
        Interval level.
    seed
        Seed of the synthetic-control placebo draws.
    placebos
        Placebo sets for synthetic control.
    progress
        Called as ``progress(stage, fraction_done)``.

    Returns
    -------
    GeoAnalysis
        The results and the recommendation.
    """
    steps: list[tuple[str, Callable[[], GeoLiftResult]]] = [
        ("did", lambda: difference_in_differences(data, level=level)),
        (
            "synthetic_control",
            lambda: synthetic_control(data, level=level, placebos=placebos, seed=seed),
        ),
        ("bayesian_ts", lambda: bayesian_counterfactual(data, level=level)),
    ]
    results = []
    for i, (name, step) in enumerate(steps):
        if progress is not None:
            progress(name, i / len(steps))
        logger.info("experiment: fitting %s", name)
        results.append(step())
    if progress is not None:
        progress("done", 1.0)
    return GeoAnalysis(
        data=data,
        results=tuple(results),
        recommendation=recommend(results),
        direction=spend_direction(data),
    )


def _read(source: TableSource, name: str) -> tuple[pd.DataFrame, str]:
    if isinstance(source, pd.DataFrame):
        return source, f"<{name}>"
    return read_table(source), str(source)


def analyze_to_dir(
    panel: TableSource | None,
    *,
    treated: Sequence[str] | None = None,
    start: str | None = None,
    end: str | None = None,
    target: str = "sales",
    channel: str | None = None,
    ab: TableSource | None = None,
    out_dir: str | Path,
    level: float = 0.9,
    seed: int = 0,
    progress: ProgressCallback | None = None,
) -> dict[str, Any]:
    """Analyse a geo holdout (``panel``) or a user-level A/B test (``ab``) and write the files.

    Parameters
    ----------
    panel
        Long geo panel (path or frame): ``date, geo, <target>, {channel}_spend...``; None
        for an A/B test.
    treated, start, end
        Treated geos and the test window (ISO dates, inclusive); required for a geo test,
        recorded in ``lift_tests.csv`` (when given) for an A/B test.
    target
        Outcome column of the panel.
    channel
        Tested channel; default inferred from the spend columns (geo) or ``"ab"`` (A/B).
    ab
        User-level table ``user_id, group, converted, value[, cost]`` (path or frame).
    out_dir
        Output folder.
    level
        Interval level.
    seed
        Seed of the placebo draws.
    progress
        Called as ``progress(stage, fraction_done)``.

    Returns
    -------
    dict
        The JSON-safe summary also written to ``summary.json``.

    Raises
    ------
    DataError
        On bad input (unknown geo, bad window, bad A/B rows), naming file, column and row.
    """
    out = Path(out_dir)
    if (panel is None) == (ab is None):
        raise DataError("give either a geo panel or an A/B table (--ab), not both or neither")
    if ab is not None:
        return _ab_to_dir(ab, start=start, end=end, channel=channel, out=out, level=level)
    assert panel is not None
    if treated is None or start is None or end is None:
        raise DataError("a geo test needs --treated, --start and --end")
    frame, file = _read(panel, "panel")
    data = geo_experiment_data(
        frame, treated=treated, start=start, end=end, target=target, channel=channel, file=file
    )
    analysis = analyze_geo(data, level=level, seed=seed, progress=progress)
    name = data.channel or "media"
    write_table(analysis.lift_tests(name), out / "lift_tests.csv")
    write_table(_counterfactuals(analysis), out / "counterfactual.csv")
    write_table(_placebos(analysis), out / "placebos.csv")
    rec = analysis.recommendation
    summary: dict[str, Any] = {
        "kind": "geo",
        "source": file,
        "channel": name,
        "target": target,
        "start": data.start,
        "end": data.end,
        "treated": list(data.treated_names),
        "controls": int((~data.treated).sum()),
        "frequency": data.freq,
        "pre_periods": data.pre,
        "window_periods": data.length,
        "direction": "holdout" if analysis.direction < 0 else "increase",
        "treated_spend_share": _treated_spend_share(data),
        "level": level,
        "recommendation": rec.to_dict(),
        "methods": {r.method: _method_summary(r, analysis.direction) for r in analysis.results},
        "files": ["lift_tests.csv", "counterfactual.csv", "placebos.csv", "summary.json"],
    }
    write_json(summary, out / "summary.json")
    return summary


def _treated_spend_share(data: GeoExperimentData) -> float | None:
    """Treated geos' share of the tested channel's spend over the pre-period (None: no spend).

    A national model that reads ``lift_tests.csv`` as "all of the channel's spend in the
    window" can divide the incremental outcome by this share to get the national equivalent.
    """
    if data.spend is None:
        return None
    pre = data.spend[: data.pre]
    total = float(pre.sum())
    return float(pre[:, data.treated].sum()) / total if total > 0 else None


def _placebos(analysis: GeoAnalysis) -> pd.DataFrame:
    """Tabulate each placebo's relative gap: ``method, placebo, relative_error``."""
    frames = [
        pd.DataFrame(
            {
                "method": res.method,
                "placebo": np.arange(1, len(res.details["placebo_errors"]) + 1),
                "relative_error": np.asarray(res.details["placebo_errors"], dtype=np.float64),
            }
        )
        for res in analysis.results
        if "placebo_errors" in res.details
    ]
    columns = ["method", "placebo", "relative_error"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def _method_summary(res: GeoLiftResult, direction: float) -> dict[str, Any]:
    inc = sorted((direction * res.lo, direction * res.hi))
    details = {k: v for k, v in res.details.items() if k != "placebo_errors"}
    return {
        **res.to_dict(),
        "incremental_outcome": direction * res.estimate,
        "incremental_lo": inc[0],
        "incremental_hi": inc[1],
        "details": details,
    }


def _counterfactuals(analysis: GeoAnalysis) -> pd.DataFrame:
    frames = []
    for res in analysis.results:
        frame = res.counterfactual.copy()
        frame.insert(1, "method", res.method)
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True)
    out["date"] = pd.to_datetime(out["date"]).dt.strftime("%Y-%m-%d")
    return out


def _ab_to_dir(
    ab: TableSource,
    *,
    start: str | None,
    end: str | None,
    channel: str | None,
    out: Path,
    level: float,
) -> dict[str, Any]:
    frame, file = _read(ab, "ab")
    result = ab_test(frame, level=level, file=file)
    method = "ab_difference_in_proportions"
    row = {
        "channel": channel or "ab",
        "start": start or "",
        "end": end or "",
        "incremental_conversions": result.incremental_conversions,
        "se": result.incremental_conversions_se,
    }
    lift = pd.DataFrame([{**row, "method": f"recommended:{method}"}, {**row, "method": method}])
    write_table(lift, out / "lift_tests.csv")
    write_table(result.to_frame(), out / "ab_metrics.csv")
    summary: dict[str, Any] = {
        "kind": "ab",
        "source": file,
        "channel": row["channel"],
        "level": level,
        **result.to_dict(),
        "recommendation": {
            "method": method,
            "reason": "a randomised user-level test: the difference in proportions is unbiased",
        },
        "files": ["lift_tests.csv", "ab_metrics.csv", "summary.json"],
    }
    write_json(summary, out / "summary.json")
    return summary
