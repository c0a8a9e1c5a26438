from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mixlens.agents import Bus, Message, pairwise_seeds, run_to_dir
from mixlens.agents.protocols import rel_diff
from mixlens.agents.scenarios import channel_owners
from mixlens.agents.vertical import (
    ChannelOwner,
    SalesOwner,
    SharingConfig,
    attribute_vertical,
    box_ridge,
    centralized_vertical_fit,
    sharing_admm,
)
from mixlens.errors import DataError


class RecordingBus(Bus):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[Message] = []

    def send(self, message: Message) -> Message:
        got = super().send(message)
        self.messages.append(got)
        return got


@pytest.fixture(scope="module")
def parties() -> tuple[SalesOwner, list[ChannelOwner]]:
    return channel_owners(1, seed=2, weeks=52)


@pytest.fixture(scope="module")
def fitted(
    parties: tuple[SalesOwner, list[ChannelOwner]],
) -> tuple[RecordingBus, np.ndarray, np.ndarray, pd.DataFrame]:
    sales, owners = parties
    bus = RecordingBus()
    seeds = pairwise_seeds([o.name for o in owners], 0)
    res = sharing_admm(sales, owners, bus, seeds=seeds)
    assert res.converged
    order = [sales.name, *(o.name for o in owners)]
    credit = attribute_vertical(sales, owners, bus, round=len(res.rounds) + 1)
    return bus, res.vector(order), centralized_vertical_fit(sales, owners), credit


def test_sharing_admm_matches_pooled_columns(fitted: tuple) -> None:
    _, coef, ref, _ = fitted
    assert rel_diff(coef, ref) < 1e-6


def test_owner_contributions_are_masked_and_only_their_sum_is_learnt(
    parties: tuple[SalesOwner, list[ChannelOwner]], fitted: tuple
) -> None:
    sales, owners = parties
    bus = fitted[0]
    weeks = sales.y.size
    last = max(m.round for m in bus.messages if m.kind == "share_contrib")
    sent = {
        m.sender: m.payload["masked"]
        for m in bus.messages
        if m.kind == "share_contrib" and m.round == last
    }
    assert set(sent) == {o.name for o in owners}
    true = {o.name: o.contribution() for o in owners}
    for name, masked in sent.items():
        assert masked.shape == (weeks,)
        assert np.abs(masked - true[name]).min() > 1e-6  # every week hidden by the masks
    summed = sum(sent.values())
    np.testing.assert_allclose(summed, sum(true.values()), atol=1e-9)


def test_no_spend_value_crosses_the_wire(
    parties: tuple[SalesOwner, list[ChannelOwner]], fitted: tuple
) -> None:
    _, owners = parties
    spend = np.concatenate([o.spend_for_check().ravel() for o in owners])
    spend = spend[spend > 0]
    for m in fitted[0].messages:
        for arr in m.payload.values():
            assert not np.isin(arr.ravel(), spend).any(), m.kind


def test_message_sizes_depend_on_weeks_only(
    parties: tuple[SalesOwner, list[ChannelOwner]], fitted: tuple
) -> None:
    sales, owners = parties
    weeks = sales.y.size
    audit = fitted[0].audit.rows
    contrib = [r for r in audit if r["kind"] == "share_contrib"]
    # one float64 per week; the JSON header differs only by the sender's name and the round
    for r in contrib:
        assert weeks * 8 < r["bytes"] < weeks * 8 + 200
    one = next(o for o in owners if len(o.channels) == 1)
    two = next(o for o in owners if len(o.channels) == 2)
    size = {r["sender"]: r["bytes"] - len(r["sender"]) for r in contrib if r["round"] == 1}
    assert size[one.name] == size[two.name]


def test_bytes_per_message_grow_with_weeks_not_channels(tmp_path: Path) -> None:
    small, owners_s = channel_owners(1, seed=0, weeks=26)
    big, owners_b = channel_owners(2, seed=0, weeks=26)
    sizes = []
    for sales, owners in ((small, owners_s), (big, owners_b)):
        bus = Bus()
        sharing_admm(
            sales,
            owners,
            bus,
            seeds=pairwise_seeds([o.name for o in owners], 0),
            config=SharingConfig(max_rounds=2),
        )
        row = next(r for r in bus.audit.rows if r["kind"] == "share_contrib" and r["round"] == 1)
        sizes.append(row["bytes"])
    assert sizes[1] - sizes[0] == 26 * 8


def test_credit_conserved_and_local_equals_global(
    parties: tuple[SalesOwner, list[ChannelOwner]], fitted: tuple
) -> None:
    sales, owners = parties
    _, coef, _, credit = fitted
    wide = credit.pivot_table(index="channel", columns="agent", values="credit", aggfunc="sum")
    owners_cols = [c for c in wide.columns if c != "all"]
    np.testing.assert_allclose(wide[owners_cols].sum(axis=1), wide["all"], rtol=1e-12)
    # total incremental = prediction with all media minus prediction with none
    n_base = sales.features().shape[1]
    media = np.column_stack([o.features() for o in owners])
    incremental = float((media @ coef[n_base:]).sum()) * sales.target_scale
    assert credit.loc[credit["agent"] == "all", "credit"].sum() == pytest.approx(
        incremental, rel=1e-12
    )


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 5), st.integers(0, 10_000))
def test_box_ridge_satisfies_kkt(k: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((k + 3, k))
    hess = a.T @ a + 0.1 * np.eye(k)
    grad = rng.standard_normal(k)
    bounded = rng.random(k) < 0.7
    x = box_ridge(hess, grad, bounded)
    g = hess @ x - grad
    assert np.all(x[bounded] >= 0)
    np.testing.assert_allclose(g[~bounded], 0.0, atol=1e-9)
    np.testing.assert_allclose(g[bounded & (x > 1e-12)], 0.0, atol=1e-9)
    assert np.all(g[bounded & (x <= 1e-12)] >= -1e-9)


def test_owner_rejects_a_misaligned_calendar() -> None:
    frame = pd.DataFrame(
        {"date": pd.date_range("2023-01-09", periods=3, freq="7D"), "tv_spend": [1.0, 2.0, 3.0]}
    )
    with pytest.raises(DataError, match="agreed 3 weeks"):
        ChannelOwner("tv", frame, ("tv",), (0.1,), (1.0,), start="2023-01-02", weeks=3)


def test_run_channels_writes_the_contract(tmp_path: Path) -> None:
    summary = run_to_dir("channels", out_dir=tmp_path, protocol="admm", seed=1)
    assert summary["rel_diff_vs_centralized"] < 1e-6 and summary["converged"]
    attribution = pd.read_csv(tmp_path / "attribution.csv")
    assert list(attribution.columns) == ["agent", "channel", "credit"]
    wide = attribution.pivot_table(index="channel", columns="agent", values="credit")
    owners = [c for c in wide.columns if c != "all"]
    np.testing.assert_allclose(wide[owners].sum(axis=1), wide["all"], rtol=1e-12)
    audit = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert sum(r["bytes"] for r in audit) == summary["bytes_total"]
    rounds = pd.read_csv(tmp_path / "rounds.csv")
    assert rounds["bytes_sent"].sum() == summary["bytes_total"]
    assert "revealed" in summary
    with pytest.raises(DataError, match="--protocol admm"):
        run_to_dir("channels", out_dir=tmp_path / "x", protocol="exact")
