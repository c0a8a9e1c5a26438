"""MMM side by side with PyMC-Marketing and Google Meridian, in the same run.

mixlens (``fit_to_dir``, default NUTS via nutpie), PyMC-Marketing (``MMM`` with geometric
adstock, logistic saturation, default priors, nutpie; driven by ``_pmm_runner.py``) and
Meridian (``ModelSpec()`` defaults, ROI prior, JAX backend; driven by
``_meridian_runner.py``) fit the same panels, each in a fresh process, one after the
other, with the same chains/draws/tuning steps (Meridian: ``n_adapt = tune``,
``n_burnin = 0``, ``n_keep = draws``). Peers live in their own environments.

Full run, as measured in RESULTS.md (installs the peers first; 70 minutes on 2 cores at
load 2 to 23, roughly half that on a quiet machine)::

    bash benchmarks/peers/setup.sh && .venv/bin/python benchmarks/peers/mmm_pymc_marketing.py \
        --seeds 1,2,3 --chains 2 --draws 500 --tune 500 \
        --tools mixlens,pymc-marketing,meridian,meridian-aks

Re-fit only mixlens after a model change, keeping the peers' saved results::

    .venv/bin/python benchmarks/peers/mmm_pymc_marketing.py --seeds 1,2,3 --chains 2 \
        --draws 500 --tune 500 --tools mixlens,pymc-marketing,meridian,meridian-aks \
        --reuse pymc-marketing,meridian,meridian-aks

Options: ``--tools mixlens,pymc-marketing,meridian`` (the default; any subset, plus
``meridian-aks``: Meridian with its automatic knot selection), ``--no-example`` (skip
PyMC-Marketing's ``mmm_example.csv``), ``--from-json`` (rebuild the table from the saved
results in ``--work``), ``--reuse TOOL,..`` (take those tools' results from the saved
``rows.json`` instead of re-fitting them, e.g. to re-run only mixlens after a model change),
``--cold`` (every fit gets an empty PyTensor compile cache, a fresh ``base_compiledir``,
so mixlens and PyMC-Marketing compile their models from scratch as on a fresh machine;
JAX compiles afresh in every process anyway).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
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

ENVS = ROOT / "benchmarks" / ".envs"
PMM_ENV = ENVS / "pymc-marketing" / "bin" / "python"
MERIDIAN_ENV = ENVS / "meridian" / "bin" / "python"
PMM_RUNNER = Path(__file__).with_name("_pmm_runner.py")
MERIDIAN_RUNNER = Path(__file__).with_name("_meridian_runner.py")
PMM_EXAMPLE = ROOT.parent / "shared" / "data" / "external" / "pymc-marketing" / "mmm_example.csv"
WEEKS, CHANNELS = 156, 7
CONTROLS = ["price", "promotion"]
TOOLS = ("mixlens", "pymc-marketing", "meridian", "meridian-aks")
DEFAULT_TOOLS = "mixlens,pymc-marketing,meridian"
LABEL = {
    "mixlens": "mixlens",
    "pymc-marketing": "PyMC-Marketing",
    "meridian": "Meridian",
    "meridian-aks": "Meridian (AKS)",
}
ENV_OF = {"pymc-marketing": PMM_ENV, "meridian": MERIDIAN_ENV, "meridian-aks": MERIDIAN_ENV}

Result = dict[str, Any]


def mixlens_worker(cfg: dict[str, Any]) -> dict[str, Any]:
    """Fit mixlens on ``cfg['csv']`` (a mixlens weekly panel); return timings and diagnostics."""
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


#: ``--cold``: each fit compiles into an empty PyTensor cache (see the module docstring).
COLD_CACHE = {"on": False}


def run(cmd: list[str]) -> dict[str, float]:
    """Run a command (niced); return its wall and CPU seconds and the load around it.

    CPU seconds are user + system time of the whole process tree (all threads), which
    the machine's load changes much less than wall time. With ``--cold`` the command
    gets an empty PyTensor compile cache of its own.
    """
    env = dict(os.environ)
    cache = Path(tempfile.mkdtemp(prefix="peers_cold_")) if COLD_CACHE["on"] else None
    if cache is not None:
        flags = [f for f in env.get("PYTENSOR_FLAGS", "").split(",") if f]
        env["PYTENSOR_FLAGS"] = ",".join([*flags, f"base_compiledir={cache}"])
    load0 = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    done = subprocess.run(["nice", "-n", "5", *cmd], capture_output=True, text=True, env=env)
    if cache is not None:
        shutil.rmtree(cache, ignore_errors=True)
    if done.returncode:
        sys.stderr.write(done.stderr[-3000:])
        raise RuntimeError(f"failed: {' '.join(cmd)}")
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": wall, "cpu_s": cpu, "load": (load0 + os.getloadavg()[0]) / 2}


def _interval(draws: pd.Series) -> list[float]:
    return [float(draws.mean()), float(draws.quantile(0.05)), float(draws.quantile(0.95))]


def fit_mixlens(
    work: Path, frame: pd.DataFrame, spec: dict[str, Any], settings: dict[str, int]
) -> Result:
    """mixlens in a fresh process on the panel renamed to mixlens's contract."""
    names, channels = spec["names"], spec["channels"]
    extra = [c for c in spec["controls_peer"] if c not in spec["controls_ours"]]
    ours = frame.drop(columns=extra).rename(columns={spec["date"]: "date", spec["target"]: "sales"})
    ours = ours.rename(columns={c: f"{n}_spend" for c, n in zip(channels, names, strict=True)})
    csv, out = work / "panel_mixlens.csv", work / "mixlens"
    ours.to_csv(csv, index=False)
    out.mkdir(exist_ok=True)
    cfg = {"csv": str(csv), "out": str(out), "controls": spec["controls_ours"], **settings}
    (work / "mixlens.json").write_text(json.dumps(cfg))
    timing = run([sys.executable, __file__, "--worker", str(work / "mixlens.json")])
    info = {**json.loads((out / "worker.json").read_text()), **timing}
    roi = pd.read_csv(out / "roi.csv").set_index("channel").loc[names]
    contrib = pd.read_csv(out / "contributions.csv")
    weekly = contrib.pivot(index="date", columns="component", values="mean")
    info.update(_fit_quality(ours["sales"].to_numpy(dtype=float), weekly.sum(axis=1).to_numpy()))
    res: Result = {
        "info": info,
        "roi": {n: [float(roi.loc[n, k]) for k in ("roi_mean", "roi_lo", "roi_hi")] for n in names},
        "weekly": {n: weekly[n].tolist() for n in names},
    }
    if "mroi_lo" in roi.columns:
        res["mroi"] = {
            n: [float(roi.loc[n, k]) for k in ("mroi_mean", "mroi_lo", "mroi_hi")] for n in names
        }
    return res


def fit_pmm(
    work: Path, frame: pd.DataFrame, spec: dict[str, Any], settings: dict[str, int]
) -> Result:
    """PyMC-Marketing in its own environment (``_pmm_runner.py``)."""
    names = spec["names"]
    csv, out = work / "panel_peer.csv", work / "peer"
    frame.to_csv(csv, index=False)
    out.mkdir(exist_ok=True)
    cfg = {
        "csv": str(csv),
        "date": spec["date"],
        "target": spec["target"],
        "channels": spec["channels"],
        "controls": spec["controls_peer"],
        "out": str(out),
        "sampler": "nutpie",
        **settings,
    }
    (work / "peer.json").write_text(json.dumps(cfg))
    timing = run([str(PMM_ENV), str(PMM_RUNNER), str(work / "peer.json")])
    info = {**json.loads((out / "info.json").read_text()), **timing}
    draws = pd.read_csv(out / "roi_draws.csv")
    draws.columns = names
    weekly = pd.read_csv(out / "weekly_contributions.csv")
    weekly.columns = ["date", *names]
    return {
        "info": info,
        "roi": {n: _interval(draws[n]) for n in names},
        "weekly": {n: weekly[n].tolist() for n in names},
    }


def fit_meridian(
    work: Path,
    frame: pd.DataFrame,
    spec: dict[str, Any],
    settings: dict[str, int],
    aks: bool = False,
) -> Result:
    """Meridian in its own environment (``_meridian_runner.py``); media = spend.

    ``aks``: Meridian's automatic knot selection instead of its national default (1 knot,
    i.e. no time effect besides the controls).
    """
    names = spec["names"]
    tag = "meridian-aks" if aks else "meridian"
    csv, out = work / "panel_meridian.csv", work / tag
    frame.drop(columns=[c for c in ("t",) if c in frame.columns]).to_csv(csv, index=False)
    out.mkdir(exist_ok=True)
    cfg = {
        "csv": str(csv),
        "time": spec["date"],
        "kpi": spec["target"],
        "kpi_type": spec["kpi_type"],
        "channels": spec["channels"],
        "names": names,
        "controls": spec["controls_ours"],
        "geo": None,
        "population": None,
        "out": str(out),
        "chains": settings["chains"],
        "adapt": settings["tune"],
        "burnin": 0,
        "keep": settings["draws"],
        "seed": settings["seed"],
        "enable_aks": aks,
    }
    (work / f"{tag}.json").write_text(json.dumps(cfg))
    timing = run([str(MERIDIAN_ENV), str(MERIDIAN_RUNNER), str(work / f"{tag}.json")])
    info = {**json.loads((out / "info.json").read_text()), **timing}
    draws = pd.read_csv(out / "roi_draws.csv")
    weekly = pd.read_csv(out / "weekly_contributions.csv")
    mroi = pd.read_csv(out / "mroi_draws.csv") if (out / "mroi_draws.csv").exists() else None
    res: Result = {
        "info": info,
        "roi": {n: _interval(draws[n]) for n in names},
        "weekly": {n: weekly[n].tolist() for n in names},
    }
    if mroi is not None:
        res["mroi"] = {n: _interval(mroi[n]) for n in names}
    return res


def fit_meridian_aks(
    work: Path, frame: pd.DataFrame, spec: dict[str, Any], settings: dict[str, int]
) -> Result:
    """Meridian with automatic knot selection (its documented alternative to the default)."""
    return fit_meridian(work, frame, spec, settings, aks=True)


FITTERS = {
    "mixlens": fit_mixlens,
    "pymc-marketing": fit_pmm,
    "meridian": fit_meridian,
    "meridian-aks": fit_meridian_aks,
}


def fit_tools(
    work: Path,
    frame: pd.DataFrame,
    spec: dict[str, Any],
    settings: dict[str, int],
    tools: list[str],
    reuse: dict[str, Result] | None = None,
) -> dict[str, Any]:
    """Fit each tool on one panel, one after the other; return their ROI and contributions."""
    work.mkdir(parents=True, exist_ok=True)
    spec = {
        **spec,
        "names": [c.removesuffix("_spend") for c in spec["channels"]],
    }
    res: dict[str, Any] = {"channels": spec["names"]}
    for tool in tools:
        if reuse and tool in reuse:
            res[tool] = reuse[tool]
            continue
        sys.stderr.write(f"[mmm peers]   {tool}\n")
        res[tool] = FITTERS[tool](work, frame, spec, settings)
    return res


def _fit_quality(obs: np.ndarray, fitted: np.ndarray) -> dict[str, float]:
    r2 = 1 - float(((obs - fitted) ** 2).sum()) / float(((obs - obs.mean()) ** 2).sum())
    return {"r2": r2, "mape": float(np.mean(np.abs(obs - fitted) / np.abs(obs)))}


def score(res: Result, truth: pd.DataFrame, weekly_truth: pd.DataFrame) -> dict[str, float]:
    """ROI error (plain, spend-weighted), coverage, median width / true ROI, weekly corr.

    Also the marginal ROI's mean relative error and 90% coverage where the tool gives them.
    """
    names = list(res["roi"])
    true = truth.loc[names, "roi"].to_numpy()
    spend = truth.loc[names, "spend"].to_numpy()
    est = np.array([res["roi"][n] for n in names])
    err = np.abs(est[:, 0] - true) / true
    covered = (est[:, 1] <= true) & (true <= est[:, 2])
    corr = [float(np.corrcoef(res["weekly"][n], weekly_truth[n].to_numpy())[0, 1]) for n in names]
    out = {
        "err_mean": float(err.mean()),
        "err_weighted": float((err * spend).sum() / spend.sum()),
        "covered": int(covered.sum()),
        "n": len(names),
        "width": float(np.median((est[:, 2] - est[:, 1]) / true)),
        "corr": float(np.mean(corr)),
    }
    if "mroi" in res and "mroi" in truth.columns:
        tm = truth.loc[names, "mroi"].to_numpy()
        em = np.array([res["mroi"][n] for n in names])
        out["mroi_err"] = float(np.mean(np.abs(em[:, 0] - tm) / tm))
        out["mroi_covered"] = int(((em[:, 1] <= tm) & (tm <= em[:, 2])).sum())
    return out


def main() -> None:
    """Command line entry point (see the module docstring)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker", type=Path)
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--tools", help=f"default {DEFAULT_TOOLS} (--from-json: all saved)")
    parser.add_argument("--reuse", default="", help="tools whose saved results are kept")
    parser.add_argument("--no-example", action="store_true")
    parser.add_argument("--from-json", action="store_true", help="table from saved results only")
    parser.add_argument(
        "--work", type=Path, default=Path(tempfile.gettempdir()) / "mixlens_peers_mmm"
    )
    parser.add_argument(
        "--section", default="peers_mmm", help="RESULTS.md section written (e.g. per setting)"
    )
    parser.add_argument("--cold", action="store_true", help="empty compile cache per fit")
    args = parser.parse_args()
    COLD_CACHE["on"] = args.cold
    if args.worker:
        cfg = json.loads(args.worker.read_text())
        info = mixlens_worker(cfg)
        (Path(cfg["out"]) / "worker.json").write_text(json.dumps(info))
        return
    if args.tools is None:
        args.tools = ",".join(TOOLS) if args.from_json else DEFAULT_TOOLS
    tools = [t for t in args.tools.split(",") if t]
    unknown = sorted(set(tools) - set(TOOLS))
    if unknown:
        sys.exit(f"unknown tools {unknown}; choose from {', '.join(TOOLS)}")
    reuse_tools = {t for t in args.reuse.split(",") if t}
    settings = {"chains": args.chains, "draws": args.draws, "tune": args.tune}
    if args.from_json:
        saved = json.loads((args.work / "rows.json").read_text())
        ex_file = args.work / "example.json"
        ex = json.loads(ex_file.read_text()) if ex_file.exists() else None
        _write(saved, ex, settings, args, tools)
        return
    for tool in tools:
        env = ENV_OF.get(tool)
        if tool not in reuse_tools and env is not None and not env.exists():
            sys.exit(f"{tool} environment missing: run bash benchmarks/peers/setup.sh")
    saved_rows: dict[int, dict[str, Any]] = {}
    saved_example: dict[str, Any] | None = None
    if reuse_tools:
        saved_rows = {r["seed"]: r for r in json.loads((args.work / "rows.json").read_text())}
        if (args.work / "example.json").exists():
            saved_example = json.loads((args.work / "example.json").read_text())
    from mixlens.data.simulate.mmm import MMMWorldConfig, simulate_mmm

    rows: list[dict[str, Any]] = []
    for seed in (int(s) for s in args.seeds.split(",") if s):
        world = simulate_mmm(MMMWorldConfig(weeks=WEEKS, n_channels=CHANNELS), seed=seed)
        spend = [f"{c}_spend" for c in world.roi["channel"]]
        frame = world.weekly_channel[["date", "sales", *spend, *CONTROLS]].copy()
        # PyMC-Marketing's example models trend as a control column `t`; it gets the same.
        frame["t"] = np.arange(len(frame))
        sys.stderr.write(f"[mmm peers] seed {seed}\n")
        old = saved_rows.get(seed, {}).get("res", {})
        res = fit_tools(
            args.work / f"seed{seed}",
            frame,
            {
                "date": "date",
                "target": "sales",
                "channels": spend,
                "controls_ours": CONTROLS,
                "controls_peer": [*CONTROLS, "t"],
                "kpi_type": "revenue",
            },
            {**settings, "seed": seed},
            tools,
            reuse={t: old[t] for t in reuse_tools if t in old},
        )
        truth = world.roi.set_index("channel")
        wk = world.weekly_contributions.pivot(
            index="date", columns="component", values="contribution"
        )
        rows.append(
            {
                "seed": seed,
                "res": res,
                "true_roi": {n: float(truth.loc[n, "roi"]) for n in res["channels"]},
                "score": {t: score(res[t], truth, wk) for t in tools},
            }
        )
        (args.work / "rows.json").write_text(json.dumps(rows, default=str))
    example = None
    if not args.no_example and PMM_EXAMPLE.exists():
        sys.stderr.write("[mmm peers] mmm_example.csv\n")
        frame = pd.read_csv(PMM_EXAMPLE)
        frame = frame[["date_week", "y", "x1", "x2", "event_1", "event_2", "t"]]
        old_ex = saved_example or {}
        example = fit_tools(
            args.work / "example",
            frame,
            {
                "date": "date_week",
                "target": "y",
                "channels": ["x1", "x2"],
                "controls_ours": ["event_1", "event_2"],
                "controls_peer": ["event_1", "event_2", "t"],
                # x1, x2 are not spend in currency: Meridian's scale-free prior on the total
                # paid-media contribution (its default for a KPI without revenue) fits that.
                "kpi_type": "non_revenue",
            },
            {**settings, "seed": 0},
            tools,
            reuse={t: old_ex[t] for t in reuse_tools if t in old_ex},
        )
        (args.work / "example.json").write_text(json.dumps(example))
    _write(rows, example, settings, args, tools)


def _write(
    rows: list[dict[str, Any]],
    example: dict[str, Any] | None,
    settings: dict[str, int],
    args: argparse.Namespace,
    tools: list[str],
) -> None:
    results = [r["res"] for r in rows] + ([example] if example else [])
    tools = [t for t in tools if any(t in res for res in results)]
    body = report(rows, example, settings, tools, cold=args.cold)
    sys.stdout.write(body + "\n")
    cmd = (
        f"python benchmarks/peers/mmm_pymc_marketing.py --seeds {args.seeds} "
        f"--chains {args.chains} --draws {args.draws} --tune {args.tune} "
        f"--tools {','.join(tools)}" + (f" --reuse {args.reuse}" if args.reuse else "")
    )
    if args.cold:
        cmd += " --cold"
    if args.section != "peers_mmm":
        cmd += f" --section {args.section} --work {args.work}"
    update_section(args.section, body, command=cmd)


def _version(rows: list[dict[str, Any]], example: dict[str, Any] | None, tool: str) -> str:
    for res in [r["res"] for r in rows] + ([example] if example else []):
        if tool in res:
            return str(res[tool]["info"].get("version", ""))
    return ""


def _loads(rows: list[dict[str, Any]], example: dict[str, Any] | None) -> list[float]:
    out = []
    for res in [r["res"] for r in rows] + ([example] if example else []):
        out += [float(v["info"].get("load", "nan")) for k, v in res.items() if k != "channels"]
    return [x for x in out if np.isfinite(x)]


def _fmt(x: Any, spec: str = ".3f") -> str:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return "-"
    return "-" if not np.isfinite(v) else format(v, spec)


def report(
    rows: list[dict[str, Any]],
    example: dict[str, Any] | None,
    settings: dict[str, int],
    tools: list[str] | None = None,
    *,
    cold: bool = False,
) -> str:
    """Markdown tables for the RESULTS.md section."""
    present = [r["res"] for r in rows] + ([example] if example else [])
    tools = [t for t in (tools or list(TOOLS)) if any(t in res for res in present)]
    loads = _loads(rows, example)
    load_txt = f"{min(loads):.1f} to {max(loads):.1f}" if loads else "unknown"
    peers = []
    if "pymc-marketing" in tools:
        peers.append(
            f"PyMC-Marketing {_version(rows, example, 'pymc-marketing')} `MMM` with its "
            "defaults (GeometricAdstock(l_max=8), LogisticSaturation(), default priors, "
            "yearly_seasonality=2, nutpie; own venv, Python 3.12)"
        )
    if "meridian" in tools:
        peers.append(
            f"Google Meridian {_version(rows, example, 'meridian')} with its defaults "
            "(`ModelSpec()`: ROI prior on paid media, adstock then Hill, max_lag 8; national "
            "model; media = spend; JAX backend; own venv, Python 3.11; `n_adapt` = tuning "
            "steps, `n_burnin` = 0, `n_keep` = draws; ROI and weekly contributions from its "
            "`Analyzer.roi` and `Analyzer.incremental_outcome`, R² from "
            "`Analyzer.expected_outcome`). Meridian's default for a national model is a single "
            "knot, i.e. no trend or seasonality besides the controls"
            + (
                "; `meridian-aks` is the same with its automatic knot selection "
                "(`ModelSpec(enable_aks=True)`)"
                if "meridian-aks" in tools
                else ""
            )
            + ")"
        )
    lines = [
        "mixlens default MMM (`fit_to_dir`, NUTS via nutpie) versus "
        + " and ".join(peers)
        + f", all at {settings['chains']} chains x {settings['draws']} draws after "
        f"{settings['tune']} tuning steps, one after the other, each in a fresh process (wall "
        "= whole process incl. imports and compilation; CPU s = user + system time of that "
        "process and its threads, which load changes much less; peak RSS of that process). "
        "Simulator: "
        f"{WEEKS} weeks, {CHANNELS} channels, controls price and promotion (PyMC-Marketing "
        "also gets a linear trend column `t`, as in its example; Meridian models time with "
        "its own knots). ROI error = |posterior mean - true| / true per channel; ROI per draw "
        "= channel contribution in original units / spend; intervals 90% central; corr = mean "
        "over channels of the correlation of posterior-mean weekly contributions with the "
        "truth; mROI error and coverage where the tool reports a marginal ROI with draws "
        "(mixlens, Meridian). "
        + (
            "Cold start: every fit compiled its model into an empty PyTensor cache (a fresh "
            "`base_compiledir`), as on a fresh machine; JAX compiles afresh in each process. "
            if cold
            else "Compilation caches (pytensor, numba, nutpie) were warm from earlier runs; "
            "JAX compiles afresh in each process. "
        )
        + "The 2 cores were shared with "
        f"other jobs (1-minute load average during the fits {load_txt}), so wall times are "
        "indicative only; the accuracy columns do not depend on load.",
        "",
        "| seed | tool | ROI error mean | ROI error spend-weighted | 90% coverage "
        "| median width / true ROI | weekly corr | mROI error | mROI coverage | R² "
        "| divergences | max R-hat | min bulk ESS | wall s | CPU s | peak RSS MiB |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    agg: dict[str, list[dict[str, float]]] = {t: [] for t in tools}
    for r in rows:
        for tool in tools:
            if tool not in r["score"]:
                continue
            s, i = r["score"][tool], r["res"][tool]["info"]
            agg[tool].append(
                {
                    **{k: v for k, v in s.items() if k not in ("mroi_err", "mroi_covered")},
                    "mroi_err": s.get("mroi_err", float("nan")),
                    "mroi_covered": s.get("mroi_covered", float("nan")),
                    "wall_s": i["wall_s"],
                    "cpu_s": i.get("cpu_s", float("nan")),
                    "min_ess_bulk": i.get("min_ess_bulk", float("nan")),
                    "peak_rss_mib": i["peak_rss_mib"],
                }
            )
            mcov = f"{s['mroi_covered']}/{s['n']}" if "mroi_covered" in s else "-"
            lines.append(
                f"| {r['seed']} | {tool} | {s['err_mean']:.2f} | {s['err_weighted']:.2f} "
                f"| {s['covered']}/{s['n']} | {s['width']:.2f} | {s['corr']:.2f} "
                f"| {_fmt(s.get('mroi_err'), '.2f')} | {mcov} "
                f"| {_fmt(i.get('r2'))} | {i.get('divergences', '-')} "
                f"| {_fmt(i.get('max_rhat'))} | {_fmt(i.get('min_ess_bulk'), '.0f')} "
                f"| {i['wall_s']:.0f} "
                f"| {_fmt(i.get('cpu_s'), '.0f')} | {i['peak_rss_mib']:,.0f} |"
            )
    for tool, xs in agg.items():
        if xs:
            m = {k: float(np.mean([x[k] for x in xs])) for k in xs[0]}
            cov = sum(int(x["covered"]) for x in xs)
            tot = sum(int(x["n"]) for x in xs)
            mc = [x["mroi_covered"] for x in xs if np.isfinite(x["mroi_covered"])]
            mcov = f"{int(sum(mc))}/{tot}" if len(mc) == len(xs) else "-"
            lines.append(
                f"| **mean** | **{tool}** | {m['err_mean']:.2f} | {m['err_weighted']:.2f} "
                f"| {cov}/{tot} | {m['width']:.2f} | {m['corr']:.2f} "
                f"| {_fmt(m['mroi_err'], '.2f')} | {mcov} | | | "
                f"| {_fmt(m['min_ess_bulk'], '.0f')} | {m['wall_s']:.0f} "
                f"| {_fmt(m['cpu_s'], '.0f')} | {m['peak_rss_mib']:,.0f} |"
            )
    means = {t: xs for t, xs in agg.items() if xs}
    if len(means) > 1:

        def best(key: str, spec: str = ".2f") -> str:
            vals = {t: float(np.mean([x[key] for x in xs])) for t, xs in means.items()}
            top = min(vals, key=vals.__getitem__)
            return f"{top} ({vals[top]:{spec}})"

        cover = {t: sum(int(x["covered"]) for x in xs) for t, xs in means.items()}
        top_cov = max(cover, key=cover.__getitem__)
        lines += [
            "",
            f"Measured here: lowest mean ROI error {best('err_mean')}, lowest spend-weighted "
            f"ROI error {best('err_weighted')}, highest 90% coverage {top_cov} "
            f"({cover[top_cov]}/{sum(int(x['n']) for x in means[top_cov])}), lowest mean "
            f"wall time {best('wall_s', '.0f')} s (indicative, see load above), lowest mean "
            f"CPU time {best('cpu_s', '.0f')} s.",
        ]
    if rows:
        lines += ["", "Per-channel ROI (true; mean [90%] of each tool):", ""]
        lines += [
            "| seed | channel | true ROI | " + " | ".join(LABEL[t] for t in tools) + " |",
            "|---|---|---:|" + "---:|" * len(tools),
        ]
        for r in rows:
            for n in r["res"]["channels"]:
                true = r.get("true_roi", {}).get(n)
                t = f"{true:.2f}" if true is not None else "-"
                cells = []
                for tool in tools:
                    a = r["res"].get(tool, {}).get("roi", {}).get(n)
                    cells.append(f"{a[0]:.2f} [{a[1]:.2f}, {a[2]:.2f}]" if a else "-")
                lines.append(f"| {r['seed']} | {n} | {t} | " + " | ".join(cells) + " |")
    if example:
        lines += [
            "",
            "PyMC-Marketing's published `mmm_example.csv` (no truth; x1, x2 are its media "
            "inputs, so ROI = contribution / x; mixlens controls event_1, event_2 with its "
            "own trend; PyMC-Marketing controls event_1, event_2, t as in its example; "
            "Meridian controls event_1, event_2 with its own knots, KPI type non-revenue so "
            "that its default prior is the scale-free one on total paid-media contribution):",
            "",
            "| tool | channel | ROI mean [90%] | in-sample R² | MAPE | wall s | CPU s "
            "| peak RSS MiB |",
            "|---|---|---:|---:|---:|---:|---:|---:|",
        ]
        for tool in tools:
            if tool not in example:
                continue
            i = example[tool]["info"]
            for n in example["channels"]:
                a = example[tool]["roi"][n]
                lines.append(
                    f"| {tool} | {n} | {a[0]:.2f} [{a[1]:.2f}, {a[2]:.2f}] "
                    f"| {_fmt(i.get('r2'))} | {_fmt(i.get('mape'))} "
                    f"| {i['wall_s']:.0f} | {_fmt(i.get('cpu_s'), '.0f')} "
                    f"| {i['peak_rss_mib']:,.0f} |"
                )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
