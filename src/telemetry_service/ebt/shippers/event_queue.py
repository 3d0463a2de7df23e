"""The server shipper's bounded queue and its batches (spec 2.2, ``server_shipper.ts``).

Events are encoded (``wire.protocol.events_to_ndjson``) lazily, when a batch is cut, so that
``report_events`` stays cheap. A batch is the whole queue when flushing or when the queue holds
under 10 KiB; otherwise events from the head until 10 KiB is reached, the crossing event
included. An event's size is its JSON without the newline.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import islice

from telemetry_service.wire.protocol import events_to_ndjson

from ..events import Event
from .send_policy import BATCH_BYTES, MAX_QUEUE

__all__ = ["Batch", "EventQueue"]


@dataclass
class Batch:
    """One request's events: their NDJSON lines, counts per type, and retry state."""

    batch_id: str
    lines: list[bytes]
    types: Counter[str]
    attempts: int = 0
    not_before: float = 0.0
    body: bytes = field(init=False)

    def __post_init__(self) -> None:
        self.body = b"".join(self.lines)

    def __len__(self) -> int:
        return len(self.lines)


class EventQueue:
    """FIFO of events, at most ``cap`` including ``held`` (a batch waiting to be retried)."""

    def __init__(self, cap: int = MAX_QUEUE) -> None:
        self.cap = cap
        self.held = 0
        self._events: deque[Event] = deque()
        self._lines: deque[bytes] = deque()  # encodings of the first len(_lines) events

    def __len__(self) -> int:
        return len(self._events)

    def add(self, events: Sequence[Event]) -> Counter[str] | None:
        """Append what fits; the newest overflow is refused, returned as counts per type."""
        free = self.cap - len(self._events) - self.held
        if len(events) <= free:
            self._events.extend(events)
            return None
        free = max(free, 0)
        self._events.extend(events[:free])
        return Counter(event["event_type"] for event in events[free:])

    def clear(self) -> None:
        self._events.clear()
        self._lines.clear()

    def take(self, batch_id: str, whole: bool) -> Batch | None:
        """Cut the next batch (None when empty)."""
        if not self._events:
            return None
        if whole:
            cached = len(self._lines)
            lines = [*self._lines]
            lines += [events_to_ndjson([e]) for e in islice(self._events, cached, None)]
            types = Counter(event["event_type"] for event in self._events)
            self.clear()
            return Batch(batch_id, lines, types)
        total, count = 0, 0
        for index in range(len(self._events)):
            total += len(self._line(index)) - 1
            count = index + 1
            if total >= BATCH_BYTES:
                break
        if count == len(self._events):  # the whole queue is under 10 KiB
            return self.take(batch_id, whole=True)
        lines, types = [], Counter[str]()
        for _ in range(count):
            types[self._events.popleft()["event_type"]] += 1
            lines.append(self._lines.popleft())
        return Batch(batch_id, lines, types)

    def _line(self, index: int) -> bytes:
        """The encoding of the event at ``index``, near the head (cached)."""
        while len(self._lines) <= index:
            self._lines.append(events_to_ndjson([self._events[len(self._lines)]]))
        return self._lines[index]
