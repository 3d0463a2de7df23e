"""Pure helpers of the query API: field paths, date ranges and field distributions."""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

from .clock import DAY_MS, to_ms
from .storage import FieldValue

__all__ = [
    "KINDS",
    "PERCENTILES",
    "DateRange",
    "date_range",
    "distribution",
    "parse_field_path",
    "percentile",
]

PERCENTILES = (50, 75, 90, 95, 99)
KINDS = ("missing", "null", "boolean", "number", "string", "array", "object")
MAX_PATH_CHARS = 512
_FORBIDDEN = frozenset('"\\')


def parse_field_path(text: str) -> tuple[str, ...]:
    """Split a dotted payload path (``stack_stats.kibana.plugins.x``) into object keys.

    Keys may hold any character except ``.``, ``"``, ``\\`` and control characters.
    Raises ValueError with a message for the API.
    """
    if not text or len(text) > MAX_PATH_CHARS:
        raise ValueError(f"field must be a dotted path of 1 to {MAX_PATH_CHARS} characters")
    segments = tuple(text.split("."))
    for segment in segments:
        if not segment:
            raise ValueError("field must not hold empty segments (.. or a leading/trailing .)")
        if any(ch in _FORBIDDEN or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in segment):
            raise ValueError('field segments must not hold ", \\ or control characters')
    return segments


class DateRange:
    """A range of whole UTC days, ``from`` and ``to`` included."""

    def __init__(self, first: dt.date, last: dt.date) -> None:
        self.first, self.last = first, last
        self.from_ms = to_ms(dt.datetime(first.year, first.month, first.day, tzinfo=dt.UTC))
        self.to_ms = to_ms(dt.datetime(last.year, last.month, last.day, tzinfo=dt.UTC)) + DAY_MS

    @property
    def days(self) -> list[int]:
        """The UTC day numbers of the range."""
        return list(range(self.from_ms // DAY_MS, self.to_ms // DAY_MS))


def date_range(
    first: dt.date | None, last: dt.date | None, *, today: dt.date, default_days: int, max_days: int
) -> DateRange:
    """The days from `first` to `last` (defaults: the last `default_days` days up to today).

    Raises ValueError when `last` is before `first` or the range is longer than `max_days`.
    """
    last = last or today
    first = first or last - dt.timedelta(days=default_days - 1)
    if last < first:
        raise ValueError("to must not be before from")
    if (last - first).days + 1 > max_days:
        raise ValueError(f"the range must not exceed {max_days} days")
    return DateRange(first, last)


def percentile(ordered: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) of sorted values, with linear interpolation."""
    if not ordered:
        raise ValueError("no values")
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def distribution(values: Sequence[FieldValue], *, size: int) -> dict[str, Any]:
    """Counts by JSON kind, plus top `size` keywords, boolean counts and number statistics."""
    kinds = dict.fromkeys(KINDS, 0)
    strings: Counter[str] = Counter()
    booleans = {"true": 0, "false": 0}
    numbers: list[float] = []
    for item in values:
        kinds[item.kind] += 1
        if item.kind == "string":
            strings[str(item.value)] += 1
        elif item.kind == "boolean":
            booleans["true" if item.value else "false"] += 1
        elif item.kind == "number" and isinstance(item.value, float) and math.isfinite(item.value):
            numbers.append(item.value)
    result: dict[str, Any] = {"clusters": len(values), "kinds": kinds}
    if strings:
        top = sorted(strings.items(), key=lambda pair: (-pair[1], pair[0]))
        result["keyword"] = {
            "buckets": [{"value": v, "count": c} for v, c in top[:size]],
            "other": sum(c for _, c in top[size:]),
        }
    if kinds["boolean"]:
        result["boolean"] = booleans
    if numbers:
        numbers.sort()
        result["number"] = {
            "count": len(numbers),
            "min": numbers[0],
            "max": numbers[-1],
            "avg": math.fsum(numbers) / len(numbers),
            "percentiles": {str(q): percentile(numbers, q) for q in PERCENTILES},
        }
    return result
