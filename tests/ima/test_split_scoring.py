"""Split-interval scoring: the intervals of campaigns' shares of their channel."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from tests.ima.conftest import true_weekly

from mixlens.data.simulate.mmm import SimulatedMMM
from mixlens.ima.evaluate import campaign_shares, score_split
from mixlens.ima.fit import fit_ima
from mixlens.ima.results import UNATTRIBUTED


@settings(max_examples=100, deadline=None)
@given(
    draws=arrays(
        np.float64,
        st.tuples(st.integers(1, 20), st.integers(1, 8)),
        elements=st.one_of(st.just(0.0), st.floats(1e-3, 1e6)),  # no subnormals
    ),
    scale=st.floats(1e-3, 1e3),
)
def test_shares_sum_to_one_per_draw_and_ignore_the_level(draws: np.ndarray, scale: float) -> None:
    shares = campaign_shares(draws)
    positive = draws.sum(axis=1) > 0
    np.testing.assert_allclose(shares[positive].sum(axis=1), 1.0, rtol=1e-12)
    assert np.all(shares[positive] >= 0)
    assert np.isnan(shares[~positive]).all()
    # Each draw's level (e.g. the MMM's channel total in that draw) drops out.
    levels = np.linspace(1.0, scale, draws.shape[0])[:, None]
    np.testing.assert_allclose(
        campaign_shares(draws * levels)[positive], shares[positive], rtol=1e-9
    )


def _channel(values: list[float], channel: str = "a") -> pd.DataFrame:
    names = [f"c{k}" for k in range(len(values))]
    return pd.DataFrame({"channel": channel, "campaign": names, "contribution": values})


@settings(max_examples=50, deadline=None)
@given(
    truth=arrays(np.float64, st.integers(1, 8), elements=st.floats(0.01, 1e4)),
    n_draws=st.integers(1, 30),
    level=arrays(np.float64, 30, elements=st.floats(0.1, 10.0)),
)
def test_draws_at_the_truth_cover_it_whatever_the_channel_level(
    truth: np.ndarray, n_draws: int, level: np.ndarray
) -> None:
    # Every draw has the true split, at its own channel level, with some unattributed.
    frame = _channel(list(truth))
    rows = pd.concat(
        [
            frame[["channel", "campaign"]],
            pd.DataFrame({"channel": ["a"], "campaign": [UNATTRIBUTED]}),
        ],
        ignore_index=True,
    )
    draws = np.concatenate([truth[None, :] * level[:n_draws, None], level[:n_draws, None]], axis=1)
    score = score_split(rows, draws, frame).iloc[0]
    assert score["n_campaigns"] == truth.size
    assert score["split_coverage"] == 1.0
    np.testing.assert_allclose(score["split_rel_width"], 0.0, atol=1e-9)


def test_coverage_matches_the_nominal_mass_when_draws_come_from_the_truths_law() -> None:
    # Truths drawn from the same law as the draws: about ci of them fall inside.
    rng = np.random.default_rng(0)
    n_campaigns, n_draws = 400, 2000
    weight = rng.uniform(1.0, 5.0, n_campaigns)
    sample = rng.gamma(50.0 * weight, 1.0, size=(n_draws + 1, n_campaigns))
    truth = _channel(list(sample[0]))
    score = score_split(truth[["channel", "campaign"]], sample[1:], truth, ci=0.9).iloc[0]
    # Binomial(400, 0.9) sd 0.015; shares of one draw are slightly dependent.
    assert abs(score["split_coverage"] - 0.9) < 0.05
    # |mean - true| / sd of a normal-ish law: median about 0.67.
    assert 0.55 < score["split_abs_z"] < 0.8


def test_overconfident_draws_miss_and_report_a_large_z() -> None:
    truth = _channel([1.0, 2.0, 3.0, 4.0])
    rng = np.random.default_rng(1)
    # Draws tightly around the wrong split (the reverse order).
    wrong = np.array([4.0, 3.0, 2.0, 1.0]) * (1 + 0.01 * rng.standard_normal((200, 4)))
    score = score_split(truth[["channel", "campaign"]], wrong, truth).iloc[0]
    assert score["split_coverage"] == 0.0
    assert score["split_abs_z"] > 10
    assert score["split_rel_width"] < 0.2


def test_channels_are_scored_separately_and_in_row_order() -> None:
    truth = pd.concat([_channel([1.0, 1.0], "b"), _channel([1.0, 3.0], "a")])
    rows = truth[["channel", "campaign"]].reset_index(drop=True)
    draws = np.tile([1.0, 1.0, 1.0, 3.0], (10, 1))
    draws[:, 2:] *= np.linspace(1, 2, 10)[:, None]  # channel a's level varies
    score = score_split(rows, draws, truth).set_index("channel")
    assert list(score.index) == ["b", "a"]
    assert score["split_coverage"].tolist() == [1.0, 1.0]


def test_campaign_missing_from_the_truth_has_true_share_zero() -> None:
    truth = _channel([1.0, 3.0])
    rows = pd.DataFrame({"channel": "a", "campaign": ["c0", "c1", "new"]})
    draws = np.tile([1.0, 3.0, 0.0], (5, 1))
    score = score_split(rows, draws, truth).iloc[0]
    assert score["split_coverage"] == 1.0
    # A zero true share has no relative width; the others are zero.
    assert score["split_rel_width"] == 0.0


def test_degenerate_inputs() -> None:
    truth = _channel([1.0, 3.0])
    rows = truth[["channel", "campaign"]]
    # Every draw's campaigns sum to zero: nothing to score.
    nothing = score_split(rows, np.zeros((4, 2)), truth).iloc[0]
    assert np.isnan(nothing["split_coverage"])
    # A channel the truth does not know: no true shares.
    other = rows.assign(channel="z")
    assert np.isnan(score_split(other, np.ones((4, 2)), truth).iloc[0]["split_coverage"])
    with pytest.raises(ValueError, match="shape"):
        score_split(rows, np.ones((4, 3)), truth)
    with pytest.raises(ValueError, match="ci"):
        score_split(rows, np.ones((4, 2)), truth, ci=1.0)


def test_scores_an_ima_result_whose_own_mean_split_is_covered(ima_world: SimulatedMMM) -> None:
    # The posterior's own mean split lies inside its intervals; a misaligned pairing of
    # rows and draws (or of campaigns and truth) would not.
    weekly = true_weekly(ima_world)
    channels = ["social", "display"]
    weekly = weekly[weekly["channel"].isin(channels)]
    campaigns = ima_world.daily_campaign[ima_world.daily_campaign["channel"].isin(channels)]
    res = fit_ima(
        weekly, {c: None for c in channels}, campaigns,
        model="linear", grain="daily", draws=30, advi_steps=200, seed=0,
    )  # fmt: skip
    camps = res.campaigns()
    own = camps[camps["campaign"] != UNATTRIBUTED].rename(
        columns={"contribution_mean": "contribution"}
    )
    score = score_split(res.rows, res.total_draws, own, ci=res.ci).set_index("channel")
    assert list(score.index) == channels
    expected = own.groupby("channel", sort=False).size()
    assert score["n_campaigns"].to_dict() == expected.to_dict()
    assert (score["split_coverage"] >= 0.9).all()
    assert (score["split_abs_z"] < 0.5).all()
    # Reversing each channel's campaigns against the truth breaks it.
    shuffled = own.assign(
        contribution=own.groupby("channel")["contribution"].transform(lambda s: s.to_numpy()[::-1])
    )
    wrong = score_split(res.rows, res.total_draws, shuffled, ci=res.ci)
    assert (wrong["split_coverage"] < 0.5).all()


def test_mmm_draws_pair_with_every_chain_not_the_first_ones() -> None:
    """Fewer regression draws than MMM draws: the pairing spreads over all MMM draws."""
    from mixlens.ima import fit as ima_fit

    n_mmm, n_draws, period = 40, 10, 7
    rng = np.random.default_rng(0)
    y = rng.uniform(1.0, 2.0, 2 * period)
    design = type("Design", (), {"y": y})()
    parts = np.repeat(y[None, :, None] / 2.0, n_draws, axis=0).repeat(2, axis=2)
    # MMM draws: the first half (say chain 0) at level 1, the second half at level 3
    weekly = y.reshape(-1, period).sum(axis=1)
    mmm = np.concatenate([np.tile(weekly, (n_mmm // 2, 1)), np.tile(3 * weekly, (n_mmm // 2, 1))])
    out = ima_fit.mmm_deviation(design, parts, y, mmm, period=period)  # type: ignore[arg-type]
    totals = out.sum(axis=1)
    # both halves are drawn: the deviations take two values, half of the draws each
    assert len(np.unique(np.round(totals, 9))) == 2
    assert np.sum(totals > 0) == n_draws // 2
