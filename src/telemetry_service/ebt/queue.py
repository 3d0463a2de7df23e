"""The client's queue of events reported before it may forward them (spec 1.4).

Kibana buffers without limit until an opt-in config exists (a known leak, kibana PR #132748);
this queue holds at most :data:`PRE_OPT_IN_QUEUE_LIMIT` events and refuses the newest beyond it
(the client counts each as ``dropped``/``queue_full``), so the first events of a run, the ones
worth most, survive. It is drained into per-type batches of at most 1000 events whenever the
client can forward.
"""

from __future__ import annotations

from collections.abc import Callable

from .events import Event

__all__ = ["DRAIN_BATCH_SIZE", "PRE_OPT_IN_QUEUE_LIMIT", "PreOptInQueue"]

PRE_OPT_IN_QUEUE_LIMIT = 10_000
DRAIN_BATCH_SIZE = 1000


class PreOptInQueue:
    """A bounded buffer of events."""

    __slots__ = ("_events", "limit")

    def __init__(self, limit: int = PRE_OPT_IN_QUEUE_LIMIT) -> None:
        self.limit = limit
        self._events: list[Event] = []

    def __len__(self) -> int:
        return len(self._events)

    def offer(self, event: Event) -> bool:
        """Keep ``event``; False when the queue is full (the caller counts the drop)."""
        if len(self._events) >= self.limit:
            return False
        self._events.append(event)
        return True

    def clear(self) -> None:
        """Discard everything (an opt-out: the events are never sent, spec 1.4)."""
        self._events = []

    def drain(self, keep: Callable[[str], bool]) -> list[tuple[str, list[Event]]]:
        """Empty the queue; the kept events grouped by type, in first-appearance order, split
        into batches of at most :data:`DRAIN_BATCH_SIZE` (Kibana's
        ``reportEnqueuedEventsWhenClientIsReady``).
        Events whose type ``keep`` refuses are discarded silently, as in Kibana.
        """
        events, self._events = self._events, []
        groups: dict[str, list[Event]] = {}
        for event in events:
            event_type = event["event_type"]
            if keep(event_type):
                groups.setdefault(event_type, []).append(event)
        return [
            (event_type, group[start : start + DRAIN_BATCH_SIZE])
            for event_type, group in groups.items()
            for start in range(0, len(group), DRAIN_BATCH_SIZE)
        ]
