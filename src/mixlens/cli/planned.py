"""Stages that later issues deliver: they say so and exit 1."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer

from mixlens import __version__
from mixlens.cli._app import app, console

#: Stages of design.md that later issues deliver: name, what it does, the issue.
PLANNED_STAGES: tuple[tuple[str, str, int], ...] = (
    ("market", "Multi-agent reinforcement-learning market.", 9),
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
