# mypy: disable-error-code="no-untyped-call"
"""IMA's campaign regression over geos, campaign effects partially pooled across them.

For channel ``c``, geo ``g`` and campaign ``k`` the model is the national one
(:mod:`mixlens.ima.regression`) fitted in every geo at once, on each geo's own scales
(``y`` by the geo's mean absolute daily channel contribution, media by the geo's
channel effectiveness or mean pressure), with the campaign effect of geo ``g``::

    log m_{k,g} = mu_{c,g} + s_c * u_k + tau_c * z_{k,g}

``u_k, z_{k,g} ~ Normal(0, 1)``: ``s_c * u_k`` is the campaign's shared effect relative
to its channel (``s_c ~ HalfNormal(0.5)``, the national model's spread of campaigns) and
``tau_c * z_{k,g}`` its deviation in geo ``g`` (``tau_c ~ HalfNormal(0.5)``, learnt: the
data say how far geos differ; a small ``tau_c`` pools each campaign's effect across geos,
so a geo with few days borrows the campaign's effect from the others). ``mu_{c,g} ~
Normal(0, 0.5)`` is the channel's level in the geo (linear model only; the saturating
model's level is its curve). Per geo and channel: ``alpha ~ HalfNormal(0.05)``,
``sigma ~ HalfNormal(1)`` and, for the saturating model, its own Hill curve
(``K, s, B`` with the national priors). ``pooling="none"`` replaces the campaign term by
``tau_{c,g} * z_{k,g}`` with a spread per geo: independent national models, one per geo
(the baseline that shows what pooling buys).

Cross-channel interaction terms (``interactions``) work as in the national model: in
geo ``g`` the target's campaign response is multiplied by ``exp(sum_s gamma_s u_{s,g,t})``
with each source's activity in that geo and one ``gamma`` per target and source,
shared by the geos.

Campaign lift tests (:class:`GeoLift`) enter as in the national model: each adds
``implied ~ Normal(measured, se)``, where ``implied`` is the campaign's modelled response
on the test's days summed over the geos the test ran in (target units; every geo for a
national test).

The period likelihood, the period saturation, the MMM's own error (``period_sd``: each
geo's period sd of the MMM's contribution in quadrature with the geo's noise scale,
``y_{w,g} ~ Normal(mean_{w,g}, sqrt(sigma_g^2 + sd_{w,g}^2))``) and the inference (ADVI,
Laplace or NUTS) are the national model's (see :func:`mixlens.ima.regression.fit_regression`).
The Laplace approximation holds the pooling hyperparameters (``mu``, ``s_c``, ``tau_c``;
``tau_{c,g}`` without pooling) at the joint mode, as nationally: its draws of ``tau_c``
are that one value, and its intervals leave out the hyperparameters' uncertainty.
Draws come back as one :class:`~mixlens.ima.regression.RegressionDraws` per geo, so the
national campaign split, prediction and reconciliation apply to each geo unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mixlens.ima.regression import (
    ChannelDesign,
    RegressionDraws,
    RegressionModel,
    add_period_likelihood,
    interaction_multiplier,
    laplace_draws,
    lift_response,
    quiet_pymc,
    sample_posterior,
    saturated_media,
)

__all__ = [
    "GeoChannelDesign",
    "GeoDraws",
    "GeoFitMethod",
    "GeoLift",
    "Pooling",
    "fit_geo_regression",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
GeoFitMethod = Literal["advi", "nuts", "laplace"]
Pooling = Literal["partial", "none"]


@dataclass(frozen=True, eq=False)
class GeoChannelDesign:
    """One channel's regression data in every geo, on a shared campaign list.

    Parameters
    ----------
    channel
        Channel name.
    geos
        Geos with the channel's campaigns, one per entry of ``designs``.
    designs
        One :class:`~mixlens.ima.regression.ChannelDesign` per geo, all with the same
        ``campaigns`` (a campaign without media in a geo has a zero column there) and
        the same number of days.
    """

    channel: str
    geos: tuple[str, ...]
    designs: tuple[ChannelDesign, ...]

    def __post_init__(self) -> None:
        if not self.designs or len(self.designs) != len(self.geos):
            raise ValueError(f"channel {self.channel!r}: one design per geo needed")
        names = {d.campaigns for d in self.designs}
        days = {d.y.size for d in self.designs}
        if len(names) != 1 or len(days) != 1:
            raise ValueError(
                f"channel {self.channel!r}: geos must share campaigns and days "
                f"(campaign lists: {len(names)}, day counts: {sorted(days)})"
            )
        if any(d.channel != self.channel for d in self.designs):
            raise ValueError(f"channel {self.channel!r}: a design names another channel")

    @property
    def campaigns(self) -> tuple[str, ...]:
        """The channel's campaigns (over all geos)."""
        return self.designs[0].campaigns


@dataclass(frozen=True)
class GeoLift:
    """One campaign lift test on the geo regression's grid (see :mod:`mixlens.ima.lift`).

    Parameters
    ----------
    channel
        Index of the channel among the designs.
    column
        Index of the campaign among the channel's campaigns.
    geos
        Indices of the geos (within the channel's ``geos``) the test ran in.
    first, last
        Window as day indices (inclusive).
    value
        Measured incremental outcome summed over those geos, target units.
    se
        Its standard error, target units.
    """

    channel: int
    column: int
    geos: tuple[int, ...]
    first: int
    last: int
    value: float
    se: float


@dataclass(frozen=True, eq=False)
class GeoDraws:
    """Posterior draws of the geo regression.

    Parameters
    ----------
    by_geo
        Geo -> draws of that geo's channels, as the national regression's
        (:meth:`~mixlens.ima.regression.RegressionDraws.campaign_parts` applies).
    shared
        Channel -> draws of each campaign's shared relative effect ``exp(s_c u_k)``,
        shape ``(n_draws, n_campaigns)`` (all ones with ``pooling="none"``).
    geo_sd
        Channel -> draws of ``tau_c``, the spread of log campaign effects across geos,
        shape ``(n_draws,)`` (empty with ``pooling="none"``).
    pooling
        ``"partial"`` or ``"none"``.
    """

    by_geo: dict[str, RegressionDraws]
    shared: dict[str, FloatArray]
    geo_sd: dict[str, FloatArray]
    pooling: str


@dataclass(frozen=True, eq=False)
class _Layout:
    """Index arrays of the flattened model: units (channel, geo), cells (unit, campaign)."""

    units: list[tuple[int, int]]  # (channel index, geo index within the channel)
    cell_unit: IntArray  # (n_cells,)
    cell_pair: IntArray  # (n_cells,): (channel, campaign) pair
    cell_channel: IntArray  # (n_cells,)
    unit_channel: IntArray  # (n_units,)
    col_scale: FloatArray  # (n_units,)
    y_scale: FloatArray  # (n_units,)


def _layout(designs: Sequence[GeoChannelDesign], model: RegressionModel) -> _Layout:
    units: list[tuple[int, int]] = []
    cell_unit, cell_pair, cell_channel, unit_channel = [], [], [], []
    col_scale, y_scale = [], []
    pair_offset = 0
    for c, gd in enumerate(designs):
        n_k = len(gd.campaigns)
        for g, d in enumerate(gd.designs):
            u = len(units)
            units.append((c, g))
            unit_channel.append(c)
            cell_unit += [u] * n_k
            cell_pair += list(range(pair_offset, pair_offset + n_k))
            cell_channel += [c] * n_k
            y_scale.append(d.y_scale)
            if model == "linear":
                col_scale.append(d.effectiveness / d.y_scale)
            else:
                mean = float(d.x.sum(axis=1).mean())
                col_scale.append(1.0 / mean if mean > 0 else 1.0)
        pair_offset += n_k
    return _Layout(
        units=units,
        cell_unit=np.asarray(cell_unit, dtype=np.int64),
        cell_pair=np.asarray(cell_pair, dtype=np.int64),
        cell_channel=np.asarray(cell_channel, dtype=np.int64),
        unit_channel=np.asarray(unit_channel, dtype=np.int64),
        col_scale=np.asarray(col_scale, dtype=np.float64),
        y_scale=np.asarray(y_scale, dtype=np.float64),
    )


def _build_model(
    designs: Sequence[GeoChannelDesign],
    layout: _Layout,
    *,
    model: RegressionModel,
    pooling: Pooling,
    period_days: int,
    saturation_days: int,
    measured_sd: FloatArray | None = None,
    lifts: Sequence[GeoLift] = (),
    interaction: tuple[Mapping[int, FloatArray], Mapping[int, int]] = ({}, {}),
) -> Any:
    """Build the PyMC model of every channel's geo regression (see the module docstring).

    ``measured_sd`` is the MMM's sd per likelihood period and unit on the scaled outcome,
    ``(n_periods, n_units)`` (``None``: exact contributions).
    """
    import pymc as pm
    import pytensor.tensor as pt

    flat = [d for gd in designs for d in gd.designs]
    n_units, n_cells = len(flat), layout.cell_unit.size
    n_ch = len(designs)
    n_pairs = int(layout.cell_pair.max()) + 1
    x_scaled = np.concatenate(
        [d.x * f for d, f in zip(flat, layout.col_scale, strict=True)], axis=1
    )  # (T, n_cells)
    y_scaled = np.stack([d.y / s for d, s in zip(flat, layout.y_scale, strict=True)], axis=1)
    onehot = np.zeros((n_cells, n_units))
    onehot[np.arange(n_cells), layout.cell_unit] = 1.0
    with pm.Model() as pm_model:
        alpha = pm.HalfNormal("alpha", 0.05, shape=n_units)
        sigma = pm.HalfNormal("sigma", 1.0, shape=n_units)
        z = pm.Normal("z", 0.0, 1.0, shape=n_cells)
        if pooling == "partial":
            spread = pm.HalfNormal("spread", 0.5, shape=n_ch)
            tau = pm.HalfNormal("tau", 0.5, shape=n_ch)
            u = pm.Normal("u", 0.0, 1.0, shape=n_pairs)
            pm.Deterministic("shared", pt.exp(spread[layout.cell_channel] * u[layout.cell_pair]))
            log_m = spread[layout.cell_channel] * u[layout.cell_pair] + tau[layout.cell_channel] * z
        else:
            spread_unit = pm.HalfNormal("spread_unit", 0.5, shape=n_units)
            log_m = spread_unit[layout.cell_unit] * z
        if model == "linear":
            mu = pm.Normal("mu", 0.0, 0.5, shape=n_units)
            log_m = log_m + mu[layout.cell_unit]
        m = pm.Deterministic("m", pt.exp(log_m))
        multiplier = interaction_multiplier(interaction[0], y_scaled.shape, interaction[1])
        pressure = pt.dot(pt.as_tensor(x_scaled) * m[None, :], pt.as_tensor(onehot))
        half: Any = None
        slope: Any = None
        top: Any = None
        per_day: Any = None
        if model == "linear":
            media = pressure
        else:
            half = pm.LogNormal("K", 0.0, 0.7, shape=n_units)
            slope = pm.LogNormal("s", 0.0, 0.5, shape=n_units)
            top = pm.LogNormal("B", np.log(2.0), 1.0, shape=n_units)
            media, per_day = saturated_media(pressure, half, slope, top, saturation_days)
        if multiplier is not None:
            media = media * multiplier
        add_period_likelihood(media + alpha[None, :], y_scaled, sigma, period_days, measured_sd)
        if lifts:
            unit_of = {pair: u for u, pair in enumerate(layout.units)}
            first_cell = {
                u: int(np.flatnonzero(layout.cell_unit == u)[0]) for u in unit_of.values()
            }
            implied, measured, se = [], [], []
            for lift in lifts:
                days = slice(lift.first, lift.last + 1)
                units = [unit_of[(lift.channel, g)] for g in lift.geos]
                # Each geo's implied response in target units, scaled by the tested geos'
                # largest outcome scale so the likelihood term is O(1).
                scale = float(max(layout.y_scale[u] for u in units))
                terms = []
                for u in units:
                    cell = first_cell[u] + lift.column
                    part = pt.as_tensor(x_scaled[days, cell]) * m[cell]
                    curve = None if model == "linear" else (pressure, per_day, half, slope, top)
                    response = lift_response(part, u, days, curve, multiplier)
                    terms.append(response.sum() * (layout.y_scale[u] / scale))
                implied.append(sum(terms[1:], terms[0]))
                measured.append(lift.value / scale)
                se.append(lift.se / scale)
            pm.Normal(
                "lift", mu=pt.stack(implied), sigma=np.asarray(se), observed=np.asarray(measured)
            )
    return pm_model


def _measured_sd(
    designs: Sequence[GeoChannelDesign],
    layout: _Layout,
    period_sd: Mapping[str, Mapping[str, ArrayLike]] | None,
    period_days: int,
) -> FloatArray | None:
    """Return the MMM's sd per likelihood period and unit on the scaled outcome (or None)."""
    if period_sd is None:
        return None
    n_periods = designs[0].designs[0].y.size // period_days
    out = np.zeros((n_periods, len(layout.units)))
    for u, c, sd in _unit_values(designs, layout, period_sd):
        gd, g = designs[c], layout.units[u][1]
        if sd.shape != (n_periods,) or not np.all(np.isfinite(sd)) or np.any(sd < 0):
            raise ValueError(
                f"period_sd for geo {gd.geos[g]!r} and channel {gd.channel!r} must be "
                f"{n_periods} finite non-negative values, got shape {sd.shape}"
            )
        # Period means on the scaled outcome, as the likelihood compares them.
        out[:, u] = sd / period_days / layout.y_scale[u]
    return out if out.any() else None


_OUTPUTS = ("m", "alpha", "K", "s", "B", "shared", "tau", "gamma")
# Held at the mode by the Laplace approximation (value variables): the levels and spreads
# of the log campaign effects, whose curved ridges a Gaussian cannot follow.
_HYPER = frozenset({"mu", "spread_log__", "tau_log__", "spread_unit_log__"})


def fit_geo_regression(
    designs: Sequence[GeoChannelDesign],
    *,
    model: RegressionModel = "linear",
    pooling: Pooling = "partial",
    method: GeoFitMethod = "advi",
    draws: int = 200,
    seed: int = 0,
    advi_steps: int = 8000,
    tune: int = 500,
    period_days: int = 1,
    saturation_days: int = 1,
    period_sd: Mapping[str, Mapping[str, ArrayLike]] | None = None,
    lifts: Sequence[GeoLift] = (),
    interactions: Mapping[str, Mapping[str, ArrayLike]] | None = None,
    laplace_iterations: int = 5000,
) -> GeoDraws:
    """Fit every channel's campaign regression over all geos jointly; return draws.

    Parameters
    ----------
    designs
        One :class:`GeoChannelDesign` per channel, all with the same number of days.
    model
        ``"linear"`` (the paper's regression) or ``"saturating"`` (campaigns through the
        geo's Hill curve of their weighted pressure), as in
        :func:`~mixlens.ima.regression.fit_regression`.
    pooling
        ``"partial"`` (campaign effects pooled across geos, see the module docstring) or
        ``"none"`` (independent geos).
    method
        ``"advi"`` (mean-field ADVI with Adam, then ``draws`` samples), ``"laplace"``
        (the mode by L-BFGS, at most ``laplace_iterations`` iterations, and a Gaussian
        with the full inverse Hessian, the pooling hyperparameters held at the mode; see
        the module docstring) or ``"nuts"`` (2 chains of ``draws`` after ``tune``).
    draws
        Posterior draws (per chain for NUTS).
    seed
        Random seed; the same seed gives the same draws.
    advi_steps
        ADVI optimisation steps.
    tune
        NUTS tuning steps per chain.
    period_days
        Days per MMM period of the likelihood (7: weekly means; 1: daily).
    saturation_days
        Saturating model: days over which the curve acts on the mean pressure.
    period_sd
        Geo -> channel -> the standard deviation of the MMM's contribution in each
        likelihood period (target units, period totals, shape
        ``(n_days // period_days,)``; e.g. over a geo MMM's posterior draws, see
        :func:`mixlens.ima.geo.fit_geo_ima`). The likelihood treats that geo's
        contributions as measured with that error, as ``period_sd`` in
        :func:`~mixlens.ima.regression.fit_regression` does. ``None`` (default), or a
        geo or channel absent: exact contributions.
    lifts
        Campaign lift tests (:class:`GeoLift`), as evidence in the likelihood.
    interactions
        Geo -> target channel -> its sources' activity per day in that geo, shape
        ``(n_days, n_sources)``, the same sources in every geo (see ``interactions`` in
        :func:`~mixlens.ima.regression.fit_regression`). ``None``: no interaction terms.
    laplace_iterations
        Most L-BFGS iterations of ``method="laplace"``.

    Returns
    -------
    GeoDraws
        Per geo, the draws in the national regression's form; the shared campaign
        effects and the spread across geos.

    Raises
    ------
    ValueError
        If ``designs`` is empty, day counts differ or do not divide into periods, an
        option is unknown, or a ``period_sd`` is not one finite non-negative value per
        period.
    """
    if not designs:
        raise ValueError("no channels to fit")
    n_days = {d.y.size for gd in designs for d in gd.designs}
    if len(n_days) != 1:
        raise ValueError(f"designs have different numbers of days: {sorted(n_days)}")
    days = n_days.pop()
    if model not in ("linear", "saturating"):
        raise ValueError(f"model must be 'linear' or 'saturating', got {model!r}")
    if pooling not in ("partial", "none"):
        raise ValueError(f"pooling must be 'partial' or 'none', got {pooling!r}")
    if method not in ("advi", "nuts", "laplace"):
        raise ValueError(f"method must be 'advi', 'nuts' or 'laplace', got {method!r}")
    if draws < 1:
        raise ValueError(f"draws must be >= 1, got {draws}")
    for name, value in (("period_days", period_days), ("saturation_days", saturation_days)):
        if value < 1 or days % value:
            raise ValueError(f"{name} must be >= 1 and divide the {days} days, got {value}")
    layout = _layout(designs, model)
    measured = _measured_sd(designs, layout, period_sd, period_days)
    centred, offsets = _interaction_inputs(designs, layout, interactions, days)
    rng = np.random.default_rng(seed)
    with quiet_pymc():
        pm_model = _build_model(
            designs,
            layout,
            model=model,
            pooling=pooling,
            period_days=period_days,
            saturation_days=saturation_days,
            measured_sd=measured,
            lifts=lifts,
            interaction=(centred, offsets),
        )
        if method == "laplace":
            post = laplace_draws(
                pm_model, draws, rng, maxiter=laplace_iterations, names=_OUTPUTS, hyper=_HYPER
            )
        else:
            post = sample_posterior(
                pm_model,
                "nuts" if method == "nuts" else "advi",
                draws=draws,
                tune=tune,
                advi_steps=advi_steps,
                rng=rng,
                names=_OUTPUTS,
            )
    return _to_draws(designs, layout, post, model=model, pooling=pooling, method=method,
                     saturation_days=saturation_days, interaction=(centred, offsets))  # fmt: skip


def _unit_values(
    designs: Sequence[GeoChannelDesign],
    layout: _Layout,
    by_geo: Mapping[str, Mapping[str, ArrayLike]],
) -> Iterator[tuple[int, int, FloatArray]]:
    """Yield ``(unit, channel index, value)`` for the units with a value in ``by_geo``."""
    for u, (c, g) in enumerate(layout.units):
        given = by_geo.get(designs[c].geos[g], {})
        if designs[c].channel in given:
            yield u, c, np.asarray(given[designs[c].channel], dtype=np.float64)


def _interaction_inputs(
    designs: Sequence[GeoChannelDesign],
    layout: _Layout,
    interactions: Mapping[str, Mapping[str, ArrayLike]] | None,
    n_days: int,
) -> tuple[dict[int, FloatArray], dict[int, int]]:
    """Centred activity per unit and each unit's first ``gamma`` (shared by its geos)."""
    from mixlens.ima.interactions import centred_activity

    centred: dict[int, FloatArray] = {}
    offsets: dict[int, int] = {}
    if not interactions:
        return centred, offsets
    width: dict[int, int] = {}
    for u, c, values in _unit_values(designs, layout, interactions):
        gd, g = designs[c], layout.units[u][1]
        if values.ndim != 2 or values.shape[0] != n_days or not np.all(np.isfinite(values)):
            raise ValueError(
                f"interaction activity of {gd.channel!r} in geo {gd.geos[g]!r} must be "
                f"finite, shape ({n_days}, n_sources), got {values.shape}"
            )
        if width.setdefault(c, values.shape[1]) != values.shape[1]:
            raise ValueError(f"interaction of {gd.channel!r}: every geo needs the same sources")
        centred[u] = centred_activity(values)
    start = 0
    for c in sorted(width):
        for u in (u for u in centred if layout.units[u][0] == c):
            offsets[u] = start
        start += width[c]
    return centred, offsets


def _to_draws(
    designs: Sequence[GeoChannelDesign],
    layout: _Layout,
    post: dict[str, FloatArray],
    *,
    model: RegressionModel,
    pooling: Pooling,
    method: str,
    saturation_days: int,
    interaction: tuple[Mapping[int, FloatArray], Mapping[int, int]] = ({}, {}),
) -> GeoDraws:
    """Back to each geo's data units, one national-form draws object per geo."""
    beta: dict[str, dict[str, FloatArray]] = {}
    alpha: dict[str, dict[str, FloatArray]] = {}
    curve: dict[str, dict[str, dict[str, FloatArray]]] = {}
    multipliers: dict[str, dict[str, FloatArray]] = {}
    gammas: dict[str, dict[str, FloatArray]] = {}
    centred, offsets = interaction
    for u, (c, g) in enumerate(layout.units):
        gd = designs[c]
        geo = gd.geos[g]
        scale = layout.col_scale[u] * (layout.y_scale[u] if model == "linear" else 1.0)
        beta.setdefault(geo, {})[gd.channel] = post["m"][:, layout.cell_unit == u] * scale
        alpha.setdefault(geo, {})[gd.channel] = post["alpha"][:, u] * layout.y_scale[u]
        if u in centred:
            block = post["gamma"][:, offsets[u] : offsets[u] + centred[u].shape[1]]
            gammas.setdefault(geo, {})[gd.channel] = block
            multipliers.setdefault(geo, {})[gd.channel] = np.exp(block @ centred[u].T)
        if model == "saturating":
            curve.setdefault(geo, {})[gd.channel] = {
                "B": post["B"][:, u] * layout.y_scale[u],
                "K": post["K"][:, u],
                "s": post["s"][:, u],
            }
    by_geo = {
        geo: RegressionDraws(
            beta=beta[geo],
            alpha=alpha[geo],
            method=method,
            model=model,
            curve=curve.get(geo, {}),
            saturation_days=saturation_days if model == "saturating" else 1,
            interaction=multipliers.get(geo, {}),
            gamma=gammas.get(geo, {}),
        )
        for geo in beta
    }
    shared: dict[str, FloatArray] = {}
    geo_sd: dict[str, FloatArray] = {}
    n_draws = post["m"].shape[0]
    for c, gd in enumerate(designs):
        first = np.flatnonzero(layout.unit_channel == c)[0]
        cells = layout.cell_unit == first
        if pooling == "partial":
            shared[gd.channel] = post["shared"][:, cells]
            geo_sd[gd.channel] = post["tau"][:, c]
        else:
            shared[gd.channel] = np.ones((n_draws, int(cells.sum())))
            geo_sd[gd.channel] = np.empty(0)
    return GeoDraws(by_geo=by_geo, shared=shared, geo_sd=geo_sd, pooling=pooling)
