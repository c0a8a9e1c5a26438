"""Model inputs of the MMM: the weekly panel as scaled arrays and baseline features.

:class:`MMMData` is the narrow context shared by the model builder and the results:
it holds the raw series (spend, media and target in their own units), the scales that
make default priors work on data in any units, and the baseline design (trend, yearly
Fourier terms, holidays, standardized controls). It converts to and from an xarray
Dataset, which is stored as the ``constant_data`` group of ``posterior.nc`` so that a
saved posterior is self-contained.

**Media input.** A channel's adstock and saturation act on its spend, or on its
impressions or clicks (:attr:`MMMSpec.media_input`). Impressions and clicks are
converted to *spend-equivalent* media at the channel's cost per unit over the fitted
weeks, ``cost_per_unit = total spend / total units``, so the model input is
``units * cost_per_unit / media_scale``: its weekly shape follows the units (delivery),
its totals match spend over the window. Everything reported in spend units (ROI,
marginal ROI, response curves, ``half_saturation``) maps spend to media through that
fixed cost per unit: a response curve at weekly spend ``s`` is the response to ``s /
cost_per_unit`` units, and marginal ROI is the change for a proportional increase of
spend, and so of units, in every week. On spend, ``cost_per_unit`` is 1 and nothing
changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr
from numpy.typing import NDArray

from mixlens.data.calendar import weekly_holiday_frame
from mixlens.data.schemas import MediaPanel
from mixlens.errors import DataError
from mixlens.mmm.knots import knot_positions, knot_weights, resolve_time_knots
from mixlens.mmm.spec import MEDIA_INPUTS, MediaInput, MMMSpec

__all__ = ["MMMData", "resolve_media_input"]

FloatArray = NDArray[np.float64]
_DAYS_PER_YEAR = 365.25
_EPOCH = pd.Timestamp("1970-01-01")


def _fourier(dates: pd.DatetimeIndex, n_pairs: int) -> tuple[FloatArray, tuple[str, ...]]:
    """Yearly Fourier features ``sin(2 pi k t), cos(2 pi k t)``, ``t`` in years since 1970."""
    years = np.asarray((dates - _EPOCH).days, dtype=np.float64) / _DAYS_PER_YEAR
    columns: list[FloatArray] = []
    names: list[str] = []
    for k in range(1, n_pairs + 1):
        columns += [np.sin(2 * np.pi * k * years), np.cos(2 * np.pi * k * years)]
        names += [f"sin_{k}", f"cos_{k}"]
    if not columns:
        return np.zeros((len(dates), 0)), ()
    return np.column_stack(columns), tuple(names)


def _usable_units(frame: pd.DataFrame, column: str) -> bool:
    """Whether ``column`` is present, complete, non-negative and has a positive total."""
    if column not in frame.columns:
        return False
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(np.float64)
    return bool(np.all(np.isfinite(values)) and np.all(values >= 0) and values.sum() > 0)


def resolve_media_input(spec: MMMSpec, frame: pd.DataFrame) -> tuple[MediaInput, ...]:
    """Resolve each channel's media input setting on a wide weekly ``frame``.

    ``"auto"`` becomes ``"impressions"`` where ``{channel}_impressions`` is present,
    complete, non-negative and has a positive total, else ``"spend"``; explicit
    settings are kept (and checked when the data are prepared).

    Examples
    --------
    >>> frame = pd.DataFrame({"tv_spend": [1.0, 2.0], "tv_impressions": [50.0, 90.0],
    ...                       "radio_spend": [1.0, 0.0]})
    >>> resolve_media_input(MMMSpec(channels=("tv", "radio"), media_input="auto"), frame)
    ('impressions', 'spend')
    """
    out: list[MediaInput] = []
    for channel in spec.channels:
        setting = spec.channel_media_input(channel)
        if setting == "auto":
            usable = _usable_units(frame, f"{channel}_impressions")
            out.append("impressions" if usable else "spend")
        else:
            out.append(setting)
    return tuple(out)


def _units(
    frame: pd.DataFrame, channel: str, kind: MediaInput, spend: FloatArray, source: str
) -> FloatArray:
    """Return the channel's media units of ``kind`` (checked: complete, non-negative, used)."""
    column = f"{channel}_{kind}"
    if column not in frame.columns:
        raise DataError(
            f"channel {channel!r} is modelled on {kind} but the panel has no {column!r} "
            "column; add it or use media input 'spend'",
            file=source,
            column=column,
        )
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(np.float64)
    bad = np.flatnonzero(~np.isfinite(values) | (values < 0))
    if bad.size:
        raise DataError(
            f"{kind} must be present and non-negative in every week to model {channel!r} on "
            f"them; found {frame[column].iloc[bad[0]]!r}",
            file=source,
            column=column,
            row=int(bad[0]) + 1,
        )
    if not values.sum() > 0:
        raise DataError(
            f"channel {channel!r} has no {kind}; use media input 'spend'",
            file=source,
            column=column,
        )
    if spend.sum() > 0 and not np.any((values > 0) & (spend > 0)):
        raise DataError(
            f"channel {channel!r} never has spend and {kind} in the same week; its cost per "
            "unit is undefined",
            file=source,
            column=column,
        )
    return values


@dataclass(frozen=True, eq=False)
class MMMData:
    """A weekly panel prepared for the MMM (national; one row per week).

    Attributes
    ----------
    dates
        Week start dates, shape ``(n_weeks,)``.
    channels, controls, holidays, fourier_terms
        Coordinate labels of the channel, control, holiday and Fourier dimensions.
    target
        Name of the outcome column.
    y
        Outcome in its own units, shape ``(n_weeks,)``.
    y_scale
        The outcome's mean; the model fits ``y / y_scale``.
    spend
        Spend per week and channel, currency, shape ``(n_weeks, n_channels)``.
    media_scale
        Per channel, the mean spend-equivalent media over weeks with media (on spend: the
        mean spend over weeks with spend); the model uses :attr:`media`. Shape
        ``(n_channels,)``, currency per week.
    trend
        Centered time, ``(week - mid) / (n_weeks - 1)`` in ``[-0.5, 0.5]``, shape ``(n_weeks,)``.
    fourier
        Yearly Fourier features, shape ``(n_weeks, 2 * yearly_fourier)``.
    holiday
        0/1 holiday-week indicators (holidays that occur in the window), ``(n_weeks, n_hol)``.
    control
        Controls in their own units, shape ``(n_weeks, n_controls)``.
    control_mean, control_std
        Standardization of the controls, shape ``(n_controls,)``.
    knot_weeks
        Positions of the time-varying baseline's knots, in weeks since the first fitted
        week, shape ``(n_knots,)`` (empty without a time-varying baseline).
    knot_weights
        Interpolation of the knots at each week (:func:`mixlens.mmm.knots.knot_weights`),
        shape ``(n_weeks, n_knots)``.
    media_input
        Each channel's resolved media input (``"spend"``, ``"impressions"`` or
        ``"clicks"``); empty means spend for every channel.
    media_units
        The media series in their own units, shape ``(n_weeks, n_channels)`` (read only
        for channels not on spend; None when every channel is on spend).
    cost_per_unit
        Spend per media unit over the fitted weeks, shape ``(n_channels,)`` (1 on spend;
        None when every channel is on spend).
    """

    dates: pd.DatetimeIndex
    channels: tuple[str, ...]
    controls: tuple[str, ...]
    holidays: tuple[str, ...]
    fourier_terms: tuple[str, ...]
    target: str
    y: FloatArray
    y_scale: float
    spend: FloatArray
    media_scale: FloatArray
    trend: FloatArray
    fourier: FloatArray
    holiday: FloatArray
    control: FloatArray
    control_mean: FloatArray
    control_std: FloatArray
    knot_weeks: FloatArray
    knot_weights: FloatArray
    media_input: tuple[MediaInput, ...] = ()
    media_units: FloatArray | None = None
    cost_per_unit: FloatArray | None = None

    @property
    def media_inputs(self) -> tuple[MediaInput, ...]:
        """Each channel's media input (``"spend"`` for all when none was recorded)."""
        return self.media_input or tuple("spend" for _ in self.channels)

    @property
    def spend_equivalent(self) -> FloatArray:
        """Media in spend units, ``units * cost_per_unit``, shape ``(n_weeks, n_channels)``.

        Channels on spend give their spend (so a change of :attr:`spend` moves them).
        """
        if self.media_units is None or self.cost_per_unit is None:
            return self.spend
        on_spend = np.array([m == "spend" for m in self.media_inputs])
        out: FloatArray = np.where(
            on_spend[None, :], self.spend, self.media_units * self.cost_per_unit
        )
        return out

    @property
    def n_knots(self) -> int:
        """Number of knots of the time-varying baseline (0 without one)."""
        return len(self.knot_weeks)

    @property
    def n_weeks(self) -> int:
        """Number of weeks."""
        return len(self.dates)

    @property
    def media(self) -> FloatArray:
        """Scaled media ``spend_equivalent / media_scale``, shape ``(n_weeks, n_channels)``."""
        out: FloatArray = self.spend_equivalent / self.media_scale
        return out

    @property
    def reference_roi(self) -> float:
        """``sum(y) / sum(spend)``: the ROI if all of the outcome came from media.

        The default unit of the ``roi`` prior (see :attr:`MMMSpec.roi_reference`).
        """
        return float(self.y.sum() / self.spend.sum())

    @property
    def control_z(self) -> FloatArray:
        """Standardized controls, shape ``(n_weeks, n_controls)``."""
        out: FloatArray = (self.control - self.control_mean) / self.control_std
        return out

    @classmethod
    def from_panel(
        cls,
        panel: MediaPanel | pd.DataFrame,
        spec: MMMSpec,
        *,
        reference: MMMData | None = None,
        geo: bool = False,
    ) -> MMMData:
        """Prepare a validated panel (or a DataFrame, validated here) for ``spec``.

        Parameters
        ----------
        panel
            A :class:`~mixlens.data.schemas.MediaPanel`, or a wide weekly DataFrame with
            ``date``, the target, ``{channel}_spend`` for each of the spec's channels and
            the spec's controls.
        spec
            The model specification.
        reference
            The data a model was fitted on, to prepare other weeks (e.g. a holdout) on
            its scales: its outcome and media scales, control standardization, holiday
            columns, its trend continued week by week from its first date, and its
            baseline knots (held flat beyond them).
        geo
            Whether the panel is the national total of a geo panel (``spec.time_knots``
            ``"auto"`` then resolves to the geo rule, see :mod:`mixlens.mmm.knots`).

        Raises
        ------
        DataError
            If a needed column is missing, the panel has a ``geo`` column (geo models are
            not supported yet), a channel never spends, a channel's impressions or clicks
            (when it is modelled on them) are missing, negative or never positive, the
            target's mean is not positive, or a control is constant.
        """
        if isinstance(panel, pd.DataFrame):
            panel = MediaPanel.from_frame(panel, target=spec.target, controls=spec.controls)
        source = panel.source
        if panel.geo is not None:
            raise DataError(
                "geo panels are not supported by the MMM yet; aggregate to national weeks",
                file=source,
                column=panel.geo,
            )
        frame = panel.frame
        missing = [f"{c}_spend" for c in spec.channels if f"{c}_spend" not in frame.columns]
        missing += [c for c in (spec.target, *spec.controls) if c not in frame.columns]
        if missing:
            raise DataError(f"missing columns {', '.join(missing)}", file=source)
        dates = pd.DatetimeIndex(pd.to_datetime(frame["date"]), name="date").as_unit("ns")
        y = frame[spec.target].to_numpy(dtype=np.float64)
        y_scale = float(np.mean(y))
        if not np.isfinite(y_scale) or y_scale <= 0:
            raise DataError("the target's mean must be positive", file=source, column=spec.target)
        spend = np.column_stack([frame[f"{c}_spend"].to_numpy(np.float64) for c in spec.channels])
        media_scale = np.empty(len(spec.channels))
        for i, channel in enumerate(spec.channels):
            positive = spend[:, i][spend[:, i] > 0]
            if positive.size == 0:
                raise DataError(
                    f"channel {channel!r} has no spend; drop it from the model",
                    file=source,
                    column=f"{channel}_spend",
                )
            media_scale[i] = positive.mean()
        inputs = resolve_media_input(spec, frame)
        units = spend.copy()
        cost_per_unit = np.ones(len(spec.channels))
        for i, (channel, kind) in enumerate(zip(spec.channels, inputs, strict=True)):
            if kind == "spend":
                continue
            units[:, i] = _units(frame, channel, kind, spend[:, i], source)
            cost_per_unit[i] = spend[:, i].sum() / units[:, i].sum()
            equivalent = units[:, i] * cost_per_unit[i]
            media_scale[i] = equivalent[equivalent > 0].mean()
        on_spend = all(kind == "spend" for kind in inputs)
        control = np.column_stack(
            [frame[c].to_numpy(np.float64) for c in spec.controls] or [np.zeros((len(frame), 0))]
        )
        control_mean = control.mean(axis=0)
        control_std = control.std(axis=0)
        for name, std in zip(spec.controls, control_std, strict=True):
            if not std > 0:
                raise DataError("control is constant; drop it", file=source, column=name)
        n = len(dates)
        trend = (np.arange(n, dtype=np.float64) - (n - 1) / 2) / max(n - 1, 1)
        fourier, terms = _fourier(dates, spec.yearly_fourier)
        if spec.holidays:
            hol = weekly_holiday_frame(dates)
            hol = hol.loc[:, hol.std(axis=0) > 0]
            if reference is not None:
                hol = weekly_holiday_frame(dates).reindex(
                    columns=list(reference.holidays), fill_value=0
                )
            holiday = hol.to_numpy(np.float64)
            holidays = tuple(str(c) for c in hol.columns)
        else:
            holiday, holidays = np.zeros((n, 0)), ()
        positions = knot_positions(n, resolve_time_knots(spec.time_knots, n, geo=geo))
        week = np.arange(n, dtype=np.float64)
        if reference is not None:
            n_ref = reference.n_weeks
            week = np.asarray((dates - reference.dates[0]).days, dtype=np.float64) / 7.0
            trend = (week - (n_ref - 1) / 2) / max(n_ref - 1, 1)
            positions = reference.knot_weeks
            y_scale, media_scale = reference.y_scale, reference.media_scale
            control_mean, control_std = reference.control_mean, reference.control_std
            if reference.media_inputs != inputs:
                raise DataError(
                    f"media inputs {inputs} differ from the fitted model's "
                    f"{reference.media_inputs}",
                    file=source,
                )
            if reference.cost_per_unit is not None:
                cost_per_unit = reference.cost_per_unit
        return cls(
            dates=dates,
            channels=spec.channels,
            controls=spec.controls,
            holidays=holidays,
            fourier_terms=terms,
            target=spec.target,
            y=y,
            y_scale=y_scale,
            spend=spend,
            media_scale=media_scale,
            trend=trend if spec.trend else np.zeros(n),
            fourier=fourier,
            holiday=holiday,
            control=control,
            control_mean=control_mean,
            control_std=control_std,
            knot_weeks=positions,
            knot_weights=knot_weights(week, positions),
            media_input=inputs,
            media_units=None if on_spend else units,
            cost_per_unit=None if on_spend else cost_per_unit,
        )

    def to_dataset(self) -> xr.Dataset:
        """Return the data as an xarray Dataset with ``date, channel, control, ...`` coords."""
        coords = {
            "date": self.dates.to_numpy(),
            "channel": list(self.channels),
            "control": list(self.controls),
            "holiday": list(self.holidays),
            "fourier": list(self.fourier_terms),
            "knot": np.arange(self.n_knots),
        }
        ds = xr.Dataset(
            {
                "y": ("date", self.y),
                "spend": (("date", "channel"), self.spend),
                "media_scale": ("channel", self.media_scale),
                "trend_feature": ("date", self.trend),
                "fourier_features": (("date", "fourier"), self.fourier),
                "holiday_features": (("date", "holiday"), self.holiday),
                "control_data": (("date", "control"), self.control),
                "control_mean": ("control", self.control_mean),
                "control_std": ("control", self.control_std),
                "knot_weeks": ("knot", self.knot_weeks),
                "knot_weights": (("date", "knot"), self.knot_weights),
            },
            coords=coords,
        )
        ds["media_input"] = ("channel", np.array(self.media_inputs, dtype=object).astype(str))
        if self.media_units is not None and self.cost_per_unit is not None:
            ds["media_units"] = (("date", "channel"), self.media_units)
            ds["cost_per_unit"] = ("channel", self.cost_per_unit)
        ds.attrs["target"] = self.target
        ds.attrs["y_scale"] = self.y_scale
        return ds

    @classmethod
    def from_dataset(cls, ds: xr.Dataset) -> MMMData:
        """Inverse of :meth:`to_dataset`."""

        def arr(name: str) -> FloatArray:
            return np.asarray(ds[name].values, dtype=np.float64)

        def labels(dim: str) -> tuple[str, ...]:
            return tuple(str(v) for v in ds[dim].values) if dim in ds.coords else ()

        n_weeks = ds.sizes["date"]
        # posteriors saved before the media input existed modelled spend
        stored = ds["media_input"].values if "media_input" in ds else ()
        inputs = tuple(_media_input(str(v)) for v in stored)
        units = arr("media_units").reshape(n_weeks, -1) if "media_units" in ds else None
        cost = arr("cost_per_unit") if "cost_per_unit" in ds else None
        knots = arr("knot_weeks") if "knot_weeks" in ds else np.zeros(0)
        weights = (
            arr("knot_weights").reshape(n_weeks, -1)
            if "knot_weights" in ds
            else np.zeros((n_weeks, 0))
        )
        return cls(
            dates=pd.DatetimeIndex(ds["date"].values, name="date").as_unit("ns"),
            channels=labels("channel"),
            controls=labels("control"),
            holidays=labels("holiday"),
            fourier_terms=labels("fourier"),
            target=str(ds.attrs["target"]),
            y=arr("y"),
            y_scale=float(ds.attrs["y_scale"]),
            spend=arr("spend").reshape(ds.sizes["date"], -1),
            media_scale=arr("media_scale"),
            trend=arr("trend_feature"),
            fourier=arr("fourier_features").reshape(ds.sizes["date"], -1),
            holiday=arr("holiday_features").reshape(ds.sizes["date"], -1),
            control=arr("control_data").reshape(ds.sizes["date"], -1),
            control_mean=arr("control_mean"),
            control_std=arr("control_std"),
            knot_weeks=knots,
            knot_weights=weights,
            media_input=inputs,
            media_units=units,
            cost_per_unit=cost,
        )


def _media_input(value: str) -> MediaInput:
    """Check a stored media input label."""
    for kind in MEDIA_INPUTS:
        if value == kind:
            return kind
    raise DataError(f"unknown media input {value!r} in posterior.nc")
