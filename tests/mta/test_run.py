from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from mixlens.data.simulate.journeys import SimulatedJourneys
from mixlens.errors import DataError
from mixlens.mta import AVAILABLE_MODELS, fit_to_dir
from mixlens.mta.run import resolve_models


def test_fit_from_logs(world_dir: Path, world: SimulatedJourneys, tmp_path: Path) -> None:
    stages: list[str] = []
    summary = fit_to_dir(
        touchpoints=world_dir / "touchpoints.csv",
        conversions=world_dir / "conversions.csv",
        models=None,
        out_dir=tmp_path,
        progress=lambda stage, _: stages.append(stage),
    )
    frame = pd.read_csv(tmp_path / "attribution.csv")
    assert list(frame.columns) == ["model", "channel", "conversions", "value", "share"]
    assert list(frame["model"].unique()) == list(AVAILABLE_MODELS)
    sums = frame.groupby("model")["conversions"].sum()
    assert (sums - len(world.conversions)).abs().max() < 1e-6
    written = json.loads((tmp_path / "summary.json").read_text())
    assert written["conversions"] == len(world.conversions)
    assert set(written["models"]) == set(AVAILABLE_MODELS)
    assert "truth" not in json.dumps(written)
    assert summary["journeys"]["journeys"] == world.summary["journeys"]
    assert stages[0] == "load" and stages[-1] == "done"


def test_fit_from_paths_matches_logs(world_dir: Path, tmp_path: Path) -> None:
    fit_to_dir(
        paths=world_dir / "paths.csv",
        models=["markov", "shapley", "last"],
        order=2,
        out_dir=tmp_path / "p",
    )
    fit_to_dir(
        touchpoints=world_dir / "touchpoints.csv",
        conversions=world_dir / "conversions.csv",
        models=["markov", "shapley", "last"],
        order=2,
        out_dir=tmp_path / "l",
    )
    a = pd.read_csv(tmp_path / "p" / "attribution.csv")
    b = pd.read_csv(tmp_path / "l" / "attribution.csv")
    pd.testing.assert_frame_equal(a, b, rtol=1e-9)


def test_paths_default_models_skip_time_decay(world_dir: Path, tmp_path: Path) -> None:
    summary = fit_to_dir(paths=world_dir / "paths.csv", out_dir=tmp_path)
    assert "time_decay" not in summary["models"]
    with pytest.raises(DataError, match="time_decay"):
        fit_to_dir(paths=world_dir / "paths.csv", models=["time_decay"], out_dir=tmp_path)


@pytest.mark.parametrize(
    ("models", "match"),
    [
        (["markov", "nope"], r"unknown model 'nope'; available models: first, last"),
        ([], "no model given"),
    ],
)
def test_bad_models(models: list[str], match: str) -> None:
    with pytest.raises(DataError, match=match):
        resolve_models(models)


def test_neural_needs_the_logs() -> None:
    with pytest.raises(DataError, match="'neural' needs touch timestamps"):
        resolve_models(["neural"], has_timing=False)


def test_bad_order_and_inputs(world_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="order=5"):
        fit_to_dir(paths=world_dir / "paths.csv", order=5, out_dir=tmp_path)
    with pytest.raises(DataError, match="either"):
        fit_to_dir(out_dir=tmp_path)
    with pytest.raises(DataError, match="together"):
        fit_to_dir(touchpoints=world_dir / "touchpoints.csv", out_dir=tmp_path)
    assert not (tmp_path / "attribution.csv").exists()


def test_negative_path_counts(tmp_path: Path) -> None:
    bad = tmp_path / "paths.csv"
    bad.write_text("path,total_conversions,total_conversion_value,total_null\na > b,-2,1.0,0\n")
    with pytest.raises(DataError, match=r"paths.csv: column 'total_conversions', row 1: negative"):
        fit_to_dir(paths=bad, out_dir=tmp_path / "out")
