"""TrueResponse and the closed loop on worlds whose channels have their own transform kinds."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from mixlens.allocation.closed_loop import LoopWorld, simulate_closed_loop
from mixlens.allocation.response import TrueResponse
from mixlens.data.simulate import mmm as sim
from mixlens.data.simulate.mmm import MMMWorldConfig, mixed_transform_channels, simulate_mmm
from mixlens.errors import DataError

SEED, HORIZON = 1, 8
MIXED = MMMWorldConfig(weeks=20, channels=mixed_transform_channels(7))


def _simulator_window(
    config: MMMWorldConfig, seed: int, weeks: int, plan: np.ndarray
) -> np.ndarray:
    """The simulator's own noise-free response to ``plan`` over the ``weeks`` after the data.

    Each channel's daily spend path is extended by its last ``weeks`` weeks, scaled to the
    plan's total, and goes through the simulator's pressure (channel kernel) and its
    calibrated saturation (``_Calibration.response``): TrueResponse's definition, computed
    on the whole path instead of as ``carry + spend * unit``.
    """
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(4)[0])
    first_weekday = int(pd.Timestamp(config.start).weekday())
    n_days, window = config.weeks * 7, weeks * 7
    out = []
    for spec, total in zip(config.channel_specs, plan, strict=True):
        ch = sim._draw_channel(spec, n_days, rng, first_weekday)
        cal = sim._calibrate(ch)
        last = ch.spend[n_days - window :]
        path = np.concatenate([ch.spend, last * (total / last.sum())])
        pressure = sim._pressure(ch, sim._impressions(ch, path)).sum(axis=1)
        out.append(float((cal.beta * cal.response(pressure))[n_days:].sum()))
    return np.asarray(out)


@pytest.fixture(scope="module")
def mixed() -> TrueResponse:
    return TrueResponse.from_world(MIXED, seed=SEED, weeks=HORIZON)


def test_mixed_world_holds_every_kind() -> None:
    specs = MIXED.channel_specs
    assert {s.adstock for s in specs} == {"delayed", "geometric", "weibull"}
    assert {s.saturation for s in specs} == {"hill", "logistic"}
    assert {(s.adstock, s.saturation) for s in specs} >= {
        ("delayed", "hill"), ("delayed", "logistic"), ("geometric", "hill"),
        ("geometric", "logistic"), ("weibull", "hill"), ("weibull", "logistic"),
    }  # fmt: skip


def test_true_response_reads_the_worlds_calibration(mixed: TrueResponse) -> None:
    """Replayed draws and curves are the world's: its spend, beta, half, slope, lam, kinds."""
    world = simulate_mmm(MIXED, seed=SEED)
    params = world.channel_params.set_index("channel").loc[list(mixed.channels)]
    assert mixed.saturation == tuple(params["saturation"])
    for field, column in (
        ("beta", "beta_daily"),
        ("half", "half_saturation_daily"),
        ("slope", "slope"),
        ("lam", "lam_daily"),
    ):
        np.testing.assert_array_equal(getattr(mixed, field), params[column].to_numpy(), field)
    spend = world.weekly_channel.tail(HORIZON)
    observed = [spend[f"{c}_spend"].sum() for c in mixed.channels]
    np.testing.assert_allclose(mixed.current, observed, rtol=1e-5)  # bills are in cents
    assert (mixed.current > 0).all()  # every channel spends in the window: no uniform fallback


@pytest.mark.parametrize("scale", ["current", "half", "random", "zero"])
def test_true_response_is_the_simulators_response_for_every_kind(
    mixed: TrueResponse, scale: str
) -> None:
    """``carry + spend * unit`` through each kind's saturation = the simulator on the path."""
    rng = np.random.default_rng(7)
    plan = {
        "current": mixed.current,
        "half": 0.5 * mixed.current,
        "random": mixed.current * rng.uniform(0.0, 2.5, mixed.current.size),
        "zero": np.zeros_like(mixed.current),
    }[scale]
    expected = _simulator_window(MIXED, SEED, HORIZON, plan)
    got = mixed.contributions(plan)
    assert got.shape == (1, len(mixed.channels))
    assert np.isfinite(got).all()
    # The same numbers summed in another order (adstock of the whole path, not carry +
    # unit; Hill as r / (1 + r), not hill()'s form above K): measured within 2.3e-16.
    np.testing.assert_allclose(got[0], expected, rtol=1e-12)
    assert mixed.expected(plan)[0] == pytest.approx(expected.sum(), rel=1e-12)


def test_true_response_gradient_is_finite_and_positive(mixed: TrueResponse) -> None:
    grad = mixed.gradient(mixed.current)
    assert grad.shape == (1, len(mixed.channels))
    assert np.isfinite(grad).all() and (grad > 0).all()


def test_default_world_numbers_are_unchanged() -> None:
    """Delayed adstock and Hill everywhere: the values TrueResponse gave before kinds."""
    model = TrueResponse.from_world(MMMWorldConfig(weeks=20, n_channels=5), seed=1, weeks=8)
    assert model.saturation == ("hill",) * 5
    assert np.isnan(model.lam).all()
    np.testing.assert_allclose(
        model.current,
        [513253.31570986426, 214287.717485113, 247703.3766331327, 150140.3478099591,
         161297.11630527978],
        rtol=1e-12,
    )  # fmt: skip
    np.testing.assert_allclose(
        model.contributions(model.current)[0],
        [431239.2902846723, 620234.4681402256, 765958.6550633223, 253443.3734180914,
         113915.05733341406],
        rtol=1e-12,
    )  # fmt: skip
    np.testing.assert_allclose(
        model.contributions(1.3 * model.current)[0],
        [506639.2512177485, 729037.751584602, 877524.632844904, 302491.49665518565,
         131798.82698911155],
        rtol=1e-12,
    )  # fmt: skip
    expected = _simulator_window(
        MMMWorldConfig(weeks=20, n_channels=5), 1, 8, model.current
    )  # the simulator's own hill(), to within rounding
    np.testing.assert_allclose(model.contributions(model.current)[0], expected, rtol=1e-12)


def test_true_response_checks_its_kinds(mixed: TrueResponse) -> None:
    with pytest.raises(ValueError, match="channel 'tv': unknown saturation kind 'exp'"):
        replace(mixed, saturation=("exp", *mixed.saturation[1:]))
    with pytest.raises(ValueError, match="one kind per channel"):
        replace(mixed, saturation=mixed.saturation[:-1])
    # A copy recomputes its curves (the closed loop drops the carry-in this way).
    flat = replace(mixed, carry=np.zeros_like(mixed.carry))
    dropped = mixed.contributions(mixed.current) - flat.contributions(mixed.current)
    assert (dropped >= 0).all() and dropped.sum() > 0


def test_closed_loop_refuses_a_weibull_channel() -> None:
    with pytest.raises(DataError, match="channel 'tv' has weibull adstock"):
        LoopWorld.from_simulator(MIXED, seed=SEED, horizon=HORIZON)


def test_closed_loop_takes_each_channels_weekly_retention() -> None:
    """Geometric channels carry over with their alpha, delayed ones with their theta."""
    specs = tuple(s for s in mixed_transform_channels(7) if s.adstock != "weibull")
    config = MMMWorldConfig(weeks=20, channels=specs)
    world = LoopWorld.from_simulator(config, seed=SEED, horizon=HORIZON, shift_week=2)
    retention = [s.alpha if s.adstock == "geometric" else s.theta for s in specs]
    np.testing.assert_array_equal(world.theta, retention)
    assert {s.adstock for s in specs} == {"geometric", "delayed"}
    assert "logistic" in {s.saturation for s in specs}
    result = simulate_closed_loop(world, weeks=3, seed=0, policies=("historical", "greedy"))
    frame = result.to_frame()
    assert np.isfinite(frame[["outcome", "profit", "cumulative_regret"]].to_numpy()).all()
    assert result.meta["theta"] == dict(zip(world.response.channels, retention, strict=True))
