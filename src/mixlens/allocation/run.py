"""``mixlens allocate``: recommend a budget split from a fitted MMM directory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mixlens.allocation.optimize import Bounds, Objective, optimize_budget
from mixlens.allocation.response import MMMResponse
from mixlens.data.io import write_json, write_table
from mixlens.errors import DataError

__all__ = ["allocate_to_dir", "read_bounds"]

ProgressCallback = Callable[[str, float], None]


def read_bounds(path: str | Path, channels: tuple[str, ...]) -> tuple[Bounds, tuple[str, ...]]:
    """Read per-channel constraints from CSV: ``channel`` and optional ``lower, upper, locked``.

    Blank ``lower``/``upper`` cells leave that side open; ``locked`` is 0/1 (or
    true/false) and keeps the channel at its current spend. Amounts are currency over
    the planning horizon.

    Returns
    -------
    tuple
        ``({channel: (lower, upper)}, locked_channels)``.

    Raises
    ------
    DataError
        On a missing ``channel`` column, an unknown channel or a bad number.
    """
    file = str(path)
    frame = pd.read_csv(path)
    if "channel" not in frame.columns:
        raise DataError("bounds file needs a 'channel' column", file=file)
    bounds: dict[str, tuple[float | None, float | None]] = {}
    locked: list[str] = []
    for row, record in enumerate(frame.to_dict("records"), start=1):
        name = str(record["channel"])
        if name not in channels:
            raise DataError(f"unknown channel {name!r}; channels: {channels}", file=file, row=row)
        sides: list[float | None] = []
        for column in ("lower", "upper"):
            value = record.get(column)
            if value is None or pd.isna(value):
                sides.append(None)
                continue
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise DataError(
                    f"not a number: {value!r}", file=file, column=column, row=row
                ) from None
            if not np.isfinite(number) or number < 0:
                raise DataError(
                    f"must be finite and >= 0: {value!r}", file=file, column=column, row=row
                )
            sides.append(number)
        bounds[name] = (sides[0], sides[1])
        flag = record.get("locked")
        if (
            flag is not None
            and not pd.isna(flag)
            and str(flag).strip().lower() in {"1", "1.0", "true", "yes"}
        ):
            locked.append(name)
    return bounds, tuple(locked)


def allocate_to_dir(
    mmm_dir: str | Path,
    *,
    budget: float,
    out_dir: str | Path,
    weeks: int = 52,
    objective: Objective = "mean",
    bounds_file: str | Path | None = None,
    seed: int = 0,
    progress: ProgressCallback | None = None,
) -> dict[str, Any]:
    """Optimise the budget of the next ``weeks`` weeks on a fitted MMM and write the plan.

    Writes ``allocation.csv`` (design.md columns) and ``summary.json`` (``current_expected``,
    ``recommended_expected`` with ``mean, lo, hi``, ``prob_better_than_current``, the
    objective and solver status), each atomically.

    Parameters
    ----------
    mmm_dir
        Output folder of ``mixlens mmm fit``.
    budget
        Total spend over the next ``weeks`` weeks, currency.
    out_dir
        Output folder (created if absent).
    weeks
        Planning horizon; the plan keeps the flighting of the last ``weeks`` fitted weeks.
    objective
        ``"mean"``, ``("quantile", q)`` or ``("cvar", alpha)``.
    bounds_file
        Optional CSV of per-channel constraints, see :func:`read_bounds`.
    seed
        Unused by the deterministic solver; recorded for reproducibility.
    progress
        Optional callback ``(stage, fraction_done)``.

    Returns
    -------
    dict
        The summary written to ``summary.json``.

    Raises
    ------
    DataError
        If the MMM folder or bounds are bad, or the constraints are infeasible.
    """
    from mixlens.mmm.results import MMMResult

    report = progress or (lambda stage, fraction: None)
    report("load mmm", 0.0)
    result = MMMResult.load(mmm_dir)
    model = MMMResponse.from_result(result, weeks=weeks)
    bounds, locked = (None, ()) if bounds_file is None else read_bounds(bounds_file, model.channels)
    report("optimise", 0.3)
    allocation = optimize_budget(
        model,
        budget=budget,
        current=model.current,
        bounds=bounds,
        locked=locked,
        objective=objective,
        ci=result.ci,
    )
    report("write", 0.9)
    out = Path(out_dir)
    summary = {
        **allocation.summary(),
        "budget": float(budget),
        "weeks": weeks,
        "seed": seed,
        "mmm_dir": str(mmm_dir),
        "samples": int(model.beta.shape[0]),
    }
    write_table(allocation.to_frame(), out / "allocation.csv")
    write_json(summary, out / "summary.json")
    report("done", 1.0)
    return summary
