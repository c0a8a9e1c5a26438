"""In-sample fit and posterior predictive checks of a fitted MMM (``fit.csv``).

A posterior predictive check asks whether data the fitted model generates look like the
data it was fitted to. For each posterior draw ``d`` the model's expected outcome
``E[y | d]`` (``mu``, target units, one value per week) plus Normal noise of that draw's
``sigma`` (target units) is a replicate ``y_rep``. A test statistic ``T`` is computed on
the observed series and on every replicate; the posterior predictive p-value is the share
of draws with ``T(y_rep) >= T(y)``. Near 0 or 1, the model rarely reproduces that feature
of the data.

The statistics (:data:`STATISTICS`) are the series' mean, standard deviation, minimum,
maximum and lag-1 autocorrelation, and the lag-1 autocorrelation of the residual
``y - E[y | d]`` (compared, draw by draw, with that of the replicate's residual
``y_rep - E[y | d]``): a residual autocorrelation the noise rarely reaches is the classic
sign of a missing time structure (trend, season, carryover).

Two passes keep memory flat as draws x weeks grow, as the engine's accessors do (see
:mod:`mixlens.mmm._engine`): the statistics loop over chunks of draws, each covering every
week; the weekly predictive interval loops over blocks of weeks, each covering every draw.
Each pass draws its noise from its own stream in an order that does not depend on the
chunking (rows of draws for the first, rows of weeks for the second), so the numbers do
not change with ``chunk_size``.

For a geo panel, the checks are made on the total over geos (each geo's replicate summed
draw by draw: a Normal with the summed expectation and ``sqrt(sum sigma_g**2)``); the fit
table and its metrics are given per geo and for ``all``.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from mixlens.mmm.geo import ALL_GEOS, GeoMMMResult
from mixlens.mmm.results import MMMResult
from mixlens.mmm.thresholds import COVERAGE_SLACK, EXTREME_P

__all__ = [
    "STATISTICS",
    "PredictiveCheckWarning",
    "PredictiveFit",
    "ReplicateStatistics",
    "array_blocks",
    "array_chunks",
    "check_fit",
    "fit_metrics",
    "geo_fit_metrics",
    "lag1_autocorrelation",
    "p_values",
    "predictive_bands",
    "predictive_warnings",
    "replicate_statistics",
    "series_statistics",
    "warn_predictive",
]

FloatArray = NDArray[np.float64]
#: Draws (or weeks) slice and the expected outcome on it.
Chunk = tuple[slice, FloatArray]

#: Test statistics, in the order of the summary's ``p_values``.
STATISTICS = ("mean", "sd", "min", "max", "acf1", "residual_acf1")

_LABELS = {
    "mean": "mean",
    "sd": "standard deviation",
    "min": "minimum",
    "max": "maximum",
    "acf1": "lag-1 autocorrelation",
    "residual_acf1": "lag-1 residual autocorrelation",
}
#: What an extreme p-value means, for a low p (observed above the replicates) and a high p.
_MEANING = {
    "mean": ("the fit is biased low", "the fit is biased high"),
    "sd": (
        "the model understates how much the outcome varies",
        "the model overstates how much the outcome varies",
    ),
    "min": ("the model's low weeks are too low", "the data dip lower than the model allows"),
    "max": ("the data peak higher than the model allows", "the model's peaks are too high"),
    "acf1": (
        "the outcome is more persistent week to week than the model's replicates",
        "the outcome is less persistent week to week than the model's replicates",
    ),
    "residual_acf1": (
        "a time structure is missing",
        "the residuals alternate more than noise would: the fit follows week-to-week noise",
    ),
}


class PredictiveCheckWarning(UserWarning):
    """The fitted model's replicates rarely reproduce a feature of the observed outcome.

    A misfit of the model, not of the sampler (that is
    :class:`~mixlens.mmm.fit.ConvergenceWarning`): more draws will not remove it; a
    missing term (trend, seasonality, a control) or another media form may.
    """


def lag1_autocorrelation(x: ArrayLike, *, axis: int = -1) -> FloatArray:
    """Lag-1 autocorrelation of series along ``axis`` (NaN for a constant series).

    ``sum((x_t - m) (x_{t+1} - m)) / sum((x_t - m)**2)`` with ``m`` the series' mean.

    Examples
    --------
    >>> float(lag1_autocorrelation([1.0, 2.0, 3.0, 4.0]))
    0.25
    >>> lag1_autocorrelation([[1.0, -1.0, 1.0, -1.0]]).round(2).tolist()
    [-0.75]
    """
    values = np.moveaxis(np.asarray(x, dtype=np.float64), axis, -1)
    centred = values - values.mean(axis=-1, keepdims=True)
    numerator = (centred[..., 1:] * centred[..., :-1]).sum(axis=-1)
    denominator = (centred**2).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out: FloatArray = np.where(denominator > 0, numerator / denominator, np.nan)
    return out


def series_statistics(y: ArrayLike) -> dict[str, FloatArray]:
    """Statistics of series along the last axis: ``mean, sd, min, max, acf1``.

    ``y`` is ``(..., T)`` (target units); each value is ``(...)``: mean, standard deviation
    (``ddof=0``), minimum, maximum (target units) and lag-1 autocorrelation.

    Examples
    --------
    >>> {k: round(float(v), 3) for k, v in series_statistics([1.0, 2.0, 3.0, 4.0]).items()}
    {'mean': 2.5, 'sd': 1.118, 'min': 1.0, 'max': 4.0, 'acf1': 0.25}
    """
    values = np.asarray(y, dtype=np.float64)
    return {
        "mean": values.mean(axis=-1),
        "sd": values.std(axis=-1),
        "min": values.min(axis=-1),
        "max": values.max(axis=-1),
        "acf1": lag1_autocorrelation(values),
    }


def array_chunks(expected: ArrayLike, chunk_size: int) -> Iterator[Chunk]:
    """Cut ``expected`` ``(S, ...)`` into chunks of at most ``chunk_size`` draws.

    Examples
    --------
    >>> [s for s, _ in array_chunks(np.zeros((5, 3)), 2)]
    [slice(0, 2, None), slice(2, 4, None), slice(4, 5, None)]
    """
    values = np.asarray(expected, dtype=np.float64)
    size = max(1, chunk_size)
    for start in range(0, values.shape[0], size):
        draws = slice(start, min(start + size, values.shape[0]))
        yield draws, values[draws]


def array_blocks(expected: ArrayLike, block_weeks: int) -> Iterator[Chunk]:
    """Cut ``expected`` ``(S, ..., T)`` into blocks of at most ``block_weeks`` weeks (last axis).

    Examples
    --------
    >>> [w for w, _ in array_blocks(np.zeros((4, 5)), 3)]
    [slice(0, 3, None), slice(3, 5, None)]
    """
    values = np.asarray(expected, dtype=np.float64)
    n_weeks = values.shape[-1]
    size = max(1, block_weeks)
    for start in range(0, n_weeks, size):
        weeks = slice(start, min(start + size, n_weeks))
        yield weeks, values[..., weeks]


@dataclass(frozen=True)
class ReplicateStatistics:
    """Test statistics of the observed outcome and of one replicate per draw.

    Attributes
    ----------
    observed
        ``{statistic: (S,)}``: ``T(y)`` (the same for every draw, except
        ``residual_acf1``, which is that of ``y - E[y | d]``).
    replicated
        ``{statistic: (S,)}``: ``T(y_rep)`` (``residual_acf1``: of ``y_rep - E[y | d]``).
    """

    observed: Mapping[str, FloatArray]
    replicated: Mapping[str, FloatArray]


def replicate_statistics(
    y: ArrayLike, chunks: Iterable[Chunk], sigma: ArrayLike, *, seed: int = 0
) -> ReplicateStatistics:
    """Draw one replicate of the outcome per draw and compute the test statistics.

    Parameters
    ----------
    y
        Observed outcome, ``(T,)``, target units.
    chunks
        ``(draws, mu)`` in order of draws: ``mu`` is ``E[y | d]`` for those draws,
        ``(s, T)``, target units (e.g. :func:`array_chunks`).
    sigma
        Noise standard deviation per draw, ``(S,)``, target units.
    seed
        Seed of the noise. Draw ``d``'s noise is row ``d`` of one ``(S, T)`` standard
        Normal array, whatever the chunking.

    Returns
    -------
    ReplicateStatistics
        :data:`STATISTICS` of ``y`` and of each replicate.

    Examples
    --------
    >>> mu = np.zeros((3, 4))
    >>> stats = replicate_statistics([1.0, -1.0, 0.5, 0.0], array_chunks(mu, 2), np.ones(3))
    >>> stats.replicated["mean"].shape, float(stats.observed["max"][0])
    ((3,), 1.0)
    """
    observed_y = np.asarray(y, dtype=np.float64)
    scale = np.asarray(sigma, dtype=np.float64)
    rng = np.random.default_rng([seed, 1])
    fixed = series_statistics(observed_y)
    replicated: dict[str, list[FloatArray]] = {name: [] for name in STATISTICS}
    residual: list[FloatArray] = []
    for draws, mu in chunks:
        noise = rng.standard_normal(mu.shape) * scale[draws, None]
        for name, value in series_statistics(mu + noise).items():
            replicated[name].append(value)
        replicated["residual_acf1"].append(lag1_autocorrelation(noise))
        residual.append(lag1_autocorrelation(observed_y[None, :] - mu))
    n = len(scale)
    observed = {name: np.full(n, float(fixed[name])) for name in STATISTICS[:-1]}
    observed["residual_acf1"] = np.concatenate(residual)
    return ReplicateStatistics(
        observed=observed,
        replicated={name: np.concatenate(parts) for name, parts in replicated.items()},
    )


def p_values(stats: ReplicateStatistics) -> dict[str, float | None]:
    """Posterior predictive p-value per statistic: the share of draws with ``T(y_rep) >= T(y)``.

    None where a statistic is undefined for every draw (e.g. the autocorrelation of a
    constant series); draws where it is undefined are left out.

    Examples
    --------
    >>> stats = ReplicateStatistics(observed={"mean": np.zeros(4)},
    ...                             replicated={"mean": np.array([-1.0, 1.0, 2.0, 0.5])})
    >>> p_values(stats)
    {'mean': 0.75}
    """
    out: dict[str, float | None] = {}
    for name, observed in stats.observed.items():
        replicated = stats.replicated[name]
        valid = np.isfinite(observed) & np.isfinite(replicated)
        out[name] = float(np.mean(replicated[valid] >= observed[valid])) if valid.any() else None
    return out


def predictive_bands(
    blocks: Iterable[Chunk], sigma: ArrayLike, *, ci: float, seed: int = 0, total: bool = False
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Posterior mean of the expectation and the central predictive interval, per week.

    Parameters
    ----------
    blocks
        ``(weeks, mu)`` in order of weeks: ``mu`` is ``E[y | d]`` for every draw on those
        weeks, ``(S, G, b)`` for ``G`` series (geos) or ``(S, b)`` for one, target units
        (e.g. :func:`array_blocks`).
    sigma
        Noise standard deviation per draw (and series), ``(S, G)`` or ``(S,)``.
    ci
        Mass of the central interval, in ``(0, 1)``.
    seed
        Seed of the noise. Week ``t``'s noise is row ``t`` of one ``(T, S, G)`` standard
        Normal array, whatever the blocking.
    total
        Also return the sum over the series, its interval that of the replicates summed
        draw by draw (noise included).

    Returns
    -------
    tuple of numpy.ndarray
        ``(mean, lo, hi)``, each ``(T, G)`` (``(T, G + 1)`` with ``total``, the total last;
        ``(T, 1)`` for ``(S, b)`` blocks).

    Examples
    --------
    >>> mean, lo, hi = predictive_bands(array_blocks(np.ones((400, 3)), 2), np.ones(400), ci=0.9)
    >>> mean.shape, bool(np.all(lo < mean) and np.all(mean < hi))
    ((3, 1), True)
    """
    if not 0 < ci < 1:
        raise ValueError(f"ci must lie in (0, 1), got {ci}")
    scale = np.asarray(sigma, dtype=np.float64)
    scale = scale[:, None] if scale.ndim == 1 else scale  # (S, G)
    rng = np.random.default_rng([seed, 2])
    quantiles = [(1 - ci) / 2, (1 + ci) / 2]
    means, los, his = [], [], []
    for _, block in blocks:
        mu = block[:, None, :] if block.ndim == 2 else block  # (S, G, b)
        noise = rng.standard_normal((mu.shape[2], mu.shape[0], mu.shape[1]))  # (b, S, G)
        draws = mu + np.transpose(noise, (1, 2, 0)) * scale[:, :, None]
        mean = mu.mean(axis=0)  # (G, b)
        if total:
            draws = np.concatenate([draws, draws.sum(axis=1, keepdims=True)], axis=1)
            mean = np.concatenate([mean, mean.sum(axis=0, keepdims=True)], axis=0)
        lo, hi = np.quantile(draws, quantiles, axis=0)
        means.append(mean.T)
        los.append(lo.T)
        his.append(hi.T)
    return np.concatenate(means), np.concatenate(los), np.concatenate(his)


def fit_metrics(table: pd.DataFrame, ci: float) -> dict[str, Any]:
    """MAPE, R² and predictive-interval coverage of a fit or holdout table.

    ``table`` has ``date, actual, mean, lo, hi`` (one row per week); MAPE and R² are of
    ``mean`` against ``actual`` (R² None for a constant outcome), coverage the share of
    weeks with ``lo <= actual <= hi``.

    Examples
    --------
    >>> table = pd.DataFrame({"date": ["2024-01-01", "2024-01-08"], "actual": [10.0, 20.0],
    ...                       "mean": [11.0, 19.0], "lo": [9.0, 19.5], "hi": [13.0, 21.0]})
    >>> metrics = fit_metrics(table, 0.9)
    >>> round(metrics["mape"], 3), round(metrics["r2"], 3), metrics["coverage"]
    (0.075, 0.96, 1.0)
    """
    actual = table["actual"].to_numpy(dtype=float)
    mean = table["mean"].to_numpy(dtype=float)
    residual = actual - mean
    total = float(((actual - actual.mean()) ** 2).sum())
    covered = (table["lo"] <= table["actual"]) & (table["actual"] <= table["hi"])
    return {
        "weeks": len(table),
        "first_week": pd.Timestamp(table["date"].iloc[0]).date().isoformat(),
        "mape": float(np.mean(np.abs(residual) / np.abs(actual))),
        "r2": float(1.0 - (residual**2).sum() / total) if total > 0 else None,
        "coverage": float(covered.mean()),
        "ci": ci,
    }


def geo_fit_metrics(table: pd.DataFrame, ci: float) -> dict[str, Any]:
    """:func:`fit_metrics` of the total (``geo == "all"``) with each geo's in ``by_geo``.

    Examples
    --------
    >>> table = pd.DataFrame({"geo": ["a", "a", "all", "all"], "date": ["2024-01-01",
    ...     "2024-01-08"] * 2, "actual": [1.0, 3.0, 2.0, 6.0], "mean": [1.0, 3.0, 2.0, 5.0],
    ...     "lo": [0.0, 2.0, 1.0, 4.0], "hi": [2.0, 4.0, 3.0, 5.5]})
    >>> metrics = geo_fit_metrics(table, 0.9)
    >>> metrics["coverage"], [(m["geo"], m["r2"]) for m in metrics["by_geo"]]
    (0.5, [('a', 1.0), ('all', 0.875)])
    """
    by_geo = [
        {"geo": str(geo), **fit_metrics(rows, ci)} for geo, rows in table.groupby("geo", sort=False)
    ]
    total = next(m for m in by_geo if m["geo"] == ALL_GEOS)
    return {**{k: v for k, v in total.items() if k != "geo"}, "by_geo": by_geo}


def predictive_warnings(p: Mapping[str, float | None], coverage: float, ci: float) -> list[str]:
    """Return plain sentences for extreme p-values and for a low coverage.

    A p-value is extreme below :data:`EXTREME_P` or above ``1 - EXTREME_P``; coverage is
    low below ``ci - COVERAGE_SLACK``.

    Examples
    --------
    >>> lines = predictive_warnings({"residual_acf1": 0.002, "mean": 0.5}, 0.7, 0.9)
    >>> len(lines), lines[0].endswith("(p = 0.002): a time structure is missing")
    (2, True)
    >>> lines[1][:58]
    'only 70% of the fitted weeks lie inside the 90% predictive'
    """
    out = []
    for name, value in p.items():
        if value is None:
            continue
        low, high = _MEANING[name]
        if value < EXTREME_P:
            out.append(
                f"the model's replicates rarely reach the observed {_LABELS[name]} "
                f"(p = {value:.3g}): {low}"
            )
        elif value > 1 - EXTREME_P:
            out.append(
                f"the model's replicates almost always exceed the observed {_LABELS[name]} "
                f"(p = {value:.3g}): {high}"
            )
    if coverage < ci - COVERAGE_SLACK:
        out.append(
            f"only {coverage:.0%} of the fitted weeks lie inside the {ci:.0%} predictive "
            "interval: the model understates its error or misses part of the outcome"
        )
    return out


def warn_predictive(summary: Mapping[str, Any], *, stacklevel: int = 1) -> None:
    """Raise each of ``summary["warnings"]`` as a :class:`PredictiveCheckWarning`.

    ``stacklevel`` counts from the caller of this function (1: the caller's line).
    """
    for message in summary.get("warnings", ()):
        warnings.warn(message, PredictiveCheckWarning, stacklevel=stacklevel + 1)


@dataclass(frozen=True)
class PredictiveFit:
    """In-sample fit table and posterior predictive check of a fitted model.

    Attributes
    ----------
    table
        ``fit.csv``: ``date, actual, mean, lo, hi`` (a geo model: ``geo`` first, each geo
        and ``all``); ``mean`` is the posterior mean of the expected outcome, ``lo, hi``
        the central predictive interval of mass ``ci`` (noise included), target units.
    summary
        ``weeks, first_week, mape, r2, coverage, ci`` (of ``all`` for a geo model, with
        ``by_geo`` beside them), ``observed`` (``T(y)``; for ``residual_acf1`` its
        posterior mean), ``p_values`` and ``warnings`` (see :func:`predictive_warnings`).
    """

    table: pd.DataFrame
    summary: dict[str, Any]


def check_fit(result: MMMResult | GeoMMMResult, *, seed: int = 0) -> PredictiveFit:
    """Fit table and posterior predictive check of ``result`` on its fitted weeks.

    Memory stays within the engine's chunk bound (see :mod:`mixlens.mmm._engine`);
    ``seed`` seeds the noise of the replicates.
    """
    if isinstance(result, GeoMMMResult):
        return _check_geo(result, seed=seed)
    engine = result.engine()
    data = result.data
    sigma = _sigma(result) * data.y_scale
    every, all_weeks = slice(0, engine.n_samples), slice(0, data.n_weeks)
    stats = replicate_statistics(
        data.y,
        ((d, engine.components(d, all_weeks).sum(axis=2)) for d in engine.draw_chunks()),
        sigma,
        seed=seed,
    )
    mean, lo, hi = predictive_bands(
        ((w, engine.components(every, w).sum(axis=2)) for w in engine.week_blocks()),
        sigma,
        ci=result.ci,
        seed=seed,
    )
    table = pd.DataFrame(
        {
            "date": data.dates.strftime("%Y-%m-%d"),
            "actual": data.y,
            "mean": mean[:, 0],
            "lo": lo[:, 0],
            "hi": hi[:, 0],
        }
    )
    return PredictiveFit(table, _summary(fit_metrics(table, result.ci), stats))


def _check_geo(result: GeoMMMResult, *, seed: int) -> PredictiveFit:
    data = result.data
    engines = [result.engine(g) for g in range(len(result.geos))]
    sigma = _sigma(result) * data.y_scale[None, :]  # (S, G)
    first = engines[0]
    every, all_weeks = slice(0, first.n_samples), slice(0, data.base.n_weeks)

    def total(draws: slice) -> FloatArray:
        out = np.zeros((draws.stop - draws.start, data.base.n_weeks))
        for engine in engines:
            out += engine.components(draws, all_weeks).sum(axis=2)
        return out

    stats = replicate_statistics(
        data.y.sum(axis=1),
        ((d, total(d)) for d in first.draw_chunks()),
        np.sqrt((sigma**2).sum(axis=1)),
        seed=seed,
    )
    blocks = (
        (w, np.stack([e.components(every, w).sum(axis=2) for e in engines], axis=1))
        for w in first.week_blocks()
    )
    mean, lo, hi = predictive_bands(blocks, sigma, ci=result.ci, seed=seed, total=True)
    actual = np.column_stack([data.y, data.y.sum(axis=1)])
    dates = data.weeks.strftime("%Y-%m-%d")
    table = pd.concat(
        [
            pd.DataFrame(
                {
                    "geo": label,
                    "date": dates,
                    "actual": actual[:, g],
                    "mean": mean[:, g],
                    "lo": lo[:, g],
                    "hi": hi[:, g],
                }
            )
            for g, label in enumerate([*result.geos, ALL_GEOS])
        ],
        ignore_index=True,
    )
    return PredictiveFit(table, _summary(geo_fit_metrics(table, result.ci), stats))


def _sigma(result: MMMResult | GeoMMMResult) -> FloatArray:
    """Posterior draws of the noise sd on the model's scale, ``(S,)`` or ``(S, G)``."""
    sigma = result.idata["posterior"]["sigma"].stack(sample=("chain", "draw"))
    extra = [d for d in sigma.dims if d != "sample"]
    return np.asarray(sigma.transpose("sample", *extra).values, dtype=np.float64)


def _summary(metrics: dict[str, Any], stats: ReplicateStatistics) -> dict[str, Any]:
    """Return the summary's ``fit``: metrics, observed statistics, p-values and warnings."""
    p = p_values(stats)
    observed = {}
    for name, values in stats.observed.items():
        finite = values[np.isfinite(values)]
        observed[name] = float(finite.mean()) if finite.size else None
    return {
        **metrics,
        "observed": observed,
        "p_values": p,
        "warnings": predictive_warnings(p, metrics["coverage"], metrics["ci"]),
    }
