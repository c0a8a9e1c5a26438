"""The market's report section renders the table, the chart and the verdict."""

from __future__ import annotations

import pandas as pd

from mixlens.report.html import Figure, Table, Text, render_report
from mixlens.report.market import market_section


def _evaluation(optimiser: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "policy": ["static", "optimiser", "oracle", "learned"],
            "profit_mean": [50_000.0, optimiser, 60_000.0, 55_000.0],
            "profit_lo": [48_000.0, optimiser - 2000, 58_000.0, 53_000.0],
            "profit_hi": [52_000.0, optimiser + 2000, 62_000.0, 57_000.0],
            "roi_mean": [3.0, 3.1, 3.3, 3.2],
        }
    )


def test_section_with_curves_and_honest_verdict() -> None:
    curves = pd.DataFrame({"episodes": [8, 16, 24], "profit": [48e3, 50e3, 53e3]})
    section = market_section(_evaluation(58_000.0), curves)
    figures = [b for b in section.blocks if isinstance(b, Figure)]
    assert len(figures) == 2 and all(f.svg.startswith("<svg") for f in figures)
    assert any(isinstance(b, Table) for b in section.blocks)
    texts = [b.text for b in section.blocks if isinstance(b, Text)]
    assert texts == ["The budget optimiser beats the learned policies on these seeds."]
    page = render_report([section], title="t")
    assert "Multi-agent market" in page and "58,000" in page


def test_section_says_when_learned_wins() -> None:
    section = market_section(_evaluation(51_000.0))
    texts = [b.text for b in section.blocks if isinstance(b, Text)]
    assert texts == ["The learned policy (learned) beats the budget optimiser here."]
