"""Response models of the event routes (they make the OpenAPI document exact)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "BooleanProperty",
    "EventList",
    "EventTypeDaily",
    "EventTypeList",
    "EventsAnswer",
    "KeywordProperty",
    "NumberProperty",
    "PropertyList",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LineError(_Model):
    line: int = Field(description="The line's number, from 1.")
    reason: str


class EventsAnswer(_Model):
    ok: bool
    accepted: int = Field(description="Valid events (stored now, or before: `duplicate`).")
    rejected: int = Field(description="Lines refused.")
    reasons: dict[str, int] = Field(description="Refused lines by reason.")
    errors: list[LineError] = Field(description="The first 10 refused lines.")
    duplicate: bool = Field(description="The batch was stored before; nothing was stored now.")
    batch_id: str | None


class EventType(_Model):
    event_type: str
    events: int = Field(description="Events in the window.")
    clusters: int = Field(description="Clusters that sent the type since the window's start.")
    first_seen: str
    last_seen: str
    trend: list[int] = Field(description="Events per UTC day of the window, oldest first.")


class EventTypeList(_Model):
    types: list[EventType]


class EventDay(_Model):
    day: str
    events: int
    clusters: int


class EventTypeDaily(_Model):
    event_type: str
    days: list[EventDay]


class PropertyInfo(_Model):
    path: str
    kind: Literal["keyword", "number", "boolean"]
    count: int = Field(description="Sampled events that hold the path.")


class PropertyList(_Model):
    event_type: str
    properties: list[PropertyInfo]


class KeywordValue(_Model):
    value: str
    count: int


class KeywordProperty(_Model):
    event_type: str
    path: str
    kind: Literal["keyword"]
    count: int
    top: list[KeywordValue]


class NumberProperty(_Model):
    event_type: str
    path: str
    kind: Literal["number"]
    count: int
    min: float
    max: float
    avg: float
    p50: float
    p90: float
    p99: float


class BooleanProperty(_Model):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    event_type: str
    path: str
    kind: Literal["boolean"]
    count: int
    true: int
    false: int


class EventModel(_Model):
    timestamp: str
    event_type: str
    cluster_uuid: str
    channel: str
    context: dict[str, Any]
    properties: dict[str, Any]


class EventList(_Model):
    events: list[EventModel]
