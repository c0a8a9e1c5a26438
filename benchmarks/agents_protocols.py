"""Decentralized protocols: accuracy vs the centralized fit, rounds, bytes, DP error, wall time.

python benchmarks/agents_protocols.py          # writes the agents_protocols RESULTS.md section
python benchmarks/agents_protocols.py --quick  # smaller grid, prints only
python benchmarks/agents_protocols.py --only dp  # re-measure the DP table, keep the others

The Ray rows need the ``ray`` extra; without it they are left out (and say so).
"""

from __future__ import annotations

import argparse
import copy
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.agents.helpers import synthetic_agents

from _results import RESULTS, peak_rss_mib, update_section
from mixlens.agents import (
    AdmmConfig,
    Agent,
    AgentLike,
    Bus,
    DPConfig,
    RayBackend,
    admm_protocol,
    attribute,
    centralized_fit,
    exact_protocol,
    pairwise_seeds,
    ray_available,
    region_agents,
    run_to_dir,
    setup_protocol,
)
from mixlens.agents.protocols import rel_diff


def md(frame: pd.DataFrame) -> str:
    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in frame.itertuples(index=False):
        cells = [f"{v:.3g}" if isinstance(v, float) else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def regions_table(scales: tuple[int, ...]) -> pd.DataFrame:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for scale in scales:
            for protocol in ("exact", "admm"):
                t0 = time.perf_counter()
                s = run_to_dir(
                    "regions",
                    scale=scale,
                    out_dir=Path(tmp) / f"{protocol}{scale}",
                    protocol=protocol,
                )
                rows.append(
                    {
                        "protocol": protocol,
                        "scale": scale,
                        "rows_per_agent": s["rows_per_agent"][0],
                        "fit_rounds": s["rounds"],
                        "messages": s["messages_total"],
                        "bytes_total": s["bytes_total"],
                        "rel_diff_vs_centralized": s["rel_diff_vs_centralized"],
                        "seconds": time.perf_counter() - t0,
                    }
                )
    return pd.DataFrame(rows)


def admm_table(ns: tuple[int, ...], rhos: tuple[float, ...], weeks: int) -> pd.DataFrame:
    rows = []
    for n in ns:
        agents = synthetic_agents(n, weeks, seed=n)
        seeds = pairwise_seeds([a.name for a in agents], 0)
        setup_protocol(agents, Bus(), seeds=seeds)
        ref = centralized_fit(agents, nonnegative=True)
        for rho in rhos:
            bus = Bus()
            t0 = time.perf_counter()
            res = admm_protocol(agents, bus, config=AdmmConfig(rho=rho, tol=1e-7))
            rows.append(
                {
                    "agents": n,
                    "rho": rho,
                    "rounds": len(res.rounds),
                    "converged": res.converged,
                    "rel_diff_vs_centralized": rel_diff(res.coef, ref),
                    "bytes_per_round": bus.audit.total_bytes() // len(res.rounds),
                    "seconds": time.perf_counter() - t0,
                }
            )
        t0 = time.perf_counter()
        ex = exact_protocol(agents, Bus(), seeds=seeds)
        rows.append(
            {
                "agents": n,
                "rho": float("nan"),
                "rounds": 1,
                "converged": True,
                "rel_diff_vs_centralized": rel_diff(ex.coef, centralized_fit(agents)),
                "bytes_per_round": -1,
                "seconds": time.perf_counter() - t0,
            }
        )
    frame = pd.DataFrame(rows)
    frame.loc[frame["rho"].isna(), "rho"] = -1.0
    return frame


DP_VARIANTS: dict[str, dict[str, Any]] = {
    "local, before (no scales, floor)": {"scale_share": 0.0, "post": "floor", "post_strength": 2.0},
    "local": {},
    "distributed": {"distributed": True},
}
DP_EPSILONS = (math.inf, 0.1, 0.3, 1.0, 3.0, 10.0)
DP_HEAD = "Gaussian DP on the statistics"


def dp_table(epsilons: tuple[float, ...], reps: int, scales: tuple[int, ...]) -> pd.DataFrame:
    return pd.concat([dp_rows(epsilons, reps, k) for k in scales], ignore_index=True)


def clipped_share(agents: list[Agent], dp: DPConfig, scales: list[float] | None) -> float:
    """Share of all rows whose design row or target the DP release clips (a diagnostic)."""
    hit, n = 0, 0
    for a in agents:
        x, y = a._xy()
        mu, y0 = a.model.reference_point()
        xs = (x - mu) / (np.ones(len(mu)) if scales is None else np.asarray(scales))
        out = (np.linalg.norm(xs, axis=1) > dp.row_norm) | (np.abs(y - y0) > dp.target_bound)
        hit, n = hit + int(out.sum()), n + len(y)
    return hit / n


def dp_rows(epsilons: tuple[float, ...], reps: int, scale: int) -> pd.DataFrame:
    agents = region_agents(scale, seed=0)
    seeds = pairwise_seeds([a.name for a in agents], 0)
    setup_protocol(agents, Bus(), seeds=seeds)
    clean = exact_protocol(agents, Bus(), seeds=seeds).coef
    clean_credit = attribute(agents, clean, Bus(), seeds=seeds, round=3)
    glob = clean_credit[clean_credit["agent"] == "all"]["credit"].to_numpy()
    rows = []
    for eps in epsilons:
        for variant, kw in DP_VARIANTS.items():
            if not math.isfinite(eps) and kw.get("distributed"):
                continue  # no noise: local and distributed are the same fit
            dp = DPConfig(epsilon=eps, **kw)
            coef_err, credit_err, clipped = [], [], []
            spent: dict[str, Any] = {}
            for r in range(reps if math.isfinite(eps) else 1):
                res = exact_protocol(agents, Bus(), seeds=seeds, dp=dp, rng=r)
                cred = attribute(agents, res.coef, Bus(), seeds=seeds, round=3)
                noisy = cred[cred["agent"] == "all"]["credit"].to_numpy()
                coef_err.append(rel_diff(res.coef, clean))
                credit_err.append(rel_diff(noisy, glob))
                spent = res.privacy
                got = spent.get("scales_release", {}).get("scales")
                clipped.append(clipped_share(agents, dp, got))
            rows.append(
                {
                    "rows_per_agent": agents[0].n_rows,
                    "epsilon": eps,
                    "noise": variant,
                    "sd_of_sum": spent["noise_sd_of_sum"],
                    "rows_clipped_%": 100.0 * float(np.median(clipped)),
                    "coef_rel_err_median": float(np.median(coef_err)),
                    "credit_rel_err_median": float(np.median(credit_err)),
                    "credit_rel_err_p90": float(np.quantile(credit_err, 0.9)),
                    "reps": len(coef_err),
                }
            )
    return pd.DataFrame(rows)


def dp_text(t_dp: pd.DataFrame) -> str:
    d = DPConfig(epsilon=1.0)
    no_noise = t_dp[~np.isfinite(t_dp["epsilon"])]
    measured = (
        f"Measured here: at most {t_dp['rows_clipped_%'].max():.2g}% of rows clipped and an "
        f"epsilon = inf error of at most {no_noise['credit_rel_err_median'].max():.1e} "
        "(credit), so the error at finite epsilon is the noise and its regularization, "
        "not clipping."
    )
    return "\n\n".join(
        [
            f"{DP_HEAD} (regions scenario, 5 agents, scale 1/8/32; a feature-scales round "
            "then the statistics round; per-agent, row-level epsilon, delta "
            f"{d.delta:g} for the two together; the setup round's exact pooled means are outside "
            "the guarantee; error of the coefficients and of the global channel credit vs the "
            "non-private fit on the same shards; median and 90th percentile over reps). "
            "Rows are centered at the shared model's reference point; 'local' and "
            "'distributed' (the default estimator) first spend "
            f"{d.scale_share:.0%} of the budget (of Gaussian-DP mu^2; the two releases compose "
            "exactly to (epsilon, delta)) on a noisy secure sum of each feature's mean absolute "
            f"deviation (capped at {d.scale_cap:g}), divide each feature by "
            f"{d.scale_width:g} x that (at most {d.scale_cap:g}; intercept column by "
            f"{d.intercept_scale:g}), clip rows to L2 norm {d.row_norm:g} and the centered "
            f"target to {d.target_bound:g} (sensitivity {d.sensitivity():.2f}), and regularize "
            f"the noisy X'X by adding {d.post_strength:g} sd(sum) sqrt(p) to the diagonal of its "
            "PSD projection (post-processing; 2 sd(sum) sqrt(p) is about the noise's spectral "
            "size). "
            "'before' is the previous estimator (no scales, whole budget on the statistics, "
            "eigenvalues floored at 2 sd(sum) sqrt(p)), run here on the same draws. "
            "epsilon = inf: clipping and scaling only, no noise (the clipping bias alone); "
            "rows_clipped_% is the share of rows whose row or target the release clips. "
            "'distributed' splits the noise over the 5 agents under secure aggregation "
            "(private while no agent reveals its noise), so the sum carries sqrt(5) less. "
            "summary.json records this accounting under 'dp'. " + measured,
            md(t_dp),
        ]
    )


def replace_dp_part(section: str, new_dp: str) -> str:
    """Swap the DP paragraph and table of an existing section body for ``new_dp``."""
    start = section.index(DP_HEAD)
    end = section.index("Wall time of", start)
    return f"{section[:start]}{new_dp}\n\n{section[end:]}"


def current_body() -> str:
    text = RESULTS.read_text()
    block = text.split("<!-- agents_protocols:start -->", 1)[1]
    block = block.split("<!-- agents_protocols:end -->", 1)[0]
    return block.split("\n\n", 2)[2]  # drop the heading and the machine/command/date list


def _timed_run(agents: list[AgentLike] | list[Agent]) -> dict[str, Any]:
    seeds = pairwise_seeds([a.name for a in agents], 0)
    t0 = time.perf_counter()
    setup_protocol(agents, Bus(), seeds=seeds)
    exact = exact_protocol(agents, Bus(), seeds=seeds)
    t1 = time.perf_counter()
    admm = admm_protocol(agents, Bus(), config=AdmmConfig(rho=1.0))
    t2 = time.perf_counter()
    return {
        "exact": exact.coef,
        "admm": admm.coef,
        "rounds": len(admm.rounds),
        "t": (t1 - t0, t2 - t1),
    }


def channels_backend_table(actors: int) -> pd.DataFrame:
    """The channels scenario (sharing ADMM) end to end, in process and on Ray."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        frames = {}
        for backend in ("inprocess", "ray") if ray_available() else ("inprocess",):
            t0 = time.perf_counter()
            s = run_to_dir(
                "channels",
                protocol="admm",
                out_dir=Path(tmp) / backend,
                backend=backend,
                ray_actors=actors,
            )
            frames[backend] = pd.read_csv(Path(tmp) / backend / "attribution.csv")
            same = frames[backend]["credit"].equals(frames["inprocess"]["credit"])
            rows.append(
                {
                    "backend": backend,
                    "actors": actors if backend == "ray" else 0,
                    "rounds": s["rounds"],
                    "bytes_total": s["bytes_total"],
                    "credit_identical_to_in_process": same,
                    "seconds_incl_ray_start": time.perf_counter() - t0,
                }
            )
    return pd.DataFrame(rows)


def backend_table(n_agents: int, actor_counts: tuple[int, ...]) -> tuple[pd.DataFrame, str]:
    """Wall time of setup + exact and of consensus ADMM, in process and on Ray actors."""
    agents = synthetic_agents(n_agents, 52, seed=n_agents)
    load0 = os.getloadavg()
    rows = []
    ref = _timed_run(copy.deepcopy(agents))
    rows.append(
        {
            "backend": "in-process",
            "actors": 0,
            "start_actors_s": 0.0,
            "setup_exact_s": ref["t"][0],
            "admm_s": ref["t"][1],
            "admm_rounds": ref["rounds"],
            "max_rel_diff_vs_in_process": 0.0,
        }
    )
    note = ""
    if ray_available():
        import ray

        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        try:
            for k in actor_counts:
                with RayBackend(max_actors=k) as backend:
                    t0 = time.perf_counter()
                    remote = backend.place(copy.deepcopy(agents))
                    start = time.perf_counter() - t0
                    got = _timed_run(remote)
                rows.append(
                    {
                        "backend": "ray",
                        "actors": k,
                        "start_actors_s": start,
                        "setup_exact_s": got["t"][0],
                        "admm_s": got["t"][1],
                        "admm_rounds": got["rounds"],
                        "max_rel_diff_vs_in_process": max(
                            rel_diff(got["exact"], ref["exact"]), rel_diff(got["admm"], ref["admm"])
                        ),
                    }
                )
        finally:
            ray.shutdown()
    else:
        note = " Ray is not installed here, so only the in-process row is measured."
    load1 = os.getloadavg()
    note = (
        f"Load average (1/5/15 min) at the start {load0[0]:.1f}/{load0[1]:.1f}/{load0[2]:.1f} "
        f"and the end {load1[0]:.1f}/{load1[1]:.1f}/{load1[2]:.1f} on 2 cores shared with other "
        "jobs, so the seconds are indicative only." + note
    )
    return pd.DataFrame(rows), note


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", choices=("dp",), default=None)
    args = parser.parse_args()
    reps = 3 if args.quick else 12
    dp_scales = (1, 2) if args.quick else (1, 8, 32)
    t_dp = dp_table(DP_EPSILONS, reps, dp_scales)
    if args.only == "dp":
        body = replace_dp_part(current_body(), dp_text(t_dp))
        sys.stdout.write(dp_text(t_dp) + "\n")
        if not args.quick:
            update_section(
                "agents_protocols",
                body,
                command="python benchmarks/agents_protocols.py (DP table: --only dp)",
            )
        return
    if args.quick:
        ns, rhos, scales = (2, 10), (1.0,), (1, 2)
        n_backend, actor_counts = 10, (2,)
    else:
        ns, rhos, scales = (2, 5, 10, 25, 50, 100), (0.1, 1.0, 10.0), (1, 2, 4, 8)
        n_backend, actor_counts = 100, (2, 10)
    t_backend, backend_note = backend_table(n_backend, actor_counts)
    t_channels = channels_backend_table(2)
    t_regions = regions_table(scales)
    t_admm = admm_table(ns, rhos, weeks=52)
    body = "\n\n".join(
        [
            "Regions scenario (5 simulated regions, 104 weeks x scale; exact = secure aggregation "
            "of "
            "X'X, X'y; admm = consensus ADMM, non-negative channel coefficients, tol 1e-7; bytes "
            "include the setup and attribution rounds):",
            md(t_regions),
            "ADMM vs agents and rho (synthetic shards of 52 weeks each; rho relative to rows per "
            "agent, adaptive residual balancing; rho = -1 rows are the exact protocol on the same "
            "shards):",
            md(t_admm),
            dp_text(t_dp),
            f"Wall time of {n_backend} agents (synthetic shards of 52 weeks) in process and on "
            "Ray actors driven by the same protocol code (agents dealt to the actors in turn; one "
            "actor per agent would need ~200 MiB x 100 here); setup + exact protocol, then "
            "consensus ADMM (rho 1, tol 1e-7). " + backend_note,
            md(t_backend),
            "The channels scenario (4 channel owners in actors, the sales owner with the "
            "coordinator; sharing ADMM, 104 weeks) end to end through `mixlens agents run "
            "--backend ray --ray-actors 2`, seconds including starting Ray:",
            md(t_channels),
            f"Peak RSS: {peak_rss_mib():.0f} MiB.",
        ]
    )
    sys.stdout.write(body + "\n")
    if not args.quick:
        update_section("agents_protocols", body, command="python benchmarks/agents_protocols.py")


if __name__ == "__main__":
    main()
