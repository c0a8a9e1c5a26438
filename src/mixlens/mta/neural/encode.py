"""Journeys as padded sequences for the neural model (numpy only; no torch here).

Examples are cut from the touchpoint and conversion logs at a *reference time* ``tau``:

* **cases**: every conversion, ``tau`` its instant; the history is the user's touches since
  the previous conversion (exclusive) within ``lookback_days`` before ``tau`` (a touch at the
  conversion instant precedes it), the same journey :func:`mixlens.mta.build_journeys` cuts;
* **controls**: per user in the logs, ``negatives_per_user`` instants ``tau`` drawn uniformly
  over the observation window (person-time sampling), history cut by the same rule.

This is how the model avoids the trap of issue #5 (journey logs stop at the conversion while
non-converters keep accumulating exposures): a control is never a non-converter's whole
history, but the same lookback before a reference time drawn over the same clock, converters'
own pre-conversion time included; a conversion model over whole-history exposure would learn
that exposure predicts *not* converting. With person-time controls the model's odds are
proportional to the conversion hazard given the history (case-control sampling), so ratios of
odds compare histories.

Sequences keep the ``max_len`` most recent touches. Position 0 of every sequence is a start
token, so an empty history is a valid sequence (the model's no-ad prediction). Touches of
:data:`NON_EXPOSURE` channels (``direct`` session markers, recorded *because* a user converts)
are dropped from the input.

Examples
--------
>>> import pandas as pd
>>> tp = pd.DataFrame({"user_id": ["a", "a", "b"], "channel": ["tv", "search", "tv"],
...                    "timestamp": pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-03"])})
>>> cv = pd.DataFrame({"user_id": ["a"], "timestamp": pd.to_datetime(["2025-01-02 12:00"]),
...                    "value": [10.0]})
>>> vocab = Vocabulary.from_logs(tp)
>>> ex = conversion_examples(tp, cv, vocab, lookback_days=30, max_len=8)
>>> ex.batch.channel.tolist()
[[1, 4, 3]]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from mixlens.errors import DataError

__all__ = [
    "CONTEXT_COLUMNS",
    "NON_EXPOSURE",
    "N_NUMERIC",
    "Examples",
    "SequenceBatch",
    "Vocabulary",
    "control_examples",
    "conversion_examples",
    "encode_padded",
]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

NON_EXPOSURE = frozenset({"direct"})
"""Channels that mark a visit rather than an ad exposure: not model input, never credited."""

CONTEXT_COLUMNS = ("region", "business_unit")
"""User-level columns of the touchpoints used as context features when present."""

N_NUMERIC = 4
"""Numeric features per touch: time to reference, gap to the next touch, position, recency."""

PAD, START, UNKNOWN = 0, 1, 2
"""Reserved codes of the channel and campaign vocabularies; known names start at 3."""

_MS_PER_DAY = 86_400_000
_MS_PER_HOUR = 3_600_000


@dataclass(frozen=True)
class Vocabulary:
    """Channel, campaign and context levels, coded from 3 (0 pad, 1 start, 2 unknown).

    Attributes
    ----------
    channels
        Exposure channel names (``direct`` excluded), sorted.
    campaigns
        Campaign names, sorted; empty when the logs have no ``campaign`` column.
    context
        Per context column present (:data:`CONTEXT_COLUMNS`), its levels (code ``i + 1``; 0 is
        unknown).
    """

    channels: tuple[str, ...]
    campaigns: tuple[str, ...]
    context: Mapping[str, tuple[str, ...]]

    @classmethod
    def from_logs(cls, touchpoints: pd.DataFrame) -> Vocabulary:
        """Collect the levels from a touchpoint log (``channel``, optional ``campaign``)."""
        tp = touchpoints[~touchpoints["channel"].astype("str").isin(NON_EXPOSURE)]
        channels = tuple(sorted(tp["channel"].astype("str").unique()))
        if not channels:
            raise DataError("no exposure touches: every touch is a direct session")
        campaigns: tuple[str, ...] = ()
        if "campaign" in tp.columns:
            campaigns = tuple(sorted(tp["campaign"].astype("str").unique()))
        context = {
            col: tuple(sorted(touchpoints[col].astype("str").unique()))
            for col in CONTEXT_COLUMNS
            if col in touchpoints.columns
        }
        return cls(channels=channels, campaigns=campaigns, context=context)

    def to_dict(self) -> dict[str, Any]:
        """Return the vocabulary as a JSON-safe dict."""
        return {
            "channels": list(self.channels),
            "campaigns": list(self.campaigns),
            "context": {k: list(v) for k, v in self.context.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Vocabulary:
        """Inverse of :meth:`to_dict`."""
        return cls(
            channels=tuple(data["channels"]),
            campaigns=tuple(data["campaigns"]),
            context={k: tuple(v) for k, v in data["context"].items()},
        )

    def channel_codes(self, names: Sequence[str] | pd.Series | npt.NDArray[Any]) -> IntArray:
        """Code channel names (unknown names get 2)."""
        return _codes(self.channels, names)

    def campaign_codes(self, names: Sequence[str] | pd.Series | npt.NDArray[Any]) -> IntArray:
        """Code campaign names (unknown names get 2; all 0 without campaigns)."""
        if not self.campaigns:
            return np.zeros(len(names), dtype=np.int64)
        return _codes(self.campaigns, names)


def _codes(levels: Sequence[str], names: Sequence[str] | pd.Series | npt.NDArray[Any]) -> IntArray:
    index = pd.Index(list(levels), dtype="object")
    codes = index.get_indexer(pd.Index(np.asarray(names).astype(str), dtype="object"))
    return np.where(codes < 0, UNKNOWN, codes + 3).astype(np.int64)


@dataclass(frozen=True)
class SequenceBatch:
    """Padded model input for ``N`` sequences of at most ``L - 1`` touches.

    Attributes
    ----------
    channel, campaign
        Shape ``(N, L)`` codes: position 0 the start token, touches oldest first, then 0 pads.
    numeric
        Shape ``(N, L, N_NUMERIC)`` float32 features (0 at the start token and pads).
    length
        Shape ``(N,)``: tokens including the start token (``touches + 1``).
    context
        Shape ``(N, n_context)`` codes of the context columns (0 unknown).
    exposure
        Shape ``(N, n_channels)`` float32: ``log1p`` of the user's touches per channel over the
        whole log (who each channel targets: a control for selection, as the hazard model's
        whole-window counts; fixed when a touch is removed), or shape ``(N, 0)`` when unknown.
    """

    channel: IntArray
    campaign: IntArray
    numeric: npt.NDArray[np.float32]
    length: IntArray
    context: IntArray
    exposure: npt.NDArray[np.float32]

    def __len__(self) -> int:
        return int(self.length.shape[0])

    def take(self, rows: IntArray) -> SequenceBatch:
        """Return the rows ``rows`` trimmed to their longest sequence."""
        width = int(self.length[rows].max()) if rows.size else 1
        return SequenceBatch(
            channel=self.channel[rows, :width],
            campaign=self.campaign[rows, :width],
            numeric=self.numeric[rows, :width],
            length=self.length[rows],
            context=self.context[rows],
            exposure=self.exposure[rows],
        )


def encode_padded(
    hours_before: FloatArray,
    channel: IntArray,
    campaign: IntArray,
    n_touches: IntArray,
    context: IntArray,
    *,
    lookback_days: float,
    max_len: int,
    exposure: npt.NDArray[np.floating[Any]] | None = None,
) -> SequenceBatch:
    """Build a :class:`SequenceBatch` from left-aligned touch arrays.

    Parameters
    ----------
    hours_before
        Shape ``(N, W)``: hours from each touch to the reference time (``>= 0``), oldest first,
        the first ``n_touches[i]`` entries of row ``i`` valid.
    channel, campaign
        Shape ``(N, W)`` codes of the same touches.
    n_touches
        Shape ``(N,)``: valid touches per row, ``<= W``; rows keep their last ``max_len``.
    context
        Shape ``(N, n_context)`` context codes.
    lookback_days, max_len
        Lookback (scales the time features) and most touches kept.
    exposure
        Shape ``(N, n_channels)``: the users' whole-log exposure features (see
        :class:`SequenceBatch`); ``None`` for unknown.
    """
    n_rows, width = channel.shape
    n = np.asarray(n_touches, dtype=np.int64)
    keep = np.minimum(n, max_len)
    skip = n - keep
    cols = np.arange(max_len, dtype=np.int64)
    valid = cols[None, :] < keep[:, None]
    src = np.where(valid, skip[:, None] + cols[None, :], 0)
    if width == 0:
        src = np.zeros_like(src)
        valid = np.zeros_like(valid)
    rows = np.arange(n_rows)[:, None]
    hrs = np.where(valid, hours_before[rows, src] if width else 0.0, 0.0)
    ch = np.where(valid, channel[rows, src] if width else 0, PAD)
    cp = np.where(valid, campaign[rows, src] if width else 0, PAD)
    scale = np.log1p(lookback_days * 24.0)
    nxt = np.where(cols[None, :] + 1 < keep[:, None], np.roll(hrs, -1, axis=1), 0.0)
    numeric = np.zeros((n_rows, max_len, N_NUMERIC), dtype=np.float32)
    numeric[..., 0] = np.log1p(np.maximum(hrs, 0.0)) / scale
    numeric[..., 1] = np.log1p(np.maximum(hrs - nxt, 0.0)) / scale
    numeric[..., 2] = (cols[None, :] + 1) / np.maximum(keep[:, None], 1)
    numeric[..., 3] = (keep[:, None] - cols[None, :]) / max_len
    numeric *= valid[..., None]
    start = np.full((n_rows, 1), START, dtype=np.int64)
    zeros = np.zeros((n_rows, 1, N_NUMERIC), dtype=np.float32)
    return SequenceBatch(
        channel=np.concatenate([start, ch.astype(np.int64)], axis=1),
        campaign=np.concatenate([start, cp.astype(np.int64)], axis=1),
        numeric=np.concatenate([zeros, numeric], axis=1),
        length=keep + 1,
        context=np.asarray(context, dtype=np.int64).reshape(n_rows, -1),
        exposure=(
            np.zeros((n_rows, 0), dtype=np.float32)
            if exposure is None
            else np.asarray(exposure, dtype=np.float32).reshape(n_rows, -1)
        ),
    )


@dataclass(frozen=True)
class Examples:
    """Sequences at reference times, with their labels and where they came from.

    Attributes
    ----------
    batch
        The encoded sequences.
    label
        Shape ``(N,)``: 1 for a conversion, 0 for a control instant.
    user
        Shape ``(N,)``: user ids (str), for splits by user.
    value
        Shape ``(N,)``: conversion value (0 for controls).
    touch_index
        Shape ``(N, L)``: row in the touchpoint frame of each token (-1 at the start token and
        pads), so credit per token can be mapped back to touches.
    """

    batch: SequenceBatch
    label: FloatArray
    user: npt.NDArray[np.object_]
    value: FloatArray
    touch_index: IntArray


@dataclass(frozen=True)
class _Logs:
    """Exposure touches sorted by user then time, and the conversions on the same user codes."""

    key: IntArray  # user code * span + ms since origin, sorted
    ms: IntArray
    channel: IntArray
    campaign: IntArray
    row: IntArray  # row in the input touchpoint frame
    conv_key: IntArray  # sorted
    conv_user: IntArray
    conv_ms: IntArray
    conv_value: FloatArray
    conv_order: IntArray  # row in the input conversion frame, in conv_key order
    span: int
    users: npt.NDArray[np.object_]
    user_context: IntArray  # (n_users, n_context)
    user_exposure: npt.NDArray[np.float32]  # (n_users, n_channels)
    window: tuple[int, int]


def _prepare(tp: pd.DataFrame, cv: pd.DataFrame, vocab: Vocabulary) -> _Logs:
    for col in ("user_id", "channel", "timestamp"):
        if col not in tp.columns:
            raise DataError(f"touchpoints need a {col!r} column")
    for col in ("user_id", "timestamp"):
        if col not in cv.columns:
            raise DataError(f"conversions need a {col!r} column")
    t_ms = pd.to_datetime(tp["timestamp"]).to_numpy("datetime64[ms]").astype(np.int64)
    c_ms = pd.to_datetime(cv["timestamp"]).to_numpy("datetime64[ms]").astype(np.int64)
    if len(tp) == 0:
        raise DataError("no touchpoints")
    origin = int(min(t_ms.min(), c_ms.min(initial=t_ms.min())))
    end = int(max(t_ms.max(), c_ms.max(initial=t_ms.max())))
    span = end - origin + 2
    users, codes = np.unique(
        np.concatenate([tp["user_id"].astype("str").to_numpy(), cv["user_id"].astype("str")]),
        return_inverse=True,
    )
    if users.shape[0] * span >= 2**62:
        raise DataError("too many users times milliseconds of window for one table; split users")
    t_user, c_user = codes[: len(tp)].astype(np.int64), codes[len(tp) :].astype(np.int64)
    exposure = ~tp["channel"].astype("str").isin(NON_EXPOSURE).to_numpy()
    rows = np.flatnonzero(exposure)
    key = t_user[rows] * span + (t_ms[rows] - origin)
    order = np.argsort(key, kind="stable")
    rows = rows[order]
    campaign = (
        vocab.campaign_codes(tp["campaign"].to_numpy()[rows])
        if vocab.campaigns and "campaign" in tp.columns
        else np.zeros(rows.shape[0], dtype=np.int64)
    )
    c_key = c_user * span + (c_ms - origin)
    c_order = np.argsort(c_key, kind="stable")
    value = (
        pd.to_numeric(cv["value"], errors="coerce").fillna(0.0).to_numpy(dtype=np.float64)
        if "value" in cv.columns
        else np.zeros(len(cv))
    )
    ctx = np.zeros((users.shape[0], len(vocab.context)), dtype=np.int64)
    for j, (col, levels) in enumerate(vocab.context.items()):
        if col in tp.columns:
            cat = pd.Categorical(tp[col].astype("str"), categories=list(levels))
            ctx[t_user, j] = np.asarray(cat.codes, dtype=np.int64) + 1
    channel = vocab.channel_codes(tp["channel"].to_numpy()[rows])
    counts = np.zeros((users.shape[0], len(vocab.channels) + 3))
    np.add.at(counts, (t_user[rows], channel), 1.0)
    return _Logs(
        key=key[order],
        ms=t_ms[rows] - origin,
        channel=channel,
        campaign=campaign,
        row=rows.astype(np.int64),
        conv_key=c_key[c_order],
        conv_user=c_user[c_order],
        conv_ms=c_ms[c_order] - origin,
        conv_value=value[c_order],
        conv_order=c_order.astype(np.int64),
        span=span,
        users=users.astype(object),
        user_context=ctx,
        user_exposure=np.log1p(counts[:, 3:]).astype(np.float32),
        window=(0, end - origin + 1),
    )


def _cut(
    logs: _Logs,
    user: IntArray,
    ref_ms: IntArray,
    *,
    inclusive: bool,
    lookback_days: float,
    max_len: int,
) -> tuple[SequenceBatch, IntArray]:
    """Sequences of ``user``'s touches in ``(previous conversion, ref]`` within the lookback."""
    ref_key = user * logs.span + ref_ms
    # Previous conversion strictly before the reference (a conversion at the reference itself
    # is the case being cut, not a previous one).
    prev_i = np.searchsorted(logs.conv_key, ref_key, side="left") - 1
    has_prev = (prev_i >= 0) & (logs.conv_user[np.maximum(prev_i, 0)] == user)
    prev_ms = np.where(has_prev, logs.conv_ms[np.maximum(prev_i, 0)], -1)
    lookback_ms = round(lookback_days * _MS_PER_DAY)
    lo_ms = np.maximum(prev_ms + 1, ref_ms - lookback_ms)
    lo = np.searchsorted(logs.key, user * logs.span + np.maximum(lo_ms, 0), side="left")
    hi = np.searchsorted(logs.key, ref_key, side="right" if inclusive else "left")
    n = np.maximum(hi - lo, 0)
    keep = np.minimum(n, max_len)
    first = hi - keep
    cols = np.arange(max_len, dtype=np.int64)
    valid = cols[None, :] < keep[:, None]
    idx = np.where(valid, first[:, None] + cols[None, :], 0)
    if logs.key.shape[0] == 0:
        idx = np.zeros_like(idx)
        valid = np.zeros_like(valid)
    hours = np.where(valid, (ref_ms[:, None] - logs.ms[idx]) / _MS_PER_HOUR, 0.0)
    batch = encode_padded(
        hours,
        np.where(valid, logs.channel[idx], PAD),
        np.where(valid, logs.campaign[idx], PAD),
        keep,
        logs.user_context[user],
        lookback_days=lookback_days,
        max_len=max_len,
        exposure=logs.user_exposure[user],
    )
    touch_index = np.full(batch.channel.shape, -1, dtype=np.int64)
    touch_index[:, 1:] = np.where(valid, logs.row[idx], -1)
    return batch, touch_index


def conversion_examples(
    touchpoints: pd.DataFrame,
    conversions: pd.DataFrame,
    vocab: Vocabulary,
    *,
    lookback_days: float,
    max_len: int,
) -> Examples:
    """One case per conversion (in the input order of ``conversions``); see the module doc."""
    logs = _prepare(touchpoints, conversions, vocab)
    batch, touch_index = _cut(
        logs,
        logs.conv_user,
        logs.conv_ms,
        inclusive=True,
        lookback_days=lookback_days,
        max_len=max_len,
    )
    back = np.empty_like(logs.conv_order)
    back[logs.conv_order] = np.arange(logs.conv_order.shape[0])
    ordered = batch.take(back)
    return Examples(
        batch=ordered,
        label=np.ones(back.shape[0]),
        user=logs.users[logs.conv_user][back],
        value=logs.conv_value[back],
        touch_index=touch_index[back][:, : ordered.channel.shape[1]],
    )


def control_examples(
    touchpoints: pd.DataFrame,
    conversions: pd.DataFrame,
    vocab: Vocabulary,
    *,
    lookback_days: float,
    max_len: int,
    negatives_per_user: int,
    rng: np.random.Generator,
) -> Examples:
    """Cut controls: per user in the touchpoints, instants drawn uniformly over the window."""
    logs = _prepare(touchpoints, conversions, vocab)
    tp_users = np.unique(
        np.searchsorted(logs.users, touchpoints["user_id"].astype("str").to_numpy())
    ).astype(np.int64)
    user = np.repeat(tp_users, negatives_per_user)
    lo, hi = logs.window
    ref = rng.integers(lo, hi, size=user.shape[0]).astype(np.int64)
    batch, touch_index = _cut(
        logs, user, ref, inclusive=False, lookback_days=lookback_days, max_len=max_len
    )
    return Examples(
        batch=batch,
        label=np.zeros(user.shape[0]),
        user=logs.users[user],
        value=np.zeros(user.shape[0]),
        touch_index=touch_index,
    )
