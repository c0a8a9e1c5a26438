"""Allocation over geos: a geo MMM as a response model with one variable per geo and channel.

Each geo of a :class:`~mixlens.mmm.geo.GeoMMMResult` is a national model on the geo's own
data and scales with the shared curve parameters and the geo's channel scales, so each
geo plans through :class:`~mixlens.allocation.response.MMMResponse` (its flighting and
carryover included) and the geos add up. The decision variables are named
``"<geo>:<channel>"``, so per-geo bounds, locks and ramps are ordinary per-variable
constraints of :func:`~mixlens.allocation.optimize.optimize_budget`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from mixlens.allocation.response import MMMResponse

if TYPE_CHECKING:
    from mixlens.mmm.data import MMMData
    from mixlens.mmm.geo import GeoMMMResult
    from mixlens.mmm.spec import MMMSpec

__all__ = ["SEPARATOR", "GeoResponse", "split_names"]

FloatArray = NDArray[np.float64]
#: Between geo and channel in a decision variable's name.
SEPARATOR = ":"


@dataclass(frozen=True)
class _GeoView:
    """One geo of a geo MMM, shaped as a national result for :class:`MMMResponse`."""

    spec: MMMSpec
    data: MMMData
    _params: dict[str, FloatArray]


@dataclass(frozen=True, eq=False)
class GeoResponse:
    """A geo MMM as a :class:`~mixlens.allocation.response.ResponseModel` over geo x channel.

    Attributes
    ----------
    geos, base_channels
        Geo and channel names.
    parts
        One response per geo.
    """

    geos: tuple[str, ...]
    base_channels: tuple[str, ...]
    parts: tuple[MMMResponse, ...]

    @classmethod
    def from_result(cls, result: GeoMMMResult, *, weeks: int = 52) -> GeoResponse:
        """Plan the next ``weeks`` weeks of every geo on its last ``weeks`` weeks' flighting.

        Raises
        ------
        DataError
            If ``weeks`` is out of range.
        """
        parts = []
        for g in range(len(result.geos)):
            params = dict(result._params)
            params["beta"] = result._params["beta"][:, g, :]
            view = _GeoView(result.spec, result.data.geo(g), params)
            parts.append(MMMResponse.from_result(view, weeks=weeks))
        return cls(tuple(result.geos), tuple(result.spec.channels), tuple(parts))

    @property
    def channels(self) -> tuple[str, ...]:
        """Decision variables ``"<geo>:<channel>"``, geo by geo."""
        return tuple(f"{g}{SEPARATOR}{c}" for g in self.geos for c in self.base_channels)

    @property
    def current(self) -> FloatArray:
        """Spend of the last ``weeks`` weeks per geo and channel, currency."""
        out: FloatArray = np.concatenate([p.current for p in self.parts])
        return out

    def _split(self, spend: FloatArray) -> list[FloatArray]:
        return list(np.asarray(spend, dtype=np.float64).reshape(len(self.parts), -1))

    def contributions(self, spend: FloatArray) -> FloatArray:
        """Per-draw contribution of each geo and channel, target units, ``(n_draws, G*C)``."""
        parts = [p.contributions(s) for p, s in zip(self.parts, self._split(spend), strict=True)]
        out: FloatArray = np.concatenate(parts, axis=1)
        return out

    def expected(self, spend: FloatArray) -> FloatArray:
        """Per-draw media outcome over all geos, target units, ``(n_draws,)``."""
        out: FloatArray = self.contributions(spend).sum(axis=1)
        return out

    def gradient(self, spend: FloatArray) -> FloatArray:
        """Per-draw gradient, target units per currency, ``(n_draws, G*C)``."""
        parts = [p.gradient(s) for p, s in zip(self.parts, self._split(spend), strict=True)]
        out: FloatArray = np.concatenate(parts, axis=1)
        return out


def split_names(frame: pd.DataFrame, column: str = "channel") -> pd.DataFrame:
    """Split ``"<geo>:<channel>"`` names in ``column`` into leading ``geo`` and ``channel``.

    Examples
    --------
    >>> split_names(pd.DataFrame({"channel": ["north:tv"], "spend": [1.0]})).columns.tolist()
    ['geo', 'channel', 'spend']
    """
    parts = frame[column].astype(str).str.split(SEPARATOR, n=1, expand=True)
    out = frame.drop(columns=[column])
    out.insert(0, "channel", parts[1].to_numpy())
    out.insert(0, "geo", parts[0].to_numpy())
    return out
