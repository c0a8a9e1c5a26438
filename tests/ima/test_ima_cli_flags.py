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
