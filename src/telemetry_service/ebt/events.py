"""The event an analytics client builds and its shippers send (spec 1.3 step 5).

Key order is part of the wire format: ``timestamp, event_type, context, properties, trace``.
JavaScript's ``undefined`` is a missing key, so ``trace`` is absent without a trace provider.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, NotRequired, TypedDict

__all__ = ["Event", "EventContext", "TimestampFormatter"]

EventContext = Mapping[str, Any]


class Event(TypedDict):
    """``{timestamp, event_type, context, properties, trace?}`` (``ebt:src/client/src/events``)."""

    timestamp: str
    event_type: str
    context: EventContext
    properties: Mapping[str, Any]
    trace: NotRequired[Mapping[str, Any]]


class TimestampFormatter:
    """``Date.toISOString()`` text of a datetime: UTC, 3 fraction digits, ``Z`` (spec 1.3 step 1).

    The ``YYYY-MM-DDTHH:MM:SS`` prefix is cached per second, since ``strftime`` costs more than
    the rest of ``report_event`` and events arrive in bursts.
    """

    __slots__ = ("_prefix", "_second")

    def __init__(self) -> None:
        self._second: tuple[int, int, int, int, int, int] | None = None
        self._prefix = ""

    def __call__(self, now: dt.datetime) -> str:
        if now.tzinfo is not dt.UTC and now.utcoffset():
            now = now.astimezone(dt.UTC)
        second = (now.year, now.month, now.day, now.hour, now.minute, now.second)
        if second != self._second:
            self._second = second
            self._prefix = now.strftime("%Y-%m-%dT%H:%M:%S")
        return f"{self._prefix}.{now.microsecond // 1000:03d}Z"
