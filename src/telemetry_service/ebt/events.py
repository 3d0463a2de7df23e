"""The event an analytics client builds and its shippers send (spec 1.3 step 5).

Key order is part of the wire format: ``timestamp, event_type, context, properties, trace``.
JavaScript's ``undefined`` is a missing key, so ``trace`` is absent without a trace provider.
"""

from __future__ import annotations

import datetime as dt
import time
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
    """``Date.toISOString()`` text of a datetime or of a ``time.time()`` float: UTC, 3 fraction
    digits, ``Z`` (spec 1.3 step 1).

    The ``YYYY-MM-DDTHH:MM:SS`` prefix is cached per second, since ``strftime`` costs more than
    the rest of ``report_event`` and events arrive in bursts.
    """

    __slots__ = ("_epoch", "_epoch_prefix", "_prefix", "_second")

    def __init__(self) -> None:
        self._second: tuple[int, int, int, int, int, int] | None = None
        self._prefix = ""
        self._epoch = -1
        self._epoch_prefix = ""

    def __call__(self, now: dt.datetime | float) -> str:
        if isinstance(now, float):
            second = int(now)
            if second != self._epoch:
                self._epoch = second
                self._epoch_prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            return f"{self._epoch_prefix}.{int((now - second) * 1000):03d}Z"
        if now.tzinfo is not dt.UTC and now.utcoffset():
            now = now.astimezone(dt.UTC)
        second_t = (now.year, now.month, now.day, now.hour, now.minute, now.second)
        if second_t != self._second:
            self._second = second_t
            self._prefix = now.strftime("%Y-%m-%dT%H:%M:%S")
        return f"{self._prefix}.{now.microsecond // 1000:03d}Z"
