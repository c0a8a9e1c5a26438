"""Scores of the split inside campaign families (campaigns flighted together)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from mixlens.data.simulate.mmm import SimulatedMMM
from mixlens.errors import DataError
from mixlens.ima.families import (
    family_correlations,
    mean_pairwise_correlation,
    score_families,
    score_family_split,
    summarise_families,
)
from mixlens.ima.results import UNATTRIBUTED

DAYS = ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"]


def _toy() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Channel a: family f (x, y, z), family g (u, v), family h (w alone); channel b: s."""
    truth = pd.DataFrame(
        {
            "channel": ["a"] * 6 + ["b"],
            "campaign": ["x", "y", "z", "u", "v", "w", "s"],
            "family": ["f", "f", "f", "g", "g", "h", "k"],
            "contribution": [1.0, 3.0, 6.0, 2.0, 2.0, 5.0, 1.0],
        }
    )
    est = pd.DataFrame(
        {
            "channel": ["a"] * 7,
            "campaign": ["x", "y", "z", "u", "v", "w", UNATTRIBUTED],
            "contribution": [2.0, 2.0, 6.0, 1.0, 3.0, 9.0, 100.0],
        }
    )
    media = pd.concat(
        [
            pd.DataFrame({"date": DAYS, "campaign": "x", "impressions": [1.0, 2.0, 3.0, 4.0]}),
            pd.DataFrame({"date": DAYS, "campaign": "y", "impressions": [2.0, 4.0, 6.0, 8.0]}),
            pd.DataFrame({"date": DAYS, "campaign": "z", "impressions": [4.0, 3.0, 2.0, 1.0]}),
            # u and v run on days 1 and 3 only: the days without a row count as zero.
            pd.DataFrame({"date": DAYS[::2], "campaign": "u", "impressions": [1.0, 1.0]}),
            pd.DataFrame({"date": DAYS[::2], "campaign": "v", "impressions": [2.0, 2.0]}),
            pd.DataFrame({"date": DAYS[:1], "campaign": "w", "impressions": [5.0]}),
        ],
        ignore_index=True,
    ).assign(channel="a")
    return truth, est, media


def test_toy_family_scores_are_exact() -> None:
    truth, est, media = _toy()
    got = score_families({"m": est}, truth, media).set_index("family")
    assert list(got.index) == ["f", "g"]  # h has one campaign; channel b is not estimated
    assert got.loc["f", "n_campaigns"] == 3
    assert got.loc["g", "n_campaigns"] == 2
    # f: pairs (x, y) = 1, (x, z) = (y, z) = -1; g: u and v zero-filled alike, 1.
    assert got.loc["f", "mean_corr"] == pytest.approx(-1 / 3, abs=1e-12)
    assert got.loc["g", "mean_corr"] == pytest.approx(1.0, abs=1e-12)
    # f: shares (.2, .2, .6) vs (.1, .3, .6); g: (.25, .75) vs (.5, .5).
    assert got.loc["f", "split_error"] == pytest.approx(0.2, abs=1e-12)
    assert got.loc["g", "split_error"] == pytest.approx(0.5, abs=1e-12)
    # f: ranks (1.5, 1.5, 3) vs (1, 2, 3); g: the truth is constant.
    assert got.loc["f", "spearman"] == pytest.approx(np.sqrt(3) / 2, abs=1e-12)
    assert np.isnan(got.loc["g", "spearman"])


def test_toy_summary_weights_and_bands() -> None:
    truth, est, media = _toy()
    scores = score_families({"m": est}, truth, media)
    by_campaign = summarise_families(scores).set_index("band")
    assert list(by_campaign.index) == ["all", "corr < 0.8", "corr >= 0.8"]
    assert by_campaign.loc["all", "n_families"] == 2
    assert by_campaign.loc["all", "n_campaigns"] == 5
    assert by_campaign.loc["all", "split_error"] == pytest.approx((3 * 0.2 + 2 * 0.5) / 5)
    assert by_campaign.loc["all", "mean_corr"] == pytest.approx((3 * (-1 / 3) + 2) / 5)
    # Only f's rank correlation is defined.
    assert by_campaign.loc["all", "spearman"] == pytest.approx(np.sqrt(3) / 2)
    assert by_campaign.loc["corr >= 0.8", "split_error"] == pytest.approx(0.5)
    assert np.isnan(by_campaign.loc["corr >= 0.8", "spearman"])
    by_family = summarise_families(scores, weight="families", edges=(0.0, 0.5))
    assert by_family["band"].tolist() == ["all", "corr < 0", "corr >= 0.5"]
    assert by_family["split_error"].tolist() == pytest.approx([0.35, 0.2, 0.5])
    with pytest.raises(ValueError, match="weight"):
        summarise_families(scores, weight="days")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="increasing"):
        summarise_families(scores, edges=(0.8, 0.5))


def test_without_media_the_correlation_is_nan_and_the_band_na() -> None:
    truth, est, _ = _toy()
    scores = score_families({"m": est}, truth)
    assert scores["mean_corr"].isna().all()
    assert scores["split_error"].tolist() == pytest.approx([0.2, 0.5])
    assert summarise_families(scores)["band"].tolist() == ["all", "n/a"]


def test_families_of_one_campaign_are_left_out() -> None:
    truth = pd.DataFrame(
        {"channel": "a", "campaign": ["x", "y"], "family": ["f", "g"], "contribution": [1.0, 2.0]}
    )
    est = truth.drop(columns="family")
    assert score_families({"m": est}, truth).empty
    media = pd.DataFrame({"date": DAYS[:2], "channel": "a", "campaign": ["x", "y"]})
    assert family_correlations(truth, media.assign(impressions=1.0)).empty


def test_missing_campaigns_count_as_zero_and_zero_families_score_two() -> None:
    truth, est, _ = _toy()
    got = score_families({"m": est[est["campaign"] != "x"]}, truth).set_index("family")
    # f: shares (0, .25, .75) vs (.1, .3, .6).
    assert got.loc["f", "split_error"] == pytest.approx(0.3)
    nothing = est.assign(contribution=np.where(est["campaign"].isin(["u", "v"]), 0.0, 1.0))
    assert score_families({"m": nothing}, truth).set_index("family").loc["g", "split_error"] == 2


def test_bad_input_raises_a_clear_error() -> None:
    truth, est, media = _toy()
    with pytest.raises(DataError, match="column 'family'"):
        score_families({"m": est}, truth.drop(columns="family"))
    with pytest.raises(DataError, match="campaign 'q' of channel 'a' is not in the truth"):
        score_families({"m": pd.concat([est, est.head(1).assign(campaign="q")])}, truth)
    with pytest.raises(DataError, match="column 'contribution'"):
        score_families({"m": est.drop(columns="contribution")}, truth)
    with pytest.raises(DataError, match="no daily media for campaign 'z'"):
        score_families({"m": est}, truth, media[media["campaign"] != "z"])
    with pytest.raises(DataError, match="column 'clicks'"):
        score_families({"m": est}, truth, media, column="clicks")
    blank = truth.assign(family=truth["family"].where(truth["campaign"] != "y"))
    with pytest.raises(DataError, match="column 'family', row 2: campaign without a family"):
        score_families({"m": est}, blank)
    twice = pd.concat([truth, truth.head(1).assign(family="g")])
    with pytest.raises(DataError, match="more than one family"):
        score_families({"m": est}, twice)


@settings(max_examples=80, deadline=None)
@given(
    data=st.data(),
    sizes=st.lists(st.integers(1, 6), min_size=1, max_size=4).filter(lambda s: max(s) >= 2),
)
def test_family_split_error_ignores_each_family_level_and_lies_in_zero_two(
    data: st.DataObject, sizes: list[int]
) -> None:
    n = sum(sizes)
    family = np.repeat([f"f{i}" for i in range(len(sizes))], sizes)
    true = data.draw(arrays(np.float64, n, elements=st.floats(1e-3, 1e4)))
    est = data.draw(arrays(np.float64, n, elements=st.floats(1e-3, 1e4)))
    # One level per family: rescaling a whole family's estimate leaves its split alone.
    levels = data.draw(arrays(np.float64, len(sizes), elements=st.floats(1e-3, 1e3)))
    level = np.repeat(levels, sizes)
    names = [f"c{k}" for k in range(n)]
    truth = pd.DataFrame({"channel": "a", "campaign": names, "family": family})
    truth["contribution"] = true

    def frame(values: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame({"channel": "a", "campaign": names, "contribution": values})

    got = score_families(
        {"est": frame(est), "scaled": frame(est * level), "truth": frame(true * level)}, truth
    )
    assert len(got) == 3 * sum(s >= 2 for s in sizes)
    by = {m: part.reset_index(drop=True) for m, part in got.groupby("method")}
    np.testing.assert_allclose(
        by["scaled"]["split_error"], by["est"]["split_error"], rtol=1e-9, atol=1e-12
    )
    assert ((by["est"]["split_error"] >= 0) & (by["est"]["split_error"] <= 2 + 1e-12)).all()
    np.testing.assert_allclose(by["truth"]["split_error"], 0.0, atol=1e-12)
    spear = by["truth"]["spearman"].to_numpy()
    assert np.all(np.isnan(spear) | np.isclose(spear, 1.0))


@settings(max_examples=50, deadline=None)
@given(
    x=arrays(
        np.float64,
        st.tuples(st.integers(2, 30), st.integers(2, 5)),
        elements=st.integers(0, 1000).map(float),
    ),
    scale=st.floats(1e-2, 1e2),
    shift=st.floats(0.0, 1e2),
)
def test_mean_pairwise_correlation_is_a_bounded_affine_invariant(
    x: np.ndarray, scale: float, shift: float
) -> None:
    r = mean_pairwise_correlation(x)
    if np.isnan(r):
        return
    assert -1 - 1e-12 <= r <= 1 + 1e-12
    other = mean_pairwise_correlation(x * scale + shift)
    assert other == pytest.approx(r, abs=1e-6)


def test_family_share_intervals_exact_toy() -> None:
    truth, _, _ = _toy()
    rows = pd.DataFrame({"channel": "a", "campaign": ["x", "y", "z", "u", "v", UNATTRIBUTED]})
    true = np.array([1.0, 3.0, 6.0, 2.0, 2.0, 0.0])
    # Draws: the truth at random levels (family f exact), and g always split 1 : 3.
    levels = np.array([0.5, 1.0, 2.0, 4.0])[:, None]
    draws = true[None, :] * levels
    draws[:, 3:5] = np.array([1.0, 3.0]) * levels
    got = score_family_split(rows, draws, truth, ci=0.9).set_index("family")
    assert list(got.index) == ["f", "g"]
    assert got.loc["f", "split_coverage"] == 1.0  # shares equal to the truth in every draw
    assert np.isnan(got.loc["f", "split_abs_z"])  # no spread
    assert got.loc["g", "split_coverage"] == 0.0
    assert got.loc["g", "split_rel_width"] == 0.0
    with pytest.raises(DataError, match="campaign 'q'"):
        score_family_split(rows.replace({"campaign": {"x": "q"}}), draws, truth)
    with pytest.raises(ValueError, match="shape"):
        score_family_split(rows, draws[:, :3], truth)


def test_simulated_truth_scores_itself_perfectly(ima_world: SimulatedMMM) -> None:
    truth = ima_world.campaign_params
    est = truth[["channel", "campaign", "contribution"]]
    got = score_families({"truth": est}, truth, ima_world.daily_campaign)
    sizes = truth.groupby(["channel", "family"]).size()
    assert len(got) == int((sizes >= 2).sum()) > 0
    np.testing.assert_allclose(got["split_error"], 0.0, atol=1e-12)
    np.testing.assert_allclose(got["spearman"], 1.0)
    assert got["mean_corr"].between(-1, 1).all()


def test_report_section_shows_the_split_inside_families() -> None:
    from mixlens.report.html import Table
    from mixlens.report.ima import ima_section

    truth = pd.DataFrame(
        {
            "channel": "a",
            "campaign": ["x", "y", "z"],
            "family": ["f", "f", "f"],
            "contribution": [1.0, 3.0, 4.0],
        }
    )
    est = truth.drop(columns="family").assign(contribution=[2.0, 2.0, 4.0])
    scores = score_families({"ima": est, "spend share": truth.drop(columns="family")}, truth)
    families = summarise_families(scores)
    fit = pd.DataFrame({"channel": ["a"], "weekly_mape": [1.0], "r2": [0.99]})
    campaign_scores = pd.DataFrame(
        {"method": ["ima"], "channel": ["a"], "n_campaigns": [3], "spearman": [1.0],
         "total_error": [0.0]}
    )  # fmt: skip
    section = ima_section(fit, campaign_scores, families=families)
    tables = [b.frame for b in section.blocks if isinstance(b, Table)]
    table = next(t for t in tables if "band" in t.columns).set_index("band")
    assert table.loc["all", "ima"] == 0.25  # |2/8 - 1/8| + |2/8 - 3/8| = 0.25
    assert table.loc["all", "spend share"] == 0.0
