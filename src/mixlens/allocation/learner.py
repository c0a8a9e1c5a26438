"""Sequential Bayesian learning of per-channel response scales, with change detection.

The closed loop (:mod:`mixlens.allocation.closed_loop`) knows each channel's response
shape and carryover and learns its scale: the weekly outcome is
``y_t = sum_c b_c phi_c(t) + noise`` with ``phi_c(t)`` the channel's response to its
adstocked spend, so ``b`` has a conjugate Gaussian posterior that takes one rank-one
update a week (no refit).

A fixed-memory posterior cannot follow a change in a channel's response, and forgetting
at a constant rate throws away data that is still good. :class:`CoefficientPosterior`
instead watches for a change: a two-sided CUSUM on the standardised one-week-ahead
prediction errors. On an alarm the posterior at the week the CUSUM started rising
branches into one Gaussian per change hypothesis (all coefficients jumped, or one
channel's coefficient jumped), the weeks since are replayed and each branch is weighted
by its marginal likelihood: a Gaussian-sum filter, exact Bayes for "one jump of one of
these kinds at that week". Until the next alarm every branch takes the weekly update and
its weight follows its predictive likelihood.

What a week of spend teaches is worth something only where it changes the plan:
:func:`decision_loss` gives the weekly loss of planning a fixed budget on wrong
coefficients (a common scale of all of them costs nothing: it leaves the split where it
is) and :func:`information_value` the part of it that one more outcome at given features
removes, exactly for this linear-Gaussian learner. The closed loop's ``directed`` policy
runs an in-market test only where that value, over the weeks left, exceeds its cost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from mixlens.errors import DataError

__all__ = [
    "CoefficientPosterior",
    "GaussianBelief",
    "LearnerConfig",
    "decision_loss",
    "information_value",
    "jump_hypotheses",
]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class LearnerConfig:
    """How the adaptive policies of the closed loop learn and explore.

    Attributes
    ----------
    prior_error
        Standard deviation of the log error of the initial model's coefficients (the
        truth is 1 before the shift): how wrong the MMM the loop starts from is.
    prior_sd
        Prior standard deviation of each coefficient, relative to its prior mean.
    forget
        Weekly discount of the data's precision, ``(0, 1]`` (1: none).
    detect
        CUSUM alarm threshold on standardised prediction errors (``None``: no change
        detection).
    drift
        CUSUM allowance per week, in standard deviations.
    jump_sd
        Standard deviation of a one-channel jump, relative to the prior mean.
    sparse
        Prior probability that a change hits one channel (shared equally over channels)
        rather than all (each with ``prior_sd``), ``[0, 1]``.
    step
        Largest weekly move of an adaptive plan per channel, as a fraction of
        ``max(last week's spend, budget / channels)`` (``None``: unlimited).
    explore
        Thompson sampling draws ``mean + explore * (draw - mean)``: 1 is plain Thompson
        sampling, below 1 a tempered one (the posterior at ``explore**2`` of its variance).
    horizon
        Weeks over which the ``directed`` policy counts the value of what a week's
        exploration teaches (``None``: the weeks left in the loop).
    """

    prior_error: float = 0.3
    prior_sd: float = 0.3
    forget: float = 1.0
    detect: float | None = 5.0
    drift: float = 1.0
    jump_sd: float = 0.5
    sparse: float = 0.5
    step: float | None = 0.25
    explore: float = 0.5
    horizon: int | None = None

    def __post_init__(self) -> None:
        checks = {
            "prior_error": self.prior_error >= 0,
            "prior_sd": self.prior_sd > 0,
            "forget": 0 < self.forget <= 1,
            "detect": self.detect is None or self.detect > 0,
            "drift": self.drift >= 0,
            "jump_sd": self.jump_sd > 0,
            "sparse": 0 <= self.sparse <= 1,
            "step": self.step is None or self.step > 0,
            "explore": self.explore >= 0,
            "horizon": self.horizon is None or self.horizon >= 0,
        }
        for name, ok in checks.items():
            if not ok:
                value = getattr(self, name)
                raise DataError(f"learner setting {name} out of range: {value}")


@dataclass
class GaussianBelief:
    """A Gaussian ``N(P^-1 h, P^-1)`` over the channel coefficients, in information form.

    Attributes
    ----------
    precision
        ``P``, ``(C, C)``.
    shift
        ``h``, ``(C,)``.
    """

    precision: FloatArray
    shift: FloatArray

    @property
    def mean(self) -> FloatArray:
        """Mean of the coefficients."""
        out = np.linalg.solve(self.precision, self.shift)
        return np.asarray(out, dtype=np.float64)

    @property
    def cov(self) -> FloatArray:
        """Covariance of the coefficients (symmetrised)."""
        cov = np.linalg.inv(self.precision)
        out: FloatArray = 0.5 * (cov + cov.T)
        return out

    def copy(self) -> GaussianBelief:
        """Return an independent copy."""
        return GaussianBelief(self.precision.copy(), self.shift.copy())

    def predictive(self, phi: FloatArray, noise_sd: float) -> tuple[float, float]:
        """Mean and variance of the outcome at features ``phi``."""
        return float(phi @ self.mean), noise_sd**2 + float(phi @ self.cov @ phi)

    def step(
        self, phi: FloatArray, y: float, noise_sd: float, forget: float, prior: GaussianBelief
    ) -> None:
        """Discount towards ``prior`` by ``forget``, then add one observation (in place)."""
        self.precision = forget * self.precision + (1 - forget) * prior.precision
        self.shift = forget * self.shift + (1 - forget) * prior.shift
        x = phi / noise_sd
        self.precision = self.precision + np.outer(x, x)
        self.shift = self.shift + x * (y / noise_sd)

    def jumped(self, jump_cov: FloatArray) -> GaussianBelief:
        """Return the belief after an independent jump ``N(0, jump_cov)`` of the coefficients."""
        precision = np.asarray(np.linalg.inv(self.cov + jump_cov), dtype=np.float64)
        return GaussianBelief(precision, precision @ self.mean)


def _normalised(log_w: FloatArray) -> FloatArray:
    w = np.exp(log_w - log_w.max())
    out: FloatArray = w / w.sum()
    return out


def _collapse(parts: Sequence[GaussianBelief], log_w: FloatArray) -> GaussianBelief:
    """Moment-matched single Gaussian of a mixture."""
    w = _normalised(log_w)
    means = np.array([p.mean for p in parts])
    mean = w @ means
    cov = np.zeros((mean.size, mean.size))
    for wk, part, m in zip(w, parts, means, strict=True):
        cov += wk * (part.cov + np.outer(m - mean, m - mean))
    precision = np.linalg.inv(cov)
    return GaussianBelief(precision, precision @ mean)


def jump_hypotheses(
    scale: FloatArray, *, prior_sd: float, jump_sd: float, sparse: float
) -> list[tuple[FloatArray, float]]:
    """Change hypotheses as ``(jump covariance, prior probability)``, relative to ``scale``.

    All coefficients jump (sd ``prior_sd * scale``) with probability ``1 - sparse``; one
    channel's coefficient jumps (sd ``jump_sd * scale_c``) with ``sparse / C`` each.

    Examples
    --------
    >>> hyps = jump_hypotheses(np.ones(2), prior_sd=0.3, jump_sd=0.5, sparse=0.5)
    >>> [round(p, 2) for _, p in hyps]
    [0.5, 0.25, 0.25]
    """
    n = scale.size
    out = [(np.diag((prior_sd * scale) ** 2), 1.0 - sparse)] if sparse < 1 else []
    if sparse > 0:
        out += [(np.diag(np.eye(n)[k] * (jump_sd * scale) ** 2), sparse / n) for k in range(n)]
    return out


@dataclass
class CoefficientPosterior:
    """Posterior over the channel coefficients: a Gaussian, or a mixture after a change.

    Without ``jumps`` (or ``threshold``) it is the conjugate Gaussian: exact sequential
    Bayes. With both, see the module docstring.

    Parameters
    ----------
    prior_mean, prior_precision
        The prior (the initial model), ``(C,)`` and ``(C, C)``.
    jumps
        Change hypotheses, see :func:`jump_hypotheses`.
    threshold, drift
        CUSUM alarm threshold and weekly allowance, standard deviations.

    Attributes
    ----------
    changes, alarms
        For each detected change, the (1-based) week it is dated to (where the CUSUM
        started rising) and the week the alarm went off.

    Examples
    --------
    >>> post = CoefficientPosterior(np.zeros(1), np.eye(1))
    >>> _ = post.update(np.ones(1), 2.0, noise_sd=1.0)
    >>> post.mean.tolist()
    [1.0]
    """

    prior_mean: FloatArray
    prior_precision: FloatArray
    jumps: Sequence[tuple[FloatArray, float]] = ()
    threshold: float | None = None
    drift: float = 1.0
    changes: list[int] = field(init=False, default_factory=list)
    alarms: list[int] = field(init=False, default_factory=list)
    _prior: GaussianBelief = field(init=False, repr=False)
    _parts: list[GaussianBelief] = field(init=False, repr=False)
    _log_w: FloatArray = field(init=False, repr=False)
    _seen: list[tuple[FloatArray, float, list[GaussianBelief], FloatArray]] = field(
        init=False, default_factory=list, repr=False
    )
    _cusum: list[float] = field(init=False, default_factory=lambda: [0.0, 0.0], repr=False)
    _since: list[int] = field(init=False, default_factory=lambda: [0, 0], repr=False)

    def __post_init__(self) -> None:
        self._prior = GaussianBelief(self.prior_precision, self.prior_precision @ self.prior_mean)
        self._parts = [self._prior.copy()]
        self._log_w = np.zeros(1)

    @property
    def weights(self) -> FloatArray:
        """Posterior weight of each component (one until a change is detected)."""
        return _normalised(self._log_w)

    @property
    def precision(self) -> FloatArray:
        """Precision of the moment-matched posterior."""
        return _collapse(self._parts, self._log_w).precision

    @property
    def mean(self) -> FloatArray:
        """Posterior mean of the coefficients."""
        out: FloatArray = self.weights @ np.array([p.mean for p in self._parts])
        return out

    @property
    def cov(self) -> FloatArray:
        """Covariance of the moment-matched posterior."""
        return _collapse(self._parts, self._log_w).cov

    @property
    def sd(self) -> FloatArray:
        """Posterior standard deviation of each coefficient (moment-matched)."""
        out: FloatArray = np.sqrt(np.diag(self.cov))
        return out

    def _absorb(self, phi: FloatArray, y: float, noise_sd: float, forget: float) -> None:
        for k, part in enumerate(self._parts):
            mean, var = part.predictive(phi, noise_sd)
            self._log_w[k] += -0.5 * (np.log(var) + (y - mean) ** 2 / var)
            part.step(phi, y, noise_sd, forget, self._prior)
        self._log_w -= self._log_w.max()

    def update(self, phi: FloatArray, y: float, *, noise_sd: float, forget: float = 1.0) -> bool:
        """Add one week's features ``phi`` and outcome ``y``; return whether a change was found.

        Parameters
        ----------
        phi
            Each channel's response to its adstocked spend that week, ``(C,)``.
        y
            Observed outcome.
        noise_sd
            Outcome noise standard deviation.
        forget
            Discount of the data's precision towards the prior, ``(0, 1]``.
        """
        w = self.weights
        preds = [p.predictive(phi, noise_sd) for p in self._parts]
        mean = float(sum(wk * m for wk, (m, _) in zip(w, preds, strict=True)))
        second = float(sum(wk * (v + m**2) for wk, (m, v) in zip(w, preds, strict=True)))
        z = (y - mean) / np.sqrt(max(second - mean**2, 1e-300))
        self._seen.append((phi, y, [p.copy() for p in self._parts], self._log_w.copy()))
        self._absorb(phi, y, noise_sd, forget)
        if self.threshold is None or not self.jumps:
            return False
        week = len(self._seen) - 1
        for side, value in enumerate((z, -z)):
            if self._cusum[side] <= 0:
                self._since[side] = week
            self._cusum[side] = max(0.0, self._cusum[side] + value - self.drift)
        side = int(np.argmax(self._cusum))
        if self._cusum[side] <= self.threshold:
            return False
        start = self._since[side]
        _, _, parts, log_w = self._seen[start]
        base = _collapse(parts, log_w)
        self._parts = [base.jumped(cov) for cov, _ in self.jumps]
        self._log_w = np.log(np.array([p for _, p in self.jumps]))
        for phi_k, y_k, _, _ in self._seen[start:]:
            self._absorb(phi_k, y_k, noise_sd, forget)
        self._cusum = [0.0, 0.0]
        self.changes.append(start + 1)
        self.alarms.append(week + 1)
        return True

    def sample(self, rng: np.random.Generator) -> FloatArray:
        """One draw of the coefficients: a component by weight, then its Gaussian."""
        part = self._parts[int(rng.choice(len(self._parts), p=self.weights))]
        out: FloatArray = rng.multivariate_normal(part.mean, part.cov, method="cholesky")
        return out


def decision_loss(slope: FloatArray, curvature: FloatArray) -> FloatArray:
    """Weekly loss of planning a fixed budget on coefficients off by ``db``: ``0.5 db' G db``.

    At the optimal split of a fixed budget over separable curves ``b_c f_c(x_c)`` every
    active channel has the same marginal return, ``b_c f_c'(x_c) = lambda``. An error
    ``db`` in the coefficients moves the plan by ``dx = P (f' * db)`` with
    ``P = A^-1 - A^-1 1 1' A^-1 / (1' A^-1 1)``, ``A = diag(a)``, and costs
    ``0.5 dx' A dx`` (second order), so ``G = diag(f') P diag(f')``: the value of knowing
    the coefficients, the quantity information-directed exploration buys.

    Parameters
    ----------
    slope
        ``f_c'(x_c)``, each channel's marginal feature at the plan, ``(C,)``.
    curvature
        ``a_c = -b_c f_c''(x_c)``, ``(C,)``; channels where it is not positive and finite
        (no spend, or the convex toe of an S-curve) are left out: their rows are zero.

    Returns
    -------
    numpy.ndarray
        ``G``, symmetric positive semi-definite, ``(C, C)``.

    Examples
    --------
    >>> g = decision_loss(np.ones(2), np.ones(2))
    >>> g.round(2).tolist()
    [[0.5, -0.5], [-0.5, 0.5]]
    """
    n = slope.size
    active = np.isfinite(curvature) & (curvature > 0) & np.isfinite(slope)
    out = np.zeros((n, n))
    if active.sum() < 2:
        return out
    inv = 1.0 / curvature[active]
    proj = np.diag(inv) - np.outer(inv, inv) / inv.sum()
    d = slope[active]
    out[np.ix_(active, active)] = d[:, None] * proj * d[None, :]
    result: FloatArray = 0.5 * (out + out.T)
    return result


def _updated(cov: FloatArray, phi: FloatArray, noise_sd: float) -> FloatArray:
    """Covariance after one observation at features ``phi`` (rank-one update)."""
    s_phi = cov @ phi
    out: FloatArray = cov - np.outer(s_phi, s_phi) / (noise_sd**2 + float(phi @ s_phi))
    return out


def information_value(
    cov: FloatArray, loss: FloatArray, phi: FloatArray, reference: FloatArray, noise_sd: float
) -> float:
    """Weekly expected loss removed by observing at ``phi`` rather than at ``reference``.

    ``0.5 tr(G (S_ref - S_phi))``, with ``S_x`` the coefficients' covariance after one
    outcome at features ``x`` and ``G`` from :func:`decision_loss`: exact for the
    linear-Gaussian learner (the covariance update does not depend on the outcome).

    Examples
    --------
    >>> loss = decision_loss(np.ones(2), np.ones(2))
    >>> same = information_value(np.eye(2), loss, np.ones(2), np.ones(2), 1.0)
    >>> apart = information_value(np.eye(2), loss, np.array([2.0, 0.0]), np.ones(2), 1.0)
    >>> same, round(apart, 3)
    (0.0, 0.2)
    """
    diff = _updated(cov, reference, noise_sd) - _updated(cov, phi, noise_sd)
    return 0.5 * float(np.sum(loss * diff))
