r"""Data-driven attribution: a discrete-time hazard model over decaying exposure stocks.

Every user in the logs is followed day by day, from the first day up to their first
conversion (the event) or the window end, so converters and non-converters are observed over
the same clock and nobody's history is cut at the conversion (the trap of per-journey exposure
counts: journeys stop at the conversion while non-converters keep accumulating touches, so
counts learn that exposure predicts *not* converting). The conversion hazard is logistic,

.. math:: \operatorname{logit} p_u(\tau) = \beta_0 + \sum_k \delta_k t_k(\tau) + \sum_c
          \gamma_c \log(1 + N_{uc}) + \sum_{c,w} \eta_{cw} L_{ucw}(\tau)
          + \sum_{c,h} \beta_{ch} S_{uch}(\tau),

with ``S_uch(tau) = sum_{touches e of u in c, t_e <= tau} 2^{-(tau - t_e)/h}`` a decaying
exposure stock for every half-life ``h`` of a small basis (the fitted mixture of the basis is
the channel's decay curve). Controls: ``t_k(tau)`` the time in the window (stocks start
empty), the user's touch counts over the whole window ``N_uc`` (who a channel targets: its
selection on propensity) and ``L_ucw(tau) = log(1 + touches of c in (tau, tau + w])`` for the
lead windows ``w`` (future touches cannot cause a conversion at ``tau``; they mark users in
market). The direct-session marker ``direct`` is not an exposure.

Events are evaluated at the conversion instant. Non-events are *case-base* samples: instants
drawn uniformly from each user's time at risk (a random second of a day at risk, or of the
part of the conversion day before it), with weights ``span / rate``. Evaluating them at a
fixed time of day instead (say the day's end) would compare events' stocks, which hold only the
touches before the conversion, with controls' stocks holding the whole day's touches: touches
follow a diurnal profile, so short-lived channels (search, retargeting, email) would look
*harmful*. The L2-penalised weighted log-likelihood is maximised by L-BFGS-B with stock
coefficients ``>= 0`` (an exposure does not lower the hazard) unless ``nonnegative=False``.

Credit, per conversion at instant ``tau`` (every conversion, not only first ones): with
``p`` the fitted hazard, ``p_{-c}`` the hazard with channel ``c``'s stocks removed and ``p_0``
with every stock removed, the conversion gives ``p_0 / p`` to ``baseline`` and splits the rest
over channels in proportion to ``p - p_{-c}``; value likewise, times the conversion's value.

Examples
--------
>>> from mixlens.data.simulate.journeys import JourneyWorldConfig, simulate_journeys
>>> w = simulate_journeys(JourneyWorldConfig(users=3_000), seed=2)
>>> fit = fit_hazard(w.touchpoints, w.conversions, seed=0)
>>> r = hazard_attribution(fit)
>>> bool(abs(r.conversions - len(w.conversions)) < 1e-6)
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.optimize import minimize
from scipy.special import expit, log_expit

from mixlens._blas import single_thread_blas
from mixlens.errors import DataError
from mixlens.mta.result import AttributionResult, make_result

__all__ = [
    "DEFAULT_HALF_LIVES",
    "NON_EXPOSURE",
    "HazardFit",
    "LogisticFit",
    "fit_hazard",
    "fit_logistic",
    "hazard_attribution",
    "weighted_auc",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

DEFAULT_HALF_LIVES: tuple[float, ...] = (0.5, 2.0, 7.0)
"""Half-lives (days) of the exposure-stock basis."""

NON_EXPOSURE = frozenset({"direct"})
"""Channels that mark a visit rather than an ad exposure; they get no stock and no credit."""

_US_PER_DAY = 86_400 * 1_000_000


@dataclass(frozen=True)
class LogisticFit:
    """An L2-penalised weighted logistic regression.

    Attributes
    ----------
    coef
        Shape ``(p,)``; ``coef[0]`` is the intercept (column of ones in ``X``).
    converged
        Whether L-BFGS-B reported convergence.
    iterations
        L-BFGS-B iterations.
    """

    coef: FloatArray
    converged: bool
    iterations: int


def fit_logistic(
    x: FloatArray,
    y: FloatArray,
    w: FloatArray | None = None,
    *,
    l2: float = 1.0,
    lower: Sequence[float | None] | None = None,
    start: FloatArray | None = None,
    maxiter: int = 500,
) -> LogisticFit:
    """Maximise ``sum w (y eta - log(1 + e^eta)) - l2/2 |coef[1:]|^2`` by L-BFGS-B.

    Parameters
    ----------
    x
        Shape ``(n, p)``; the first column is the intercept (not penalised).
    y
        Shape ``(n,)``: 0/1 outcomes.
    w
        Shape ``(n,)``: row weights (1 when omitted).
    l2
        Ridge penalty on every coefficient but the intercept.
    lower
        Per-coefficient lower bounds (``None``: unbounded).
    start
        Initial coefficients (zeros, intercept at the weighted log-odds, when omitted).
    maxiter
        Most L-BFGS-B iterations.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = np.column_stack([np.ones(4000), rng.normal(size=4000)])
    >>> y = (rng.random(4000) < expit(-1 + 2 * x[:, 1])).astype(float)
    >>> np.round(fit_logistic(x, y, l2=0.0).coef, 1).tolist()
    [-1.0, 2.0]
    """
    n, p = x.shape
    weights = np.ones(n) if w is None else np.asarray(w, dtype=np.float64)
    scale = float(weights.sum())
    if start is None:
        rate = float(np.clip((weights * y).sum() / scale, 1e-9, 1 - 1e-9))
        start = np.zeros(p)
        start[0] = np.log(rate / (1 - rate))
    penalty = np.full(p, l2)
    penalty[0] = 0.0
    wy = weights * y

    def objective(beta: FloatArray) -> tuple[float, FloatArray]:
        eta = x @ beta
        loglik = float(wy @ eta + weights @ log_expit(-eta))
        resid = wy - weights * expit(eta)
        grad = -(x.T @ resid) + penalty * beta
        return (-loglik + 0.5 * float(penalty @ (beta * beta))) / scale, grad / scale

    bounds = [(lo, None) for lo in lower] if lower is not None else None
    with single_thread_blas():
        res = minimize(
            objective,
            np.asarray(start, dtype=np.float64),
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": maxiter, "ftol": 1e-11, "gtol": 1e-7},
        )
    return LogisticFit(coef=np.asarray(res.x), converged=bool(res.success), iterations=int(res.nit))


def weighted_auc(score: FloatArray, y: FloatArray, w: FloatArray) -> float:
    """Area under the ROC curve with row weights (ties count one half).

    Examples
    --------
    >>> weighted_auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0., 0., 1., 1.]), np.ones(4))
    0.75
    """
    order = np.argsort(score, kind="stable")
    s, yy, ww = score[order], y[order], w[order]
    uniq, start = np.unique(s, return_index=True)
    pos = np.add.reduceat(ww * yy, start)
    neg = np.add.reduceat(ww * (1 - yy), start)
    neg_below = np.cumsum(neg) - neg
    total_pos, total_neg = float(pos.sum()), float(neg.sum())
    if total_pos <= 0 or total_neg <= 0 or uniq.shape[0] == 0:
        return float("nan")
    return float((pos * (neg_below + 0.5 * neg)).sum() / (total_pos * total_neg))


@dataclass(frozen=True)
class HazardFit:
    """A fitted hazard model and the features of every conversion, ready to credit.

    Attributes
    ----------
    channels
        Every channel of the touchpoints, sorted (credit order); :data:`NON_EXPOSURE` ones
        have no stock.
    exposure_channels
        The channels with stocks, in feature order.
    half_lives
        Stock basis half-lives, days.
    feature_names
        Names of the columns of the design (``intercept`` first).
    coef
        Fitted coefficients, shape ``(p,)``.
    conversion_x
        Shape ``(n_conversions, p)``: the design row of every conversion at its instant.
    conversion_value
        Shape ``(n_conversions,)``: each conversion's value.
    conversion_user
        Shape ``(n_conversions,)``: user code of each conversion (for the bootstrap).
    stock_columns
        Shape ``(n_exposure_channels, n_half_lives)``: column of each channel's stocks.
    diagnostics
        Rows, events, sampling rate, held-out AUC and log-loss, convergence (JSON-safe).
    rows
        The person-period design ``(x, y, w, user)`` the model was fitted on.
    """

    channels: tuple[str, ...]
    exposure_channels: tuple[str, ...]
    half_lives: tuple[float, ...]
    feature_names: tuple[str, ...]
    coef: FloatArray
    conversion_x: FloatArray
    conversion_value: FloatArray
    conversion_user: IntArray
    stock_columns: IntArray
    diagnostics: dict[str, Any]
    rows: tuple[FloatArray, FloatArray, FloatArray, IntArray] = field(repr=False)

    def channel_effects(self) -> dict[str, float]:
        """Each exposure channel's summed stock coefficients (its log-odds per fresh touch)."""
        return {
            c: float(self.coef[self.stock_columns[i]].sum())
            for i, c in enumerate(self.exposure_channels)
        }

    def removal(self, coef: FloatArray | None = None) -> tuple[FloatArray, FloatArray]:
        """Per conversion: ``p0 / p`` and the removal effects ``p - p_{-c}``.

        Returns
        -------
        baseline_share
            Shape ``(n_conversions,)``: hazard without any stock over the fitted hazard.
        removal
            Shape ``(n_conversions, n_exposure_channels)``: ``p - p_{-c}``.
        """
        beta = self.coef if coef is None else coef
        x = self.conversion_x
        eta = x @ beta
        p = expit(eta)
        if len(self.exposure_channels) == 0:
            return np.ones(x.shape[0]), np.zeros((x.shape[0], 0))
        parts = np.stack([x[:, cols] @ beta[cols] for cols in self.stock_columns], axis=1)  # (n, C)
        removal = p[:, None] - expit(eta[:, None] - parts)
        p0 = expit(eta - parts.sum(axis=1))
        return p0 / np.maximum(p, 1e-300), np.maximum(removal, 0.0)


def _epoch_us(column: pd.Series) -> IntArray:
    out: IntArray = column.to_numpy().astype("datetime64[us]").astype(np.int64)
    return out


def fit_hazard(
    touchpoints: pd.DataFrame,
    conversions: pd.DataFrame,
    *,
    half_lives: Sequence[float] = DEFAULT_HALF_LIVES,
    lead_windows: Sequence[float] = (1.0, 7.0),
    max_rows: int = 400_000,
    controls_per_event: float = 40.0,
    l2: float = 1.0,
    nonnegative: bool = True,
    holdout: float = 0.2,
    seed: int = 0,
) -> HazardFit:
    """Build the person-period design from logs and fit the hazard model.

    Parameters
    ----------
    touchpoints
        ``user_id, timestamp, channel`` (validated, naive timestamps).
    conversions
        ``user_id, timestamp`` and optional ``value``.
    half_lives
        Stock basis half-lives, days (each ``>= window days / 900``).
    lead_windows
        Horizons of the per-channel lead-activity controls, days (empty leaves them out).
    max_rows
        Non-event person-days are subsampled to at most about this many (weights
        ``1 / rate``), each evaluated at a uniformly drawn instant of its time at risk.
    controls_per_event
        ... and to about this many per event row (case-control sampling: beyond a few dozen
        controls per event the likelihood gains little).
    l2
        Ridge penalty (the intercept is not penalised).
    nonnegative
        Constrain stock coefficients to be ``>= 0``.
    holdout
        Share of users held out for the reported AUC and log-loss (0 skips them); the final
        fit uses every user.
    seed
        Seed of the row subsampling and the held-out split.

    Raises
    ------
    DataError
        On empty touchpoints, no conversions, a half-life out of range or a lead window that
        is not a positive number of days.
    """
    if len(touchpoints) == 0:
        raise DataError("the hazard model needs touchpoints")
    if len(conversions) == 0:
        raise DataError("the hazard model needs at least one conversion")
    rng = np.random.default_rng(seed)
    tp_us = _epoch_us(touchpoints["timestamp"])
    cv_us = _epoch_us(conversions["timestamp"])
    start_us = (min(int(tp_us.min()), int(cv_us.min())) // _US_PER_DAY) * _US_PER_DAY
    end_us = (max(int(tp_us.max()), int(cv_us.max())) // _US_PER_DAY + 1) * _US_PER_DAY
    n_days = (end_us - start_us) // _US_PER_DAY
    hl = np.asarray(half_lives, dtype=np.float64)
    if hl.size == 0 or bool(np.any(~(hl >= n_days / 900.0))):
        raise DataError(f"half_lives={tuple(half_lives)!r} must be >= {n_days / 900.0:.3g} days")

    codes, uniques = pd.factorize(
        pd.concat([touchpoints["user_id"], conversions["user_id"]], ignore_index=True).astype("str")
    )
    codes = codes.astype(np.int64)
    n_users = len(uniques)
    t_user, c_user = codes[: len(touchpoints)], codes[len(touchpoints) :]
    ch_codes, ch_names = pd.factorize(touchpoints["channel"].astype("str"), sort=True)
    channels = tuple(str(c) for c in ch_names)
    exposure = tuple(c for c in channels if c not in NON_EXPOSURE)
    exp_index = np.full(len(channels), -1, dtype=np.int64)
    for i, c in enumerate(exposure):
        exp_index[channels.index(c)] = i
    t_exp = exp_index[ch_codes.astype(np.int64)]
    keep = t_exp >= 0
    t_user, t_exp, t_day_us = t_user[keep], t_exp[keep], tp_us[keep] - start_us
    n_ch, n_h = len(exposure), hl.shape[0]
    t_days = t_day_us / _US_PER_DAY  # float days since window start
    t_day = np.floor(t_days).astype(np.int64)
    c_days = (cv_us - start_us) / _US_PER_DAY
    c_day = np.floor(c_days).astype(np.int64)
    value = (
        conversions["value"].to_numpy(dtype=np.float64)
        if "value" in conversions.columns
        else np.zeros(len(conversions))
    )

    # First conversion per user: day (n_days when none) and instant.
    first_days = np.full(n_users, np.inf)
    np.minimum.at(first_days, c_user, c_days)
    first_day = np.where(np.isfinite(first_days), np.floor(first_days), n_days).astype(np.int64)
    is_first = c_days == first_days[c_user]
    # A user converting twice in one instant: only one event row.
    _, first_pick = np.unique(np.where(is_first, c_user, -1), return_index=True)
    first_conv = np.zeros(len(conversions), dtype=bool)
    first_conv[first_pick] = True
    first_conv &= is_first

    # User controls: log(1 + touches per exposure channel over the window).
    counts = np.zeros((n_users, n_ch))
    np.add.at(counts, (t_user, t_exp), 1.0)
    user_ctrl = np.log1p(counts)
    # Lead controls: each channel's touches in (tau, tau + w] for every lead window w, via
    # per-(user, channel) sorted times.
    leads = np.asarray(lead_windows, dtype=np.float64)
    if bool(np.any(~(leads > 0) | ~np.isfinite(leads))):
        raise DataError(f"lead_windows={tuple(lead_windows)!r} must be positive numbers of days")
    lead_span = float(n_days + (leads.max() if leads.size else 0.0) + 2)
    lead_sorted = np.sort((t_user * n_ch + t_exp) * lead_span + t_days)

    def lead(user: IntArray, tau: FloatArray) -> FloatArray:
        out = np.zeros((user.shape[0], n_ch, leads.shape[0]))
        for c in range(n_ch):
            base = (user * n_ch + c) * lead_span + tau
            lo = np.searchsorted(lead_sorted, base, side="right")
            for j, width in enumerate(leads.tolist()):
                hi = np.searchsorted(lead_sorted, base + width, side="right")
                out[:, c, j] = np.log1p((hi - lo).astype(np.float64))
        return out.reshape(user.shape[0], -1)

    n_stock = n_ch * n_h
    names = ["intercept", "day_frac", "early"]
    names += [f"touches_{c}" for c in exposure]
    names += [f"lead_{c}_{w:g}d" for c in exposure for w in leads]
    names += [f"stock_{c}_hl{h:g}" for c in exposure for h in hl]
    p = len(names)
    stock_start = p - n_stock
    stock_columns = stock_start + np.arange(n_stock, dtype=np.int64).reshape(n_ch, n_h)

    def design(user: IntArray, tau: FloatArray, stocks: FloatArray) -> FloatArray:
        x = np.empty((user.shape[0], p))
        x[:, 0] = 1.0
        x[:, 1] = tau / n_days
        x[:, 2] = np.maximum(0.0, 14.0 - tau) / 14.0
        x[:, 3 : 3 + n_ch] = user_ctrl[user]
        if leads.size:
            x[:, 3 + n_ch : stock_start] = lead(user, tau)
        x[:, stock_start:] = stocks.reshape(user.shape[0], n_stock)
        return x

    nonevent_rows = float(np.minimum(first_day, n_days - 1).sum() + (first_day >= n_days).sum())
    n_events = int((first_day < n_days).sum())
    target = min(float(max_rows), max(controls_per_event * n_events, 20_000.0))
    rate = min(1.0, target / max(nonevent_rows, 1.0))
    decay = np.exp2(-1.0 / hl)  # per day
    stock = np.zeros((n_users, n_ch, n_h))
    t_order = np.argsort(t_day, kind="stable")
    t_bounds = np.searchsorted(t_day[t_order], np.arange(n_days + 1))
    c_order = np.argsort(c_day, kind="stable")
    c_bounds = np.searchsorted(c_day[c_order], np.arange(n_days + 1))
    slot = np.full(n_users, -1, dtype=np.int64)

    def _stocks_at(
        stock: FloatArray, users: IntArray, tau: FloatArray, d: int, today: IntArray
    ) -> FloatArray:
        """Stocks of ``users`` (distinct) at instants ``tau`` of day ``d``."""
        s = stock[users] * np.exp2(-(tau - d)[:, None, None] / hl)
        slot[users] = np.arange(users.shape[0])
        k = slot[t_user[today]]
        hit = k >= 0
        k, e = k[hit], today[hit]
        lag = tau[k] - t_days[e]
        before = lag >= 0
        np.add.at(s, (k[before], t_exp[e[before]]), np.exp2(-lag[before][:, None] / hl))
        slot[users] = -1
        return s

    xs: list[FloatArray] = []
    ys: list[FloatArray] = []
    ws: list[FloatArray] = []
    us: list[IntArray] = []
    conv_x = np.zeros((len(conversions), p))
    for d in range(n_days):
        today = t_order[t_bounds[d] : t_bounds[d + 1]]
        conv_today = c_order[c_bounds[d] : c_bounds[d + 1]]
        if conv_today.shape[0]:
            # Stocks at each conversion instant: yesterday's stock decayed, plus today's
            # touches at or before the instant.
            cu, ctau = c_user[conv_today], c_days[conv_today]
            s = stock[cu] * np.exp2(-(ctau - d)[:, None, None] / hl)
            for e in today[np.isin(t_user[today], cu)].tolist():
                for i in np.flatnonzero(cu == t_user[e]).tolist():
                    lag = float(ctau[i] - t_days[e])
                    if lag >= 0:
                        s[i, t_exp[e]] += np.exp2(-lag / hl)
            conv_x[conv_today] = design(cu, ctau, s)
        # Non-event rows of day d: person-moments drawn uniformly from the day's time at risk
        # (case-base sampling), so controls see stocks at the same kind of instant as events.
        at_risk = np.flatnonzero(first_day >= d)
        if rate < 1.0:
            at_risk = at_risk[rng.random(at_risk.shape[0]) < rate]
        span = np.where(first_day[at_risk] == d, first_days[at_risk] - d, 1.0)
        at_risk, span = at_risk[span > 0], span[span > 0]
        if at_risk.shape[0]:
            tau = d + rng.random(at_risk.shape[0]) * span
            xs.append(design(at_risk, tau, _stocks_at(stock, at_risk, tau, d, today)))
            ys.append(np.zeros(at_risk.shape[0]))
            ws.append(span / rate)
            us.append(at_risk)
        # Advance stocks to the end of day d.
        stock *= decay
        if today.shape[0]:
            contrib = np.exp2(-((d + 1) - t_days[today])[:, None] / hl)
            np.add.at(stock, (t_user[today], t_exp[today]), contrib)
    events = np.flatnonzero(first_conv)
    xs.append(conv_x[events])
    ys.append(np.ones(events.shape[0]))
    ws.append(np.ones(events.shape[0]))
    us.append(c_user[events])
    x_all = np.concatenate(xs)
    y_all = np.concatenate(ys)
    w_all = np.concatenate(ws)
    u_all = np.concatenate(us)

    lower: list[float | None] = [None] * p
    if nonnegative:
        lower[stock_start:] = [0.0] * n_stock
    diagnostics: dict[str, Any] = {
        "rows": int(x_all.shape[0]),
        "events": int(events.shape[0]),
        "nonevent_sampling_rate": rate,
        "days": int(n_days),
        "users": int(n_users),
        "half_lives": [float(h) for h in hl],
        "l2": float(l2),
        "nonnegative": bool(nonnegative),
    }
    start = None
    if holdout > 0:
        test_user = np.random.default_rng([seed, 1]).random(n_users) < holdout
        test = test_user[u_all]
        train_fit = fit_logistic(x_all[~test], y_all[~test], w_all[~test], l2=l2, lower=lower)
        eta = x_all[test] @ train_fit.coef
        yt, wt = y_all[test], w_all[test]
        loglik = yt * log_expit(eta) + (1 - yt) * log_expit(-eta)
        auc = weighted_auc(eta, yt, wt)
        diagnostics["auc"] = auc if np.isfinite(auc) else None  # None: no event held out
        diagnostics["log_loss"] = float(-(wt @ loglik) / max(float(wt.sum()), 1e-12))
        diagnostics["holdout_users"] = int(test_user.sum())
        start = train_fit.coef
    final = fit_logistic(x_all, y_all, w_all, l2=l2, lower=lower, start=start)
    diagnostics["converged"] = final.converged
    diagnostics["iterations"] = final.iterations
    return HazardFit(
        channels=channels,
        exposure_channels=exposure,
        half_lives=tuple(float(h) for h in hl),
        feature_names=tuple(names),
        coef=final.coef,
        conversion_x=conv_x,
        conversion_value=value,
        conversion_user=c_user,
        stock_columns=stock_columns,
        diagnostics=diagnostics,
        rows=(x_all, y_all, w_all, u_all),
    )


def credit_arrays(
    fit: HazardFit, coef: FloatArray | None = None, rows: IntArray | None = None
) -> tuple[FloatArray, FloatArray, float, float]:
    """Per-channel conversions and value (``fit.channels`` order) plus baseline (conv, value).

    ``rows`` picks conversions (with repetition, for the bootstrap); all when omitted.
    """
    base_share, removal = fit.removal(coef)
    value = fit.conversion_value
    if rows is not None:
        base_share, removal, value = base_share[rows], removal[rows], value[rows]
    total = removal.sum(axis=1)
    paid = np.where(total > 0, 1.0 - np.clip(base_share, 0.0, 1.0), 0.0)
    share = np.where(total[:, None] > 0, removal / np.maximum(total, 1e-300)[:, None], 0.0)
    share *= paid[:, None]
    conv_exp = share.sum(axis=0)
    value_exp = value @ share
    conv = np.zeros(len(fit.channels))
    val = np.zeros(len(fit.channels))
    for i, c in enumerate(fit.exposure_channels):
        j = fit.channels.index(c)
        conv[j], val[j] = conv_exp[i], value_exp[i]
    n = float(share.shape[0])
    base_conv = n - float(conv.sum())
    base_val = float(value.sum()) - float(val.sum())
    return conv, val, max(base_conv, 0.0), max(base_val, 0.0)


def hazard_attribution(fit: HazardFit, *, model: str = "logistic") -> AttributionResult:
    """Credit every conversion by counterfactual removal of each channel's stocks."""
    conv, val, base_conv, base_val = credit_arrays(fit)
    meta = {
        **fit.diagnostics,
        "coef": {n: float(b) for n, b in zip(fit.feature_names, fit.coef, strict=True)},
    }
    return make_result(model, fit.channels, conv, val, baseline=(base_conv, base_val), meta=meta)
