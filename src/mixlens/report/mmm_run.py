"""Read a ``mixlens mmm fit`` folder, checked, and build its report section.

:func:`read_mmm_run` reads and checks the folder's tables (``mixlens mmm report``);
:func:`run_section` turns them into :func:`mixlens.report.mmm.mmm_section`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mixlens.data.loaders import read_table
from mixlens.data.schemas import ALL_GEOS
from mixlens.errors import DataError
from mixlens.mmm.spec import MMMSpec
from mixlens.report.html import Section
from mixlens.report.mmm import mmm_section

__all__ = ["MMMRun", "read_mmm_run", "run_section"]


@dataclass(frozen=True)
class MMMRun:
    """The files of one ``mixlens mmm fit`` folder that the report reads (checked).

    Attributes
    ----------
    roi, contributions, curves
        ``roi.csv``, ``contributions.csv`` and ``response_curves.csv`` (numbers parsed).
    fit
        ``fit.csv`` (in-sample fit), None in a folder written before it existed.
    plan
        ``lift_test_plan.csv``, None where the folder has none or it has no tests.
    summary
        ``summary.json``.
    spec
        The spec of ``spec.json`` (each channel's adstock and saturation), None in a
        folder without one.
    params
        ``params.csv`` (``channel, parameter, mean, lo, hi``, and ``geo``), None in a
        folder written before it existed.
    """

    roi: pd.DataFrame
    contributions: pd.DataFrame
    curves: pd.DataFrame
    fit: pd.DataFrame | None
    plan: pd.DataFrame | None
    summary: Mapping[str, Any]
    spec: MMMSpec | None = None
    params: pd.DataFrame | None = None

    @property
    def ci(self) -> float:
        """Credible-interval mass of the tables' ``lo``/``hi``."""
        return float(self.summary["ci"])

    @property
    def diagnostics(self) -> Mapping[str, Any]:
        """``summary.json["diagnostics"]``."""
        value: Mapping[str, Any] = self.summary["diagnostics"]
        return value

    @property
    def fit_summary(self) -> Mapping[str, Any] | None:
        """``summary.json["fit"]`` (R², MAPE, coverage, p-values), None where absent."""
        value: Mapping[str, Any] | None = self.summary.get("fit")
        return value


def read_mmm_run(run_dir: str | Path) -> MMMRun:
    """Read and check the files of a ``mixlens mmm fit`` output folder (national or geo).

    Parameters
    ----------
    run_dir
        The folder: ``roi.csv``, ``contributions.csv``, ``response_curves.csv`` and
        ``summary.json`` are required; ``fit.csv``, ``lift_test_plan.csv``, ``spec.json``
        and ``params.csv`` (which needs ``spec.json``) are read where present.

    Raises
    ------
    DataError
        Naming the file (and column and row) that is missing, unreadable, lacks a column,
        has a value that is not a number or date, or (a geo fit) has no ``all`` rows; a
        ``spec.json`` that is not a valid MMM spec; a ``params.csv`` channel that is not
        in the spec.
    """
    root = Path(run_dir)
    if not root.is_dir():
        raise DataError("not a folder (give the --out folder of `mixlens mmm fit`)", file=str(root))
    roi = _checked(
        root / "roi.csv",
        text=("channel",),
        numbers=("spend", "roi_mean", "roi_lo", "roi_hi"),
        optional_numbers=(
            "contribution_mean",
            "contribution_lo",
            "contribution_hi",
            "mroi_mean",
            "mroi_lo",
            "mroi_hi",
            "contraction",
        ),
    )
    contributions = _checked(
        root / "contributions.csv",
        text=("component",),
        numbers=("mean", "lo", "hi"),
        dates=("date",),
    )
    curves = _checked(
        root / "response_curves.csv", text=("channel",), numbers=("spend", "mean", "lo", "hi")
    )
    fit_file = root / "fit.csv"
    fit = (
        _checked(fit_file, numbers=("actual", "mean", "lo", "hi"), dates=("date",))
        if fit_file.exists()
        else None
    )
    plan_file = root / "lift_test_plan.csv"
    plan = None
    if plan_file.exists() and _has_rows(plan_file):
        plan = _checked(
            plan_file,
            text=("channel", "start", "end"),
            numbers=("rank", "lift_to_se", "log_roi_sd", "log_roi_sd_after", "gain"),
            totals=False,
        )
        plan["rank"] = plan["rank"].round().astype(int)
    spec_file, params_file = root / "spec.json", root / "params.csv"
    spec = _read_spec(spec_file) if spec_file.exists() or params_file.exists() else None
    params = None if spec is None or not params_file.exists() else _read_params(params_file, spec)
    return MMMRun(
        roi=roi,
        contributions=contributions,
        curves=curves,
        fit=fit,
        plan=plan,
        summary=_read_summary(root / "summary.json"),
        spec=spec,
        params=params,
    )


def run_section(
    run: MMMRun,
    *,
    true_roi: pd.DataFrame | None = None,
    true_contributions: pd.DataFrame | None = None,
) -> Section:
    """Build :func:`mmm_section` from a fit folder read by :func:`read_mmm_run`.

    Parameters
    ----------
    run
        The folder's files.
    true_roi, true_contributions
        The simulator's truth, where there is one (see :func:`mmm_section`).
    """
    return mmm_section(
        run.roi,
        true_roi,
        run.diagnostics,
        ci=run.ci,
        plan=run.plan,
        fit=run.fit,
        contributions=run.contributions,
        curves=run.curves,
        fit_summary=run.fit_summary,
        true_contributions=true_contributions,
        spec=run.spec,
        params=run.params,
    )


def _has_rows(file: Path) -> bool:
    """Whether a CSV file has a data row after its header (an empty plan has none)."""
    with file.open(encoding="utf-8", errors="replace") as handle:
        lines = [line for line, _ in zip(handle, range(2), strict=False) if line.strip()]
    return len(lines) > 1


def _checked(
    file: Path,
    *,
    text: Sequence[str] = (),
    numbers: Sequence[str] = (),
    optional_numbers: Sequence[str] = (),
    dates: Sequence[str] = (),
    totals: bool = True,
) -> pd.DataFrame:
    """Read a table of the fit folder; check its columns; parse numbers and dates.

    ``numbers`` must be finite in every row; ``optional_numbers`` may be empty (NaN) but
    not text. With ``totals``, a ``geo`` column must have ``all`` rows (the lift-test plan
    of a geo fit names geos only: its tests are geo holdouts).
    """
    name = str(file)
    frame = read_table(file).reset_index(drop=True)
    for column in (*dates, *text, *numbers):
        if column not in frame.columns:
            shown = ", ".join(map(str, frame.columns))
            raise DataError(f"missing column (have: {shown})", file=name, column=column)
    for column in (*numbers, *(c for c in optional_numbers if c in frame.columns)):
        raw = frame[column]
        values = pd.to_numeric(raw, errors="coerce").astype(np.float64)
        blank = raw.isna() | (raw.astype(str).str.strip() == "")
        bad = ~np.isfinite(values.to_numpy())
        if column not in numbers:
            bad &= ~blank.to_numpy()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"not a number: {raw.iloc[row]!r}", file=name, column=column, row=row + 1
            )
        frame[column] = values
    for column in dates:
        parsed = pd.to_datetime(frame[column], format="%Y-%m-%d", errors="coerce")
        bad = parsed.isna().to_numpy()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"not a date (YYYY-MM-DD): {frame[column].iloc[row]!r}",
                file=name,
                column=column,
                row=row + 1,
            )
        frame[column] = parsed.dt.strftime("%Y-%m-%d")
    if totals and "geo" in frame.columns and not (frame["geo"].astype(str) == ALL_GEOS).any():
        raise DataError(f"a geo table without '{ALL_GEOS}' rows", file=name, column="geo")
    return frame


def _read_summary(file: Path) -> dict[str, Any]:
    """Read ``summary.json``: an object with ``ci`` (in (0, 1)) and ``diagnostics``."""
    name = str(file)
    if not file.is_file():
        raise DataError("file not found", file=name)
    try:
        summary = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f"not valid JSON ({err})", file=name) from None
    if not isinstance(summary, dict):
        raise DataError("not a JSON object", file=name)
    ci = summary.get("ci")
    if isinstance(ci, bool) or not isinstance(ci, int | float) or not 0 < ci < 1:
        raise DataError(f"'ci' must be a number between 0 and 1, got {ci!r}", file=name)
    if not isinstance(summary.get("diagnostics"), dict):
        raise DataError("'diagnostics' must be an object", file=name)
    fit = summary.get("fit")
    if fit is not None and not isinstance(fit, dict):
        raise DataError("'fit' must be an object", file=name)
    if fit is not None and not isinstance(fit.get("p_values") or {}, dict):
        raise DataError("'fit.p_values' must be an object", file=name)
    return summary


def _read_spec(file: Path) -> MMMSpec:
    """Read ``spec.json``: an object whose ``spec`` is a valid :class:`MMMSpec`."""
    name = str(file)
    if not file.is_file():
        raise DataError(
            "file not found (params.csv needs it to name each channel's transforms)", file=name
        )
    try:
        meta = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f"not valid JSON ({err})", file=name) from None
    if not isinstance(meta, dict) or not isinstance(meta.get("spec"), dict):
        raise DataError("'spec' must be an object", file=name)
    try:
        return MMMSpec.from_dict(meta["spec"])
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise DataError(f"'spec' is not a valid MMM spec ({err})", file=name) from None


def _read_params(file: Path, spec: MMMSpec) -> pd.DataFrame:
    """Read ``params.csv``: its columns and numbers, and its channels (the spec's)."""
    params = _checked(file, text=("channel", "parameter"), numbers=("mean", "lo", "hi"))
    unknown = ~params["channel"].astype(str).isin(spec.channels).to_numpy()
    if unknown.any():
        row = int(np.flatnonzero(unknown)[0])
        raise DataError(
            f"channel {params['channel'].iloc[row]!r} is not in spec.json "
            f"({', '.join(spec.channels)})",
            file=str(file),
            column="channel",
            row=row + 1,
        )
    return params
