from __future__ import annotations

import itertools
from math import factorial

import numpy as np
import pytest
from tests.mta.helpers import paths

from mixlens.mta import JourneyTable, shapley_attribution
from mixlens.mta.shapley import shapley_from_game


def test_worked_example() -> None:
    # Journeys by channel set: {a}: 4, {b}: 2, {a, b}: 6, {a, b, c}: 3 conversions.
    # v(S) = conversions of journeys whose set lies in S; the Shapley values are
    # a = 4 + 6/2 + 3/3 = 8, b = 2 + 3 + 1 = 6, c = 1 (Zhao et al.'s simplified formula).
    table = paths(
        [("a", 4, 40.0, 9), ("b", 2, 10.0, 0), ("a > b > a", 6, 60.0, 1), ("c > b > a", 3, 9.0, 0)]
    )
    r = shapley_attribution(JourneyTable.from_paths(table))
    np.testing.assert_allclose(r.credit["conversions"], [8.0, 6.0, 1.0])
    np.testing.assert_allclose(r.credit["value"], [40 + 30 + 3, 10 + 30 + 3, 3])
    assert r.meta["method"] == "exact"


def brute_force(v: dict[frozenset[int], float], n: int) -> list[float]:
    phi = [0.0] * n
    for j in range(n):
        others = [k for k in range(n) if k != j]
        for size in range(n):
            w = factorial(size) * factorial(n - size - 1) / factorial(n)
            for s in itertools.combinations(others, size):
                phi[j] += w * (v[frozenset(s) | {j}] - v[frozenset(s)])
    return phi


def test_game_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    n = 4
    worth = rng.random(1 << n)
    worth[0] = 0.0
    v = {frozenset(k for k in range(n) if m >> k & 1): worth[m] for m in range(1 << n)}
    np.testing.assert_allclose(shapley_from_game(worth), brute_force(v, n), rtol=1e-12)


def simplified(jt: JourneyTable) -> np.ndarray:
    """phi_j = sum over converting journeys containing j of conversions / |channel set|."""
    a = jt.arrays()
    expected = np.zeros(len(a.channels))
    for j in np.flatnonzero(a.converted & (a.n_touches > 0)):
        members = np.unique(a.channel[a.offsets[j] : a.offsets[j + 1]])
        expected[members] += a.weight[j] / members.shape[0]
    return expected


def test_exact_equals_simplified_formula(world_journeys: JourneyTable) -> None:
    r = shapley_attribution(world_journeys)
    expected = simplified(world_journeys)
    np.testing.assert_allclose(r.credit["conversions"].to_numpy(), expected, rtol=1e-10)


def many_channel_table(n_channels: int, rng: np.random.Generator) -> JourneyTable:
    rows = []
    for _ in range(200):
        k = int(rng.integers(1, 5))
        chosen = rng.choice(n_channels, size=k, replace=False)
        rows.append(
            (
                " > ".join(f"ch{c:02d}" for c in chosen),
                float(rng.integers(1, 5)),
                float(rng.integers(1, 100)),
                float(rng.integers(0, 3)),
            )
        )
    return JourneyTable.from_paths(paths(rows))


def test_sampled_beyond_exact_limit() -> None:
    jt = many_channel_table(24, np.random.default_rng(3))
    r = shapley_attribution(jt, n_permutations=400, seed=1)
    assert r.meta["method"] == "sampled"
    credit = r.credit["conversions"].to_numpy()
    assert credit.sum() == pytest.approx(jt.conversions, rel=1e-12)  # efficiency per permutation
    assert np.all(credit >= 0)
    se = np.array(list(r.meta["se_conversions"].values()))
    assert np.all(se >= 0) and se.max() > 0
    # Close to the exact answer (the simplified formula), within a few standard errors.
    exact = simplified(jt)
    active = credit > 0
    assert np.all(np.abs(credit[active] - exact[active]) <= 5 * se + 1e-9)
    again = shapley_attribution(jt, n_permutations=400, seed=1)
    np.testing.assert_array_equal(credit, again.credit["conversions"].to_numpy())
