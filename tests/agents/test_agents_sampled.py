from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mixlens.agents.shapley import exact_shapley, sampled_shapley, shapley_credit
from mixlens.errors import DataError


def _game(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=n), rng.normal(size=(n, n)) / n


def _value(w: np.ndarray, inter: np.ndarray):
    return lambda s: float(w @ s + s @ inter @ s)


@settings(max_examples=20, deadline=None)
@given(st.integers(2, 8), st.integers(0, 1000))
@example(n=2, seed=41)  # outside the Hoeffding band of delta 0.05, as 5% of cases may be
def test_sampled_conserves_exactly_and_exact_is_within_the_error(n: int, seed: int) -> None:
    w, inter = _game(n, seed)
    v = _value(w, inter)
    # the Hoeffding band fails with probability delta per player: 1e-9, as the 6-sigma one
    est = sampled_shapley(v, n, permutations=400, delta=1e-9, rng=seed)
    full = v(np.ones(n, dtype=bool)) - v(np.zeros(n, dtype=bool))
    assert est.values.sum() == pytest.approx(full, rel=1e-12, abs=1e-12)
    masks = np.arange(2**n)
    table = [v(((m >> np.arange(n)) & 1).astype(bool)) for m in masks]
    truth = exact_shapley(table)
    # a 6-sigma band fails with probability ~1e-9 per player
    assert np.all(np.abs(est.values - truth) <= 6 * est.stderr + 1e-12)
    assert np.all(np.abs(est.values - truth) <= est.hoeffding + 1e-12)


def test_beyond_fifteen_channels_additive_game_is_exact() -> None:
    media = np.linspace(1.0, 40.0, 40)
    credit = shapley_credit(5.0, media, permutations=20, rng=0)
    np.testing.assert_allclose(credit, media, rtol=1e-12)
    assert credit.sum() == pytest.approx(media.sum(), rel=1e-12)


def test_sampled_validates() -> None:
    with pytest.raises(DataError, match="permutations"):
        sampled_shapley(lambda s: 0.0, 3, permutations=1)
