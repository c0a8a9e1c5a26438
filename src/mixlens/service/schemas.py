"""Request and response bodies of the service (pydantic): the wire contract of issue #10.

Examples
--------
>>> e = Event.model_validate({"event_id": "e1", "type": "touchpoint", "user_id": "u1",
...                           "timestamp": "2025-01-01T00:00:00Z", "channel": "tv"})
>>> e.to_row().ts_us
1735689600000000
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mixlens.service.rules import RULES
from mixlens.service.store import EventRow

__all__ = [
    "MAX_BATCH",
    "AttributionWindow",
    "ChannelCredit",
    "ConversionAttribution",
    "Event",
    "EventBatch",
    "IngestResult",
    "ModelInfo",
    "ModelSpec",
    "Stats",
    "TouchCredit",
]

MAX_BATCH = 10_000
"""Most events in one ``POST /v1/events`` batch."""

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
Id = Annotated[str, Field(min_length=1, max_length=200)]
Name = Annotated[str, Field(min_length=1, max_length=100)]
Amount = Annotated[float, Field(ge=0, allow_inf_nan=False)]
RuleName = Literal["linear", "first", "last", "position", "time_decay", "markov"]
assert set(RuleName.__args__) == set(RULES)  # type: ignore[attr-defined]


def to_us(ts: dt.datetime) -> int:
    """Microseconds since the Unix epoch of an aware (or naive = UTC) datetime."""
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=dt.UTC)
    d = ts - _EPOCH
    return (d.days * 86_400 + d.seconds) * 1_000_000 + d.microseconds


def from_us(ts_us: int) -> str:
    """ISO 8601 UTC text of microseconds since the Unix epoch."""
    return (_EPOCH + dt.timedelta(microseconds=ts_us)).isoformat().replace("+00:00", "Z")


class Event(BaseModel):
    """One touchpoint or conversion."""

    model_config = ConfigDict(extra="forbid")

    event_id: Id = Field(description="Unique per tenant; a repeated id is a duplicate.")
    type: Literal["touchpoint", "conversion"]
    user_id: Id
    timestamp: dt.datetime = Field(description="ISO 8601; without an offset it is UTC.")
    channel: Name | None = Field(None, description="Required for touchpoints only.")
    campaign: Name | None = None
    cost: Amount | None = Field(None, description="Touchpoints only, >= 0.")
    value: Amount | None = Field(None, description="Conversions only, >= 0.")

    @field_validator("timestamp", mode="before")
    @classmethod
    def _iso_text(cls, v: object) -> object:
        if not isinstance(v, str | dt.datetime):
            raise ValueError("timestamp must be an ISO 8601 string such as 2025-01-31T12:00:00Z")
        return v

    @model_validator(mode="after")
    def _fields_of_type(self) -> Event:
        if self.type == "touchpoint":
            if self.channel is None:
                raise ValueError("a touchpoint needs a channel")
            if self.value is not None:
                raise ValueError("value is for conversions; a touchpoint has a cost")
        else:
            if self.channel is not None or self.cost is not None:
                raise ValueError("channel and cost are for touchpoints; a conversion has a value")
        return self

    def to_row(self) -> EventRow:
        """Return the event as the store writes it."""
        return EventRow(
            self.event_id,
            self.type,
            self.user_id,
            to_us(self.timestamp),
            self.channel,
            self.campaign,
            self.cost,
            self.value,
        )


class EventBatch(BaseModel):
    """Body of ``POST /v1/events``."""

    model_config = ConfigDict(extra="forbid")

    events: list[Event] = Field(min_length=1, max_length=MAX_BATCH)


class IngestResult(BaseModel):
    """Answer of ``POST /v1/events``, sent after the batch is durable."""

    accepted: int = Field(description="Events newly stored.")
    duplicates: int = Field(description="Events whose id was already stored (or repeated).")


class Stats(BaseModel):
    """The tenant's stored event counts."""

    events: int
    touchpoints: int
    conversions: int


class TouchCredit(BaseModel):
    """Credit of one touch of a conversion's path."""

    event_id: str
    channel: str
    timestamp: str
    credit: float


class ConversionAttribution(BaseModel):
    """Credit of one conversion per touch (``credits`` plus ``baseline`` sum to ``total``)."""

    conversion_id: str
    model: str
    by: Literal["conversion", "value"]
    total: float = Field(description="1, or the conversion's value with ?by=value (0 if none).")
    baseline: float = Field(
        description="Credit to no channel: the whole total for a path with no touch, else 0."
    )
    fallback: str | None = Field(
        None, description="'linear' when markov weights give the path's channels nothing."
    )
    credits: list[TouchCredit]


class ChannelCredit(BaseModel):
    """Credit of one channel over a window (channel ``baseline``: conversions without touches)."""

    channel: str
    conversions: float
    value: float


class AttributionWindow(BaseModel):
    """Answer of ``GET /v1/attribution``: credit per channel over ``[from, to)``."""

    model: str
    start: str = Field(alias="from")
    end: str = Field(alias="to")
    conversions: int
    value: float
    credits: list[ChannelCredit]

    model_config = ConfigDict(populate_by_name=True)


class ModelSpec(BaseModel):
    """Body of ``PUT /v1/model``.

    A heuristic needs only its name. ``markov`` needs fitted per-channel weights: the text of
    an ``attribution.csv`` written by ``mixlens mta fit`` (its ``markov`` rows are used) or the
    weights themselves (e.g. the removal effects of ``summary.json``).
    """

    model_config = ConfigDict(extra="forbid")

    model: RuleName
    attribution_csv: str | None = Field(None, max_length=1_000_000)
    weights: dict[Name, Amount] | None = Field(None, max_length=10_000)

    @model_validator(mode="after")
    def _needs_fit(self) -> ModelSpec:
        given = (self.attribution_csv is not None) + (self.weights is not None)
        if self.model == "markov" and given != 1:
            raise ValueError("model 'markov' needs exactly one of attribution_csv or weights")
        if self.model != "markov" and given:
            raise ValueError(f"model {self.model!r} takes no attribution_csv or weights")
        return self


class ModelInfo(BaseModel):
    """The tenant's active model."""

    model: str
    source: str
    weights: dict[str, float] | None = None
