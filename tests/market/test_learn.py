"""Learners, baselines, evaluation and the CLI on a tiny market."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mixlens.allocation.market import (
    MarketConfig,
    MarketEnv,
    evaluate_policies,
    optimiser_policy,
    oracle_policy,
    run_episode,
    static_policy,
)
from mixlens.allocation.market.learn import TrainConfig, load_policy, train
from mixlens.cli import app

TINY = MarketConfig(users=200, periods=5)


@pytest.mark.parametrize("mode", ["independent", "ctde", "hierarchical"])
def test_training_runs_saves_and_reloads(mode: str, tmp_path: Path) -> None:
    config = TrainConfig(mode=mode, updates=2, batch=2, seed=3)  # type: ignore[arg-type]
    policy = train(TINY, config)
    assert policy.result is not None and len(policy.result.curve) == 2
    policy.save(tmp_path)
    loaded = load_policy(tmp_path)
    obs, _ = MarketEnv(TINY).reset(seed=0)
    a, b = policy.act(obs), loaded.act(obs)
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_allclose(a[key], b[key])
    assert np.isclose(a["portfolio"].sum(), 1.0)


def test_untrained_policy_starts_at_the_static_plan() -> None:
    policy = train(TINY, TrainConfig(updates=1, batch=1, lr=1e-12))
    obs, _ = MarketEnv(TINY).reset(seed=0)
    actions = policy.act(obs)
    np.testing.assert_allclose(actions["portfolio"], TINY.static_shares, atol=1e-4)
    np.testing.assert_allclose(
        actions["bidder_paid_search_generic"], [TINY.static_bids[0]], rtol=1e-4
    )


def test_training_is_seeded() -> None:
    a = train(TINY, TrainConfig(updates=2, batch=2, seed=5))
    b = train(TINY, TrainConfig(updates=2, batch=2, seed=5))
    assert a.result is not None and b.result is not None
    assert [r["profit"] for r in a.result.curve] == [r["profit"] for r in b.result.curve]


def test_baselines_spend_within_budget_and_oracle_beats_static_in_training() -> None:
    static = static_policy(TINY)
    optimiser = optimiser_policy(TINY, episodes=5)
    oracle = oracle_policy(TINY, seeds=(1, 2), evaluations=25)
    assert np.isclose(sum(optimiser.shares), 1.0)
    env = MarketEnv(TINY)
    # the oracle is never worse than its start (the static plan) on its own seeds
    start = np.mean([run_episode(env, static, seed=s).profit for s in (1, 2)])
    found = np.mean([run_episode(env, oracle, seed=s).profit for s in (1, 2)])
    assert found >= start - 1e-9


def test_oracle_keeps_its_start_unless_the_plan_found_beats_it_on_validation_seeds() -> None:
    start = optimiser_policy(TINY, episodes=5)
    env = MarketEnv(TINY)
    validation = (7, 8, 9)
    oracle = oracle_policy(
        TINY, seeds=(1,), evaluations=15, start=start, validation_seeds=validation
    )
    kept = np.mean([run_episode(env, start, seed=s).profit for s in validation])
    found = np.mean([run_episode(env, oracle, seed=s).profit for s in validation])
    is_start = oracle.shares == start.shares and oracle.bids == start.bids
    assert is_start or found >= kept


def test_evaluation_table_and_intervals() -> None:
    res = evaluate_policies(TINY, {"static": static_policy(TINY)}, seeds=[1, 2, 3])
    table = res.to_frame()
    row = table.iloc[0]
    assert row["profit_lo"] <= row["profit_mean"] <= row["profit_hi"]
    assert row["profit_mean"] == pytest.approx(res.episodes["profit"].mean())
    assert row["roi_lo"] <= row["roi_mean"] <= row["roi_hi"]
    assert row["roi_mean"] == pytest.approx(res.episodes["roi"].mean())
    assert set(res.episodes["seed"]) == {1, 2, 3}


def test_cli_train_and_evaluate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import mixlens.allocation.market.run as run

    monkeypatch.setattr(run, "MarketConfig", lambda **kw: MarketConfig(users=200, periods=4, **kw))
    runner = CliRunner()
    pol, out = tmp_path / "pol", tmp_path / "ev"
    result = runner.invoke(
        app, ["market", "train", "--out", str(pol), "--updates", "2", "--batch", "2"]
    )
    assert result.exit_code == 0, result.output
    assert (pol / "policy.pt").exists() and (pol / "policy.json").exists()
    args = ["market", "evaluate", "--policy", str(pol), "--out", str(out), "--seeds", "3"]
    result = runner.invoke(app, [*args, "--history", "3", "--oracle-evaluations", "3"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "evaluation.csv")
    assert list(table.columns[:7]) == [
        "policy",
        "profit_mean",
        "profit_lo",
        "profit_hi",
        "roi_mean",
        "roi_lo",
        "roi_hi",
    ]
    assert table["policy"].tolist() == ["static", "optimiser", "oracle", "learned"]
    assert (table["roi_lo"] < table["roi_mean"]).all()
    assert (table["roi_mean"] < table["roi_hi"]).all()


def test_cli_bad_mode_and_missing_policy_exit_2(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["market", "train", "--out", str(tmp_path), "--mode", "x"])
    assert result.exit_code == 2
    result = runner.invoke(app, ["market", "evaluate", "--policy", str(tmp_path / "none")])
    assert result.exit_code == 2
    assert "policy.json" in result.stderr


def _batch(config: TrainConfig):  # one batch of the tiny market at the initial policy
    import torch

    from mixlens.allocation.market import learn

    torch.manual_seed(0)
    agents = learn._Agents(TINY, config)
    env = MarketEnv(TINY)
    obs, _ = env.reset(seed=1)
    p_list, b_list, a_list, rewards = [], [], [], []
    names = TINY.channel_names
    while env.agents:
        p = torch.as_tensor(obs["portfolio"][None], dtype=torch.float32)
        b = torch.as_tensor(np.stack([obs[f"bidder_{n}"] for n in names])[None])
        with torch.no_grad():
            logits, bids = agents.means(p, b)
            a = torch.cat([logits, bids], dim=1) + 0.3 * torch.randn(1, 6)
        acts = learn._to_actions(TINY, torch.softmax(a[:, :3], 1)[0].numpy(), a[0, 3:].numpy())
        obs, r, _, _, _ = env.step(acts)
        p_list.append(p)
        b_list.append(b)
        a_list.append(a)
        rewards.append([r["portfolio"], *(r[f"bidder_{n}"] for n in names)])
    r_arr = np.asarray(rewards).T[None] / TINY.budget
    return agents, learn._Batch.build(agents, config, p_list, b_list, a_list, r_arr)


def _actor_grad(agents, batch, config) -> np.ndarray:
    agents.zero_grad()
    batch.loss(agents, config).backward()
    grads = [q.grad.ravel() for q in agents.bidders.parameters() if q.grad is not None]
    return np.concatenate([g.numpy() for g in grads])


def test_ppo_first_step_is_the_policy_gradient_and_clipping_bites_later() -> None:
    import torch

    clipped, plain = TrainConfig(clip=0.2), TrainConfig(clip=0.0)
    agents, batch = _batch(clipped)
    # at the sampling policy every ratio is 1: the clipped and plain surrogates agree
    np.testing.assert_allclose(
        _actor_grad(agents, batch, clipped), _actor_grad(agents, batch, plain), rtol=1e-5
    )
    # far from the sampling policy, clipping removes the samples pushed past 1 +- eps
    with torch.no_grad():
        for net in agents.bidders:
            net[2].bias.add_(1.0)
    g_clip = np.linalg.norm(_actor_grad(agents, batch, clipped))
    g_plain = np.linalg.norm(_actor_grad(agents, batch, plain))
    assert g_clip < 0.5 * g_plain


def test_train_config_checks_ppo_settings() -> None:
    from mixlens.errors import DataError

    with pytest.raises(DataError, match="clip"):
        TrainConfig(clip=1.5)
    with pytest.raises(DataError, match="epochs"):
        TrainConfig(epochs=0)


def test_optimiser_sets_pacing_bids_that_spend_its_plan() -> None:
    from mixlens.allocation.market.baselines import optimiser_plan

    optimiser, plan = optimiser_plan(TINY, episodes=8, seed=2)
    assert optimiser.bids != TINY.static_bids
    assert all(0 <= b <= m for b, m in zip(optimiser.bids, TINY.max_bids, strict=True))
    assert TINY.budget * TINY.periods / 2 - 1e-6 <= plan.sum() <= TINY.budget * TINY.periods
    env = MarketEnv(TINY)
    spend = np.mean([run_episode(env, optimiser, seed=s).channel_spend for s in (4, 5, 6)], 0)
    assert spend.sum() <= TINY.budget * TINY.periods
    # the bids, read off demand curves fitted to 8 episodes, spend most of the plan
    assert spend.sum() >= 0.6 * plan.sum()
