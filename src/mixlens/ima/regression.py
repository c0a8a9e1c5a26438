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

**Saturating share model** (``model="saturating"``, beyond the paper). The linear
regression ignores that a channel saturates: a campaign flighted in busy weeks looks
weak, one flighted alone looks strong. Here the campaigns act through one channel
pressure with a Hill curve::

    y_t = alpha_c + B_c * hill(P_t; K_c, s_c) + e_t,   P_t = sum_k m_k * x_{k,t} / xbar_c

with ``xbar_c`` the channel's mean daily adstocked media, ``log m_k = tau_c * z_k``
(relative campaign effectiveness, partially pooled around the channel's),
``K_c ~ LogNormal(0, 0.7)`` (half-saturation relative to mean pressure),
``s_c ~ LogNormal(0, 0.5)``, ``B_c ~ LogNormal(log 2, 1)`` on the scaled outcome. A
campaign's part of the media response on day ``t`` is its Aumann-Shapley share
``B_c hill(P_t) * m_k x_{k,t} / (xbar_c P_t)``: the split of a response that depends on
the campaigns only through their weighted sum, so the parts add up to the response.

**Period likelihood** (``period_days > 1``, what :func:`~mixlens.ima.fit.fit_ima` uses
for a weekly MMM). The MMM knows each channel's contribution per week only; its daily
split follows the channel's total adstocked media, so it says nothing about the
campaigns and is wrong in shape where the channel saturates (an S-shaped curve puts less
of a week on a burst's thin edge days than the media does). The likelihood therefore
compares the model's daily prediction averaged over each period with the period's mean
contribution (``y_w ~ Normal(mean_{t in w} mu_t, sigma_c)``); the daily model and its
campaign split are unchanged. ``period_days=1`` fits every day (the paper's choice).

**The MMM's own error** (``period_sd``, what :func:`~mixlens.ima.fit.fit_ima` passes
with the MMM's posterior). The MMM's weekly contributions are estimates: taken as exact,
the posterior's noise scale collapses and the campaign weights bend to reproduce the
MMM's errors in the weekly shape. With each period's posterior sd ``sd_w`` the likelihood
is ``Normal(mean_w, sqrt(sigma_c^2 + sd_w^2))``: weeks the MMM is unsure of inform the
split less, and the pooled prior weighs more there.

**Period saturation** (``saturation_days > 1``, the MMM's grain). A weekly MMM's curve
acts on each week's adstocked media, so the saturating model can apply its curve to
each period's mean pressure ``Pbar_w``: day ``t`` responds
``B_c hill(Pbar_w; K_c, s_c) * P_t / Pbar_w`` (so the period's mean daily response is
``B_c hill(Pbar_w)``), split over campaigns by their weighted media as above.

**Cross-channel interactions** (``interactions``, off by default; see
:mod:`mixlens.ima.interactions`). A target channel's campaign media are multiplied on
each day by ``g_t = exp(sum_s gamma_s u_{s,t})``, with ``u_s`` the centred, scaled
activity of source channel ``s`` and ``gamma_s ~ Normal(0, 1)``; in the saturating
model it multiplies the channel's response (after the curve), so in both models ``g_t``
is the factor by which the sources scale the channel on day ``t`` and the day's split
over campaigns is unchanged.

All channels are fitted in one model (one compilation), independent given the data.
Inference is ADVI (mean field, Adam) by default, a Laplace approximation (the mode by
L-BFGS on the exact gradient, a Gaussian with the full inverse Hessian) or NUTS on
request. Mean-field ADVI's mean barely moves along the ridge of campaigns flighted
together (the pooled start, every campaign as effective as its channel, is where it
stays) and its sd there is the conditional one, far too small; the Laplace
approximation's mode is found with exact gradients and its covariance follows the
ridge (``ima_accuracy`` in ``benchmarks/RESULTS.md``). Where the MMM's contributions
are exact and the model contains them (a simulator's truth), the noise scale's
posterior piles up at zero and no approximation's intervals are calibrated: their width
is set by where the approximation stops.
:meth:`RegressionDraws.campaign_parts` gives every draw's campaign contributions for
either model, before reconciliation.

Reconciliation (:func:`reconcile`), per draw and day, with ``S_t = sum_k beta_k x_{k,t}``:
if ``S_t <= y_t`` campaigns keep ``beta_k x_{k,t}`` and ``unattributed = y_t - S_t``;
if ``0 < y_t < S_t`` campaigns are scaled by ``y_t / S_t`` and ``unattributed = 0``;
if ``y_t <= 0`` campaigns get nothing and ``unattributed = y_t``. Campaigns plus
``unattributed`` equal ``y_t`` every day, and every campaign's credit stays in
``[0, beta_k x_{k,t}]``. ``rule="residual"`` keeps only the intercept ``alpha_c``
unattributed and shares the rest, residual included, pro rata (the cap rule's asymmetry
costs the campaigns about the mean absolute residual).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "CampaignLift",
    "ChannelDesign",
    "FitMethod",
    "ReconcileRule",
    "RegressionDraws",
    "RegressionModel",
    "fit_regression",
    "interaction_multiplier",
    "lift_response",
    "reconcile",
]

FloatArray = NDArray[np.float64]
FitMethod = Literal["advi", "nuts", "laplace"]
ReconcileRule = Literal["cap", "proportional", "residual"]
RegressionModel = Literal["linear", "saturating"]


@dataclass(frozen=True)
class CampaignLift:
    """One campaign lift test on the regression's day grid (see :mod:`mixlens.ima.lift`).

    Parameters
    ----------
    channel
        Channel name.
    column
        Index of the campaign among the channel's campaigns.
    first, last
        Window as day indices into the design's days (inclusive).
    value
        Measured incremental outcome, target units.
    se
        Its standard error, target units.
    """

    channel: str
    column: int
    first: int
    last: int
    value: float
    se: float


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
        Per channel, shape ``(n_draws, n_campaigns)``. Linear model: the campaign effect,
        target units per media unit. Saturating model: the relative effectiveness
        ``m_k / xbar_c`` (per media unit; only ratios within a channel matter).
    alpha
        Per channel, shape ``(n_draws,)``: target units per day.
    method
        ``"advi"`` or ``"nuts"``.
    model
        ``"linear"`` or ``"saturating"``.
    curve
        Saturating model only: per channel ``{"B": (n_draws,) target units per day,
        "K": (n_draws,), "s": (n_draws,)}``, the Hill curve of the weighted pressure.
    saturation_days
        Saturating model only: days over which the Hill curve acts on the mean pressure
        (``1``: every day; ``7``: the weekly MMM's own grain).
    interaction
        Channels with interaction terms only: the multiplier ``g_t`` of the campaigns'
        media per draw and day, shape ``(n_draws, n_days)`` (the fitted days).
    gamma
        Channels with interaction terms only: ``gamma`` per draw and source channel,
        shape ``(n_draws, n_sources)``.
    """

    beta: dict[str, FloatArray]
    alpha: dict[str, FloatArray]
    method: str
    model: str = "linear"
    curve: dict[str, dict[str, FloatArray]] = field(default_factory=dict)
    saturation_days: int = 1
    interaction: dict[str, FloatArray] = field(default_factory=dict)
    gamma: dict[str, FloatArray] = field(default_factory=dict)

    def campaign_parts(self, design: ChannelDesign) -> FloatArray:
        """Every draw's campaign contributions before reconciliation, target units.

        Parameters
        ----------
        design
            The channel's regression data (the one the draws were fitted on, or new
            media of the same campaigns; with an interaction term, the fitted days).

        Returns
        -------
        numpy.ndarray
            Shape ``(n_draws, n_days, n_campaigns)``, non-negative.

        Raises
        ------
        ValueError
            If the channel has an interaction term and ``design`` other days.
        """
        multiplier = self.interaction.get(design.channel)
        if multiplier is not None and multiplier.shape[1] != design.x.shape[0]:
            raise ValueError(
                f"channel {design.channel!r} has an interaction term fitted on "
                f"{multiplier.shape[1]} days, got {design.x.shape[0]}"
            )
        parts = self._media_parts(design)
        # The sources scale the channel's response on each day (after the curve).
        return parts if multiplier is None else parts * multiplier[:, :, None]

    def _media_parts(self, design: ChannelDesign) -> FloatArray:
        """Campaign contributions without interaction terms, ``(n_draws, n_days, n_k)``."""
        weights = self.beta[design.channel]
        parts = weights[:, None, :] * design.x[None, :, :]  # (S, T, K)
        if self.model == "linear":
            return parts
        c = self.curve[design.channel]
        pressure = parts.sum(axis=2)  # (S, T)
        if self.saturation_days > 1:
            # The curve acts on each period's mean pressure; a day's share of the period's
            # response is its share of the period's pressure.
            n, k = pressure.shape[0], self.saturation_days
            mean = pressure.reshape(n, -1, k).mean(axis=2)
            pressure = np.repeat(mean, k, axis=1)
        half, slope = c["K"][:, None], c["s"][:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(pressure > 0, (pressure / half) ** slope, 0.0)
            response = c["B"][:, None] * ratio / (1.0 + ratio)
            per_unit = np.where(pressure > 0, response / np.where(pressure > 0, pressure, 1), 0)
        out: FloatArray = parts * per_unit[:, :, None]
        return out

    def predict(self, design: ChannelDesign) -> FloatArray:
        """Posterior-mean daily channel contribution the regression predicts, ``(n_days,)``."""
        total = self.campaign_parts(design).sum(axis=2) + self.alpha[design.channel][:, None]
        out: FloatArray = total.mean(axis=0)
        return out


@contextmanager
def quiet_pymc() -> Iterator[None]:
    """Silence PyMC's and PyTensor's routine warnings (BLAS link, future, sampler notes)."""
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
    model: RegressionModel = "linear",
    draws: int = 200,
    seed: int = 0,
    advi_steps: int = 8000,
    tune: int = 500,
    progress: bool = False,
    lifts: Sequence[CampaignLift] = (),
    period_days: int = 1,
    saturation_days: int = 1,
    laplace_iterations: int = 5000,
    alpha_scale: float = 0.05,
    tau_scale: float = 0.5,
    period_sd: Mapping[str, ArrayLike] | None = None,
    interactions: Mapping[str, ArrayLike] | None = None,
) -> RegressionDraws:
    """Fit the campaign regression of every channel jointly; return posterior draws.

    Parameters
    ----------
    designs
        One :class:`ChannelDesign` per channel, all with the same number of days.
    method
        ``"advi"`` (mean-field ADVI with Adam, then ``draws`` samples), ``"laplace"``
        (the mode by L-BFGS, at most ``laplace_iterations`` iterations, and a Gaussian
        with the full inverse Hessian) or ``"nuts"`` (2 chains of ``draws`` after
        ``tune``).
    model
        ``"linear"`` (the paper's regression) or ``"saturating"`` (campaigns through a
        shared Hill curve of their weighted pressure); see the module docstring.
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
    lifts
        Campaign lift tests (:class:`CampaignLift`), each adding
        ``implied ~ Normal(value, se)`` to the likelihood (see :mod:`mixlens.ima.lift`).
    period_days
        Days per MMM period (7 for a weekly MMM). The likelihood compares the model's
        daily prediction averaged over each period with the channel's contribution
        averaged over it: the MMM only knows period totals, and its daily split carries
        no information on the campaigns (it follows the channel's total media), so
        fitting daily pseudo-observations would bias the shape at burst edges and count
        every period ``period_days`` times. ``1``: daily likelihood.
    saturation_days
        Saturating model: days over which the Hill curve acts on the mean pressure.
        ``1`` (every day) or ``period_days`` (the MMM's grain: a weekly MMM saturates the
        week's adstocked media, so a daily curve cannot reproduce its weekly
        contributions, e.g. the small first week of a burst); each day gets its share
        of the period's pressure.
    laplace_iterations
        Most L-BFGS iterations of ``method="laplace"``.
    alpha_scale
        Scale of the intercept's half-normal prior on the scaled outcome (``0.05``: a
        small offset; the channel's contribution is media-driven).
    tau_scale
        Scale of the half-normal prior of the campaigns' log-effectiveness spread
        ``tau_c`` (smaller: stronger pooling toward the channel's effectiveness).
    period_sd
        Per channel, the standard deviation of the MMM's contribution in each period
        (target units, period totals, shape ``(n_days // period_days,)``; e.g. over the
        MMM's posterior draws). The likelihood then treats the MMM's contributions as
        measured with that error: ``y_w ~ Normal(mean_w, sqrt(sigma_c^2 + sd_w^2))``, so
        where the MMM is unsure of a period the campaigns' split leans on the prior
        (pooling) instead of fitting the MMM's error. ``None`` (default) or a channel
        absent: exact contributions.
    interactions
        Per target channel, its source channels' activity per day, shape
        ``(n_days, n_sources)`` (e.g. from
        :func:`~mixlens.ima.interactions.source_activity`); scaled and centred here
        (:func:`~mixlens.ima.interactions.centred_activity`). ``None`` (default): no
        interaction terms.

    Returns
    -------
    RegressionDraws
        Draws of ``beta`` and ``alpha`` per channel.

    Raises
    ------
    ValueError
        If ``designs`` is empty, their lengths differ, or ``method`` or ``model`` is
        unknown.
    """
    if not designs:
        raise ValueError("no channels to fit")
    n_days = {d.y.size for d in designs}
    if len(n_days) != 1:
        raise ValueError(f"channels have different numbers of days: {sorted(n_days)}")
    if method not in ("advi", "nuts", "laplace"):
        raise ValueError(f"method must be 'advi', 'nuts' or 'laplace', got {method!r}")
    if model not in ("linear", "saturating"):
        raise ValueError(f"model must be 'linear' or 'saturating', got {model!r}")
    if draws < 1:
        raise ValueError(f"draws must be >= 1, got {draws}")
    if period_days < 1 or designs[0].y.size % period_days:
        raise ValueError(
            f"period_days must be >= 1 and divide the {designs[0].y.size} days, got {period_days}"
        )
    n_periods = designs[0].y.size // period_days
    measured = np.zeros((n_periods, len(designs)))
    for c, d in enumerate(designs):
        if period_sd is not None and d.channel in period_sd:
            sd = np.asarray(period_sd[d.channel], dtype=np.float64)
            if sd.shape != (n_periods,) or not np.all(np.isfinite(sd)) or np.any(sd < 0):
                raise ValueError(
                    f"period_sd for channel {d.channel!r} must be {n_periods} finite "
                    f"non-negative values, got shape {sd.shape}"
                )
            # Period means on the scaled outcome, as the likelihood compares them.
            measured[:, c] = sd / period_days / d.y_scale
    if saturation_days < 1 or designs[0].y.size % saturation_days:
        raise ValueError(
            f"saturation_days must be >= 1 and divide the {designs[0].y.size} days, "
            f"got {saturation_days}"
        )
    n_ch = len(designs)
    sizes = [len(d.campaigns) for d in designs]
    ch_idx = np.repeat(np.arange(n_ch), sizes)
    centred = _interaction_inputs(designs, interactions)
    if model == "linear":
        # A campaign as effective as its channel has coefficient one on this scale.
        col_scale = [d.effectiveness / d.y_scale for d in designs]
    else:
        # Mean daily channel pressure one when every m_k is one.
        col_scale = [1.0 / _mean_media(d) for d in designs]
    rng = np.random.default_rng(seed)
    with quiet_pymc():
        pm_model = _build_model(
            designs,
            model,
            col_scale,
            lifts,
            period_days,
            saturation_days,
            alpha_scale=alpha_scale,
            tau_scale=tau_scale,
            measured_sd=measured if measured.any() else None,
            interaction=centred,
        )
        if method == "laplace":
            post = laplace_draws(pm_model, draws, rng, maxiter=laplace_iterations)
        else:
            post = sample_posterior(
                pm_model,
                method,
                draws=draws,
                tune=tune,
                advi_steps=advi_steps,
                rng=rng,
                progress=progress,
            )
    beta: dict[str, FloatArray] = {}
    alpha_out: dict[str, FloatArray] = {}
    curve: dict[str, dict[str, FloatArray]] = {}
    multipliers: dict[str, FloatArray] = {}
    gammas: dict[str, FloatArray] = {}
    offset = 0
    for c, d in enumerate(designs):
        if c in centred:
            n_src = centred[c].shape[1]
            gammas[d.channel] = np.asarray(post["gamma"][:, offset : offset + n_src])
            multipliers[d.channel] = np.exp(gammas[d.channel] @ centred[c].T)
            offset += n_src
        # Back to the data's units: x_scaled = x * col_scale, y_scaled = y / y_scale.
        scale = col_scale[c] * (d.y_scale if model == "linear" else 1.0)
        beta[d.channel] = np.asarray(post["m"][:, ch_idx == c] * scale, dtype=np.float64)
        alpha_out[d.channel] = np.asarray(post["alpha"][:, c] * d.y_scale, dtype=np.float64)
        if model == "saturating":
            curve[d.channel] = {
                "B": post["B"][:, c] * d.y_scale,
                "K": post["K"][:, c],
                "s": post["s"][:, c],
            }
    return RegressionDraws(
        beta=beta,
        alpha=alpha_out,
        method=method,
        model=model,
        curve=curve,
        saturation_days=saturation_days if model == "saturating" else 1,
        interaction=multipliers,
        gamma=gammas,
    )


def _interaction_inputs(
    designs: Sequence[ChannelDesign], interactions: Mapping[str, ArrayLike] | None
) -> dict[int, FloatArray]:
    """Validate the interaction inputs; channel index -> centred activity ``(T, n_sources)``."""
    from mixlens.ima.interactions import centred_activity

    if not interactions:
        return {}
    index = {d.channel: c for c, d in enumerate(designs)}
    n_days = designs[0].y.size
    out: dict[int, FloatArray] = {}
    for channel, activity in interactions.items():
        if channel not in index:
            raise ValueError(f"interaction target {channel!r} is not a fitted channel")
        values = np.asarray(activity, dtype=np.float64)
        if values.ndim != 2 or values.shape[0] != n_days or not np.all(np.isfinite(values)):
            raise ValueError(
                f"interaction activity of {channel!r} must be finite, shape ({n_days}, "
                f"n_sources), got {values.shape}"
            )
        out[index[channel]] = centred_activity(values)
    return dict(sorted(out.items()))


def saturated_media(
    pressure: Any, half: Any, slope: Any, top: Any, saturation_days: int
) -> tuple[Any, Any]:
    """Hill curve of daily campaign pressure, per unit (column), shape ``(n_days, n_units)``.

    With ``saturation_days > 1`` the curve acts on each block's mean pressure and the
    block's response is spread over its days in proportion to their pressure. Returns
    the response and, with blocks, the response per unit of pressure of each day's
    block (``None`` without).
    """
    import pytensor.tensor as pt

    if saturation_days > 1:
        n_units = pressure.shape[1]
        level = pressure.reshape((pressure.shape[0] // saturation_days, saturation_days, n_units))
        level = level.mean(axis=1)
        ratio = (level / half[None, :] + 1e-12) ** slope[None, :]
        per_unit = top[None, :] * ratio / (1.0 + ratio) / (level + 1e-12)
        per_day = pt.repeat(per_unit, saturation_days, axis=0)
        return pressure * per_day, per_day
    ratio = (pressure / half[None, :] + 1e-12) ** slope[None, :]
    return top[None, :] * ratio / (1.0 + ratio), None


def lift_response(
    part: Any,
    unit: int,
    days: slice,
    curve: tuple[Any, Any, Any, Any, Any] | None,
    multiplier: Any,
) -> Any:
    """Return a campaign's modelled response on a lift test's days in one unit (scaled).

    ``part``: the campaign's weighted media on ``days``. ``curve``: ``None`` for the
    linear model, else the saturating model's ``(pressure, per_day, half, slope, top)``
    (``per_day`` from :func:`saturated_media`, ``None`` with a daily curve, where the
    response is what removing the campaign takes from the unit's curve). ``multiplier``:
    the interaction multiplier ``(n_days, n_units)`` or ``None``.
    """
    import pytensor.tensor as pt

    if curve is None:
        response = part
    else:
        pressure, per_day, half, slope, top = curve
        if per_day is not None:
            # The campaign's share of each period's response.
            response = part * per_day[days, unit]
        else:

            def hill_of(v: Any) -> Any:
                r = (pt.maximum(v, 0.0) / half[unit] + 1e-12) ** slope[unit]
                return top[unit] * r / (1.0 + r)

            total = pressure[days, unit]
            response = hill_of(total) - hill_of(total - part)
    # The sources scale the unit's response on each day.
    return response if multiplier is None else response * multiplier[days, unit]


def add_period_likelihood(
    mean: Any,
    y_scaled: FloatArray,
    sigma: Any,
    period_days: int,
    measured_sd: FloatArray | None,
) -> None:
    """Add the observed ``y`` to the model in context: daily ``mean`` against ``y_scaled``.

    Both ``(n_days, n_units)``; with ``period_days > 1`` their period means are compared
    (the MMM's grain). ``measured_sd`` (per period and unit) is the MMM's own error,
    added to the noise scale ``sigma`` (per unit) in quadrature.
    """
    import pymc as pm
    import pytensor.tensor as pt

    if period_days > 1:
        n_periods, n_units = y_scaled.shape[0] // period_days, y_scaled.shape[1]
        mean = mean.reshape((n_periods, period_days, n_units)).mean(axis=1)
        y_scaled = y_scaled.reshape(n_periods, period_days, n_units).mean(axis=1)
    noise = sigma[None, :]
    if measured_sd is not None:
        noise = pt.sqrt(sigma[None, :] ** 2 + pt.as_tensor(measured_sd**2))
    pm.Normal("y", mu=mean, sigma=noise, observed=y_scaled)


def _build_model(
    designs: Sequence[ChannelDesign],
    model: RegressionModel,
    col_scale: Sequence[float],
    lifts: Sequence[CampaignLift],
    period_days: int = 1,
    saturation_days: int = 1,
    *,
    alpha_scale: float = 0.05,
    tau_scale: float = 0.5,
    measured_sd: FloatArray | None = None,
    interaction: Mapping[int, FloatArray] | None = None,
) -> Any:
    """Build the PyMC model of every channel's regression (see the module docstring)."""
    import pymc as pm
    import pytensor.tensor as pt

    n_ch = len(designs)
    sizes = [len(d.campaigns) for d in designs]
    ch_idx = np.repeat(np.arange(n_ch), sizes)
    x_scaled = np.concatenate([d.x * f for d, f in zip(designs, col_scale, strict=True)], axis=1)
    y_scaled = np.stack([d.y / d.y_scale for d in designs], axis=1)  # (T, C)
    onehot = np.zeros((ch_idx.size, n_ch))
    onehot[np.arange(ch_idx.size), ch_idx] = 1.0
    with pm.Model() as pm_model:
        alpha = pm.HalfNormal("alpha", alpha_scale, shape=n_ch)
        sigma = pm.HalfNormal("sigma", 1.0, shape=n_ch)
        tau = pm.HalfNormal("tau", tau_scale, shape=n_ch)
        z = pm.Normal("z", 0.0, 1.0, shape=ch_idx.size)
        multiplier = interaction_multiplier(interaction or {}, y_scaled.shape)
        if model == "linear":
            mu = pm.Normal("mu", 0.0, 0.5, shape=n_ch)
            m = pm.Deterministic("m", pt.exp(mu[ch_idx] + tau[ch_idx] * z))
            media = pt.dot(pt.as_tensor(x_scaled) * m[None, :], pt.as_tensor(onehot))
            if multiplier is not None:
                media = media * multiplier
        else:
            m = pm.Deterministic("m", pt.exp(tau[ch_idx] * z))
            half = pm.LogNormal("K", 0.0, 0.7, shape=n_ch)
            slope = pm.LogNormal("s", 0.0, 0.5, shape=n_ch)
            top = pm.LogNormal("B", np.log(2.0), 1.0, shape=n_ch)
            pressure = pt.dot(pt.as_tensor(x_scaled) * m[None, :], pt.as_tensor(onehot))
            media, per_day = saturated_media(pressure, half, slope, top, saturation_days)
            if multiplier is not None:
                media = media * multiplier
        add_period_likelihood(media + alpha[None, :], y_scaled, sigma, period_days, measured_sd)
        if lifts:
            offsets = np.cumsum([0, *sizes])
            index = {d.channel: i for i, d in enumerate(designs)}
            implied, measured, se = [], [], []
            for lift in lifts:
                c = index[lift.channel]
                j = int(offsets[c]) + lift.column
                days = slice(lift.first, lift.last + 1)
                part = pt.as_tensor(x_scaled[days, j]) * m[j]
                curve = None if model == "linear" else (pressure, per_day, half, slope, top)
                implied.append(lift_response(part, c, days, curve, multiplier).sum())
                measured.append(lift.value / designs[c].y_scale)
                se.append(lift.se / designs[c].y_scale)
            pm.Normal(
                "lift", mu=pt.stack(implied), sigma=np.asarray(se), observed=np.asarray(measured)
            )
    return pm_model


_OUTPUTS = ("m", "alpha", "K", "s", "B", "gamma")


def interaction_multiplier(
    interaction: Mapping[int, FloatArray],
    shape: tuple[int, ...],
    offsets: Mapping[int, int] | None = None,
) -> Any:
    """Build the daily multiplier of every unit's media, ``(n_days, n_units)``, in context.

    ``exp(u_j @ gamma[o_j : o_j + n_j])`` for units ``j`` with interaction terms (centred
    activity ``u_j`` of shape ``(n_days, n_j)``, ``gamma ~ Normal(0, 1)``), one
    elsewhere; ``None`` without interaction terms. ``offsets`` maps a unit to the start
    of its coefficients in ``gamma`` (units may share them, e.g. a channel's geos);
    ``None``: one block per unit, in unit order.
    """
    import pymc as pm
    import pytensor.tensor as pt

    if not interaction:
        return None
    if offsets is None:
        starts = np.cumsum([0, *(interaction[j].shape[1] for j in sorted(interaction))])
        offsets = dict(zip(sorted(interaction), starts[:-1].tolist(), strict=True))
    n_gamma = max(offsets[j] + interaction[j].shape[1] for j in interaction)
    gamma = pm.Normal("gamma", 0.0, 1.0, shape=n_gamma)
    columns = []
    for j in range(shape[1]):
        if j in interaction:
            u = interaction[j]
            block = gamma[offsets[j] : offsets[j] + u.shape[1]]
            columns.append(pt.exp(pt.dot(pt.as_tensor(u), block)))
        else:
            columns.append(pt.ones(shape[0]))
    return pt.stack(columns, axis=1)


_HYPER = frozenset({"mu", "tau_log__"})


def _posterior_arrays(post: Any, names: Sequence[str] = _OUTPUTS) -> dict[str, FloatArray]:
    """Posterior variables ``names`` as ``(n_draws, ...)`` arrays (chains stacked)."""
    out = {}
    for name in names:
        if name in post:
            values = post[name].stack(sample=("chain", "draw")).transpose("sample", ...).values
            out[name] = np.asarray(values, dtype=np.float64)
    return out


def sample_posterior(
    pm_model: Any,
    method: Literal["advi", "nuts"],
    *,
    draws: int,
    tune: int,
    advi_steps: int,
    rng: np.random.Generator,
    progress: bool = False,
    names: Sequence[str] = _OUTPUTS,
) -> dict[str, FloatArray]:
    """Draw from a campaign regression's posterior: mean-field ADVI (Adam, rate 0.02) or NUTS.

    NUTS runs 2 chains of ``draws`` after ``tune`` steps on one core. Returns the
    variables ``names`` present in the model as ``(n_draws, ...)`` arrays.
    """
    import pymc as pm

    if method == "advi":
        approx = pm.fit(
            n=advi_steps,
            method="advi",
            random_seed=int(rng.integers(2**31)),
            progressbar=progress,
            obj_optimizer=pm.adam(learning_rate=0.02),
            model=pm_model,
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
            model=pm_model,
        )
    return _posterior_arrays(idata["posterior"], names)


def laplace_draws(
    pm_model: Any,
    draws: int,
    rng: np.random.Generator,
    *,
    maxiter: int = 5000,
    names: Sequence[str] = _OUTPUTS,
    hyper: frozenset[str] = _HYPER,
) -> dict[str, FloatArray]:
    """Draw from a Laplace approximation of a campaign regression's posterior.

    The posterior mode (L-BFGS on the model's fused log density and gradient, from the
    model's initial point) and, with the pooling hyperparameters ``hyper`` (value
    variables, e.g. ``"tau_log__"``) held at the mode, a Gaussian with the inverse
    Hessian as covariance, on the unconstrained scale; ``draws`` samples of the
    variables ``names`` present in the model, as ``(n_draws, ...)`` arrays. The Hessian
    is the central difference of the exact gradient (two gradients per coordinate: a
    second or two, where a symbolic Hessian takes a minute to compile). The covariance
    is full, so it follows the ridge of campaigns flighted together, where mean-field
    ADVI's is too narrow and its mean barely moves from the pooled start; the
    hyperparameters' own uncertainty is not propagated.
    Where the channel contributions are exact and the model contains them, the mode's
    noise scale keeps falling as the fit improves (the posterior piles up at zero noise),
    so the intervals narrow with every iteration; ``maxiter`` then sets their width.
    """
    from pymc.blocking import DictToArrayBijection
    from scipy.optimize import minimize

    start = pm_model.initial_point()
    value_vars = list(pm_model.continuous_value_vars)
    x0 = DictToArrayBijection.map({v.name: start[v.name] for v in value_vars})
    fused = pm_model.logp_dlogp_function(ravel_inputs=True)
    fused.set_extra_values({})

    def objective(x: FloatArray) -> tuple[float, FloatArray]:
        value, grad = fused(x)
        return -float(value), -np.asarray(grad, dtype=np.float64)

    found = minimize(
        objective,
        x0.data,
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": maxiter, "maxfun": 2 * maxiter, "ftol": 1e-14, "gtol": 1e-9},
    )
    mode = np.asarray(found.x, dtype=np.float64)
    # The pooling hyperparameters stay at their mode: sampled along with the campaign
    # effects, the curved ridge exp(mu + tau * z) = const makes a Gaussian useless.
    free = np.ones(mode.size, dtype=bool)
    offset = 0
    for name, shape, *_ in x0.point_map_info:
        size = int(np.prod(shape))
        if name in hyper:
            free[offset : offset + size] = False
        offset += size
    precision = _precision_at(objective, mode, free)
    vals, vecs = np.linalg.eigh(precision)
    vals = np.clip(vals, 1e-6 * max(float(vals.max()), 1e-12), None)
    noise = rng.standard_normal((draws, vals.size)) / np.sqrt(vals)
    samples = np.repeat(mode[None, :], draws, axis=0)
    samples[:, free] += noise @ vecs.T
    outputs = [pm_model[name] for name in names if name in pm_model.named_vars]
    # Outputs as functions of the (unconstrained) value variables, not of random draws.
    fn = pm_model.compile_fn(
        pm_model.replace_rvs_by_values(outputs), inputs=value_vars, on_unused_input="ignore"
    )

    def point(x: FloatArray) -> dict[str, Any]:
        return dict(DictToArrayBijection.rmap(x0._replace(data=x), start))

    rows = [fn(point(x)) for x in samples]
    return {
        out.name: np.asarray([row[i] for row in rows], dtype=np.float64)
        for i, out in enumerate(outputs)
    }


def _precision_at(
    objective: Any, x: FloatArray, free: NDArray[np.bool_], step: float = 1e-5
) -> FloatArray:
    """Symmetrised Hessian of ``objective`` (negative log density) over ``free`` coordinates.

    Central differences of the exact gradient, ``step`` on the unconstrained scale.

    Examples
    --------
    >>> def f(x):
    ...     return float(x[0] ** 2 + 3 * x[0] * x[1]), np.array([2 * x[0] + 3 * x[1], 3 * x[0]])
    >>> _precision_at(f, np.zeros(2), np.array([True, True])).round(6).tolist()
    [[2.0, 3.0], [3.0, 0.0]]
    """
    index = np.flatnonzero(free)
    out = np.empty((index.size, index.size))
    for j, i in enumerate(index):
        shift = np.zeros(x.size)
        shift[i] = step
        out[:, j] = (objective(x + shift)[1][index] - objective(x - shift)[1][index]) / (2 * step)
    sym: FloatArray = (out + out.T) / 2
    return sym


def _mean_media(design: ChannelDesign) -> float:
    """Mean daily total adstocked media of a channel (``1`` if zero), media units."""
    mean = float(design.x.sum(axis=1).mean())
    return mean if mean > 0 else 1.0


def reconcile(
    y: ArrayLike,
    campaigns: ArrayLike,
    *,
    rule: ReconcileRule = "cap",
    intercept: ArrayLike | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Make campaign contributions plus an unattributed part sum to the channel, every day.

    ``rule="cap"`` (see the module docstring): campaigns are scaled down where they
    exceed the channel, the remainder is ``unattributed`` otherwise. It treats the
    regression's residual asymmetrically (a positive residual goes to ``unattributed``,
    a negative one is taken from the campaigns), so the campaigns lose about the mean
    absolute residual even where the regression is unbiased.
    ``rule="proportional"``: campaigns are scaled to the channel on every day with a
    positive channel contribution and campaign sum (their shares are kept, the regression
    intercept and residual are credited to them pro rata); ``unattributed`` is what is
    left where no campaign is active or the channel is not positive.
    ``rule="residual"``: ``unattributed`` is the regression's ``intercept`` (the modelled
    part of the channel the campaigns do not explain, at most the channel), and the
    campaigns share the rest pro rata, residual included (the residual is the
    regression's error, not evidence of other causes); with no intercept it is
    ``"proportional"``.

    Parameters
    ----------
    y
        Channel contribution per day, shape ``(n_days,)``, target units.
    campaigns
        Non-negative campaign contributions, shape ``(..., n_days, n_campaigns)``
        (e.g. a leading draws axis).
    rule
        ``"cap"``, ``"proportional"`` or ``"residual"``.
    intercept
        ``rule="residual"`` only: the regression's daily intercept, broadcastable to
        ``campaigns.shape[:-1]`` (e.g. ``alpha[:, None]`` per draw); ``None``: zero.

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
    >>> parts = [[3.0, 1.0], [2.0, 2.0], [1.0, 0.0]]
    >>> c, u = reconcile([9.0, 2.0, -1.0], parts, rule="residual", intercept=1.0)
    >>> c.tolist(), u.tolist()
    ([[6.0, 2.0], [0.5, 0.5], [0.0, 0.0]], [1.0, 1.0, -1.0])
    """
    target = np.asarray(y, dtype=np.float64)
    parts = np.asarray(campaigns, dtype=np.float64)
    total = parts.sum(axis=-1)
    positive = np.clip(target, 0.0, None)
    if rule not in ("cap", "proportional", "residual"):
        raise ValueError(f"rule must be 'cap', 'proportional' or 'residual', got {rule!r}")
    share = parts / np.where(total > 0, total, 1.0)[..., None]  # in [0, 1]: no overflow
    if rule == "residual":
        kept = np.zeros_like(total) if intercept is None else np.asarray(intercept, np.float64)
        # The campaigns' part of the channel: the channel less the intercept, in [0, y+].
        available = positive - np.clip(np.broadcast_to(kept, total.shape), 0.0, positive)
        scaled: FloatArray = np.where((total > 0)[..., None], share * available[..., None], 0.0)
    else:
        over = total > positive if rule == "cap" else total > 0
        scaled = np.where(over[..., None], share * positive[..., None], parts)
    # Computed as the remainder, so campaigns + unattributed == y up to one rounding
    # (zero up to rounding on the days where the campaigns were scaled).
    unattributed: FloatArray = target - scaled.sum(axis=-1)
    return scaled, unattributed
