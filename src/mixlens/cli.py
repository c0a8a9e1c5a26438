"""The ``mixlens`` command line: one sub-command per pipeline stage (design.md)."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from mixlens import __version__
from mixlens.errors import DataError

app = typer.Typer(
    name="mixlens",
    help="Marketing measurement at every grain: MMM, campaign attribution, MTA, agents, "
    "allocation. Every command writes plain files (--out DIR) and a summary.json.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _group(name: str, help_text: str) -> typer.Typer:
    """Add a sub-command group (a pipeline stage with several commands) to the app."""
    group = typer.Typer(help=help_text, no_args_is_help=True)
    app.add_typer(group, name=name)
    return group


simulate_app = _group(
    "simulate", "Simulate a world with known ground truth (MMM, journeys, geo experiment)."
)
mmm_app = _group(
    "mmm", "Bayesian marketing mix model: decomposition, ROI and marginal ROI with intervals."
)
experiment_app = _group(
    "experiment", "Geo-holdout and A/B lift analysis; writes lift_tests.csv for calibration."
)
ima_app = _group("ima", "Integrated marketing attribution: campaign credit anchored in the MMM.")
agents_app = _group(
    "agents", "Decentralized attribution: agents keep their rows and fit one shared model."
)
mta_app = _group("mta", "Multi-touch attribution on user journeys: heuristics, Markov, Shapley.")

console = Console(stderr=True)
out_console = Console()

ProgressFactory = Callable[[str], Callable[[str, float], None]]


@contextmanager
def _progress() -> Iterator[ProgressFactory]:
    """Rich progress bars; yields a factory of ``(stage, fraction)`` callbacks per step."""
    bars = Progress(
        TextColumn("[bold]{task.description:<18}"),
        BarColumn(),
        TextColumn("{task.fields[stage]}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
        disable=not console.is_terminal,
    )

    def factory(name: str) -> Callable[[str, float], None]:
        task = bars.add_task(name, total=1.0, stage="")

        def update(stage: str, fraction: float) -> None:
            bars.update(task, completed=fraction, stage=stage)

        return update

    with bars:
        yield factory


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code=2)


@contextmanager
def _user_errors() -> Iterator[None]:
    """Turn bad input into one line on stderr and exit status 2."""
    try:
        yield
    except DataError as err:
        raise _fail(str(err)) from None
    except (ValueError, FileNotFoundError) as err:
        raise _fail(str(err)) from None


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """Print user-facing warnings as one clean line on stderr."""
    console.print(f"[yellow]warning:[/yellow] {message}", highlight=False, soft_wrap=True)


def _version(value: bool) -> None:
    if value:
        out_console.print(f"mixlens {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show version.")
    ] = False,
) -> None:
    """Marketing measurement at every grain, consistent across grains."""


OutDir = Annotated[Path, typer.Option("--out", help="Output folder (created if absent).")]
Seed = Annotated[int, typer.Option("--seed", help="Random seed; same seed, same files.")]
Regions = Annotated[
    int, typer.Option("--regions", min=1, help="Split the world by region (decentralized runs).")
]


@simulate_app.command("mmm")
def simulate_mmm_command(
    out: OutDir = Path("sim_mmm"),
    seed: Seed = 0,
    weeks: Annotated[int, typer.Option(min=8, help="Weeks of data.")] = 156,
    channels: Annotated[int, typer.Option(min=5, max=8, help="Paid channels (5 to 8).")] = 6,
    regions: Regions = 1,
) -> None:
    """Simulate daily media and sales: weekly_channel.csv, daily_campaign.csv and truth/."""
    from mixlens.data.simulate.mmm import MMMWorldConfig, simulate_mmm

    with _user_errors(), _progress() as step:
        config = MMMWorldConfig(weeks=weeks, n_channels=channels, regions=regions)
        world = simulate_mmm(config, seed=seed, progress=step("simulate mmm"))
        files = world.write(out)
    _report_files(
        out,
        files,
        world.summary,
        ["total_sales", "total_spend", "media_share"],
        command="simulate mmm",
    )


@simulate_app.command("journeys")
def simulate_journeys_command(
    out: OutDir = Path("sim_journeys"),
    seed: Seed = 0,
    users: Annotated[int, typer.Option(min=100, help="Number of users.")] = 50_000,
    days: Annotated[int, typer.Option(min=7, help="Days in the window.")] = 90,
    channels: Annotated[int, typer.Option(min=6, max=10, help="Channels (6 to 10).")] = 8,
    lookback: Annotated[int, typer.Option(min=1, help="Journey lookback window, days.")] = 30,
    regions: Regions = 1,
) -> None:
    """Simulate user journeys: touchpoints.csv, conversions.csv, paths.csv and truth/."""
    from mixlens.data.simulate.journeys import JourneyWorldConfig, simulate_journeys

    with _user_errors(), _progress() as step:
        config = JourneyWorldConfig(
            users=users, days=days, n_channels=channels, lookback_days=lookback, regions=regions
        )
        world = simulate_journeys(config, seed=seed, progress=step("simulate journeys"))
        files = world.write(out)
    _report_files(
        out,
        files,
        world.summary,
        ["users", "conversions", "baseline_conversions"],
        command="simulate journeys",
    )


def _report_files(
    out: Path, files: list[Path], summary: dict[str, Any], keys: list[str], *, command: str
) -> None:
    """Write the command's ``summary.json`` and print what was written."""
    from mixlens.data.io import write_json

    run_summary = {
        "command": command,
        "version": __version__,
        "files": [str(p.relative_to(out)) for p in files],
        **{key: summary.get(key) for key in ("seed", "config", *keys)},
    }
    files = [*files, write_json(run_summary, out / "summary.json")]
    table = Table(title=f"wrote {len(files)} files to {out}", show_header=False, box=None)
    for key in keys:
        value = summary.get(key)
        if isinstance(value, float):
            text = f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"
        else:
            text = f"{value:,}" if isinstance(value, int) else str(value)
        table.add_row(key, text)
    for path in files:
        table.add_row("file", str(path))
    out_console.print(table)


@simulate_app.command("geo-experiment")
def simulate_geo_experiment_command(
    out: OutDir = Path("sim_geo"),
    seed: Seed = 0,
    geos: Annotated[int, typer.Option(min=4, help="Number of geos.")] = 40,
    treated: Annotated[int, typer.Option(min=1, help="Treated geos.")] = 10,
    weeks: Annotated[int, typer.Option(min=12, help="Weeks of data.")] = 104,
    test_weeks: Annotated[int, typer.Option(min=1, help="Weeks in the test window.")] = 8,
    daily: Annotated[bool, typer.Option(help="Daily rows instead of weekly.")] = False,
    effect: Annotated[
        float, typer.Option(help="True lift of the tested channel (0 gives an A/A test).")
    ] = 0.05,
    spillover: Annotated[float, typer.Option(min=0.0, help="Spillover into controls.")] = 0.0,
) -> None:
    """Simulate a geo holdout with a known lift: panel.csv, design.json and truth/."""
    from mixlens.data.simulate.geo_experiment import (
        GeoExperimentConfig,
        simulate_geo_experiment,
    )

    with _user_errors():
        config = GeoExperimentConfig(
            geos=geos,
            treated=treated,
            weeks=weeks,
            test_weeks=test_weeks,
            daily=daily,
            effect=effect,
            spillover=spillover,
        )
        world = simulate_geo_experiment(config, seed=seed)
        files = world.write(out)
    _report_files(
        out,
        files,
        {**world.summary, "seed": seed},
        ["channel", "start", "end", "incremental_outcome"],
        command="simulate geo-experiment",
    )


@experiment_app.command("analyze")
def experiment_analyze_command(
    panel: Annotated[
        Path | None, typer.Argument(help="Geo panel: date, geo, target, {channel}_spend.")
    ] = None,
    out: OutDir = Path("experiment"),
    treated: Annotated[str, typer.Option(help="Comma-separated treated geos.")] = "",
    start: Annotated[str | None, typer.Option(help="First day of the test (YYYY-MM-DD).")] = None,
    end: Annotated[str | None, typer.Option(help="Last day of the test (YYYY-MM-DD).")] = None,
    target: Annotated[str, typer.Option(help="Outcome column.")] = "sales",
    channel: Annotated[
        str | None, typer.Option(help="Tested channel (default: the one whose spend changed).")
    ] = None,
    ab: Annotated[
        Path | None,
        typer.Option(help="User-level A/B table: user_id, group, converted, value[, cost]."),
    ] = None,
    design: Annotated[
        Path | None,
        typer.Option(help="design.json with treated, start, end, channel (options override)."),
    ] = None,
    level: Annotated[float, typer.Option(min=0.5, max=0.999, help="Interval level.")] = 0.9,
    seed: Seed = 0,
) -> None:
    """Estimate incremental outcome with intervals: lift_tests.csv and summary.json."""
    import json

    from mixlens.experiments.run import analyze_to_dir

    geos = [g.strip() for g in treated.split(",") if g.strip()]
    if design is not None:
        try:
            planned = json.loads(design.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise _fail(f"{design}: cannot read the design ({err})") from None
        geos = geos or [str(g) for g in planned.get("treated", [])]
        start = start or planned.get("start")
        end = end or planned.get("end")
        channel = channel or planned.get("channel")
    if (panel is None) == (ab is None):
        raise _fail("give a geo PANEL (with --treated, --start, --end) or --ab FILE")
    if panel is not None and not (geos and start and end):
        raise _fail("a geo holdout needs --treated, --start and --end")
    with _user_errors(), _progress() as step:
        summary = analyze_to_dir(
            panel,
            treated=geos or None,
            start=start,
            end=end,
            target=target,
            channel=channel,
            ab=ab,
            out_dir=out,
            level=level,
            seed=seed,
            progress=step("experiment"),
        )
    recommended = summary.get("recommendation", {})
    if isinstance(recommended, dict) and recommended.get("method"):
        out_console.print(
            f"recommended: {recommended['method']} ({recommended.get('reason', '')})",
            highlight=False,
        )
    out_console.print(f"lift tests: {out / 'lift_tests.csv'}", highlight=False)


@app.command("validate")
def validate_command(
    file: Annotated[Path, typer.Argument(help="CSV, Parquet or DuckDB (file.duckdb::table).")],
    kind: Annotated[
        str,
        typer.Option(help="weekly | campaigns | touchpoints | conversions | paths"),
    ],
    target: Annotated[str, typer.Option(help="Target column of a weekly panel.")] = "sales",
    controls: Annotated[str, typer.Option(help="Comma-separated control columns.")] = "",
    touchpoints: Annotated[
        Path | None, typer.Option(help="Touchpoints file, to check conversions' users.")
    ] = None,
) -> None:
    """Check a file before anything is fitted and print a short profile (exit 2 if bad)."""
    from mixlens.data.loaders import validate_file

    control_list = tuple(c.strip() for c in controls.split(",") if c.strip())
    with _user_errors(), console.status(f"validating {file}"):
        profile = validate_file(
            file, kind, target=target, controls=control_list, touchpoints=touchpoints
        )
    for line in profile.lines():
        out_console.print(line, highlight=False)


@app.command("demo")
def demo_command(
    out: OutDir = Path("mixlens_demo"),
    seed: Seed = 1,
    weeks: Annotated[int, typer.Option(min=8, help="Weeks in the MMM world.")] = 156,
    users: Annotated[int, typer.Option(min=1000, help="Users in the journey world.")] = 50_000,
    regions: Regions = 1,
    mmm_draws: Annotated[
        int, typer.Option(min=20, help="MMM draws and tuning steps per chain (2 chains).")
    ] = 500,
) -> None:
    """Run every available stage on simulated data and write report.html."""
    from mixlens.demo import DemoConfig, run_demo

    config = DemoConfig(seed=seed, weeks=weeks, users=users, regions=regions, mmm_draws=mmm_draws)
    with _user_errors(), _progress() as step:
        run_demo(out, config, progress=step)
    out_console.print(f"report: {out / 'report.html'}", highlight=False)


@mmm_app.command("fit")
def mmm_fit_command(
    panel: Annotated[Path, typer.Argument(help="Weekly channel panel (CSV, Parquet, DuckDB).")],
    out: OutDir = Path("mmm"),
    target: Annotated[str, typer.Option(help="Outcome column.")] = "sales",
    controls: Annotated[str, typer.Option(help="Comma-separated control columns.")] = "",
    method: Annotated[
        str, typer.Option(help="nuts (full posterior) or advi (fast preview).")
    ] = "nuts",
    draws: Annotated[int, typer.Option(min=10, help="Posterior draws per chain.")] = 1000,
    tune: Annotated[int, typer.Option(min=0, help="Tuning steps per chain.")] = 1000,
    chains: Annotated[int, typer.Option(min=1, help="Chains.")] = 4,
    lift_tests: Annotated[
        Path | None,
        typer.Option(help="lift_tests.csv from `mixlens experiment analyze`, to calibrate."),
    ] = None,
    holdout_weeks: Annotated[
        int, typer.Option(min=0, help="Fit without the last N weeks and score them.")
    ] = 0,
    seed: Seed = 0,
) -> None:
    """Fit the MMM: roi.csv, contributions.csv, params.csv, posterior.nc, summary.json."""
    from mixlens.mmm.run import fit_to_dir

    if method not in ("nuts", "advi"):
        raise _fail(f"--method must be 'nuts' or 'advi', got {method!r}")
    control_list = tuple(c.strip() for c in controls.split(",") if c.strip())
    with _user_errors(), _progress() as step:
        fit_to_dir(
            panel,
            out_dir=out,
            target=target,
            controls=control_list,
            method="nuts" if method == "nuts" else "advi",
            draws=draws,
            tune=tune,
            chains=chains,
            seed=seed,
            progress=step("mmm fit"),
            lift_tests=lift_tests,
            holdout_weeks=holdout_weeks,
        )
    out_console.print(f"mmm: {out / 'roi.csv'}", highlight=False)


@ima_app.command("fit")
def ima_fit_command(
    campaigns: Annotated[
        Path, typer.Option(help="Daily campaign media: date, channel, campaign, spend, ...")
    ],
    out: OutDir = Path("ima"),
    mmm: Annotated[Path | None, typer.Option(help="A `mixlens mmm fit` output folder.")] = None,
    contributions: Annotated[
        Path | None,
        typer.Option(help="Or bring your own MMM: weekly date, channel, contribution."),
    ] = None,
    adstock: Annotated[
        Path | None,
        typer.Option(help="With --contributions: channel, theta, peak, l_max (weeks)."),
    ] = None,
    media: Annotated[
        str, typer.Option(help="Campaign media metric: impressions, spend or clicks.")
    ] = "impressions",
    method: Annotated[str, typer.Option(help="advi (default) or nuts.")] = "advi",
    draws: Annotated[int, typer.Option(min=10, help="Posterior draws.")] = 200,
    seed: Seed = 0,
) -> None:
    """Split each channel's MMM contribution over its campaigns: campaign_daily.csv, ..."""
    from mixlens.ima.run import fit_to_dir

    if (mmm is None) == (contributions is None):
        raise _fail("give --mmm MMM_DIR, or --contributions FILE (with --adstock FILE)")
    if method not in ("advi", "nuts"):
        raise _fail(f"--method must be 'advi' or 'nuts', got {method!r}")
    if media not in ("impressions", "spend", "clicks"):
        raise _fail(f"--media must be impressions, spend or clicks, got {media!r}")
    with _user_errors(), _progress() as step:
        fit_to_dir(
            campaigns=campaigns,
            out_dir=out,
            mmm_dir=mmm,
            mmm_contributions=contributions,
            adstock=adstock,
            media=media,
            method="advi" if method == "advi" else "nuts",
            draws=draws,
            seed=seed,
            progress=step("ima fit"),
        )
    out_console.print(f"ima: {out / 'campaigns.csv'}", highlight=False)


@app.command("allocate")
def allocate_command(
    mmm: Annotated[Path, typer.Option(help="A `mixlens mmm fit` output folder.")],
    budget: Annotated[float, typer.Option(min=0.0, help="Budget for the next --weeks weeks.")],
    out: OutDir = Path("allocation"),
    weeks: Annotated[int, typer.Option(min=1, help="Planning horizon, weeks.")] = 52,
    objective: Annotated[
        str,
        typer.Option(help="mean, quantile:Q or cvar:ALPHA (risk-aware, over posterior draws)."),
    ] = "mean",
    bounds: Annotated[
        Path | None, typer.Option(help="CSV of channel[, lower, upper, locked] constraints.")
    ] = None,
    seed: Seed = 0,
) -> None:
    """Recommend a budget split on posterior response curves: allocation.csv, summary.json."""
    from mixlens.allocation.run import allocate_to_dir

    kind, _, level = objective.partition(":")
    if kind == "mean" and not level:
        parsed: Any = "mean"
    elif kind in ("quantile", "cvar") and level:
        try:
            parsed = (kind, float(level))
        except ValueError:
            raise _fail(f"--objective {objective!r}: {level!r} is not a number") from None
    else:
        raise _fail(f"--objective must be mean, quantile:Q or cvar:ALPHA, got {objective!r}")
    with _user_errors(), _progress() as step:
        summary = allocate_to_dir(
            mmm,
            budget=budget,
            out_dir=out,
            weeks=weeks,
            objective=parsed,
            bounds_file=bounds,
            seed=seed,
            progress=step("allocate"),
        )
    better = summary.get("prob_better_than_current")
    if isinstance(better, float):
        out_console.print(f"P(recommended beats current) = {better:.0%}", highlight=False)
    out_console.print(f"allocation: {out / 'allocation.csv'}", highlight=False)


@agents_app.command("run")
def agents_run_command(
    out: OutDir = Path("agents"),
    scenario: Annotated[str, typer.Option(help="regions (5 regions, horizontal split).")] = (
        "regions"
    ),
    scale: Annotated[int, typer.Option(min=1, help="Multiply every agent's rows by K.")] = 1,
    protocol: Annotated[
        str, typer.Option(help="exact (secure sufficient statistics) or admm (non-negative).")
    ] = "exact",
    dp_epsilon: Annotated[
        float | None, typer.Option(help="Differential privacy budget per agent (exact only).")
    ] = None,
    seed: Seed = 0,
) -> None:
    """Fit the shared response model across agents: rounds.csv, attribution.csv, audit.jsonl."""
    from mixlens.agents.run import run_to_dir

    with _user_errors(), _progress() as step:
        update = step("agents run")
        summary = run_to_dir(
            scenario,
            scale=scale,
            out_dir=out,
            protocol=protocol,
            dp_epsilon=dp_epsilon,
            seed=seed,
            progress=lambda stage: update(stage, 0.5),
        )
        update("done", 1.0)
    out_console.print(
        f"rounds {summary.get('rounds')}, bytes {summary.get('bytes_total'):,}, "
        f"relative difference vs centralized {summary.get('rel_diff_vs_centralized'):.2e}",
        highlight=False,
    )
    out_console.print(f"attribution: {out / 'attribution.csv'}", highlight=False)


@mta_app.command("fit")
def mta_fit_command(
    out: OutDir = Path("mta"),
    touchpoints: Annotated[
        Path | None, typer.Option(help="Touchpoint log: user_id, timestamp, channel.")
    ] = None,
    conversions: Annotated[
        Path | None, typer.Option(help="Conversion log: user_id, timestamp[, value].")
    ] = None,
    paths: Annotated[
        Path | None, typer.Option(help="Or a path table in ChannelAttribution's format.")
    ] = None,
    models: Annotated[
        str, typer.Option(help="Comma-separated models; empty runs all the input supports.")
    ] = "",
    order: Annotated[int, typer.Option(help="Markov chain order (1 to 4).")] = 1,
    lookback: Annotated[float, typer.Option(help="Journey lookback window, days.")] = 30.0,
    seed: Seed = 0,
) -> None:
    """Credit conversions to channels: attribution.csv (model, channel, conversions, value)."""
    from mixlens.mta.run import fit_to_dir

    model_list = [m.strip() for m in models.split(",") if m.strip()] or None
    with _user_errors(), _progress() as step:
        summary = fit_to_dir(
            touchpoints=touchpoints,
            conversions=conversions,
            paths=paths,
            models=model_list,
            order=order,
            lookback_days=lookback,
            out_dir=out,
            seed=seed,
            progress=step("mta fit"),
        )
    ran = ", ".join(summary.get("models", {}))
    out_console.print(f"attribution: {out / 'attribution.csv'} ({ran})", highlight=False)


#: Stages of design.md that later issues deliver: name, what it does, the issue.
PLANNED_STAGES: tuple[tuple[str, str, int], ...] = (
    ("market", "Multi-agent reinforcement-learning market.", 9),
    ("serve", "Real-time attribution service and live dashboard.", 10),
    ("keys", "API keys for the real-time service.", 10),
)


def _planned_stage(name: str, issue: int) -> Callable[..., None]:
    def command(
        ctx: typer.Context,
        args: Annotated[list[str] | None, typer.Argument(hidden=True)] = None,
    ) -> None:
        console.print(
            f"mixlens {name}: this stage is not in mixlens {__version__} yet (issue #{issue}); "
            "`mixlens demo` runs every stage that exists.",
            highlight=False,
        )
        raise typer.Exit(code=1)

    return command


for _name, _help, _issue in PLANNED_STAGES:
    app.command(
        _name,
        help=f"{_help} (not yet available: issue #{_issue})",
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    )(_planned_stage(_name, _issue))


def main() -> None:
    """Entry point of the ``mixlens`` script."""
    warnings.showwarning = _show_warning
    app(prog_name="mixlens")


if __name__ == "__main__":  # pragma: no cover
    main()
