"""Time for both servers: an injectable clock, UTC epoch milliseconds and their text forms.

Stores keep epoch milliseconds; pages and the wire show `Date.toISOString()` text.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

__all__ = [
    "DAY_MS",
    "Clock",
    "from_ms",
    "iso_date",
    "iso_ms",
    "parse_timestamp",
    "to_ms",
    "utc_now",
]

Clock = Callable[[], dt.datetime]
DAY_MS = 86_400_000
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def utc_now() -> dt.datetime:
    """The current time, timezone-aware in UTC."""
    return dt.datetime.now(dt.UTC)


def to_ms(value: dt.datetime) -> int:
    """Epoch milliseconds of an aware (or UTC-naive) datetime."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return (value - _EPOCH) // dt.timedelta(milliseconds=1)


def from_ms(ms: int) -> dt.datetime:
    """The UTC datetime of epoch milliseconds."""
    return _EPOCH + dt.timedelta(milliseconds=ms)


def iso_ms(ms: int) -> str:
    """JavaScript's ``Date.toISOString()`` form: ``2024-05-01T12:00:00.000Z``."""
    return from_ms(ms).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def iso_date(day: int) -> str:
    """``YYYY-MM-DD`` of a UTC day number."""
    return (_EPOCH + dt.timedelta(days=day)).date().isoformat()


def parse_timestamp(text: str) -> int | None:
    """Epoch ms of an ISO-8601 date-time (``Date.toISOString()`` and friends), else None.

    A value without an offset is read as UTC, as JavaScript reads date-only strings.
    """
    if not 10 <= len(text) <= 40:
        return None
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    try:
        return to_ms(value)
    except OverflowError:  # pragma: no cover - fromisoformat bounds the year to 1..9999
        return None
