# mypy: disable-error-code="no-untyped-call"
"""Per-channel Bayesian regression of daily channel contributions on campaign media.

For channel ``c`` with campaigns ``k = 1..K_c`` (IMA stage 3)::

    y_t = alpha_c + sum_k beta_k * x_{k,t} + e_t,   e_t ~ Normal(0, sigma_c)

``y`` is the channel's daily contribution (from :mod:`mixlens.ima.disaggregate`) and
``x_k`` the campaign's adstocked daily media. Everything is scaled per channel so the
defaults work in any units: ``y`` by its mean absolute value ``s_y`` and each column of
``x`` by ``b0 / s_y``, where ``b0 = sum_t y_t / sum_t sum_k x_{k,t}`` is the MMM's
channel-level effectiveness in campaign media units. On that scale a campaign as
effective as its channel has coefficient one, and the priors are

* ``beta_k = b0 * m_k``, ``log m_k = mu_c + tau_c * z_k``, ``z_k ~ Normal(0, 1)``,
  ``mu_c ~ Normal(0, 0.5)``, ``tau_c ~ HalfNormal(0.5)``: non-negative effects centred
  on the channel's effectiveness with a shared, learnt spread (partial pooling, which
  keeps strongly correlated campaigns of a family from trading credit wildly);
* ``alpha_c ~ HalfNormal(0.05)`` (scaled units): a small non-negative offset, the part
  of the channel the campaigns do not explain;
* ``sigma_c ~ HalfNormal(1)``.

All channels are fitted in one model (one compilation), independent given the data.
Inference is ADVI (mean field, Adam) by default or NUTS on request.

Reconciliation (:func:`reconcile`), per draw and day, with ``S_t = sum_k beta_k x_{k,t}``:
if ``S_t <= y_t`` campaigns keep ``beta_k x_{k,t}`` and ``unattributed = y_t - S_t``;
if ``0 < y_t < S_t`` campaigns are scaled by ``y_t / S_t`` and ``unattributed = 0``;
if ``y_t <= 0`` campaigns get nothing and ``unattributed = y_t``. Campaigns plus
``unattributed`` equal ``y_t`` every day, and every campaign's credit stays in
``[0, beta_k x_{k,t}]``.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "ChannelDesign",
    "FitMethod",
    "ReconcileRule",
    "RegressionDraws",
    "fit_regression",
    "reconcile",
]

FloatArray = NDArray[np.float64]
FitMethod = Literal["advi", "nuts"]
ReconcileRule = Literal["cap", "proportional"]


@dataclass(frozen=True, eq=False)
class ChannelDesign:
    """One channel's regression data.

    Parameters
    ----------
    channel
        Channel name.
    campaigns
        Campaign names, one per column of ``x``.
    y
        Daily channel contribution, shape ``(n_days,)``, target units.
    x
        Adstocked daily campaign media, shape ``(n_days, n_campaigns)``, media units.
    """

    channel: str
    campaigns: tuple[str, ...]
    y: FloatArray
    x: FloatArray

    def __post_init__(self) -> None:
        if self.x.ndim != 2 or self.x.shape != (self.y.size, len(self.campaigns)):
            raise ValueError(
                f"channel {self.channel!r}: x must have shape "
                f"({self.y.size}, {len(self.campaigns)}), got {self.x.shape}"
            )
        if not self.campaigns:
            raise ValueError(f"channel {self.channel!r} has no campaigns")

    @property
    def effectiveness(self) -> float:
        """Channel-level effectiveness ``b0``: target units per media unit (``1`` if undefined)."""
        media = float(self.x.sum())
        total = float(self.y.sum())
        return total / media if media > 0 and total > 0 else 1.0

    @property
    def y_scale(self) -> float:
        """Mean absolute daily contribution (``1`` if zero), target units."""
        scale = float(np.mean(np.abs(self.y)))
        return scale if scale > 0 else 1.0


@dataclass(frozen=True, eq=False)
class RegressionDraws:
    """Posterior draws of the campaign regression, in the data's units.

    Parameters
    ----------
    beta
        Per channel, shape ``(n_draws, n_campaigns)``: target units per media unit.
    alpha
        Per channel, shape ``(n_draws,)``: target units per day.
    method
        ``"advi"`` or ``"nuts"``.
    """

    beta: dict[str, FloatArray]
    alpha: dict[str, FloatArray]
    method: str


@contextmanager
def _quiet() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=".*could not link to a BLAS", category=UserWarning
        )
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=RuntimeWarning, module="pymc")
        warnings.filterwarnings("ignore", category=UserWarning, module="pymc")
        yield


def fit_regression(
    designs: Sequence[ChannelDesign],
    *,
    method: FitMethod = "advi",
    draws: int = 200,
    seed: int = 0,
    advi_steps: int = 8000,
    tune: int = 500,
    progress: bool = False,
) -> RegressionDraws:
    """Fit the campaign regression of every channel jointly; return posterior draws.

    Parameters
    ----------
    designs
        One :class:`ChannelDesign` per channel, all with the same number of days.
    method
        ``"advi"`` (mean-field ADVI with Adam, then ``draws`` samples) or ``"nuts"``
        (2 chains of ``draws`` after ``tune``, nutpie when installed).
    draws
        Posterior draws (per chain for NUTS).
    seed
        Random seed; the same seed gives the same draws.
    advi_steps
        ADVI optimisation steps.
    tune
        NUTS tuning steps per chain.
    progress
        Show the backend's progress bar.

    Returns
    -------
    RegressionDraws
        Draws of ``beta`` and ``alpha`` per channel.

    Raises
    ------
    ValueError
        If ``designs`` is empty, their lengths differ, or ``method`` is unknown.
    """
    import pymc as pm
    import pytensor.tensor as pt

    if not designs:
        raise ValueError("no channels to fit")
    n_days = {d.y.size for d in designs}
    if len(n_days) != 1:
        raise ValueError(f"channels have different numbers of days: {sorted(n_days)}")
    if method not in ("advi", "nuts"):
        raise ValueError(f"method must be 'advi' or 'nuts', got {method!r}")
    if draws < 1:
        raise ValueError(f"draws must be >= 1, got {draws}")
    n_ch = len(designs)
    sizes = [len(d.campaigns) for d in designs]
    ch_idx = np.repeat(np.arange(n_ch), sizes)
    x_scaled = np.concatenate(
        [d.x * (d.effectiveness / d.y_scale) for d in designs], axis=1
    )  # (T, K)
    y_scaled = np.stack([d.y / d.y_scale for d in designs], axis=1)  # (T, C)
    onehot = np.zeros((ch_idx.size, n_ch))
    onehot[np.arange(ch_idx.size), ch_idx] = 1.0
    rng = np.random.default_rng(seed)
    with _quiet(), pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 0.5, shape=n_ch)
        tau = pm.HalfNormal("tau", 0.5, shape=n_ch)
        z = pm.Normal("z", 0.0, 1.0, shape=ch_idx.size)
        m = pm.Deterministic("m", pt.exp(mu[ch_idx] + tau[ch_idx] * z))
        alpha = pm.HalfNormal("alpha", 0.05, shape=n_ch)
        sigma = pm.HalfNormal("sigma", 1.0, shape=n_ch)
        pred = pt.dot(pt.as_tensor(x_scaled) * m[None, :], pt.as_tensor(onehot)) + alpha[None, :]
        pm.Normal("y", mu=pred, sigma=sigma[None, :], observed=y_scaled)
        if method == "advi":
            approx = pm.fit(
                n=advi_steps,
                method="advi",
                random_seed=int(rng.integers(2**31)),
                progressbar=progress,
                obj_optimizer=pm.adam(learning_rate=0.02),
            )
            idata = approx.sample(draws, random_seed=int(rng.integers(2**31)))
        else:
            idata = pm.sample(
                draws=draws,
                tune=tune,
                chains=2,
                cores=1,
                random_seed=int(rng.integers(2**31)),
                progressbar=progress,
                compute_convergence_checks=False,
                model=model,
            )
    post = idata["posterior"]
    m_draws = np.asarray(post["m"].stack(sample=("chain", "draw")).transpose("sample", ...).values)
    a_draws = np.asarray(
        post["alpha"].stack(sample=("chain", "draw")).transpose("sample", ...).values
    )
    beta: dict[str, FloatArray] = {}
    alpha_out: dict[str, FloatArray] = {}
    for c, d in enumerate(designs):
        beta[d.channel] = np.asarray(m_draws[:, ch_idx == c] * d.effectiveness, dtype=np.float64)
        alpha_out[d.channel] = np.asarray(a_draws[:, c] * d.y_scale, dtype=np.float64)
    return RegressionDraws(beta=beta, alpha=alpha_out, method=method)


def reconcile(
    y: ArrayLike, campaigns: ArrayLike, *, rule: ReconcileRule = "cap"
) -> tuple[FloatArray, FloatArray]:
    """Make campaign contributions plus an unattributed part sum to the channel, every day.

    ``rule="cap"`` (default, see the module docstring): campaigns are scaled down where
    they exceed the channel, the remainder is ``unattributed`` otherwise.
    ``rule="proportional"``: campaigns are scaled to the channel on every day with a
    positive channel contribution and campaign sum (their shares are kept, the regression
    intercept and residual are credited to them pro rata); ``unattributed`` is what is
    left where no campaign is active or the channel is not positive.

    Parameters
    ----------
    y
        Channel contribution per day, shape ``(n_days,)``, target units.
    campaigns
        Non-negative campaign contributions, shape ``(..., n_days, n_campaigns)``
        (e.g. a leading draws axis).
    rule
        ``"cap"`` or ``"proportional"``.

    Returns
    -------
    tuple of numpy.ndarray
        Reconciled campaign contributions (shape of ``campaigns``) and the unattributed
        part (shape ``(..., n_days)``); their sum over campaigns plus unattributed is ``y``.

    Examples
    --------
    >>> c, u = reconcile([10.0, 2.0, -1.0], [[3.0, 3.0], [2.0, 2.0], [1.0, 0.0]])
    >>> c.tolist(), u.tolist()
    ([[3.0, 3.0], [1.0, 1.0], [0.0, 0.0]], [4.0, 0.0, -1.0])
    >>> parts = [[3.0, 2.0], [2.0, 2.0], [1.0, 0.0]]
    >>> c, u = reconcile([10.0, 2.0, -1.0], parts, rule="proportional")
    >>> c.tolist(), u.tolist()
    ([[6.0, 4.0], [1.0, 1.0], [0.0, 0.0]], [0.0, 0.0, -1.0])
    """
    target = np.asarray(y, dtype=np.float64)
    parts = np.asarray(campaigns, dtype=np.float64)
    total = parts.sum(axis=-1)
    positive = np.clip(target, 0.0, None)
    if rule not in ("cap", "proportional"):
        raise ValueError(f"rule must be 'cap' or 'proportional', got {rule!r}")
    over = total > positive if rule == "cap" else total > 0
    share = parts / np.where(total > 0, total, 1.0)[..., None]  # in [0, 1]: no overflow
    scaled: FloatArray = np.where(over[..., None], share * positive[..., None], parts)
    # Computed as the remainder, so campaigns + unattributed == y up to one rounding
    # (zero up to rounding on the days where the campaigns were scaled).
    unattributed: FloatArray = target - scaled.sum(axis=-1)
    return scaled, unattributed
