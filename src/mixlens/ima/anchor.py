"""The MMM's posterior as IMA's anchor: weekly kernels and channel contribution draws.

A ``mixlens mmm fit`` run directory holds the posterior (``posterior.nc``). IMA uses two
things from it beyond the posterior-mean tables:

* the **posterior-mean adstock kernel** of each channel on the MMM's own scale: adstock
  is linear in media, so the posterior-mean contribution's carryover is that of the mean
  *kernel*, not of the kernel at the mean parameters (they differ in the tails);
* **draws of each channel's weekly contribution**, so the campaign intervals carry the
  MMM's own uncertainty, not only the campaign regression's
  (see :func:`mixlens.ima.fit.fit_ima`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

__all__ = ["MMMPosterior", "read_mmm_posterior"]

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
    from mixlens.mmm.results import MMMResult

    result = MMMResult.load(mmm_dir)
    spec = result.spec
    post = result.idata["posterior"]
    names = list(dict.fromkeys([*spec.channel_parameters, "beta"]))
    params: dict[str, FloatArray] = {}
    for name in names:
        if name in post:
            stacked = post[name].stack(sample=("chain", "draw")).transpose("sample", "channel")
            params[name] = np.asarray(stacked.values, dtype=np.float64)
    n_total = params["beta"].shape[0]
    keep = np.unique(np.linspace(0, n_total - 1, min(max_draws, n_total)).round().astype(int))
    params = {k: v[keep] for k, v in params.items()}
    kernel_params = {k: params[k] for k in spec.adstock.parameters}
    weights = np.asarray(spec.adstock.np_weights(kernel_params), dtype=np.float64)
    mean_kernel = weights.mean(axis=1)  # (l_max, C)
    engine = Engine(spec, result.data, params)
    contrib = engine.channels(slice(0, keep.size), slice(0, result.data.n_weeks))  # (S, T, C)
    channels = [str(c) for c in spec.channels]
    return MMMPosterior(
        kernels={c: mean_kernel[:, i] / mean_kernel[:, i].sum() for i, c in enumerate(channels)},
        draws={c: np.ascontiguousarray(contrib[:, :, i]) for i, c in enumerate(channels)},
    )
