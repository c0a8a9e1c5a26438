"""Shared pieces of the command line: the app, consoles, progress bars, error handling."""

from __future__ import annotations

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
