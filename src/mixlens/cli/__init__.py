"""The ``mixlens`` command line: one module per pipeline stage (design.md).

Each stage module registers its commands on the shared typer app when imported;
``STAGE_MODULES`` fixes the order in which ``mixlens --help`` lists them.
"""

from __future__ import annotations

import importlib
import warnings

from mixlens.cli._app import _show_warning, app

#: Stage modules in pipeline order (the order of ``mixlens --help``).
STAGE_MODULES: tuple[str, ...] = (
    "simulate",
    "validate",
    "mmm",
    "ima",
    "mta",
    "agents",
    "allocate",
    "experiment",
    "serve",
    "market",
)

for _module in STAGE_MODULES:
    importlib.import_module(f"mixlens.cli.{_module}")

__all__ = ["STAGE_MODULES", "app", "main"]


def main() -> None:
    """Entry point of the ``mixlens`` script."""
    warnings.showwarning = _show_warning
    app(prog_name="mixlens")
