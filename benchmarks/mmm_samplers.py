"""NUTS backends for the MMM, cold and warm: nutpie (numba), numpyro (JAX), nutpie on JAX.

Run (installs the JAX environment first; about 25 minutes on 2 quiet cores)::

    bash benchmarks/samplers_setup.sh && .venv/bin/python benchmarks/mmm_samplers.py \\
        --seeds 1,2,3 --chains 4 --draws 1000 --tune 1000

The world is that of ``peers_mmm`` (:mod:`peers.mmm_pymc_marketing`): the simulator at 156
weeks and 7 channels, the panel's date, sales, spend and the controls price and promotion;
mixlens's default spec on it (as ``fit_to_dir`` builds it). Backends:

- ``nutpie``: ``MMM(spec)``, the default (nutpie with numba, mixlens's cached compile), in
  the project's venv;
- ``numpyro``: ``MMM(spec, nuts_sampler="numpyro")`` (``pm.sample(nuts_sampler="numpyro")``),
  in ``benchmarks/.envs/jax`` (``samplers_setup.sh``; JAX is not a mixlens dependency);
- ``nutpie-jax``: the default path with nutpie compiling the same PyMC model through JAX
  (``nutpie.compile_pymc_model(model, backend="jax", gradient_backend="jax")``): the child
  process has ``pm.sample`` add those two options to ``nuts_sampler_kwargs``, which PyMC
  hands to nutpie's compile (mixlens's cached compile passes calls with options on to
  nutpie's own), in the JAX environment.

Each fit runs in a fresh process. Per backend and seed a temporary folder holds every
compile cache: PyTensor's ``base_compiledir`` (its C and numba caches, with mixlens's
nutpie callbacks), ``NUMBA_CACHE_DIR`` (numba's own ``cache=True`` functions) and JAX's
persistent compilation cache. ``cold``: all empty, as on a fresh machine (a JAX run fills
its cache as it compiles); ``warm``: the same fit again with those caches, JAX's persistent
cache switched off, as mixlens runs by default (JAX compiles afresh in every process);
``warm+jax-cache`` (JAX backends): the same with JAX's persistent cache on
(``JAX_COMPILATION_CACHE_DIR``), the best case for JAX. Wall s and CPU s (user + system of
the process and its threads) are the whole process's, from start to exit, as the parent
sees it; peak RSS is the child's own.

Rows go to ``--work``/rows.jsonl as they finish (a rerun skips those done);
``--table-only`` writes the section from that file. The section keeps the earlier run's
table (this script's previous version: nutpie metrics and PyMC's NUTS) below the new one.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from _results import RESULTS, peak_rss_mib, update_section  # noqa: E402

JAX_ENV = HERE / ".envs" / "jax" / "bin" / "python"
BACKENDS = ("nutpie", "numpyro", "numpyro-vectorized", "nutpie-jax")
DEFAULT_BACKENDS = "nutpie,numpyro,nutpie-jax"
STATES = ("cold", "warm", "warm+jax-cache")
LABEL = {
    "nutpie": "nutpie, numba (default)",
    "numpyro": "numpyro (JAX)",
    "numpyro-vectorized": "numpyro (JAX), chain_method vectorized",
    "nutpie-jax": "nutpie, JAX backend",
}
Row = dict[str, Any]


def child(backend: str, seed: int, draws: int, tune: int, chains: int) -> Row:
    """One fit in this process; diagnostics, ROI scores and this process's peak memory."""
    import pymc as pm

    from mixlens.data.simulate.mmm import MMMWorldConfig, simulate_mmm
    from mixlens.mmm import MMM, MMMSpec
    from mmm_recovery import roi_scores
    from peers.mmm_pymc_marketing import CHANNELS, CONTROLS, WEEKS

    world = simulate_mmm(MMMWorldConfig(weeks=WEEKS, n_channels=CHANNELS), seed=seed)
    channels = tuple(world.roi["channel"])
    frame = world.weekly_channel[["date", "sales", *(f"{c}_spend" for c in channels), *CONTROLS]]
    spec = MMMSpec(channels=channels, controls=tuple(CONTROLS))
    if backend == "nutpie-jax":
        original = pm.sample

        def sample(*args: Any, nuts_sampler_kwargs: Any = None, **kwargs: Any) -> Any:
            extra = {**(nuts_sampler_kwargs or {}), "backend": "jax", "gradient_backend": "jax"}
            return original(*args, nuts_sampler_kwargs=extra, **kwargs)

        pm.sample = sample
    compiled: list[str] = []
    on_numpyro = backend.startswith("numpyro")
    if backend == "numpyro-vectorized":  # one vmap over the chains instead of a device each
        import mixlens.mmm.fit as fit_module

        fit_module._numpyro_chain_method = lambda chains: "vectorized"
    if not on_numpyro:
        import nutpie

        nutpie_sample = nutpie.sample

        def record(model: Any, *args: Any, **kwargs: Any) -> Any:
            compiled.append(type(model).__name__)  # which compiled model nutpie sampled
            return nutpie_sample(model, *args, **kwargs)

        nutpie.sample = record
    sampler = "numpyro" if on_numpyro else "nutpie"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = MMM(spec, nuts_sampler=sampler).fit(  # type: ignore[arg-type]
            frame, draws=draws, tune=tune, chains=chains, seed=seed
        )
    d = result.diagnostics
    stats = result.idata["sample_stats"]
    steps = float(stats["n_steps"].mean()) if "n_steps" in stats else None
    row: Row = {
        "fit_s": d.seconds,
        "peak_rss_mib": peak_rss_mib(),
        "sampler": d.sampler,
        "steps": steps,
        "max_rhat": d.max_rhat,
        "min_ess_bulk": d.min_ess_bulk,
        "divergences": d.divergences,
        "versions": _versions(),
        "compiled": compiled,
        **{k: v for k, v in roi_scores(result.roi(), world.roi).items() if k != "per_channel"},
    }
    if on_numpyro:
        import jax

        import mixlens.mmm.fit as fit_module

        row["chain_method"] = fit_module._numpyro_chain_method(chains)
        row["jax_devices"] = jax.local_device_count()
    return row


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("pymc", "pytensor", "nutpie", "numba", "jax", "numpyro"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def run_fit(
    backend: str, state: str, caches: Path, args: argparse.Namespace, seed: int
) -> tuple[Row, Row]:
    """Fit in a fresh process with the caches of ``state``.

    Returns the fit's key with whole-process wall and CPU seconds, and the child's row
    with the load average at start and end.
    """
    python = Path(sys.executable) if backend == "nutpie" else JAX_ENV
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JAX_", "XLA_"))}
    flags = [f for f in env.get("PYTENSOR_FLAGS", "").split(",") if f]
    flags = [f for f in flags if not f.startswith(("base_compiledir", "compiledir"))]
    env["PYTENSOR_FLAGS"] = ",".join([*flags, f"base_compiledir={caches / 'pytensor'}"])
    env["NUMBA_CACHE_DIR"] = str(caches / "numba")
    env["PYTHONPATH"] = str(ROOT / "src")
    if state in ("cold", "warm+jax-cache") and backend != "nutpie":
        env["JAX_COMPILATION_CACHE_DIR"] = str(caches / "jax")
        env["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
        env["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"] = "0"
    cmd = [str(python), __file__, "--child", backend, "--seed", str(seed)]
    cmd += ["--draws", str(args.draws), "--tune", str(args.tune), "--chains", str(args.chains)]
    load0 = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        sys.stderr.write(done.stderr[-4000:])
        raise RuntimeError(f"{backend} {state} seed {seed} failed")
    row: Row = json.loads(done.stdout.strip().splitlines()[-1])
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    load = [load0, os.getloadavg()[0]]
    head = {"seed": seed, "backend": backend, "state": state, "wall_s": wall, "cpu_s": cpu}
    return head, {**row, "load": load}


def _done(rows: list[Row]) -> set[tuple[int, str, str]]:
    return {(int(r["seed"]), str(r["backend"]), str(r["state"])) for r in rows}


def _read(path: Path) -> list[Row]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def measure(args: argparse.Namespace, rows_file: Path) -> None:
    """Run every (seed, backend, state) not yet in ``rows_file``, one at a time."""
    done = _done(_read(rows_file))
    backends = [b for b in args.backends.split(",") if b]
    if any(b != "nutpie" for b in backends) and not JAX_ENV.exists():
        sys.exit("JAX environment missing: run bash benchmarks/samplers_setup.sh")
    for seed in (int(s) for s in args.seeds.split(",") if s):
        for backend in backends:
            states = [s for s in STATES if backend != "nutpie" or s != "warm+jax-cache"]
            todo = [s for s in states if (seed, backend, s) not in done]
            if not todo:
                continue
            if todo[0] != "cold":  # a warm row needs the cold run's caches: redo the group
                todo = states
            caches = Path(tempfile.mkdtemp(prefix=f"samplers_{backend}_{seed}_"))
            up0 = _uptime()
            sys.stderr.write(f"[samplers] seed {seed} {backend}: {up0}\n")
            try:
                for state in todo:
                    head, row = run_fit(backend, state, caches, args, seed)
                    record = {**head, **row, "uptime_before": up0}
                    sys.stderr.write(
                        f"[samplers]   {state}: wall {head['wall_s']:.1f} s, "
                        f"CPU {head['cpu_s']:.1f} s\n"
                    )
                    with rows_file.open("a") as out:
                        out.write(json.dumps(record) + "\n")
            finally:
                shutil.rmtree(caches, ignore_errors=True)
            sys.stderr.write(f"[samplers] after: {_uptime()}\n")


def _fmt(x: Any, spec: str) -> str:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return "-"
    return "-" if v != v else format(v, spec)


def _mean(rows: list[Row], key: str) -> float:
    vals = [float(r[key]) for r in rows if r.get(key) is not None]
    return sum(vals) / len(vals) if vals else float("nan")


def report(rows: list[Row], args: argparse.Namespace) -> str:
    """The section's body: settings, per-fit table, means, reading, the earlier run."""
    seeds = sorted({int(r["seed"]) for r in rows})
    loads = [x for r in rows for x in r["load"]]
    versions: dict[str, str] = {}
    for r in rows:
        versions.update(r.get("versions", {}))
    chain_method = {r.get("chain_method") for r in rows if r["backend"] == "numpyro"} - {None}
    vec_seeds = sorted({int(r["seed"]) for r in rows if r["backend"] == "numpyro-vectorized"})
    devices = {r.get("jax_devices") for r in rows if r["backend"] == "numpyro"} - {None}
    lines = [
        f"World of `peers_mmm`: simulator seeds {', '.join(map(str, seeds))}, 156 weeks, 7 "
        "channels, controls price and promotion; mixlens's default spec; "
        f"{args.chains} chains x {args.draws} draws after {args.tune} tuning steps, "
        "target_accept 0.95. Backends: **nutpie, numba** = `MMM(spec)`, the default (project "
        'venv); **numpyro** = `MMM(spec, nuts_sampler="numpyro")`, i.e. '
        '`pm.sample(nuts_sampler="numpyro")`, chain_method '
        f"{'/'.join(sorted(map(str, chain_method))) or '-'} on "
        f"{'/'.join(sorted(map(str, devices))) or '-'} XLA CPU devices; **nutpie, JAX "
        "backend** = the default path with `pm.sample` handing nutpie "
        '`backend="jax", gradient_backend="jax"` (nutpie compiles the same PyMC model with '
        "JAX and calls it from its Rust threads through Python)"
        + (
            "; **numpyro, chain_method vectorized** = numpyro with one `vmap` over the chains "
            "instead of one XLA device per chain (seeds "
            + ", ".join(map(str, vec_seeds))
            + ", `--seeds "
            + ",".join(map(str, vec_seeds))
            + " --backends numpyro-vectorized`)"
            if vec_seeds
            else ""
        )
        + ". JAX rows ran in "
        "`benchmarks/.envs/jax` (`benchmarks/samplers_setup.sh`: "
        + ", ".join(f"{k} {v}" for k, v in sorted(versions.items()))
        + "; the project venv has the same PyMC, PyTensor, nutpie and numba). Each fit is a "
        "fresh process; wall and CPU s are the whole process (imports, simulating the "
        "world, building, compiling, sampling, diagnostics; CPU = user + system of all its "
        "threads). **cold**: empty PyTensor `base_compiledir`, `NUMBA_CACHE_DIR` and JAX "
        "compilation cache, as on a fresh machine; **warm**: the same fit again with those "
        "caches, JAX's persistent cache off (how mixlens runs: JAX recompiles in every "
        "process); **warm+jax-cache**: warm with JAX's persistent cache on "
        "(`JAX_COMPILATION_CACHE_DIR`, the best case for JAX). ROI error = |posterior mean - "
        "true| / true per channel (`mmm_recovery.roi_scores`), coverage of the 90% interval. "
        f"1-minute load average at the fits' starts and ends {min(loads):.1f} to "
        f"{max(loads):.1f} (2 shared cores; `uptime` before each backend's group in "
        "rows.jsonl): wall times are indicative, CPU s much less load-dependent.",
        "",
        *_runs(rows),
        "| run | seed | backend | cache | wall s | CPU s | fit s | peak RSS MiB | steps/draw "
        "| divergences | max R-hat | min bulk ESS | ROI error mean | ROI error spend-weighted "
        "| 90% coverage | load |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    order = {(b, s): i for i, (b, s) in enumerate((b, s) for b in BACKENDS for s in STATES)}
    rows = sorted(
        rows,
        key=lambda r: (r.get("run", 1), int(r["seed"]), order[(r["backend"], r["state"])]),
    )
    for r in rows:
        lines.append(
            f"| {r.get('run', 1)} | {r['seed']} | {LABEL[r['backend']]} | {r['state']} "
            f"| {r['wall_s']:.0f} "
            f"| {r['cpu_s']:.0f} | {r['fit_s']:.0f} | {r['peak_rss_mib']:,.0f} "
            f"| {_fmt(r['steps'], '.0f')} | {r['divergences']} | {_fmt(r['max_rhat'], '.3f')} "
            f"| {_fmt(r['min_ess_bulk'], '.0f')} | {r['roi_err_mean']:.2f} "
            f"| {r['roi_err_weighted']:.2f} | {r['covered']}/7 "
            f"| {r['load'][0]:.1f}-{r['load'][1]:.1f} |"
        )
    groups: dict[tuple[str, str], list[Row]] = {}
    for r in rows:
        groups.setdefault((r["backend"], r["state"]), []).append(r)
    lines += [
        "",
        "Means over the fits (every run and seed) of each backend and cache state; CPU s "
        "range = the fits' lowest and highest:",
        "",
        "| backend | cache | fits | wall s | CPU s | CPU s median | CPU s range | peak RSS MiB "
        "| steps/draw "
        "| divergences "
        "| min bulk ESS | min bulk ESS per CPU s | ROI error mean | ROI error spend-weighted "
        "| 90% coverage |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    means: dict[tuple[str, str], dict[str, float]] = {}
    for key in sorted(groups, key=order.__getitem__):
        g = groups[key]
        m = {
            k: _mean(g, k)
            for k in ("wall_s", "cpu_s", "peak_rss_mib", "steps", "divergences", "min_ess_bulk")
        }
        m.update({k: _mean(g, k) for k in ("roi_err_mean", "roi_err_weighted")})
        m["ess_per_cpu_s"] = sum(r["min_ess_bulk"] / r["cpu_s"] for r in g) / len(g)
        m["cpu_s_median"] = statistics.median(float(r["cpu_s"]) for r in g)
        means[key] = m
        lines.append(
            f"| {LABEL[key[0]]} | {key[1]} | {len(g)} | {m['wall_s']:.0f} | {m['cpu_s']:.0f} "
            f"| {m['cpu_s_median']:.0f} "
            f"| {min(r['cpu_s'] for r in g):.0f}-{max(r['cpu_s'] for r in g):.0f} "
            f"| {m['peak_rss_mib']:,.0f} | {_fmt(m['steps'], '.0f')} | {m['divergences']:.1f} "
            f"| {m['min_ess_bulk']:.0f} | {m['ess_per_cpu_s']:.1f} | {m['roi_err_mean']:.2f} "
            f"| {m['roi_err_weighted']:.2f} "
            f"| {sum(int(r['covered']) for r in g)}/{7 * len(g)} |"
        )
    lines += ["", _reading(means), "", _earlier_run()]
    return "\n".join(lines)


def _runs(rows: list[Row]) -> list[str]:
    """One line per run (a ``--work`` folder) when the table holds several."""
    runs = sorted({int(r.get("run", 1)) for r in rows})
    if len(runs) < 2:
        return []
    out = []
    for run in runs:
        mine = [r for r in rows if int(r.get("run", 1)) == run]
        loads = [x for r in mine for x in r["load"]]
        backends = ", ".join(LABEL[b] for b in BACKENDS if any(r["backend"] == b for r in mine))
        seeds = ", ".join(map(str, sorted({int(r["seed"]) for r in mine})))
        out.append(
            f"- run {run}: {backends}; seeds {seeds}; load {min(loads):.1f} to {max(loads):.1f}"
        )
    return [*out, ""]


def _reading(means: dict[tuple[str, str], dict[str, float]]) -> str:
    """Which backend is fastest cold and warm, from the mean (and median) CPU s per fit.

    For warm each backend counts with its best cache state. A backend is called fastest
    when its mean CPU s is at least 10% below the next one's; otherwise the two are even.
    """
    parts, leaders = [], {}
    for state, candidates in (("cold", ("cold",)), ("warm", ("warm", "warm+jax-cache"))):
        best: dict[str, str] = {}
        for backend, s in means:
            if s in candidates and (
                backend not in best
                or means[backend, s]["cpu_s"] < means[backend, best[backend]]["cpu_s"]
            ):
                best[backend] = s
        if not best:
            continue
        ranked = sorted(best, key=lambda b: means[b, best[b]]["cpu_s"])
        cells = []
        for b in ranked:
            m = means[b, best[b]]
            cells.append(
                f"{LABEL[b]} {m['cpu_s']:.0f} CPU s (median {m['cpu_s_median']:.0f}) / "
                f"{m['wall_s']:.0f} wall s" + (f" ({best[b]})" if best[b] != state else "")
            )
        first = means[ranked[0], best[ranked[0]]]["cpu_s"]
        second = means[ranked[1], best[ranked[1]]]["cpu_s"] if len(ranked) > 1 else float("inf")
        if first < 0.9 * second:
            leaders[state] = ranked[0]
            head = f"fastest {LABEL[ranked[0]]}"
        else:
            head = f"{LABEL[ranked[0]]} and {LABEL[ranked[1]]} about even (within 10%)"
        top = max(
            ((b, s) for (b, s) in means if s in candidates),
            key=lambda k: means[k]["ess_per_cpu_s"],
        )
        parts.append(
            f"**{state}**: {head} ({'; '.join(cells)}); most min bulk ESS per CPU s "
            f"{LABEL[top[0]]}"
            + (f" ({top[1]})" if top[1] != state else "")
            + f" ({means[top]['ess_per_cpu_s']:.1f})"
        )
    if leaders.get("cold") == leaders.get("warm") == "numpyro":
        verdict = (
            'numpyro is faster both cold and warm here; mixlens\'s `"auto"` is still '
            'nutpie with numba (JAX is not a dependency), numpyro is `nuts_sampler="numpyro"`.'
        )
    else:
        verdict = (
            "numpyro does not beat nutpie with numba both cold and warm: mixlens keeps "
            'nutpie with numba as its `"auto"` backend; `nuts_sampler="numpyro"` is there '
            "for users who have JAX installed."
        )
    return "Reading (means over the fits): " + "; ".join(parts) + f". {verdict}"


def _earlier_run() -> str:
    """The earlier run's table, carried from the current section of RESULTS.md."""
    text = RESULTS.read_text() if RESULTS.exists() else ""
    start, end = "<!-- mmm_samplers:start -->", "<!-- mmm_samplers:end -->"
    if start not in text or end not in text:
        return ""
    section = text.split(start, 1)[1].split(end, 1)[0]
    marker = "### Earlier run"
    if marker in section:
        return marker + section.split(marker, 1)[1].rstrip()
    body = [ln for ln in section.strip().splitlines() if not ln.startswith("## ")]
    date = next((ln.split(":", 1)[1].strip() for ln in body if ln.startswith("- date:")), "")
    return f"{marker} ({date}: nutpie metrics, PyMC's NUTS, ADVI)\n\n" + "\n".join(body).strip()


def main() -> None:
    """Command line entry point (see the module docstring)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--backends", default=DEFAULT_BACKENDS, help=f"any of {BACKENDS}")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "samplers")
    parser.add_argument("--table-only", action="store_true", help="section from rows.jsonl")
    parser.add_argument(
        "--also", type=Path, action="append", default=[], help="another run's --work (table)"
    )
    parser.add_argument("--child", choices=BACKENDS, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        row = child(args.child, args.seed, args.draws, args.tune, args.chains)
        sys.stdout.write(json.dumps(row) + "\n")
        return
    args.work.mkdir(parents=True, exist_ok=True)
    rows_file = args.work / "rows.jsonl"
    if not args.table_only:
        measure(args, rows_file)
    rows = []
    for run, work in enumerate([args.work, *args.also], start=1):
        rows += [{**r, "run": run} for r in _read(work / "rows.jsonl") if r["backend"] in BACKENDS]
    body = report(rows, args)
    command = (
        "bash benchmarks/samplers_setup.sh && python benchmarks/mmm_samplers.py "
        f"--seeds {args.seeds} --chains {args.chains} --draws {args.draws} --tune {args.tune}"
    )
    if args.also:
        command += " (one call per run, each with its own --work and --backends; the table: "
        command += f"--table-only --work {args.work} "
        command += " ".join(f"--also {w}" for w in args.also) + ")"
    update_section("mmm_samplers", body, command=command)
    sys.stdout.write(body + "\n")


if __name__ == "__main__":
    main()
