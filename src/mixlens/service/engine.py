"""Active models per tenant (hot-swappable) and attribution of stored conversions.

Hot swap. :class:`ModelRegistry` keeps an immutable mapping ``tenant -> ActiveModel``; a swap
builds a new mapping and replaces the reference in one assignment (atomic under the GIL). A
request reads the model once at its start and uses that object throughout, so a swap never
drops or mixes a request: it is answered wholly by the old or wholly by the new model.

Examples
--------
>>> from mixlens.service.store import EventStore
>>> registry = ModelRegistry(EventStore(":memory:"), ActiveModel("linear"))
>>> registry.get(1).name
'linear'
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mixlens.errors import DataError
from mixlens.service.rules import FittedWeights, credit_shares
from mixlens.service.schemas import from_us
from mixlens.service.store import Conversion, EventStore, Touch

__all__ = ["ActiveModel", "ModelRegistry", "attribute_conversion", "attribute_window"]


@dataclass(frozen=True)
class ActiveModel:
    """A rule and, for ``markov``, its fitted per-channel weights.

    ``rule="neural"`` serves a trained sequence model (``scorer``, a
    :class:`mixlens.mta.neural.model.NeuralScorer` loaded from ``source``): each conversion is
    credited by :func:`mixlens.mta.neural.credit.journey_credit`, with a baseline share.
    """

    rule: str
    weights: FittedWeights | None = None
    scorer: Any = None
    source: str | None = None

    @property
    def name(self) -> str:
        """Model name as responses report it."""
        return self.rule

    def info(self) -> dict[str, Any]:
        """JSON-safe description (``GET /v1/model``)."""
        w = self.weights
        source = w.source if w is not None else self.source or "builtin"
        return {
            "model": self.rule,
            "source": source,
            "weights": dict(w.weights) if w is not None else None,
        }

    def to_json(self) -> str:
        """Serialise for the store."""
        return json.dumps(self.info())

    @classmethod
    def from_json(cls, text: str) -> ActiveModel:
        """Inverse of :meth:`to_json`."""
        spec = json.loads(text)
        weights = spec.get("weights")
        fitted = (
            FittedWeights(spec["model"], weights, spec.get("source", "inline"))
            if weights is not None
            else None
        )
        return cls(spec["model"], fitted)


class ModelRegistry:
    """Each tenant's active model; a default for tenants that set none.

    Parameters
    ----------
    store
        Where tenant models persist (they survive restarts).
    default
        Model of tenants without one (``mixlens serve --model``, else linear).
    """

    def __init__(self, store: EventStore, default: ActiveModel) -> None:
        self._store = store
        self.default = default
        self._models: Mapping[int, ActiveModel] = {
            tenant: ActiveModel.from_json(spec) for tenant, spec in store.models().items()
        }

    def get(self, tenant_id: int) -> ActiveModel:
        """Return the tenant's active model."""
        return self._models.get(tenant_id, self.default)

    def set(self, tenant_id: int, model: ActiveModel) -> None:
        """Persist and swap in the tenant's model (one reference assignment)."""
        self._store.save_model(tenant_id, model.to_json())
        self._models = {**self._models, tenant_id: model}


def _shares(
    model: ActiveModel, conv: Conversion, path: list[Touch]
) -> tuple[list[float], bool, float]:
    """Shares per touch, whether ``markov`` fell back to linear, and the baseline share."""
    if model.rule == "neural":
        if model.scorer is None:
            raise DataError("no neural model is loaded: start `mixlens serve --model DIR --neural`")
        from mixlens.mta.neural.credit import journey_credit

        hours = [(conv.ts_us - t.ts_us) / 3.6e9 for t in path]
        shares, base = journey_credit(model.scorer, [t.channel for t in path], hours)
        return shares, False, base
    if model.rule == "markov" and model.weights is None:
        raise DataError("model 'markov' has no fitted weights; set them with PUT /v1/model")
    seconds = [(conv.ts_us - t.ts_us) / 1e6 for t in path]
    channels = [t.channel for t in path]
    shares = credit_shares(model.rule, seconds, channels=channels, weights=model.weights)
    w = model.weights.weights if model.weights is not None else {}
    fallback = (
        model.rule == "markov" and bool(path) and not any(w.get(c, 0.0) > 0 for c in channels)
    )
    return shares, fallback, 0.0 if path else 1.0


def attribute_conversion(
    conv: Conversion, path: list[Touch], model: ActiveModel, *, by_value: bool = False
) -> dict[str, Any]:
    """Credit one conversion over its path (``ConversionAttribution`` as a dict).

    The credits plus ``baseline`` sum to ``total``: 1 conversion, or with ``by_value`` the
    conversion's value (0 when it has none).
    """
    total = (conv.value or 0.0) if by_value else 1.0
    shares, fallback, base = _shares(model, conv, path)
    return {
        "conversion_id": conv.event_id,
        "model": model.name,
        "by": "value" if by_value else "conversion",
        "total": total,
        "baseline": base * total,
        "fallback": "linear" if fallback else None,
        "credits": [
            {
                "event_id": t.event_id,
                "channel": t.channel,
                "timestamp": from_us(t.ts_us),
                "credit": s * total,
            }
            for t, s in zip(path, shares, strict=True)
        ],
    }


def attribute_window(
    store: EventStore,
    tenant_id: int,
    start_us: int,
    end_us: int,
    model: ActiveModel,
    *,
    lookback_us: int,
) -> dict[str, Any]:
    """Credit per channel of the tenant's conversions in ``[start_us, end_us)``.

    Channels in order of first appearance; ``baseline`` last (conversions without touches,
    and a neural model's would-have-converted-anyway shares).
    Conversions and value credited sum to the window's conversions and value.
    """
    conv_credit: dict[str, float] = {}
    value_credit: dict[str, float] = {}
    n = 0
    total_value = 0.0
    for conv, path in store.journeys(tenant_id, start_us, end_us, lookback_us):
        n += 1
        value = conv.value or 0.0
        total_value += value
        if not path:
            conv_credit["\0baseline"] = conv_credit.get("\0baseline", 0.0) + 1.0
            value_credit["\0baseline"] = value_credit.get("\0baseline", 0.0) + value
            continue
        shares, _, base = _shares(model, conv, path)
        for t, s in zip(path, shares, strict=True):
            conv_credit[t.channel] = conv_credit.get(t.channel, 0.0) + s
            value_credit[t.channel] = value_credit.get(t.channel, 0.0) + s * value
        if base > 0:
            conv_credit["\0baseline"] = conv_credit.get("\0baseline", 0.0) + base
            value_credit["\0baseline"] = value_credit.get("\0baseline", 0.0) + base * value
    rows = [
        {"channel": c, "conversions": v, "value": value_credit[c]}
        for c, v in conv_credit.items()
        if c != "\0baseline"
    ]
    if "\0baseline" in conv_credit:
        rows.append(
            {
                "channel": "baseline",
                "conversions": conv_credit["\0baseline"],
                "value": value_credit["\0baseline"],
            }
        )
    return {
        "model": model.name,
        "from": from_us(start_us),
        "to": from_us(end_us),
        "conversions": n,
        "value": total_value,
        "credits": rows,
    }
