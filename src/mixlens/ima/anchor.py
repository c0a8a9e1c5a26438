"""The MMM's posterior as IMA's anchor: weekly kernels and channel contribution draws.

A ``mixlens mmm fit`` run directory holds the posterior (``posterior.nc``). IMA uses two
things from it beyond the posterior-mean tables:

* the **posterior-mean adstock kernel** of each channel on the MMM's own scale: adstock
  is linear in media, so the posterior-mean contribution's carryover is that of the mean
  *kernel*, not of the kernel at the mean parameters (they differ in the tails);
* **draws of each channel's weekly contribution**, so the campaign intervals carry the
  MMM's own uncertainty, not only the campaign regression's
  (see :func:`mixlens.ima.fit.fit_ima`).

A geo MMM's run directory (``mixlens mmm fit`` on a panel with a ``geo`` column) gives
the same per geo (:func:`read_geo_mmm_posterior`): the geo model shares its adstock
across geos, so one posterior-mean kernel per channel, and each geo's contribution
draws, evaluated by the geo model's own engine (:meth:`mixlens.mmm.geo.GeoMMMResult.engine`)
one chunk of draws at a time. Draw ``i`` of every geo is the same joint posterior draw,
so sums over geos taken draw by draw carry the geos' correlation.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray

__all__ = ["GeoMMMPosterior", "MMMPosterior", "read_geo_mmm_posterior", "read_mmm_posterior"]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class MMMPosterior:
    """What IMA takes from an MMM posterior, per channel.

    Parameters
    ----------
    kernels
        Posterior-mean adstock kernel, shape ``(l_max,)``, lags in MMM periods
        (normalised: sums to one).
    draws
        Draws of the channel's contribution per period, shape ``(n_draws, n_periods)``,
        target units, periods in date order.
    """

    kernels: dict[str, FloatArray]
    draws: dict[str, FloatArray]

    @property
    def n_draws(self) -> int:
        """Number of contribution draws (``0`` if none)."""
        return min((d.shape[0] for d in self.draws.values()), default=0)


@dataclass(frozen=True, eq=False)
class GeoMMMPosterior:
    """What IMA takes from a geo MMM's posterior, per geo.

    Parameters
    ----------
    by_geo
        Geo -> its :class:`MMMPosterior`: the kernels (the same in every geo: the geo
        model shares adstock across geos) and the geo's contribution draws; draw ``i``
        of every geo and channel is the same joint posterior draw.
    dates
        First day of each MMM period (the draws' columns).
    """

    by_geo: dict[str, MMMPosterior]
    dates: pd.DatetimeIndex

    @property
    def kernels(self) -> dict[str, FloatArray]:
        """Posterior-mean kernel per channel (shared by the geos)."""
        return next(iter(self.by_geo.values())).kernels if self.by_geo else {}

    @property
    def n_draws(self) -> int:
        """Number of contribution draws (``0`` if none)."""
        return min((p.n_draws for p in self.by_geo.values()), default=0)


def _thinned(n_total: int, max_draws: int) -> NDArray[np.int64]:
    """At most ``max_draws`` evenly spaced indices of ``n_total`` draws.

    Examples
    --------
    >>> _thinned(10, 4).tolist()
    [0, 3, 6, 9]
    >>> _thinned(3, 400).tolist()
    [0, 1, 2]
    """
    if max_draws < 1:
        raise ValueError(f"max_draws must be >= 1, got {max_draws}")
    count = min(max_draws, n_total)
    keep: NDArray[np.int64] = np.unique(np.linspace(0, n_total - 1, count).round().astype(np.int64))
    return keep


def read_mmm_posterior(mmm_dir: str | Path, *, max_draws: int = 400) -> MMMPosterior:
    """Read kernels and contribution draws from a ``mixlens mmm fit`` directory.

    Parameters
    ----------
    mmm_dir
        The MMM run directory (with ``posterior.nc`` and ``spec.json``).
    max_draws
        At most this many draws are kept (evenly thinned), to bound memory.

    Returns
    -------
    MMMPosterior
        Per channel, the posterior-mean kernel and the contribution draws.

    Raises
    ------
    DataError
        If the posterior cannot be read (see :meth:`mixlens.mmm.results.MMMResult.load`).
    """
    from mixlens.mmm._engine import Engine
    from mixlens.mmm.channel_transforms import stack_draws
    from mixlens.mmm.results import MMMResult

    result = MMMResult.load(mmm_dir)
    spec = result.spec
    names = [*spec.channel_parameters, "beta"]
    params = stack_draws(result.idata["posterior"], names, spec)  # (S, C) each
    keep = _thinned(params["beta"].shape[0], max_draws)
    params = {k: v[keep] for k, v in params.items()}
    kernel_params = {k: params[k] for k in spec.adstocks.parameters}
    weights = np.asarray(spec.adstocks.np_weights(kernel_params), dtype=np.float64)
    mean_kernel = weights.mean(axis=1)  # (l_max, C)
    engine = Engine(spec, result.data, params)
    contrib = engine.channels(slice(0, keep.size), slice(0, result.data.n_weeks))  # (S, T, C)
    channels = [str(c) for c in spec.channels]
    return MMMPosterior(
        kernels={c: mean_kernel[:, i] / mean_kernel[:, i].sum() for i, c in enumerate(channels)},
        draws={c: np.ascontiguousarray(contrib[:, :, i]) for i, c in enumerate(channels)},
    )


def read_geo_mmm_posterior(
    mmm_dir: str | Path, *, max_draws: int = 400, chunk_size: int = 64
) -> GeoMMMPosterior:
    """Read kernels and per-geo contribution draws from a geo ``mixlens mmm fit`` directory.

    Each geo's channel contributions are evaluated by the geo model's own engine
    (:meth:`mixlens.mmm.geo.GeoMMMResult.engine`: the national chunked engine on the
    geo's parameters and scales, what ``contributions.csv`` was written from), on at
    most ``max_draws`` evenly thinned draws, ``chunk_size`` draws at a time: beside the
    posterior itself, memory holds ``max_draws * n_periods`` numbers per geo and
    channel plus one chunk.

    Parameters
    ----------
    mmm_dir
        The geo MMM run directory (with ``posterior.nc`` and ``spec.json``).
    max_draws
        At most this many draws are kept (evenly thinned), the same draws in every geo.
    chunk_size
        Draws evaluated at a time (results do not depend on it).

    Returns
    -------
    GeoMMMPosterior
        Per geo, the shared posterior-mean kernels and the geo's contribution draws
        ``(n_draws, n_periods)``, target units.

    Raises
    ------
    DataError
        If the directory holds no geo MMM (see :meth:`mixlens.mmm.geo.GeoMMMResult.load`).
    """
    from mixlens.mmm.geo import GeoMMMResult

    result = GeoMMMResult.load(mmm_dir)
    spec = result.spec
    keep = _thinned(result.n_samples, max_draws)
    channels = [str(c) for c in spec.channels]
    n_weeks = result.data.base.n_weeks
    by_geo: dict[str, MMMPosterior] = {}
    kernels: dict[str, FloatArray] = {}
    for g, geo in enumerate(result.geos):
        full = result.engine(g)
        engine = replace(
            full, params={k: v[keep] for k, v in full.params.items()}, chunk_size=chunk_size
        )
        if not kernels:
            weights = spec.adstocks.np_weights(
                {p: engine.params[p] for p in spec.adstocks.parameters}
            )
            mean_kernel = np.asarray(weights, dtype=np.float64).mean(axis=1)  # (l_max, C)
            kernels = {
                c: mean_kernel[:, i] / mean_kernel[:, i].sum() for i, c in enumerate(channels)
            }
        draws = np.empty((len(channels), keep.size, n_weeks))
        for chunk in engine.draw_chunks():
            contrib = engine.channels(chunk, slice(0, n_weeks))  # (s, T, C)
            draws[:, chunk, :] = np.moveaxis(contrib, 2, 0)
        by_geo[str(geo)] = MMMPosterior(
            kernels=kernels, draws={c: draws[i] for i, c in enumerate(channels)}
        )
    return GeoMMMPosterior(by_geo=by_geo, dates=pd.DatetimeIndex(result.data.base.dates))
