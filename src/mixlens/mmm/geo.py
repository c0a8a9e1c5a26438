"""The geo MMM: fit the hierarchical model and read results per geo and in total.

:class:`GeoMMM` fits :func:`~mixlens.mmm.geo_model.build_geo_model` with the national
model's samplers; :class:`GeoMMMResult` evaluates each geo with the national chunked
engine (one geo's parameters at a time), and totals over geos draw by draw, so the
``all`` rows' intervals are those of the sum, not sums of intervals.

As the national model, the geo model calibrates with lift tests (per geo or national,
see :func:`~mixlens.mmm.calibration.prepare_geo_lift_tests`; :meth:`GeoMMMResult.lift_fit`
sets each beside the model's implied lift) and predicts new weeks per geo and in total
(:meth:`GeoMMMResult.predict`, for holdout validation).

:meth:`GeoMMMResult.lift_test_plan` plans the geo holdouts that would teach most about
the channels' total ROI: each channel switched off for 8 weeks in the top geos by its
spend, costed with the experiments stage's error model on the panel's own weeks, ranked
by the preposterior rule of :mod:`mixlens.mmm.identification`.
"""

# arviz's functions are only partly annotated.
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr
from numpy.typing import ArrayLike, NDArray

from mixlens.data.geo_panel import GeoPanel
from mixlens.data.schemas import ALL_GEOS
from mixlens.errors import DataError, NotFittedError
from mixlens.mmm._engine import Engine
from mixlens.mmm.calibration import GEO_SEPARATOR, LiftTests, prepare_geo_lift_tests
from mixlens.mmm.channel_transforms import stack_draws
from mixlens.mmm.fit import MMM, FitMethod, NutsSampler, _diagnose, _quiet_backend
from mixlens.mmm.geo_data import GeoMMMData, identified_spec, redundant_time_terms
from mixlens.mmm.geo_model import GEO_ROI_SD, build_geo_model
from mixlens.mmm.identification import (
    GEO_TEST_METHOD,
    TEST_WEEKS,
    GeoTestMethod,
    LiftTestPlan,
    geo_holdout_noise,
    holdout_geo_sets,
    lift_test_window,
    plan_lift_tests,
    window_dates,
)
from mixlens.mmm.model import MODEL_VARIABLES
from mixlens.mmm.results import POSTERIOR_FILE, SPEC_FILE, Diagnostics, write_posterior
from mixlens.mmm.spec import MMMSpec, Prior

__all__ = ["ALL_GEOS", "GeoMMM", "GeoMMMResult"]

FloatArray = NDArray[np.float64]


def _quantiles(values: FloatArray, ci: float) -> tuple[FloatArray, FloatArray]:
    lo, hi = np.quantile(values, [(1 - ci) / 2, (1 + ci) / 2], axis=0)
    return lo, hi


@dataclass(frozen=True, eq=False)
class GeoMMMResult:
    """A fitted geo MMM.

    Parameters
    ----------
    idata
        ArviZ InferenceData with a ``posterior`` group.
    spec
        The model specification.
    data
        The prepared geo panel.
    diagnostics
        Sampler and convergence information.
    lift_tests
        The lift tests the model was calibrated with, if any.
    ci
        Mass of the central credible intervals, in ``(0, 1)``.
    dropped_terms
        Shared time terms of the requested spec left out of the fit because the baseline
        knots span them (see :func:`~mixlens.mmm.geo_data.redundant_time_terms`);
        ``spec`` is the spec as fitted, without them.
    chunk_size
        Draws per chunk in the accessors (memory bound; results do not depend on it).
    """

    idata: az.InferenceData
    spec: MMMSpec
    data: GeoMMMData
    diagnostics: Diagnostics
    lift_tests: LiftTests | None = None
    ci: float = 0.9
    dropped_terms: tuple[str, ...] = ()
    chunk_size: int = field(default=256, compare=False)

    def __post_init__(self) -> None:
        if not 0 < self.ci < 1:
            raise ValueError(f"ci must lie in (0, 1), got {self.ci}")

    def with_ci(self, ci: float) -> GeoMMMResult:
        """Return the same result with intervals of mass ``ci``."""
        return replace(self, ci=ci)

    @cached_property
    def _params(self) -> dict[str, FloatArray]:
        names = [*self.spec.channel_parameters, "beta", "roi_geo_sd", "roi_geo_z"]
        names += [v for k, v in MODEL_VARIABLES.items() if k != "sigma"]
        names.append("baseline_knots")
        return stack_draws(self.idata["posterior"], names, self.spec)

    @property
    def n_samples(self) -> int:
        """Number of posterior draws over all chains."""
        post = self.idata["posterior"]
        return int(post.sizes["chain"] * post.sizes["draw"])

    @property
    def geos(self) -> tuple[str, ...]:
        """The geos."""
        return self.data.geos

    def engine(self, index: int, data: GeoMMMData | None = None) -> Engine:
        """Return the national engine on geo ``index``'s parameters and data.

        ``data`` defaults to the fitted data (pass other weeks prepared on its scales).
        """
        params = dict(self._params)
        params["beta"] = self._params["beta"][:, index, :]
        params["intercept"] = self._params["intercept"][:, index]
        geo_data = (self.data if data is None else data).geo(index)
        return Engine(self.spec, geo_data, params, chunk_size=self.chunk_size)

    def _engines(self) -> Iterator[tuple[str, Engine]]:
        for g, name in enumerate(self.geos):
            yield name, self.engine(g)

    @property
    def components(self) -> tuple[str, ...]:
        """Component names: channels, ``baseline``, controls."""
        return (*self.spec.channels, "baseline", *self.spec.controls)

    def roi(self) -> pd.DataFrame:
        """ROI and marginal ROI per geo and channel, and over all geos (``geo == "all"``).

        Returns
        -------
        pandas.DataFrame
            ``geo, channel, spend, contribution_mean, contribution_lo, contribution_hi,
            roi_mean, roi_lo, roi_hi, mroi_mean, mroi_lo, mroi_hi`` (see
            :meth:`mixlens.mmm.results.MMMResult.roi`); the ``all`` rows total draw by
            draw, their marginal ROI is for a proportional increase in every geo.
        """
        contribution, elasticity = self._channel_totals
        frames = [
            self._roi_frame(
                name, self.data.spend[:, g].sum(axis=0), contribution[:, g], elasticity[:, g]
            )
            for g, name in enumerate(self.geos)
        ]
        spend = self.data.spend.sum(axis=(0, 1))
        frames.append(
            self._roi_frame(ALL_GEOS, spend, contribution.sum(axis=1), elasticity.sum(axis=1))
        )
        return pd.concat(frames, ignore_index=True)

    @cached_property
    def _channel_totals(self) -> tuple[FloatArray, FloatArray]:
        """Per draw, geo and channel: contribution and its spend elasticity, ``(S, G, C)``."""
        parts = [engine.channel_totals() for _, engine in self._engines()]
        return np.stack([p[0] for p in parts], axis=1), np.stack([p[1] for p in parts], axis=1)

    def roi_draws(self) -> FloatArray:
        """Total ROI over all geos per posterior draw and channel, ``(S, C)``.

        The ``all`` rows' ROI of :meth:`roi`: the channel's contribution summed over geos
        divided by its spend summed over geos.
        """
        contribution, _ = self._channel_totals
        out: FloatArray = contribution.sum(axis=1) / self.data.spend.sum(axis=(0, 1))
        return out

    def _roi_frame(
        self, geo: str, spend: FloatArray, contribution: FloatArray, elasticity: FloatArray
    ) -> pd.DataFrame:
        safe = np.where(spend > 0, spend, np.nan)
        roi = contribution / safe
        mroi = elasticity / safe
        with np.errstate(invalid="ignore"):
            c_lo, c_hi = _quantiles(contribution, self.ci)
            r_lo, r_hi = _quantiles(roi, self.ci)
            m_lo, m_hi = _quantiles(mroi, self.ci)
        return pd.DataFrame(
            {
                "geo": geo,
                "channel": list(self.spec.channels),
                "spend": spend,
                "contribution_mean": contribution.mean(axis=0),
                "contribution_lo": c_lo,
                "contribution_hi": c_hi,
                "roi_mean": roi.mean(axis=0),
                "roi_lo": r_lo,
                "roi_hi": r_hi,
                "mroi_mean": mroi.mean(axis=0),
                "mroi_lo": m_lo,
                "mroi_hi": m_hi,
            }
        )

    def contributions(self) -> pd.DataFrame:
        """Weekly contribution of each component per geo and over all geos.

        Returns
        -------
        pandas.DataFrame
            Long frame ``geo, date, component, mean, lo, hi`` in the target's units;
            ``geo == "all"`` rows are the sums over geos, draw by draw.
        """
        engines = [engine for _, engine in self._engines()]
        names = self.components
        n_weeks = self.data.base.n_weeks
        dates = self.data.base.dates.to_numpy()
        frames = []
        totals: list[tuple[FloatArray, FloatArray, FloatArray]] = []
        per_geo: list[list[tuple[FloatArray, FloatArray, FloatArray]]] = [[] for _ in engines]
        for weeks in engines[0].week_blocks():
            every = slice(0, engines[0].n_samples)
            total = None
            for g, engine in enumerate(engines):
                block = engine.components(every, weeks)  # (S, b, K)
                lo, hi = _quantiles(block, self.ci)
                per_geo[g].append((block.mean(axis=0), lo, hi))
                total = block if total is None else total + block
            assert total is not None
            lo, hi = _quantiles(total, self.ci)
            totals.append((total.mean(axis=0), lo, hi))
        for label, parts in [*zip(self.geos, per_geo, strict=True), (ALL_GEOS, totals)]:
            mean, lo_all, hi_all = (np.concatenate(p, axis=0) for p in zip(*parts, strict=True))
            frames.append(
                pd.DataFrame(
                    {
                        "geo": label,
                        "date": np.tile(dates, len(names)),
                        "component": np.repeat(np.array(names, dtype=object), n_weeks),
                        "mean": mean.T.reshape(-1),
                        "lo": lo_all.T.reshape(-1),
                        "hi": hi_all.T.reshape(-1),
                    }
                )
            )
        return pd.concat(frames, ignore_index=True)

    def params(self) -> pd.DataFrame:
        """Posterior of the channel parameters, shared (``geo == "all"``) and per geo.

        Shared: adstock parameters, ``slope``, ``roi`` (target units per spend unit, the
        mean of the geos' ROI distribution) and ``roi_geo_sd`` (spread of log ROI
        across geos). Per geo: ``roi`` (the geo's ROI), ``beta`` (largest weekly
        contribution, target units) and media-scale parameters in the geo's currency
        (e.g. ``half_saturation`` per week).

        Returns
        -------
        pandas.DataFrame
            ``geo, channel, parameter, mean, lo, hi``.
        """
        reference = (
            self.spec.roi_reference
            if self.spec.roi_reference is not None
            else self.data.reference_roi
        )
        p = self._params
        rows: list[tuple[str, str, str, float, float, float]] = []

        shapes = (*self.spec.adstocks.parameters, *self.spec.saturations.parameters)

        def add(geo: str, name: str, values: FloatArray) -> None:
            lo, hi = _quantiles(values, self.ci)
            mean = values.mean(axis=0)
            have = self.spec.channels_with(name) if name in shapes else self.spec.channels
            for i, channel in enumerate(self.spec.channels):
                if channel in have:
                    rows.append((geo, channel, name, mean[i], lo[i], hi[i]))

        media = self.spec.saturations.media_power
        for name in shapes:
            if not media.get(name, 0):
                add(ALL_GEOS, name, p[name])
        add(ALL_GEOS, "roi", p["roi"] * reference)
        add(ALL_GEOS, "roi_geo_sd", p["roi_geo_sd"])
        sd = p["roi_geo_sd"][:, None, :]
        roi_geo = p["roi"][:, None, :] * np.exp(sd * p["roi_geo_z"] - 0.5 * sd**2)
        for g, geo in enumerate(self.geos):
            add(geo, "roi", roi_geo[:, g] * reference)
            add(geo, "beta", p["beta"][:, g] * self.data.y_scale[g])
            for name in self.spec.saturations.parameters:
                power = media.get(name, 0)
                if power:
                    add(geo, name, p[name] * self.data.media_scale[g] ** power)
        return pd.DataFrame(rows, columns=["geo", "channel", "parameter", "mean", "lo", "hi"])

    def response_curve(
        self, channel: str, spend_grid: ArrayLike, *, geo: str = ALL_GEOS
    ) -> pd.DataFrame:
        """Return the expected weekly contribution of ``channel`` at constant weekly spend.

        For ``geo == "all"`` the weekly spend is split over geos in proportion to each
        geo's share of the channel's spend in the window, and contributions are summed
        draw by draw.

        Returns
        -------
        pandas.DataFrame
            ``spend, mean, lo, hi`` in target units per week.

        Raises
        ------
        KeyError
            If ``channel`` or ``geo`` is unknown.
        ValueError
            If a spend level is negative or not finite.
        """
        if channel not in self.spec.channels:
            raise KeyError(
                f"unknown channel {channel!r}; channels: {', '.join(self.spec.channels)}"
            )
        if geo != ALL_GEOS and geo not in self.geos:
            raise KeyError(f"unknown geo {geo!r}; geos: {', '.join(self.geos)}, {ALL_GEOS}")
        grid = np.atleast_1d(np.asarray(spend_grid, dtype=np.float64))
        if grid.ndim != 1 or not np.all(np.isfinite(grid) & (grid >= 0)):
            raise ValueError("spend_grid must be a 1-D array of finite, non-negative spend")
        c = self.spec.channels.index(channel)
        spend = self.data.spend[:, :, c].sum(axis=0)
        shares = spend / spend.sum()
        if geo != ALL_GEOS:
            shares = (np.arange(len(self.geos)) == self.geos.index(geo)).astype(float)
        values = np.zeros((self.n_samples, len(grid)))
        for g, (_, engine) in enumerate(self._engines()):
            if shares[g] <= 0:
                continue
            values += np.concatenate(
                [engine.steady_state(c, grid * shares[g], d) for d in engine.draw_chunks()]
            )
        lo, hi = _quantiles(values, self.ci)
        return pd.DataFrame({"spend": grid, "mean": values.mean(axis=0), "lo": lo, "hi": hi})

    def implied_lifts(self, tests: LiftTests) -> FloatArray:
        """Per-draw incremental outcome of geo lift tests, target units, ``(S, n_tests)``.

        Each test's lift is the sum, over the geos it covers, of the national engine's
        implied lift in that geo (see :meth:`mixlens.mmm._engine.Engine.implied_lifts`).

        Raises
        ------
        ValueError
            If ``tests`` were not prepared for this model's geos.
        """
        mask = tests.geo_mask
        if mask is None or mask.shape[0] != len(self.geos):
            raise ValueError("geo lift tests need prepare_geo_lift_tests on the same data")
        out = np.zeros((self.n_samples, tests.n_tests))
        for g, (_, engine) in enumerate(self._engines()):
            sel = np.flatnonzero(mask[g] > 0)
            if sel.size:
                out[:, sel] += engine.implied_lifts(
                    tests.channel_index[sel], tests.exposure[:, sel]
                )
        return out

    def lift_fit(self) -> pd.DataFrame:
        """Return the calibration lift tests beside the model's posterior implied lift.

        Returns
        -------
        pandas.DataFrame
            ``channel, geo, start, end, method, measured, se, model_mean, model_lo,
            model_hi`` (target units; ``geo`` empty for a national test; no rows when
            the model had no lift tests).
        """
        tests = self.lift_tests
        if tests is None or not tests.n_tests:
            columns = ["channel", "geo", "start", "end", "method", "measured", "se"]
            return pd.DataFrame(columns=[*columns, "model_mean", "model_lo", "model_hi"])
        return tests.fit_frame(self.implied_lifts(tests), self.ci)

    def lift_test_plan(
        self,
        *,
        weeks: int = TEST_WEEKS,
        method: GeoTestMethod = GEO_TEST_METHOD,
        se_share: float | None = None,
    ) -> LiftTestPlan:
        """Rank geo holdouts by how much each would cut the spend-weighted ROI uncertainty.

        Each channel's candidate tests switch it off for ``weeks`` weeks, in the window of
        the last year where its spend over all geos was largest, in the top 1, 2, ... geos
        by its spend in that window, leaving at least two geos as controls
        (:func:`~mixlens.mmm.identification.holdout_geo_sets`). A candidate's implied lift
        per draw is the sum over its geos of the model's lift there (:meth:`implied_lifts`);
        its standard error is its treated geos' outcome over the window times the relative
        error of ``method`` on the panel's own historical windows with those geos treated
        (:func:`~mixlens.mmm.identification.geo_holdout_noise`), or times ``se_share`` where
        given. The greedy preposterior selection of
        :func:`~mixlens.mmm.identification.plan_lift_tests` on the spend-weighted sd of the
        channels' total (``all``) log ROI then picks, test by test, the channel and its set
        of geos that teach most, one test per channel; the plan's ``geo`` column holds the
        treated geos, comma-separated, as ``lift_tests.csv`` takes them.

        Which set wins is the rule's call: a larger set's lift covers more of the channel's
        total contribution (so it says more about the total ROI than a geo's own ROI,
        which the hierarchy pools only partly) and is larger, but the treated outcome, and
        with it the standard error, grows too, and fewer controls fit the counterfactual
        less well. A panel with fewer than 3 geos has no candidate (every channel
        ``untestable``).

        Raises
        ------
        ValueError
            If ``se_share`` is given and not positive.
        """
        if se_share is not None and not se_share > 0:
            raise ValueError(f"se_share must be positive, got {se_share}")
        data, channels = self.data, self.spec.channels
        n_channels = len(channels)
        firsts = [
            lift_test_window(data.spend[:, :, c].sum(axis=1), weeks=weeks)
            for c in range(n_channels)
        ]
        exposure = np.zeros((data.base.n_weeks, n_channels))
        for c, first in enumerate(firsts):
            if first is not None:
                exposure[first : first + weeks, c] = 1.0
        per_geo = self._single_geo_lifts(exposure)  # (S, G, C)
        noise: dict[tuple[int, ...], float] = {}
        lifts, se, windows, owner, cells = [], [], [], [], []
        for c, first in enumerate(firsts):
            if first is None:
                continue
            span = slice(first, first + weeks)
            spend = data.spend[span, :, c].sum(axis=0)
            for treated in (sorted(t) for t in holdout_geo_sets(spend)):
                key = tuple(treated)
                if key not in noise:
                    names = [self.geos[g] for g in key]
                    noise[key] = se_share or geo_holdout_noise(
                        data.y, data.weeks, self.geos, names, weeks=weeks, method=method
                    )
                lifts.append(per_geo[:, treated, c].sum(axis=1))
                se.append(noise[key] * float(data.y[span][:, treated].sum()))
                windows.append(
                    (*window_dates(data.weeks, first, weeks), float(spend[treated].sum()))
                )
                owner.append(c)
                cells.append(GEO_SEPARATOR.join(self.geos[g] for g in treated))
        plan = plan_lift_tests(
            channels,
            self.roi_draws(),
            np.column_stack(lifts) if lifts else np.zeros((self.n_samples, 0)),
            se,
            data.spend.sum(axis=(0, 1)),
            windows,
            test_channel=np.asarray(owner, dtype=np.int64),
            columns={"geo": cells},
        )
        model = f"{se_share} of the treated outcome" if se_share else method
        relative = {GEO_SEPARATOR.join(self.geos[g] for g in k): v for k, v in noise.items()}
        return replace(plan, notes={"error_model": model, "relative_se": relative})

    def _single_geo_lifts(self, exposure: FloatArray) -> FloatArray:
        """Per draw, geo and channel: the implied lift of switching the channel off in that geo.

        ``exposure`` is the share of each week's spend switched off per channel,
        ``(T, C)``; returns ``(S, G, C)`` (lifts of several geos add: each geo's
        contribution depends on its own spend only).
        """
        n_geos, n_channels = len(self.geos), len(self.spec.channels)
        tests = LiftTests(
            frame=pd.DataFrame({"geo": np.repeat(np.array(self.geos, dtype=object), n_channels)}),
            channel_index=np.tile(np.arange(n_channels, dtype=np.int64), n_geos),
            exposure=np.tile(exposure, (1, n_geos)),
            geo_mask=np.repeat(np.eye(n_geos), n_channels, axis=1),
        )
        return self.implied_lifts(tests).reshape(self.n_samples, n_geos, n_channels)

    def predict(self, panel: GeoPanel | pd.DataFrame, *, seed: int = 0) -> pd.DataFrame:
        """Posterior predictive outcome per geo and in total for the weeks of ``panel``.

        ``panel`` is prepared on the fitted data's scales (see ``GeoMMMData.from_panel``'s
        ``reference``); pass the whole panel (the fitted weeks and the new ones) so that
        adstock carries over into the new weeks. The ``all`` rows sum the geos draw by
        draw (noise included), so their interval is that of the total.

        Parameters
        ----------
        panel
            A geo panel with the fitted model's geos, channels and controls.
        seed
            Seed of the observation noise drawn for the predictive interval.

        Returns
        -------
        pandas.DataFrame
            ``geo, date, actual, mean, lo, hi``: the outcome, the posterior mean of its
            expectation and the central predictive interval (mass ``ci``, with noise),
            for each geo and ``all``.

        Raises
        ------
        DataError
            If the panel is invalid or its geos differ from the model's.
        """
        if isinstance(panel, pd.DataFrame):
            panel = GeoPanel.from_frame(panel, target=self.spec.target, controls=self.spec.controls)
        data = GeoMMMData.from_panel(panel, self.spec, reference=self.data)
        engines = [self.engine(g, data) for g in range(len(self.geos))]
        sigma = self.idata["posterior"]["sigma"].stack(sample=("chain", "draw"))
        sigma_values = np.asarray(sigma.transpose("sample", "geo").values, dtype=np.float64)
        rng = np.random.default_rng(seed)
        parts: list[list[tuple[FloatArray, FloatArray, FloatArray]]] = [
            [] for _ in range(len(self.geos) + 1)
        ]
        every = slice(0, engines[0].n_samples)
        for weeks in engines[0].week_blocks():
            total = np.zeros((engines[0].n_samples, weeks.stop - weeks.start))
            expected = np.zeros(weeks.stop - weeks.start)
            for g, engine in enumerate(engines):
                mu = engine.components(every, weeks).sum(axis=2)  # (S, b)
                scale = sigma_values[:, g, None] * data.y_scale[g]
                draws = mu + rng.standard_normal(mu.shape) * scale
                parts[g].append((mu.mean(axis=0), *_quantiles(draws, self.ci)))
                total += draws
                expected += mu.mean(axis=0)
            parts[-1].append((expected, *_quantiles(total, self.ci)))
        actual = np.column_stack([data.y, data.y.sum(axis=1)])
        frames = []
        for g, label in enumerate([*self.geos, ALL_GEOS]):
            mean, lo, hi = (np.concatenate(p) for p in zip(*parts[g], strict=True))
            frames.append(
                pd.DataFrame(
                    {
                        "geo": label,
                        "date": data.weeks.to_numpy(),
                        "actual": actual[:, g],
                        "mean": mean,
                        "lo": lo,
                        "hi": hi,
                    }
                )
            )
        return pd.concat(frames, ignore_index=True)

    def to_frame(self) -> pd.DataFrame:
        """Return :meth:`contributions` (the long decomposition)."""
        return self.contributions()

    def summary(self) -> dict[str, Any]:
        """JSON-safe summary: spec, diagnostics, interval mass, sizes, geos, knots, lift tests.

        ``time_knots`` has the spec's setting (``requested``), the knots fitted (``knots``)
        and the shared time terms dropped because the knots span them (``dropped``, e.g.
        ``["trend", "fourier", "holiday"]`` with one knot per week); ``spec`` is the spec
        as fitted, without the dropped terms.
        """
        base = self.data.base
        return {
            "spec": self.spec.to_dict(),
            "diagnostics": self.diagnostics.to_dict(),
            "ci": self.ci,
            "weeks": base.n_weeks,
            "geos": list(self.geos),
            "first_week": base.dates[0].date().isoformat(),
            "last_week": base.dates[-1].date().isoformat(),
            "samples": self.n_samples,
            "time_knots": {
                "requested": self.spec.time_knots,
                "knots": base.n_knots,
                "dropped": list(self.dropped_terms),
            },
            "lift_tests": self.lift_fit().to_dict("records"),
        }

    def save(self, directory: str | Path) -> list[Path]:
        """Write ``posterior.nc`` (with the geo data) and ``spec.json``, atomically."""
        meta = {
            "spec": self.spec.to_dict(),
            "diagnostics": self.diagnostics.to_dict(),
            "ci": self.ci,
            "model": "geo",
            "dropped_terms": list(self.dropped_terms),
            "lift_tests": [] if self.lift_tests is None else self.lift_tests.to_records(),
        }
        return write_posterior(directory, self.idata, self.data.to_dataset(), meta)

    @classmethod
    def load(cls, directory: str | Path) -> GeoMMMResult:
        """Restore a result written by :meth:`save`.

        Raises
        ------
        DataError
            If the files are missing or were not written by a geo model.
        """
        root = Path(directory)
        nc, meta_file = root / POSTERIOR_FILE, root / SPEC_FILE
        for file in (nc, meta_file):
            if not file.exists():
                raise DataError(
                    f"no {file.name} in {root}; was the MMM saved here?", file=str(file)
                )
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
        if meta.get("model") != "geo":
            raise DataError("not a geo MMM (spec.json has no model: geo)", file=str(meta_file))
        idata = az.from_netcdf(str(nc), engine="h5netcdf")
        for group in idata.groups():
            getattr(idata, group).load()
        constant: xr.Dataset = idata["constant_data"]
        data = GeoMMMData.from_dataset(constant)
        records = meta.get("lift_tests") or []
        return cls(
            idata=idata,
            spec=MMMSpec.from_dict(meta["spec"]),
            data=data,
            diagnostics=Diagnostics.from_dict(meta["diagnostics"]),
            lift_tests=prepare_geo_lift_tests(pd.DataFrame(records), data) if records else None,
            ci=float(meta.get("ci", 0.9)),
            dropped_terms=tuple(str(t) for t in meta.get("dropped_terms", ())),
        )


class GeoMMM:
    """Hierarchical (geo) marketing mix model estimator.

    Parameters
    ----------
    spec
        What to fit (``roi`` parameterisation).
    geo_roi_sd
        Prior of each channel's spread of log ROI across geos.
    nuts_sampler, advi_steps, advi_learning_rate, target_accept
        As for :class:`mixlens.mmm.fit.MMM`.

    Examples
    --------
    >>> GeoMMM(MMMSpec(channels=("tv",))).result_
    Traceback (most recent call last):
    ...
    mixlens.errors.NotFittedError: GeoMMM is not fitted yet; call fit(panel) first
    """

    def __init__(
        self,
        spec: MMMSpec,
        *,
        geo_roi_sd: Prior = GEO_ROI_SD,
        nuts_sampler: NutsSampler = "auto",
        advi_steps: int = 20_000,
        advi_learning_rate: float = 0.02,
        target_accept: float = 0.95,
    ) -> None:
        self.spec = spec
        self.geo_roi_sd = geo_roi_sd
        self._backend = MMM(
            spec,
            nuts_sampler=nuts_sampler,
            advi_steps=advi_steps,
            advi_learning_rate=advi_learning_rate,
            target_accept=target_accept,
        )

    @property
    def result_(self) -> GeoMMMResult:
        """The result of the last :meth:`fit`."""
        result: GeoMMMResult | None = getattr(self, "_result", None)
        if result is None:
            raise NotFittedError("GeoMMM is not fitted yet; call fit(panel) first")
        return result

    def fit(
        self,
        panel: GeoPanel | pd.DataFrame,
        *,
        method: FitMethod = "nuts",
        draws: int = 1000,
        tune: int = 1000,
        chains: int = 4,
        seed: int = 0,
        progress: bool = False,
        ci: float = 0.9,
        lift_tests: str | Path | pd.DataFrame | None = None,
    ) -> GeoMMMResult:
        """Fit the model to a geo panel (a :class:`GeoPanel` or a long frame with ``geo``).

        ``lift_tests`` (a path or DataFrame in the ``lift_tests.csv`` format, with an
        optional ``geo`` column) calibrate the model: see
        :func:`~mixlens.mmm.calibration.prepare_geo_lift_tests`. The other arguments are
        those of :meth:`mixlens.mmm.fit.MMM.fit`.

        Shared time terms that the baseline knots span are not fitted (by default, one
        knot per week: trend, seasonality and holidays; the knots carry them): the
        result's ``spec`` is the spec without them and ``dropped_terms`` names them.

        Raises
        ------
        DataError
            If the panel or a lift test is invalid (file, column and row named).
        ValueError
            On an unknown method or sampler, or non-positive sizes.
        """
        if method not in ("nuts", "advi"):
            raise ValueError(f"method must be 'nuts' or 'advi', got {method!r}")
        if draws < 1 or chains < 1 or tune < 0:
            raise ValueError("draws and chains must be >= 1 and tune >= 0")
        started = time.perf_counter()
        if isinstance(panel, pd.DataFrame):
            panel = GeoPanel.from_frame(panel, target=self.spec.target, controls=self.spec.controls)
        data = GeoMMMData.from_panel(panel, self.spec)
        dropped = redundant_time_terms(data.base, self.spec)
        spec = identified_spec(self.spec, dropped)
        if dropped:
            data = GeoMMMData.from_panel(panel, spec)
        tests = None if lift_tests is None else prepare_geo_lift_tests(lift_tests, data)
        model = build_geo_model(data, spec, geo_roi_sd=self.geo_roi_sd, lift_tests=tests)
        backend = self._backend
        with _quiet_backend():
            if method == "advi":
                idata, sampler = backend._advi(model, draws=draws, seed=seed, progress=progress)
                chains, tune = 1, backend.advi_steps
            else:
                idata, sampler = backend._nuts(
                    model, draws=draws, tune=tune, chains=chains, seed=seed, progress=progress
                )
        diagnostics = _diagnose(
            idata, method=method, sampler=sampler, chains=chains, draws=draws, tune=tune
        )
        diagnostics = replace(diagnostics, seconds=time.perf_counter() - started)
        result = GeoMMMResult(
            idata=idata,
            spec=spec,
            data=data,
            diagnostics=diagnostics,
            lift_tests=tests,
            ci=ci,
            dropped_terms=dropped,
        )
        self._result = result
        return result
