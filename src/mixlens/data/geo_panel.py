"""Geo panels: a weekly channel panel with one row per geo and week, as dense arrays.

A geo panel is a weekly panel (see :func:`mixlens.data.schemas.validate_weekly`) with a
``geo`` column. :class:`GeoPanel` validates it as such and then checks what a geo model
needs beyond that: at least two geos, every geo with a positive mean outcome, and every
channel spending somewhere. It holds the outcome, spend and controls as arrays indexed
``(week, geo[, channel])`` and remembers each cell's row in the source, so later errors
can name it.

Examples
--------
>>> frame = pd.DataFrame(
...     {
...         "geo": ["a", "a", "b", "b"],
...         "date": ["2024-01-01", "2024-01-08"] * 2,
...         "sales": [10.0, 12.0, 5.0, 6.0],
...         "tv_spend": [1.0, 2.0, 0.5, 0.0],
...     }
... )
>>> panel = GeoPanel.from_frame(frame)
>>> panel.geos, panel.spend.shape
(('a', 'b'), (2, 2, 1))
>>> int(panel.rows[1, 1])
4
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from mixlens.data.loaders import read_table
from mixlens.data.schemas import FRAME, GEO, MediaPanel
from mixlens.errors import DataError

__all__ = ["GeoPanel", "is_geo_frame", "load_geo_panel"]

FloatArray = NDArray[np.float64]
_ROW = "_mixlens_source_row"


def is_geo_frame(frame: pd.DataFrame) -> bool:
    """Whether a weekly frame has a ``geo`` column (and so needs the geo model)."""
    return GEO in {str(c) for c in frame.columns}


@dataclass(frozen=True, eq=False)
class GeoPanel:
    """A validated geo panel as arrays over ``(week, geo[, channel])``.

    Attributes
    ----------
    panel
        The validated long panel (rows ordered by geo, then date).
    geos
        Geo labels in order of first appearance.
    weeks
        The weeks, shared by every geo.
    y
        Outcome, shape ``(n_weeks, n_geos)``.
    spend
        Spend, shape ``(n_weeks, n_geos, n_channels)``.
    control
        Controls, shape ``(n_weeks, n_geos, n_controls)``.
    rows
        1-based source row of each cell, shape ``(n_weeks, n_geos)``.
    """

    panel: MediaPanel
    geos: tuple[str, ...]
    weeks: pd.DatetimeIndex
    y: FloatArray
    spend: FloatArray
    control: FloatArray
    rows: NDArray[np.int64]

    @property
    def channels(self) -> tuple[str, ...]:
        """The channels (from the ``{channel}_spend`` columns)."""
        return self.panel.channels

    @property
    def controls(self) -> tuple[str, ...]:
        """The control columns."""
        return self.panel.controls

    @property
    def target(self) -> str:
        """The outcome column."""
        return self.panel.target

    @property
    def source(self) -> str:
        """Where the panel came from (for error messages)."""
        return self.panel.source

    def national(self) -> pd.DataFrame:
        """Return the panel summed over geos: a national weekly frame (controls averaged)."""
        frame = pd.DataFrame({"date": self.weeks, self.target: self.y.sum(axis=1)})
        for i, channel in enumerate(self.channels):
            frame[f"{channel}_spend"] = self.spend[:, :, i].sum(axis=1)
        for k, name in enumerate(self.controls):
            frame[name] = self.control[:, :, k].mean(axis=1)
        return frame

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        *,
        target: str = "sales",
        controls: Sequence[str] = (),
        file: str = FRAME,
    ) -> GeoPanel:
        """Validate a long geo frame and return it as arrays.

        Raises
        ------
        DataError
            On anything :func:`~mixlens.data.schemas.validate_weekly` rejects, a frame
            without a ``geo`` column or with a single geo, a geo whose outcome has no
            positive mean, or a channel that never spends in any geo. The error names
            file, column and (1-based) row of the source.
        """
        if not is_geo_frame(frame):
            raise DataError("a geo panel needs a 'geo' column", file=file)
        raw = frame.reset_index(drop=True).assign(**{_ROW: np.arange(1, len(frame) + 1)})
        panel = MediaPanel.from_frame(raw, target=target, controls=controls, file=file)
        valid = panel.frame
        geos = panel.geos
        if len(geos) < 2:
            raise DataError(
                f"a geo panel needs at least 2 geos, got {len(geos)}; drop the 'geo' column "
                "to fit a national model",
                file=file,
                column=GEO,
            )
        weeks = panel.weeks
        n_weeks, n_geos = len(weeks), len(geos)

        def cube(columns: Sequence[str]) -> FloatArray:
            values = valid[list(columns)].to_numpy(np.float64) if columns else None
            if values is None:
                return np.zeros((n_weeks, n_geos, 0))
            return np.ascontiguousarray(
                values.reshape(n_geos, n_weeks, len(columns)).transpose(1, 0, 2)
            )

        y = cube([target])[:, :, 0]
        rows = valid[_ROW].to_numpy(np.int64).reshape(n_geos, n_weeks).T.copy()
        for g, name in enumerate(geos):
            if not y[:, g].mean() > 0:
                raise DataError(
                    f"the outcome of geo {name!r} has no positive mean; drop the geo",
                    file=file,
                    column=target,
                    row=int(rows[0, g]),
                )
        spend = cube([f"{c}_spend" for c in panel.channels])
        for i, channel in enumerate(panel.channels):
            if not spend[:, :, i].sum() > 0:
                raise DataError(
                    f"channel {channel!r} has no spend in any geo; drop it from the model",
                    file=file,
                    column=f"{channel}_spend",
                )
        control = cube(panel.controls)
        for k, name in enumerate(panel.controls):
            if not control[:, :, k].std() > 0:
                raise DataError("control is constant; drop it", file=file, column=name)
        clean = MediaPanel(
            frame=valid.drop(columns=_ROW),
            target=target,
            channels=panel.channels,
            controls=panel.controls,
            geo=GEO,
            source=file,
        )
        return cls(
            panel=clean,
            geos=geos,
            weeks=weeks,
            y=y,
            spend=spend,
            control=control,
            rows=rows,
        )


def load_geo_panel(
    path: str | Path, *, target: str = "sales", controls: Sequence[str] = ()
) -> GeoPanel:
    """Read and validate a geo panel (CSV, Parquet or ``file.duckdb::table``).

    Raises
    ------
    DataError
        See :meth:`GeoPanel.from_frame`; also if the file cannot be read.
    """
    frame = read_table(path)
    return GeoPanel.from_frame(frame, target=target, controls=controls, file=str(path))
