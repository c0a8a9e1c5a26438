"""Descriptive journey tables (transitions, path lengths, time to conversion) and their report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.mta.helpers import paths

from mixlens.data.simulate.journeys import SimulatedJourneys
from mixlens.mta import JourneyTable
from mixlens.mta.describe import (
    CONVERSION,
    NULL,
    START,
    path_lengths,
    time_to_conversion,
    transitions,
)
from mixlens.mta.evaluate import accuracy_against_truth
from mixlens.mta.journeys import path_table
from mixlens.mta.run import fit_to_dir
from mixlens.report.html import Figure
from mixlens.report.mta import journey_blocks, mta_section, read_journey_tables

CHANNELS = ["a", "b", "c", "direct"]
path_rows = st.lists(
    st.tuples(
        st.lists(st.sampled_from(CHANNELS), min_size=1, max_size=6).map(" > ".join),
        st.integers(0, 20),
        st.integers(0, 20),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=path_rows)
def test_transition_invariants(rows: list[tuple[str, int, int]]) -> None:
    jt = JourneyTable.from_paths(paths([(p, c, float(c), n) for p, c, n in rows]))
    t = transitions(jt)
    total = sum(c + n for _, c, n in rows)
    if total == 0:
        assert t.empty
        return
    # Each state's outgoing probabilities sum to one; no self-loops; absorbing states absorb.
    assert np.allclose(t.groupby("from")["probability"].sum(), 1.0)
    assert not (t["from"] == t["to"]).any()
    assert not t["from"].isin([CONVERSION, NULL]).any()
    assert START not in set(t["to"])
    # Flow conservation: every journey starts once and ends once.
    into = t.groupby("to")["count"].sum()
    assert t.loc[t["from"] == START, "count"].sum() == total
    assert into.get(CONVERSION, 0.0) == sum(c for _, c, _ in rows)
    assert into.get(NULL, 0.0) == sum(n for _, _, n in rows)
    out_of = t.groupby("from")["count"].sum()
    for state in set(t["from"]) - {START}:
        assert np.isclose(into.get(state, 0.0), out_of[state])


def test_transitions_merge_repeats_like_markov() -> None:
    jt = JourneyTable.from_paths(paths([("a > a > b > a", 2, 2.0, 1)]))
    t = transitions(jt).set_index(["from", "to"])["count"]
    assert t.to_dict() == {
        (START, "a"): 3.0,
        ("a", "b"): 3.0,
        ("b", "a"): 3.0,
        ("a", CONVERSION): 2.0,
        ("a", NULL): 1.0,
    }


def test_logs_and_path_table_give_the_same_tables(world_journeys: JourneyTable) -> None:
    from_paths = JourneyTable.from_paths(path_table(world_journeys))
    pd.testing.assert_frame_equal(transitions(world_journeys), transitions(from_paths))
    pd.testing.assert_frame_equal(path_lengths(world_journeys), path_lengths(from_paths))
    assert time_to_conversion(from_paths) is None


def test_distributions_count_every_journey(
    world_journeys: JourneyTable, world: SimulatedJourneys
) -> None:
    j = world_journeys.journeys
    with_touches = j[j["n_touches"] > 0]
    lengths = path_lengths(world_journeys)
    assert lengths["converting"].sum() == with_touches["converted"].sum()
    assert lengths["null"].sum() == (~with_touches["converted"]).sum()
    timing = time_to_conversion(world_journeys)
    assert timing is not None
    assert timing["conversions"].sum() == with_touches["converted"].sum()
    assert np.isclose(timing["value"].sum(), with_touches["value"].sum())
    # Within the 30-day lookback, nothing lies beyond it.
    assert timing.loc[timing["days_from"] >= 30, "conversions"].sum() == 0
    assert (timing["days_to"] > timing["days_from"]).all()


def test_fit_writes_tables_and_report_draws_them(
    world_dir: Path, world: SimulatedJourneys, tmp_path: Path
) -> None:
    summary = fit_to_dir(
        touchpoints=world_dir / "touchpoints.csv",
        conversions=world_dir / "conversions.csv",
        models=["last", "markov"],
        out_dir=tmp_path,
    )
    for name in ("paths.csv", "transitions.csv", "path_lengths.csv", "time_to_conversion.csv"):
        assert (tmp_path / name).exists() and name in summary["files"]
    written = pd.read_csv(tmp_path / "paths.csv")
    expected = world.paths.sort_values("path").reset_index(drop=True)
    got = written.sort_values("path").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    tables = read_journey_tables(tmp_path)
    assert set(tables) == {"transitions.csv", "path_lengths.csv", "time_to_conversion.csv"}
    assert len(journey_blocks(tables)) == 4
    attribution = pd.read_csv(tmp_path / "attribution.csv")
    accuracy = accuracy_against_truth(attribution, world.channel_truth)
    plain = mta_section(attribution, accuracy, world.channel_truth)
    full = mta_section(attribution, accuracy, world.channel_truth, out_dir=tmp_path)
    figures = [b for b in full.blocks if isinstance(b, Figure)]
    assert len(figures) == len([b for b in plain.blocks if isinstance(b, Figure)]) + 4
    assert all(f.svg.startswith("<svg") for f in figures)
    assert "(conversion)" in figures[-4].svg


def test_from_paths_fit_skips_timing(world_dir: Path, tmp_path: Path) -> None:
    summary = fit_to_dir(paths=world_dir / "paths.csv", models=["last"], out_dir=tmp_path)
    assert "time_to_conversion.csv" not in summary["files"]
    assert not (tmp_path / "paths.csv").exists()
    assert len(journey_blocks(read_journey_tables(tmp_path))) == 3
