"""The discrete-time hazard model: the truncation trap, credit rules, accuracy, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mixlens.data.schemas import validate_conversions, validate_touchpoints
from mixlens.data.simulate.journeys import (
    ChannelSpec,
    JourneyWorldConfig,
    SimulatedJourneys,
    simulate_journeys,
)
from mixlens.errors import DataError
from mixlens.mta import build_journeys, run_models
from mixlens.mta.evaluate import accuracy_against_truth
from mixlens.mta.hazard import (
    HazardFit,
    credit_arrays,
    fit_hazard,
    fit_logistic,
    hazard_attribution,
    weighted_auc,
)
from mixlens.mta.run import resolve_models

Logs = tuple[pd.DataFrame, pd.DataFrame]


def naive_user_counts(logs: Logs) -> dict[str, float]:
    """Logistic 'converted ever' on per-user exposure counts, histories cut at conversion."""
    tp, cv = logs
    paid = tp[tp["channel"] != "direct"]
    first = cv.groupby("user_id")["timestamp"].min()
    cut = paid["user_id"].map(first)
    before = paid[cut.isna() | (paid["timestamp"] <= cut)]
    users = pd.Index(pd.concat([paid["user_id"], cv["user_id"]]).unique())
    counts = pd.crosstab(before["user_id"], before["channel"]).reindex(users, fill_value=0)
    x = np.column_stack([np.ones(len(counts)), counts.to_numpy(dtype=np.float64)])
    y = users.isin(first.index).astype(np.float64)
    coef = fit_logistic(x, y, l2=1e-3).coef[1:]
    return dict(zip(counts.columns, coef, strict=True))


def test_naive_counts_fall_in_the_trap_and_the_hazard_does_not(
    mid_world: SimulatedJourneys, mid_logs: Logs
) -> None:
    # Every paid channel of the simulator has a positive causal effect.
    assert (mid_world.channel_truth.set_index("channel")["incremental_conversions"] > 0).sum() == 8
    naive = naive_user_counts(mid_logs)
    negative = sorted(c for c, b in naive.items() if b < 0)
    # Truncated histories: exposure "predicts" not converting for several real channels,
    # display and online video (two of the three largest true effects) among them.
    assert {"display", "online_video"} <= set(negative) and len(negative) >= 3
    free = fit_hazard(*mid_logs, nonnegative=False, seed=0)
    effects = free.channel_effects()
    assert set(effects) == set(naive)
    assert all(b > 0 for b in effects.values()), effects


def test_hazard_beats_correlational_models(
    mid_world: SimulatedJourneys, mid_fit: HazardFit, mid_logs: Logs
) -> None:
    jt = build_journeys(*mid_logs, lookback_days=30)
    frames = [r.to_frame() for r, _ in run_models(jt, ["last", "linear", "markov", "shapley"])]
    frames.append(hazard_attribution(mid_fit).to_frame())
    acc = accuracy_against_truth(pd.concat(frames), mid_world.channel_truth).set_index("model")
    others = acc.drop(index="logistic")
    assert acc.loc["logistic", "share_error"] < others["share_error"].min()
    assert acc.loc["logistic", "spearman"] > 0.5 > others["spearman"].max()
    assert acc.loc["logistic", "raw_count_error"] < others["raw_count_error"].min()


def test_credit_rules(mid_fit: HazardFit, mid_logs: Logs) -> None:
    result = hazard_attribution(mid_fit)
    frame = result.to_frame().set_index("channel")
    assert frame.loc["direct", "conversions"] == 0.0  # a session marker, not an exposure
    assert frame.index[-1] == "baseline"
    assert 0.3 < frame.loc["baseline", "share"] < 0.95
    assert frame["conversions"].sum() == pytest.approx(len(mid_logs[1]))
    assert frame["value"].sum() == pytest.approx(mid_logs[1]["value"].sum())
    base_share, removal = mid_fit.removal()
    assert ((base_share > 0) & (base_share <= 1 + 1e-12)).all() and (removal >= 0).all()
    d = mid_fit.diagnostics
    assert 0.6 < d["auc"] < 1 and 0 < d["log_loss"] < 0.1 and d["converged"]
    assert d["events"] <= len(mid_logs[1]) and 0 < d["nonevent_sampling_rate"] <= 1
    # Resampled conversions: every replicate conversion is fully credited.
    rows = np.array([0, 0, 5, 9], dtype=np.int64)
    conv, _, base, _ = credit_arrays(mid_fit, rows=rows)
    assert conv.sum() + base == pytest.approx(4.0)


def test_fit_logistic_bounds_and_weights() -> None:
    rng = np.random.default_rng(1)
    x = np.column_stack([np.ones(3000), rng.normal(size=(3000, 2))])
    y = (rng.random(3000) < 1 / (1 + np.exp(-(-0.5 + x[:, 1] - x[:, 2])))).astype(np.float64)
    bounded = fit_logistic(x, y, l2=0.0, lower=[None, 0.0, 0.0]).coef
    assert bounded[2] == pytest.approx(0.0, abs=1e-8) and bounded[1] > 0.5
    # Weights 2 equal duplicated rows.
    dup = fit_logistic(np.vstack([x, x]), np.concatenate([y, y]), l2=1.0).coef
    weighted = fit_logistic(x, y, np.full(3000, 2.0), l2=1.0).coef
    np.testing.assert_allclose(dup, weighted, atol=1e-4)


@settings(max_examples=30, deadline=None)
@given(
    score=st.lists(st.integers(0, 5), min_size=2, max_size=12),
    label=st.lists(st.booleans(), min_size=12, max_size=12),
)
def test_weighted_auc_matches_pairs(score: list[int], label: list[bool]) -> None:
    s = np.array(score, dtype=np.float64)
    y = np.array(label[: len(score)], dtype=np.float64)
    pos, neg = s[y == 1], s[y == 0]
    if len(pos) == 0 or len(neg) == 0:
        assert np.isnan(weighted_auc(s, y, np.ones(len(s))))
        return
    pairs = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    assert weighted_auc(s, y, np.ones(len(s))) == pytest.approx(pairs.mean())


def test_bad_input(mid_logs: Logs) -> None:
    tp, cv = mid_logs
    with pytest.raises(DataError, match="at least one conversion"):
        fit_hazard(tp, cv.iloc[:0])
    with pytest.raises(DataError, match="touchpoints"):
        fit_hazard(tp.iloc[:0], cv)
    with pytest.raises(DataError, match="half_lives"):
        fit_hazard(tp, cv, half_lives=(0.01,))
    with pytest.raises(DataError, match="lead_windows"):
        fit_hazard(tp, cv, lead_windows=(1.0, -2.0))


def test_path_tables_skip_the_hazard_models() -> None:
    assert "logistic" not in resolve_models(None, has_timing=False)
    assert "incremental" not in resolve_models(None, has_timing=True, has_logs=False)
    with pytest.raises(DataError, match="'logistic' needs touch timestamps"):
        resolve_models(["logistic"], has_timing=False)


def test_an_inert_short_lived_channel_gets_no_effect() -> None:
    """Controls and events measure stocks at comparable instants (case-base sampling).

    An inert channel with a 6-hour half-life, touched on the simulator's diurnal profile:
    measuring non-events' stocks at the end of each day (the earlier design) gave it log-odds
    -0.35 to -0.55 per fresh touch on seeds 1-3 of this world, as if exposure prevented
    conversions; with instants drawn over the time at risk it is within 0.3 of 0.
    """
    channels = (
        ChannelSpec("display", 1e-3, 7.0, 0.6, 0.03, 0.0, 0.1, ("d",)),
        ChannelSpec("inert", 0.0, 0.25, 1.0, 0.3, 0.0, 0.5, ("s",), "click"),
    )
    config = JourneyWorldConfig(
        users=6_000, n_channels=2, channels=channels, direct_session_hours=0
    )
    world = simulate_journeys(config, seed=2)
    tp, cv = validate_touchpoints(world.touchpoints), validate_conversions(world.conversions)
    fit = fit_hazard(tp, cv, seed=0, nonnegative=False, half_lives=(0.25, 2.0, 7.0))
    effects = fit.channel_effects()
    assert abs(effects["inert"]) < 0.3
    assert effects["display"] > 0.5
