"""`mixlens serve --model RUN --neural`: the neural artifact credits each conversion."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.service.conftest import auth, conversion, touch

torch = pytest.importorskip("torch")

from mixlens.data.simulate.journeys import JourneyWorldConfig, simulate_journeys  # noqa: E402
from mixlens.errors import DataError  # noqa: E402
from mixlens.mta.neural import NetConfig, TrainConfig, fit_neural, load_model  # noqa: E402
from mixlens.mta.neural.credit import journey_credit  # noqa: E402
from mixlens.service.app import ServiceSettings, create_app  # noqa: E402

SMALL = TrainConfig(
    net=NetConfig(embedding_dim=8, conv_channels=8, hidden=8, attention_dim=8, max_len=16),
    epochs=2,
    batch_size=256,
    patience=2,
)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    world = simulate_journeys(JourneyWorldConfig(users=1_500, n_channels=6), seed=5)
    scorer = fit_neural(world.touchpoints, world.conversions, config=SMALL, seed=1)
    root = tmp_path_factory.mktemp("mta_run")
    scorer.save(root / "neural_model")
    return root


def test_neural_model_credits_each_conversion(run_dir: Path, tmp_path: Path) -> None:
    app = create_app(ServiceSettings(db=tmp_path / "events.db", model_dir=run_dir, neural=True))
    channels = list(load_model(run_dir / "neural_model").vocab.channels)
    key = app.state.store.create_key("acme")
    events = [
        touch("t1", "u1", "2026-11-01T10:00:00Z", channels[0]),
        touch("t2", "u1", "2026-11-02T10:00:00Z", "direct"),
        touch("t3", "u1", "2026-11-03T09:00:00Z", channels[1]),
        conversion("c1", "u1", "2026-11-03T10:00:00Z", value=80.0),
    ]
    with TestClient(app) as client:
        assert client.post("/v1/events", json={"events": events}, headers=auth(key)).json() == {
            "accepted": 4,
            "duplicates": 0,
        }
        body = client.get("/v1/conversions/c1/attribution?by=value", headers=auth(key)).json()
        window = client.get("/v1/attribution", headers=auth(key)).json()
        model = client.get("/v1/model", headers=auth(key)).json()
    assert body["model"] == "neural" and model["model"] == "neural"
    credits = {c["event_id"]: c["credit"] for c in body["credits"]}
    assert credits["t2"] == 0.0  # direct sessions are never credited
    assert all(v >= 0 for v in credits.values())
    assert sum(credits.values()) + body["baseline"] == pytest.approx(80.0, rel=1e-9)
    # The service's answer is the library's journey credit.
    scorer = load_model(run_dir / "neural_model")
    shares, base = journey_credit(scorer, [channels[0], "direct", channels[1]], [48.0, 24.0, 1.0])
    assert [credits[e] / 80.0 for e in ("t1", "t2", "t3")] == pytest.approx(shares, rel=1e-6)
    assert body["baseline"] / 80.0 == pytest.approx(base, rel=1e-6)
    # Window credit conserves the conversion too, baseline included.
    assert sum(row["conversions"] for row in window["credits"]) == pytest.approx(1.0)


def test_neural_without_a_run_dir_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="neural"):
        create_app(ServiceSettings(db=tmp_path / "events.db", neural=True))
