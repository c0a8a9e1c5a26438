"""The fitted MMM: posterior plus tidy, chunked accessors, saved as NetCDF and JSON.

:class:`MMMResult` is frozen: the InferenceData, the spec, the prepared data and the
sampler diagnostics. Its accessors compute contributions, ROI, marginal ROI and
response curves from the posterior parameters with the numpy transforms, in chunks
(see :mod:`mixlens.mmm._engine`), so memory stays flat as draws grow. All money
figures are in the target's units (e.g. sales currency) and spend's currency.
"""

# arviz's functions are only partly annotated.
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr
from numpy.typing import ArrayLike, NDArray

from mixlens.data.io import write_atomic, write_json
from mixlens.data.schemas import MediaPanel
from mixlens.errors import DataError
from mixlens.mmm._engine import Engine
from mixlens.mmm.calibration import LiftTests, prepare_lift_tests
from mixlens.mmm.channel_transforms import stack_draws
from mixlens.mmm.data import MMMData
from mixlens.mmm.identification import (
    TEST_SE_SHARE,
    TEST_WEEKS,
    Identification,
    LiftTestPlan,
    identify,
    lift_test_window,
    log_moments,
    lognormal_roi_prior,
    plan_lift_tests,
    window_dates,
)
from mixlens.mmm.model import MODEL_VARIABLES, build_model, roi_reference
from mixlens.mmm.spec import MMMSpec

__all__ = ["Diagnostics", "MMMResult", "media_input_summary", "write_posterior"]

FloatArray = NDArray[np.float64]
POSTERIOR_FILE = "posterior.nc"
SPEC_FILE = "spec.json"


def write_posterior(
    directory: str | Path, idata: Any, data: Any, meta: dict[str, Any]
) -> list[Path]:
    """Write ``posterior.nc`` and ``spec.json`` under ``directory``, atomically.

    ``posterior.nc`` holds the posterior with ``data`` as its constant data; ``spec.json``
    holds ``meta``, which carries the ``spec``.

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    out = Path(directory)
    groups = {g: getattr(idata, g) for g in idata.groups() if g != "constant_data"}
    full = az.InferenceData(**groups, constant_data=data)
    full["posterior"].attrs["mixlens_spec"] = json.dumps(meta["spec"])

    def write_nc(tmp: Path) -> None:
        full.to_netcdf(str(tmp), engine="h5netcdf")

    return [write_atomic(out / POSTERIOR_FILE, write_nc), write_json(meta, out / SPEC_FILE)]


@dataclass(frozen=True)
class Diagnostics:
    """How the posterior was obtained and whether the sampler converged.

    Attributes
    ----------
    method
        ``"nuts"`` or ``"advi"`` (or ``"prior"`` for prior draws used in tests).
    sampler
        Backend that ran (``"nutpie"``, ``"pymc"``, ``"pymc-advi"``, ...).
    chains, draws, tune
        Sampling sizes (``tune`` is the number of ADVI iterations for ``"advi"``).
    seconds
        Wall time of the fit (compilation and sampling), seconds.
    max_rhat, min_ess_bulk, divergences
        Convergence diagnostics (NaN / -1 where the method has none).
    warnings
        Diagnostic messages that were raised as warnings.
    """

    method: str
    sampler: str
    chains: int
    draws: int
    tune: int
    seconds: float = float("nan")
    max_rhat: float = float("nan")
    min_ess_bulk: float = float("nan")
    divergences: int = -1
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict (NaN becomes None)."""
        out = asdict(self)
        out["warnings"] = list(self.warnings)
        for key, value in out.items():
            if isinstance(value, float) and not np.isfinite(value):
                out[key] = None
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Diagnostics:
        """Inverse of :meth:`to_dict`."""
        nan = float("nan")
        return cls(
            method=str(data["method"]),
            sampler=str(data["sampler"]),
            chains=int(data["chains"]),
            draws=int(data["draws"]),
            tune=int(data["tune"]),
            seconds=nan if data.get("seconds") is None else float(data["seconds"]),
            max_rhat=nan if data.get("max_rhat") is None else float(data["max_rhat"]),
            min_ess_bulk=nan if data.get("min_ess_bulk") is None else float(data["min_ess_bulk"]),
            divergences=int(data.get("divergences", -1)),
            warnings=tuple(data.get("warnings", ())),
        )


def media_input_summary(data: MMMData) -> dict[str, dict[str, Any]]:
    """Each channel's resolved media input and cost per unit (spend per unit, fitted weeks).

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"date": ["2024-01-01", "2024-01-08"], "sales": [9.0, 11.0],
    ...                       "tv_spend": [10.0, 30.0], "tv_impressions": [1000.0, 3000.0]})
    >>> spec = MMMSpec(channels=("tv",), media_input="impressions", holidays=False)
    >>> media_input_summary(MMMData.from_panel(frame, spec))
    {'tv': {'input': 'impressions', 'cost_per_unit': 0.01}}
    """
    cost = data.cost_per_unit if data.cost_per_unit is not None else np.ones(len(data.channels))
    return {
        channel: {"input": kind, "cost_per_unit": float(cost[i])}
        for i, (channel, kind) in enumerate(zip(data.channels, data.media_inputs, strict=True))
    }


def _quantiles(values: FloatArray, ci: float, axis: int = 0) -> tuple[FloatArray, FloatArray]:
    lo, hi = np.quantile(values, [(1 - ci) / 2, (1 + ci) / 2], axis=axis)
    return lo, hi


@dataclass(frozen=True, eq=False)
class MMMResult:
    """A fitted MMM.

    Parameters
    ----------
    idata
        ArviZ InferenceData with a ``posterior`` group (``chain, draw`` first).
    spec
        The model specification.
    data
        The prepared panel the model was fitted on.
    diagnostics
        Sampler and convergence information.
    lift_tests
        The lift tests the model was calibrated with, if any.
    ci
        Mass of the central credible intervals (``lo``/``hi`` columns), in ``(0, 1)``.
    chunk_size
        Draws per chunk in the accessors (memory bound; results do not depend on it).
    """

    idata: az.InferenceData
    spec: MMMSpec
    data: MMMData
    diagnostics: Diagnostics
    lift_tests: LiftTests | None = None
    ci: float = 0.9
    chunk_size: int = field(default=256, compare=False)

    def __post_init__(self) -> None:
        if not 0 < self.ci < 1:
            raise ValueError(f"ci must lie in (0, 1), got {self.ci}")
        if "posterior" not in self.idata.groups():
            raise ValueError("idata has no posterior group")

    def with_ci(self, ci: float) -> MMMResult:
        """Return the same result with intervals of mass ``ci``."""
        return replace(self, ci=ci)

    # ------------------------------------------------------------------ draws

    @cached_property
    def _params(self) -> dict[str, FloatArray]:
        names = [*self.spec.channel_parameters, "beta"]
        names += [v for k, v in MODEL_VARIABLES.items() if k != "sigma"]
        names.append("baseline_knots")
        return stack_draws(self.idata["posterior"], names, self.spec)

    @property
    def _engine(self) -> Engine:
        return self.engine()

    def engine(self, data: MMMData | None = None) -> Engine:
        """Return the chunked numeric engine on the posterior draws.

        See :mod:`mixlens.mmm._engine`. ``data`` defaults to the fitted data (pass other
        weeks prepared on its scales); ``engine().components(draws, weeks).sum(axis=2)`` is
        the expected outcome per draw and week, in target units.
        """
        chosen = self.data if data is None else data
        return Engine(self.spec, chosen, self._params, chunk_size=self.chunk_size)

    @cached_property
    def _channel_totals(self) -> tuple[FloatArray, FloatArray]:
        return self._engine.channel_totals()

    @property
    def n_samples(self) -> int:
        """Number of posterior draws over all chains."""
        return int(self.idata["posterior"].sizes["chain"] * self.idata["posterior"].sizes["draw"])

    @property
    def components(self) -> tuple[str, ...]:
        """Component names of :meth:`contributions`: channels, ``baseline``, controls."""
        return (*self.spec.channels, "baseline", *self.spec.controls)

    # ------------------------------------------------------------------ tables

    def contributions(self) -> pd.DataFrame:
        """Weekly contribution of each component, posterior mean and central interval.

        Returns
        -------
        pandas.DataFrame
            Long frame ``date, component, mean, lo, hi`` in the target's units, sorted by
            component (channels, ``baseline``, controls) then date. For every draw the
            components sum to the model's expected outcome.
        """
        engine = self._engine
        names = self.components
        means, los, his = [], [], []
        for weeks in engine.week_blocks():
            block = engine.components(slice(0, engine.n_samples), weeks)  # (S, b, K)
            lo, hi = _quantiles(block, self.ci)
            means.append(block.mean(axis=0))
            los.append(lo)
            his.append(hi)
        mean, lo_all, hi_all = (np.concatenate(parts, axis=0) for parts in (means, los, his))
        n = self.data.n_weeks
        return pd.DataFrame(
            {
                "date": np.tile(self.data.dates.to_numpy(), len(names)),
                "component": np.repeat(np.array(names, dtype=object), n),
                "mean": mean.T.reshape(-1),
                "lo": lo_all.T.reshape(-1),
                "hi": hi_all.T.reshape(-1),
            }
        )

    def roi(self) -> pd.DataFrame:
        """ROI and marginal ROI per channel over the fitted window.

        ROI is the channel's total contribution / total spend; marginal ROI is
        ``d contribution / d spend`` for a proportional increase of the channel's spend in
        every week (through adstock and saturation), per draw. On impressions or clicks,
        the units rise in proportion to spend (fixed cost per unit), so the same holds.

        Returns
        -------
        pandas.DataFrame
            ``channel, spend, contribution_mean, contribution_lo, contribution_hi,
            roi_mean, roi_lo, roi_hi, mroi_mean, mroi_lo, mroi_hi`` (spend in currency,
            contributions in target units, ROI in target units per currency unit).
        """
        contribution, elasticity = self._channel_totals  # (S, C)
        spend = self.data.spend.sum(axis=0)
        roi = contribution / spend
        mroi = elasticity / spend
        c_lo, c_hi = _quantiles(contribution, self.ci)
        r_lo, r_hi = _quantiles(roi, self.ci)
        m_lo, m_hi = _quantiles(mroi, self.ci)
        return pd.DataFrame(
            {
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

    def media_total(self) -> dict[str, float]:
        """Total contribution of all channels over the window, in target units.

        Returns
        -------
        dict
            ``mean``, ``lo``, ``hi`` (central interval of mass ``ci``) and ``share_mean``
            (mean total media contribution / total outcome).
        """
        contribution, _ = self._channel_totals
        total = contribution.sum(axis=1)
        lo, hi = _quantiles(total, self.ci)
        mean = float(total.mean())
        return {
            "mean": mean,
            "lo": float(lo),
            "hi": float(hi),
            "share_mean": mean / float(self.data.y.sum()),
        }

    def params(self) -> pd.DataFrame:
        """Posterior of the per-channel adstock, saturation and effect parameters.

        Media-scale parameters are reported in spend units: ``half_saturation`` in
        currency per week, ``lam`` per currency unit; ``beta`` (the largest weekly
        contribution) in the target's units per week; ``roi`` (with the ROI
        parameterisation) in target units per spend unit; adstock parameters in weeks or
        dimensionless as in the spec.

        Returns
        -------
        pandas.DataFrame
            ``channel, parameter, mean, lo, hi``; a shape parameter has rows for the
            channels whose transform has it only.
        """
        rows = []
        for name in dict.fromkeys([*self.spec.channel_parameters, "beta"]):
            values = self._params[name]  # (S, C)
            if name == "beta":
                values = values * self.data.y_scale
            if name == "roi":
                values = values * roi_reference(self.data, self.spec)
            power = self.spec.saturations.media_power.get(name, 0)
            if power:
                values = values * self.data.media_scale**power
            lo, hi = _quantiles(values, self.ci)
            mean = values.mean(axis=0)
            for i, channel in enumerate(self.spec.channels):
                if channel in self.spec.channels_with(name):
                    rows.append((channel, name, mean[i], lo[i], hi[i]))
        return pd.DataFrame(rows, columns=["channel", "parameter", "mean", "lo", "hi"])

    def response_curve(self, channel: str, spend_grid: ArrayLike) -> pd.DataFrame:
        """Return the expected weekly contribution of ``channel`` at constant weekly spend.

        A channel modelled on impressions or clicks gets ``spend / cost_per_unit`` units a
        week (its cost per unit over the fitted weeks, see :mod:`mixlens.mmm.data`).

        Parameters
        ----------
        channel
            A channel of the spec.
        spend_grid
            Weekly spend levels, currency, shape ``(G,)``, non-negative.

        Returns
        -------
        pandas.DataFrame
            ``spend, mean, lo, hi``: steady-state weekly contribution in target units.

        Raises
        ------
        KeyError
            If ``channel`` is not in the spec.
        ValueError
            If a spend level is negative or not finite.
        """
        if channel not in self.spec.channels:
            known = ", ".join(self.spec.channels)
            raise KeyError(f"unknown channel {channel!r}; channels: {known}")
        grid = np.atleast_1d(np.asarray(spend_grid, dtype=np.float64))
        if grid.ndim != 1 or not np.all(np.isfinite(grid) & (grid >= 0)):
            raise ValueError("spend_grid must be a 1-D array of finite, non-negative spend")
        engine = self._engine
        index = self.spec.channels.index(channel)
        values = np.concatenate(
            [engine.steady_state(index, grid, draws) for draws in engine.draw_chunks()]
        )
        lo, hi = _quantiles(values, self.ci)
        return pd.DataFrame({"spend": grid, "mean": values.mean(axis=0), "lo": lo, "hi": hi})

    def predict(self, panel: MediaPanel | pd.DataFrame, *, seed: int = 0) -> pd.DataFrame:
        """Posterior predictive outcome for the weeks of ``panel`` (e.g. a holdout).

        ``panel`` is prepared on the fitted data's scales (see ``MMMData.from_panel``'s
        ``reference``). Pass the whole panel (the fitted weeks and the new ones) so that
        adstock carries over into the new weeks.

        Parameters
        ----------
        panel
            Weekly panel with the spec's columns.
        seed
            Seed of the observation noise drawn for the predictive interval.

        Returns
        -------
        pandas.DataFrame
            ``date, actual, mean, lo, hi``: the outcome, the posterior mean of its
            expectation, and the central predictive interval (mass ``ci``, with noise).
        """
        data = MMMData.from_panel(panel, self.spec, reference=self.data)
        engine = self.engine(data)
        sigma = self.idata["posterior"]["sigma"].stack(sample=("chain", "draw")).values
        rng = np.random.default_rng(seed)
        means, los, his = [], [], []
        for weeks in engine.week_blocks():
            mu = engine.components(slice(0, engine.n_samples), weeks).sum(axis=2)  # (S, b)
            noise = rng.standard_normal(mu.shape) * (np.asarray(sigma)[:, None] * data.y_scale)
            lo, hi = _quantiles(mu + noise, self.ci)
            means.append(mu.mean(axis=0))
            los.append(lo)
            his.append(hi)
        return pd.DataFrame(
            {
                "date": data.dates.to_numpy(),
                "actual": data.y,
                "mean": np.concatenate(means),
                "lo": np.concatenate(los),
                "hi": np.concatenate(his),
            }
        )

    def lift_fit(self) -> pd.DataFrame:
        """Return the calibration lift tests beside the model's posterior implied lift.

        Returns
        -------
        pandas.DataFrame
            ``channel, start, end, method, measured, se, model_mean, model_lo, model_hi``
            (target units; empty when the model had no lift tests).
        """
        columns = ["channel", "start", "end", "method", "measured", "se"]
        columns += ["model_mean", "model_lo", "model_hi"]
        tests = self.lift_tests
        if tests is None or not tests.n_tests:
            return pd.DataFrame(columns=columns)
        implied = self._engine.implied_lifts(tests.channel_index, tests.exposure)
        implied = implied * tests.share[None, :]
        return tests.fit_frame(implied, self.ci)

    def roi_draws(self) -> FloatArray:
        """ROI per posterior draw and channel, ``(S, C)`` (contribution / spend)."""
        contribution, _ = self._channel_totals
        out: FloatArray = contribution / self.data.spend.sum(axis=0)
        return out

    def prior_log_roi(self, *, draws: int = 2000, seed: int = 0) -> tuple[FloatArray, FloatArray]:
        """Prior mean and standard deviation of each channel's log ROI over the window.

        Exact with the ``roi`` parameterisation and a log-normal ROI prior (the default):
        ``mu + log(reference)`` and ``sigma``. Otherwise estimated from ``draws`` draws of
        the model's prior (``seed``), each turned into ROI as the posterior is.

        Returns
        -------
        tuple of numpy.ndarray
            ``(mean, sd)``, each ``(C,)``.
        """
        exact = lognormal_roi_prior(self.spec, roi_reference(self.data, self.spec))
        if exact is not None:
            return exact
        return log_moments(_prior_roi_draws(self.spec, self.data, draws=draws, seed=seed))

    def identification(self, *, prior_draws: int = 2000, seed: int = 0) -> Identification:
        """How much the data moved each channel's ROI from its prior.

        Contraction of the log-ROI variance, the posterior mean's shift in prior sds and
        the class (data-driven, weakly identified, mostly prior); see
        :mod:`mixlens.mmm.identification`. ``prior_draws`` and ``seed`` matter only where
        the prior has no closed form (see :meth:`prior_log_roi`).
        """
        mean, sd = self.prior_log_roi(draws=prior_draws, seed=seed)
        return identify(self.spec.channels, self.roi_draws(), mean, sd)

    def lift_test_plan(
        self, *, se_share: float = TEST_SE_SHARE, weeks: int = TEST_WEEKS
    ) -> LiftTestPlan:
        """Rank lift tests by how much each would cut the spend-weighted ROI uncertainty.

        Each channel's candidate test switches it off for ``weeks`` weeks in the window of
        the last year where it spent most (ending 4 weeks before the panel); its expected
        standard error is ``se_share`` of the outcome over the window (the default is what
        a geo holdout in a quarter of 40 geos achieves with synthetic control, read
        nationally); the model's implied lift per draw says what the test would measure.
        See :func:`mixlens.mmm.identification.plan_lift_tests`.

        Raises
        ------
        ValueError
            If ``se_share`` is not positive.
        """
        if not se_share > 0:
            raise ValueError(f"se_share must be positive, got {se_share}")
        data = self.data
        n_channels = len(data.channels)
        exposure = np.zeros((data.n_weeks, n_channels))
        windows: list[tuple[str, str, float] | None] = []
        test_se = np.zeros(n_channels)
        for c in range(n_channels):
            first = lift_test_window(data.spend[:, c], weeks=weeks)
            if first is None:
                windows.append(None)
                continue
            span = slice(first, first + weeks)
            exposure[span, c] = 1.0
            windows.append(
                (*window_dates(data.dates, first, weeks), float(data.spend[span, c].sum()))
            )
            test_se[c] = se_share * float(data.y[span].sum())
        lifts = self._engine.implied_lifts(np.arange(n_channels), exposure)
        return plan_lift_tests(
            self.spec.channels, self.roi_draws(), lifts, test_se, data.spend.sum(axis=0), windows
        )

    def to_frame(self) -> pd.DataFrame:
        """Return :meth:`contributions` (the long decomposition)."""
        return self.contributions()

    def summary(self) -> dict[str, Any]:
        """JSON-safe summary: spec, diagnostics, interval mass, data sizes, knots, lift tests.

        ``time_knots`` has the spec's setting (``requested``) and the number of baseline
        knots it resolved to on this panel (``knots``; 0 for none); ``media_input`` each
        channel's resolved input and cost per unit (:func:`media_input_summary`).
        """
        return {
            "spec": self.spec.to_dict(),
            "diagnostics": self.diagnostics.to_dict(),
            "ci": self.ci,
            "weeks": self.data.n_weeks,
            "first_week": self.data.dates[0].date().isoformat(),
            "last_week": self.data.dates[-1].date().isoformat(),
            "samples": self.n_samples,
            "time_knots": {"requested": self.spec.time_knots, "knots": self.data.n_knots},
            "media_input": media_input_summary(self.data),
            "media_total": self.media_total(),
            "lift_tests": self.lift_fit().to_dict("records"),
        }

    # ------------------------------------------------------------------ persistence

    def save(self, directory: str | Path) -> list[Path]:
        """Write ``posterior.nc`` (ArviZ NetCDF with the data) and ``spec.json``, atomically.

        Returns
        -------
        list of pathlib.Path
            The files written.
        """
        lift = [] if self.lift_tests is None else self.lift_tests.to_records()
        return write_posterior(
            directory,
            self.idata,
            self.data.to_dataset(),
            {
                "spec": self.spec.to_dict(),
                "diagnostics": self.diagnostics.to_dict(),
                "ci": self.ci,
                "lift_tests": lift,
            },
        )

    @classmethod
    def load(cls, directory: str | Path) -> MMMResult:
        """Restore a result written by :meth:`save`.

        Raises
        ------
        DataError
            If ``posterior.nc`` or ``spec.json`` is missing or lacks what a result needs.
        """
        root = Path(directory)
        nc, meta_file = root / POSTERIOR_FILE, root / SPEC_FILE
        for file in (nc, meta_file):
            if not file.exists():
                message = f"no {file.name} in {root}; was the MMM saved here?"
                raise DataError(message, file=str(file))
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
        idata = az.from_netcdf(str(nc), engine="h5netcdf")
        for group in idata.groups():
            getattr(idata, group).load()
        if "constant_data" not in idata.groups():
            raise DataError("posterior.nc has no constant_data group (model data)", file=str(nc))
        constant: xr.Dataset = idata["constant_data"]
        data = MMMData.from_dataset(constant)
        records = meta.get("lift_tests") or []
        return cls(
            idata=idata,
            spec=MMMSpec.from_dict(meta["spec"]),
            data=data,
            diagnostics=Diagnostics.from_dict(meta["diagnostics"]),
            lift_tests=prepare_lift_tests(pd.DataFrame(records), data) if records else None,
            ci=float(meta.get("ci", 0.9)),
        )


def _prior_roi_draws(spec: MMMSpec, data: MMMData, *, draws: int, seed: int) -> FloatArray:
    """ROI per draw of the model's prior, ``(draws, C)``, computed as the posterior's."""
    import pymc as pm

    model = build_model(data, spec)
    names = list(dict.fromkeys([*spec.channel_parameters, "beta"]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        prior = pm.sample_prior_predictive(
            draws=draws, model=model, var_names=names, random_seed=seed
        ).prior
    params = stack_draws(prior, names, spec)
    contribution, _ = Engine(spec, data, params).channel_totals()
    out: FloatArray = contribution / data.spend.sum(axis=0)
    return out
