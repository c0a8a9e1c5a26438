"""Per-path rules agree with mixlens.mta; fitted Markov weights load from an mta run dir."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mixlens.mta import build_journeys, first_touch, last_touch, linear, position_based, time_decay
from mixlens.mta.run import fit_to_dir
from mixlens.service.rules import RULES, FittedWeights, credit_shares, load_run_dir

MTA = {
    "linear": linear,
    "first": first_touch,
    "last": last_touch,
    "position": position_based,
    "time_decay": time_decay,
}
CHANNELS = ["tv", "search", "social", "email"]

journey = st.lists(
    st.tuples(st.sampled_from(CHANNELS), st.integers(min_value=1, max_value=20 * 86_400)),
    min_size=1,
    max_size=20,
)


@settings(max_examples=25, deadline=None)
@given(paths=st.lists(journey, min_size=1, max_size=5), rule=st.sampled_from(sorted(MTA)))
def test_summed_path_credit_equals_mta(paths: list[list[tuple[str, int]]], rule: str) -> None:
    end = pd.Timestamp("2025-03-01")
    tp, cv, mine = [], [], dict.fromkeys(CHANNELS, 0.0)
    for u, path in enumerate(paths):
        seconds = sorted({s for _, s in path}, reverse=True)  # distinct instants, in order
        chans = [c for c, _ in path][: len(seconds)]
        for ch, s in zip(chans, seconds, strict=False):
            tp.append(
                {"user_id": f"u{u}", "timestamp": end - pd.Timedelta(seconds=s), "channel": ch}
            )
        cv.append({"user_id": f"u{u}", "timestamp": end, "value": 1.0})
        shares = credit_shares(rule, [float(s) for s in seconds[: len(chans)]], channels=chans)
        assert sum(shares) == pytest.approx(1.0, abs=1e-12)
        assert min(shares) >= 0
        for ch, sh in zip(chans, shares, strict=True):
            mine[ch] += sh
    jt = build_journeys(pd.DataFrame(tp), pd.DataFrame(cv), lookback_days=30)
    ref = MTA[rule](jt).credit.set_index("channel")["conversions"]
    for ch in CHANNELS:
        assert mine[ch] == pytest.approx(float(ref.get(ch, 0.0)), abs=1e-9)


@given(
    chans=st.lists(st.sampled_from(CHANNELS), min_size=1, max_size=20),
    weights=st.dictionaries(
        st.sampled_from(CHANNELS), st.floats(0, 10, allow_nan=False), max_size=4
    ),
)
def test_markov_shares_are_a_distribution(chans: list[str], weights: dict[str, float]) -> None:
    shares = credit_shares(
        "markov", [0.0] * len(chans), channels=chans, weights=FittedWeights("markov", weights)
    )
    assert sum(shares) == pytest.approx(1.0, abs=1e-12)
    assert all(s >= 0 for s in shares)
    # touches of one channel share its credit equally
    for ch in set(chans):
        mine = [s for c, s in zip(chans, shares, strict=True) if c == ch]
        assert max(mine) - min(mine) < 1e-12


def test_every_rule_handles_an_empty_path() -> None:
    w = FittedWeights("markov", {"tv": 1.0})
    for rule in RULES:
        assert credit_shares(rule, [], channels=[], weights=w) == []


def test_markov_weights_from_an_mta_fit_run_dir(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    tp, cv = [], []
    start = pd.Timestamp("2025-01-01")
    for u in range(60):
        n = int(rng.integers(1, 4))
        chans = rng.choice(["tv", "search", "social"], size=n)
        for i, ch in enumerate(chans):
            tp.append(
                {"user_id": f"u{u}", "timestamp": start + pd.Timedelta(hours=i), "channel": str(ch)}
            )
        if "search" in chans or rng.random() < 0.2:
            cv.append(
                {"user_id": f"u{u}", "timestamp": start + pd.Timedelta(days=1), "value": 10.0}
            )
    pd.DataFrame(tp).to_csv(tmp_path / "tp.csv", index=False)
    pd.DataFrame(cv).to_csv(tmp_path / "cv.csv", index=False)
    out = tmp_path / "run"
    summary = fit_to_dir(
        touchpoints=tmp_path / "tp.csv",
        conversions=tmp_path / "cv.csv",
        models=["markov", "linear"],
        out_dir=out,
    )
    fitted = load_run_dir(out)
    effects = summary["models"]["markov"]["meta"]["removal_effects"]
    assert dict(fitted.weights) == pytest.approx(effects)
    assert fitted.weights["search"] == max(fitted.weights.values())
    # Without summary.json the attribution.csv credits give the same ratios.
    (out / "summary.json").unlink()
    from_csv = load_run_dir(out)
    ratio = {c: from_csv.weights[c] / fitted.weights[c] for c in fitted.weights}
    assert max(ratio.values()) == pytest.approx(min(ratio.values()), rel=1e-6)
