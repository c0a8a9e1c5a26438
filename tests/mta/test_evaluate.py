"""Accuracy against causal truth: hand-worked numbers."""

from __future__ import annotations

import pandas as pd
import pytest

from mixlens.mta.evaluate import accuracy_against_truth

TRUTH = pd.DataFrame(
    {
        "channel": ["a", "b", "c", "direct"],
        "incremental_conversions": [30.0, 10.0, 0.0, 0.0],
        "share": [0.75, 0.25, 0.0, 0.0],
    }
)


def test_model_that_credits_everything_to_channels() -> None:
    # 100 conversions, 40 incremental; a last-click-like model gives all 100 to channels.
    credit = pd.DataFrame(
        {"model": "last", "channel": ["a", "b", "c"], "conversions": [20.0, 30.0, 50.0]}
    )
    row = accuracy_against_truth(credit, TRUTH).iloc[0]
    assert row["share_error"] == pytest.approx(abs(0.2 - 0.75) + abs(0.3 - 0.25) + 0.5)
    assert row["raw_count_error"] == pytest.approx((10 + 20 + 50 + 60) / 100)
    assert row["non_causal_share"] == 0.0
    assert row["spearman"] == pytest.approx(-1.0)


def test_direct_counts_as_non_causal() -> None:
    credit = pd.DataFrame(
        {
            "model": ["m"] * 4,
            "channel": ["a", "b", "direct", "baseline"],
            "conversions": [30.0, 10.0, 20.0, 40.0],
        }
    )
    row = accuracy_against_truth(credit, TRUTH).iloc[0]
    assert row["share_error"] == pytest.approx(0.0)
    assert row["raw_count_error"] == pytest.approx(0.0)
    assert row["non_causal_share"] == pytest.approx(0.6)
