"""A geo-holdout world: a geo panel with media switched off (or scaled) in treated geos.

Generative process, per geo ``g`` and period ``t`` (a week, or a day when ``daily=True``):

1. **Baseline** ``b_g(t) = size_g * (1 + trend_g * years(t)) * (1 + amp_g * sin(2 pi years(t) +
   phase_g)) * dow_g(t) * exp(sum_k L_gk f_k(t))``. Sizes are log-normal, trends, seasonal
   amplitudes and phases differ by geo; ``f_k`` are ``factors`` common shocks (AR(1) processes
   shared by every geo, loadings ``L_gk`` around one), so geos move together and controls carry
   signal about the treated geos. ``dow_g`` is a weekday rhythm (daily panels only).
2. **Media.** Each channel's spend in geo ``g`` is ``size_g * intensity_gc * flight_c(t)``
   with a national flighting pattern and geo-period delivery noise. A channel contributes
   ``beta_c * adstock(spend)(t)`` (geometric adstock, decay ``carryover`` per week); ``beta``
   of the tested channel makes its business-as-usual contribution ``effect`` times the
   baseline over the test window, summed over every geo.
3. **Noise** is an AR(1) (``noise_ar``) with standard deviation ``noise * b_g(t)``.
4. **Experiment.** In treated geos the tested channel's spend is multiplied by ``spend_scale``
   (``0``: a holdout) over the test window. Observed sales use that spend; the
   business-as-usual (BAU) counterfactual uses the same baseline and noise draws with the
   spend unchanged. With ``spillover > 0`` control geos lose ``spillover`` times the treated
   geos' lost contribution, shared in proportion to their size.

The truth is exact: ``incremental_outcome`` is what the tested media produced in treated geos
over the window (BAU minus observed for a holdout; observed minus BAU when spend is raised),
so it is positive whenever the media works.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.signal import lfilter

from mixlens._rng import RandomLike, as_generator
from mixlens.data.io import write_json, write_table

__all__ = ["GeoExperimentConfig", "SimulatedGeoExperiment", "simulate_geo_experiment"]

Array = NDArray[np.float64]


@dataclass(frozen=True)
class GeoExperimentConfig:
    """Configuration of a simulated geo experiment.

    Parameters
    ----------
    geos
        Number of geos.
    weeks
        Length of the panel in weeks (the test window included).
    daily
        Daily rows (``7 * weeks`` days) instead of weekly rows.
    test_weeks
        Length of the test window in weeks.
    post_weeks
        Weeks after the test window (the window ends ``post_weeks`` before the panel).
    treated
        Number of treated geos, drawn at random.
    channels
        Paid channels; each gets a ``{channel}_spend`` column.
    channel
        The tested channel (one of ``channels``).
    spend_scale
        Multiplier of the tested channel's spend in treated geos over the window (0 = off).
    effect
        Business-as-usual contribution of the tested channel as a share of the baseline over
        the test window (e.g. 0.05 = media drives 5% of sales). 0 gives an A/A test.
    noise
        Standard deviation of each geo-period's idiosyncratic noise, share of its baseline.
    noise_ar
        AR(1) coefficient of the idiosyncratic noise, per period.
    common_shock
        Standard deviation of the common AR(1) shocks (log scale, per week).
    factors
        Number of common shock factors.
    carryover
        Geometric adstock decay per week.
    spillover
        Share of the treated geos' lost contribution that control geos also lose.
    start
        First date (ISO), a Monday for weekly panels.
    """

    geos: int = 40
    weeks: int = 104
    daily: bool = False
    test_weeks: int = 8
    post_weeks: int = 0
    treated: int = 10
    channels: tuple[str, ...] = ("tv", "search", "social")
    channel: str = "tv"
    spend_scale: float = 0.0
    effect: float = 0.05
    noise: float = 0.02
    noise_ar: float = 0.3
    common_shock: float = 0.02
    factors: int = 3
    carryover: float = 0.5
    spillover: float = 0.0
    start: str = "2022-01-03"

    def __post_init__(self) -> None:
        checks = {
            "geos >= 3": self.geos >= 3,
            "1 <= treated <= geos - 2": 1 <= self.treated <= self.geos - 2,
            "test_weeks >= 1": self.test_weeks >= 1,
            "post_weeks >= 0": self.post_weeks >= 0,
            "weeks >= test_weeks + post_weeks + 8": self.weeks
            >= self.test_weeks + self.post_weeks + 8,
            "channel in channels": self.channel in self.channels,
            "spend_scale >= 0 and != 1": self.spend_scale >= 0 and self.spend_scale != 1,
            "effect >= 0": self.effect >= 0,
            "noise >= 0": self.noise >= 0,
            "-1 < noise_ar < 1": -1 < self.noise_ar < 1,
            "common_shock >= 0": self.common_shock >= 0,
            "factors >= 1": self.factors >= 1,
            "0 <= carryover < 1": 0 <= self.carryover < 1,
            "spillover >= 0": self.spillover >= 0,
        }
        failed = [name for name, ok in checks.items() if not ok]
        if failed:
            raise ValueError(f"invalid GeoExperimentConfig: need {', '.join(failed)}")


@dataclass(frozen=True)
class SimulatedGeoExperiment:
    """A simulated geo experiment and its exact truth.

    Attributes
    ----------
    panel
        Long geo panel: ``date, geo, sales, {channel}_spend`` (one row per geo and period).
    treated
        Treated geos.
    start, end
        First and last date of the test window (ISO, inclusive).
    channel
        The tested channel.
    truth
        Per geo and window period: ``date, geo, treated, sales, sales_bau, incremental``
        (``incremental`` is what the tested media produced, positive for a working holdout).
    incremental_outcome
        Total true incremental outcome of the tested media in treated geos over the window.
    effect
        Observed minus business-as-usual sales in treated geos over the window (the effect of
        the intervention, negative for a holdout of working media).
    summary
        JSON-safe truth and configuration.
    """

    panel: pd.DataFrame
    treated: tuple[str, ...]
    start: str
    end: str
    channel: str
    truth: pd.DataFrame
    incremental_outcome: float
    effect: float
    summary: dict[str, Any] = field(default_factory=dict)

    def write(self, out_dir: str | Path) -> list[Path]:
        """Write ``panel.csv``, ``design.json`` and ``truth/`` under ``out_dir``, atomically."""
        out = Path(out_dir)
        design = {
            "treated": list(self.treated),
            "start": self.start,
            "end": self.end,
            "channel": self.channel,
            "target": "sales",
        }
        return [
            write_table(self.panel, out / "panel.csv"),
            write_json(design, out / "design.json"),
            write_table(self.truth, out / "truth" / "window.csv"),
            write_json(self.summary, out / "truth" / "summary.json"),
        ]


def simulate_geo_experiment(
    config: GeoExperimentConfig | None = None, seed: RandomLike = 0
) -> SimulatedGeoExperiment:
    """Simulate a geo experiment with a known true lift.

    Parameters
    ----------
    config
        The world; defaults to :class:`GeoExperimentConfig` ().
    seed
        Seed or generator; the same seed gives the same panel and truth.

    Returns
    -------
    SimulatedGeoExperiment
        The panel, the design and the truth.

    Examples
    --------
    >>> sim = simulate_geo_experiment(GeoExperimentConfig(geos=6, treated=2, weeks=30), seed=1)
    >>> sim.panel.shape
    (180, 6)
    >>> len(sim.treated), sim.incremental_outcome > 0
    (2, True)
    """
    cfg = config or GeoExperimentConfig()
    rng = as_generator(seed)
    per_week = 7 if cfg.daily else 1
    n = cfg.weeks * per_week
    g = cfg.geos
    years = np.arange(n) / (52.0 * per_week)
    freq = "D" if cfg.daily else "7D"
    dates = pd.date_range(cfg.start, periods=n, freq=freq)
    w_end = n - cfg.post_weeks * per_week
    w_start = w_end - cfg.test_weeks * per_week
    window = np.zeros(n, dtype=bool)
    window[w_start:w_end] = True

    baseline = _baseline(cfg, rng, years, per_week)  # (n, g)
    spend = _spend(cfg, rng, baseline, per_week)  # (c, n, g)
    noise = _noise(cfg, rng, baseline)
    names = [f"G{i + 1:03d}" for i in range(g)]
    treated_idx = np.sort(rng.choice(g, size=cfg.treated, replace=False))
    is_treated = np.zeros(g, dtype=bool)
    is_treated[treated_idx] = True

    decay = cfg.carryover ** (1.0 / per_week)
    test = cfg.channels.index(cfg.channel)
    stock = lfilter([1.0], [1.0, -decay], spend, axis=1)
    share = np.array([cfg.effect] + [0.03] * (len(cfg.channels) - 1))
    share[test], share[0] = share[0], share[test]
    base_window = baseline[window].sum()
    betas = share * base_window / np.maximum(stock[:, window].sum(axis=(1, 2)), 1e-12)
    bau_media = np.einsum("c,cng->ng", betas, stock)

    observed_spend = spend.copy()
    observed_spend[test][np.ix_(window, is_treated)] *= cfg.spend_scale
    observed_stock = lfilter([1.0], [1.0, -decay], observed_spend[test], axis=0)
    change = betas[test] * (observed_stock - stock[test])  # observed - BAU, media part
    change[:, ~is_treated] = 0.0
    sizes = baseline[:, ~is_treated].mean(axis=0)
    spill = cfg.spillover * change[:, is_treated].sum(axis=1)
    change[:, ~is_treated] = spill[:, None] * (sizes / sizes.sum())[None, :]

    sales_bau = baseline + bau_media + noise
    sales = sales_bau + change
    panel = pd.DataFrame(
        {
            "date": np.tile(dates.strftime("%Y-%m-%d").to_numpy(), g),
            "geo": np.repeat(names, n),
            "sales": sales.T.ravel(),
        }
    )
    for c, name in enumerate(cfg.channels):
        panel[f"{name}_spend"] = observed_spend[c].T.ravel()

    sign = 1.0 if cfg.spend_scale > 1 else -1.0
    incremental = sign * (sales - sales_bau)
    truth = pd.DataFrame(
        {
            "date": np.tile(dates[window].strftime("%Y-%m-%d").to_numpy(), g),
            "geo": np.repeat(names, int(window.sum())),
            "treated": np.repeat(is_treated, int(window.sum())),
            "sales": sales[window].T.ravel(),
            "sales_bau": sales_bau[window].T.ravel(),
            "incremental": incremental[window].T.ravel(),
        }
    )
    effect = float(change[np.ix_(window, is_treated)].sum())
    incremental_outcome = sign * effect
    treated = tuple(names[i] for i in treated_idx)
    start, end = (dates[w_start].strftime("%Y-%m-%d"), dates[w_end - 1].strftime("%Y-%m-%d"))
    summary: dict[str, Any] = {
        "config": {**asdict(cfg), "channels": list(cfg.channels)},
        "treated": list(treated),
        "start": start,
        "end": end,
        "channel": cfg.channel,
        "incremental_outcome": incremental_outcome,
        "effect": effect,
        "spillover_outcome": float(sign * change[np.ix_(window, ~is_treated)].sum()),
        "treated_bau_sales": float(sales_bau[np.ix_(window, is_treated)].sum()),
        "definitions": {
            "incremental_outcome": "sales the tested media produced in treated geos over the "
            "window (BAU minus observed for a holdout), same noise draws",
            "effect": "observed minus BAU sales in treated geos over the window",
        },
    }
    return SimulatedGeoExperiment(
        panel=panel,
        treated=treated,
        start=start,
        end=end,
        channel=cfg.channel,
        truth=truth,
        incremental_outcome=incremental_outcome,
        effect=effect,
        summary=summary,
    )


def _baseline(
    cfg: GeoExperimentConfig, rng: np.random.Generator, years: Array, per_week: int
) -> Array:
    """Baseline sales, shape (periods, geos)."""
    n, g = len(years), cfg.geos
    size = 1000.0 * np.exp(rng.normal(0.0, 0.8, g)) / per_week
    trend = rng.normal(0.04, 0.04, g)
    amp = rng.uniform(0.05, 0.2, g)
    phase = rng.normal(0.0, 0.4, g)
    loadings = rng.normal(1.0, 0.3, (cfg.factors, g))
    rho = 0.9 ** (1.0 / per_week)
    sd = cfg.common_shock * np.sqrt((1 - rho**2) / (1 - 0.81))
    shocks = lfilter([1.0], [1.0, -rho], rng.normal(0.0, sd, (cfg.factors, n)), axis=1)
    common = np.exp(shocks.T @ loadings)
    season = 1.0 + amp[None, :] * np.sin(2 * np.pi * years[:, None] + phase[None, :])
    out = size[None, :] * (1.0 + trend[None, :] * years[:, None]) * season * common
    if per_week > 1:
        dow = np.array([0.9, 0.95, 0.97, 1.0, 1.08, 1.12, 0.98])
        dow_g = dow[:, None] * np.exp(rng.normal(0.0, 0.02, (7, g)))
        out = out * dow_g[np.arange(n) % 7]
    result: Array = out
    return result


def _spend(
    cfg: GeoExperimentConfig, rng: np.random.Generator, baseline: Array, per_week: int
) -> Array:
    """Spend per channel, shape (channels, periods, geos): national flighting times geo size."""
    n, g = baseline.shape
    c = len(cfg.channels)
    size = baseline.mean(axis=0)
    intensity = np.exp(rng.normal(0.0, 0.3, (c, 1, g)))
    weeks = np.arange(n) // per_week
    on = rng.uniform(size=(c, int(weeks[-1]) + 1)) < 0.75
    level = np.exp(rng.normal(0.0, 0.3, (c, int(weeks[-1]) + 1))) * on
    flight = level[:, weeks][:, :, None]
    delivery = np.exp(rng.normal(0.0, 0.1, (c, n, g)))
    result: Array = 0.05 * size[None, None, :] * intensity * flight * delivery
    return result


def _noise(cfg: GeoExperimentConfig, rng: np.random.Generator, baseline: Array) -> Array:
    """AR(1) noise with marginal sd ``noise * baseline``, shape (periods, geos)."""
    rho = cfg.noise_ar
    innov = rng.normal(0.0, np.sqrt(1 - rho**2), baseline.shape)
    innov[0] /= np.sqrt(1 - rho**2)
    ar = lfilter([1.0], [1.0, -rho], innov, axis=0)
    result: Array = cfg.noise * baseline * ar
    return result
