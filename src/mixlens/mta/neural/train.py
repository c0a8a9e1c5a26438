"""Training: seeded Adam with early stopping on a validation split of users.

Users are split (seeded) into train, validation and held-out test sets; cases and controls
(:mod:`mixlens.mta.neural.encode`) follow their user. The network minimises the binary
cross-entropy on the training users, one pass over them per epoch in seeded shuffled
mini-batches; after each epoch the validation log-loss is measured, and training stops after
``patience`` epochs without improvement, keeping the best weights. The held-out users give
the reported AUC, log-loss and reliability curve
(:func:`mixlens.mta.neural.metrics.discrimination`).
Torch runs with deterministic algorithms on ``threads`` CPU threads (``torch.set_num_threads``).

``TrainConfig.device`` picks where the network trains: ``"cpu"`` (the default), ``"cuda"``
(or ``"cuda:N"``) for a GPU, ``"auto"`` for the GPU when torch sees one, else the CPU. Only
training moves: the returned :class:`~mixlens.mta.neural.model.NeuralScorer` is on the CPU,
so scoring, credit, saving and serving work as after a CPU fit. On a GPU, cuBLAS needs
``CUBLAS_WORKSPACE_CONFIG`` for deterministic algorithms; ``":4096:8"`` is set when unset.
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import torch

from mixlens.errors import DataError
from mixlens.mta.neural.encode import (
    Examples,
    SequenceBatch,
    Vocabulary,
    control_examples,
    conversion_examples,
)
from mixlens.mta.neural.metrics import discrimination
from mixlens.mta.neural.model import (
    NetConfig,
    NeuralScorer,
    SequenceNet,
    _tensors,
    torch_threads,
)

__all__ = ["TrainConfig", "fit_neural", "training_device", "training_examples"]

Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class TrainConfig:
    """Training settings (the architecture is :class:`~mixlens.mta.neural.model.NetConfig`).

    ``device``: ``"cpu"`` (default), ``"cuda"``, ``"cuda:N"`` or ``"auto"`` (CUDA when torch
    sees a GPU); see the module docstring.
    """

    net: NetConfig = field(default_factory=NetConfig)
    negatives_per_user: int = 1
    epochs: int = 30
    batch_size: int = 512
    learning_rate: float = 3e-3
    weight_decay: float = 1e-5
    patience: int = 3
    validation_fraction: float = 0.1
    test_fraction: float = 0.2
    threads: int | None = 1
    device: str = "cpu"

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.negatives_per_user < 1:
            raise DataError("epochs, batch_size and negatives_per_user must be >= 1")
        if not (0 < self.validation_fraction and 0 <= self.test_fraction) or (
            self.validation_fraction + self.test_fraction >= 0.9
        ):
            raise DataError("validation_fraction > 0, test_fraction >= 0, their sum < 0.9")
        if self.net.max_len < 1 or self.net.lookback_days <= 0:
            raise DataError("max_len must be >= 1 and lookback_days > 0")
        kind, _, index = self.device.partition(":")
        if not (self.device in ("cpu", "cuda", "auto") or (kind == "cuda" and index.isdigit())):
            raise DataError(
                f"device must be 'cpu', 'cuda', 'cuda:N' or 'auto', not {self.device!r}"
            )


def training_device(name: str) -> torch.device:
    """Return the torch device of ``TrainConfig.device`` ``name`` (``"auto"``: CUDA if any).

    Raises
    ------
    DataError
        (a ``ValueError``) If ``name`` asks for CUDA and torch sees no such GPU.
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DataError(
                f"device {name!r}: torch {torch.__version__} sees no CUDA GPU "
                "(torch.cuda.is_available() is False); use device='cpu' or 'auto'"
            )
        if (device.index or 0) >= torch.cuda.device_count():
            raise DataError(f"device {name!r}: torch sees {torch.cuda.device_count()} CUDA GPU(s)")
    return device


def _concat(a: Examples, b: Examples) -> Examples:
    width = max(a.batch.channel.shape[1], b.batch.channel.shape[1])

    def pad(x: np.ndarray, fill: float) -> np.ndarray:
        extra = [(0, 0), (0, width - x.shape[1])] + [(0, 0)] * (x.ndim - 2)
        return np.pad(x, extra, constant_values=fill)

    batch = SequenceBatch(
        channel=np.concatenate([pad(a.batch.channel, 0), pad(b.batch.channel, 0)]),
        campaign=np.concatenate([pad(a.batch.campaign, 0), pad(b.batch.campaign, 0)]),
        numeric=np.concatenate([pad(a.batch.numeric, 0), pad(b.batch.numeric, 0)]),
        length=np.concatenate([a.batch.length, b.batch.length]),
        context=np.concatenate([a.batch.context, b.batch.context]),
        exposure=np.concatenate([a.batch.exposure, b.batch.exposure]),
    )
    return Examples(
        batch=batch,
        label=np.concatenate([a.label, b.label]),
        user=np.concatenate([a.user, b.user]),
        value=np.concatenate([a.value, b.value]),
        touch_index=np.concatenate([pad(a.touch_index, -1), pad(b.touch_index, -1)]),
    )


def training_examples(
    touchpoints: pd.DataFrame,
    conversions: pd.DataFrame,
    vocab: Vocabulary,
    config: TrainConfig,
    *,
    seed: int,
) -> Examples:
    """Cases (every conversion) followed by person-time controls, as the model trains on them."""
    net = config.net
    cases = conversion_examples(
        touchpoints, conversions, vocab, lookback_days=net.lookback_days, max_len=net.max_len
    )
    controls = control_examples(
        touchpoints,
        conversions,
        vocab,
        lookback_days=net.lookback_days,
        max_len=net.max_len,
        negatives_per_user=config.negatives_per_user,
        rng=np.random.default_rng([seed, 1]),
    )
    return _concat(cases, controls)


def _split(users: np.ndarray, config: TrainConfig, seed: int) -> np.ndarray:
    """Return 0 (train), 1 (validation) or 2 (test) per example, by user."""
    uniq, inverse = np.unique(users.astype(str), return_inverse=True)
    u = np.random.default_rng([seed, 2]).random(uniq.shape[0])
    part = np.where(
        u < config.test_fraction,
        2,
        np.where(u < config.test_fraction + config.validation_fraction, 1, 0),
    )
    return np.asarray(part[inverse])


def _on(tensors: tuple[torch.Tensor, ...], device: torch.device) -> tuple[torch.Tensor, ...]:
    return tuple(t.to(device) for t in tensors)


def _loss(
    net: SequenceNet,
    batch: SequenceBatch,
    label: np.ndarray,
    device: torch.device,
    chunk: int = 8192,
) -> float:
    total = 0.0
    with torch.inference_mode():
        for lo in range(0, len(batch), chunk):
            rows = np.arange(lo, min(lo + chunk, len(batch)))
            logit, _ = net(*_on(_tensors(batch.take(rows)), device))
            y = torch.from_numpy(label[rows].astype(np.float32)).to(device)
            total += float(
                torch.nn.functional.binary_cross_entropy_with_logits(logit, y, reduction="sum")
            )
    return total / max(len(batch), 1)


def fit_neural(
    touchpoints: pd.DataFrame,
    conversions: pd.DataFrame,
    *,
    config: TrainConfig | None = None,
    seed: int = 0,
    progress: Progress | None = None,
) -> NeuralScorer:
    """Train the sequence model on touchpoint and conversion logs.

    Parameters
    ----------
    touchpoints
        ``user_id, timestamp, channel`` with optional ``campaign``, ``region``,
        ``business_unit`` (validated as :func:`mixlens.data.loaders.load_touchpoints` does).
    conversions
        ``user_id, timestamp`` with optional ``value``.
    config
        Training settings (defaults of :class:`TrainConfig`); ``config.device`` says where
        the network trains (default ``"cpu"``).
    seed
        Seed of the split, the controls, the initial weights and the batch order.
    progress
        Optional callback ``progress(stage, fraction)``, ``fraction`` in ``[0, 1]``.

    Returns
    -------
    NeuralScorer
        The best network (lowest validation loss), on the CPU whatever the training device;
        ``meta`` holds the training history, the held-out ``{"auc", "log_loss",
        "reliability"}`` at ``meta["heldout"]``, the ``device`` trained on and the seconds
        spent encoding (``encode_seconds``) and in all (``train_seconds``).

    Raises
    ------
    DataError
        (a ``ValueError``) If ``config.device`` asks for CUDA and torch sees no GPU, or the
        training users lack conversions or controls.
    """
    cfg = config or TrainConfig()
    device = training_device(cfg.device)
    if device.type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

    def report(stage: str, fraction: float) -> None:
        if progress is not None:
            progress(stage, fraction)

    deterministic = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        with torch_threads(cfg.threads):
            return _fit(touchpoints, conversions, cfg, seed, report, device)
    finally:
        torch.use_deterministic_algorithms(deterministic)


def _fit(
    touchpoints: pd.DataFrame,
    conversions: pd.DataFrame,
    cfg: TrainConfig,
    seed: int,
    report: Progress,
    device: torch.device,
) -> NeuralScorer:
    report("encode", 0.0)
    start = time.perf_counter()
    vocab = Vocabulary.from_logs(touchpoints)
    ex = training_examples(touchpoints, conversions, vocab, cfg, seed=seed)
    part = _split(ex.user, cfg, seed)
    train = np.flatnonzero(part == 0)
    val = np.flatnonzero(part == 1)
    test = np.flatnonzero(part == 2)
    encode_seconds = time.perf_counter() - start
    if ex.label[train].min(initial=1.0) == ex.label[train].max(initial=0.0):
        raise DataError("the training users need both conversions and control instants")
    torch.manual_seed(seed)
    net = SequenceNet(vocab, cfg.net).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    gen = np.random.default_rng([seed, 3])
    best = (float("inf"), copy.deepcopy(net.state_dict()), 0)
    history: list[dict[str, float]] = []
    val_batch, val_label = ex.batch.take(val), ex.label[val]
    for epoch in range(cfg.epochs):
        net.train()
        order = train[gen.permutation(train.shape[0])]
        train_loss = 0.0
        for lo in range(0, order.shape[0], cfg.batch_size):
            rows = order[lo : lo + cfg.batch_size]
            logit, _ = net(*_on(_tensors(ex.batch.take(rows)), device))
            y = torch.from_numpy(ex.label[rows].astype(np.float32)).to(device)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logit, y)
            opt.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            opt.step()
            train_loss += float(loss.detach()) * rows.shape[0]
        net.eval()
        val_loss = _loss(net, val_batch, val_label, device) if val.size else float("nan")
        history.append(
            {
                "epoch": epoch + 1,
                "train_loss": train_loss / max(train.shape[0], 1),
                "val_loss": val_loss,
            }
        )
        report("train", (epoch + 1) / cfg.epochs * 0.9)
        if val_loss < best[0] - 1e-5:
            best = (val_loss, copy.deepcopy(net.state_dict()), epoch + 1)
        elif epoch + 1 - best[2] >= cfg.patience:
            break
    net.load_state_dict(best[1])
    net.to("cpu").eval()
    scorer = NeuralScorer(net=net, vocab=vocab, config=cfg.net)
    heldout: dict[str, object] = {}
    if test.size and 0 < ex.label[test].sum() < test.size:
        p, _ = scorer.predict(ex.batch.take(test))
        heldout = discrimination(p, ex.label[test])
    scorer.meta = {
        "seed": seed,
        "train": {k: v for k, v in asdict(cfg).items() if k != "net"},
        "examples": {
            "cases": int(ex.label.sum()),
            "controls": int((ex.label == 0).sum()),
            "train": int(train.size),
            "validation": int(val.size),
            "test": int(test.size),
        },
        "history": history,
        "best_epoch": best[2],
        "device": str(device),
        "encode_seconds": encode_seconds,
        "train_seconds": time.perf_counter() - start,
        "heldout": heldout,
    }
    report("train", 0.9)
    return scorer
