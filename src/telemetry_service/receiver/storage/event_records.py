"""The records the event store takes and returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

__all__ = [
    "EventAddResult",
    "EventBatch",
    "EventTypeSummary",
    "NewEvent",
    "StoredEvent",
]


class NewEvent(NamedTuple):
    """One validated event: its time, type and cluster, its context and properties as JSON
    text."""

    timestamp_ms: int
    event_type: str
    cluster_uuid: str
    context: str
    properties: str


@dataclass(frozen=True, repr=False)
class EventBatch:
    """The valid events of one request, stored together or not at all.

    `key` identifies the batch: a second batch with the same key is not stored again.
    """

    key: str
    channel: str
    cluster_uuid: str
    received_ms: int
    events: list[NewEvent]

    def __repr__(self) -> str:
        return f"EventBatch(channel={self.channel!r}, <{len(self.events)} events>)"


@dataclass(frozen=True)
class EventAddResult:
    """How many events were stored (0 for a batch stored before: `duplicate`)."""

    stored: int
    duplicate: bool


class StoredEvent(NamedTuple):
    """One stored event, its context and properties as JSON text."""

    id: int
    timestamp_ms: int
    event_type: str
    cluster_uuid: str
    channel: str
    context: str
    properties: str


@dataclass(frozen=True)
class EventTypeSummary:
    """An event type over a window of days: events per day (from the aggregates), the
    clusters that sent it since the window's first day, and its first and last event time."""

    event_type: str
    per_day: dict[int, int]
    clusters: int
    first_ms: int
    last_ms: int
