"""Model inputs of the geo MMM: a geo panel as scaled arrays plus the shared baseline design.

Scales (so the national model's default priors hold in every geo, whatever its size):

* each geo's outcome is divided by its own mean (``y_scale[g]``);
* each geo's spend on a channel is divided by its mean over that geo's weeks with spend
  (``media_scale[g, c]``, Meridian scales media per geo too), so one Hill curve in
  scaled units is shared by all geos;
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

import numpy as np
import pandas as pd
import xarray as xr
from numpy.typing import NDArray

from mixlens.data.geo_panel import GeoPanel
from mixlens.data.schemas import GEO
from mixlens.errors import DataError
from mixlens.mmm.data import MMMData
from mixlens.mmm.knots import spans
from mixlens.mmm.spec import MMMSpec

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
        Mean positive weekly spend per geo and channel (1 where a geo never spends on a
        channel), shape ``(n_geos, n_channels)``.
    control
        Controls in their own units, shape ``(n_weeks, n_geos, n_controls)``.
    """

    geos: tuple[str, ...]
    base: MMMData
    y: FloatArray
    y_scale: FloatArray
    spend: FloatArray
    media_scale: FloatArray
    control: FloatArray

    @property
    def n_geos(self) -> int:
        """Number of geos."""
        return len(self.geos)

    @property
    def media(self) -> FloatArray:
        """Scaled spend, shape ``(n_weeks, n_geos, n_channels)``."""
        out: FloatArray = self.spend / self.media_scale[None, :, :]
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
            If ``reference`` is given and the panel's geos differ from its geos.
        """
        if panel.channels != spec.channels or panel.controls != spec.controls:
            raise ValueError("the geo panel's channels or controls differ from the spec's")
        y, spend, control = panel.y, panel.spend, panel.control
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
            base = MMMData.from_panel(panel.national(), spec, reference=reference.base, geo=True)
            return cls(
                geos=reference.geos,
                base=base,
                y=y,
                y_scale=reference.y_scale,
                spend=spend,
                media_scale=reference.media_scale,
                control=control,
            )
        base = MMMData.from_panel(panel.national(), spec, geo=True)
        if spec.controls:
            flat = control.reshape(-1, len(spec.controls))
            base = _with_controls(base, flat.mean(axis=0), flat.std(axis=0))
        media_scale = np.ones(spend.shape[1:])
        positive = spend > 0
        counts = positive.sum(axis=0)
        sums = spend.sum(axis=0)
        np.divide(sums, counts, out=media_scale, where=counts > 0)
        return cls(
            geos=panel.geos,
            base=base,
            y=y,
            y_scale=y.mean(axis=0),
            spend=spend,
            media_scale=media_scale,
            control=control,
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
        return ds

    @classmethod
    def from_dataset(cls, ds: xr.Dataset) -> GeoMMMData:
        """Inverse of :meth:`to_dataset`."""
        base = MMMData.from_dataset(ds)
        n_weeks, n_geos = ds.sizes["date"], ds.sizes["geo"]
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
        )

    @property
    def weeks(self) -> pd.DatetimeIndex:
        """The weeks."""
        return self.base.dates


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
