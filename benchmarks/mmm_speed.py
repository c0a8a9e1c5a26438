"""Whole-process time of ``mixlens mmm fit``, phase by phase, cold and warm compile cache.

Run: ``PYTHONPATH=src python benchmarks/mmm_speed.py [--baseline-ref REF] [--configs 2x500]``.
Writes the ``mmm_speed`` section of RESULTS.md.

Each fit is ``mixlens mmm fit`` on the simulator's weekly panel (156 weeks, 7 channels,
controls price and promotion), run in a fresh process through the CLI, with timers
around its phases: import (the CLI and its libraries), model build, compile (PyTensor
rewrites and numba), sample (nutpie), the rest of the fit (data preparation,
diagnostics) and post-processing (results tables, NetCDF, summary). CPU seconds are the
process's own (user + system, all threads), so they depend less on the machine's load
than wall seconds do.

"cold" runs with an empty numba cache (PyTensor's ``base_compiledir`` set to a fresh
folder; its C cache, which PyMC uses for the initial point, stays the usual one), as
for a model structure or data shapes never compiled before on the machine; "warm" runs
the same fit again with that cache. With ``--baseline-ref`` the same runs use the
package as it was at that git commit (``git archive``), the "before" rows.

``--micro N`` also times one evaluation of the model's log density and gradient (the
function NUTS calls at every leapfrog step) for each version: the default model of the
same panel, ``[logp, *grad]`` compiled by PyTensor in NUMBA mode (as nutpie does), N
evaluations at 5 random points, CPU time (``time.process_time``), best of 3 repeats;
once called from Python (``pytensor.function``, with its per-call overhead) and once
from a numba loop around the compiled function (the compute alone, as nutpie calls it).
``--states`` and ``--section`` run a subset of the cache states and write another
section (e.g. ``--configs 4x1000 --states cold,warm --section mmm_gradient``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import baseline_src, update_section

ROOT = Path(__file__).resolve().parents[1]
PHASES = ("import", "build", "compile", "sample", "fit_other", "post")


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child(args: list[str], timings_path: Path) -> None:
    """Run ``mixlens mmm fit ARGS`` in this process with timers around its phases."""
    marks: dict[str, list[float]] = {p: [0.0, 0.0] for p in PHASES}
    wall0, cpu0 = time.perf_counter(), _cpu()

    import warnings

    import nutpie

    import mixlens.mmm.fit as fit_module
    from mixlens.cli import app
    from mixlens.cli._app import _show_warning

    warnings.showwarning = _show_warning

    marks["import"] = [time.perf_counter() - wall0, _cpu() - cpu0]

    def timed(phase: str, function: Any) -> Any:
        def wrapper(*a: Any, **k: Any) -> Any:
            w, c = time.perf_counter(), _cpu()
            try:
                return function(*a, **k)
            finally:
                marks[phase][0] += time.perf_counter() - w
                marks[phase][1] += _cpu() - c

        return wrapper

    fit_module.build_model = timed("build", fit_module.build_model)
    nutpie.compile_pymc_model = timed("compile", nutpie.compile_pymc_model)
    nutpie.sample = timed("sample", nutpie.sample)
    try:
        import mixlens.mmm._nutpie as cached

        cached.compile_nutpie = timed("compile", cached.compile_nutpie)
    except ImportError:  # the baseline has no cached compile
        pass
    fit_total = [0.0, 0.0]
    original_fit = fit_module.MMM.fit

    def fit(self: Any, *a: Any, **k: Any) -> Any:
        w, c = time.perf_counter(), _cpu()
        try:
            return original_fit(self, *a, **k)
        finally:
            fit_total[0] += time.perf_counter() - w
            fit_total[1] += _cpu() - c

    fit_module.MMM.fit = fit  # type: ignore[method-assign]
    w, c = time.perf_counter(), _cpu()
    try:
        app(["mmm", "fit", *args], prog_name="mixlens", standalone_mode=False)
    except SystemExit as stop:
        if stop.code:
            raise
    run_wall, run_cpu = time.perf_counter() - w, _cpu() - c
    inner = [sum(marks[p][i] for p in ("build", "compile", "sample")) for i in (0, 1)]
    marks["fit_other"] = [fit_total[i] - inner[i] for i in (0, 1)]
    marks["post"] = [(run_wall, run_cpu)[i] - fit_total[i] for i in (0, 1)]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    timings_path.write_text(json.dumps({"phases": marks, "peak_rss_mib": peak}))


def micro_child(n_evals: int, seed: int) -> None:
    """Time ``[logp, *grad]`` of the default model in NUMBA mode; JSON on stdout."""
    import numba
    import numpy as np
    import pytensor
    import pytensor.tensor as pt
    from pytensor.compile.sharedvalue import SharedVariable

    from mixlens.data.simulate.mmm import MMMWorldConfig, simulate_mmm
    from mixlens.mmm.data import MMMData
    from mixlens.mmm.model import build_model
    from mixlens.mmm.spec import MMMSpec

    world = simulate_mmm(MMMWorldConfig(weeks=156, n_channels=7), seed=seed)
    spec = MMMSpec(channels=tuple(world.roi["channel"]), controls=("price", "promotion"))
    model = build_model(MMMData.from_panel(world.weekly_channel, spec), spec)
    values = model.value_vars
    logp = model.logp()
    function = pytensor.function(values, [logp, *pt.grad(logp, values)], mode="NUMBA")
    start = model.initial_point()
    rng = np.random.default_rng(0)
    points = [
        [start[v.name] + rng.normal(0.0, 0.3, size=np.shape(start[v.name])) for v in values]
        for _ in range(5)
    ]
    jit_fn = function.vm.jit_fn
    shared = [
        i.get_value(borrow=True)
        for i in function.maker.fgraph.inputs
        if isinstance(i, SharedVariable)
    ]
    jit_points = [[np.asarray(a, dtype=np.float64) for a in p] + shared for p in points]
    names = ", ".join(f"a{i}" for i in range(len(jit_points[0])))
    source = (
        f"def loop(n, {names}):\n    acc = 0.0\n    for i in range(n):\n"
        f"        acc += jit_fn({names})[0][()]\n    return acc\n"
    )
    namespace: dict[str, Any] = {"jit_fn": jit_fn}
    exec(source, namespace)  # a numba loop over the compiled function's arguments
    loop = numba.njit(namespace["loop"])
    loop(2, *jit_points[0])
    for p in points:
        function(*p)

    def best(run: Any) -> float:
        times = []
        for _ in range(3):
            c = time.process_time()
            run()
            times.append((time.process_time() - c) / n_evals * 1e6)
        return min(times)

    python_us = best(lambda: [function(*points[i % 5]) for i in range(n_evals)])
    numba_us = best(lambda: loop(n_evals, *jit_points[0]))
    nodes = len(function.maker.fgraph.apply_nodes)
    sys.stdout.write(json.dumps({"python_us": python_us, "numba_us": numba_us, "nodes": nodes}))


def run_micro(src: Path, cache: Path, n_evals: int, seed: int) -> dict[str, Any]:
    """Run :func:`micro_child` with the package at ``src`` in a fresh process."""
    env = {**os.environ, "PYTHONPATH": str(src), "PYTENSOR_FLAGS": f"base_compiledir={cache}"}
    cmd = [sys.executable, __file__, "--micro-child", str(n_evals), "--seed", str(seed)]
    out = subprocess.run(cmd, check=True, env=env, capture_output=True, text=True).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    result["load"] = os.getloadavg()[0]
    return result


def _simulate(folder: Path, seed: int, weeks: int = 156) -> Path:
    if not (folder / "weekly_channel.csv").exists():
        cmd = [sys.executable, "-m", "mixlens.cli", "simulate", "mmm", "--out", str(folder)]
        cmd += ["--seed", str(seed), "--channels", "7", "--weeks", str(weeks)]
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        subprocess.run(cmd, check=True, capture_output=True, env=env)
    return folder / "weekly_channel.csv"


def run_fit(
    src: Path, panel: Path, out: Path, cache: Path, config: tuple[str, int, int], seed: int
) -> dict[str, Any]:
    """One fit in a fresh process; phase timings, whole-process wall/CPU, diagnostics."""
    timings = out.with_suffix(".timings.json")
    query = "from pytensor.configdefaults import config; print(config.compiledir)"
    c_cache = subprocess.run(
        [sys.executable, "-c", query], check=True, capture_output=True, text=True
    ).stdout.strip()
    env = {
        **os.environ,
        "PYTHONPATH": str(src),
        "PYTENSOR_FLAGS": f"base_compiledir={cache},compiledir={c_cache}",
    }
    method, chains, draws = config
    args = [str(panel), "--out", str(out), "--method", method, "--chains", str(chains)]
    args += ["--draws", str(draws), "--tune", str(draws), "--seed", str(seed)]
    args += ["--controls", "price,promotion"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    cmd = [sys.executable, __file__, "--child", str(timings), "--", *args]
    subprocess.run(cmd, check=True, env=env, capture_output=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    summary = json.loads((out / "summary.json").read_text())
    import arviz as az

    idata = az.from_netcdf(out / "posterior.nc")
    steps = None
    if "sample_stats" in idata.groups() and "n_steps" in idata["sample_stats"]:
        steps = float(idata["sample_stats"]["n_steps"].mean())
    diag = summary["diagnostics"]
    roi = {r["channel"]: r["roi_mean"] for r in summary["roi"]}
    recorded = json.loads(timings.read_text())
    return {
        "phases": recorded["phases"],
        "wall": wall,
        "cpu": cpu,
        "rss_mib": recorded["peak_rss_mib"],
        "divergences": diag["divergences"],
        "max_rhat": diag["max_rhat"],
        "min_ess": diag["min_ess_bulk"],
        "roi": roi,
        "steps": steps,
    }


def _num(value: Any, fmt: str) -> str:
    """Format a number, or ``-`` when missing or negative (ADVI has no R-hat)."""
    if value is None or value != value or value < 0:
        return "-"
    return fmt.format(value)


def _config(text: str) -> tuple[str, int, int]:
    """``CHAINSxDRAWS`` (NUTS) or ``advi`` (ADVI, 500 draws) as (method, chains, draws)."""
    if text == "advi":
        return ("advi", 1, 500)
    chains, draws = (int(v) for v in text.split("x"))
    return ("nuts", chains, draws)


def _truth(panel: Path) -> dict[str, float]:
    """True ROI per channel of a simulated panel (its ``truth/roi.csv``)."""
    rows = (panel.parent / "truth" / "roi.csv").read_text().splitlines()
    header = rows[0].split(",")
    return {r.split(",")[0]: float(r.split(",")[header.index("roi")]) for r in rows[1:]}


def _roi_error(roi: dict[str, float], truth: dict[str, float]) -> float:
    errors = [abs(roi[c] - t) / t for c, t in truth.items() if c in roi]
    return sum(errors) / len(errors)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", type=Path)
    parser.add_argument("--baseline-ref", default=None, help="git ref of the 'before' rows")
    parser.add_argument(
        "--configs", default="2x500,4x1000,advi", help="CHAINSxDRAWS (tune = draws) or advi"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--states", default="cold,warm,new shapes", help="cache states to run")
    parser.add_argument("--section", default="mmm_speed", help="RESULTS.md section")
    parser.add_argument("--micro", type=int, default=0, help="logp+grad evaluations to time")
    parser.add_argument("--micro-child", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("rest", nargs="*")
    args = parser.parse_args()
    if args.child is not None:
        child(args.rest, args.child)
        return
    if args.micro_child is not None:
        micro_child(args.micro_child, args.seed)
        return
    wanted = [s.strip() for s in args.states.split(",") if s.strip()]
    configs = [_config(c) for c in args.configs.split(",")]
    loads = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory(prefix="mmm_speed_") as tmp:
        work = Path(tmp)
        panels = {
            "cold": _simulate(work / "sim", args.seed),
            "new shapes": _simulate(work / "sim150", args.seed, weeks=150),
        }
        panels["warm"] = panels["cold"]
        truths = {state: _truth(panel) for state, panel in panels.items()}
        versions = [("after", ROOT / "src")]
        if args.baseline_ref:
            (work / "base").mkdir()
            versions.insert(0, ("before", baseline_src(args.baseline_ref, work / "base")))
        rows = []
        for config in configs:
            label = "ADVI" if config[0] == "advi" else f"NUTS {config[1]} x {config[2]}"
            for name, src in versions:
                cache = work / f"cache_{name}_{config[0]}_{config[1]}x{config[2]}"
                cache.mkdir()
                states = ["cold", "warm"] + (["new shapes"] if config[0] == "nuts" else [])
                states = [s for s in states if s in wanted]
                for state in states:
                    out = work / f"fit_{cache.name}_{state.replace(' ', '_')}"
                    result = run_fit(src, panels[state], out, cache, config, args.seed)
                    result["roi_error"] = _roi_error(result["roi"], truths[state])
                    loads.append(os.getloadavg()[0])
                    rows.append({"version": name, "run": label, "cache": state} | result)
                    sys.stderr.write(f"{name} {label} {state}: {result['wall']:.1f} s\n")
        micro = {}
        for name, src in versions if args.micro else []:
            cache = work / f"cache_{name}_micro"
            cache.mkdir()
            micro[name] = run_micro(src, cache, args.micro, args.seed)
            loads.append(os.getloadavg()[0])
            sys.stderr.write(f"{name} micro: {micro[name]}\n")
    lines = [
        f"`mixlens mmm fit` on the simulator's weekly panel (seed {args.seed}, 156 weeks, 7 "
        "channels, controls price and promotion); NUTS with tune = draws; ADVI = `--method "
        "advi` (20,000 Adam steps, 500 draws); each fit a fresh process. "
        "Phases: import (CLI and libraries), build (PyMC model), compile (PyTensor rewrites "
        "and numba: `nutpie.compile_pymc_model` before, `mixlens.mmm._nutpie.compile_nutpie` "
        "after), sample (nutpie), fit other (data preparation, diagnostics), post "
        "(results, tables, NetCDF). Cells are CPU s / wall s (CPU = user + system of all "
        "threads; wall depends on the machine's load, CPU much less). cold = empty numba "
        "cache; warm = the same fit again; new shapes = then a panel of 150 weeks (same "
        "seed), whose graph has other static shapes (numba's per-operation cache is warm, "
        "the function graph is new). whole = the process from start to exit, as "
        "measured by the parent. "
        + (f"before = git `{args.baseline_ref}`. " if args.baseline_ref else "")
        + "1-minute load average during the runs (2 cores, shared): "
        f"{min(loads):.1f} to {max(loads):.1f}.",
        "",
        "| version | fit | cache | import | build | compile | sample | fit other "
        "| post | whole process | peak RSS MiB | steps/draw | divergences | max R-hat "
        "| min bulk ESS | ROI error mean |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        cells = [f"{r['phases'][p][1]:.1f} / {r['phases'][p][0]:.1f}" for p in PHASES]
        steps = "-" if r["steps"] is None else f"{r['steps']:.0f}"
        lines.append(
            f"| {r['version']} | {r['run']} | {r['cache']} | "
            + " | ".join(cells)
            + f" | {r['cpu']:.1f} / {r['wall']:.1f} | {r['rss_mib']:.0f} | {steps} | "
            f"{_num(r['divergences'], '{:.0f}')} | {_num(r['max_rhat'], '{:.3f}')} | "
            f"{_num(r['min_ess'], '{:.0f}')} | "
            f"{r['roi_error']:.2f} |"
        )
    lines.append("")
    for run in dict.fromkeys(r["run"] for r in rows):
        for state in ("cold", "warm", "new shapes"):
            pair = {r["version"]: r for r in rows if r["run"] == run and r["cache"] == state}
            if "before" in pair and "after" in pair:
                b, a = pair["before"], pair["after"]
                lines.append(
                    f"- {run}, {state}: whole process {b['wall']:.1f} s -> {a['wall']:.1f} s "
                    f"wall, {b['cpu']:.1f} -> {a['cpu']:.1f} CPU s; compile "
                    f"{b['phases']['compile'][1]:.1f} -> {a['phases']['compile'][1]:.1f} CPU s; "
                    f"sample {b['phases']['sample'][1]:.1f} -> {a['phases']['sample'][1]:.1f} "
                    "CPU s."
                )
    if micro:
        lines += [
            "",
            "Where the graph changed between before and after, both give the same density "
            "(to rounding) but their floating-point rounding differs, so the chains take "
            "other paths: steps, divergences, ESS and ROI differ by sampling noise only.",
            "",
            f"One evaluation of log density + gradient of the default model (156 weeks, 7 "
            f"channels, simulator seed {args.seed}), NUMBA mode, CPU microseconds, best of 3 "
            f"repeats of {args.micro:,} evaluations; python = through `pytensor.function` "
            "(per-call overhead included), numba = from a numba loop (the compute alone, as "
            "nutpie calls it); nodes = operations in the compiled graph; load = 1-minute "
            "load average after the run.",
            "",
            "| version | python us/eval | numba us/eval | nodes | load |",
            "|---|---:|---:|---:|---:|",
        ]
        for name, r in micro.items():
            lines.append(
                f"| {name} | {r['python_us']:.1f} | {r['numba_us']:.1f} | {r['nodes']} | "
                f"{r['load']:.1f} |"
            )
    command = "python benchmarks/mmm_speed.py" + (
        f" --baseline-ref {args.baseline_ref}" if args.baseline_ref else ""
    )
    if args.configs != "2x500,4x1000,advi":
        command += f" --configs {args.configs}"
    if wanted != ["cold", "warm", "new shapes"]:
        command += f" --states {args.states}"
    if args.micro:
        command += f" --micro {args.micro}"
    if args.section != "mmm_speed":
        command += f" --section {args.section}"
    update_section(args.section, "\n".join(lines), command=command)
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
