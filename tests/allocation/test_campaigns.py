"""Campaign split: conservation per channel, weights by IMA credit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mixlens.allocation.campaigns import read_campaigns, split_campaigns
from mixlens.errors import DataError


@settings(max_examples=20, deadline=None)
@given(
    totals=st.lists(st.floats(0.0, 1e6), min_size=3, max_size=3),
    spend=st.lists(st.floats(0.0, 1e4), min_size=6, max_size=6),
    credit=st.lists(st.floats(-1e3, 1e5), min_size=6, max_size=6),
)
def test_campaign_spend_sums_to_channel(
    totals: list[float], spend: list[float], credit: list[float]
) -> None:
    plan = pd.DataFrame(
        {"channel": ["a", "b", "c"], "current_spend": [1.0, 2.0, 3.0], "recommended_spend": totals}
    )
    camp = pd.DataFrame(
        {
            "channel": ["a", "a", "a", "b", "b", "b"],
            "campaign": ["x", "y", "unattributed", "x", "y", "z"],
            "spend": spend,
            "contribution_mean": credit,
        }
    )
    out = split_campaigns(plan, camp)
    sums = out.groupby("channel")["recommended_spend"].sum()
    np.testing.assert_allclose(sums.loc[["a", "b", "c"]], totals, rtol=1e-12, atol=1e-9)
    assert (out["recommended_spend"] >= 0).all()
    assert out.set_index("campaign").loc["c", "recommended_spend"] == pytest.approx(totals[2])


def test_weights_follow_credit_and_skip_zero_spend() -> None:
    plan = pd.DataFrame({"channel": ["tv"], "current_spend": [90.0], "recommended_spend": [120.0]})
    camp = pd.DataFrame(
        {
            "channel": ["tv"] * 3,
            "campaign": ["a", "b", "c"],
            "spend": [10.0, 20.0, 0.0],
            "contribution_mean": [30.0, 10.0, 5.0],
            "roi_mean": [3.0, 0.5, np.nan],
        }
    )
    out = split_campaigns(plan, camp).set_index("campaign")
    assert out["recommended_spend"].tolist() == pytest.approx([90.0, 30.0, 0.0])
    assert out["current_spend"].tolist() == pytest.approx([30.0, 60.0, 0.0])


def test_read_campaigns_names_the_problem(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"campaigns\.csv is missing"):
        read_campaigns(tmp_path)
    (tmp_path / "campaigns.csv").write_text("channel,campaign\nTV,a\n")
    with pytest.raises(DataError, match="spend"):
        read_campaigns(tmp_path)
