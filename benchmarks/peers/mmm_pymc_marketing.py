"""MMM side by side with PyMC-Marketing, in the same run, on the simulator and its own data.

mixlens (``fit_to_dir``, default NUTS via nutpie) and PyMC-Marketing (``MMM`` with geometric
adstock, logistic saturation, default priors, nutpie; own environment from
``bash benchmarks/peers/setup.sh``, driven by ``_pmm_runner.py``) fit the same panels, each in
a fresh process, one after the other, with the same chains/draws/tune.

    .venv/bin/python benchmarks/peers/mmm_pymc_marketing.py [--seeds 1,2,3] [--chains 4]
        [--draws 1000] [--tune 1000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

from _results import peak_rss_mib, update_section  # noqa: E402

PMM_ENV = ROOT / "benchmarks" / ".envs" / "pymc-marketing" / "bin" / "python"
RUNNER = Path(__file__).with_name("_pmm_runner.py")
PMM_EXAMPLE = ROOT.parent / "shared" / "data" / "external" / "pymc-marketing" / "mmm_example.csv"
WEEKS, CHANNELS = 156, 7
CONTROLS = ["price", "promotion"]


def mixlens_worker(cfg: dict[str, Any]) -> dict[str, Any]:
    """Fit mixlens on ``cfg['csv']`` (a mixlens weekly panel); return ROI draws summary."""
    from mixlens.mmm.run import fit_to_dir

    t = time.perf_counter()
    panel = pd.read_csv(cfg["csv"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        summary = fit_to_dir(
            panel,
            out_dir=cfg["out"],
            controls=cfg["controls"],
            draws=cfg["draws"],
            tune=cfg["tune"],
            chains=cfg["chains"],
            seed=cfg["seed"],
        )
    d = summary.get("diagnostics", {})
    return {
        "fit_s": float(summary["timings_s"]["fit"]),
        "runner_s": time.perf_counter() - t,
        "peak_rss_mib": peak_rss_mib(),
        "divergences": d.get("divergences", -1),
        "max_rhat": d.get("max_rhat", float("nan")),
        "min_ess_bulk": d.get("min_ess_bulk", float("nan")),
        "sampler": summary.get("sampler", ""),
    }


def run(cmd: list[str]) -> float:
    """Run a command (niced); return whole-process wall seconds."""
    t = time.perf_counter()
    done = subprocess.run(["nice", "-n", "5", *cmd], capture_output=True, text=True)
    if done.returncode:
        sys.stderr.write(done.stderr[-3000:])
        raise RuntimeError(f"failed: {' '.join(cmd)}")
    return time.perf_counter() - t


def fit_pair(
    work: Path,
    frame: pd.DataFrame,
    *,
    date: str,
    target: str,
    channels: list[str],
    controls_ours: list[str],
    controls_peer: list[str],
    settings: dict[str, int],
) -> dict[str, Any]:
    """Fit both tools on one panel; return their ROI and weekly contributions."""
    work.mkdir(parents=True, exist_ok=True)
    ours_csv, peer_csv = work / "panel_mixlens.csv", work / "panel_peer.csv"
    extra = [c for c in controls_peer if c not in controls_ours]
    ours = frame.drop(columns=extra).rename(columns={date: "date", target: "sales"})
    ours = ours.rename(columns={c: f"{c}_spend" for c in channels if not c.endswith("_spend")})
    ours.to_csv(ours_csv, index=False)
    frame.to_csv(peer_csv, index=False)
    spend_cols = [c if c.endswith("_spend") else f"{c}_spend" for c in channels]
    names = [c.removesuffix("_spend") for c in spend_cols]

    cfg_ours = {
        "csv": str(ours_csv),
        "out": str(work / "mixlens"),
        "controls": controls_ours,
        **settings,
    }
    (work / "mixlens").mkdir(exist_ok=True)
    (work / "mixlens.json").write_text(json.dumps(cfg_ours))
    wall = run([sys.executable, __file__, "--worker", str(work / "mixlens.json")])
    info_ours = json.loads((work / "mixlens" / "worker.json").read_text())
    info_ours["wall_s"] = wall
    roi = pd.read_csv(work / "mixlens" / "roi.csv").set_index("channel").loc[names]
    contrib = pd.read_csv(work / "mixlens" / "contributions.csv")
    weekly_ours = contrib.pivot(index="date", columns="component", values="mean")
    fitted = weekly_ours.sum(axis=1).to_numpy()
    obs = ours["sales"].to_numpy(dtype=float)
    info_ours.update(_fit_quality(obs, fitted))
    ours_res = {
        "info": info_ours,
        "roi": {n: [float(roi.loc[n, k]) for k in ("roi_mean", "roi_lo", "roi_hi")] for n in names},
        "weekly": {n: weekly_ours[n].tolist() for n in names},
    }

    cfg_peer = {
        "csv": str(peer_csv),
        "date": date,
        "target": target,
        "channels": channels,
        "controls": controls_peer,
        "out": str(work / "peer"),
        "sampler": "nutpie",
        **settings,
    }
    (work / "peer").mkdir(exist_ok=True)
    (work / "peer.json").write_text(json.dumps(cfg_peer))
    wall = run([str(PMM_ENV), str(RUNNER), str(work / "peer.json")])
    info_peer = json.loads((work / "peer" / "info.json").read_text())
    info_peer["wall_s"] = wall
    draws = pd.read_csv(work / "peer" / "roi_draws.csv")
    draws.columns = names
    weekly_peer = pd.read_csv(work / "peer" / "weekly_contributions.csv")
    weekly_peer.columns = ["date", *names]
    peer_res = {
        "info": info_peer,
        "roi": {
            n: [
                float(draws[n].mean()),
                float(draws[n].quantile(0.05)),
                float(draws[n].quantile(0.95)),
            ]
            for n in names
        },
        "weekly": {n: weekly_peer[n].tolist() for n in names},
    }
    return {"mixlens": ours_res, "pymc-marketing": peer_res, "channels": names}


def _fit_quality(obs: np.ndarray, fitted: np.ndarray) -> dict[str, float]:
    r2 = 1 - float(((obs - fitted) ** 2).sum()) / float(((obs - obs.mean()) ** 2).sum())
    return {"r2": r2, "mape": float(np.mean(np.abs(obs - fitted) / np.abs(obs)))}


def score(res: dict[str, Any], world: Any) -> dict[str, float]:
    """ROI error (plain, spend-weighted), coverage, median width / true ROI, weekly corr."""
    truth = world.roi.set_index("channel")
    wk = world.weekly_contributions.pivot(index="date", columns="component", values="contribution")
    names = list(res["roi"])
    true = truth.loc[names, "roi"].to_numpy()
    spend = truth.loc[names, "spend"].to_numpy()
    est = np.array([res["roi"][n] for n in names])
    err = np.abs(est[:, 0] - true) / true
    covered = (est[:, 1] <= true) & (true <= est[:, 2])
    corr = [float(np.corrcoef(res["weekly"][n], wk[n].to_numpy())[0, 1]) for n in names]
    return {
        "err_mean": float(err.mean()),
        "err_weighted": float((err * spend).sum() / spend.sum()),
        "covered": int(covered.sum()),
        "n": len(names),
        "width": float(np.median((est[:, 2] - est[:, 1]) / true)),
        "corr": float(np.mean(corr)),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker", type=Path)
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--no-example", action="store_true")
    parser.add_argument("--from-json", action="store_true", help="table from saved results only")
    parser.add_argument(
        "--work", type=Path, default=Path(tempfile.gettempdir()) / "mixlens_peers_mmm"
    )
    args = parser.parse_args()
    if args.worker:
        cfg = json.loads(args.worker.read_text())
        info = mixlens_worker(cfg)
        (Path(cfg["out"]) / "worker.json").write_text(json.dumps(info))
        return
    if not PMM_ENV.exists():
        sys.exit("PyMC-Marketing environment missing: run bash benchmarks/peers/setup.sh")
    from mixlens.data.simulate.mmm import MMMWorldConfig, simulate_mmm

    settings = {"chains": args.chains, "draws": args.draws, "tune": args.tune}
    rows: list[dict[str, Any]] = []
    if args.from_json:
        rows = json.loads((args.work / "rows.json").read_text())
        ex_file = args.work / "example.json"
        ex = json.loads(ex_file.read_text()) if ex_file.exists() else None
        _write(rows, ex, settings, args)
        return
    for seed in (int(s) for s in args.seeds.split(",") if s):
        world = simulate_mmm(MMMWorldConfig(weeks=WEEKS, n_channels=CHANNELS), seed=seed)
        spend = [f"{c}_spend" for c in world.roi["channel"]]
        frame = world.weekly_channel[["date", "sales", *spend, *CONTROLS]].copy()
        frame["t"] = np.arange(len(frame))
        sys.stderr.write(f"[mmm peers] seed {seed}\n")
        # PyMC-Marketing's example models trend as a control column `t`; it gets the same.
        res = fit_pair(
            args.work / f"seed{seed}",
            frame,
            date="date",
            target="sales",
            channels=spend,
            controls_ours=CONTROLS,
            controls_peer=[*CONTROLS, "t"],
            settings={**settings, "seed": seed},
        )
        true_roi = {str(r.channel): float(r.roi) for r in world.roi.itertuples()}
        rows.append(
            {
                "seed": seed,
                "res": res,
                "true_roi": true_roi,
                "score": {k: score(res[k], world) for k in ("mixlens", "pymc-marketing")},
            }
        )
        (args.work / "rows.json").write_text(json.dumps(rows, default=str))
    example = None
    if not args.no_example and PMM_EXAMPLE.exists():
        sys.stderr.write("[mmm peers] mmm_example.csv\n")
        frame = pd.read_csv(PMM_EXAMPLE)
        frame = frame[["date_week", "y", "x1", "x2", "event_1", "event_2", "t"]]
        example = fit_pair(
            args.work / "example",
            frame,
            date="date_week",
            target="y",
            channels=["x1", "x2"],
            controls_ours=["event_1", "event_2"],
            controls_peer=["event_1", "event_2", "t"],
            settings={**settings, "seed": 0},
        )
    if example is not None:
        (args.work / "example.json").write_text(json.dumps(example))
    _write(rows, example, settings, args)


def _write(
    rows: list[dict[str, Any]],
    example: dict[str, Any] | None,
    settings: dict[str, int],
    args: argparse.Namespace,
) -> None:
    body = report(rows, example, settings)
    sys.stdout.write(body + "\n")
    cmd = (
        f"python benchmarks/peers/mmm_pymc_marketing.py --seeds {args.seeds} "
        f"--chains {args.chains} --draws {args.draws} --tune {args.tune}"
    )
    update_section("peers_mmm", body, command=cmd)


def report(
    rows: list[dict[str, Any]], example: dict[str, Any] | None, settings: dict[str, int]
) -> str:
    """Markdown tables for the RESULTS.md section."""
    version = ""
    if rows:
        version = rows[0]["res"]["pymc-marketing"]["info"].get("version", "")
    elif example:
        version = example["pymc-marketing"]["info"].get("version", "")
    lines = [
        f"mixlens default MMM (`fit_to_dir`, NUTS via nutpie) versus PyMC-Marketing {version} "
        "`MMM` with its defaults (GeometricAdstock(l_max=8), LogisticSaturation(), default "
        "priors, yearly_seasonality=2, nutpie; own venv, Python 3.12), both at "
        f"{settings['chains']} chains x {settings['draws']} draws after {settings['tune']} "
        "tuning steps, one after the other, each in a fresh process (wall = whole process "
        "incl. imports and compilation; peak RSS of that process). Simulator: "
        f"{WEEKS} weeks, {CHANNELS} channels, controls price and promotion. ROI error = "
        "|posterior mean - true| / true per channel; PyMC-Marketing ROI per draw = channel "
        "contribution in original scale / spend; intervals 90% central; corr = mean over "
        "channels of the correlation of posterior-mean weekly contributions with the truth. "
        "Compilation caches (pytensor, numba) were warm for both tools from earlier runs on "
        "this machine, and the 2 cores were shared with other jobs (load average 4 to 8), so "
        "wall times are indicative only.",
        "",
        "| seed | tool | ROI error mean | ROI error spend-weighted | 90% coverage "
        "| median width / true ROI | weekly corr | R² | divergences | max R-hat | wall s "
        "| peak RSS MiB |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    agg: dict[str, list[dict[str, float]]] = {"mixlens": [], "pymc-marketing": []}
    for r in rows:
        for tool in ("mixlens", "pymc-marketing"):
            s, i = r["score"][tool], r["res"][tool]["info"]
            agg[tool].append({**s, "wall_s": i["wall_s"], "peak_rss_mib": i["peak_rss_mib"]})
            lines.append(
                f"| {r['seed']} | {tool} | {s['err_mean']:.2f} | {s['err_weighted']:.2f} "
                f"| {s['covered']}/{s['n']} | {s['width']:.2f} | {s['corr']:.2f} "
                f"| {i.get('r2', float('nan')):.3f} | {i.get('divergences', '-')} "
                f"| {float(i.get('max_rhat', float('nan'))):.3f} | {i['wall_s']:.0f} "
                f"| {i['peak_rss_mib']:,.0f} |"
            )
    for tool, xs in agg.items():
        if xs:
            m = {k: float(np.mean([x[k] for x in xs])) for k in xs[0]}
            cov = sum(int(x["covered"]) for x in xs)
            tot = sum(int(x["n"]) for x in xs)
            lines.append(
                f"| **mean** | **{tool}** | {m['err_mean']:.2f} | {m['err_weighted']:.2f} "
                f"| {cov}/{tot} | {m['width']:.2f} | {m['corr']:.2f} | | | "
                f"| {m['wall_s']:.0f} | {m['peak_rss_mib']:,.0f} |"
            )
    if rows:
        lines += ["", "Per-channel ROI (true; mean [90%] of each tool):", ""]
        lines += [
            "| seed | channel | true ROI | mixlens | PyMC-Marketing |",
            "|---|---|---:|---:|---:|",
        ]
        for r in rows:
            for n in r["res"]["channels"]:
                a, b = r["res"]["mixlens"]["roi"][n], r["res"]["pymc-marketing"]["roi"][n]
                true = r.get("true_roi", {}).get(n)
                t = f"{true:.2f}" if true is not None else "-"
                lines.append(
                    f"| {r['seed']} | {n} | {t} | {a[0]:.2f} [{a[1]:.2f}, {a[2]:.2f}] "
                    f"| {b[0]:.2f} [{b[1]:.2f}, {b[2]:.2f}] |"
                )
    if example:
        lines += [
            "",
            "PyMC-Marketing's published `mmm_example.csv` (no truth; x1, x2 are its media "
            "inputs, so ROI = contribution / x; mixlens controls event_1, event_2 with its "
            "own trend; PyMC-Marketing controls event_1, event_2, t as in its example):",
            "",
            "| tool | channel | ROI mean [90%] | in-sample R² | MAPE | wall s | peak RSS MiB |",
            "|---|---|---:|---:|---:|---:|---:|",
        ]
        for tool in ("mixlens", "pymc-marketing"):
            i = example[tool]["info"]
            for n in example["channels"]:
                a = example[tool]["roi"][n]
                lines.append(
                    f"| {tool} | {n} | {a[0]:.2f} [{a[1]:.2f}, {a[2]:.2f}] "
                    f"| {i.get('r2', float('nan')):.3f} | {i.get('mape', float('nan')):.3f} "
                    f"| {i['wall_s']:.0f} | {i['peak_rss_mib']:,.0f} |"
                )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
