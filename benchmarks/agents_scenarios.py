"""Decentralized scenarios: channels (vertical), mixed, masked ADMM, starts, shrinkage, sampling.

python benchmarks/agents_scenarios.py          # writes the agents_scenarios RESULTS.md section
python benchmarks/agents_scenarios.py --quick  # smaller grid, prints only
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.agents.helpers import synthetic_agents

from _results import peak_rss_mib, update_section
from mixlens.agents import (
    AdmmConfig,
    Bus,
    admm_protocol,
    centralized_fit,
    exact_protocol,
    pairwise_seeds,
    region_agents,
    run_to_dir,
    setup_protocol,
)
from mixlens.agents.hierarchical import tradeoff
from mixlens.agents.protocols import rel_diff
from mixlens.agents.scenarios import channel_owners, mixed_agents
from mixlens.agents.shapley import exact_shapley, sampled_shapley
from mixlens.agents.vertical import SharingConfig, centralized_vertical_fit, sharing_admm


def md(frame: pd.DataFrame) -> str:
    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in frame.itertuples(index=False):
        cells = [f"{v:.3g}" if isinstance(v, float) else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def scenario_table(scales: tuple[int, ...]) -> pd.DataFrame:
    rows = []
    runs = [("channels", "admm"), ("mixed", "exact"), ("mixed", "admm")]
    with tempfile.TemporaryDirectory() as tmp:
        for scale in scales:
            for scenario, protocol in runs:
                t0 = time.perf_counter()
                s = run_to_dir(
                    scenario,
                    scale=scale,
                    out_dir=Path(tmp) / f"{scenario}{protocol}{scale}",
                    protocol=protocol,
                )
                lift = s.get("lift_test", {})
                rows.append(
                    {
                        "scenario": scenario,
                        "protocol": protocol,
                        "scale": scale,
                        "rows_per_agent": "/".join(str(r) for r in s["rows_per_agent"]),
                        "fit_rounds": s["rounds"],
                        "bytes_total": s["bytes_total"],
                        "bytes_per_fit_round": s["bytes_total"] // max(s["rounds"], 1),
                        "rel_diff_vs_centralized": s["rel_diff_vs_centralized"],
                        "tv_coef_without_to_with_lift": (
                            f"{lift['coef_without_lift']:.3f} -> {lift['coef_with_lift']:.3f}"
                            if lift
                            else "-"
                        ),
                        "tv_credit_without_with_true_M": (
                            f"{lift['credit_without_lift'] / 1e6:.2f} / "
                            f"{lift['credit_with_lift'] / 1e6:.2f} / "
                            f"{lift['true_credit_regions'] / 1e6:.2f}"
                            if lift
                            else "-"
                        ),
                        "seconds": time.perf_counter() - t0,
                    }
                )
    return pd.DataFrame(rows)


def sharing_rho_table(rhos: tuple[float, ...]) -> pd.DataFrame:
    sales, owners = channel_owners(1, seed=0)
    ref = centralized_vertical_fit(sales, owners)
    order = [sales.name, *(o.name for o in owners)]
    seeds = pairwise_seeds([o.name for o in owners], 0)
    rows = []
    for rho in rhos:
        for adaptive in (True, False):
            bus = Bus()
            t0 = time.perf_counter()
            res = sharing_admm(
                sales,
                owners,
                bus,
                seeds=seeds,
                config=SharingConfig(rho=rho, adaptive=adaptive, max_rounds=3000),
            )
            rows.append(
                {
                    "rho": rho,
                    "adaptive": adaptive,
                    "rounds": len(res.rounds),
                    "converged": res.converged,
                    "rel_diff_vs_centralized": rel_diff(res.vector(order), ref),
                    "seconds": time.perf_counter() - t0,
                }
            )
    return pd.DataFrame(rows)


def masked_table(ns: tuple[int, ...]) -> pd.DataFrame:
    rows = []
    for n in ns:
        agents = synthetic_agents(n, 52, seed=n)
        seeds = pairwise_seeds([a.name for a in agents], 0)
        setup_protocol(agents, Bus(), seeds=seeds)
        ref = centralized_fit(agents, nonnegative=True)
        for masked in (False, True):
            bus = Bus()
            t0 = time.perf_counter()
            res = admm_protocol(agents, bus, seeds=seeds if masked else None)
            rows.append(
                {
                    "agents": n,
                    "masked": masked,
                    "rounds": len(res.rounds),
                    "converged": res.converged,
                    "rel_diff_vs_centralized": rel_diff(res.coef, ref),
                    "bytes_per_round": bus.audit.total_bytes() // len(res.rounds),
                    "seconds": time.perf_counter() - t0,
                }
            )
    return pd.DataFrame(rows)


def starts_table(n_starts: int) -> pd.DataFrame:
    mixed = mixed_agents(1, seed=0)
    agents = mixed.agents
    seeds = pairwise_seeds([a.name for a in agents], 0)
    setup_protocol(agents, Bus(), seeds=seeds)
    ref = centralized_fit(agents, nonnegative=True)
    p = agents[0].model.n_features
    coefs, rows = [], []
    for k in range(n_starts):
        rng = np.random.default_rng(k)
        scale = 0.0 if k == 0 else 10.0
        res = admm_protocol(
            agents,
            Bus(),
            config=AdmmConfig(tol=1e-9),
            z0=rng.normal(0.0, scale, p),
            starts={a.name: rng.normal(0.0, scale, p) for a in agents},
        )
        coefs.append(res.coef)
        rows.append(
            {
                "start": "zeros" if k == 0 else f"N(0, 10^2) seed {k}",
                "rounds": len(res.rounds),
                "converged": res.converged,
                "rel_diff_vs_centralized": rel_diff(res.coef, ref),
                "rel_diff_vs_first_start": rel_diff(res.coef, coefs[0]),
            }
        )
    return pd.DataFrame(rows)


LIFT_MODELS = {
    "geometric, absolute (before)": {"adstock": "geometric", "per_capita": False},
    "delayed, absolute": {"adstock": "delayed", "per_capita": False},
    "geometric, per capita": {"adstock": "geometric", "per_capita": True},
    "delayed, per capita (now)": {"adstock": "delayed", "per_capita": True},
}


def lift_table(seeds: tuple[int, ...]) -> pd.DataFrame:
    """Mixed scenario: tv credit with and without region_3's lift test vs the truth."""
    rows = []
    for seed in seeds:
        for name, kw in LIFT_MODELS.items():
            mixed = mixed_agents(1, seed=seed, **kw)
            agents = mixed.agents
            pairs = pairwise_seeds([a.name for a in agents], 0)
            setup_protocol(agents, Bus(), seeds=pairs)
            c = agents[0].model.channels.index(mixed.lift.channel)
            with_lift = exact_protocol(agents, Bus(), seeds=pairs).coef
            without = centralized_fit(agents, with_priors=False)

            def credit(beta: np.ndarray, agents: list = agents, c: int = c) -> float:
                return float(sum(a.channel_sums(beta)[1][c] for a in agents))

            truth = mixed.true_credit
            rows.append(
                {
                    "seed": seed,
                    "shared_model": name,
                    "tv_credit_without_lift_M": credit(without) / 1e6,
                    "tv_credit_with_lift_M": credit(with_lift) / 1e6,
                    "true_tv_credit_M": truth / 1e6,
                    "rel_err_without": credit(without) / truth - 1.0,
                    "rel_err_with": credit(with_lift) / truth - 1.0,
                }
            )
    return pd.DataFrame(rows)


def tradeoff_table(strengths: tuple[float, ...]) -> pd.DataFrame:
    frames = []
    for name, agents in (
        ("regions", region_agents(1, seed=0)),
        ("mixed", mixed_agents(1, seed=0).agents),
    ):
        seeds = pairwise_seeds([a.name for a in agents], 0)
        setup_protocol(agents, Bus(), seeds=seeds)
        curve = tradeoff(agents, strengths, seeds=seeds)
        curve.insert(0, "scenario", name)
        frames.append(curve)
    return pd.concat(frames, ignore_index=True)


def sampling_table(perms: tuple[int, ...], reps: int) -> pd.DataFrame:
    n = 12
    rng = np.random.default_rng(0)
    w = rng.normal(size=n)
    inter = rng.normal(size=(n, n)) / n

    def value(s: np.ndarray) -> float:
        return float(w @ s + s @ inter @ s)

    table = [value(((m >> np.arange(n)) & 1).astype(bool)) for m in range(2**n)]
    truth = exact_shapley(table)
    rows = []
    for m in perms:
        errs, ses, hoef, cover, conserve = [], [], [], [], []
        for r in range(reps):
            est = sampled_shapley(value, n, permutations=m, rng=r)
            err = np.abs(est.values - truth)
            errs.append(err.max())
            ses.append(est.stderr.max())
            hoef.append(est.hoeffding.max())
            cover.append(float(np.mean(err <= 1.96 * est.stderr)))
            conserve.append(abs(est.values.sum() - (table[-1] - table[0])))
        rows.append(
            {
                "players": n,
                "permutations": m,
                "max_abs_error_median": float(np.median(errs)),
                "max_stderr_median": float(np.median(ses)),
                "max_hoeffding_95_median": float(np.median(hoef)),
                "coverage_1.96se": float(np.mean(cover)),
                "max_conservation_gap": float(np.max(conserve)),
            }
        )
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        scales, rhos, ns, starts, perms, reps = (1,), (0.1, 1.0), (2, 5), 2, (50,), 3
        lift_seeds: tuple[int, ...] = (0,)
    else:
        scales, rhos, ns = (1, 2, 4), (0.03, 0.1, 0.3, 1.0), (2, 5, 10, 25)
        starts, perms, reps = 5, (50, 200, 800), 20
        lift_seeds = (0, 1, 2, 3, 4)
    strengths = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1000.0)
    t_lift = lift_table(lift_seeds)
    t_scen = scenario_table(scales)
    t_rho = sharing_rho_table(rhos)
    t_mask = masked_table(ns)
    t_starts = starts_table(starts)
    t_trade = tradeoff_table(strengths)
    t_samp = sampling_table(perms, reps)
    body = "\n\n".join(
        [
            "Channels (4 channel teams + a sales owner, vertical split, sharing ADMM with masked "
            "per-week contributions, non-negative, tol 1e-10) and mixed (3 regions of which one "
            "brings a tv lift test as a Gaussian prior, plus a unit aggregating user-level "
            "journeys to weeks; region_2 values profit at 35%, journeys LTV at 1.8x) vs the "
            "centralized fit on pooled data. Scale multiplies weeks (and journey users); "
            "channels messages are per-week vectors, so their bytes grow with weeks by design:",
            md(t_scen),
            "Mixed scenario, the lift test's effect on the tv credit (all three regions; truth "
            "from the simulator) by shared model. Before, the shared model was geometric adstock "
            "in absolute spend: region_3, which ran the test, is ~1/20 of region_1, and one "
            "half-saturation in absolute spend put its spend in the toe of the Hill curve, so its "
            "lift pinned a coefficient that could not carry over. Now agents divide outcome and "
            "spend by their own size (mean outcome, kept private) and the adstock is the MMM's "
            "default delayed kernel with the agreed peak; the lift prior is the tested "
            "channel's modelled contribution over the test weeks, the quantity measured:",
            md(t_lift),
            "Mean absolute relative error of the tv credit over the seeds, with / without the "
            "lift: "
            + "; ".join(
                f"{name}: {g['rel_err_with'].abs().mean():.2f} / "
                f"{g['rel_err_without'].abs().mean():.2f}"
                for name, g in t_lift.groupby("shared_model", sort=False)
            )
            + ".",
            "Sharing ADMM (channels, 104 weeks) rounds vs rho, with and without residual "
            "balancing (limit 3000 rounds):",
            md(t_rho),
            "Consensus ADMM with pairwise-masked messages (the coordinator learns only sums; "
            "residual reported one round late) vs plain, synthetic shards of 52 weeks:",
            md(t_mask),
            "Same equilibrium from different starts (mixed scenario, weighted convex local "
            "objectives, consensus ADMM tol 1e-9):",
            md(t_starts),
            "Local flexibility vs global coherence (hierarchical variant, exact one-round "
            "solve; lam = shrinkage x rows per agent; local_fit = pooled 1 - SSE/SST of each "
            "agent's own coefficients on its rows; disagreement = rms ||x_i - z|| / ||z||):",
            md(t_trade),
            "Sampled Shapley on a 12-player game with pairwise interactions (exact truth "
            "available); errors and bounds are the max over players, medians over reps:",
            md(t_samp),
            f"Peak RSS: {peak_rss_mib():.0f} MiB.",
        ]
    )
    sys.stdout.write(body + "\n")
    if not args.quick:
        update_section("agents_scenarios", body, command="python benchmarks/agents_scenarios.py")


if __name__ == "__main__":
    main()
