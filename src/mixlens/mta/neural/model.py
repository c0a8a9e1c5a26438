"""The sequence network and its saved artifact (weights plus config JSON).

Network: channel embedding (+ campaign embedding when the logs have campaigns) + a linear map
of the per-touch time and position features -> 1-D convolution (kernel 3) -> LSTM -> additive
attention over the tokens -> concatenated with user context embeddings (region, business unit
when present) -> MLP -> logit of conversion.

An artifact directory holds ``neural_model.pt`` (``torch.save`` of the ``state_dict``) and
``neural_config.json`` (architecture, vocabulary, encoding and training summary);
:func:`load_model` returns a :class:`NeuralScorer` that ``mixlens serve`` can call.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from mixlens.data.io import write_atomic, write_json
from mixlens.errors import DataError
from mixlens.mta.neural.encode import (
    N_NUMERIC,
    UNKNOWN,
    SequenceBatch,
    Vocabulary,
    encode_padded,
)

__all__ = [
    "CONFIG_FILE",
    "WEIGHTS_FILE",
    "NetConfig",
    "NeuralScorer",
    "SequenceNet",
    "load_model",
    "torch_threads",
]

WEIGHTS_FILE = "neural_model.pt"
CONFIG_FILE = "neural_config.json"


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run the block on ``threads`` torch CPU threads (``None``: leave the setting alone).

    One thread is the default of training and scoring: the network is small, and intra-op
    threads mostly add overhead, badly so on a shared machine.
    """
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(max(int(threads), 1))
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass(frozen=True)
class NetConfig:
    """Architecture and encoding of a network (saved with the weights)."""

    embedding_dim: int = 16
    conv_channels: int = 32
    hidden: int = 32
    attention_dim: int = 16
    context_dim: int = 4
    max_len: int = 32
    lookback_days: float = 30.0
    user_exposure: bool = True


class SequenceNet(nn.Module):
    """Embeddings -> Conv1d -> LSTM -> additive attention -> conversion logit."""

    def __init__(self, vocab: Vocabulary, config: NetConfig) -> None:
        super().__init__()
        d = config.embedding_dim
        self.channel = nn.Embedding(len(vocab.channels) + 3, d, padding_idx=0)
        self.campaign = nn.Embedding(len(vocab.campaigns) + 3, d, padding_idx=0)
        self.use_campaign = bool(vocab.campaigns)
        self.numeric = nn.Linear(N_NUMERIC, d)
        self.conv = nn.Conv1d(d, config.conv_channels, kernel_size=3, padding=1)
        self.lstm = nn.LSTM(config.conv_channels, config.hidden, batch_first=True)
        self.att_w = nn.Linear(config.hidden, config.attention_dim)
        self.att_v = nn.Linear(config.attention_dim, 1, bias=False)
        self.context = nn.ModuleList(
            nn.Embedding(len(levels) + 1, config.context_dim) for levels in vocab.context.values()
        )
        self.n_channels = len(vocab.channels)
        self.exposure = (
            nn.Linear(self.n_channels, config.context_dim) if config.user_exposure else None
        )
        width = config.hidden + config.context_dim * (
            len(vocab.context) + int(config.user_exposure)
        )
        self.head = nn.Sequential(
            nn.Linear(width, config.hidden), nn.ReLU(), nn.Linear(config.hidden, 1)
        )

    def forward(
        self,
        channel: torch.Tensor,
        campaign: torch.Tensor,
        numeric: torch.Tensor,
        length: torch.Tensor,
        context: torch.Tensor,
        exposure: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return logits ``(N,)`` and attention weights ``(N, L)`` (0 at pads).

        ``exposure`` of width 0 (unknown) counts as no touches.
        """
        mask = torch.arange(channel.shape[1], device=channel.device)[None, :] < length[:, None]
        x = self.channel(channel) + self.numeric(numeric)
        if self.use_campaign:
            x = x + self.campaign(campaign)
        x = x * mask[..., None]
        h = torch.relu(self.conv(x.transpose(1, 2))).transpose(1, 2) * mask[..., None]
        out, _ = self.lstm(h)
        score = self.att_v(torch.tanh(self.att_w(out))).squeeze(-1)
        attention = torch.softmax(score.masked_fill(~mask, float("-inf")), dim=1)
        pooled = (attention[..., None] * out).sum(dim=1)
        parts = [pooled] + [emb(context[:, j]) for j, emb in enumerate(self.context)]
        if self.exposure is not None:
            if exposure.shape[1] != self.n_channels:
                exposure = torch.zeros((channel.shape[0], self.n_channels), device=channel.device)
            parts.append(torch.relu(self.exposure(exposure)))
        return self.head(torch.cat(parts, dim=1)).squeeze(-1), attention


def _tensors(batch: SequenceBatch) -> tuple[torch.Tensor, ...]:
    return (
        torch.from_numpy(np.ascontiguousarray(batch.channel)),
        torch.from_numpy(np.ascontiguousarray(batch.campaign)),
        torch.from_numpy(np.ascontiguousarray(batch.numeric)),
        torch.from_numpy(np.ascontiguousarray(batch.length)),
        torch.from_numpy(np.ascontiguousarray(batch.context)),
        torch.from_numpy(np.ascontiguousarray(batch.exposure)),
    )


@dataclass
class NeuralScorer:
    """A trained network with its vocabulary: predictions, attention, single-journey scoring.

    Attributes
    ----------
    net
        The network (eval mode).
    vocab
        Channel, campaign and context levels.
    config
        Architecture and encoding.
    meta
        Training summary (JSON-safe): epochs, losses, held-out metrics, seed.
    """

    net: SequenceNet
    vocab: Vocabulary
    config: NetConfig
    meta: dict[str, Any] = field(default_factory=dict)
    _codes: tuple[dict[str, int], dict[str, int]] | None = field(
        default=None, init=False, repr=False
    )

    def predict(
        self, batch: SequenceBatch, *, chunk: int = 8192
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Return conversion probabilities ``(N,)`` and attention weights ``(N, L)``."""
        self.net.eval()
        probs, atts = [], []
        with torch.inference_mode():
            for lo in range(0, len(batch), chunk):
                rows = np.arange(lo, min(lo + chunk, len(batch)))
                part = batch.take(rows)
                logit, att = self.net(*_tensors(part))
                probs.append(torch.sigmoid(logit).double().numpy())
                a = np.zeros((rows.shape[0], batch.channel.shape[1]))
                a[:, : att.shape[1]] = att.double().numpy()
                atts.append(a)
        if not probs:
            return np.zeros(0), np.zeros((0, batch.channel.shape[1]))
        return np.concatenate(probs), np.concatenate(atts)

    def encode_journey(
        self,
        channels: Sequence[str],
        hours_before: Sequence[float],
        *,
        campaigns: Sequence[str] | None = None,
        context: Mapping[str, str] | None = None,
        exposure_counts: Mapping[str, float] | None = None,
    ) -> SequenceBatch:
        """Encode one journey (touches oldest first, hours before the reference time).

        ``exposure_counts``: the user's touches per channel over the data window (the model's
        targeting control); when omitted, the journey's own touches are counted.
        """
        n = len(channels)
        if len(hours_before) != n or (campaigns is not None and len(campaigns) != n):
            raise DataError("channels, hours_before and campaigns must have the same length")
        ctx = np.zeros((1, len(self.vocab.context)), dtype=np.int64)
        for j, (col, levels) in enumerate(self.vocab.context.items()):
            level = (context or {}).get(col)
            ctx[0, j] = levels.index(level) + 1 if level in levels else 0
        codes = self._lookup()
        ch = np.array([codes[0].get(c, UNKNOWN) for c in channels], dtype=np.int64)
        cp = np.zeros(n, dtype=np.int64)
        if self.vocab.campaigns and campaigns is not None:
            cp = np.array([codes[1].get(c, UNKNOWN) for c in campaigns], dtype=np.int64)
        counts = np.zeros(len(self.vocab.channels) + 3)
        if exposure_counts is None:
            np.add.at(counts, ch, 1.0)
        else:
            for name, count in exposure_counts.items():
                counts[codes[0].get(name, UNKNOWN)] += float(count)
        return encode_padded(
            np.asarray(hours_before, dtype=np.float64).reshape(1, n),
            ch.reshape(1, n),
            cp.reshape(1, n),
            np.array([n]),
            ctx,
            lookback_days=self.config.lookback_days,
            max_len=self.config.max_len,
            exposure=np.log1p(counts[3:]).reshape(1, -1),
        )

    def _lookup(self) -> tuple[dict[str, int], dict[str, int]]:
        """Channel and campaign codes by name (built once)."""
        if self._codes is None:
            self._codes = (
                {c: i + 3 for i, c in enumerate(self.vocab.channels)},
                {c: i + 3 for i, c in enumerate(self.vocab.campaigns)},
            )
        return self._codes

    def score_journey(
        self,
        channels: Sequence[str],
        hours_before: Sequence[float],
        *,
        campaigns: Sequence[str] | None = None,
        context: Mapping[str, str] | None = None,
        exposure_counts: Mapping[str, float] | None = None,
    ) -> float:
        """Conversion probability of one journey (the serving path; no gradient tracking)."""
        batch = self.encode_journey(
            channels,
            hours_before,
            campaigns=campaigns,
            context=context,
            exposure_counts=exposure_counts,
        )
        with torch.inference_mode():
            logit, _ = self.net(*_tensors(batch))
            return float(torch.sigmoid(logit)[0])

    def save(self, out_dir: str | Path) -> list[Path]:
        """Write the weights and config JSON under ``out_dir`` (atomically); return the paths."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        state = self.net.state_dict()
        weights = write_atomic(out / WEIGHTS_FILE, lambda p: torch.save(state, p))
        config = write_json(
            {
                "format": "mixlens.mta.neural/1",
                "net": asdict(self.config),
                "vocabulary": self.vocab.to_dict(),
                "meta": self.meta,
            },
            out / CONFIG_FILE,
        )
        return [weights, config]


def load_model(model_dir: str | Path) -> NeuralScorer:
    """Load a :class:`NeuralScorer` saved by :meth:`NeuralScorer.save`.

    Raises
    ------
    DataError
        If a file is missing or the config is not a neural model's.
    """
    folder = Path(model_dir)
    for name in (WEIGHTS_FILE, CONFIG_FILE):
        if not (folder / name).is_file():
            raise DataError(f"{folder / name}: missing; not a neural model directory")
    data = json.loads((folder / CONFIG_FILE).read_text())
    if data.get("format") != "mixlens.mta.neural/1":
        raise DataError(f"{folder / CONFIG_FILE}: not a mixlens neural model config")
    vocab = Vocabulary.from_dict(data["vocabulary"])
    config = NetConfig(**data["net"])
    net = SequenceNet(vocab, config)
    state = torch.load(folder / WEIGHTS_FILE, map_location="cpu", weights_only=True)
    net.load_state_dict(state)
    net.eval()
    return NeuralScorer(net=net, vocab=vocab, config=config, meta=dict(data.get("meta", {})))
