"""Campaign scores: the split of a channel (shares) separated from its level (totals)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from mixlens.ima.evaluate import media_share_baseline, score_campaigns, share_error
from mixlens.ima.regression import ChannelDesign
from mixlens.ima.results import UNATTRIBUTED
from mixlens.report.html import Table
from mixlens.report.ima import ima_section


@settings(max_examples=100, deadline=None)
@given(
    data=st.data(),
    n=st.integers(1, 8),
    scale=st.floats(1e-3, 1e3),
)
def test_share_error_ignores_the_level_and_lies_in_zero_one(
    data: st.DataObject, n: int, scale: float
) -> None:
    est = data.draw(arrays(np.float64, n, elements=st.floats(0.0, 1e4, allow_subnormal=False)))
    true = data.draw(arrays(np.float64, n, elements=st.floats(0.0, 1e4, allow_subnormal=False)))
    if true.sum() <= 0 or est.sum() <= 0:
        return
    err = share_error(est, true)
    assert -1e-12 <= err <= 1 + 1e-12
    np.testing.assert_allclose(share_error(est * scale, true), err, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(share_error(true, true), 0.0, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    x=arrays(np.float64, (5, 3), elements=st.floats(0.0, 1e3, allow_subnormal=False)),
    parts=arrays(np.float64, 4, elements=st.floats(0.0, 1e4, allow_subnormal=False)),
)
def test_media_share_conserves_the_channel_total_and_is_exact_for_one_effectiveness(
    x: np.ndarray, parts: np.ndarray
) -> None:
    design = ChannelDesign("a", ("p", "q", "r"), np.ones(5), x)
    campaigns = pd.DataFrame(
        {
            "channel": "a",
            "campaign": ["p", "q", "r", UNATTRIBUTED],
            "contribution_mean": parts,
        }
    )
    out = media_share_baseline(campaigns, [design])
    assert list(out["campaign"]) == ["p", "q", "r"]
    if x.sum() > 0:
        # Conserved: the unattributed row's credit goes to the campaigns too.
        np.testing.assert_allclose(out["contribution"].sum(), parts.sum(), rtol=1e-9, atol=1e-9)
        # Campaigns sharing one effectiveness (truth = b * media): no split error.
        truth = pd.DataFrame(
            {"channel": "a", "campaign": ["p", "q", "r"], "contribution": 2.5 * x.sum(0)}
        )
        if parts.sum() > 0:
            scores = score_campaigns({"m": out}, truth)
            assert float(scores["share_error"].iloc[0]) < 1e-9
    else:
        assert (out["contribution"] == 0).all()


def test_split_error_is_the_total_error_at_the_true_channel_total() -> None:
    # A channel total 50% too high with the right split: total error 0.5, split error 0;
    # the same total with a wrong split: the two errors differ by the level only.
    truth = pd.DataFrame(
        {"channel": "a", "campaign": ["x", "y", "z"], "contribution": [1.0, 2.0, 7.0]}
    )
    level = truth.assign(contribution=truth["contribution"] * 1.5)
    wrong = truth.assign(contribution=[5.0, 2.0, 3.0])
    scores = score_campaigns({"level": level, "wrong": wrong}, truth).set_index("method")
    assert scores.loc["level", "total_error"] == 0.5
    assert scores.loc["level", "split_error"] == 0.0
    # Same total as the truth: rescaling changes nothing.
    np.testing.assert_allclose(
        scores.loc["wrong", "split_error"], scores.loc["wrong", "total_error"]
    )
    np.testing.assert_allclose(scores.loc["wrong", "share_error"], 0.4)


def test_report_section_shows_the_split_error_beside_the_totals() -> None:
    truth = pd.DataFrame({"channel": "a", "campaign": ["x", "y"], "contribution": [1.0, 3.0]})
    est = truth.assign(contribution=[2.0, 6.0])  # right split, twice the level
    scores = score_campaigns({"ima": est, "spend share": est}, truth)
    fit = pd.DataFrame({"channel": ["a"], "weekly_mape": [1.0], "r2": [0.99]})
    section = ima_section(fit, scores)
    tables = [b.frame for b in section.blocks if isinstance(b, Table)]
    accuracy = next(t for t in tables if "split_error (ima)" in t.columns)
    assert accuracy["split_error (ima)"].tolist() == [0.0]
    assert accuracy["total_error (ima)"].tolist() == [1.0]


def test_roi_scores_rank_campaign_efficiency_free_of_the_channel_level() -> None:
    truth = pd.DataFrame(
        {"channel": "a", "campaign": ["x", "y", "z"], "contribution": [1.0, 4.0, 9.0]}
    )
    spend = pd.DataFrame({"channel": "a", "campaign": ["x", "y", "z"], "spend": [2.0, 2.0, 3.0]})
    level = truth.assign(contribution=truth["contribution"] * 1.7)  # right split, wrong level
    by_spend = truth.assign(contribution=spend["spend"] * 2.0)  # every ROI the same
    scores = score_campaigns({"level": level, "spend": by_spend}, truth, spend).set_index("method")
    assert scores.loc["level", "roi_spearman"] == 1.0
    assert scores.loc["level", "roi_error"] == 0.0
    assert np.isnan(scores.loc["spend", "roi_spearman"])
    # Spend share: ROI 14 / 7 = 2 for all against true 0.5, 2, 3: errors 3, 0, 1/3.
    np.testing.assert_allclose(scores.loc["spend", "roi_error"], 1 / 3)
    assert "roi_spearman" not in score_campaigns({"level": level}, truth).columns
