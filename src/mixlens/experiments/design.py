"""Design help for a planned geo test: minimum detectable effect and a balanced treated set.

**Minimum detectable effect** (:func:`minimum_detectable_effect`) is found by *simulation of
placebo windows*: the estimator (ratio DiD or synthetic control) runs on every historical
window of the planned length, with the planned treated geos and no test, so its relative errors
measure the noise it will face. With ``s`` their root mean square, the MDE at two-sided level
``alpha`` and power ``power`` is the normal approximation ``(z_{1-alpha/2} + z_power) * s``
(relative to the treated geos' outcome over the window), also given in target units.

**Treated geos** (:func:`choose_treated`) are drawn stratified by pre-period size (one geo per
stratum of neighbouring sizes), repeated ``draws`` times; the draw whose normalised treated
aggregate tracks the control aggregate best over the pre-period (smallest RMS of the log
ratio, after removing its mean) wins: a stratified rerandomisation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import stats

from mixlens._rng import RandomLike, as_generator
from mixlens.errors import DataError
from mixlens.experiments.geo import _sc_counterfactual
from mixlens.experiments.panel import GeoExperimentData, geo_experiment_data

__all__ = ["DesignChoice", "MDEResult", "choose_treated", "minimum_detectable_effect"]

Array = NDArray[np.float64]


def _matrix(frame: pd.DataFrame, target: str, file: str) -> GeoExperimentData:
    """Validate a panel with no design yet: the last period stands in as a one-period window."""
    dates = pd.to_datetime(frame["date"]) if "date" in frame.columns else None
    if dates is None or "geo" not in frame.columns:
        raise DataError("a geo panel needs 'date' and 'geo' columns", file=file)
    last = dates.max().strftime("%Y-%m-%d")
    first = str(frame["geo"].iloc[0])
    return geo_experiment_data(
        frame, treated=[first], start=last, end=last, target=target, file=file
    )


@dataclass(frozen=True)
class MDEResult:
    """Minimum detectable effect of a planned geo test.

    Attributes
    ----------
    relative
        MDE as a share of the treated geos' outcome over the window.
    absolute
        MDE in target units (``relative`` times the treated outcome over the last window).
    noise
        Root mean square relative error of the estimator over placebo windows.
    windows
        Number of placebo windows.
    method, power, alpha, length
        Estimator, power, two-sided significance level and window length (periods).
    approach
        How the MDE was computed.
    """

    relative: float
    absolute: float
    noise: float
    windows: int
    method: str
    power: float
    alpha: float
    length: int
    approach: str

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict."""
        return dict(self.__dict__)


def minimum_detectable_effect(
    frame: pd.DataFrame,
    *,
    treated: Sequence[str],
    length: int,
    target: str = "sales",
    power: float = 0.8,
    alpha: float = 0.1,
    method: Literal["did", "synthetic_control"] = "did",
    fit_periods: int | None = None,
    max_windows: int = 60,
    file: str = "<frame>",
) -> MDEResult:
    """Minimum detectable effect of a planned test, by simulation of placebo windows.

    Parameters
    ----------
    frame
        Historical long geo panel (``date, geo, <target>``), daily or weekly.
    treated
        Planned treated geos.
    length
        Planned window length in periods.
    target
        Outcome column.
    power
        Probability of detecting an effect of the MDE's size.
    alpha
        Two-sided significance level (0.1 matches 90% intervals).
    method
        Estimator whose placebo errors measure the noise.
    fit_periods
        Periods before each placebo window used to fit; default ``4 * length`` for DiD and
        all earlier periods for synthetic control.
    max_windows
        At most this many placebo windows (evenly spaced, the latest included).
    file
        Name of the source, for messages.

    Returns
    -------
    MDEResult
        The MDE.

    Examples
    --------
    >>> from mixlens.data.simulate.geo_experiment import GeoExperimentConfig as C
    >>> from mixlens.data.simulate.geo_experiment import simulate_geo_experiment
    >>> sim = simulate_geo_experiment(C(geos=20, treated=5, effect=0.0), seed=3)
    >>> mde = minimum_detectable_effect(sim.panel, treated=sim.treated, length=8)
    >>> 0.0 < mde.relative < 0.2
    True
    """
    if length < 1:
        raise ValueError(f"length must be >= 1, got {length}")
    data = _matrix(frame, target, file)
    mask = np.isin(np.array(data.geos, dtype=object), [str(t) for t in treated])
    if not mask.any() or mask.sum() != len(set(treated)):
        unknown = sorted(set(map(str, treated)) - set(data.geos))
        raise DataError(f"treated: unknown geo(s) {', '.join(unknown) or '(none given)'}")
    y = data.y
    n = len(y)
    fit = fit_periods or (4 * length if method == "did" else 0)
    first = max(fit, 8)
    starts = np.arange(first, n - length + 1)
    if len(starts) < 2:
        raise DataError(f"panel of {n} periods is too short for {length}-period placebo windows")
    if len(starts) > max_windows:
        pick = np.unique(np.linspace(0, len(starts) - 1, max_windows).round().astype(int))
        starts = starts[pick]
    t_agg = y[:, mask].sum(axis=1)
    controls = y[:, ~mask]
    c_agg = controls.sum(axis=1)
    errors = []
    for s in starts.tolist():
        lo = s - fit if fit else 0
        if method == "did":
            cf = t_agg[lo:s].mean() * c_agg[s : s + length] / c_agg[lo:s].mean()
        else:
            cf_all, _ = _sc_counterfactual(
                t_agg[lo : s + length], controls[lo : s + length], s - lo
            )
            cf = cf_all[s - lo :]
        errors.append((t_agg[s : s + length].sum() - cf.sum()) / cf.sum())
    noise = float(np.sqrt(np.mean(np.square(errors))))
    z = float(stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power))
    relative = z * noise
    return MDEResult(
        relative=relative,
        absolute=relative * float(t_agg[n - length :].sum()),
        noise=noise,
        windows=len(starts),
        method=method,
        power=power,
        alpha=alpha,
        length=length,
        approach=(
            "simulation of placebo windows (estimator's relative errors on historical windows) "
            "with the normal approximation (z_{1-alpha/2} + z_power) * RMS error"
        ),
    )


@dataclass(frozen=True)
class DesignChoice:
    """A chosen treated set.

    Attributes
    ----------
    treated
        Treated geos.
    imbalance
        RMS of the demeaned log ratio of the normalised treated and control aggregates over
        the pre-period (0 = perfectly parallel).
    size_share
        Treated share of the total outcome over the pre-period.
    draws
        Stratified draws compared.
    """

    treated: tuple[str, ...]
    imbalance: float
    size_share: float
    draws: int


def _imbalance(y: Array, mask: NDArray[np.bool_]) -> float:
    ratio = np.log(y[:, mask].sum(axis=1)) - np.log(y[:, ~mask].sum(axis=1))
    return float(np.sqrt(np.mean((ratio - ratio.mean()) ** 2)))


def choose_treated(
    frame: pd.DataFrame,
    n_treated: int,
    *,
    target: str = "sales",
    draws: int = 200,
    exclude: Sequence[str] = (),
    seed: RandomLike = 0,
    file: str = "<frame>",
) -> DesignChoice:
    """Choose treated geos that balance the pre-period (stratified rerandomisation).

    Parameters
    ----------
    frame
        Historical long geo panel (``date, geo, <target>``).
    n_treated
        Number of geos to treat (at most the eligible geos minus 2).
    target
        Outcome column.
    draws
        Stratified random draws compared; the most balanced wins.
    exclude
        Geos that may not be treated.
    seed
        Seed of the draws.
    file
        Name of the source, for messages.

    Returns
    -------
    DesignChoice
        The treated set and its balance.

    Examples
    --------
    >>> from mixlens.data.simulate.geo_experiment import GeoExperimentConfig as C
    >>> from mixlens.data.simulate.geo_experiment import simulate_geo_experiment
    >>> sim = simulate_geo_experiment(C(geos=20, treated=5, effect=0.0), seed=3)
    >>> choice = choose_treated(sim.panel, 5, draws=50)
    >>> len(choice.treated), choice.imbalance < 0.05
    (5, True)
    """
    data = _matrix(frame, target, file)
    y = data.y
    eligible = np.flatnonzero(~np.isin(np.array(data.geos, dtype=object), list(exclude)))
    if not 1 <= n_treated <= len(eligible) - 2 or n_treated > len(data.geos) - 2:
        raise DataError(
            f"n_treated={n_treated}: need between 1 and {len(eligible) - 2} eligible geos"
        )
    if draws < 1:
        raise ValueError(f"draws must be >= 1, got {draws}")
    rng = as_generator(seed)
    order = eligible[np.argsort(y[:, eligible].mean(axis=0))]
    strata = np.array_split(order, n_treated)
    best: tuple[float, NDArray[np.bool_]] | None = None
    for _ in range(draws):
        mask = np.zeros(len(data.geos), dtype=bool)
        mask[[int(rng.choice(stratum)) for stratum in strata]] = True
        score = _imbalance(y, mask)
        if best is None or score < best[0]:
            best = (score, mask)
    assert best is not None
    score, mask = best
    return DesignChoice(
        treated=tuple(g for g, m in zip(data.geos, mask, strict=True) if m),
        imbalance=score,
        size_share=float(y[:, mask].sum() / y.sum()),
        draws=draws,
    )
