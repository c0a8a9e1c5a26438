"""File-level entry points of ``mixlens market``: train to a folder, evaluate a folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mixlens.allocation.market.baselines import optimiser_policy, oracle_policy
from mixlens.allocation.market.config import MarketConfig, RewardKind
from mixlens.allocation.market.episode import MarketPolicy, static_policy
from mixlens.allocation.market.evaluate import evaluate_policies
from mixlens.data.io import write_table

__all__ = [
    "HELD_OUT_SEED",
    "ORACLE_SEEDS",
    "ORACLE_VALIDATION_SEEDS",
    "evaluate_to_dir",
    "train_to_dir",
]

#: Evaluation seeds start here; training and baseline fitting use other seeds.
HELD_OUT_SEED = 1_000_000
#: Episode seeds the oracle's search simulates (common random numbers).
ORACLE_SEEDS = (11, 12, 13, 14)
#: Episode seeds on which the oracle's plan must beat its start (the optimiser's plan).
ORACLE_VALIDATION_SEEDS = tuple(range(21, 29))

Progress = Callable[[str, float], None]


def train_to_dir(
    out_dir: Path,
    *,
    mode: str = "independent",
    updates: int = 250,
    batch: int = 8,
    seed: int = 0,
    reward: RewardKind = "profit",
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Train the market's agents and write ``policy.pt``, ``policy.json``, ``curve.csv``.

    Returns
    -------
    dict
        The run summary (also written as ``summary.json`` by the CLI).
    """
    from mixlens.allocation.market.learn import TrainConfig, train

    market = MarketConfig(reward=reward)
    config = TrainConfig(mode=mode, updates=updates, batch=batch, seed=seed)  # type: ignore[arg-type]

    def tick(update: int, profit: float) -> None:
        if progress is not None:
            progress(f"update {update}: profit {profit:,.0f}", update / updates)

    policy = train(market, config, progress=tick)
    files = policy.save(out_dir)
    assert policy.result is not None
    curve = pd.DataFrame(policy.result.curve)
    files.append(write_table(curve, out_dir / "curve.csv"))
    last = curve["profit"].tail(max(1, updates // 10)).mean()
    return {
        "seed": seed,
        "config": {
            "mode": mode,
            "updates": updates,
            "batch": batch,
            "reward": reward,
            "clip": config.clip,
            "epochs": config.epochs,
        },
        "files": [str(p) for p in files],
        "train_seconds": policy.result.seconds,
        "final_train_profit": float(last),
        "episodes": updates * batch,
    }


def evaluate_to_dir(
    policy_dir: Path,
    out_dir: Path,
    *,
    seeds: int = 20,
    history: int = 24,
    oracle_evaluations: int = 80,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Evaluate a trained policy beside static, optimiser and oracle on held-out seeds.

    Writes ``evaluation.csv`` (``policy, profit_mean, profit_lo, profit_hi, roi_mean``
    and ``spend_mean, n_seeds``), ``episodes.csv`` (per seed) and ``curve.csv`` (the
    policy's learning curve).
    """
    from mixlens.allocation.market.learn import load_policy

    learned = load_policy(policy_dir)
    market = learned.market
    say = progress or (lambda stage, fraction: None)
    say("optimiser: fit history", 0.0)
    optimiser = optimiser_policy(market, episodes=history, seed=1)
    say("oracle: simulate market", 0.15)
    oracle = oracle_policy(
        market,
        seeds=ORACLE_SEEDS,
        evaluations=oracle_evaluations,
        start=optimiser,
        validation_seeds=ORACLE_VALIDATION_SEEDS,
    )
    policies: dict[str, MarketPolicy] = {
        "static": static_policy(market),
        "optimiser": optimiser,
        "oracle": oracle,
        "learned": learned,
    }
    held_out = [HELD_OUT_SEED + k for k in range(seeds)]
    result = evaluate_policies(
        market,
        policies,
        seeds=held_out,
        progress=lambda f: say("evaluate", 0.3 + 0.7 * f),
    )
    table = result.to_frame()
    files = [
        write_table(table, out_dir / "evaluation.csv"),
        write_table(result.episodes, out_dir / "episodes.csv"),
    ]
    if learned.result is not None and learned.result.curve:
        files.append(write_table(pd.DataFrame(learned.result.curve), out_dir / "curve.csv"))
    best = table["policy"].iloc[int(np.argmax(table["profit_mean"].to_numpy()))]
    plans = {
        name: {"shares": list(p.shares), "bids": list(p.bids)}
        for name, p in (("optimiser", optimiser), ("oracle", oracle))
    }
    return {
        "files": [str(p) for p in files],
        "seeds": seeds,
        "best_policy": str(best),
        "profit": dict(zip(table["policy"], table["profit_mean"], strict=True)),
        "plans": plans,
    }
