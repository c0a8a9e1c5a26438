"""Credit by counterfactual removal of each touch, aggregated per channel.

Per conversion (its journey: :func:`~mixlens.mta.neural.encode.conversion_examples`), with
``p`` the predicted probability of the journey, ``p_{-k}`` with touch ``k`` removed (time and
position features recomputed) and ``p_0`` with every touch removed:

* ``baseline``: the share ``b = min(1, odds(p_0) / odds(p))`` (the model's odds are
  proportional to the conversion hazard, :mod:`mixlens.mta.neural.encode`), i.e. the part
  that would have happened without the touches; with ``baseline=False``, ``b = 0``;
* touch ``k``: ``(1 - b) * d_k / sum_j d_j`` with ``d_k = max(p - p_{-k}, 0)``.

Fallback: when every ``d_k`` is 0 (no touch raised the prediction) or the journey has no
exposure touch (``direct``-only, or touchless), the whole conversion goes to ``baseline``.
Value is shared with the same fractions. So each conversion's credit sums to 1 and its value,
and no credit is negative. Only the ``max_len`` most recent touches get credit.

Attention weights are a diagnostic, reported as ``meta["attention_by_channel"]`` (mean weight
per channel over conversion journeys' touches), never as credit.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from mixlens.mta.neural.encode import NON_EXPOSURE, PAD, conversion_examples, encode_padded
from mixlens.mta.neural.model import NeuralScorer, torch_threads
from mixlens.mta.neural.train import TrainConfig, fit_neural
from mixlens.mta.result import AttributionResult, make_result

__all__ = ["credit_fractions", "journey_credit", "neural_attribution", "removal_credit"]

FloatArray = npt.NDArray[np.float64]
Progress = Callable[[str, float], None]


def credit_fractions(
    p_full: FloatArray,
    p_removed: FloatArray,
    p_empty: FloatArray,
    n: npt.NDArray[np.int64],
    *,
    baseline: bool = True,
) -> tuple[FloatArray, FloatArray]:
    """Per-touch fractions ``(G, max n)`` and baseline fractions ``(G,)`` of each conversion.

    Examples
    --------
    >>> f, b = credit_fractions(np.array([0.5]), np.array([[0.2, 0.5]]), np.array([0.1]),
    ...                         np.array([2]), baseline=False)
    >>> f.tolist(), b.tolist()
    ([[1.0, 0.0]], [0.0])
    """
    width = p_removed.shape[1]
    valid = np.arange(width)[None, :] < n[:, None]
    d = np.where(valid, np.maximum(p_full[:, None] - p_removed, 0.0), 0.0)
    total = d.sum(axis=1)
    if baseline:
        eps = 1e-12
        odds = p_full / np.maximum(1 - p_full, eps)
        odds0 = p_empty / np.maximum(1 - p_empty, eps)
        b = np.clip(odds0 / np.maximum(odds, eps), 0.0, 1.0)
    else:
        b = np.zeros_like(p_full)
    b = np.where(total > 0, b, 1.0)
    frac = d / np.where(total > 0, total, 1.0)[:, None] * (1 - b)[:, None]
    return frac, b


def journey_credit(
    scorer: NeuralScorer,
    channels: Sequence[str],
    hours_before: Sequence[float],
    *,
    baseline: bool = True,
) -> tuple[list[float], float]:
    """Credit of one journey's touches (the serving path of ``mixlens serve``).

    The rules of the module docstring for one journey, touches oldest first: ``direct``
    touches get nothing and only the ``max_len`` most recent exposure touches can get
    credit; the user's exposure counts are the journey's own touches, held fixed while
    touches are removed (as the whole-window counts are in :func:`removal_credit`).

    Parameters
    ----------
    scorer
        A trained model (:func:`~mixlens.mta.neural.model.load_model`).
    channels, hours_before
        Shape ``(n,)``: each touch's channel and hours before the conversion.
    baseline
        Give the would-have-converted-anyway share to the baseline.

    Returns
    -------
    tuple
        Fractions per touch (shape ``(n,)``, non-negative) and the baseline fraction; they
        sum to 1.
    """
    keep = [i for i, c in enumerate(channels) if c not in NON_EXPOSURE]
    keep = keep[-scorer.config.max_len :]
    out = [0.0] * len(channels)
    if not keep:
        return out, 1.0
    ch = [str(channels[i]) for i in keep]
    hours = [float(hours_before[i]) for i in keep]
    counts: dict[str, float] = {}
    for c in ch:
        counts[c] = counts.get(c, 0.0) + 1.0
    p_full = scorer.score_journey(ch, hours, exposure_counts=counts)
    p_empty = scorer.score_journey([], [], exposure_counts=counts)
    removed = [
        scorer.score_journey(
            ch[:k] + ch[k + 1 :], hours[:k] + hours[k + 1 :], exposure_counts=counts
        )
        for k in range(len(ch))
    ]
    frac, base = credit_fractions(
        np.array([p_full]),
        np.array([removed]),
        np.array([p_empty]),
        np.array([len(ch)]),
        baseline=baseline,
    )
    for j, i in enumerate(keep):
        out[i] = float(frac[0, j])
    return out, float(base[0])


def removal_credit(
    scorer: NeuralScorer,
    touchpoints: pd.DataFrame,
    conversions: pd.DataFrame,
    *,
    baseline: bool = True,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Credit of every conversion's touches.

    Returns
    -------
    tuple
        A frame with one row per credited touch and one ``baseline`` row per conversion:
        ``conversion`` (row of ``conversions``), ``touch_row`` (row of ``touchpoints``, -1 for
        baseline), ``channel``, ``fraction``, ``conversions``, ``value``, ``attention``; and
        diagnostics (attention by channel, mean baseline fraction).
    """
    net = scorer.config
    ex = conversion_examples(
        touchpoints,
        conversions,
        scorer.vocab,
        lookback_days=net.lookback_days,
        max_len=net.max_len,
    )
    b = ex.batch
    n = b.length - 1
    tok = b.channel[:, 1:]
    cmp = b.campaign[:, 1:]
    idx = ex.touch_index[:, 1:]
    conv_ms = pd.to_datetime(conversions["timestamp"]).to_numpy("datetime64[ms]").astype(np.int64)
    tp_ms = pd.to_datetime(touchpoints["timestamp"]).to_numpy("datetime64[ms]").astype(np.int64)
    hours = np.where(idx >= 0, (conv_ms[:, None] - tp_ms[np.maximum(idx, 0)]) / 3_600_000, 0.0)
    p_full, attention = scorer.predict(b)
    empty = encode_padded(
        np.zeros((len(b), 0)),
        np.zeros((len(b), 0), dtype=np.int64),
        np.zeros((len(b), 0), dtype=np.int64),
        np.zeros(len(b), dtype=np.int64),
        b.context,
        lookback_days=net.lookback_days,
        max_len=net.max_len,
        exposure=b.exposure,
    )
    p_empty, _ = scorer.predict(empty)
    width = tok.shape[1]
    p_removed = np.zeros((len(b), width))
    for k in np.unique(n[n > 0]):
        rows = np.flatnonzero(n == k)
        keep = np.array([[j for j in range(k) if j != r] for r in range(k)], dtype=np.int64)
        keep = keep.reshape(k, k - 1)
        sub = (rows[:, None, None], keep[None, :, :])
        g = rows.shape[0]
        batch = encode_padded(
            hours[sub].reshape(g * k, k - 1),
            tok[sub].reshape(g * k, k - 1),
            cmp[sub].reshape(g * k, k - 1),
            np.full(g * k, k - 1, dtype=np.int64),
            np.repeat(b.context[rows], k, axis=0),
            exposure=np.repeat(b.exposure[rows], k, axis=0),
            lookback_days=net.lookback_days,
            max_len=net.max_len,
        )
        p, _ = scorer.predict(batch)
        p_removed[rows, :k] = p.reshape(g, k)
    frac, base = credit_fractions(p_full, p_removed, p_empty, n, baseline=baseline)
    names = np.array([*scorer.vocab.channels], dtype=object)
    valid = (np.arange(width)[None, :] < n[:, None]) & (tok != PAD)
    conv_i, pos = np.nonzero(valid)
    channel = names[np.maximum(tok[conv_i, pos] - 3, 0)]
    touches = pd.DataFrame(
        {
            "conversion": conv_i,
            "touch_row": idx[conv_i, pos],
            "channel": channel.astype(str),
            "fraction": frac[conv_i, pos],
            "attention": attention[conv_i, pos + 1],
        }
    )
    base_rows = pd.DataFrame(
        {
            "conversion": np.arange(len(b)),
            "touch_row": -1,
            "channel": "baseline",
            "fraction": base,
            "attention": attention[:, 0],
        }
    )
    out = pd.concat([touches, base_rows], ignore_index=True)
    out["conversions"] = out["fraction"]
    out["value"] = out["fraction"] * ex.value[out["conversion"].to_numpy()]
    att = touches.groupby("channel")["attention"].mean() if len(touches) else pd.Series()
    diag = {
        "attention_by_channel": {str(k): float(v) for k, v in att.items()},
        "mean_baseline_fraction": float(base.mean()) if base.size else 0.0,
        "conversions_without_touch": int((n == 0).sum()),
    }
    return out, diag


def neural_attribution(
    touchpoints: pd.DataFrame,
    conversions: pd.DataFrame,
    *,
    scorer: NeuralScorer | None = None,
    config: TrainConfig | None = None,
    seed: int = 0,
    baseline: bool = True,
    artifact_dir: str | Path | None = None,
    progress: Progress | None = None,
) -> AttributionResult:
    """Train (unless ``scorer`` is given), credit every conversion, aggregate per channel.

    Parameters
    ----------
    touchpoints, conversions
        The logs (see :func:`~mixlens.mta.neural.train.fit_neural`).
    scorer
        A trained model (e.g. :func:`~mixlens.mta.neural.model.load_model`); trained here when
        ``None``.
    config, seed, progress
        Training settings, seed and progress callback ``(stage, fraction)``.
    baseline
        Give each conversion's would-have-converted-anyway share to ``baseline`` (see the
        module docstring); ``False`` shares every conversion over its touches.
    artifact_dir
        Where to save the trained model (weights and config), if anywhere.

    Returns
    -------
    AttributionResult
        Model ``neural``: per exposure channel (``direct`` excluded) and ``baseline``; sums to
        the conversions and value of ``conversions``. ``meta`` holds the held-out ``auc``,
        ``log_loss`` and ``reliability`` (top-level keys, as ``summary.json`` reports them; absent
        with ``test_fraction=0``), the attention diagnostic and the training summary.

    Examples
    --------
    >>> from mixlens.data.simulate.journeys import JourneyWorldConfig, simulate_journeys
    >>> w = simulate_journeys(JourneyWorldConfig(users=1_500, n_channels=6), seed=1)
    >>> r = neural_attribution(w.touchpoints, w.conversions, config=TrainConfig(epochs=1))
    >>> bool(abs(r.conversions - len(w.conversions)) < 1e-6)
    True
    """
    start = time.perf_counter()
    if scorer is None:

        def train_progress(stage: str, fraction: float) -> None:
            if progress is not None:
                progress(stage, 0.8 * fraction)

        scorer = fit_neural(
            touchpoints, conversions, config=config, seed=seed, progress=train_progress
        )
    if artifact_dir is not None:
        scorer.save(artifact_dir)
    if progress is not None:
        progress("credit", 0.8)
    with torch_threads((config or TrainConfig()).threads):
        rows, diag = removal_credit(scorer, touchpoints, conversions, baseline=baseline)
    per = rows.groupby("channel")[["conversions", "value"]].sum()
    channels = scorer.vocab.channels
    conv = per["conversions"].reindex(list(channels), fill_value=0.0).to_numpy()
    val = per["value"].reindex(list(channels), fill_value=0.0).to_numpy()
    base = (
        float(per["conversions"].get("baseline", 0.0)),
        float(per["value"].get("baseline", 0.0)),
    )
    if progress is not None:
        progress("credit", 1.0)
    meta = {
        **scorer.meta.get("heldout", {}),
        "baseline_share": baseline,
        "max_len": scorer.config.max_len,
        "lookback_days": scorer.config.lookback_days,
        "training": {k: v for k, v in scorer.meta.items() if k != "heldout"},
        "seconds": time.perf_counter() - start,
        **diag,
    }
    return make_result("neural", channels, conv, val, baseline=base, meta=meta)
