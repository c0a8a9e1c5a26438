"""Model inputs of the geo MMM: a geo panel as scaled arrays plus the shared baseline design.

Scales (so the national model's default priors hold in every geo, whatever its size):

* each geo's outcome is divided by its own mean (``y_scale[g]``);
* each geo's media on a channel (spend, or impressions or clicks converted to spend at the
  geo's cost per unit over the fitted weeks, see :mod:`mixlens.mmm.data`) is divided by
  its mean over that geo's weeks with media (``media_scale[g, c]``, Meridian scales media
  per geo too), so one Hill curve in scaled units is shared by all geos;
* controls are standardized over all geo-weeks.

:meth:`GeoMMMData.geo` returns one geo as a national :class:`~mixlens.mmm.data.MMMData`,
so the national engine evaluates each geo's contributions and ROI.

:func:`redundant_time_terms` names the shared time terms (trend, seasonality, holidays)
that the time-varying baseline's knots span, and :func:`identified_spec` drops them: a
term in the knots' span has no effect of its own in the likelihood, only a ridge along
which the knots and it trade off (poor mixing). The linear trend lies in the span of any
knots; with one knot per week (the geo default) every shared weekly term does, as in
Meridian, which drops them then.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import cast

import numpy as np
import pandas as pd
import xarray as xr
from numpy.typing import NDArray

from mixlens.data.geo_panel import GeoPanel
from mixlens.data.schemas import GEO
from mixlens.errors import DataError
from mixlens.mmm.data import MMMData, resolve_media_input
from mixlens.mmm.knots import spans
from mixlens.mmm.spec import MediaInput, MediaInputSetting, MMMSpec

__all__ = ["SHARED_TIME_TERMS", "GeoMMMData", "identified_spec", "redundant_time_terms"]

#: The shared time terms of the baseline, as named in a summary's ``dropped`` list.
SHARED_TIME_TERMS = ("trend", "fourier", "holiday")

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class GeoMMMData:
    """A geo panel prepared for the geo MMM.

    Attributes
    ----------
    geos
        Geo labels.
    base
        The shared design as a national :class:`MMMData` over the summed panel: dates,
        labels, trend, Fourier and holiday features, control standardization.
    y
        Outcome per week and geo, shape ``(n_weeks, n_geos)``.
    y_scale
        Mean outcome per geo, shape ``(n_geos,)``.
    spend
        Spend, shape ``(n_weeks, n_geos, n_channels)``.
    media_scale
        Mean positive weekly spend-equivalent media per geo and channel (1 where a geo
        has none on a channel), shape ``(n_geos, n_channels)``.
    control
        Controls in their own units, shape ``(n_weeks, n_geos, n_controls)``.
    media_units
        Media in their own units (impressions, clicks or spend, by
        ``base.media_inputs``), shape ``(n_weeks, n_geos, n_channels)``; None when every
        channel is on spend.
    cost_per_unit
        Spend per media unit over the fitted weeks, per geo and channel (the channel's
        cost over all geos where a geo lacks spend or units; 1 on spend), shape
        ``(n_geos, n_channels)``; None when every channel is on spend.
    """

    geos: tuple[str, ...]
    base: MMMData
    y: FloatArray
    y_scale: FloatArray
    spend: FloatArray
    media_scale: FloatArray
    control: FloatArray
    media_units: FloatArray | None = None
    cost_per_unit: FloatArray | None = None

    @property
    def n_geos(self) -> int:
        """Number of geos."""
        return len(self.geos)

    @property
    def spend_equivalent(self) -> FloatArray:
        """Media in spend units, shape ``(n_weeks, n_geos, n_channels)`` (spend on spend)."""
        if self.media_units is None or self.cost_per_unit is None:
            return self.spend
        on_spend = np.array([m == "spend" for m in self.base.media_inputs])
        out: FloatArray = np.where(
            on_spend[None, None, :], self.spend, self.media_units * self.cost_per_unit[None]
        )
        return out

    @property
    def media(self) -> FloatArray:
        """Scaled media, shape ``(n_weeks, n_geos, n_channels)``."""
        out: FloatArray = self.spend_equivalent / self.media_scale[None, :, :]
        return out

    @property
    def control_z(self) -> FloatArray:
        """Standardized controls, shape ``(n_weeks, n_geos, n_controls)``."""
        out: FloatArray = (self.control - self.base.control_mean) / self.base.control_std
        return out

    @property
    def reference_roi(self) -> float:
        """``sum(y) / sum(spend)`` over all geos: the unit of the ``roi`` prior."""
        return float(self.y.sum() / self.spend.sum())

    def geo(self, index: int) -> MMMData:
        """Geo ``index`` as national model data on the geo's own scales."""
        b = self.base
        return MMMData(
            dates=b.dates,
            channels=b.channels,
            controls=b.controls,
            holidays=b.holidays,
            fourier_terms=b.fourier_terms,
            target=b.target,
            y=self.y[:, index],
            y_scale=float(self.y_scale[index]),
            spend=self.spend[:, index, :],
            media_scale=self.media_scale[index],
            trend=b.trend,
            fourier=b.fourier,
            holiday=b.holiday,
            control=self.control[:, index, :],
            control_mean=b.control_mean,
            control_std=b.control_std,
            knot_weeks=b.knot_weeks,
            knot_weights=b.knot_weights,
            media_input=b.media_input,
            media_units=None if self.media_units is None else self.media_units[:, index, :],
            cost_per_unit=None if self.cost_per_unit is None else self.cost_per_unit[index],
        )

    @classmethod
    def from_panel(
        cls, panel: GeoPanel, spec: MMMSpec, *, reference: GeoMMMData | None = None
    ) -> GeoMMMData:
        """Prepare a validated geo panel for ``spec`` (channels and controls must match).

        Parameters
        ----------
        panel
            The validated geo panel.
        spec
            The model specification.
        reference
            The data a model was fitted on, to prepare other weeks (e.g. a holdout) on its
            scales: per-geo outcome and media scales, control standardization and the
            base's trend and holidays (see :meth:`MMMData.from_panel`); the geos are put
            in the reference's order.

        Raises
        ------
        ValueError
            If the panel's channels or controls differ from the spec's.
        DataError
            If ``reference`` is given and the panel's geos differ from its geos, or a
            channel's impressions or clicks (when it is modelled on them) are missing,
            negative, or absent in a geo that spends on the channel.
        """
        if panel.channels != spec.channels or panel.controls != spec.controls:
            raise ValueError("the geo panel's channels or controls differ from the spec's")
        inputs = _geo_media_inputs(panel, spec)
        spec = replace(spec, media_input=cast(dict[str, MediaInputSetting], dict(inputs)))
        y, spend, control = panel.y, panel.spend, panel.control
        units = _geo_units(panel, [m for _, m in inputs])
        if reference is not None:
            if set(panel.geos) != set(reference.geos):
                raise DataError(
                    f"the panel's geos ({', '.join(panel.geos)}) differ from the fitted "
                    f"model's ({', '.join(reference.geos)})",
                    file=panel.source,
                    column=GEO,
                )
            order = [panel.geos.index(g) for g in reference.geos]
            y, spend, control = y[:, order], spend[:, order], control[:, order]
            national = _national(panel, units, inputs)
            base = MMMData.from_panel(national, spec, reference=reference.base, geo=True)
            return cls(
                geos=reference.geos,
                base=base,
                y=y,
                y_scale=reference.y_scale,
                spend=spend,
                media_scale=reference.media_scale,
                control=control,
                media_units=None if units is None else units[:, order],
                cost_per_unit=reference.cost_per_unit,
            )
        base = MMMData.from_panel(_national(panel, units, inputs), spec, geo=True)
        if spec.controls:
            flat = control.reshape(-1, len(spec.controls))
            base = _with_controls(base, flat.mean(axis=0), flat.std(axis=0))
        cost = None if units is None else _geo_cost_per_unit(spend, units, base)
        equivalent = spend if units is None or cost is None else units * cost[None]
        equivalent = np.where(
            np.array([m == "spend" for _, m in inputs])[None, None, :], spend, equivalent
        )
        media_scale = np.ones(spend.shape[1:])
        counts = (equivalent > 0).sum(axis=0)
        np.divide(equivalent.sum(axis=0), counts, out=media_scale, where=counts > 0)
        return cls(
            geos=panel.geos,
            base=base,
            y=y,
            y_scale=y.mean(axis=0),
            spend=spend,
            media_scale=media_scale,
            control=control,
            media_units=units,
            cost_per_unit=cost,
        )

    def to_dataset(self) -> xr.Dataset:
        """Return the data as an xarray Dataset (the base's variables plus geo arrays)."""
        ds = self.base.to_dataset()
        ds = ds.assign_coords(geo=list(self.geos))
        ds["geo_y"] = (("date", "geo"), self.y)
        ds["geo_y_scale"] = ("geo", self.y_scale)
        ds["geo_spend"] = (("date", "geo", "channel"), self.spend)
        ds["geo_media_scale"] = (("geo", "channel"), self.media_scale)
        ds["geo_control"] = (("date", "geo", "control"), self.control)
        if self.media_units is not None and self.cost_per_unit is not None:
            ds["geo_media_units"] = (("date", "geo", "channel"), self.media_units)
            ds["geo_cost_per_unit"] = (("geo", "channel"), self.cost_per_unit)
        return ds

    @classmethod
    def from_dataset(cls, ds: xr.Dataset) -> GeoMMMData:
        """Inverse of :meth:`to_dataset`."""
        base = MMMData.from_dataset(ds)
        n_weeks, n_geos = ds.sizes["date"], ds.sizes["geo"]
        units, cost = None, None
        if "geo_media_units" in ds and "geo_cost_per_unit" in ds:
            units = np.asarray(ds["geo_media_units"].values, dtype=np.float64)
            units = units.reshape(n_weeks, n_geos, -1)
            cost = np.asarray(ds["geo_cost_per_unit"].values, dtype=np.float64)
            cost = cost.reshape(n_geos, -1)
        return cls(
            geos=tuple(str(g) for g in ds["geo"].values),
            base=base,
            y=np.asarray(ds["geo_y"].values, dtype=np.float64),
            y_scale=np.asarray(ds["geo_y_scale"].values, dtype=np.float64),
            spend=np.asarray(ds["geo_spend"].values, dtype=np.float64).reshape(n_weeks, n_geos, -1),
            media_scale=np.asarray(ds["geo_media_scale"].values, dtype=np.float64).reshape(
                n_geos, -1
            ),
            control=np.asarray(ds["geo_control"].values, dtype=np.float64).reshape(
                n_weeks, n_geos, -1
            ),
            media_units=units,
            cost_per_unit=cost,
        )

    @property
    def weeks(self) -> pd.DatetimeIndex:
        """The weeks."""
        return self.base.dates


def _geo_media_inputs(panel: GeoPanel, spec: MMMSpec) -> tuple[tuple[str, MediaInput], ...]:
    """Resolve the media inputs on the long panel; ``"auto"`` also needs units in every geo.

    A channel set to ``"auto"`` whose impressions are zero in a geo that spends on it is
    modelled on spend (its geo's media would otherwise vanish).
    """
    frame = panel.panel.frame
    resolved = resolve_media_input(spec, frame)
    out: list[tuple[str, MediaInput]] = []
    for i, (channel, kind) in enumerate(zip(spec.channels, resolved, strict=True)):
        if kind != "spend" and spec.channel_media_input(channel) == "auto":
            column = frame[f"{channel}_{kind}"].to_numpy(np.float64)
            values = column.reshape(panel.spend.shape[1], -1).T
            if np.any((values.sum(axis=0) <= 0) & (panel.spend[:, :, i].sum(axis=0) > 0)):
                kind = "spend"
        out.append((channel, kind))
    return tuple(out)


def _geo_units(panel: GeoPanel, inputs: list[MediaInput]) -> FloatArray | None:
    """Media units ``(n_weeks, n_geos, n_channels)`` (spend where on spend); None if all spend.

    Raises
    ------
    DataError
        If a units column is missing or has a missing or negative value, or a geo that
        spends on a channel has none of its units.
    """
    if all(kind == "spend" for kind in inputs):
        return None
    frame = panel.panel.frame
    n_weeks, n_geos = panel.y.shape
    units = panel.spend.copy()
    for i, (channel, kind) in enumerate(zip(panel.channels, inputs, strict=True)):
        if kind == "spend":
            continue
        column = f"{channel}_{kind}"
        if column not in frame.columns:
            raise DataError(
                f"channel {channel!r} is modelled on {kind} but the panel has no {column!r} "
                "column; add it or use media input 'spend'",
                file=panel.source,
                column=column,
            )
        values = frame[column].to_numpy(np.float64).reshape(n_geos, n_weeks).T
        bad = ~np.isfinite(values) | (values < 0)
        if bad.any():
            week, geo = (int(v[0]) for v in np.nonzero(bad))
            raise DataError(
                f"{kind} must be present and non-negative in every week to model {channel!r} "
                "on them",
                file=panel.source,
                column=column,
                row=int(panel.rows[week, geo]),
            )
        lacking = (values.sum(axis=0) <= 0) & (panel.spend[:, :, i].sum(axis=0) > 0)
        if lacking.any():
            name = panel.geos[int(np.flatnonzero(lacking)[0])]
            raise DataError(
                f"geo {name!r} spends on {channel!r} but has no {kind}; use media input 'spend'",
                file=panel.source,
                column=column,
            )
        units[:, :, i] = values
    return units


def _national(
    panel: GeoPanel, units: FloatArray | None, inputs: tuple[tuple[str, MediaInput], ...]
) -> pd.DataFrame:
    """Return the panel summed over geos, with the units columns of channels not on spend."""
    frame = panel.national()
    if units is not None:
        for i, (channel, kind) in enumerate(inputs):
            if kind != "spend":
                frame[f"{channel}_{kind}"] = units[:, :, i].sum(axis=1)
    return frame


def _geo_cost_per_unit(spend: FloatArray, units: FloatArray, base: MMMData) -> FloatArray:
    """Spend per unit per geo and channel; the national cost where a geo lacks either."""
    national = base.cost_per_unit if base.cost_per_unit is not None else np.ones(spend.shape[2])
    totals, amounts = spend.sum(axis=0), units.sum(axis=0)  # (G, C)
    both = (totals > 0) & (amounts > 0)
    out: FloatArray = np.where(
        both, totals / np.where(both, amounts, 1.0), np.broadcast_to(national, totals.shape)
    )
    return out


def _with_controls(base: MMMData, mean: FloatArray, std: FloatArray) -> MMMData:
    """Return ``base`` with the controls' standardization taken over all geo-weeks."""
    if not base.controls:
        return base
    return replace(base, control_mean=mean, control_std=std)


def redundant_time_terms(base: MMMData, spec: MMMSpec) -> tuple[str, ...]:
    """Name the shared time terms of ``spec`` on ``base`` that its baseline knots span.

    Names from :data:`SHARED_TIME_TERMS`, in that order: ``trend`` if the spec has a
    trend, ``fourier`` if there are seasonality terms, ``holiday`` if there are holiday
    columns, each only when all of its columns lie in the span of the knots'
    interpolation design (:func:`mixlens.mmm.knots.spans`). Empty without knots.
    """
    weights = base.knot_weights
    if not base.n_knots:
        return ()
    candidates = {
        "trend": (spec.trend, base.trend),
        "fourier": (bool(base.fourier_terms), base.fourier),
        "holiday": (bool(base.holidays), base.holiday),
    }
    return tuple(
        name
        for name, (present, features) in candidates.items()
        if present and spans(weights, features)
    )


def identified_spec(spec: MMMSpec, dropped: tuple[str, ...]) -> MMMSpec:
    """``spec`` without the shared time terms named in ``dropped`` (see above)."""
    unknown = set(dropped) - set(SHARED_TIME_TERMS)
    if unknown:
        raise ValueError(f"unknown time terms {sorted(unknown)}; known: {SHARED_TIME_TERMS}")
    return replace(
        spec,
        trend=spec.trend and "trend" not in dropped,
        yearly_fourier=0 if "fourier" in dropped else spec.yearly_fourier,
        holidays=spec.holidays and "holiday" not in dropped,
    )
