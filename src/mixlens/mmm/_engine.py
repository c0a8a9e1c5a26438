"""Numeric evaluation of the fitted MMM over posterior draws, in bounded chunks.

Everything is numpy (the transforms' numpy twins). Draws are flattened to one
``sample`` axis of length ``S = chains * draws``. Two ways of chunking keep memory flat:

* per-draw totals (ROI, marginal ROI) loop over chunks of draws, each covering every
  week and channel;
* per-week quantiles (contribution intervals) loop over blocks of weeks, each covering
  every draw, with ``l_max - 1`` weeks of history for the adstock.

Either way a chunk holds about ``chunk_size * n_weeks * n_channels`` numbers, whatever
the number of draws.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from mixlens.mmm.data import MMMData
from mixlens.mmm.spec import MMMSpec
from mixlens.transforms.adstock import adstock

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class Engine:
    """Evaluate components of the fitted model for slices of draws and weeks.

    Parameters
    ----------
    spec, data
        The model's spec and data.
    params
        Posterior parameter arrays keyed by variable name, with the flattened draws first:
        ``(S, n_channels)`` for channel parameters (NaN for channels without the parameter,
        see :func:`mixlens.mmm.channel_transforms.stack_draws`), ``(S,)`` for scalars,
        ``(S, k)`` for coefficient vectors.
    chunk_size
        Draws per chunk for full-window computations (bounds memory).
    """

    spec: MMMSpec
    data: MMMData
    params: Mapping[str, FloatArray]
    chunk_size: int = 256

    @property
    def n_samples(self) -> int:
        """Number of flattened draws ``S``."""
        return int(next(iter(self.params.values())).shape[0])

    def draw_chunks(self) -> Iterator[slice]:
        """Slices of draws of at most ``chunk_size``."""
        size = max(1, self.chunk_size)
        for start in range(0, self.n_samples, size):
            yield slice(start, min(start + size, self.n_samples))

    def week_blocks(self) -> Iterator[slice]:
        """Slices of weeks such that a block over all draws stays within one draw chunk."""
        size = max(1, (max(1, self.chunk_size) * self.data.n_weeks) // max(1, self.n_samples))
        for start in range(0, self.data.n_weeks, size):
            yield slice(start, min(start + size, self.data.n_weeks))

    def _channel_params(self, names: tuple[str, ...], draws: slice) -> dict[str, FloatArray]:
        return {name: self.params[name][draws] for name in names}

    def adstocked(self, draws: slice, weeks: slice) -> FloatArray:
        """Scaled adstocked media, shape ``(s, n_block_weeks, n_channels)``."""
        l_max = self.spec.adstocks.l_max
        first = max(0, weeks.start - (l_max - 1))
        x = self.data.media[first : weeks.stop]  # (b + history, C)
        weights = self.spec.adstocks.np_weights(
            self._channel_params(self.spec.adstocks.parameters, draws)
        )  # (l_max, s, C)
        s = weights.shape[1]
        xs = np.broadcast_to(x[:, None, :], (x.shape[0], s, x.shape[1]))
        y = adstock(xs, weights, axis=0)[weeks.start - first :]  # (b, s, C)
        return np.ascontiguousarray(np.moveaxis(y, 1, 0))

    def channels(self, draws: slice, weeks: slice) -> FloatArray:
        """Channel contributions in target units, shape ``(s, n_block_weeks, n_channels)``."""
        x = self.adstocked(draws, weeks)
        sat = self.spec.saturations.np_apply(x, self._saturation_params(draws))
        out: FloatArray = sat * (self.params["beta"][draws][:, None, :] * self.data.y_scale)
        return out

    def _saturation_params(self, draws: slice) -> dict[str, FloatArray]:
        return {
            k: v[:, None, :]
            for k, v in self._channel_params(self.spec.saturations.parameters, draws).items()
        }

    def baseline(self, draws: slice, weeks: slice) -> FloatArray:
        """Intercept, trend, knots, seasonality, holidays in target units, ``(s, n_weeks)``."""
        d = self.data
        out = np.repeat(self.params["intercept"][draws][:, None], weeks.stop - weeks.start, 1)
        if self.spec.trend:
            out = out + self.params["trend"][draws][:, None] * d.trend[weeks][None, :]
        if d.n_knots:
            out = out + self.params["baseline_knots"][draws] @ d.knot_weights[weeks].T
        if d.fourier_terms:
            out = out + self.params["gamma"][draws] @ d.fourier[weeks].T
        if d.holidays:
            out = out + self.params["delta"][draws] @ d.holiday[weeks].T
        result: FloatArray = out * d.y_scale
        return result

    def controls(self, draws: slice, weeks: slice) -> FloatArray:
        """Control contributions in target units, shape ``(s, n_block_weeks, n_controls)``."""
        d = self.data
        if not d.controls:
            return np.zeros((draws.stop - draws.start, weeks.stop - weeks.start, 0))
        kappa = self.params["kappa"][draws]  # (s, K)
        out: FloatArray = d.control_z[weeks][None, :, :] * kappa[:, None, :] * d.y_scale
        return out

    def components(self, draws: slice, weeks: slice) -> FloatArray:
        """All components stacked: channels, ``baseline``, controls; ``(s, b, n_components)``."""
        return np.concatenate(
            [
                self.channels(draws, weeks),
                self.baseline(draws, weeks)[:, :, None],
                self.controls(draws, weeks),
            ],
            axis=2,
        )

    def channel_totals(self) -> tuple[FloatArray, FloatArray]:
        """Per-draw totals over the window: contribution and its spend elasticity.

        Returns
        -------
        tuple of numpy.ndarray
            ``(contribution, elasticity)``, each ``(S, n_channels)`` in target units:
            total contribution, and ``d total / d log(spend multiplier)`` at the
            current spend (the change for a proportional spend increase, per unit of
            relative change), through adstock (linear) and saturation.
        """
        contribution = np.empty((self.n_samples, len(self.data.channels)))
        elasticity = np.empty_like(contribution)
        all_weeks = slice(0, self.data.n_weeks)
        for draws in self.draw_chunks():
            x = self.adstocked(draws, all_weeks)
            params = self._saturation_params(draws)
            scale = self.params["beta"][draws] * self.data.y_scale  # (s, C)
            saturations = self.spec.saturations
            contribution[draws] = saturations.np_apply(x, params).sum(axis=1) * scale
            elasticity[draws] = saturations.np_elasticity(x, params).sum(axis=1) * scale
        return contribution, elasticity

    def implied_lifts(self, channel_index: NDArray[np.int64], exposure: FloatArray) -> FloatArray:
        """Per-draw incremental outcome of lift tests, target units, ``(S, n_tests)``.

        Test ``i`` removes the share ``exposure[:, i]`` of channel ``channel_index[i]``'s
        weekly spend; its incremental outcome is the channel's contribution over the whole
        window minus the contribution without that spend (carryover included).
        """
        out = np.empty((self.n_samples, len(channel_index)))
        all_weeks = slice(0, self.data.n_weeks)
        media = self.data.media[:, channel_index] * (1.0 - exposure)  # (T, n)
        for draws in self.draw_chunks():
            x = self.adstocked(draws, all_weeks)[:, :, channel_index]  # (s, T, n)
            params = self._saturation_params(draws)  # full width, (s, 1, C)
            weights = self.spec.adstocks.np_weights(
                self._channel_params(self.spec.adstocks.parameters, draws), channel_index
            )  # (l_max, s, n)
            s = weights.shape[1]
            xs = np.broadcast_to(media[:, None, :], (media.shape[0], s, media.shape[1]))
            x_cf = np.moveaxis(adstock(xs, weights, axis=0), 1, 0)  # (s, T, n)
            sat = self.spec.saturations.np_apply(x, params, channel_index)
            sat_cf = self.spec.saturations.np_apply(x_cf, params, channel_index)
            beta = self.params["beta"][draws][:, channel_index] * self.data.y_scale
            out[draws] = (sat - sat_cf).sum(axis=1) * beta
        return out

    def steady_state(self, channel: int, spend: FloatArray, draws: slice) -> FloatArray:
        """Weekly contribution at a constant weekly ``spend`` held long enough, ``(s, G)``.

        The adstock kernels are normalized, so constant spend adstocks to itself.
        """
        x = (spend / self.data.media_scale[channel])[None, :]  # (1, G)
        saturation = self.spec.saturations.transform_of(self.spec.channels[channel])
        params = {
            k: v[:, channel : channel + 1]
            for k, v in self._channel_params(saturation.parameters, draws).items()
        }
        sat = saturation.np_apply(x, params)  # (s, G)
        beta = self.params["beta"][draws][:, channel : channel + 1]
        out: FloatArray = sat * beta * self.data.y_scale
        return out


def response_totals(
    spec: MMMSpec, data: MMMData, params: Mapping[str, FloatArray], chunk_size: int = 256
) -> FloatArray:
    """Per draw and channel, the sum over weeks of the saturated adstocked scaled media.

    ``params`` holds the adstock and saturation parameters, ``(S, n_channels)`` each (full
    width, :func:`mixlens.mmm.channel_transforms.stack_draws`);
    returns ``(S, n_channels)``, the denominator of ``beta`` in the ``roi``
    parameterisation (see :mod:`mixlens.mmm.model`).
    """
    engine = Engine(spec=spec, data=data, params=params, chunk_size=chunk_size)
    out = np.empty((engine.n_samples, len(data.channels)))
    all_weeks = slice(0, data.n_weeks)
    for draws in engine.draw_chunks():
        x = engine.adstocked(draws, all_weeks)
        out[draws] = spec.saturations.np_apply(x, engine._saturation_params(draws)).sum(axis=1)
    return out
