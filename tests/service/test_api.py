"""API behaviour: contract, tenancy, idempotency, validation, auth, limits, hot swap."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.service.conftest import auth, conversion, touch

PATH = [
    touch("t1", "u1", "2025-01-01T00:00:00Z", "tv", cost=1.5),
    touch("t2", "u1", "2025-01-02T00:00:00Z", "search"),
    touch("t3", "u1", "2025-01-03T00:00:00Z", "tv"),
    conversion("c1", "u1", "2025-01-04T00:00:00Z", value=30.0),
]


def post(client: TestClient, key: str, events: list[dict[str, object]]) -> dict[str, int]:
    r = client.post("/v1/events", json={"events": events}, headers=auth(key))
    assert r.status_code == 200, r.text
    return r.json()


def test_contract_ingest_stats_and_attribution(client: TestClient, keys: dict[str, str]) -> None:
    assert post(client, keys["a"], PATH) == {"accepted": 4, "duplicates": 0}
    stats = client.get("/v1/stats", headers=auth(keys["a"])).json()
    assert stats == {"events": 4, "touchpoints": 3, "conversions": 1}
    body = client.get("/v1/conversions/c1/attribution", headers=auth(keys["a"])).json()
    assert body["conversion_id"] == "c1" and body["model"] == "linear"
    assert [c["event_id"] for c in body["credits"]] == ["t1", "t2", "t3"]
    assert sum(c["credit"] for c in body["credits"]) == pytest.approx(1.0, abs=1e-12)
    by_value = client.get("/v1/conversions/c1/attribution?by=value", headers=auth(keys["a"]))
    assert sum(c["credit"] for c in by_value.json()["credits"]) == pytest.approx(30.0)


def test_retried_batch_is_idempotent(client: TestClient, keys: dict[str, str]) -> None:
    post(client, keys["a"], PATH)
    assert post(client, keys["a"], PATH) == {"accepted": 0, "duplicates": 4}
    twice = [PATH[0], PATH[0], touch("t9", "u1", "2025-01-01T00:00:00Z", "tv")]
    assert post(client, keys["a"], twice) == {"accepted": 1, "duplicates": 2}
    assert client.get("/v1/stats", headers=auth(keys["a"])).json()["events"] == 5


def test_path_respects_lookback_and_previous_conversion(
    client: TestClient, keys: dict[str, str]
) -> None:
    events = [
        touch("old", "u", "2024-11-01T00:00:00Z", "display"),  # > 30 days before c2
        touch("a", "u", "2025-01-01T00:00:00Z", "tv"),
        conversion("c1", "u", "2025-01-02T00:00:00Z"),
        touch("b", "u", "2025-01-03T00:00:00Z", "search"),
        touch("same", "u", "2025-01-04T00:00:00Z", "email"),  # same instant as c2: precedes it
        conversion("c2", "u", "2025-01-04T00:00:00Z"),
        conversion("c3", "u", "2025-01-05T00:00:00Z"),
        touch("other", "v", "2025-01-03T00:00:00Z", "tv"),
    ]
    post(client, keys["a"], events)

    def path(cid: str) -> list[str]:
        r = client.get(f"/v1/conversions/{cid}/attribution", headers=auth(keys["a"]))
        return [c["event_id"] for c in r.json()["credits"]]

    assert path("c1") == ["a"]
    assert path("c2") == ["b", "same"]
    assert path("c3") == []
    c3 = client.get("/v1/conversions/c3/attribution", headers=auth(keys["a"])).json()
    assert c3["baseline"] == 1.0
    window = client.get("/v1/attribution", headers=auth(keys["a"])).json()
    assert window["conversions"] == 3
    credit = {c["channel"]: c["conversions"] for c in window["credits"]}
    assert credit == pytest.approx({"tv": 1.0, "search": 0.5, "email": 0.5, "baseline": 1.0})
    part = client.get(
        "/v1/attribution",
        params={"from": "2025-01-03T00:00:00Z", "to": "2025-01-05T00:00:00Z", "model": "last"},
        headers=auth(keys["a"]),
    ).json()
    assert part["model"] == "last" and part["conversions"] == 1
    assert {c["channel"]: c["conversions"] for c in part["credits"]} == {"search": 0, "email": 1}


def test_tenants_are_isolated_on_every_route(client: TestClient, keys: dict[str, str]) -> None:
    post(client, keys["a"], PATH)
    a, b = auth(keys["a"]), auth(keys["b"])
    missing = client.get("/v1/conversions/nope/attribution", headers=b)
    other = client.get("/v1/conversions/c1/attribution", headers=b)
    assert other.status_code == missing.status_code == 404
    assert other.json() == missing.json()
    assert client.get("/v1/conversions/t1/attribution", headers=a).status_code == 404
    assert client.get("/v1/stats", headers=b).json() == {
        "events": 0,
        "touchpoints": 0,
        "conversions": 0,
    }
    assert client.get("/v1/attribution", headers=b).json()["conversions"] == 0
    assert client.get("/v1/dashboard", headers=b).json()["recent"] == []
    # B writes the same event ids: its own events, A's untouched.
    assert post(client, keys["b"], PATH[:2]) == {"accepted": 2, "duplicates": 0}
    assert client.get("/v1/stats", headers=a).json()["events"] == 4
    # B's model does not change A's.
    r = client.put("/v1/model", json={"model": "first"}, headers=b)
    assert r.status_code == 200
    assert client.get("/v1/model", headers=a).json()["model"] == "linear"
    assert client.get("/v1/conversions/c1/attribution", headers=a).json()["model"] == "linear"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer nope"},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer mlk_000000000000_wrong"},
    ],
)
def test_auth_required(client: TestClient, keys: dict[str, str], headers: dict[str, str]) -> None:
    for method, url in [
        ("GET", "/v1/stats"),
        ("GET", "/v1/conversions/c1/attribution"),
        ("GET", "/v1/attribution"),
        ("GET", "/v1/model"),
        ("PUT", "/v1/model"),
        ("POST", "/v1/events"),
    ]:
        r = client.request(method, url, headers=headers, json={"events": PATH})
        assert r.status_code == 401, (method, url, r.status_code)
    assert client.get("/healthz").json() == {"status": "ok"}


def test_wrong_secret_of_a_real_key_id_is_401(client: TestClient, keys: dict[str, str]) -> None:
    key_id = keys["a"].split("_")[1]
    r = client.get("/v1/stats", headers=auth(f"mlk_{key_id}_not-the-secret"))
    assert r.status_code == 401


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({**PATH[0], "type": "click"}, "type"),
        ({k: v for k, v in PATH[0].items() if k != "channel"}, "a touchpoint needs a channel"),
        ({**PATH[0], "timestamp": "yesterday"}, "timestamp"),
        ({**PATH[0], "timestamp": 1735689600}, "ISO 8601"),
        ({**PATH[0], "cost": -1}, "cost"),
        ({**PATH[3], "value": "NaN"}, "value"),
        ({**PATH[3], "channel": "tv"}, "channel and cost are for touchpoints"),
        ({**PATH[0], "event_id": ""}, "event_id"),
        ({**PATH[0], "surprise": 1}, "surprise"),
    ],
)
def test_invalid_events_are_422_with_a_message(
    client: TestClient, keys: dict[str, str], event: dict[str, object], field: str
) -> None:
    r = client.post("/v1/events", json={"events": [event]}, headers=auth(keys["a"]))
    assert r.status_code == 422
    assert field in r.json()["message"]
    assert client.get("/v1/stats", headers=auth(keys["a"])).json()["events"] == 0


def test_other_422s(client: TestClient, keys: dict[str, str]) -> None:
    h = auth(keys["a"])
    assert client.post("/v1/events", json={"events": []}, headers=h).status_code == 422
    assert client.post("/v1/events", content=b"{not json", headers=h).status_code == 422
    r = client.get("/v1/attribution", params={"from": "2025-02-01", "to": "2025-01-01"}, headers=h)
    assert r.status_code == 422 and "before" in r.json()["message"]
    assert client.get("/v1/attribution?model=magic", headers=h).status_code == 422
    r = client.put("/v1/model", json={"model": "markov"}, headers=h)
    assert r.status_code == 422 and "attribution_csv or weights" in r.json()["message"]
    r = client.put(
        "/v1/model", json={"model": "markov", "attribution_csv": "a,b\n1,2\n"}, headers=h
    )
    assert r.status_code == 422 and "columns" in r.json()["message"]


def test_request_size_limit(make_app: Callable[..., FastAPI]) -> None:
    app = make_app(max_body_bytes=2_000)
    key = app.state.store.create_key("t")
    with TestClient(app) as client:
        big = [touch(f"e{i}", "u", "2025-01-01T00:00:00Z", "tv") for i in range(100)]
        r = client.post("/v1/events", json={"events": big}, headers=auth(key))
        assert r.status_code == 413
        assert (
            client.post("/v1/events", json={"events": big[:2]}, headers=auth(key)).status_code
            == 200
        )

        def chunks():  # type: ignore[no-untyped-def]
            for _ in range(10):
                yield b" " * 500

        r = client.post("/v1/events", content=chunks(), headers=auth(key))
        assert r.status_code == 413


def test_rate_limit_per_key(make_app: Callable[..., FastAPI]) -> None:
    app = make_app(rate_per_s=0.5, burst=3)
    store = app.state.store
    k1, k2 = store.create_key("t"), store.create_key("t")
    with TestClient(app) as client:
        codes = [client.get("/v1/stats", headers=auth(k1)).status_code for _ in range(5)]
        assert codes == [200, 200, 200, 429, 429]
        r = client.get("/v1/stats", headers=auth(k1))
        assert int(r.headers["Retry-After"]) >= 1
        assert client.get("/v1/stats", headers=auth(k2)).status_code == 200


def test_metrics_are_prometheus_text(client: TestClient, keys: dict[str, str]) -> None:
    post(client, keys["a"], PATH)
    post(client, keys["a"], PATH)
    text = client.get("/metrics").text
    assert 'mixlens_events_ingested_total{source="http"} 4.0' in text
    assert 'mixlens_events_duplicate_total{source="http"} 4.0' in text
    assert "mixlens_request_seconds_bucket" in text
    assert 'route="/v1/events"' in text
    assert "mixlens_ingest_queue_depth 0.0" in text
    assert keys["a"] not in text


def test_keys_are_stored_hashed(app: FastAPI, keys: dict[str, str], tmp_path: Path) -> None:
    raw = (tmp_path / "events.db").read_bytes()
    for key in keys.values():
        assert key.split("_", 2)[2].encode() not in raw


def test_markov_model_from_attribution_csv_and_hot_swap(
    client: TestClient, keys: dict[str, str]
) -> None:
    h = auth(keys["a"])
    post(client, keys["a"], PATH)
    csv = (
        "model,channel,conversions,value,share\n"
        "linear,tv,5,5,0.5\nmarkov,tv,1,1,0.25\nmarkov,search,3,3,0.75\n"
        "markov,baseline,1,1,0\n"
    )
    r = client.put("/v1/model", json={"model": "markov", "attribution_csv": csv}, headers=h)
    assert r.status_code == 200 and r.json()["weights"] == {"tv": 1.0, "search": 3.0}
    body = client.get("/v1/conversions/c1/attribution", headers=h).json()
    assert body["model"] == "markov"
    assert [c["credit"] for c in body["credits"]] == pytest.approx([0.125, 0.75, 0.125])
    # A heuristic on request leaves the active model alone.
    first = client.get("/v1/conversions/c1/attribution?model=first", headers=h).json()
    assert [c["credit"] for c in first["credits"]] == [1.0, 0.0, 0.0]
    assert client.get("/v1/model", headers=h).json()["model"] == "markov"


def test_markov_needs_weights(client: TestClient, keys: dict[str, str]) -> None:
    post(client, keys["a"], PATH)
    r = client.get("/v1/conversions/c1/attribution?model=markov", headers=auth(keys["a"]))
    assert r.status_code == 422 and "PUT /v1/model" in r.json()["message"]


def test_models_persist_across_restarts(make_app: Callable[..., FastAPI]) -> None:
    app = make_app()
    key = app.state.store.create_key("t")
    with TestClient(app) as client:
        client.put("/v1/model", json={"model": "position"}, headers=auth(key))
    with TestClient(make_app()) as client:
        assert client.get("/v1/model", headers=auth(key)).json()["model"] == "position"


def test_hot_swap_under_concurrent_requests(client: TestClient, keys: dict[str, str]) -> None:
    h = auth(keys["a"])
    post(client, keys["a"], PATH)
    expected = {"first": [1.0, 0.0, 0.0], "last": [0.0, 0.0, 1.0]}
    failures: list[str] = []
    seen: set[str] = set()
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            r = client.get("/v1/conversions/c1/attribution", headers=h)
            if r.status_code != 200:
                failures.append(f"status {r.status_code}")
                continue
            body = r.json()
            seen.add(body["model"])
            if body["model"] in expected:
                if [c["credit"] for c in body["credits"]] != expected[body["model"]]:
                    failures.append(f"mixed answer {body}")

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    for i in range(40):
        r = client.put("/v1/model", json={"model": ["first", "last"][i % 2]}, headers=h)
        assert r.status_code == 200
    stop.set()
    for t in threads:
        t.join()
    assert failures == []
    assert {"first", "last"} <= seen


def test_openapi_documents_the_contract(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in [
        "/v1/events",
        "/v1/stats",
        "/v1/conversions/{event_id}/attribution",
        "/v1/attribution",
        "/v1/model",
        "/healthz",
        "/metrics",
    ]:
        assert path in paths
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
    assert "404" in paths["/v1/conversions/{event_id}/attribution"]["get"]["responses"]


def test_no_secret_in_logs(
    client: TestClient, keys: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    with caplog.at_level(logging.DEBUG):
        post(client, keys["a"], PATH)
        client.put("/v1/model", json={"model": "last"}, headers=auth(keys["a"]))
        client.get("/v1/stats", headers=auth(keys["a"] + "x"))
    assert caplog.records
    for key in keys.values():
        assert key not in caplog.text
        assert key.split("_", 2)[2] not in caplog.text


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?by=value",
        "?model=first",
        "?model=markov",
        "?by=value&model=time_decay",
        "?by=bogus",
        "?model=magic",
        "?extra=1",
        "?by=value&by=conversion",
    ],
)
def test_fast_path_answers_exactly_as_fastapi(make_app: Callable[..., FastAPI], query: str) -> None:
    answers = []
    for fast in (True, False):
        app = make_app(fast_path=fast)
        key = app.state.store.create_key(f"t{fast}")
        with TestClient(app) as client:
            post(client, key, PATH)
            client.put(
                "/v1/model", json={"model": "markov", "weights": {"tv": 1.0}}, headers=auth(key)
            )
            r = client.get(f"/v1/conversions/c1/attribution{query}", headers=auth(key))
            answers.append((r.status_code, r.json()))
    assert answers[0] == answers[1]
