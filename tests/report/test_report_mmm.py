"""The report's MMM section: ROI against the truth, identification and the lift-test plan."""

from __future__ import annotations

import pandas as pd

from mixlens.report.html import Table, Text, render_report
from mixlens.report.mmm import identification_text, mmm_section

TRUTH = pd.DataFrame({"channel": ["tv", "search"], "roi": [1.1, 3.0], "mroi": [0.8, 2.0]})
DIAGNOSTICS = {"max_rhat": 1.01, "divergences": 0}


def _roi(identified: bool) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "channel": ["tv", "search"],
            "spend": [100.0, 50.0],
            "contribution_mean": [110.0, 75.0],
            "contribution_lo": [100.0, 10.0],
            "contribution_hi": [120.0, 200.0],
            "roi_mean": [1.1, 1.5],
            "roi_lo": [1.0, 0.2],
            "roi_hi": [1.2, 4.0],
            "mroi_mean": [0.8, 1.0],
            "mroi_lo": [0.7, 0.1],
            "mroi_hi": [0.9, 2.5],
        }
    )
    if identified:
        frame["contraction"] = [0.99, 0.31]
        frame["identification"] = ["data-driven", "mostly prior"]
    return frame


PLAN = pd.DataFrame(
    {
        "rank": [1, 2],
        "channel": ["search", "tv"],
        "start": ["2025-06-02", "2025-01-27"],
        "end": ["2025-07-27", "2025-03-23"],
        "window_spend": [20.0, 30.0],
        "expected_lift": [30.0, 33.0],
        "test_se": [9.0, 2.0],
        "lift_to_se": [3.33, 16.5],
        "log_roi_sd": [0.82, 0.04],
        "log_roi_sd_after": [0.31, 0.04],
        "gain": [0.17, 0.001],
        "weighted_log_roi_sd_after": [0.12, 0.119],
    }
)


def test_section_shows_identification_and_plan() -> None:
    section = mmm_section(_roi(True), TRUTH, DIAGNOSTICS, ci=0.9, plan=PLAN)
    tables = [b for b in section.blocks if isinstance(b, Table)]
    assert "identification" in tables[0].frame.columns
    assert list(tables[-1].frame["channel"]) == ["search", "tv"]
    text = " ".join(b.text for b in section.blocks if isinstance(b, Text))
    assert "Mostly prior: search" in text and "31%" in text and "tv (" not in text
    html = render_report([section])
    assert "Lift-test plan" in html and "2025-06-02 .. 2025-07-27" in html
    assert "<td>mostly prior</td>" in html
    assert "ROI mostly prior" in html


def test_section_without_identification_still_renders() -> None:
    """roi.csv from before identification (or a geo fit): the old table, no plan."""
    section = mmm_section(_roi(False), TRUTH, DIAGNOSTICS, ci=0.9)
    tables = [b for b in section.blocks if isinstance(b, Table)]
    roi_tables = [t for t in tables if "roi_mean" in t.frame.columns]
    assert len(roi_tables) == 1 and "identification" not in roi_tables[0].frame.columns
    assert not any("Lift-test plan" in t.caption for t in tables)
    assert "lift tests" in identification_text(_roi(False))
    render_report([section])


def test_identification_text_when_all_identified() -> None:
    roi = _roi(True).assign(contraction=[0.99, 0.95], identification="data-driven")
    assert identification_text(roi).startswith("The data identify every channel's ROI")
    roi = roi.assign(identification=["data-driven", "weakly identified"])
    assert identification_text(roi).startswith("Weakly identified: search")


def test_identification_text_says_what_each_class_means() -> None:
    roi = pd.DataFrame(
        {
            "channel": ["tv", "search", "display"],
            "contraction": [0.97, 0.85, 0.3],
            "identification": ["data-driven", "weakly identified", "mostly prior"],
        }
    )
    text = identification_text(roi)
    mostly, weakly = text.split("Weakly identified")
    assert "display" in mostly and "lean on the ROI prior" in mostly
    assert "search" in weakly and "the data outweigh the prior" in weakly
    assert "lean on the ROI prior" not in weakly and "tv" not in text
