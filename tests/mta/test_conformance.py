"""One suite over every model: conservation, no negative credit, determinism, input parity."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.mta.helpers import paths

from mixlens.mta import AVAILABLE_MODELS, JourneyTable, path_table, run_models
from mixlens.mta.result import AttributionResult
from mixlens.mta.run import TIMED_MODELS

PATH_MODELS = [m for m in AVAILABLE_MODELS if m not in TIMED_MODELS]
Logs = tuple[pd.DataFrame, pd.DataFrame]


def run_one(
    jt: JourneyTable, model: str, *, seed: int = 0, order: int = 1, logs: Logs | None = None
) -> AttributionResult:
    ((result, _),) = run_models(jt, [model], order=order, seed=seed, logs=logs)
    return result


def check_conservation(result: AttributionResult, jt: JourneyTable) -> None:
    frame = result.to_frame()
    assert list(frame.columns) == ["model", "channel", "conversions", "value", "share"]
    assert (frame["model"] == result.model).all()
    assert frame["conversions"].sum() == pytest.approx(jt.conversions, rel=1e-9, abs=1e-9)
    assert frame["value"].sum() == pytest.approx(jt.value, rel=1e-9, abs=1e-9)
    assert (frame["conversions"] >= 0).all() and (frame["value"] >= 0).all()
    assert np.isfinite(frame[["conversions", "value", "share"]].to_numpy()).all()
    if jt.conversions > 0:
        assert frame["share"].sum() == pytest.approx(1.0)


@pytest.mark.parametrize("model", AVAILABLE_MODELS)
def test_conserves_and_is_deterministic(
    model: str, world_journeys: JourneyTable, logs: Logs
) -> None:
    result = run_one(world_journeys, model, seed=3, logs=logs)
    check_conservation(result, world_journeys)
    again = run_one(world_journeys, model, seed=3, logs=logs)
    pd.testing.assert_frame_equal(result.to_frame(), again.to_frame())


@pytest.mark.parametrize("model", ["last", "markov", "shapley", "logistic", "incremental"])
def test_bootstrap_intervals_cover_the_estimate(
    model: str, world_journeys: JourneyTable, logs: Logs
) -> None:
    ((result, _),) = run_models(world_journeys, [model], seed=1, logs=logs, bootstrap=6)
    intervals = result.meta["intervals"]
    assert list(intervals["channel"]) == list(result.credit["channel"])
    lo, hi = intervals["conversions_lo"].to_numpy(), intervals["conversions_hi"].to_numpy()
    assert (lo >= 0).all() and (lo <= hi).all()
    assert (hi > lo).any()  # the replicates differ
    ((again, _),) = run_models(world_journeys, [model], seed=1, logs=logs, bootstrap=6)
    pd.testing.assert_frame_equal(intervals, again.meta["intervals"])


@pytest.mark.parametrize("model", PATH_MODELS)
def test_logs_and_path_table_agree(model: str, world_journeys: JourneyTable) -> None:
    from_logs = run_one(world_journeys, model).to_frame()
    from_paths = run_one(JourneyTable.from_paths(path_table(world_journeys)), model).to_frame()
    pd.testing.assert_frame_equal(from_logs, from_paths, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("order", [2, 3, 4])
def test_markov_orders_conserve(order: int, world_journeys: JourneyTable) -> None:
    check_conservation(run_one(world_journeys, "markov", order=order), world_journeys)


CHANNELS = ["a", "b", "c", "direct"]
path_rows = st.lists(
    st.tuples(
        st.lists(st.sampled_from(CHANNELS), min_size=1, max_size=6).map(" > ".join),
        st.integers(0, 20),
        st.integers(0, 5000),  # cents
        st.integers(0, 20),
    ),
    min_size=1,
    max_size=12,
)


@pytest.mark.parametrize("model", PATH_MODELS)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=path_rows, order=st.integers(1, 4))
def test_conservation_property(
    model: str, rows: list[tuple[str, int, int, int]], order: int
) -> None:
    table = paths([(p, c, v / 100.0 if c else 0.0, n) for p, c, v, n in rows])
    jt = JourneyTable.from_paths(table)
    check_conservation(run_one(jt, model, order=order), jt)
