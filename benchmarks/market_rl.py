"""Multi-agent RL market: learned policies against static, optimiser and oracle.

    python benchmarks/market_rl.py [--updates 300] [--batch 8] [--seeds 20]

Market: ``MarketConfig()``: generic search, social and display auctions; the users,
conversion process and channel effects of the journey world (2,000 users, 364 days) with
``population_seed=0``; 52 weekly periods, budget 300 a period. Each learner arrangement
(independent, ctde, hierarchical) trains with PPO clipping (``TrainConfig`` defaults) from
seed 0 for ``updates x batch`` episodes on 2 shared cores, torch on CPU with
``torch.set_num_threads(1)``; the three train side by side in worker processes (wall times
then overlap; CPU times are each learner's own). Baselines: the historical static split
and bids; the budget optimiser on Hill curves and demand curves fitted to 24 historical
episodes, which picks the split, the total and the pacing bids; the oracle (Nelder-Mead
over split and bids on 4 simulated seeds, 80 plans, from the optimiser's plan, kept only if
it beats that plan on 8 further validation seeds). All
policies play the same held-out seeds (``HELD_OUT_SEED + k``); intervals are 95%
t-intervals of the mean cumulative profit; ROI is incremental revenue (against the same
seed with no advertising) over spend.

The learning-signal diagnostic plays 64 episodes of the static plan with independent
log-normal noise (sd 0.3) on every bid and measures, per bidder, the spread of the
discounted return it learns from (its own for independent learners, the team's for CTDE and
hierarchical) and the correlation of its noise with that return. For the same effect of a
bid, a policy gradient needs about ``var(return)`` times more samples for the same accuracy.
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd
import torch

from _results import peak_rss_mib, update_section
from mixlens.allocation.market import (
    PORTFOLIO,
    FixedPolicy,
    MarketConfig,
    MarketEnv,
    MarketPolicy,
    bidder,
    evaluate_policies,
    optimiser_policy,
    oracle_policy,
    run_episode,
    static_policy,
)
from mixlens.allocation.market.learn import LearnedPolicy, TrainConfig, agent_returns, train
from mixlens.allocation.market.run import HELD_OUT_SEED, ORACLE_SEEDS, ORACLE_VALIDATION_SEEDS

MODES = ("independent", "ctde", "hierarchical")


def learning_signal(market: MarketConfig, *, episodes: int = 64, sd: float = 0.3) -> pd.DataFrame:
    """Correlation of each bidder's bid noise with its own and with the team's return."""
    env = MarketEnv(market)
    rng = np.random.default_rng(5)
    names, gamma = market.channel_names, TrainConfig().gamma
    noise_all, own_all, team_all = [], [], []
    for e in range(episodes):
        env.reset(seed=500 + e)
        noise, rewards = [], []
        while env.agents:
            eps = rng.normal(0.0, sd, len(names))
            bids = np.asarray(market.static_bids) * np.exp(eps)
            actions = {PORTFOLIO: np.asarray(market.static_shares)}
            actions |= {bidder(n): np.array([bids[j]]) for j, n in enumerate(names)}
            _, r, _, _, _ = env.step(actions)
            noise.append(eps)
            rewards.append([r[PORTFOLIO], *(r[bidder(n)] for n in names)])
        r_arr = np.asarray(rewards).T[None]  # (1, agents, T)
        own = agent_returns(r_arr, "independent", gamma)[0, 1:]
        team = agent_returns(r_arr, "ctde", gamma)[0, 1:]
        noise_all.append(np.asarray(noise).T)
        own_all.append(own)
        team_all.append(team)
    noise_m, own_m, team_m = (np.concatenate(x, axis=1) for x in (noise_all, own_all, team_all))
    rows = []
    for j, name in enumerate(names):
        c_own = float(np.corrcoef(noise_m[j], own_m[j])[0, 1])
        c_team = float(np.corrcoef(noise_m[j], team_m[j])[0, 1])
        rows.append(
            {
                "bidder": name,
                "own": c_own,
                "team": c_team,
                "sd_own": float(own_m[j].std()),
                "sd_team": float(team_m[j].std()),
                "se": 1.0 / np.sqrt(noise_m.shape[1]),
            }
        )
    return pd.DataFrame(rows)


def _train(
    market: MarketConfig, mode: str, updates: int, batch: int
) -> tuple[LearnedPolicy, float]:
    """Train one arrangement (in a worker process); return it and its CPU seconds."""
    config = TrainConfig(mode=mode, updates=updates, batch=batch, seed=0)  # type: ignore[arg-type]
    cpu_start = time.process_time()
    policy = train(market, config)
    return policy, time.process_time() - cpu_start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--updates", type=int, default=300)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seeds", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(1)
    market = MarketConfig()
    env = MarketEnv(market)
    start = time.perf_counter()
    for s in range(10):
        run_episode(env, static_policy(market), seed=s)
    episode_ms = (time.perf_counter() - start) / 10 * 1e3

    # the three learners train in worker processes while this one fits the baselines
    pool = ProcessPoolExecutor(
        max_workers=len(MODES), initializer=torch.set_num_threads, initargs=(1,)
    )
    jobs = {mode: pool.submit(_train, market, mode, args.updates, args.batch) for mode in MODES}
    policies: dict[str, MarketPolicy] = {"static": static_policy(market)}
    start = time.perf_counter()
    policies["optimiser"] = optimiser_policy(market, episodes=24, seed=1)
    optimiser_s = time.perf_counter() - start
    start = time.perf_counter()
    policies["oracle"] = oracle_policy(
        market,
        seeds=ORACLE_SEEDS,
        evaluations=80,
        start=policies["optimiser"],
        validation_seeds=ORACLE_VALIDATION_SEEDS,
    )
    oracle_s = time.perf_counter() - start
    training = []
    for mode in MODES:
        policy, cpu = jobs[mode].result()
        assert policy.result is not None
        curve = pd.DataFrame(policy.result.curve)
        k = max(1, args.updates // 10)
        quarters = [
            curve["profit"]
            .iloc[max(0, round(q * args.updates) - k) : max(1, round(q * args.updates))]
            .mean()
            for q in (0.25, 0.5, 0.75, 1.0)
        ]
        training.append(
            (mode, policy.result.seconds, cpu, curve["profit"].head(k).mean(), *quarters)
        )
        policies[f"learned ({mode})"] = policy
        print(mode, f"{policy.result.seconds:.0f}s", flush=True)
    pool.shutdown()
    seeds = [HELD_OUT_SEED + k for k in range(args.seeds)]
    result = evaluate_policies(market, policies, seeds=seeds)
    table = result.to_frame()
    episodes = result.episodes
    by_seed = episodes.pivot(index="seed", columns="policy", values="profit")

    def paired(policy: str, reference: str) -> tuple[float, float]:
        """Mean paired profit difference over the seeds and its 95% half-width."""
        diff = by_seed[policy] - by_seed[reference]
        if policy == reference:
            return 0.0, 0.0
        return float(diff.mean()), float(1.96 * diff.std(ddof=1) / np.sqrt(len(diff)))

    lines = [
        "| policy | profit mean | 95% interval | ROI (incremental) [95%] | spend | "
        "paired gain vs static (95%) | paired gain vs optimiser (95%) |",
        "|---|---:|---|---:|---:|---|---|",
    ]
    for row in table.itertuples():
        gains = [paired(str(row.policy), ref) for ref in ("static", "optimiser")]
        cells = " | ".join(f"{mean:+,.0f} (+-{half:,.0f})" for mean, half in gains)
        lines.append(
            f"| {row.policy} | {row.profit_mean:,.0f} | {row.profit_lo:,.0f} to "
            f"{row.profit_hi:,.0f} | {row.roi_mean:.2f} [{row.roi_lo:.2f}, {row.roi_hi:.2f}] | "
            f"{row.spend_mean:,.0f} | {cells} |"
        )
    train_lines = [
        "Learning curves: mean profit of the training episodes (exploring) over the last 10% "
        "of updates before each point.",
        "",
        "| learner | training time (wall) | CPU time | episodes | start | 25% | 50% | 75% | end |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for mode, seconds, cpu, *points in training:
        cells = " | ".join(f"{v:,.0f}" for v in points)
        train_lines.append(
            f"| {mode} | {seconds:.0f} s | {cpu:.0f} s | {args.updates * args.batch} | {cells} |"
        )
    best = table.loc[table["profit_mean"].idxmax()]
    by_policy = table.set_index("policy")
    opt = by_policy.loc["optimiser", "profit_mean"]
    learned = table[table["policy"].str.startswith("learned")].set_index("policy")["profit_mean"]
    top = str(learned.idxmax())
    gain, half = paired(top, "optimiser")
    if abs(gain) <= half:
        verdict = (
            f"the best learned policy ({top}, {learned.max():,.0f}) and the optimiser "
            f"({opt:,.0f}) are level: their paired difference {gain:+,.0f} (+-{half:,.0f}) "
            "is within its 95% interval"
        )
    elif gain > 0:
        verdict = (
            f"the best learned policy ({top}, {learned.max():,.0f}) beats the optimiser "
            f"({opt:,.0f}) by {gain:+,.0f} (+-{half:,.0f}, paired 95%)"
        )
    else:
        verdict = (
            f"**the optimiser beats every learned policy** ({opt:,.0f} vs best learned "
            f"{learned.max():,.0f}, {top}; paired {gain:+,.0f} +-{half:,.0f})"
        )
    spent = by_policy["spend_mean"] / (market.budget * market.periods)
    spent_text = ", ".join(f"{p} {v:.0%}" for p, v in spent.items())
    opt_policy = policies["optimiser"]
    assert isinstance(opt_policy, FixedPolicy)
    plan = ", ".join(
        f"{c} {sh:.0%} at bid {b:.2f} (static {sb:.2f})"
        for c, sh, b, sb in zip(
            market.channel_names,
            opt_policy.shares,
            opt_policy.bids,
            market.static_bids,
            strict=True,
        )
    )
    wall = {m: t for m, t, *_ in training}
    cpu_s = {m: c for m, _, c, *_ in training}
    signal = learning_signal(market)
    signal_lines = [
        "| bidder | sd of own return | sd of team return | variance ratio | "
        "corr(noise, own) | corr(noise, team) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in signal.itertuples():
        ratio = (row.sd_team / row.sd_own) ** 2
        signal_lines.append(
            f"| {row.bidder} | {row.sd_own:,.0f} | {row.sd_team:,.0f} | {ratio:,.1f} | "
            f"{row.own:+.3f} | {row.team:+.3f} |"
        )
    signal_lines += [
        "",
        f"(correlations +- {2 * signal['se'].iloc[0]:.3f}, two standard errors; "
        f"{64 * market.periods} steps.)",
    ]
    body = "\n".join(
        [
            f"Held-out seeds: {args.seeds}; one episode (52 periods, static policy): "
            f"{episode_ms:.0f} ms; optimiser fit {optimiser_s:.1f} s; oracle search "
            f"{oracle_s:.1f} s; peak RSS {peak_rss_mib():,.0f} MiB; load average "
            f"{os.getloadavg()[0]:.1f} at the end (2 cores shared with other jobs).",
            "",
            *lines,
            "",
            *train_lines,
            "",
            f"Best: **{best['policy']}** ({best['profit_mean']:,.0f}); {verdict}.",
            "",
            f"**Training on 2 cores within 20 minutes:** the three learners trained side by "
            f"side in at most {max(wall.values()):.0f} s of wall time on the shared machine "
            f"({max(cpu_s.values()):.0f} s of CPU time each at most, one thread; "
            f"{args.updates * args.batch} episodes each); the best, {top}, reaches a "
            f"held-out profit of {learned.max():,.0f} "
            f"(static {by_policy.loc['static', 'profit_mean']:,.0f}, optimiser {opt:,.0f}).",
            "",
            f"Budget spent: {spent_text}. The optimiser sets bids as well as the split: {plan}.",
            "",
            "Why CTDE and hierarchical learn differently from independent learners (measured): "
            "they score every bidder by the team's return, which carries every other channel's "
            "conversions and spend; the correlation of a bidder's exploration noise with the "
            "return it learns from:",
            "",
            *signal_lines,
        ]
    )
    command = (
        f"python benchmarks/market_rl.py --updates {args.updates} --batch {args.batch} "
        f"--seeds {args.seeds}"
    )
    update_section("market_rl", body, command=command)
    print(body)


if __name__ == "__main__":
    main()
