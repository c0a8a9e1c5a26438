"""``mixlens mmm``: the Bayesian marketing mix model."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from mixlens.cli._app import (
    OutDir,
    Seed,
    _fail,
    _group,
    _progress,
    _user_errors,
    console,
    out_console,
)

if TYPE_CHECKING:
    from mixlens.mmm.spec import MediaInputSetting

mmm_app = _group(
    "mmm", "Bayesian marketing mix model: decomposition, ROI and marginal ROI with intervals."
)


@mmm_app.command("fit")
def mmm_fit_command(
    panel: Annotated[
        Path,
        typer.Argument(
            help="Weekly channel panel (CSV, Parquet, DuckDB); a 'geo' column fits the geo model."
        ),
    ],
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
    time_knots: Annotated[
        str,
        typer.Option(
            help="Time-varying baseline knots: 'auto' (one per week on a geo panel, none "
            "on a national one), 0 for none, or N >= 2 spread evenly over the weeks."
        ),
    ] = "auto",
    media: Annotated[
        str,
        typer.Option(
            help="What each channel's adstock and saturation act on: spend, impressions, "
            "clicks, auto (impressions where the panel has a complete {channel}_impressions "
            "column), or per channel 'tv=impressions,search=clicks' (others spend). ROI, "
            "marginal ROI and response curves stay in spend units."
        ),
    ] = "spend",
    adstock: Annotated[
        str,
        typer.Option(
            help="Adstock of every channel: delayed (peak after a delay; what IMA was built "
            "on), geometric or weibull, optionally with its maximum lag in weeks "
            "(weibull:12; default 8); or per channel 'tv=weibull:12,search=geometric' "
            "(others delayed; channels of one kind share its lag)."
        ),
    ] = "delayed",
    saturation: Annotated[
        str,
        typer.Option(
            help="Saturation of every channel: hill or logistic; or per channel "
            "'search=logistic' (others hill)."
        ),
    ] = "hill",
    seed: Seed = 0,
) -> None:
    """Fit the MMM: roi.csv, contributions.csv, params.csv, response_curves.csv, posterior.nc.

    A panel with a ``geo`` column gets the hierarchical model (channel effects partially
    pooled across geos); every table then has a ``geo`` column (each geo and ``all``).
    """
    from mixlens.mmm.components import ADSTOCK_KINDS, SATURATION_KINDS
    from mixlens.mmm.run import fit_to_dir

    if method not in ("nuts", "advi"):
        raise _fail(f"--method must be 'nuts' or 'advi', got {method!r}")
    adstocks = _per_channel(adstock, tuple(ADSTOCK_KINDS), "--adstock")
    saturations = _per_channel(saturation, tuple(SATURATION_KINDS), "--saturation")
    control_list = tuple(c.strip() for c in controls.split(",") if c.strip())
    knots = _time_knots(time_knots)
    media_input = _media_input(media)
    with _user_errors(), _progress() as step:
        summary = fit_to_dir(
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
            time_knots=knots,
            media_input=media_input,
            adstock=adstocks,
            saturation=saturations,
        )
    for line in identification_warnings(summary):
        console.print(f"[yellow]warning:[/yellow] {line}", highlight=False, soft_wrap=True)
    out_console.print(f"mmm: {out / 'roi.csv'}", highlight=False)


@mmm_app.command("report")
def mmm_report_command(
    run_dir: Annotated[
        Path, typer.Argument(help="Output folder of `mixlens mmm fit` (national or geo).")
    ],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="HTML file to write (default RUN_DIR/report.html)."),
    ] = None,
) -> None:
    """Write a self-contained HTML report of a fit: fit vs actual, decomposition, ROI, curves.

    Reads roi.csv, contributions.csv, response_curves.csv, summary.json and, where
    present, fit.csv and lift_test_plan.csv; there is no truth, so the report shows the
    estimates with their intervals and the fit's diagnostics.
    """
    from mixlens.data.io import write_text
    from mixlens.report.html import render_report
    from mixlens.report.mmm_run import read_mmm_run, run_section

    target = out if out is not None else run_dir / "report.html"
    with _user_errors():
        run = read_mmm_run(run_dir)
        html = render_report(
            [run_section(run)], title="mixlens MMM report", subtitle=_report_subtitle(run.summary)
        )
        write_text(html, target)
    out_console.print(f"report: {target}", highlight=False)


def _report_subtitle(summary: Mapping[str, Any]) -> str:
    """One line on what was fitted: source, weeks, model and sampler (what the summary has).

    Examples
    --------
    >>> _report_subtitle({"source": "w.csv", "weeks": 52, "first_week": "2024-01-01",
    ...     "last_week": "2024-12-23", "model": "geo", "sampler": "nutpie"})
    'w.csv: 52 weeks, 2024-01-01 to 2024-12-23; geo model; sampler nutpie'
    """
    parts = []
    what = str(summary["source"]) if summary.get("source") else ""
    if summary.get("weeks"):
        what += f"{': ' if what else ''}{summary['weeks']} weeks"
        if summary.get("first_week") and summary.get("last_week"):
            what += f", {summary['first_week']} to {summary['last_week']}"
    if what:
        parts.append(what)
    parts.append("geo model" if summary.get("model") == "geo" else "national model")
    if summary.get("sampler"):
        parts.append(f"sampler {summary['sampler']}")
    return "; ".join(parts)


def identification_warnings(summary: Mapping[str, Any]) -> list[str]:
    """Warning lines for channels whose ROI is mostly prior, from a fit's ``summary.json``.

    Names each such channel with the share of its ROI prior's variance the data removed,
    and the first lift test of ``lift_test_plan.csv``; none for a fit without them.

    Examples
    --------
    >>> summary = {"identification": {"mostly_prior": ["search"], "channels": [
    ...     {"channel": "search", "contraction": 0.31}]}, "lift_test_plan": {"tests": [
    ...     {"channel": "search", "start": "2024-06-03", "end": "2024-07-28"}]}}
    >>> identification_warnings(summary)[0][:60]
    'ROI of search is mostly prior: the data removed only 31% of '
    """
    ident = summary.get("identification") or {}
    weak = list(ident.get("mostly_prior") or [])
    if not weak:
        return []
    share = {r["channel"]: r["contraction"] for r in ident.get("channels", [])}
    removed = ", ".join(f"{share[c]:.0%}" for c in weak if share.get(c) is not None)
    line = (
        f"ROI of {', '.join(weak)} {'is' if len(weak) == 1 else 'are'} mostly prior: the data "
        f"removed only {removed} of the prior's variance (roi.csv: contraction), so the "
        "estimate is more the prior's guess than the data's"
    )
    tests = (summary.get("lift_test_plan") or {}).get("tests") or []
    if tests:
        first = tests[0]
        where = f" in {first['geo']}" if first.get("geo") else ""
        line += (
            f"; a lift test teaches most on {first['channel']}{where} "
            f"({first['start']}..{first['end']}, see lift_test_plan.csv)"
        )
    return [line]


_MEDIA_SETTINGS: tuple[MediaInputSetting, ...] = ("spend", "impressions", "clicks", "auto")


def _setting(value: str, option: str) -> MediaInputSetting:
    """Check one media input setting (exit 2 with a one-line message if unknown)."""
    for setting in _MEDIA_SETTINGS:
        if value == setting:
            return setting
    raise _fail(f"{option} must be one of {', '.join(_MEDIA_SETTINGS)}, got {value!r}")


def _pairs(value: str, option: str, example: str) -> dict[str, str] | None:
    """Parse ``channel=value`` pairs separated by commas; None if ``value`` has no ``=``."""
    if "=" not in value:
        return None
    out: dict[str, str] = {}
    for part in (p.strip() for p in value.split(",") if p.strip()):
        channel, sep, setting = part.partition("=")
        if not sep or not channel.strip():
            raise _fail(f"{option} pairs must look like {example!r}, got {part!r}")
        out[channel.strip()] = setting.strip().lower()
    return out


def _media_input(value: str) -> MediaInputSetting | dict[str, MediaInputSetting]:
    """Parse ``--media``: one setting, or ``channel=setting`` pairs separated by commas."""
    pairs = _pairs(value, "--media", "channel=impressions")
    if pairs is None:
        return _setting(value.strip().lower(), "--media")
    return {c: _setting(s, f"--media for {c!r}") for c, s in pairs.items()}


def _per_channel(value: str, kinds: tuple[str, ...], option: str) -> str | dict[str, str]:
    """Parse ``--adstock`` / ``--saturation``: one kind, or ``channel=kind`` pairs.

    An adstock kind may carry its maximum lag, ``weibull:12`` (checked by the fit).
    """
    pairs = _pairs(value, option, f"channel={kinds[0]}")
    chosen = {"": value.strip().lower()} if pairs is None else pairs
    for channel, name in chosen.items():
        kind = name.partition(":")[0] if option == "--adstock" else name
        if kind not in kinds:
            where = f" for {channel!r}" if channel else ""
            raise _fail(f"{option}{where} must be one of {', '.join(kinds)}, got {kind!r}")
    return chosen[""] if pairs is None else pairs


def _time_knots(value: str) -> int | Literal["auto"]:
    """Parse ``--time-knots``: ``auto`` or a whole number (0, or at least 2)."""
    text = value.strip().lower()
    if text == "auto":
        return "auto"
    if not text.isdigit() or int(text) == 1:
        raise _fail(f"--time-knots must be 'auto', 0 or a whole number >= 2, got {value!r}")
    return int(text)
