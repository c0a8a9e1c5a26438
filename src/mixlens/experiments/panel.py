"""A geo experiment at the boundary: validate the panel and the design, then build matrices.

:func:`geo_experiment_data` checks a long geo panel (``date, geo, <target>``, optional
``{channel}_spend``; daily or weekly, no gaps, every geo on the same dates) and the design
(treated geos, the test window) and returns a :class:`GeoExperimentData`: the outcome as a
``(periods, geos)`` matrix with the treated and control columns and the pre-period and window
positions that every estimator of :mod:`mixlens.experiments.geo` uses.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from mixlens.errors import DataError

__all__ = ["GeoExperimentData", "geo_experiment_data", "parse_date"]

FRAME = "<frame>"
MIN_PRE = 8


@dataclass(frozen=True, eq=False)
class GeoExperimentData:
    """A validated geo experiment, ready for the estimators.

    Attributes
    ----------
    y
        Outcome, shape ``(periods, geos)``, float64.
    dates
        Date of each period (``periods``).
    geos
        Geo names (``geos``), in order of first appearance.
    treated
        Boolean mask of treated geos (``geos``).
    pre
        Number of pre-period periods: positions ``[0, pre)`` precede the window.
    window
        Positions ``[window[0], window[1])`` of the test window.
    freq
        ``"D"`` (daily) or ``"W"`` (weekly).
    target
        Name of the outcome column.
    channel
        The tested channel, or None when unknown.
    spend
        Spend of the tested channel, shape ``(periods, geos)``, or None.
    source
        Name of the panel's source, for messages.
    """

    y: NDArray[np.float64]
    dates: pd.DatetimeIndex
    geos: tuple[str, ...]
    treated: NDArray[np.bool_]
    pre: int
    window: tuple[int, int]
    freq: str
    target: str = "sales"
    channel: str | None = None
    spend: NDArray[np.float64] | None = None
    source: str = FRAME

    @property
    def start(self) -> str:
        """First date of the window (ISO)."""
        return str(self.dates[self.window[0]].strftime("%Y-%m-%d"))

    @property
    def end(self) -> str:
        """Last date of the window (ISO, inclusive)."""
        return str(self.dates[self.window[1] - 1].strftime("%Y-%m-%d"))

    @property
    def length(self) -> int:
        """Number of periods in the window."""
        return self.window[1] - self.window[0]

    @property
    def treated_names(self) -> tuple[str, ...]:
        """Names of the treated geos."""
        return tuple(g for g, t in zip(self.geos, self.treated, strict=True) if t)

    def treated_series(self) -> NDArray[np.float64]:
        """Aggregate outcome of the treated geos, shape ``(periods,)``."""
        out: NDArray[np.float64] = self.y[:, self.treated].sum(axis=1)
        return out

    def controls(self) -> NDArray[np.float64]:
        """Outcome of the control geos, shape ``(periods, controls)``."""
        out: NDArray[np.float64] = self.y[:, ~self.treated]
        return out

    def with_treated(self, treated: NDArray[np.bool_], y: NDArray[np.float64]) -> GeoExperimentData:
        """Return a copy on outcome ``y`` with ``treated`` geos (used by placebo tests)."""
        return GeoExperimentData(
            y=y,
            dates=self.dates,
            geos=tuple(f"g{i}" for i in range(y.shape[1])),
            treated=treated,
            pre=self.pre,
            window=self.window,
            freq=self.freq,
            target=self.target,
            channel=self.channel,
            source=self.source,
        )

    def shifted(self, pre: int, start: int) -> GeoExperimentData:
        """Return a placebo-in-time copy: pre-period ``[start - pre, start)``, same window length.

        Periods at and after the real window are dropped.
        """
        lo = start - pre
        stop = start + self.length
        return GeoExperimentData(
            y=self.y[lo:stop],
            dates=self.dates[lo:stop],
            geos=self.geos,
            treated=self.treated,
            pre=pre,
            window=(pre, pre + self.length),
            freq=self.freq,
            target=self.target,
            channel=self.channel,
            source=self.source,
        )


def parse_date(value: str | pd.Timestamp, *, name: str, file: str = FRAME) -> pd.Timestamp:
    """Parse an ISO date (``YYYY-MM-DD``) given as ``name``, or raise a :class:`DataError`.

    Examples
    --------
    >>> parse_date("2024-03-04", name="start")
    Timestamp('2024-03-04 00:00:00')
    """
    if isinstance(value, pd.Timestamp):
        return value.normalize()
    try:
        return pd.Timestamp(pd.to_datetime(str(value).strip(), format="%Y-%m-%d"))
    except (ValueError, TypeError):
        raise DataError(f"{name}: cannot parse date {value!r} (expected YYYY-MM-DD)") from None


def _numbers(frame: pd.DataFrame, column: str, file: str) -> NDArray[np.float64]:
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        row = int(np.argmax(bad))
        raise DataError(
            f"not a finite number: {frame[column].iloc[row]!r}",
            file=file,
            column=column,
            row=row + 1,
        )
    return values


def geo_experiment_data(
    frame: pd.DataFrame,
    *,
    treated: Sequence[str],
    start: str | pd.Timestamp,
    end: str | pd.Timestamp,
    target: str = "sales",
    channel: str | None = None,
    file: str = FRAME,
) -> GeoExperimentData:
    """Validate a long geo panel and an experiment design; return the estimators' input.

    Parameters
    ----------
    frame
        Long panel: ``date`` (ISO), ``geo``, the target and optional ``{channel}_spend``
        columns; one row per geo and period, daily or weekly, no gaps, same dates in every geo.
    treated
        Treated geos (each must be in the panel; at least two geos must remain as controls).
    start, end
        First and last date of the test window (inclusive, within the panel, ``start <= end``,
        with at least 8 periods before ``start``).
    target
        Outcome column.
    channel
        Tested channel; ``{channel}_spend`` must then exist. None infers it from the spend
        columns (the channel whose treated spend changed most in the window), if any.
    file
        Name of the source, used in error messages.

    Returns
    -------
    GeoExperimentData
        The outcome matrix and design.

    Raises
    ------
    DataError
        Naming the file, column and row, or the bad argument.

    Examples
    --------
    >>> frame = pd.DataFrame({
    ...     "date": ["2024-01-01", "2024-01-08"] * 3, "geo": ["a", "a", "b", "b", "c", "c"],
    ...     "sales": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]})
    >>> data = geo_experiment_data(frame, treated=["a"], start="2024-01-08", end="2024-01-08")
    Traceback (most recent call last):
    ...
    mixlens.errors.DataError: start: 2024-01-08 leaves 1 period before the window; need 8
    """
    for col in ("date", "geo", target):
        if col not in frame.columns:
            present = [str(c) for c in frame.columns]
            close = difflib.get_close_matches(col, present, n=1)
            hint = (
                f" (did you mean {close[0]!r}?)" if close else f" (columns: {', '.join(present)})"
            )
            raise DataError(f"missing column {col!r}{hint}", file=file)
    if len(frame) == 0:
        raise DataError("no data rows", file=file)
    raw = frame["date"]
    if pd.api.types.is_datetime64_any_dtype(raw):
        dates = pd.to_datetime(raw)
    else:
        dates = pd.to_datetime(raw.astype(str).str.strip(), format="%Y-%m-%d", errors="coerce")
    if dates.isna().any():
        row = int(np.argmax(dates.isna().to_numpy()))
        raise DataError(
            f"cannot parse date {raw.iloc[row]!r} (expected YYYY-MM-DD)",
            file=file,
            column="date",
            row=row + 1,
        )
    geo = frame["geo"].astype(str).str.strip()
    values = _numbers(frame, target, file)
    long = pd.DataFrame({"date": dates.to_numpy(), "geo": geo.to_numpy(), "y": values})
    dup = long.duplicated(["geo", "date"]).to_numpy()
    if dup.any():
        row = int(np.argmax(dup))
        raise DataError(
            f"duplicate row for geo {geo.iloc[row]!r} and date {raw.iloc[row]}",
            file=file,
            row=row + 1,
        )
    geos = tuple(str(g) for g in pd.unique(long["geo"]))
    wide = long.pivot(index="date", columns="geo", values="y").reindex(columns=list(geos))
    holes = np.isnan(wide.to_numpy(dtype=np.float64))
    if holes.any():
        pos = int(np.argmax(holes.any(axis=0)))
        missing = pd.Timestamp(wide.index[int(np.argmax(holes[:, pos]))])
        raise DataError(
            f"geo {geos[pos]!r} has no row for {missing:%Y-%m-%d}; every geo needs the same dates",
            file=file,
            column="geo",
        )
    index = pd.DatetimeIndex(wide.index)
    steps = np.unique(np.diff(index.to_numpy()).astype("timedelta64[D]").astype(int))
    if len(index) < 2 or len(steps) != 1 or steps[0] not in (1, 7):
        raise DataError(
            "dates must be daily or weekly with no gaps (found steps of "
            f"{', '.join(str(s) for s in steps[:5])} days)",
            file=file,
            column="date",
        )
    freq = "D" if steps[0] == 1 else "W"
    mask = _treated_mask(treated, geos, file)
    first, last = parse_date(start, name="start"), parse_date(end, name="end")
    if first > last:
        raise DataError(f"start {first:%Y-%m-%d} is after end {last:%Y-%m-%d}")
    span = f"the panel covers {index[0]:%Y-%m-%d} to {index[-1]:%Y-%m-%d}"
    if first < index[0] or last > index[-1]:
        raise DataError(f"window {first:%Y-%m-%d} to {last:%Y-%m-%d} is outside the panel; {span}")
    lo = int(index.searchsorted(first))
    hi = int(index.searchsorted(last, side="right"))
    if hi <= lo:
        raise DataError(f"window {first:%Y-%m-%d} to {last:%Y-%m-%d} holds no panel date; {span}")
    if lo < MIN_PRE:
        raise DataError(
            f"start: {first:%Y-%m-%d} leaves {lo} period{'s' if lo != 1 else ''} before the "
            f"window; need {MIN_PRE}"
        )
    y = wide.to_numpy(dtype=np.float64)
    name, spend = _channel(frame, long, geos, index, channel, mask, (lo, hi), file)
    return GeoExperimentData(
        y=y,
        dates=index,
        geos=geos,
        treated=mask,
        pre=lo,
        window=(lo, hi),
        freq=freq,
        target=target,
        channel=name,
        spend=spend,
        source=file,
    )


def _treated_mask(treated: Sequence[str], geos: tuple[str, ...], file: str) -> NDArray[np.bool_]:
    names = [str(t).strip() for t in treated if str(t).strip()]
    if not names:
        raise DataError("treated: no treated geo given")
    for name in names:
        if name not in geos:
            close = difflib.get_close_matches(name, geos, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"{len(geos)} geos in the panel"
            raise DataError(f"treated: unknown geo {name!r} ({hint})", file=file, column="geo")
    mask = np.isin(np.array(geos, dtype=object), names)
    if (~mask).sum() < 2:
        raise DataError(
            f"treated: {int(mask.sum())} of {len(geos)} geos treated; need 2 or more controls"
        )
    return mask


def _channel(
    frame: pd.DataFrame,
    long: pd.DataFrame,
    geos: tuple[str, ...],
    index: pd.DatetimeIndex,
    channel: str | None,
    mask: NDArray[np.bool_],
    window: tuple[int, int],
    file: str,
) -> tuple[str | None, NDArray[np.float64] | None]:
    """Return the tested channel and its spend matrix (None when there is no spend column)."""
    names = [str(c)[: -len("_spend")] for c in frame.columns if str(c).endswith("_spend")]
    if channel is not None and channel not in names:
        raise DataError(
            f"channel {channel!r} has no '{channel}_spend' column "
            f"(channels: {', '.join(names) or 'none'})",
            file=file,
        )
    candidates = [channel] if channel is not None else names
    best: tuple[float, str, NDArray[np.float64]] | None = None
    for name in candidates:
        col = f"{name}_spend"
        spend = long.assign(s=_numbers(frame, col, file)).pivot(
            index="date", columns="geo", values="s"
        )
        matrix = spend.reindex(index=index, columns=list(geos)).to_numpy(dtype=np.float64)
        score = abs(_spend_change(matrix, mask, window))
        if best is None or score > best[0]:
            best = (score, name, matrix)
    if best is None:
        return channel, None
    return best[1], best[2]


def _spend_change(
    spend: NDArray[np.float64], mask: NDArray[np.bool_], window: tuple[int, int]
) -> float:
    """Log change of treated spend relative to control spend, window versus pre-period."""
    lo, hi = window
    eps = 1e-9
    t_pre, t_win = spend[:lo, mask].sum() / lo, spend[lo:hi, mask].sum() / (hi - lo)
    c_pre, c_win = spend[:lo, ~mask].sum() / lo, spend[lo:hi, ~mask].sum() / (hi - lo)
    return float(np.log((t_win + eps) / (t_pre + eps)) - np.log((c_win + eps) / (c_pre + eps)))


def spend_direction(data: GeoExperimentData) -> float:
    """Sign of the intervention: -1 when treated spend fell in the window (a holdout), else +1.

    Without spend columns a holdout (-1) is assumed.
    """
    if data.spend is None:
        return -1.0
    return 1.0 if _spend_change(data.spend, data.treated, data.window) > 0 else -1.0
