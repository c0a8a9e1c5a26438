"""The MMM section's carryover and saturation table, and the words for its lead.

:func:`transforms_table` lists each channel's own adstock (carryover) and saturation with
their fitted parameters from ``params.csv`` of ``mixlens mmm fit`` (posterior mean and
interval, in plain units), and the mean lag of the adstock kernel at the posterior-mean
parameters; :func:`transform_words` names the transforms of a spec for the section's lead.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from mixlens.data.schemas import ALL_GEOS
from mixlens.mmm.components import AdstockTransform, SaturationTransform, WeibullAdstock
from mixlens.mmm.spec import MMMSpec
from mixlens.report.html import Block, Table, Text

__all__ = ["transform_blocks", "transform_words", "transforms_table"]

#: A transform kind as the report names it.
KIND_NAMES = {
    "delayed": "delayed",
    "geometric": "geometric",
    "weibull": "Weibull",
    "hill": "Hill",
    "logistic": "logistic",
}

#: Each parameter's plain name and the unit written after its interval (``params.csv``
#: reports media-scale parameters in spend units: half-saturation in currency per week,
#: lam per currency unit).
PARAMETER_WORDS = {
    "theta": ("retention", ""),
    "peak": ("peak", "weeks"),
    "alpha": ("retention", "per week"),
    "shape": ("shape", ""),
    "scale": ("scale", "weeks"),
    "half_saturation": ("half-saturation", "spend per week"),
    "slope": ("slope", ""),
    "lam": ("half effect at", "spend per week"),
}

#: Parameters shown through a monotone map to a plainer quantity: logistic ``lam`` as the
#: steady weekly spend at which ``tanh(lam * x / 2)`` reaches half its maximum,
#: ``x = ln(3) / lam`` (decreasing, so the interval's ends swap).
PLAIN_VALUES = {"lam": lambda lam: math.log(3.0) / lam if lam > 0 else math.inf}

COLUMNS = ["channel", "carryover (adstock)", "mean lag, weeks", "saturation"]


def transform_words(spec: MMMSpec | None) -> str:
    """Name the spec's transforms for a sentence: one kind each, or chosen per channel.

    Parameters
    ----------
    spec
        The fit's spec; None where the fit folder has no ``spec.json`` (generic words).

    Examples
    --------
    >>> from mixlens.mmm.spec import GeometricAdstock
    >>> transform_words(MMMSpec(channels=("tv", "search")))
    'delayed adstock and Hill saturation'
    >>> transform_words(MMMSpec(channels=("tv", "search"),
    ...                         adstock={"tv": GeometricAdstock(), "search": GeometricAdstock()}))
    'geometric adstock and Hill saturation'
    >>> transform_words(MMMSpec(channels=("tv", "search"), adstock={"tv": GeometricAdstock()}))
    'adstock and saturation chosen per channel'
    """
    if spec is None:
        return "adstock and saturation"
    adstock, saturation = spec.adstocks.single, spec.saturations.single
    if adstock is not None and saturation is not None:
        return f"{_kind(adstock)} adstock and {_kind(saturation)} saturation"
    return "adstock and saturation chosen per channel"


def transforms_table(spec: MMMSpec, params: pd.DataFrame) -> pd.DataFrame:
    """Tabulate each channel's adstock and saturation with its fitted parameters.

    Parameters
    ----------
    spec
        The fit's spec (``spec.json``): the kind of each channel's transforms.
    params
        ``params.csv``: ``channel, parameter, mean, lo, hi`` (and ``geo`` for a geo fit,
        whose ``all`` rows are read: shared parameters; half-saturation and lam have
        rows per geo only, in each geo's currency, and show as "per geo").

    Returns
    -------
    pandas.DataFrame
        One row per channel of the spec: ``channel``, ``carryover (adstock)`` (kind and
        parameters, e.g. ``"geometric: retention 0.41 [0.22, 0.60] per week"``), ``mean
        lag, weeks`` (of the kernel at the posterior-mean parameters; ``n/a`` where a
        parameter has no row) and ``saturation`` (kind and parameters). A channel shows
        only its own transforms' parameters.

    Examples
    --------
    >>> from mixlens.mmm.spec import GeometricAdstock
    >>> spec = MMMSpec(channels=("tv",), adstock={"tv": GeometricAdstock(l_max=4)})
    >>> params = pd.DataFrame({"channel": "tv", "parameter": ["alpha", "half_saturation",
    ...     "slope"], "mean": [0.5, 1200.0, 1.1], "lo": [0.3, 900.0, 0.8],
    ...     "hi": [0.7, 1600.0, 1.5]})
    >>> row = transforms_table(spec, params).iloc[0]
    >>> row["carryover (adstock)"], row["mean lag, weeks"]
    ('geometric: retention 0.50 [0.30, 0.70] per week', '0.7')
    >>> row["saturation"]
    'Hill: half-saturation 1,200 [900, 1,600] spend per week, slope 1.10 [0.80, 1.50]'
    """
    geo = "geo" in params.columns
    if geo:
        params = params[(params["geo"].astype(str) == ALL_GEOS).to_numpy()]
    numbers = params[["mean", "lo", "hi"]].to_numpy(dtype=np.float64)
    keys = zip(params["channel"].astype(str), params["parameter"].astype(str), strict=True)
    values = {
        key: (float(m), float(lo), float(hi))
        for key, (m, lo, hi) in zip(keys, numbers, strict=True)
    }
    rows = []
    for channel in spec.channels:
        adstock = spec.adstocks.transform_of(channel)
        saturation = spec.saturations.transform_of(channel)
        rows.append(
            (
                channel,
                _cell(adstock, channel, values, geo=geo),
                _fixed(_mean_lag(adstock, channel, values), ".1f"),
                _cell(saturation, channel, values, geo=geo),
            )
        )
    return pd.DataFrame(rows, columns=COLUMNS)


def transform_blocks(spec: MMMSpec | None, params: pd.DataFrame | None, ci: float) -> list[Block]:
    """Return the explanation and the carryover and saturation table (none without both)."""
    if spec is None or params is None:
        return []
    table = transforms_table(spec, params)
    return [
        Text(
            "Carryover (adstock) is how long an ad keeps working after the week it runs: the "
            "longer the mean lag, the more of its effect lands in later weeks. Saturation is "
            "where extra spend stops paying: weekly spend well past a channel's "
            "half-saturation (for a logistic curve: the spend at which it gives half its "
            "largest effect) buys little more."
        ),
        Table(
            table,
            f"Carryover and saturation per channel: posterior mean [{ci:.0%} credible "
            "interval] of each parameter of the channel's own adstock and saturation; "
            "retention is the share of the effect carried one week further (for delayed "
            "adstock, one week past its peak), half-saturation the weekly spend at which the "
            "channel gives half its largest weekly effect (for a logistic curve, the same "
            "point, ln(3) / lam), and a slope above 1 an S-shaped curve. The mean lag is "
            "that of the adstock kernel at the posterior-mean parameters."
            + (
                " A geo fit shares the adstock and slope across geos; half-saturation and "
                "the logistic half-effect point are per geo, in each geo's spend "
                "(params.csv)."
                if "geo" in params.columns
                else ""
            ),
        ),
    ]


def _kind(transform: AdstockTransform | SaturationTransform) -> str:
    name = KIND_NAMES.get(transform.kind_name, transform.kind_name)
    if isinstance(transform, WeibullAdstock) and transform.kind == "cdf":
        return f"{name} (cdf)"
    return name


def _cell(
    transform: AdstockTransform | SaturationTransform,
    channel: str,
    values: dict[tuple[str, str], tuple[float, float, float]],
    *,
    geo: bool,
) -> str:
    """``"kind: name mean [lo, hi] unit, ..."`` of one channel's transform."""
    parts = []
    for name in transform.parameters:
        label, unit = PARAMETER_WORDS.get(name, (name, ""))
        found = values.get((channel, name))
        if found is None:
            name_only = label.removesuffix(" at")
            parts.append(f"{name_only} per geo" if geo else f"{name_only} n/a")
            continue
        mean, lo, hi = found
        plain = PLAIN_VALUES.get(name)
        if plain is not None:
            mean, lo, hi = plain(mean), *sorted((plain(lo), plain(hi)))
        interval = f"{label} {_number(mean)} [{_number(lo)}, {_number(hi)}]"
        parts.append(f"{interval} {unit}" if unit else interval)
    return f"{_kind(transform)}: " + ", ".join(parts)


def _mean_lag(
    adstock: AdstockTransform,
    channel: str,
    values: dict[tuple[str, str], tuple[float, float, float]],
) -> float:
    """Mean lag (weeks) of the channel's kernel at its posterior-mean parameters; NaN if unknown."""
    means = {}
    for name in adstock.parameters:
        found = values.get((channel, name))
        if found is None:
            return float("nan")
        means[name] = np.asarray(found[0], dtype=np.float64)
    try:
        weights = adstock.np_weights(means)
    except ValueError:  # a posterior mean outside the kernel's domain
        return float("nan")
    total = float(weights.sum())
    if not total > 0:
        return float("nan")
    return float((np.arange(weights.shape[0]) * weights).sum() / total)


def _number(value: float) -> str:
    """About two significant digits for small values, thousands separated for large ones."""
    if not math.isfinite(value):
        return "n/a"
    size = abs(value)
    if size >= 100:
        return f"{value:,.0f}"
    if size >= 10:
        return f"{value:.1f}"
    if size >= 1 or size == 0:
        return f"{value:.2f}"
    return f"{value:.{max(2, 1 - math.floor(math.log10(size)))}f}"


def _fixed(value: float, spec: str) -> str:
    return format(value, spec) if math.isfinite(value) else "n/a"
