"""Sequential updating: carrying the posterior forward equals a refit, and is cheaper."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mixlens.ima.regression import ChannelDesign
from mixlens.ima.results import UNATTRIBUTED
from mixlens.ima.sequential import (
    fit_window,
    gaussian_prior,
    rolling_credit,
    rolling_fit,
    window_credit,
)


def _design(weeks: int = 40, k: int = 5, seed: int = 0) -> ChannelDesign:
    rng = np.random.default_rng(seed)
    x = rng.gamma(0.6, 100.0, (weeks * 7, k)) * (rng.random((weeks * 7, k)) < 0.5)
    beta = rng.uniform(0.5, 2.0, k)
    y = x @ beta + 20.0 + rng.normal(0.0, 15.0, weeks * 7)
    return ChannelDesign("tv", tuple(f"c{i}" for i in range(k)), y, x)


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    # Stated tolerance: 1e-8 relative to the largest entry (information form, rounding only).
    return bool(np.allclose(a, b, rtol=1e-8, atol=1e-8 * float(np.abs(b).max())))


@settings(max_examples=25, deadline=None)
@given(
    window_weeks=st.integers(1, 12),
    step_weeks=st.integers(1, 14),
    memory=st.sampled_from(["window", "all"]),
)
def test_carried_prior_equals_refit(window_weeks: int, step_weeks: int, memory: str) -> None:
    design = _design()
    prior = gaussian_prior(design, period=7)
    window, step = 7 * window_weeks, 7 * step_weeks
    fits = rolling_fit(design, prior, window=window, step=step, memory=memory)  # type: ignore[arg-type]
    assert [f.start for f in fits] == list(range(0, design.y.size - window + 1, step))
    for f in fits:
        first = f.start if memory == "window" else 0
        part = ChannelDesign(
            design.channel, design.campaigns, design.y[first : f.stop], design.x[first : f.stop]
        )
        refit = fit_window(part, prior)
        assert _close(f.posterior.precision, refit.precision)
        assert _close(f.posterior.mean, refit.mean)


def test_posterior_recovers_effects_with_data() -> None:
    rng = np.random.default_rng(3)
    x = rng.gamma(1.0, 100.0, (364, 3))
    beta = np.array([0.5, 1.0, 2.0])
    y = x @ beta + rng.normal(0.0, 5.0, 364)
    design = ChannelDesign("tv", ("a", "b", "c"), y, x)
    post = fit_window(design, gaussian_prior(design))
    # Tolerance: 5% per effect with 52 weekly periods and daily noise sd 5.
    np.testing.assert_allclose(post.mean[1:], beta, rtol=0.05)


def test_carrying_forward_does_less_work_than_refitting() -> None:
    """The update touches the periods that changed; a refit touches the whole window.

    The work of an information-form update is linear in the periods it adds or removes
    (plus one solve shared with the refit). Wall-clock timings, against a conjugate refit
    and the package's ADVI refit, are in ``benchmarks/ima_sequential.py``.
    """
    design = _design(weeks=156, k=40, seed=1)
    window, step = 364, 7
    fits = rolling_fit(design, gaussian_prior(design), window=window, step=step)
    carried = sum(f.periods_used for f in fits)
    refit = len(fits) * window // 7
    assert fits[0].periods_used == window // 7
    assert all(f.periods_used == 2 * step // 7 for f in fits[1:])
    assert carried * 20 < refit, (carried, refit)


def test_window_credit_conserves_the_channel() -> None:
    design = _design()
    fits = rolling_fit(design, gaussian_prior(design), window=56, step=28)
    for f in fits[:3]:
        credit = window_credit(design, f, draws=50, seed=1)
        assert list(credit["campaign"]) == [*design.campaigns, UNATTRIBUTED]
        total = design.y[f.start : f.stop].sum()
        assert credit["contribution_mean"].sum() == pytest.approx(total, rel=1e-12)
        assert (credit["contribution_lo"] <= credit["contribution_hi"]).all()


def test_rolling_credit_table_and_checks() -> None:
    design = _design(weeks=10)
    days = pd.date_range("2024-01-01", periods=70, freq="D")
    table = rolling_credit([design], days, window=28, step=14, draws=20)
    assert table["window_start"].iloc[0] == "2024-01-01"
    assert table["window_end"].iloc[0] == "2024-01-28"
    assert table["window_start"].nunique() == 4
    with pytest.raises(ValueError, match="multiples"):
        rolling_fit(design, gaussian_prior(design), window=30, step=14)
    with pytest.raises(ValueError, match="longer"):
        rolling_fit(design, gaussian_prior(design), window=77, step=14)
