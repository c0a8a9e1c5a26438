"""The Ibis aggregation equals the DuckDB journeys, locally and as compiled SQL."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mixlens.mta import build_journeys, path_table
from mixlens.mta.describe import transitions

ibis = pytest.importorskip("ibis")

from mixlens.mta.ibis_paths import (  # noqa: E402  (after the skip: needs the ibis extra)
    DIALECTS,
    _arrow,
    path_table_expr,
    path_table_ibis,
    to_sql,
    transitions_expr,
)

TOUCHES = ibis.table(
    {"user_id": "string", "timestamp": "timestamp", "channel": "string", "rid": "int64"},
    name="touchpoints",
)
CONVERSIONS = ibis.table(
    {"user_id": "string", "timestamp": "timestamp", "value": "float64", "rid": "int64"},
    name="conversions",
)


def _by_edge(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["from", "to"]).reset_index(drop=True)


def test_local_ibis_equals_duckdb_path_table(logs: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    expected = path_table(build_journeys(*logs, lookback_days=30))
    got = path_table_ibis(*logs, lookback_days=30)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_compiles_to_every_dialect(dialect: str) -> None:
    for expr in (
        path_table_expr(TOUCHES, CONVERSIONS, row_id="rid"),
        transitions_expr(TOUCHES, CONVERSIONS, row_id="rid"),
    ):
        sql = to_sql(expr, dialect)
        assert "touchpoints" in sql and "conversions" in sql
        assert "ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING" in sql.upper()


def test_compiled_sql_runs_on_duckdb(
    logs: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    journeys = build_journeys(*logs, lookback_days=30)
    con = duckdb.connect()
    try:
        con.register("touchpoints", _arrow(logs[0], ["user_id", "timestamp", "channel"]))
        con.register("conversions", _arrow(logs[1], ["user_id", "timestamp", "value"]))
        paths_sql = to_sql(path_table_expr(TOUCHES, CONVERSIONS, row_id="rid"), "duckdb")
        trans_sql = to_sql(transitions_expr(TOUCHES, CONVERSIONS, row_id="rid"), "duckdb")
        paths = con.execute(paths_sql).df()
        trans = con.execute(trans_sql).df()
    finally:
        con.close()
    pd.testing.assert_frame_equal(paths, path_table(journeys), check_dtype=False)
    pd.testing.assert_frame_equal(
        _by_edge(trans), _by_edge(transitions(journeys)), check_dtype=False
    )


def test_hand_logs_edge_cases(hand_logs: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    tp, cv = hand_logs
    # A second conversion of u1 at the same instant (touchless: not in the path table), and a
    # touch 40 days before u3's conversion (outside the lookback: dropped).
    cv = pd.concat([cv, cv.iloc[[0]].assign(value=99.0)], ignore_index=True)
    early = tp.iloc[[4]].assign(timestamp=tp["timestamp"].iloc[4] - pd.Timedelta(days=40))
    tp = pd.concat([tp, early], ignore_index=True)
    expected = path_table(build_journeys(tp, cv, lookback_days=30))
    pd.testing.assert_frame_equal(
        path_table_ibis(tp, cv, lookback_days=30), expected, check_dtype=False
    )


log_rows = st.lists(
    st.tuples(st.integers(0, 3), st.integers(0, 120), st.sampled_from(["a", "b", "c"])),
    min_size=1,
    max_size=25,
)
conv_rows = st.lists(
    st.tuples(st.integers(0, 3), st.integers(0, 120), st.integers(0, 9_999)), max_size=8
)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(touches=log_rows, convs=conv_rows, lookback_hours=st.sampled_from([6, 48, 1_000]))
def test_matches_duckdb_on_random_logs(
    touches: list[tuple[int, int, str]], convs: list[tuple[int, int, int]], lookback_hours: int
) -> None:
    start = pd.Timestamp("2025-01-01")
    tp = pd.DataFrame(
        {
            "user_id": [f"u{u}" for u, _, _ in touches],
            "timestamp": [start + pd.Timedelta(hours=h) for _, h, _ in touches],
            "channel": [c for _, _, c in touches],
        }
    )
    cv = pd.DataFrame(
        {
            "user_id": pd.Series([f"u{u}" for u, _, _ in convs], dtype="str"),
            "timestamp": pd.Series(
                [start + pd.Timedelta(hours=h) for _, h, _ in convs], dtype="datetime64[us]"
            ),
            "value": pd.Series([v / 100.0 for _, _, v in convs], dtype="float64"),
        }
    )
    lookback = lookback_hours / 24.0
    expected = path_table(build_journeys(tp, cv, lookback_days=lookback))
    got = path_table_ibis(tp, cv, lookback_days=lookback)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
