"""Which channels' ROI the data identify, which are mostly prior, and where a lift test helps.

Pure numpy/pandas on draws and the spec's priors, no PyMC:
:meth:`mixlens.mmm.results.MMMResult.identification` and
:meth:`~mixlens.mmm.results.MMMResult.lift_test_plan` feed them a fitted model's draws.

**Identification.** Per channel, on the log of its ROI over the window (ROI is positive
and its default prior is log-normal, so the log is the natural scale; its standard
deviation is the ROI's relative uncertainty):

* ``contraction = 1 - var_posterior / var_prior``: the share of the prior's variance the
  data removed. In a normal model with a normal prior, it is exactly the data's share of
  the posterior's information (precision), i.e. the weight of the data in the posterior
  mean; the prior's weight is ``1 - contraction``.
* ``prior_shift = (mean_posterior - mean_prior) / sd_prior``: how far the data moved the
  estimate, in prior standard deviations.
* the class, by contraction: ``"mostly prior"`` below :data:`MOSTLY_PRIOR` (0.5: the prior
  carries more of the information than the data, so the estimate is more the prior's guess
  than the data's), ``"data-driven"`` from :data:`DATA_DRIVEN` (0.9: the data carry at
  least nine times the prior's information, the posterior sd is under a third of the
  prior's), ``"weakly identified"`` between (the data dominate, yet the interval stays
  wide). On the simulator's worlds (``mmm_identification`` in benchmarks/RESULTS.md) the
  channels' contractions fall in three clusters these thresholds separate: 0.23 to 0.35
  (always-on paid search and display: intervals 1.2 to 5 times the true ROI, all covering
  it), 0.59 to 0.83 (social, online video: widths 1.3 to 3.7) and 0.93 to 1.00 (TV,
  radio, out-of-home: widths up to 1.2). A high contraction says the interval is the data's,
  not that it is right: a model misspecified for a channel can be confidently wrong.

**Lift-test plan** (:func:`plan_lift_tests`). For each channel, a candidate test switches
the channel off for :data:`TEST_WEEKS` weeks in the window of the last year where it spent
most (:func:`lift_test_window`). Its value is what it would teach, by the linear-Gaussian
preposterior rule: with ``X`` the channels' log ROI and ``Z_j`` the log of test ``j``'s
implied lift (both per posterior draw, so their joint covariance is the posterior's), a
test read with relative noise ``tau_j = se_j / E[lift_j]`` leaves the covariance::

    Sigma' = Sigma - Sigma[:, Z_j] Sigma[Z_j, :] / (Sigma[Z_j, Z_j] + tau_j**2)

The objective is the spend-weighted posterior sd of log ROI, ``sum_c w_c sd(X_c)`` (the
expected spend-weighted relative ROI error, the figure budget decisions feel); tests are
chosen greedily, each the one that lowers it most given those chosen before, so a test
that teaches what an earlier one taught ranks low. A test whose expected lift is small
next to its noise (``lift_to_se`` under about 2) teaches little whatever the channel's
uncertainty: a small channel's effect is about the size of a geo test's noise.

**Geo plan** (:meth:`mixlens.mmm.geo.GeoMMMResult.lift_test_plan`). On a geo panel the
test is a geo holdout, and each channel has several candidates: switched off in its window
in the top 1, 2, ... geos by its spend there, leaving :data:`MIN_CONTROL_GEOS` geos as
controls (:func:`holdout_geo_sets`). Each candidate's se is its treated geos' outcome over
the window times the relative error of synthetic control on the panel's own historical
windows with those geos treated (:func:`geo_holdout_noise`, the experiments stage's
placebo-window error model; the national plan's fixed :data:`TEST_SE_SHARE` is that error
measured on 40-geo worlds). :func:`plan_lift_tests` takes all candidates at once
(``test_channel``) and keeps, per channel, the one the greedy picks: the treated set is
the preposterior rule's choice, not a fixed share. A larger set's lift covers more of the
channel's total contribution, so it speaks to the total ROI rather than one geo's (which
the hierarchy pools only partly), but its treated outcome, and so its se, grows with it
and fewer controls fit its counterfactual.

Examples
--------
>>> classify(0.3), classify(0.6), classify(0.9)
('mostly prior', 'weakly identified', 'data-driven')
>>> lift_test_window([0, 0, 5, 5, 0, 0, 0], weeks=2, lookback=7, cooldown=1)
2
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from mixlens.errors import DataError
from mixlens.experiments.design import minimum_detectable_effect
from mixlens.mmm.spec import MMMSpec

__all__ = [
    "CLASSES",
    "DATA_DRIVEN",
    "GEO_TEST_METHOD",
    "MIN_CONTROL_GEOS",
    "MOSTLY_PRIOR",
    "TEST_COOLDOWN_WEEKS",
    "TEST_LOOKBACK_WEEKS",
    "TEST_SE_SHARE",
    "TEST_WEEKS",
    "GeoTestMethod",
    "Identification",
    "LiftTestPlan",
    "classify",
    "geo_holdout_noise",
    "holdout_geo_sets",
    "identify",
    "lift_test_window",
    "log_moments",
    "lognormal_roi_prior",
    "plan_lift_tests",
    "relative_width_ranking",
    "window_dates",
]

FloatArray = NDArray[np.float64]

#: The classes, from best identified to least.
CLASSES: tuple[str, str, str] = ("data-driven", "weakly identified", "mostly prior")
#: Contraction from which a channel's ROI is data-driven (data >= 9x the prior's information).
DATA_DRIVEN = 0.9
#: Contraction under which a channel's ROI is mostly prior (the prior outweighs the data).
MOSTLY_PRIOR = 0.5

#: Length of a planned lift test, weeks.
TEST_WEEKS = 8
#: A planned test's window lies in the last this many weeks of the panel...
TEST_LOOKBACK_WEEKS = 52
#: ...and ends at least this many weeks before the panel does (room for carryover).
TEST_COOLDOWN_WEEKS = 4
#: Expected standard error of a test read nationally, as a share of the outcome over its
#: window: a geo holdout in 10 of 40 geos analysed by synthetic control misses by 23.5% of an
#: effect worth 5% of the treated geos' outcome (``experiments_accuracy``), i.e. 1.18% of
#: the treated outcome, and the same share of the national outcome once scaled to it.
TEST_SE_SHARE = 0.235 * 0.05


def classify(
    contraction: float, *, data_driven: float = DATA_DRIVEN, mostly_prior: float = MOSTLY_PRIOR
) -> str:
    """Class of a channel by the contraction of its log-ROI variance (see the module).

    Examples
    --------
    >>> classify(0.5), classify(0.9)
    ('weakly identified', 'data-driven')
    """
    if not 0.0 <= mostly_prior <= data_driven <= 1.0:
        raise ValueError(
            f"need 0 <= mostly_prior <= data_driven <= 1, got {mostly_prior}, {data_driven}"
        )
    if not np.isfinite(contraction):
        return CLASSES[2]
    if contraction >= data_driven:
        return CLASSES[0]
    if contraction >= mostly_prior:
        return CLASSES[1]
    return CLASSES[2]


def lognormal_roi_prior(spec: MMMSpec, reference: float) -> tuple[FloatArray, FloatArray] | None:
    """Exact prior mean and sd of each channel's log ROI, where the ROI prior is log-normal.

    With the ``roi`` parameterisation the ``roi`` parameter is the channel's ROI over the
    window in units of ``reference`` (outcome per spend unit), so a ``LogNormal(mu, sigma)``
    prior gives log ROI ``Normal(mu + log(reference), sigma)``. None for any other prior.

    Examples
    --------
    >>> mean, sd = lognormal_roi_prior(MMMSpec(channels=("tv",)), reference=5.0)
    >>> round(float(np.exp(mean[0])), 3), float(sd[0])
    (1.0, 1.0)
    """
    if spec.parameterization != "roi":
        return None
    priors = [spec.channel_prior("roi", c) for c in spec.channels]
    if any(p.dist != "LogNormal" for p in priors):
        return None
    mean = np.array([p.params["mu"] for p in priors]) + np.log(reference)
    return mean, np.array([p.params["sigma"] for p in priors])


def log_moments(draws: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Mean and standard deviation of the log of positive draws, over axis 0.

    Non-positive draws count as the smallest positive float (a zero ROI has no log).

    Examples
    --------
    >>> mean, sd = log_moments([[1.0], [np.e**2]])
    >>> float(mean[0]), float(sd[0])
    (1.0, 1.0)
    """
    values = np.asarray(draws, dtype=np.float64)
    logs = np.log(np.maximum(values, np.finfo(np.float64).tiny))
    return logs.mean(axis=0), logs.std(axis=0)


@dataclass(frozen=True)
class Identification:
    """How much the data moved each channel's ROI from its prior (see the module).

    Attributes
    ----------
    channels
        Channel names.
    prior_mean, prior_sd
        Prior mean and standard deviation of each channel's log ROI, ``(C,)``.
    posterior_mean, posterior_sd
        The same of the posterior, ``(C,)``.
    data_driven, mostly_prior
        Contraction thresholds of the classes.
    """

    channels: tuple[str, ...]
    prior_mean: FloatArray
    prior_sd: FloatArray
    posterior_mean: FloatArray
    posterior_sd: FloatArray
    data_driven: float = DATA_DRIVEN
    mostly_prior: float = MOSTLY_PRIOR

    @property
    def contraction(self) -> FloatArray:
        """``1 - var_posterior / var_prior`` per channel (NaN where the prior sd is 0)."""
        prior_var = np.where(self.prior_sd > 0, self.prior_sd**2, np.nan)
        out: FloatArray = 1.0 - self.posterior_sd**2 / prior_var
        return out

    @property
    def prior_shift(self) -> FloatArray:
        """``(mean_posterior - mean_prior) / sd_prior`` per channel."""
        sd = np.where(self.prior_sd > 0, self.prior_sd, np.nan)
        out: FloatArray = (self.posterior_mean - self.prior_mean) / sd
        return out

    @property
    def classes(self) -> tuple[str, ...]:
        """Each channel's class (:data:`CLASSES`)."""
        return tuple(
            classify(float(c), data_driven=self.data_driven, mostly_prior=self.mostly_prior)
            for c in self.contraction
        )

    def channels_in(self, label: str) -> tuple[str, ...]:
        """Return the channels of class ``label`` (one of :data:`CLASSES`), in channel order."""
        if label not in CLASSES:
            raise ValueError(f"unknown class {label!r}; classes: {', '.join(CLASSES)}")
        return tuple(c for c, k in zip(self.channels, self.classes, strict=True) if k == label)

    def to_frame(self) -> pd.DataFrame:
        """``channel, log_roi_prior_sd, log_roi_sd, contraction, prior_shift, identification``."""
        return pd.DataFrame(
            {
                "channel": list(self.channels),
                "log_roi_prior_sd": self.prior_sd,
                "log_roi_sd": self.posterior_sd,
                "contraction": self.contraction,
                "prior_shift": self.prior_shift,
                "identification": list(self.classes),
            }
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: the thresholds, the channels of each class and one record per channel."""
        frame = self.to_frame()
        records = frame.astype(object).where(frame.notna(), None).to_dict("records")
        out: dict[str, Any] = {
            "thresholds": {"data_driven": self.data_driven, "mostly_prior": self.mostly_prior}
        }
        for label in CLASSES:  # keys data_driven, weakly_identified, mostly_prior
            out[label.replace(" ", "_").replace("-", "_")] = list(self.channels_in(label))
        out["channels"] = records
        return out


def identify(
    channels: Sequence[str],
    roi_draws: ArrayLike,
    prior_mean: ArrayLike,
    prior_sd: ArrayLike,
    *,
    data_driven: float = DATA_DRIVEN,
    mostly_prior: float = MOSTLY_PRIOR,
) -> Identification:
    """Compare posterior ROI draws with the prior of log ROI, channel by channel.

    Parameters
    ----------
    channels
        Channel names, ``C`` of them.
    roi_draws
        Posterior ROI per draw and channel, ``(S, C)``.
    prior_mean, prior_sd
        Prior mean and standard deviation of each channel's log ROI, ``(C,)`` (e.g.
        ``mu + log(reference)`` and ``sigma`` of a log-normal ROI prior).
    data_driven, mostly_prior
        Contraction thresholds of the classes (see :func:`classify`).

    Returns
    -------
    Identification

    Raises
    ------
    ValueError
        If the shapes disagree or a prior sd is negative.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> draws = np.exp(rng.normal([0.0, 0.0], [0.2, 0.9], size=(4000, 2)))
    >>> ident = identify(["tv", "search"], draws, [0.0, 0.0], [1.0, 1.0])
    >>> ident.classes
    ('data-driven', 'mostly prior')
    """
    names = tuple(str(c) for c in channels)
    draws = np.asarray(roi_draws, dtype=np.float64)
    mean0 = np.asarray(prior_mean, dtype=np.float64).reshape(-1)
    sd0 = np.asarray(prior_sd, dtype=np.float64).reshape(-1)
    if draws.ndim != 2 or draws.shape[1] != len(names) or len(mean0) != len(names):
        raise ValueError(
            f"need roi_draws (S, {len(names)}) and priors ({len(names)},), got "
            f"{draws.shape}, {mean0.shape}, {sd0.shape}"
        )
    if sd0.shape != mean0.shape or np.any(sd0 < 0):
        raise ValueError("prior_sd must be non-negative, one per channel")
    classify(0.0, data_driven=data_driven, mostly_prior=mostly_prior)  # checks the thresholds
    mean1, sd1 = log_moments(draws)
    return Identification(
        channels=names,
        prior_mean=mean0,
        prior_sd=sd0,
        posterior_mean=mean1,
        posterior_sd=sd1,
        data_driven=float(data_driven),
        mostly_prior=float(mostly_prior),
    )


def lift_test_window(
    spend: ArrayLike,
    *,
    weeks: int = TEST_WEEKS,
    lookback: int = TEST_LOOKBACK_WEEKS,
    cooldown: int = TEST_COOLDOWN_WEEKS,
) -> int | None:
    """First week of the ``weeks``-week window with the most spend for a lift test.

    The window lies in the last ``lookback`` weeks and ends at least ``cooldown`` weeks
    before the panel does; among windows of equal spend the earliest. None when no such
    window fits in the panel or none has spend.

    Parameters
    ----------
    spend
        The channel's weekly spend, ``(T,)``.

    Examples
    --------
    >>> lift_test_window([1, 9, 9, 1, 1, 1], weeks=2, lookback=6, cooldown=0)
    1
    >>> lift_test_window([0.0] * 10, weeks=2) is None
    True
    """
    values = np.asarray(spend, dtype=np.float64).reshape(-1)
    n = len(values)
    first, last = max(0, n - lookback), n - cooldown - weeks
    if weeks < 1 or last < first:
        return None
    totals = np.array([values[i : i + weeks].sum() for i in range(first, last + 1)])
    if not np.any(totals > 0):
        return None
    return first + int(np.argmax(totals))


def window_dates(dates: pd.DatetimeIndex, first: int, weeks: int = TEST_WEEKS) -> tuple[str, str]:
    """ISO first and last day of the ``weeks``-week window from week ``first`` (last day included).

    Examples
    --------
    >>> window_dates(pd.date_range("2024-01-01", periods=10, freq="7D"), 2, weeks=2)
    ('2024-01-15', '2024-01-28')
    """
    index = pd.DatetimeIndex(dates)
    end = index[first + weeks - 1] + pd.Timedelta(days=6)
    return index[first].date().isoformat(), end.date().isoformat()


def relative_width_ranking(roi: pd.DataFrame) -> list[str]:
    """Channels by the relative width of their ROI interval, widest first.

    ``(roi_hi - roi_lo) / roi_mean`` from an ``roi.csv`` frame: the ranking the
    ``mmm_calibration`` benchmark gives its lift tests by.

    Examples
    --------
    >>> frame = pd.DataFrame({"channel": ["tv", "search"], "roi_mean": [1.0, 2.0],
    ...                       "roi_lo": [0.9, 0.5], "roi_hi": [1.1, 4.0]})
    >>> relative_width_ranking(frame)
    ['search', 'tv']
    """
    rel = (roi["roi_hi"] - roi["roi_lo"]) / roi["roi_mean"]
    return [str(c) for c in roi.assign(rel=rel).sort_values("rel", ascending=False)["channel"]]


@dataclass(frozen=True)
class LiftTestPlan:
    """Lift tests ranked by what each would teach (see :func:`plan_lift_tests`).

    Attributes
    ----------
    frame
        One row per testable channel, best first: ``rank, channel, start, end,
        window_spend, expected_lift, test_se, lift_to_se, log_roi_sd, log_roi_sd_after,
        gain, weighted_log_roi_sd_after``.
    weighted_log_roi_sd
        The spend-weighted sd of log ROI before any test.
    untestable
        Channels with no spend in any candidate window (no test planned).
    notes
        JSON-safe facts about how the tests were costed (e.g. a geo plan's error model).
    """

    frame: pd.DataFrame
    weighted_log_roi_sd: float
    untestable: tuple[str, ...] = ()
    notes: Mapping[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """Return the plan (a copy of :attr:`frame`)."""
        return self.frame.copy()

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: the spend-weighted sd before any test, the untestable channels, rows.

        And the :attr:`notes`, where there are any.
        """
        frame = self.frame
        return {
            "weighted_log_roi_sd": self.weighted_log_roi_sd,
            "untestable": list(self.untestable),
            **dict(self.notes),
            "tests": frame.astype(object).where(frame.notna(), None).to_dict("records"),
        }


_PLAN_COLUMNS = [
    "rank",
    "channel",
    "start",
    "end",
    "window_spend",
    "expected_lift",
    "test_se",
    "lift_to_se",
    "log_roi_sd",
    "log_roi_sd_after",
    "gain",
    "weighted_log_roi_sd_after",
]


def _condition(cov: FloatArray, j: int, noise_var: float) -> FloatArray:
    """Covariance after observing variable ``j`` with noise of variance ``noise_var``."""
    column = cov[:, j]
    out: FloatArray = cov - np.outer(column, column) / (cov[j, j] + noise_var)
    return out


def plan_lift_tests(
    channels: Sequence[str],
    roi_draws: ArrayLike,
    lift_draws: ArrayLike,
    test_se: ArrayLike,
    spend: ArrayLike,
    windows: Sequence[tuple[str, str, float] | None],
    *,
    test_channel: ArrayLike | None = None,
    columns: Mapping[str, Sequence[Any]] | None = None,
) -> LiftTestPlan:
    """Rank candidate lift tests by the spend-weighted ROI uncertainty each removes.

    By default there is one candidate per channel. With ``test_channel`` there may be
    several (e.g. the same channel held out in different sets of geos): the greedy then
    picks among all of them, and once a channel's test is chosen its other candidates
    leave the pool, so the plan keeps one test per channel, the one that teaches most
    given the tests ranked above it.

    Parameters
    ----------
    channels
        Channel names, ``C`` of them.
    roi_draws
        Posterior ROI per draw and channel, ``(S, C)``.
    lift_draws
        Per draw, each candidate test's implied incremental outcome (the model's lift of
        switching its channel off in its window, carryover included), ``(S, K)``
        (``K = C`` without ``test_channel``); ignored where the window is None.
    test_se
        Each candidate test's expected standard error, outcome units, ``(K,)``.
    spend
        Each channel's spend over the fitted weeks, ``(C,)``: the weights.
    windows
        Each candidate's window ``(start, end, spend in window)``, or None where it
        cannot run (no spend in any window), ``K`` of them.
    test_channel
        Index of each candidate's channel in ``channels``, ``(K,)``; default
        ``0 .. C - 1``.
    columns
        Extra columns of the plan, one value per candidate each (e.g. ``geo``), placed
        after ``channel``.

    Returns
    -------
    LiftTestPlan
        Testable channels in greedy order (see the module): ``gain`` is the fall in the
        spend-weighted sd of log ROI this test brings after the tests ranked above it,
        ``log_roi_sd_after`` the channel's own sd of log ROI after them and it.

    Raises
    ------
    ValueError
        If the shapes disagree or a candidate's channel index is out of range.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> roi = np.exp(rng.normal(0, [0.1, 0.8], size=(2000, 2)))
    >>> lift = roi * [100.0, 100.0]  # a test measures lift ~ ROI x window spend
    >>> w = [("2024-01-01", "2024-02-25", 100.0)] * 2
    >>> plan = plan_lift_tests(["tv", "search"], roi, lift, [10.0, 10.0], [1.0, 1.0], w)
    >>> list(plan.frame["channel"])
    ['search', 'tv']
    """
    names = [str(c) for c in channels]
    roi = np.asarray(roi_draws, dtype=np.float64)
    lift = np.asarray(lift_draws, dtype=np.float64)
    se = np.asarray(test_se, dtype=np.float64).reshape(-1)
    weights = np.asarray(spend, dtype=np.float64).reshape(-1)
    c = len(names)
    owner = np.arange(c) if test_channel is None else np.asarray(test_channel).reshape(-1)
    k_all = len(owner)
    if roi.ndim != 2 or roi.shape[1] != c or lift.shape != (roi.shape[0], k_all):
        raise ValueError(
            f"need roi_draws (S, {c}) and lift_draws (S, {k_all}), got {roi.shape}, {lift.shape}"
        )
    if se.shape != (k_all,) or len(windows) != k_all or weights.shape != (c,):
        raise ValueError(
            f"need test_se and windows for each of the {k_all} tests and spend for each of "
            f"the {c} channels"
        )
    if k_all and (owner.min() < 0 or owner.max() >= c):
        raise ValueError(f"test_channel must index the {c} channels")
    extra = {str(k): list(v) for k, v in (columns or {}).items()}
    if any(len(v) != k_all for v in extra.values()):
        raise ValueError(f"each extra column needs one value per test ({k_all})")
    weights = weights / weights.sum() if weights.sum() > 0 else np.full(c, 1.0 / c)
    testable = [k for k in range(k_all) if windows[k] is not None]
    tiny = np.finfo(np.float64).tiny
    x = np.log(np.maximum(roi, tiny))
    z = np.log(np.maximum(lift[:, testable], tiny))
    mean_lift = lift[:, testable].mean(axis=0)
    noise = (se[testable] / np.maximum(mean_lift, tiny)) ** 2  # relative noise, log scale
    cov = np.atleast_2d(np.cov(np.concatenate([x, z], axis=1), rowvar=False, ddof=0))

    def objective(variances: FloatArray) -> FloatArray:
        """Spend-weighted sd of log ROI for each row of channel variances."""
        out: FloatArray = np.sqrt(np.clip(variances, 0.0, None)) @ weights
        return out

    before = float(objective(np.diag(cov)[:c]))
    sd_before = np.sqrt(np.diag(cov)[:c])
    current, left = before, list(range(len(testable)))
    rows: list[dict[str, Any]] = []
    while left:
        # the channels' variances after each candidate alone: Sigma_ii - Sigma_ij^2 / (..)
        cols = np.array([c + k for k in left])
        reduction = cov[:c, cols] ** 2 / (cov[cols, cols] + noise[left])
        scores = objective((np.diag(cov)[:c, None] - reduction).T)
        pick = int(np.argmin(scores))  # first of equals: candidate order
        k = left[pick]
        cov = _condition(cov, c + k, float(noise[k]))
        i = int(owner[testable[k]])
        left = [m for m in left if int(owner[testable[m]]) != i]
        j = testable[k]
        start, end, window_spend = windows[j]  # type: ignore[misc]
        rows.append(
            {
                "rank": len(rows) + 1,
                "channel": names[i],
                **{key: values[j] for key, values in extra.items()},
                "start": start,
                "end": end,
                "window_spend": float(window_spend),
                "expected_lift": float(mean_lift[k]),
                "test_se": float(se[j]),
                "lift_to_se": float(mean_lift[k] / se[j]) if se[j] > 0 else float("inf"),
                "log_roi_sd": float(sd_before[i]),
                "log_roi_sd_after": float(np.sqrt(max(cov[i, i], 0.0))),
                "gain": current - float(scores[pick]),
                "weighted_log_roi_sd_after": float(scores[pick]),
            }
        )
        current = float(scores[pick])
    tested = {int(owner[k]) for k in testable}
    return LiftTestPlan(
        frame=pd.DataFrame(rows, columns=[*_PLAN_COLUMNS[:2], *extra, *_PLAN_COLUMNS[2:]]),
        weighted_log_roi_sd=before,
        untestable=tuple(names[i] for i in range(c) if i not in tested),
    )


#: Estimators of a geo holdout whose placebo errors can serve as its error model.
GeoTestMethod = Literal["did", "synthetic_control"]
#: Fewest geos a planned geo holdout leaves as controls (what ``mixlens experiment``
#: needs to analyse it).
MIN_CONTROL_GEOS = 2
#: Estimator whose placebo errors give a planned geo holdout's standard error (the
#: experiments stage's usual recommendation).
GEO_TEST_METHOD: GeoTestMethod = "synthetic_control"


def holdout_geo_sets(
    window_spend: ArrayLike, *, min_controls: int = MIN_CONTROL_GEOS
) -> list[tuple[int, ...]]:
    """Candidate treated sets of a geo holdout: the top 1, 2, ... geos by the channel's spend.

    Geos are ranked by the channel's spend in the test window, largest first (ties in
    geo order); the candidates are the nested sets of the top ``k`` geos for ``k`` from 1
    while ``min_controls`` geos remain as controls, each adding a geo that spent.

    Parameters
    ----------
    window_spend
        The channel's spend in the window per geo, ``(G,)``.

    Examples
    --------
    >>> holdout_geo_sets([5.0, 20.0, 0.0, 10.0, 1.0])
    [(1,), (1, 3), (1, 3, 0)]
    >>> holdout_geo_sets([5.0, 20.0])
    []
    """
    spend = np.asarray(window_spend, dtype=np.float64).reshape(-1)
    order = [int(g) for g in np.argsort(-spend, kind="stable") if spend[g] > 0]
    largest = len(spend) - min_controls
    return [tuple(order[:k]) for k in range(1, min(largest, len(order)) + 1)]


def geo_holdout_noise(
    y: ArrayLike,
    dates: pd.DatetimeIndex,
    geos: Sequence[str],
    treated: Sequence[str],
    *,
    weeks: int = TEST_WEEKS,
    method: GeoTestMethod = GEO_TEST_METHOD,
) -> float:
    """Return the expected relative standard error of a geo holdout (the experiments' model).

    The root mean square relative error of ``method`` (synthetic control or ratio DiD)
    on the panel's historical windows of ``weeks`` weeks with ``treated`` as the treated
    geos and no test (:func:`mixlens.experiments.design.minimum_detectable_effect`'s
    ``noise``): the test's se as a share of the treated geos' outcome over its window.
    :data:`TEST_SE_SHARE` (the national plan's share, measured on 40-geo worlds) where the
    panel is too short for placebo windows.

    Parameters
    ----------
    y
        Outcome per week and geo, ``(T, G)``.
    dates
        The weeks, ``T`` of them.
    geos
        Geo names, ``G`` of them.
    treated
        The planned treated geos.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = 100.0 * (1.0 + 0.01 * rng.standard_normal((60, 5)))
    >>> dates = pd.date_range("2024-01-01", periods=60, freq="7D")
    >>> noise = geo_holdout_noise(y, dates, ["a", "b", "c", "d", "e"], ["a"], method="did")
    >>> 0.001 < noise < 0.02
    True
    """
    values = np.asarray(y, dtype=np.float64)
    names = [str(g) for g in geos]
    frame = pd.DataFrame(
        {
            "date": np.repeat(pd.DatetimeIndex(dates).strftime("%Y-%m-%d"), len(names)),
            "geo": np.tile(np.array(names, dtype=object), len(values)),
            "sales": values.reshape(-1),
        }
    )
    try:
        mde = minimum_detectable_effect(frame, treated=treated, length=weeks, method=method)
    except DataError:
        return TEST_SE_SHARE
    return mde.noise
