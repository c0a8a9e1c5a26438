"""The HTML report: self-contained, escaped, with the demo's charts."""

from __future__ import annotations

import re

import pandas as pd

from mixlens.data.simulate.mmm import MMMWorldConfig, simulate_mmm
from mixlens.report.html import Figure, Metrics, Section, Table, Text, render_report
from mixlens.report.sections import mmm_world_section


def _assert_self_contained(html: str) -> None:
    assert "<script" not in html
    assert "<link" not in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "url(http" not in html
    assert "@import" not in html


def test_render_escapes_and_is_self_contained() -> None:
    section = Section(
        key="k",
        title="Title <b>",
        lead="a & b",
        blocks=[
            Metrics({"x": "1"}),
            Text("<i>not html</i>"),
            Table(pd.DataFrame({"a": [1.23456], "b": ["<x>"]}), "cap", {"a": ".2f"}),
            Figure("<svg></svg>", "fig"),
        ],
    )
    html = render_report([section], title="T")
    assert html.startswith("<!DOCTYPE html>")
    assert "Title &lt;b&gt;" in html
    assert "&lt;i&gt;not html&lt;/i&gt;" in html
    assert "<td>1.23</td>" in html
    assert "&lt;x&gt;" in html
    _assert_self_contained(html)


def test_mmm_world_section_has_charts_and_truth() -> None:
    world = simulate_mmm(MMMWorldConfig(weeks=20, n_channels=5), seed=1)
    channels = list(world.roi["channel"])
    section = mmm_world_section(
        world.weekly_channel, world.weekly_contributions, world.roi, channels
    )
    html = render_report([section])
    assert html.count("<svg") == 2
    for channel in channels:
        assert channel in html
    _assert_self_contained(html)


def test_last_non_direct_conversions_by_hand() -> None:
    from mixlens.report.sections import last_non_direct_conversions

    paths = pd.DataFrame(
        {
            "path": ["search > direct", "display > search", "direct", "display > direct > direct"],
            "total_conversions": [3.0, 2.0, 4.0, 1.0],
        }
    )
    result = last_non_direct_conversions(paths)
    assert result.to_dict() == {"display": 1.0, "search": 5.0}
