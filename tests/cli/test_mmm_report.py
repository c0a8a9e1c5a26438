"""``mixlens mmm report RUN_DIR``: one self-contained HTML from a fit folder (no truth).

The folders are small synthetic CSVs and a summary.json in the formats ``mixlens mmm
fit`` writes; no model is fitted.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mixlens.cli import app

runner = CliRunner()
CHANNELS = ("tv", "search")
DATES = pd.date_range("2024-01-01", periods=10, freq="7D").strftime("%Y-%m-%d")


def _tables(scale: float) -> dict[str, pd.DataFrame]:
    roi = pd.DataFrame(
        {
            "channel": list(CHANNELS),
            "spend": [100.0 * scale, 40.0 * scale],
            "contribution_mean": [120.0 * scale, 60.0 * scale],
            "contribution_lo": [100.0 * scale, 20.0 * scale],
            "contribution_hi": [140.0 * scale, 110.0 * scale],
            "roi_mean": [1.2, 1.5],
            "roi_lo": [1.0, 0.5],
            "roi_hi": [1.4, 2.75],
            "mroi_mean": [0.9, 1.1],
            "mroi_lo": [0.7, 0.4],
            "mroi_hi": [1.1, 2.0],
        }
    )
    levels = {"tv": 12.0, "search": 6.0, "baseline": 90.0, "price": -3.0}
    contributions = pd.DataFrame(
        [
            (d, c, scale * v, scale * v * 0.8, scale * v * 1.2)
            for c, v in levels.items()
            for d in DATES
        ],
        columns=["date", "component", "mean", "lo", "hi"],
    )
    mean = np.full(len(DATES), scale * sum(levels.values()))
    fit = pd.DataFrame(
        {"date": DATES, "actual": mean * 1.02, "mean": mean, "lo": mean * 0.9, "hi": mean * 1.1}
    )
    grid = np.linspace(0.0, 30.0 * scale, 5)
    curves = pd.DataFrame(
        [(c, s, s / (1 + s), 0.8 * s / (1 + s), 1.2 * s / (1 + s)) for c in CHANNELS for s in grid],
        columns=["channel", "spend", "mean", "lo", "hi"],
    )
    return {
        "roi.csv": roi,
        "contributions.csv": contributions,
        "fit.csv": fit,
        "response_curves.csv": curves,
    }


SUMMARY = {
    "ci": 0.9,
    "weeks": len(DATES),
    "first_week": DATES[0],
    "last_week": DATES[-1],
    "source": "weekly.csv",
    "sampler": "nutpie",
    "diagnostics": {
        "method": "nuts",
        "sampler": "nutpie",
        "chains": 4,
        "draws": 100,
        "tune": 100,
        "max_rhat": 1.003,
        "min_ess_bulk": 512.0,
        "divergences": 0,
        "warnings": [],
    },
    "fit": {
        "r2": 0.88,
        "mape": 0.031,
        "coverage": 0.9,
        "ci": 0.9,
        "weeks": len(DATES),
        "p_values": {"mean": 0.5, "residual_acf1": 0.004},
        "warnings": [],
    },
}


def _write_run(root: Path, *, geo: bool = False) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    tables = _tables(1.0)
    if geo:
        north = _tables(0.4)
        tables = {
            name: pd.concat(
                [north[name].assign(geo="north"), frame.assign(geo="all")], ignore_index=True
            )
            for name, frame in tables.items()
        }
    for name, frame in tables.items():
        frame.to_csv(root / name, index=False)
    summary = {**SUMMARY, "model": "geo"} if geo else SUMMARY
    (root / "summary.json").write_text(json.dumps(summary))
    return root


def _assert_report(html: str) -> None:
    assert html.startswith("<!DOCTYPE html>")
    assert "<script" not in html and "<link" not in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert html.count("<svg") == 4  # fit, decomposition, ROI, response curves
    assert "There is no truth" in html and "true_roi" not in html
    for channel in CHANNELS:
        assert channel in html


def test_report_writes_html_into_the_run_folder(tmp_path: Path) -> None:
    run = _write_run(tmp_path / "fit")
    result = runner.invoke(app, ["mmm", "report", str(run)])
    assert result.exit_code == 0, result.output
    html = (run / "report.html").read_text(encoding="utf-8")
    _assert_report(html)
    assert "weekly.csv: 10 weeks, 2024-01-01 to 2024-03-04; national model" in html
    assert "R² 0.88" in html
    assert "predictive p-value: residual_acf1" in html and "<td>look</td>" in html
    assert sorted(p.name for p in run.iterdir() if p.name.startswith(".")) == []


def test_report_on_a_geo_folder_shows_the_totals(tmp_path: Path) -> None:
    run = _write_run(tmp_path / "geo", geo=True)
    out = tmp_path / "elsewhere" / "mmm.html"
    result = runner.invoke(app, ["mmm", "report", str(run), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert not (run / "report.html").exists()
    html = out.read_text(encoding="utf-8")
    _assert_report(html)
    assert "geo model" in html
    assert "<td>100</td>" in html and "<td>40</td>" in html  # spend of the all rows
    assert "<td>40</td><td>1.50</td>" in html
    assert "<td>16</td>" not in html  # north's search spend (40 * 0.4) is not shown


def test_report_without_fit_csv_or_plan_rows(tmp_path: Path) -> None:
    """An older run folder: no fit.csv, a header-only lift_test_plan.csv, no summary fit."""
    run = _write_run(tmp_path / "old")
    (run / "fit.csv").unlink()
    (run / "lift_test_plan.csv").write_text(
        "rank,channel,start,end,window_spend,expected_lift,test_se,lift_to_se,log_roi_sd,"
        "log_roi_sd_after,gain,weighted_log_roi_sd_after\n"
    )
    (run / "summary.json").write_text(json.dumps({k: v for k, v in SUMMARY.items() if k != "fit"}))
    result = runner.invoke(app, ["mmm", "report", str(run)])
    assert result.exit_code == 0, result.output
    html = (run / "report.html").read_text(encoding="utf-8")
    assert html.count("<svg") == 3
    assert "Lift-test plan" not in html and "in-sample R²" not in html


def _plan() -> pd.DataFrame:
    """A one-test lift-test plan (the columns the report reads)."""
    return pd.DataFrame(
        {
            "rank": [1],
            "channel": ["search"],
            "start": ["2024-01-08"],
            "end": ["2024-03-03"],
            "lift_to_se": [2.5],
            "log_roi_sd": [0.6],
            "log_roi_sd_after": [0.3],
            "gain": [0.1],
        }
    )


def test_report_shows_the_lift_test_plan(tmp_path: Path) -> None:
    run = _write_run(tmp_path / "fit")
    _plan().to_csv(run / "lift_test_plan.csv", index=False)
    result = runner.invoke(app, ["mmm", "report", str(run)])
    assert result.exit_code == 0, result.output
    html = (run / "report.html").read_text(encoding="utf-8")
    assert "<td>1</td><td>search</td><td>2024-01-08 .. 2024-03-03</td>" in html


def test_missing_roi_csv_exits_2_naming_the_file(tmp_path: Path) -> None:
    run = _write_run(tmp_path / "fit")
    (run / "roi.csv").unlink()
    result = runner.invoke(app, ["mmm", "report", str(run)])
    assert result.exit_code == 2
    message = " ".join(result.stderr.split())
    assert message == f"error: {run / 'roi.csv'}: file not found"
    assert not (run / "report.html").exists()


@pytest.mark.parametrize(
    ("name", "edit", "expected"),
    [
        (
            "contributions.csv",
            lambda f: f.assign(mean=f["mean"].astype(object).where(f.index != 3, "abc")),
            "column 'mean', row 4: not a number: 'abc'",
        ),
        (
            "fit.csv",
            lambda f: f.assign(date=f["date"].where(f.index != 1, "2024-13-01")),
            "column 'date', row 2: not a date (YYYY-MM-DD): '2024-13-01'",
        ),
        ("response_curves.csv", lambda f: f.drop(columns="hi"), "column 'hi': missing column"),
        (
            "roi.csv",
            lambda f: f.assign(geo="north"),
            "column 'geo': a geo table without 'all' rows",
        ),
    ],
)
def test_bad_table_exits_2_naming_file_column_row(
    tmp_path: Path, name: str, edit: object, expected: str
) -> None:
    run = _write_run(tmp_path / "fit")
    frame = pd.read_csv(run / name)
    assert callable(edit)
    edit(frame).to_csv(run / name, index=False)
    result = runner.invoke(app, ["mmm", "report", str(run)])
    assert result.exit_code == 2
    message = " ".join(result.stderr.split())
    assert message.startswith(f"error: {run / name}: {expected}"), message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{not json", "not valid JSON"),
        (json.dumps({**SUMMARY, "ci": 90}), "'ci' must be a number between 0 and 1, got 90"),
        (json.dumps({k: v for k, v in SUMMARY.items() if k != "diagnostics"}), "'diagnostics'"),
    ],
)
def test_bad_summary_exits_2(tmp_path: Path, text: str, expected: str) -> None:
    run = _write_run(tmp_path / "fit")
    (run / "summary.json").write_text(text)
    result = runner.invoke(app, ["mmm", "report", str(run)])
    assert result.exit_code == 2
    message = " ".join(result.stderr.split())
    assert message.startswith(f"error: {run / 'summary.json'}: ") and expected in message


def test_not_a_folder_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["mmm", "report", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert f"{tmp_path / 'nope'}: not a folder" in " ".join(result.stderr.split())


def test_report_on_a_geo_folder_shows_its_geo_holdout_plan(tmp_path: Path) -> None:
    """A geo fit's plan names the geos to switch off: it has no ``all`` rows, and needs none."""
    run = _write_run(tmp_path / "geo", geo=True)
    _plan().assign(geo="north").to_csv(run / "lift_test_plan.csv", index=False)
    result = runner.invoke(app, ["mmm", "report", str(run)])
    assert result.exit_code == 0, result.output
    html = (run / "report.html").read_text(encoding="utf-8")
    assert "<td>1</td><td>search</td><td>north</td><td>2024-01-08 .. 2024-03-03</td>" in html
