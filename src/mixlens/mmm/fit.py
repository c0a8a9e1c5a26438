"""Fitting the MMM: NUTS (nutpie, else PyMC; numpyro on request) or ADVI, with diagnostics.

:class:`MMM` is a thin estimator: ``__init__`` stores its configuration, :meth:`MMM.fit`
prepares the data, builds the model, samples and returns an :class:`MMMResult`
(also kept as ``result_``). Diagnostics that fail their usual thresholds (R-hat above
1.01, bulk ESS below ``min(400, 100 * chains)``, any divergence) are raised as
:class:`ConvergenceWarning` and recorded in ``result.diagnostics``.

With nutpie, most of a fit's time used to be numba compiling the model afresh in every
process. The model's graph now depends on the data's shapes only (static-shape data,
see :mod:`mixlens.mmm.model`), and :func:`cached_nutpie_compile` has ``pm.sample`` use
:func:`mixlens.mmm._nutpie.compile_nutpie`, whose compiled code is cached on disk, so a
later fit of data of the same shapes (any values) loads it in a few seconds
(benchmarks/RESULTS.md, ``mmm_speed``). The ROI parameterisation's ``beta`` is computed
after sampling in numpy (:func:`roi_beta`) rather than compiled into the sampler.
"""

# arviz's and pytensor's functions are only partly annotated.
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

import importlib.util
import logging
import os
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr

from mixlens.data.schemas import MediaPanel
from mixlens.errors import NotFittedError
from mixlens.mmm._engine import response_totals
from mixlens.mmm.calibration import prepare_lift_tests
from mixlens.mmm.channel_transforms import stack_draws
from mixlens.mmm.data import MMMData
from mixlens.mmm.model import build_model, roi_scale
from mixlens.mmm.results import Diagnostics, MMMResult
from mixlens.mmm.spec import MMMSpec
from mixlens.mmm.thresholds import ESS_MIN, ESS_MIN_PER_CHAIN, RHAT_MAX

__all__ = [
    "MMM",
    "ConvergenceWarning",
    "FitMethod",
    "NutsSampler",
    "cached_nutpie_compile",
    "numpyro_available",
    "nutpie_available",
    "roi_beta",
]

logger = logging.getLogger(__name__)

FitMethod = Literal["nuts", "advi"]
NutsSampler = Literal["auto", "nutpie", "pymc", "numpyro"]

_COMPILE_LOCK = threading.Lock()


class ConvergenceWarning(UserWarning):
    """The sampler's diagnostics failed a usual threshold; treat the posterior with care."""


def nutpie_available() -> bool:
    """Whether nutpie is installed (it is the default NUTS backend when it is)."""
    return importlib.util.find_spec("nutpie") is not None


def numpyro_available() -> bool:
    """Whether numpyro and JAX are installed (needed by ``nuts_sampler="numpyro"`` only)."""
    return all(importlib.util.find_spec(name) is not None for name in ("jax", "numpyro"))


def _numpyro_chain_method(chains: int) -> str:
    """How numpyro runs ``chains`` chains: ``"parallel"`` if JAX has a CPU device per chain.

    ``pymc.sampling.jax`` asks XLA for 100 host devices (``XLA_FLAGS``
    ``--xla_force_host_platform_device_count``) when it is imported before JAX starts its
    backend, so each chain gets a device of its own and XLA runs them on its thread pool.
    If JAX had started with fewer devices, ``"vectorized"`` (one ``vmap`` over the
    chains) is used: numpyro's ``"parallel"`` would fall back to one chain after the other.
    """
    import pymc.sampling.jax  # noqa: F401  (sets XLA_FLAGS before JAX's backend starts)

    jax = importlib.import_module("jax")  # optional, and not annotated for mypy here
    return "parallel" if int(jax.local_device_count()) >= chains else "vectorized"


class _SkippedFusion(logging.Filter):
    """Drop PyTensor's log of an elemwise-fusion rewrite it skipped (pytensor#2145).

    PyTensor 2.38 (the newest for PyMC 5) fails to fuse some graphs, here the ADVI graph
    of a model whose channels mix Hill and logistic saturation; it skips that rewrite and
    computes the same values (the bug is fixed in PyTensor 3). The failure is logged as
    three ERROR records: the rewriter, ``Traceback:`` and the traceback.
    """

    def __init__(self) -> None:
        super().__init__()
        self._left = 0

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith("SequentialGraphRewriter apply") and "FusionOptimizer" in message:
            self._left = 2
            return False
        if self._left:
            self._left -= 1
            return False
        return True


@contextmanager
def _quiet_backend() -> Iterator[None]:
    """Silence third-party warnings expected while compiling and sampling."""
    rewriting = logging.getLogger("pytensor.graph.rewriting.basic")
    skipped = _SkippedFusion()
    rewriting.addFilter(skipped)
    try:
        with _quiet_warnings():
            yield
    finally:
        rewriting.removeFilter(skipped)


@contextmanager
def _quiet_warnings() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=".*could not link to a BLAS", category=UserWarning
        )
        warnings.filterwarnings("ignore", category=FutureWarning, module="arviz")
        warnings.filterwarnings("ignore", category=FutureWarning, module="pymc")
        warnings.filterwarnings("ignore", category=RuntimeWarning, module="pymc")
        yield


def _diagnose(
    idata: az.InferenceData, *, method: str, sampler: str, chains: int, draws: int, tune: int
) -> Diagnostics:
    if method != "nuts":
        return Diagnostics(method=method, sampler=sampler, chains=chains, draws=draws, tune=tune)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # constant draws give NaN R-hat
        rhat = az.rhat(idata)
        ess = az.ess(idata, method="bulk")
    rhat_values = [np.asarray(v.values).ravel() for v in rhat.data_vars.values()]
    ess_values = [np.asarray(v.values).ravel() for v in ess.data_vars.values()]
    max_rhat = float(np.nanmax(np.concatenate(rhat_values))) if rhat_values else float("nan")
    min_ess = float(np.nanmin(np.concatenate(ess_values))) if ess_values else float("nan")
    stats = idata["sample_stats"] if "sample_stats" in idata.groups() else None
    divergences = int(stats["diverging"].sum()) if stats is not None and "diverging" in stats else 0
    messages = []
    if max_rhat > RHAT_MAX:
        messages.append(f"max R-hat {max_rhat:.3f} > {RHAT_MAX}: chains have not mixed")
    ess_min = min(ESS_MIN, ESS_MIN_PER_CHAIN * chains)
    if min_ess < ess_min:
        messages.append(f"min bulk ESS {min_ess:.0f} < {ess_min}: draw more or tune longer")
    if divergences:
        messages.append(f"{divergences} divergent transitions: the posterior may be biased")
    for message in messages:
        warnings.warn(message, ConvergenceWarning, stacklevel=3)
    return Diagnostics(
        method=method,
        sampler=sampler,
        chains=chains,
        draws=draws,
        tune=tune,
        max_rhat=max_rhat,
        min_ess_bulk=min_ess,
        divergences=divergences,
        warnings=tuple(messages),
    )


@contextmanager
def cached_nutpie_compile() -> Iterator[None]:
    """Have ``pm.sample(nuts_sampler="nutpie")`` compile with a cache across processes.

    Inside the context, nutpie's ``compile_pymc_model`` (which ``pm.sample`` calls) is
    :func:`mixlens.mmm._nutpie.compile_nutpie`: the same compiled model, whose numba
    code is cached on disk. Calls with other options (``backend``, ...) go to nutpie's
    own function. A lock keeps concurrent fits in one process from interleaving the swap.
    """
    import nutpie

    from mixlens.mmm._nutpie import compile_nutpie

    original = nutpie.compile_pymc_model

    def compile_model(model: pm.Model, *, var_names: Any = None, **kwargs: Any) -> Any:
        if kwargs:
            return original(model, var_names=var_names, **kwargs)
        return compile_nutpie(model, var_names=var_names)

    with _COMPILE_LOCK:
        nutpie.compile_pymc_model = compile_model
        try:
            yield
        finally:
            nutpie.compile_pymc_model = original


def roi_beta(spec: MMMSpec, data: MMMData, posterior: xr.Dataset) -> xr.DataArray:
    """``beta`` of the ``roi`` parameterisation from the other posterior variables.

    ``beta[c] = roi[c] * roi_scale[c] / sum_t saturation(adstock(media))[t, c]`` per draw
    (the model's deterministic, in numpy over chunks of draws).
    """
    names = (*spec.adstocks.parameters, *spec.saturations.parameters, "roi")
    params = stack_draws(posterior, names, spec)  # (chain * draw, channel) each
    totals = response_totals(spec, data, params)
    beta = params["roi"] * roi_scale(data, spec)[None, :] / totals
    roi = posterior["roi"].transpose("chain", "draw", "channel")
    return xr.DataArray(beta.reshape(roi.shape), dims=roi.dims, coords=roi.coords)


class MMM:
    """Bayesian marketing mix model estimator.

    Parameters
    ----------
    spec
        What to fit (channels, target, controls, transforms, priors).
    nuts_sampler
        NUTS backend: ``"auto"`` (nutpie when installed, else PyMC), ``"nutpie"``,
        ``"pymc"`` or ``"numpyro"``. numpyro needs JAX and numpyro, which mixlens does not
        install by default (``pip install "mixlens[numpyro]"``); its chains run with numpyro's
        ``chain_method="parallel"``, one XLA CPU device per chain (PyMC asks XLA for 100
        host devices), so on a machine with fewer cores than chains XLA's threads share
        the cores. On 2 cores, 4 chains x 1000 draws, that took less CPU time than
        ``"vectorized"`` (one ``vmap`` over the chains, which waits for the longest
        trajectory at every step), with comparable diagnostics. benchmarks/RESULTS.md,
        ``mmm_samplers``, compares the backends cold and warm: nutpie stays the default.
    advi_steps, advi_learning_rate
        Optimization steps and Adam learning rate of the ``"advi"`` method (Adam at 0.02
        reached a far better ELBO here than PyMC's default Adagrad in the same steps).
    target_accept
        NUTS target acceptance rate. 0.95 by default: the weekly model of daily media is
        only approximately specified, and its posterior has tails of high curvature where
        the usual 0.8 left sporadic divergences (benchmarks/RESULTS.md, ``mmm_recovery``).
    low_rank_mass_matrix
        With nutpie, adapt a low-rank modified mass matrix (nutpie's
        ``low_rank_modified_mass_matrix``) instead of a diagonal one. It needs about half the
        leapfrog steps per draw on the simulator's worlds; at ``target_accept`` 0.95 it gave
        more worst-parameter ESS per second but a few divergences, at 0.98 no divergences
        but less ESS per second than the diagonal metric (benchmarks/RESULTS.md,
        ``mmm_samplers``), so it is off by default. Ignored by PyMC's NUTS and numpyro.

    Examples
    --------
    >>> from mixlens.mmm.spec import MMMSpec
    >>> MMM(MMMSpec(channels=("tv",))).result_
    Traceback (most recent call last):
    ...
    mixlens.errors.NotFittedError: MMM is not fitted yet; call fit(panel) first
    """

    def __init__(
        self,
        spec: MMMSpec,
        *,
        nuts_sampler: NutsSampler = "auto",
        advi_steps: int = 20_000,
        advi_learning_rate: float = 0.02,
        target_accept: float = 0.95,
        low_rank_mass_matrix: bool = False,
    ) -> None:
        self.spec = spec
        self.nuts_sampler = nuts_sampler
        self.advi_steps = advi_steps
        self.advi_learning_rate = advi_learning_rate
        self.target_accept = target_accept
        self.low_rank_mass_matrix = low_rank_mass_matrix

    @property
    def result_(self) -> MMMResult:
        """The result of the last :meth:`fit`."""
        result: MMMResult | None = getattr(self, "_result", None)
        if result is None:
            raise NotFittedError("MMM is not fitted yet; call fit(panel) first")
        return result

    def fit(
        self,
        panel: MediaPanel | pd.DataFrame,
        *,
        method: FitMethod = "nuts",
        draws: int = 1000,
        tune: int = 1000,
        chains: int = 4,
        seed: int = 0,
        progress: bool = False,
        ci: float = 0.9,
        lift_tests: str | Path | pd.DataFrame | None = None,
    ) -> MMMResult:
        """Fit the model to a weekly panel.

        Parameters
        ----------
        panel
            Validated panel or wide weekly DataFrame (see :meth:`MMMData.from_panel`).
        method
            ``"nuts"`` (full posterior) or ``"advi"`` (fast mean-field preview; ``chains``
            and ``tune`` unused).
        draws, tune, chains
            Posterior draws per chain, tuning steps per chain, chains.
        seed
            Random seed; the same seed gives the same posterior on the same backend.
        progress
            Show the sampler's progress bar.
        ci
            Mass of the result's credible intervals.
        lift_tests
            Lift tests to calibrate with: a path or DataFrame in the ``lift_tests.csv``
            format (see :mod:`mixlens.mmm.calibration`); each test's measured incremental
            outcome enters the likelihood.

        Returns
        -------
        MMMResult
            The fitted result (also stored as ``result_``).

        Raises
        ------
        DataError
            If the panel does not fit the spec, or a lift test is invalid (the error names
            file, column and row).
        ValueError
            On an unknown method or sampler, or non-positive sizes.
        """
        if method not in ("nuts", "advi"):
            raise ValueError(f"method must be 'nuts' or 'advi', got {method!r}")
        if draws < 1 or chains < 1 or tune < 0:
            raise ValueError("draws and chains must be >= 1 and tune >= 0")
        started = time.perf_counter()
        data = MMMData.from_panel(panel, self.spec)
        tests = None if lift_tests is None else prepare_lift_tests(lift_tests, data)
        model = build_model(data, self.spec, lift_tests=tests)
        # beta (ROI parameterisation) is a deterministic over every week of media: it is
        # left out of what nutpie compiles and computed afterwards in numpy (same values)
        skip = ("beta",) if self.spec.parameterization == "roi" else ()
        with _quiet_backend():
            if method == "advi":
                idata, sampler = self._advi(model, draws=draws, seed=seed, progress=progress)
                chains, tune = 1, self.advi_steps
            else:
                idata, sampler = self._nuts(
                    model,
                    draws=draws,
                    tune=tune,
                    chains=chains,
                    seed=seed,
                    progress=progress,
                    skip=skip,
                )
        if "beta" not in idata["posterior"]:
            idata["posterior"]["beta"] = roi_beta(self.spec, data, idata["posterior"])
        seconds = time.perf_counter() - started
        diagnostics = _diagnose(
            idata, method=method, sampler=sampler, chains=chains, draws=draws, tune=tune
        )
        diagnostics = replace(diagnostics, seconds=seconds)
        logger.info("MMM fitted with %s in %.1f s", sampler, seconds)
        result = MMMResult(
            idata=idata,
            spec=self.spec,
            data=data,
            diagnostics=diagnostics,
            lift_tests=tests,
            ci=ci,
        )
        self._result = result
        return result

    def _nuts(
        self,
        model: pm.Model,
        *,
        draws: int,
        tune: int,
        chains: int,
        seed: int,
        progress: bool,
        skip: tuple[str, ...] = (),
    ) -> tuple[az.InferenceData, str]:
        """Sample with NUTS; ``skip`` names deterministics left out of the trace.

        nutpie and numpyro leave them out (computed afterwards in numpy); PyMC's NUTS keeps
        them.
        """
        choice = self.nuts_sampler
        if choice not in ("auto", "nutpie", "pymc", "numpyro"):
            raise ValueError(
                f"nuts_sampler must be 'auto', 'nutpie', 'pymc' or 'numpyro', got {choice!r}"
            )
        use_nutpie = choice == "nutpie" or (choice == "auto" and nutpie_available())
        backend = "nutpie" if use_nutpie else "pymc"
        extra: dict[str, Any] = {}
        if use_nutpie:
            extra = {"low_rank_modified_mass_matrix": self.low_rank_mass_matrix}
        if choice == "numpyro":
            if not numpyro_available():
                raise ImportError(
                    "nuts_sampler='numpyro' needs JAX and numpyro, which are not installed: "
                    "pip install 'mixlens[numpyro]' (numpyro, jax and jaxlib)"
                )
            backend = "numpyro"
            extra = {"chain_method": _numpyro_chain_method(chains)}
        names = None
        if (use_nutpie or backend == "numpyro") and skip:
            names = [v.name for v in model.free_RVs]
            names += [v.name for v in model.deterministics if v.name not in skip]
        with cached_nutpie_compile() if use_nutpie else nullcontext():
            idata = pm.sample(
                model=model,
                draws=draws,
                tune=tune,
                chains=chains,
                cores=min(chains, os.cpu_count() or 1),
                random_seed=seed,
                progressbar=progress,
                nuts_sampler=backend,
                target_accept=self.target_accept,
                compute_convergence_checks=False,
                nuts_sampler_kwargs=extra,
                var_names=names,
            )
        assert isinstance(idata, az.InferenceData)
        return idata, backend

    def _advi(
        self, model: pm.Model, *, draws: int, seed: int, progress: bool
    ) -> tuple[az.InferenceData, str]:
        rng = np.random.default_rng(seed)
        approx = pm.fit(
            n=self.advi_steps,
            method="advi",
            model=model,
            random_seed=int(rng.integers(2**31)),
            progressbar=progress,
            obj_optimizer=pm.adam(learning_rate=self.advi_learning_rate),
        )
        idata = approx.sample(draws, random_seed=int(rng.integers(2**31)))
        assert isinstance(idata, az.InferenceData)
        return idata, "pymc-advi"
