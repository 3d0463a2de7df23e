"""Telemetry counters: the client's and shippers' account of every event (spec 1.9).

Kibana's ``telemetryCounter$`` is a multicast Subject that delivers synchronously; here it is a
:class:`CounterStream`, a list of callbacks called in the emitting thread, in emission order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

__all__ = ["CounterListener", "CounterStream", "CounterType", "DropReason", "TelemetryCounter"]

CounterType = Literal["enqueued", "sent_to_shipper", "succeeded", "failed", "dropped"]

_log = logging.getLogger(__name__)


class DropReason:
    """``code`` of the client's ``dropped`` counters."""

    UNREGISTERED_TYPE = "UnregisteredType"  # Kibana's
    SCHEMA_VIOLATION = "SchemaViolation"  # ours: the event broke its schema
    QUEUE_FULL = "queue_full"  # the pre-opt-in queue is full (Kibana's shipper code)


@dataclass(frozen=True, slots=True)
class TelemetryCounter:
    """``{type, source, event_type, code, count}`` (``ebt:src/client/src/events/types.ts``).

    ``source`` is ``"client"`` or a shipper's name; ``code`` is ``"enqueued"``, ``"OK"``, an HTTP
    status as text, an error message, or a drop reason such as ``"UnregisteredType"``.
    """

    type: CounterType
    source: str
    event_type: str
    code: str
    count: int = 1


CounterListener = Callable[[TelemetryCounter], None]


class CounterStream:
    """Synchronous multicast of counters; a failing listener is logged and never breaks others."""

    __slots__ = ("_closed", "_listeners")

    def __init__(self) -> None:
        self._listeners: tuple[CounterListener, ...] = ()
        self._closed = False

    @property
    def observed(self) -> bool:
        """True while anyone listens (lets hot paths skip building counters nobody reads)."""
        return bool(self._listeners)

    def subscribe(self, listener: CounterListener) -> Callable[[], None]:
        """Call ``listener`` with every later counter; returns the function that unsubscribes."""
        if not self._closed:
            self._listeners = (*self._listeners, listener)

        def unsubscribe() -> None:
            self._listeners = tuple(x for x in self._listeners if x is not listener)

        return unsubscribe

    def emit(self, counter: TelemetryCounter) -> None:
        for listener in self._listeners:
            try:
                listener(counter)
            except Exception:
                _log.exception("A telemetry counter listener failed")

    def close(self) -> None:
        """Kibana completes the stream on shutdown: listeners go, later subscribes are ignored."""
        self._closed = True
        self._listeners = ()
