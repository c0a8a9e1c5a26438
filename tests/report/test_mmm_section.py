"""The MMM section a marketer reads: fit vs actual, decomposition, ROI, curves, diagnostics.

Synthetic frames in the formats of ``mixlens mmm fit`` (no model is fitted).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mixlens.report import charts, charts_mmm
from mixlens.report.html import Figure, Metrics, Table, Text, render_report
from mixlens.report.mmm import diagnostics_table, mmm_section

CHANNELS = ["tv", "search"]
WEEKS = 12
DATES = pd.date_range("2024-01-01", periods=WEEKS, freq="7D").strftime("%Y-%m-%d")
TRUE_ROI = pd.DataFrame({"channel": CHANNELS, "roi": [1.1, 3.5], "mroi": [0.8, 2.0]})
DIAGNOSTICS = {
    "method": "nuts",
    "sampler": "nutpie",
    "chains": 4,
    "draws": 500,
    "tune": 500,
    "max_rhat": 1.004,
    "min_ess_bulk": 820.0,
    "divergences": 0,
    "warnings": [],
}
FIT_SUMMARY = {
    "r2": 0.91,
    "mape": 0.043,
    "coverage": 0.92,
    "ci": 0.9,
    "weeks": WEEKS,
    "p_values": {"mean": 0.48, "sd": 0.995},
    "warnings": ["predictive p-value of sd is 0.995"],
}


def _roi(scale: float = 1.0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "channel": CHANNELS,
            "spend": [120.0 * scale, 60.0 * scale],
            "contribution_mean": [132.0 * scale, 90.0 * scale],
            "contribution_lo": [120.0 * scale, 30.0 * scale],
            "contribution_hi": [144.0 * scale, 180.0 * scale],
            "roi_mean": [1.1, 1.5],
            "roi_lo": [1.0, 0.5],
            "roi_hi": [1.2, 3.0],
            "mroi_mean": [0.8, 1.0],
            "mroi_lo": [0.7, 0.3],
            "mroi_hi": [0.9, 2.0],
        }
    )


def _contributions(scale: float = 1.0) -> pd.DataFrame:
    rows = []
    for component, level in (("tv", 11.0), ("search", 7.5), ("baseline", 100.0), ("price", -4.0)):
        for k, date in enumerate(DATES):
            mean = scale * level * (1.0 + 0.1 * np.sin(k))
            rows.append((date, component, mean, mean - abs(mean) * 0.2, mean + abs(mean) * 0.2))
    return pd.DataFrame(rows, columns=["date", "component", "mean", "lo", "hi"])


def _fit(scale: float = 1.0) -> pd.DataFrame:
    mean = _contributions(scale).groupby("date", sort=True)["mean"].sum().to_numpy()
    actual = mean * (1.0 + 0.03 * np.cos(np.arange(WEEKS)))
    return pd.DataFrame(
        {"date": DATES, "actual": actual, "mean": mean, "lo": mean * 0.9, "hi": mean * 1.1}
    )


def _curves(scale: float = 1.0) -> pd.DataFrame:
    rows = []
    for channel, top in (("tv", 20.0 * scale), ("search", 10.0 * scale)):
        for spend in np.linspace(0.0, top, 9):
            mean = 30.0 * spend / (spend + top / 2)
            rows.append((channel, spend, mean, 0.7 * mean, 1.3 * mean))
    return pd.DataFrame(rows, columns=["channel", "spend", "mean", "lo", "hi"])


def _geo(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    return pd.concat([f.assign(geo=g) for g, f in frames.items()], ignore_index=True)[
        ["geo", *next(iter(frames.values())).columns]
    ]


def _truth() -> pd.DataFrame:
    rows = []
    for geo in ("north", "south"):
        for component in ("baseline", "tv", "search", "noise"):
            for date in DATES:
                rows.append((date, geo, component, 5.0 if component == "tv" else 3.0))
    return pd.DataFrame(rows, columns=["date", "geo", "component", "contribution"])


def _blocks(section: Any, kind: type) -> list[Any]:
    return [b for b in section.blocks if isinstance(b, kind)]


def _full(**overrides: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "ci": 0.9,
        "fit": _fit(),
        "contributions": _contributions(),
        "curves": _curves(),
        "fit_summary": FIT_SUMMARY,
    }
    return {**kwargs, **overrides}


def test_section_with_truth_draws_every_chart_and_judges_against_truth() -> None:
    section = mmm_section(_roi(), TRUE_ROI, DIAGNOSTICS, **_full(true_contributions=_truth()))
    figures = _blocks(section, Figure)
    assert len(figures) == 5  # fit, decomposition, channels vs truth, ROI, response curves
    roi_table = _blocks(section, Table)[0]
    assert {"true_roi", "true_mroi"} <= set(roi_table.frame.columns)
    cards = _blocks(section, Metrics)[0].values
    assert cards["channels covered"] == "1 of 2"  # search: 3.5 is above its 0.5..3.0
    assert cards["in-sample R²"] == "0.91"
    fit_caption = figures[0].caption
    assert "R² 0.91" in fit_caption and "MAPE 4.3%" in fit_caption
    assert "92% of weeks inside the band (nominal 90%)" in fit_caption
    html = render_report([section])
    assert html.count("<svg") == 5
    assert "without seeing the truth" in html
    assert "Warnings from the fit: predictive p-value of sd is 0.995." in html


def test_section_without_truth_has_no_truth_columns_and_says_so() -> None:
    section = mmm_section(_roi(), None, DIAGNOSTICS, **_full())
    assert "no truth" in section.lead
    assert len(_blocks(section, Figure)) == 4  # no channel-vs-truth panels
    roi_table = _blocks(section, Table)[0]
    assert not any(c.startswith("true_") for c in roi_table.frame.columns)
    cards = _blocks(section, Metrics)[0].values
    assert "channels covered" not in cards and "spend-weighted ROI error" not in cards
    assert cards["blended media ROI"] == f"{222.0 / 180.0:.2f}"
    media = _contributions().query("component in @CHANNELS")["mean"].sum()
    assert cards["media share of outcome"] == f"{media / _contributions()['mean'].sum():.1%}"
    html = render_report([section])
    assert "estimate vs truth" not in html and "orange diamond" not in html
    assert html.count("<svg") == 4


def test_truth_passed_to_charts_is_summed_over_geos(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, pd.DataFrame] = {}

    def record(frame: pd.DataFrame, **kwargs: Any) -> str:
        seen["panels"] = frame
        return "<svg></svg>"

    monkeypatch.setattr(charts_mmm, "channel_contributions", record)
    mmm_section(_roi(), TRUE_ROI, DIAGNOSTICS, **_full(true_contributions=_truth()))
    panels = seen["panels"]
    assert sorted(panels["channel"].unique()) == sorted(CHANNELS)
    tv = panels[panels["channel"] == "tv"]
    np.testing.assert_allclose(tv["truth"], 10.0)  # 5 in each of two geos
    assert len(tv) == WEEKS


def test_section_without_fit_file_or_fit_summary() -> None:
    """A run folder written before fit.csv: no fit chart, no fit rows in the diagnostics."""
    section = mmm_section(_roi(), None, DIAGNOSTICS, **_full(fit=None, fit_summary=None))
    figures = _blocks(section, Figure)
    assert len(figures) == 3  # decomposition, ROI, response curves
    assert "actual outcome" not in figures[0].caption
    diagnostics = _blocks(section, Table)[-1].frame
    assert "in-sample R²" not in set(diagnostics["check"])
    assert set(diagnostics["verdict"]) == {"ok", "n/a"}
    cards = _blocks(section, Metrics)[0].values
    assert "in-sample R²" not in cards
    render_report([section])


def test_section_with_only_roi_and_truth_still_renders() -> None:
    section = mmm_section(_roi(), TRUE_ROI, {"max_rhat": 1.0, "divergences": 0}, ci=0.9)
    assert len(_blocks(section, Figure)) == 1
    roi_table, diagnostics = _blocks(section, Table)
    assert "true_roi" in roi_table.frame.columns
    assert set(diagnostics.frame["verdict"]) <= {"ok", "n/a"}
    assert render_report([section]).count("<svg") == 1


def test_geo_frames_show_the_all_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}
    real_curves, real_fit = charts_mmm.response_curves, charts_mmm.fit_vs_actual
    real_decomposition = charts.decomposition

    def curves(frame: pd.DataFrame, **kwargs: Any) -> str:
        seen["curves"], seen["markers"] = frame, kwargs["markers"]
        return real_curves(frame, **kwargs)

    def fit(frame: pd.DataFrame, **kwargs: Any) -> str:
        seen["fit"] = frame
        return real_fit(frame, **kwargs)

    def decomposition(frame: pd.DataFrame, **kwargs: Any) -> str:
        seen["decomposition"], seen["outcome"] = frame, kwargs["outcome"]
        return real_decomposition(frame, **kwargs)

    monkeypatch.setattr(charts_mmm, "response_curves", curves)
    monkeypatch.setattr(charts_mmm, "fit_vs_actual", fit)
    monkeypatch.setattr(charts, "decomposition", decomposition)
    section = mmm_section(
        _geo({"north": _roi(0.25), "all": _roi()}),
        None,
        DIAGNOSTICS,
        ci=0.9,
        fit=_geo({"north": _fit(0.25), "all": _fit()}),
        contributions=_geo({"north": _contributions(0.25), "all": _contributions()}),
        curves=_geo({"north": _curves(0.25), "all": _curves()}),
        fit_summary=FIT_SUMMARY,
    )
    roi_table = _blocks(section, Table)[0].frame
    assert list(roi_table["spend"]) == [120.0, 60.0]
    assert _blocks(section, Metrics)[0].values["blended media ROI"] == f"{222.0 / 180.0:.2f}"
    pd.testing.assert_frame_equal(seen["fit"], _fit())
    pd.testing.assert_frame_equal(seen["curves"], _curves())
    assert seen["markers"] == {"tv": 120.0 / WEEKS, "search": 60.0 / WEEKS}
    decomposition_frame = seen["decomposition"]
    assert set(decomposition_frame["component"]) == {"tv", "search", "base"}
    base = decomposition_frame[decomposition_frame["component"] == "base"]["contribution"]
    expected = _contributions().query("component in ['baseline', 'price']")
    np.testing.assert_allclose(base.sum(), expected["mean"].sum())
    np.testing.assert_allclose(seen["outcome"].to_numpy(), _fit()["actual"].to_numpy())
    assert render_report([section]).count("<svg") == 4


def test_diagnostics_table_verdicts_by_hand() -> None:
    diagnostics = {
        "method": "nuts",
        "sampler": "pymc",
        "chains": 2,
        "draws": 300,
        "max_rhat": 1.02,
        "min_ess_bulk": 250.0,
        "divergences": 3,
    }
    fit_summary = {
        "r2": 0.8,
        "mape": 0.05,
        "coverage": 0.6,
        "ci": 0.9,
        "p_values": {"max": 0.001, "mean": 0.5, "sd": 0.99},
    }
    table = diagnostics_table(diagnostics, fit_summary).set_index("check")
    verdict = table["verdict"].to_dict()
    assert verdict["method"] == "ok"
    assert verdict["max R-hat"] == "look"
    assert table.loc["min bulk ESS", "threshold"] == ">= 200"  # 100 per chain < 400
    assert verdict["min bulk ESS"] == "ok"
    assert verdict["divergences"] == "look"
    assert verdict["in-sample R²"] == "n/a" and verdict["in-sample MAPE"] == "n/a"
    assert table.loc["weeks inside the predictive band", "threshold"] == ">= 80%"
    assert verdict["weeks inside the predictive band"] == "look"
    assert verdict["predictive p-value: max"] == "look"
    assert verdict["predictive p-value: mean"] == "ok"
    assert verdict["predictive p-value: sd"] == "ok"  # 0.99 is inside [0.01, 0.99]
    good = diagnostics_table(
        {**diagnostics, "chains": 4, "max_rhat": 1.01, "min_ess_bulk": 399.0, "divergences": 0},
        {**fit_summary, "coverage": 1.0},
    ).set_index("check")["verdict"]
    assert good["max R-hat"] == "ok"
    assert good["min bulk ESS"] == "look"  # 4 chains: the total of 400 applies
    assert good["divergences"] == "ok"
    assert good["weeks inside the predictive band"] == "ok"


def test_advi_fit_has_no_sampler_diagnostics_and_says_look() -> None:
    advi = {
        "method": "advi",
        "sampler": "pymc-advi",
        "chains": 1,
        "draws": 200,
        "max_rhat": None,
        "min_ess_bulk": None,
        "divergences": -1,
    }
    table = diagnostics_table(advi).set_index("check")
    assert table.loc["method", "verdict"] == "look"
    for check in ("max R-hat", "min bulk ESS", "divergences"):
        assert table.loc[check, "value"] == "n/a" and table.loc[check, "verdict"] == "n/a"
    section = mmm_section(_roi(), None, advi, **_full())
    cards = _blocks(section, Metrics)[0].values
    assert cards["max R-hat"] == "n/a" and cards["divergences"] == "n/a"
    text = " ".join(b.caption for b in _blocks(section, Table))
    assert "To look at: method" in text
    assert re.search(r"<td>look</td>", render_report([section]))


def test_fit_warnings_are_shown_only_when_there_are_some() -> None:
    quiet = mmm_section(
        _roi(), None, DIAGNOSTICS, **_full(fit_summary={**FIT_SUMMARY, "warnings": []})
    )
    assert not any(b.text.startswith("Warnings from the fit") for b in _blocks(quiet, Text))
    loud = mmm_section(_roi(), None, DIAGNOSTICS, **_full())
    assert any(b.text.startswith("Warnings from the fit") for b in _blocks(loud, Text))
