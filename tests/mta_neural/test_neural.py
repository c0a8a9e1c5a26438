"""Neural sequence attribution: conservation, determinism, round trip, planted signal."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from mixlens.data.simulate.journeys import (  # noqa: E402
    ChannelSpec,
    JourneyWorldConfig,
    SimulatedJourneys,
    simulate_journeys,
)
from mixlens.errors import DataError  # noqa: E402
from mixlens.mta.neural import (  # noqa: E402
    NetConfig,
    TrainConfig,
    discrimination,
    fit_neural,
    load_model,
    neural_attribution,
    removal_credit,
    scoring_latency,
)
from mixlens.mta.neural.encode import (  # noqa: E402
    Vocabulary,
    control_examples,
    conversion_examples,
)
from mixlens.mta.neural.metrics import auc  # noqa: E402

SMALL = TrainConfig(
    net=NetConfig(embedding_dim=8, conv_channels=8, hidden=8, attention_dim=8, max_len=16),
    epochs=3,
    batch_size=256,
    patience=2,
)


@pytest.fixture(scope="module")
def world() -> SimulatedJourneys:
    return simulate_journeys(JourneyWorldConfig(users=2_000, n_channels=6), seed=11)


@pytest.fixture(scope="module")
def scorer(world: SimulatedJourneys):  # type: ignore[no-untyped-def]
    return fit_neural(world.touchpoints, world.conversions, config=SMALL, seed=3)


def test_conservation_and_no_negative_credit(world: SimulatedJourneys, scorer) -> None:  # type: ignore[no-untyped-def]
    r = neural_attribution(world.touchpoints, world.conversions, scorer=scorer)
    assert r.model == "neural"
    assert r.conversions == pytest.approx(len(world.conversions), abs=1e-6)
    assert r.value == pytest.approx(world.conversions["value"].sum(), rel=1e-9)
    assert (r.credit[["conversions", "value"]].to_numpy() >= 0).all()
    assert "direct" not in set(r.credit["channel"])
    rows, diag = removal_credit(scorer, world.touchpoints, world.conversions)
    per = rows.groupby("conversion")["fraction"].sum()
    assert len(per) == len(world.conversions)
    np.testing.assert_allclose(per.to_numpy(), 1.0, atol=1e-9)
    assert set(diag["attention_by_channel"]) <= set(scorer.vocab.channels)
    assert {"auc", "log_loss", "reliability"} <= set(r.meta)
    assert r.meta["auc"] == scorer.meta["heldout"]["auc"]


def test_without_baseline_every_touched_conversion_goes_to_channels(
    world: SimulatedJourneys, scorer
) -> None:  # type: ignore[no-untyped-def]
    rows, diag = removal_credit(scorer, world.touchpoints, world.conversions, baseline=False)
    base = rows[rows["channel"] == "baseline"].set_index("conversion")["fraction"]
    touched = rows[rows["touch_row"] >= 0].groupby("conversion")["fraction"].sum()
    # Without a baseline share, baseline gets a conversion only by the fallback (no exposure
    # touch, or no touch raised the prediction): all of it or nothing.
    assert ((base == 0) | (base == 1)).all()
    touched = touched.reindex(base.index, fill_value=0.0)
    np.testing.assert_allclose(touched[base == 0].to_numpy(), 1.0, atol=1e-9)
    assert (touched[base == 1] == 0).all()
    assert (base == 1).sum() >= diag["conversions_without_touch"]


def test_deterministic_for_a_seed(world: SimulatedJourneys, scorer) -> None:  # type: ignore[no-untyped-def]
    again = fit_neural(world.touchpoints, world.conversions, config=SMALL, seed=3)
    ex = conversion_examples(
        world.touchpoints, world.conversions, scorer.vocab, lookback_days=30, max_len=16
    )
    p1, a1 = scorer.predict(ex.batch)
    p2, a2 = again.predict(ex.batch)
    np.testing.assert_array_equal(p1, p2)
    np.testing.assert_array_equal(a1, a2)
    assert scorer.meta["history"] == again.meta["history"]


def test_save_load_round_trip(world: SimulatedJourneys, scorer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    paths = scorer.save(tmp_path / "model")
    assert {p.name for p in paths} == {"neural_model.pt", "neural_config.json"}
    loaded = load_model(tmp_path / "model")
    ex = conversion_examples(
        world.touchpoints, world.conversions, scorer.vocab, lookback_days=30, max_len=16
    )
    np.testing.assert_array_equal(scorer.predict(ex.batch)[0], loaded.predict(ex.batch)[0])
    journey = (["display", "social", "paid_search_generic"], [200.0, 30.0, 1.0])
    assert loaded.score_journey(*journey) == scorer.score_journey(*journey)
    assert loaded.meta["heldout"] == scorer.meta["heldout"]
    with pytest.raises(DataError):
        load_model(tmp_path / "missing")


def test_scoring_latency(scorer) -> None:  # type: ignore[no-untyped-def]
    lat = scoring_latency(scorer, n_touches=20, calls=50)
    assert 0 < lat["p50_ms"] <= lat["p99_ms"] <= lat["max_ms"]
    assert lat["calls"] == 50
    p = scorer.score_journey(["display"] * 20, list(np.linspace(700, 1, 20)))
    assert 0 < p < 1
    # The user's whole-window exposure defaults to the journey's own touches.
    same = scorer.score_journey(
        ["display"] * 20, list(np.linspace(700, 1, 20)), exposure_counts={"display": 20}
    )
    assert same == p


def test_learns_a_planted_channel_effect() -> None:
    common = {"reach": 0.5, "frequency": 0.08, "selection": 0.0, "cost_per_touch": 0.01}
    channels = (
        ChannelSpec("strong", effect=0.6, half_life_days=1.0, campaigns=("s1",), **common),
        ChannelSpec("inert", effect=0.0, half_life_days=1.0, campaigns=("n1",), **common),
    )
    cfg = JourneyWorldConfig(users=3_000, days=60, n_channels=2, channels=channels)
    w = simulate_journeys(cfg, seed=5)
    train = TrainConfig(net=SMALL.net, epochs=6, batch_size=256, patience=2)
    r = neural_attribution(w.touchpoints, w.conversions, config=train, seed=1)
    assert r.meta["auc"] > 0.7
    credit = r.credit.set_index("channel")["conversions"]
    assert credit["strong"] > 5 * credit["inert"]


def test_controls_use_the_same_lookback_before_a_reference_time() -> None:
    ts = pd.to_datetime
    tp = pd.DataFrame(
        {
            "user_id": ["c", "c", "c", "n", "n", "n"],
            "channel": ["a", "b", "a", "a", "b", "direct"],
            "timestamp": ts(
                ["2025-01-01", "2025-01-20", "2025-03-01", "2025-01-01", "2025-02-25", "2025-02-26"]
            ),
        }
    )
    cv = pd.DataFrame({"user_id": ["c"], "timestamp": ts(["2025-01-20 10:00"]), "value": [4.0]})
    vocab = Vocabulary.from_logs(tp)
    assert vocab.channels == ("a", "b")
    case = conversion_examples(tp, cv, vocab, lookback_days=10, max_len=8)
    # Only the touch within 10 days before the conversion; the later touch is not in it.
    assert case.batch.length.tolist() == [2]
    assert case.touch_index[0].tolist()[:2] == [-1, 1]
    ctl = control_examples(
        tp,
        cv,
        vocab,
        lookback_days=10,
        max_len=8,
        negatives_per_user=200,
        rng=np.random.default_rng(0),
    )
    # A control never sees more than the lookback, nor the direct marker, nor c's touches
    # up to its conversion once past it.
    assert ctl.batch.length.max() <= 2
    assert not np.isin(ctl.touch_index, [5]).any()
    assert (ctl.label == 0).all() and set(ctl.user) == {"c", "n"}


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1), st.booleans()), min_size=2, max_size=40))
def test_auc_matches_pairwise_definition(pairs: list[tuple[float, bool]]) -> None:
    p = np.array([x for x, _ in pairs])
    y = np.array([float(b) for _, b in pairs])
    pos, neg = p[y == 1], p[y == 0]
    if pos.size == 0 or neg.size == 0:
        assert np.isnan(auc(p, y))
        return
    brute = ((pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])).mean()
    assert auc(p, y) == pytest.approx(brute)
    rel = discrimination(p, y, bins=5)["reliability"]
    assert sum(b["count"] for b in rel) == len(p)
