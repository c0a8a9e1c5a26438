"""Train the market with RLlib's PPO through its PettingZoo wrapper, then evaluate it.

    pip install -e ".[market,neural,ray]"
    python benchmarks/market_rllib.py [--iterations 40] [--episodes 4] [--seeds 20]

The environment is the plain ``MarketEnv(MarketConfig())`` (3 channels, the journey world's
2,000 users, 52 weekly periods, budget 300 a period) wrapped by RLlib's
``ParallelPettingZooEnv``; one PPO module per agent (portfolio and three bidders), sampling
and learning in one process (``num_env_runners=0``, ``num_learners=0``, ``ray.init(num_cpus=2)``).
The trained modules then act deterministically on the held-out seeds of
``benchmarks/market_rl.py`` beside the static plan and the budget optimiser (same seeds, so
the figures compare with the ``market_rl`` table).
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np

from _results import peak_rss_mib, update_section
from mixlens.allocation.market import (
    MarketConfig,
    MarketPolicy,
    evaluate_policies,
    optimiser_policy,
    static_policy,
)
from mixlens.allocation.market.rllib import train_rllib
from mixlens.allocation.market.run import HELD_OUT_SEED


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=40)
    parser.add_argument("--episodes", type=int, default=4, help="episodes per iteration")
    parser.add_argument("--seeds", type=int, default=20)
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # ray's deprecation notices
    market = MarketConfig()

    def tick(iteration: int, profit: float) -> None:
        print(f"iteration {iteration}: training profit {profit:,.0f}", flush=True)

    start = time.perf_counter()
    learned, curve = train_rllib(
        market, iterations=args.iterations, episodes_per_iteration=args.episodes, progress=tick
    )
    train_s = time.perf_counter() - start
    load = os.getloadavg()[0]
    policies: dict[str, MarketPolicy] = {
        "static": static_policy(market),
        "optimiser": optimiser_policy(market, episodes=24, seed=1),
        "learned (rllib ppo)": learned,
    }
    seeds = [HELD_OUT_SEED + k for k in range(args.seeds)]
    table = evaluate_policies(market, policies, seeds=seeds).to_frame()
    rows = [
        "| policy | profit mean | 95% interval | ROI (incremental) | spend |",
        "|---|---:|---|---:|---:|",
    ]
    for row in table.itertuples():
        rows.append(
            f"| {row.policy} | {row.profit_mean:,.0f} | {row.profit_lo:,.0f} to "
            f"{row.profit_hi:,.0f} | {row.roi_mean:.2f} | {row.spend_mean:,.0f} |"
        )
    k = max(1, args.iterations // 10)
    profits = np.array([r["profit"] for r in curve])
    points = [
        profits[max(0, round(q * args.iterations) - k) : max(1, round(q * args.iterations))].mean()
        for q in (0.25, 0.5, 0.75, 1.0)
    ]
    profit = table.set_index("policy")["profit_mean"]
    rl, opt = profit["learned (rllib ppo)"], profit["optimiser"]
    verdict = (
        f"The budget optimiser beats RLlib's PPO here ({opt:,.0f} vs {rl:,.0f})."
        if opt > rl
        else f"RLlib's PPO beats the budget optimiser here ({rl:,.0f} vs {opt:,.0f})."
    )
    body = "\n".join(
        [
            f"RLlib PPO (ray {_ray_version()}), one module per agent, "
            f"{args.iterations} iterations x {args.episodes} episodes "
            f"({args.iterations * args.episodes} episodes) in {train_s:.0f} s on 2 shared cores "
            f"(load average {load:.1f} at the end); held-out seeds: {args.seeds}; "
            f"peak RSS {peak_rss_mib():,.0f} MiB.",
            "",
            *rows,
            "",
            "Learning curve (RLlib's mean training episode return = profit, exploring; mean "
            "of the last 10% of iterations before each point): "
            + ", ".join(
                f"{q}: {v:,.0f}" for q, v in zip(("25%", "50%", "75%", "end"), points, strict=True)
            )
            + f" (first iteration {profits[0]:,.0f}).",
            "",
            verdict,
        ]
    )
    command = (
        f"python benchmarks/market_rllib.py --iterations {args.iterations} "
        f"--episodes {args.episodes} --seeds {args.seeds}"
    )
    update_section("market_rllib", body, command=command)
    print(body)


def _ray_version() -> str:
    import ray

    return str(ray.__version__)


if __name__ == "__main__":
    main()
