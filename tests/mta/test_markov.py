from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from tests.mta.helpers import paths

from mixlens.errors import DataError
from mixlens.mta import JourneyTable, markov_attribution


def test_order1_hand_worked() -> None:
    # Chain (self-loop a > a merged): start->a 3, start->b 1, start->c 1; a->b 2, a->c 1;
    # b->conv 1, b->null 1, b->c 1; c->conv 2, c->null 1. P(conv) = 3/5; removal leaves
    # 33/135, 36/135, 27/135, so RE = 48, 45, 54 (/135) and credit = 3 * RE / 147.
    table = paths(
        [("a > b", 1, 10.0, 1), ("b > c", 1, 20.0, 0), ("c", 0, 0.0, 1), ("a > a > c", 1, 30.0, 0)]
    )
    r = markov_attribution(JourneyTable.from_paths(table))
    np.testing.assert_allclose(r.credit["conversions"], [48 / 49, 45 / 49, 54 / 49], rtol=1e-12)
    # Value: mean value converting from b is 10, from c is 25; V = 62/9, 16/3, 10.
    np.testing.assert_allclose(r.credit["value"], [18.6, 14.4, 27.0], rtol=1e-12)
    assert r.meta["p_conversion"] == pytest.approx(0.6)
    assert r.meta["removal_effects"]["a"] == pytest.approx(48 / 81)


def test_order1_two_channels_doc_example() -> None:
    table = paths([("a > b", 1, 10.0, 0), ("b", 1, 2.0, 1)])
    r = markov_attribution(JourneyTable.from_paths(table))
    np.testing.assert_allclose(r.credit["conversions"], [0.5, 1.5])
    np.testing.assert_allclose(r.credit["value"], [3.0, 9.0])


def test_without_nulls_every_path_converts() -> None:
    table = paths([("a > b", 1, 1.0, 5), ("b", 1, 1.0, 100)])
    r = markov_attribution(JourneyTable.from_paths(table), use_nulls=False)
    # P(conv) = 1; removing a loses half the paths, removing b all: credit 2 * (1/2, 1) / 1.5.
    np.testing.assert_allclose(r.credit["conversions"], [2 / 3, 4 / 3])


def test_higher_order_states() -> None:
    table = paths([("a > b > c", 2, 2.0, 1), ("a > b", 1, 1.0, 0), ("c", 0, 0.0, 2)])
    jt = JourneyTable.from_paths(table)
    r2 = markov_attribution(jt, order=2)
    # States: (a b), (b c), (c); each path is its own route: removal of any channel of
    # path 1 or 2 kills its conversions; b and a appear in every converting path.
    assert r2.meta["states"] == 3
    assert sum(r2.credit["conversions"]) == pytest.approx(3)
    np.testing.assert_allclose(r2.credit["conversions"], [3 * 3 / 8, 3 * 3 / 8, 3 * 2 / 8])
    r3 = markov_attribution(jt, order=3)
    assert r3.meta["states"] == 3  # (a b c), (a b), (c)


@pytest.mark.parametrize("order", [0, 5, 1.5, True])
def test_order_out_of_range(order: object) -> None:
    jt = JourneyTable.from_paths(paths([("a", 1, 1.0, 0)]))
    with pytest.raises(DataError, match="order"):
        markov_attribution(jt, order=order)  # type: ignore[arg-type]


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_channelattribution_data(ca_paths: pd.DataFrame, order: int) -> None:
    r = markov_attribution(JourneyTable.from_paths(ca_paths), order=order)
    credit = r.credit["conversions"].to_numpy()
    assert np.all(np.isfinite(credit)) and np.all(credit >= 0)
    assert credit.sum() == pytest.approx(ca_paths["total_conversions"].sum(), rel=1e-10)
    assert r.credit["value"].sum() == pytest.approx(
        ca_paths["total_conversion_value"].sum(), rel=1e-10
    )
    assert "baseline" not in set(r.credit["channel"])
