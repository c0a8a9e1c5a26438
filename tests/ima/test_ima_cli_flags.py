"""`mixlens ima fit` forwards its MMM-uncertainty flags to the pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import mixlens.ima.run as ima_run
from mixlens.cli import app

runner = CliRunner()


def _forwarded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flags: list[str]) -> dict[str, Any]:
    """Run `mixlens ima fit FLAGS` with fit_to_dir faked; the keyword arguments it got."""
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
    return seen


@pytest.mark.parametrize(("flag", "expected"), [([], True), (["--exact-mmm"], False)])
def test_mmm_error_flag_reaches_fit_to_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flag: list[str], expected: bool
) -> None:
    seen = _forwarded(tmp_path, monkeypatch, flag)
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
    seen = _forwarded(tmp_path, monkeypatch, flags)
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


def test_a_media_metric_missing_from_the_campaigns_exits_2(tmp_path: Path) -> None:
    """`--media clicks` on a table without clicks: a one-line error naming file and column."""
    (tmp_path / "contrib.csv").write_text(
        "date,channel,contribution\n2024-01-01,social,10.0\n2024-01-02,social,12.0\n"
    )
    campaigns = tmp_path / "campaigns.csv"
    campaigns.write_text(
        "date,channel,campaign,spend,impressions\n"
        "2024-01-01,social,a,1.0,10\n2024-01-02,social,a,2.0,20\n"
    )
    args = ["ima", "fit", "--contributions", str(tmp_path / "contrib.csv"), "--campaigns"]
    args += [str(campaigns), "--media", "clicks", "--out", str(tmp_path / "out")]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "campaigns.csv" in result.stderr and "'clicks'" in result.stderr
    assert not (tmp_path / "out").exists()
