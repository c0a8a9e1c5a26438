"""Closed loop: the sequential update is exact Bayes, plans honour the budget, regret."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mixlens.allocation.closed_loop import (
    POLICIES,
    LoopWorld,
    _Posterior,
    simulate_closed_loop,
)
from mixlens.cli import app
from mixlens.data.simulate.mmm import MMMWorldConfig
from mixlens.errors import DataError


@pytest.fixture(scope="module")
def world() -> LoopWorld:
    config = MMMWorldConfig(weeks=60, n_channels=5)
    return LoopWorld.from_simulator(config, seed=3, horizon=52, shift_week=5)


def test_sequential_update_equals_batch_posterior() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 3))
    y = x @ np.array([1.0, -2.0, 0.5]) + rng.normal(0, 0.3, 30)
    m0, p0 = np.array([0.2, 0.1, 0.0]), np.eye(3) * 4.0
    post = _Posterior(m0, p0)
    for row, value in zip(x, y, strict=True):
        post.update(row, float(value), 0.3, forget=1.0)
    precision = p0 + x.T @ x / 0.09
    mean = np.linalg.solve(precision, p0 @ m0 + x.T @ y / 0.09)
    np.testing.assert_allclose(post.precision, precision, rtol=1e-10)
    np.testing.assert_allclose(post.mean, mean, rtol=1e-8)


def test_forgetting_discounts_old_data() -> None:
    post = _Posterior(np.zeros(1), np.eye(1))
    for _ in range(200):
        post.update(np.ones(1), 1.0, 1.0, forget=0.5)
    # Steady state: precision p = 0.5 p + 0.5 + 1, so p = 3.
    assert post.precision[0, 0] == pytest.approx(3.0)


def test_loop_runs_every_policy_within_budget(world: LoopWorld) -> None:
    result = simulate_closed_loop(world, weeks=10, seed=1, delivery_cv=0.0)
    frame = result.to_frame()
    assert list(frame["policy"].unique()) == list(POLICIES)
    assert frame.groupby("policy").size().eq(10).all()
    budget = float(world.response.current.sum())
    spend_cols = [c for c in frame.columns if c.startswith("spend_")]
    np.testing.assert_allclose(frame[spend_cols].sum(axis=1), budget, rtol=1e-9)
    assert (frame[spend_cols] >= -1e-9).all().all()
    oracle = frame[frame["policy"] == "oracle"]
    assert (oracle["cumulative_regret"] == 0).all()
    historical = frame[frame["policy"] == "historical"]
    np.testing.assert_allclose(historical[spend_cols].iloc[0], world.response.current)
    # The oracle re-plans at the shift (week 5): its plan moves off the shifted channel.
    shifted = f"spend_{world.shift_channel}"
    assert oracle[shifted].iloc[-1] < oracle[shifted].iloc[0]
    summary = result.summary(checkpoints=(5, 10))
    assert set(summary["policies"]) == set(POLICIES)
    assert summary["policies"]["oracle"]["regret_at"] == {"5": 0.0, "10": 0.0}
    # With known shapes and 30% prior error, the static optimiser beats the historical split.
    policies = summary["policies"]
    assert policies["static"]["cumulative_profit"] > policies["historical"]["cumulative_profit"]


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
    with pytest.raises(DataError, match="forget"):
        simulate_closed_loop(world, forget=0.0)
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
