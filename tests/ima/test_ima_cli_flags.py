"""`mixlens ima fit` forwards its MMM-uncertainty flags to the pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import mixlens.ima.run as ima_run
from mixlens.cli import app

runner = CliRunner()


@pytest.mark.parametrize(("flag", "expected"), [([], True), (["--exact-mmm"], False)])
def test_mmm_error_flag_reaches_fit_to_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flag: list[str], expected: bool
) -> None:
    seen: dict[str, Any] = {}

    def fake_fit_to_dir(*args: Any, **kwargs: Any) -> dict[str, Any]:
        seen.update(kwargs)
        return {}

    monkeypatch.setattr(ima_run, "fit_to_dir", fake_fit_to_dir)
    campaigns = tmp_path / "campaigns.csv"
    campaigns.write_text("date,channel,campaign,spend\n")
    args = ["ima", "fit", "--mmm", str(tmp_path), "--campaigns", str(campaigns)]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "out"), *flag])
    assert result.exit_code == 0, result.output
    assert seen["mmm_error"] is expected


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ([], {"window": None, "step": None, "memory": "window", "pooling": "partial"}),
        (
            ["--window", "28", "--step", "14", "--memory", "all", "--pooling", "none"],
            {"window": 28, "step": 14, "memory": "all", "pooling": "none"},
        ),
    ],
)
def test_window_flags_reach_fit_to_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flags: list[str], expected: dict[str, Any]
) -> None:
    seen: dict[str, Any] = {}

    def fake_fit_to_dir(*args: Any, **kwargs: Any) -> dict[str, Any]:
        seen.update(kwargs)
        return {}

    monkeypatch.setattr(ima_run, "fit_to_dir", fake_fit_to_dir)
    campaigns = tmp_path / "campaigns.csv"
    campaigns.write_text("date,channel,campaign,spend\n")
    args = ["ima", "fit", "--mmm", str(tmp_path), "--campaigns", str(campaigns)]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "out"), *flags])
    assert result.exit_code == 0, result.output
    assert {k: seen[k] for k in expected} == expected


@pytest.mark.parametrize(
    ("flags", "message"),
    [(["--step", "7"], "--step needs --window"), (["--memory", "some"], "--memory must be")],
)
def test_bad_window_flags_exit_2(tmp_path: Path, flags: list[str], message: str) -> None:
    campaigns = tmp_path / "campaigns.csv"
    campaigns.write_text("date,channel,campaign,spend\n")
    args = ["ima", "fit", "--mmm", str(tmp_path), "--campaigns", str(campaigns)]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "out"), *flags])
    assert result.exit_code == 2
    assert message in result.stderr
