"""The one result type every attribution model returns.

Examples
--------
>>> r = make_result("last", ("a", "b"), [3.0, 1.0], [30.0, 5.0], baseline=(1.0, 2.0))
>>> r.to_frame()
  model   channel  conversions  value  share
0  last         a          3.0   30.0    0.6
1  last         b          1.0    5.0    0.2
2  last  baseline          1.0    2.0    0.2
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = ["ATTRIBUTION_COLUMNS", "BASELINE", "AttributionResult", "make_result"]

BASELINE = "baseline"
"""Channel name of the conversions a model credits to no channel."""

ATTRIBUTION_COLUMNS = ("model", "channel", "conversions", "value", "share")
"""Columns of ``attribution.csv`` (docs/design.md)."""


@dataclass(frozen=True)
class AttributionResult:
    """Credit of one model: conversions and value per channel.

    Attributes
    ----------
    model
        Model name as ``--models`` spells it (``"markov"``, ``"shapley"``, ``"last"``...).
    credit
        ``channel`` (str), ``conversions`` and ``value`` (float64), one row per channel in
        channel order, plus a last ``baseline`` row when the model leaves conversions to no
        channel (e.g. conversions without a touch in their lookback). Sums to the conversions
        and value observed.
    meta
        Model settings and diagnostics (JSON-safe).
    """

    model: str
    credit: pd.DataFrame
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def conversions(self) -> float:
        """Total conversions credited (baseline included)."""
        return float(self.credit["conversions"].sum())

    @property
    def value(self) -> float:
        """Total value credited (baseline included), currency."""
        return float(self.credit["value"].sum())

    def to_frame(self) -> pd.DataFrame:
        """Return ``attribution.csv`` rows: ``model, channel, conversions, value, share``.

        ``share`` is the row's share of the conversions credited (0 when there are none).
        """
        conv = self.credit["conversions"].to_numpy(dtype=np.float64)
        total = conv.sum()
        share = conv / total if total > 0 else np.zeros_like(conv)
        return pd.DataFrame(
            {
                "model": pd.array([self.model] * len(conv), dtype="str"),
                "channel": self.credit["channel"].astype("str").to_numpy(),
                "conversions": conv,
                "value": self.credit["value"].to_numpy(dtype=np.float64),
                "share": share,
            }
        )

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict: model, credit rows and meta."""
        rows = self.to_frame().drop(columns="model").to_dict(orient="records")
        return {"model": self.model, "credit": rows, "meta": dict(self.meta)}


def make_result(
    model: str,
    channels: Sequence[str],
    conversions: npt.ArrayLike,
    value: npt.ArrayLike,
    *,
    baseline: tuple[float, float] = (0.0, 0.0),
    meta: Mapping[str, Any] | None = None,
) -> AttributionResult:
    """Assemble an :class:`AttributionResult` from per-channel arrays.

    Parameters
    ----------
    model
        Model name.
    channels
        Channel names, shape ``(C,)``.
    conversions, value
        Shape ``(C,)``: conversions and value credited to each channel.
    baseline
        Conversions and value credited to no channel; a ``baseline`` row is added when either
        is non-zero.
    meta
        Settings and diagnostics.
    """
    names = [str(c) for c in channels]
    conv = np.asarray(conversions, dtype=np.float64).reshape(len(names))
    val = np.asarray(value, dtype=np.float64).reshape(len(names))
    if baseline[0] != 0 or baseline[1] != 0:
        names.append(BASELINE)
        conv = np.append(conv, baseline[0])
        val = np.append(val, baseline[1])
    credit = pd.DataFrame(
        {"channel": pd.array(names, dtype="str"), "conversions": conv, "value": val}
    )
    return AttributionResult(model=model, credit=credit, meta=dict(meta or {}))
