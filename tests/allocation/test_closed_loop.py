"""Closed loop: exact sequential Bayes, change detection, plans honour budget and ramp, regret."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from mixlens.allocation.closed_loop import POLICIES, LoopWorld, simulate_closed_loop
from mixlens.allocation.learner import CoefficientPosterior, LearnerConfig, jump_hypotheses
from mixlens.cli import app
from mixlens.data.simulate.mmm import MMMWorldConfig
from mixlens.errors import DataError


@pytest.fixture(scope="module")
def world() -> LoopWorld:
    config = MMMWorldConfig(weeks=60, n_channels=5)
    return LoopWorld.from_simulator(config, seed=3, horizon=52, shift_week=5)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 4), weeks=st.integers(1, 30))
def test_sequential_update_equals_batch_posterior(seed: int, n: int, weeks: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(weeks, n))
    y = x @ rng.normal(size=n) + rng.normal(0, 0.3, weeks)
    m0, p0 = rng.normal(size=n), np.eye(n) * 4.0
    post = CoefficientPosterior(m0, p0)
    for row, value in zip(x, y, strict=True):
        assert not post.update(row, float(value), noise_sd=0.3)
    precision = p0 + x.T @ x / 0.09
    mean = np.linalg.solve(precision, p0 @ m0 + x.T @ y / 0.09)
    np.testing.assert_allclose(post.precision, precision, rtol=1e-8)
    np.testing.assert_allclose(post.mean, mean, rtol=1e-6, atol=1e-8)


def test_forgetting_discounts_old_data() -> None:
    post = CoefficientPosterior(np.zeros(1), np.eye(1))
    for _ in range(200):
        post.update(np.ones(1), 1.0, noise_sd=1.0, forget=0.5)
    # Steady state: precision p = 0.5 p + 0.5 + 1, so p = 3.
    assert post.precision[0, 0] == pytest.approx(3.0)


def _linear_stream(weeks: int, change: int | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Three channels, regressors varying +-30% around 100, coefficient 1; channel 1 -> 0.3."""
    rng = np.random.default_rng(seed)
    phi = 100.0 * rng.uniform(0.7, 1.3, (weeks, 3))
    coef = np.ones((weeks, 3))
    if change is not None:
        coef[change:, 1] = 0.3
    return phi, (phi * coef).sum(axis=1) + rng.normal(0.0, 5.0, weeks)


def _detector() -> CoefficientPosterior:
    prior = np.ones(3)
    return CoefficientPosterior(
        prior,
        np.diag((0.3 * prior) ** -2),
        jumps=jump_hypotheses(prior, prior_sd=0.3, jump_sd=0.5, sparse=0.5),
        threshold=5.0,
    )


def test_change_is_detected_and_located() -> None:
    phi, y = _linear_stream(60, change=30, seed=0)
    post = _detector()
    for row, value in zip(phi, y, strict=True):
        post.update(row, float(value), noise_sd=5.0)
    # Alarm dated to the change week (1-based 31), within a week.
    assert len(post.changes) == 1
    assert abs(post.changes[0] - 31) <= 1
    # The branch "channel 1 jumped" (index 2: after the dense one and channel 0) wins.
    assert int(np.argmax(post.weights)) == 2
    np.testing.assert_allclose(post.mean, [1.0, 0.3, 1.0], atol=0.05)


def test_no_false_alarm_on_a_stationary_stream() -> None:
    phi, y = _linear_stream(300, change=None, seed=1)
    post = _detector()
    for row, value in zip(phi, y, strict=True):
        post.update(row, float(value), noise_sd=5.0)
    assert post.changes == []
    np.testing.assert_allclose(post.mean, 1.0, atol=0.05)


def test_learner_settings_are_checked() -> None:
    with pytest.raises(DataError, match="forget"):
        LearnerConfig(forget=0.0)
    with pytest.raises(DataError, match="sparse"):
        LearnerConfig(sparse=1.5)
    with pytest.raises(DataError, match="horizon"):
        LearnerConfig(horizon=-1)
    hyps = jump_hypotheses(np.ones(3), prior_sd=0.3, jump_sd=0.5, sparse=0.5)
    assert sum(p for _, p in hyps) == pytest.approx(1.0)


def test_loop_runs_every_policy_within_budget_and_ramp(world: LoopWorld) -> None:
    learner = LearnerConfig(step=0.25)
    result = simulate_closed_loop(world, weeks=10, seed=1, delivery_cv=0.0, learner=learner)
    frame = result.to_frame()
    assert list(frame["policy"].unique()) == list(POLICIES)
    assert frame.groupby("policy").size().eq(10).all()
    budget = float(world.response.current.sum())
    spend_cols = [c for c in frame.columns if c.startswith("spend_")]
    np.testing.assert_allclose(frame[spend_cols].sum(axis=1), budget, rtol=1e-9)
    assert (frame[spend_cols] >= -1e-9).all().all()
    # Adaptive plans move each channel at most `step * max(last, budget / C)` a week.
    for policy in ("greedy", "thompson", "directed"):
        plans = frame[frame["policy"] == policy][spend_cols].to_numpy()
        static = frame[frame["policy"] == "static"][spend_cols].to_numpy()[0]
        last = np.vstack([static, plans[:-1]])
        room = 0.25 * np.maximum(last, budget / len(spend_cols))
        assert (np.abs(plans - last) <= room * (1 + 1e-6) + 1e-6).all()
    oracle = frame[frame["policy"] == "oracle"]
    assert (oracle["cumulative_regret"] == 0).all()
    historical = frame[frame["policy"] == "historical"]
    np.testing.assert_allclose(historical[spend_cols].iloc[0], world.response.current)
    static = frame[frame["policy"] == "static"]
    assert (static[spend_cols].nunique() == 1).all()  # the week-0 plan, kept
    # The oracle re-plans at the shift (week 5): its plan moves off the shifted channel.
    shifted = f"spend_{world.shift_channel}"
    assert oracle[shifted].iloc[-1] < oracle[shifted].iloc[0]
    # Learners report their posterior mean; the others have none.
    assert frame.loc[frame["policy"] == "greedy", "coef_tv"].notna().all()
    assert frame.loc[frame["policy"] == "static", "coef_tv"].isna().all()
    # ... and its standard deviation, below the prior's (0.3 of the initial model) and
    # narrowing week by week until the shift is detected.
    prior = np.array(list(result.meta["initial_model"].values()))
    sd_cols = [f"sd_{c}" for c in result.meta["channels"]]
    sd = frame.loc[frame["policy"] == "greedy", sd_cols].to_numpy()
    assert np.all(sd[0] < 0.3 * prior) and np.all(np.diff(sd[:4], axis=0) <= 1e-12)
    assert frame.loc[frame["policy"] == "static", sd_cols].isna().all().all()
    summary = result.summary(checkpoints=(5, 10))
    assert set(summary["policies"]) == set(POLICIES)
    assert summary["policies"]["oracle"]["regret_at"] == {"5": 0.0, "10": 0.0}
    policies = summary["policies"]
    assert policies["static"]["cumulative_profit"] > policies["historical"]["cumulative_profit"]


def test_learner_finds_the_shift_and_beats_static_after_it(world: LoopWorld) -> None:
    result = simulate_closed_loop(world, weeks=16, seed=2, policies=("static", "greedy"))
    frame = result.to_frame()
    assert (
        result.meta["changes_detected"]["greedy"]
        and 5 <= (result.meta["changes_detected"]["greedy"][0]) <= 7
    )
    regret = frame.pivot(index="week", columns="policy", values="cumulative_regret")
    after = regret.loc[16] - regret.loc[4]
    assert after["greedy"] < after["static"]
    greedy = frame[frame["policy"] == "greedy"].set_index("week")
    shifted = f"coef_{world.shift_channel}"
    assert greedy.loc[16, shifted] < greedy.loc[4, shifted] - 0.2


def test_directed_policy_tests_where_it_pays_and_learns_faster(world: LoopWorld) -> None:
    calm = replace(world, shift_week=10**6)
    policies = ("greedy", "directed")
    never = simulate_closed_loop(
        calm, weeks=8, seed=5, policies=policies, learner=LearnerConfig(horizon=0)
    ).to_frame()
    spend_cols = [c for c in never.columns if c.startswith("spend_")]
    plans = {p: never[never["policy"] == p][spend_cols].to_numpy() for p in policies}
    # Nothing left to learn for: the directed plan is the greedy one.
    np.testing.assert_allclose(plans["directed"], plans["greedy"], rtol=1e-9)
    result = simulate_closed_loop(
        calm, weeks=12, seed=5, policies=policies, learner=LearnerConfig(horizon=104)
    )
    frame = result.to_frame()
    plans = {p: frame[frame["policy"] == p][spend_cols].to_numpy() for p in policies}
    budget = float(world.response.current.sum())
    moved = np.abs(plans["directed"] - plans["greedy"]).sum(axis=1) / budget
    assert (moved > 0.02).sum() >= 3  # in-market tests in several of the first 12 weeks
    # ... which narrow the posterior faster than greedy's plans do.
    prior = np.array(list(result.meta["initial_model"].values()))
    sd_cols = [f"sd_{c}" for c in result.meta["channels"]]
    rel = {
        p: (frame[frame["policy"] == p][sd_cols].to_numpy() / prior).mean(axis=1) for p in policies
    }
    assert rel["directed"][-1] < rel["greedy"][-1]


def test_delivery_noise_is_common_to_policies(world: LoopWorld) -> None:
    frame = simulate_closed_loop(
        world, weeks=4, seed=1, policies=("historical",), delivery_cv=0.2
    ).to_frame()
    hist = frame[frame["policy"] == "historical"]
    spend_cols = [c for c in frame.columns if c.startswith("spend_")]
    ratio = hist[spend_cols].to_numpy() / world.response.current
    assert ratio.std() > 0.05
    assert abs(np.log(ratio).mean()) < 0.2


def test_bad_settings_are_named(world: LoopWorld) -> None:
    with pytest.raises(DataError, match="unknown policy 'bandit'"):
        simulate_closed_loop(world, policies=("bandit",))
    with pytest.raises(DataError, match="weeks"):
        simulate_closed_loop(world, weeks=0)
    with pytest.raises(DataError, match="unknown shift channel"):
        LoopWorld.from_simulator(MMMWorldConfig(weeks=60), seed=1, shift_channel="nope")


def test_cli_allocate_simulate(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["allocate", "simulate", "--weeks", "6", "--out", str(tmp_path), "--seed", "2"]
    )
    assert result.exit_code == 0, result.output
    regret = pd.read_csv(tmp_path / "regret.csv")
    assert list(regret.columns[:8]) == [
        "week", "policy", "spend", "outcome", "observed", "profit",
        "cumulative_profit", "cumulative_regret",
    ]  # fmt: skip
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["meta"]["shift"]["week"] == 26
    assert summary["meta"]["learner"]["explore"] == 0.5
    assert summary["meta"]["learner"]["horizon"] is None  # the weeks left in the loop
    assert "directed" in set(regret["policy"])
    never = CliRunner().invoke(
        app,
        ["allocate", "simulate", "--weeks", "3", "--out", str(tmp_path / "h"), "--horizon", "0"],
    )
    assert never.exit_code == 0, never.output
    summary = json.loads((tmp_path / "h" / "summary.json").read_text())
    assert summary["meta"]["learner"]["horizon"] == 0
    bad = CliRunner().invoke(
        app, ["allocate", "simulate", "--weeks", "2", "--out", str(tmp_path), "--forget", "2"]
    )
    assert bad.exit_code == 2
    assert "forget" in bad.output
