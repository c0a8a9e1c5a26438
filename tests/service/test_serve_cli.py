"""``mixlens keys create`` and ``mixlens serve`` argument handling."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from mixlens.cli import app
from mixlens.service.app import ServiceSettings, create_app
from mixlens.service.store import EventStore

runner = CliRunner()


def test_keys_create_prints_a_working_key_once(tmp_path: Path) -> None:
    db = tmp_path / "k.db"
    result = runner.invoke(app, ["keys", "create", "--tenant", "acme", "--db", str(db)])
    assert result.exit_code == 0, result.output
    key = result.stdout.strip()
    assert key.startswith("mlk_")
    who = EventStore(db).authenticate(key)
    assert who is not None and who.tenant == "acme"
    again = runner.invoke(app, ["keys", "create", "--tenant", "acme", "--db", str(db)])
    assert again.stdout.strip() != key


def test_serve_rejects_a_run_dir_without_attribution(tmp_path: Path) -> None:
    result = runner.invoke(app, ["serve", "--db", str(tmp_path / "s.db"), "--model", str(tmp_path)])
    assert result.exit_code == 2
    assert "attribution.csv" in result.stderr


def test_serve_needs_the_stream_tenant(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["serve", "--db", str(tmp_path / "s.db"), "--redis", "redis://127.0.0.1:1/0"]
    )
    assert result.exit_code == 2


def test_model_dir_sets_every_tenants_default(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "attribution.csv").write_text(
        "model,channel,conversions,value,share\nmarkov,tv,2,0,0.5\nmarkov,search,2,0,0.5\n"
    )
    service = create_app(ServiceSettings(db=tmp_path / "s.db", model_dir=run))
    info = service.state.registry.get(1).info()
    assert info["model"] == "markov" and info["weights"] == {"tv": 2.0, "search": 2.0}
