"""The API's pure analysis of stored values: field paths, date ranges, field distributions,
the leaf paths of payloads and a field's trend over days (from the ``field_days`` aggregate)."""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, get_args

from telemetry_service.common.clock import DAY_MS, iso_date, to_ms

from .storage import FieldKind, FieldValue
from .storage.queries.field_days import MAX_PATH_CHARS
from .storage.queries.field_days import NOT_IN_SEGMENT as _NOT_IN_SEGMENT
from .storage.queries.field_trend import TrendParts
from .storage.sql import json_kind

__all__ = [
    "KINDS",
    "PERCENTILES",
    "TREND_PERCENTILES",
    "DateRange",
    "LeafFields",
    "date_range",
    "distribution",
    "field_trend",
    "leaf_fields",
    "parse_field_path",
    "percentile",
]

PERCENTILES = (50, 75, 90, 95, 99)
TREND_PERCENTILES = (50, 90)
KINDS: tuple[str, ...] = get_args(FieldKind)


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
        if _NOT_IN_SEGMENT.search(segment):
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


def _tally(
    values: Iterable[FieldValue],
) -> tuple[dict[str, int], Counter[str], dict[str, int], list[float]]:
    """Counts by JSON kind, of each keyword and of each boolean; the finite numbers."""
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
    return kinds, strings, booleans, numbers


def distribution(values: Sequence[FieldValue], *, size: int) -> dict[str, Any]:
    """Counts by JSON kind, plus top `size` keywords, boolean counts and number statistics."""
    kinds, strings, booleans, numbers = _tally(values)
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
        result["number"] = _number_summary(numbers, PERCENTILES)
    return result


class LeafFields:
    """The dotted paths of the leaves (scalars, arrays) of payloads added one at a time, each
    with the number of payloads that hold it and the JSON kinds seen there; at most
    `max_fields` paths (:attr:`truncated` says when more were found). Keys that a dotted path
    cannot name (``.``, ``"``, ``\\``, control characters) are skipped with what is under
    them. Its memory is bounded by `max_fields`, whatever the payloads hold."""

    #: Keys whose check is remembered (they repeat in every payload).
    KEY_CACHE = 10_000

    def __init__(self, *, max_fields: int) -> None:
        self.max_fields = max_fields
        self.truncated = False
        self._found: dict[str, Counter[str]] = {}
        self._addressable: dict[str, bool] = {}

    def add(self, payload: Mapping[str, Any]) -> None:
        found, addressable = self._found, self._addressable
        stack: list[tuple[str, Mapping[str, Any]]] = [("", payload)]
        while stack:
            prefix, node = stack.pop()
            for key, value in node.items():
                ok = addressable.get(key)
                if ok is None:
                    ok = bool(key) and not _NOT_IN_SEGMENT.search(key)
                    if len(addressable) < self.KEY_CACHE:
                        addressable[key] = ok
                if not ok:
                    continue
                path = prefix + key
                if isinstance(value, dict):
                    if value:
                        stack.append((path + ".", value))
                    continue
                kinds = found.get(path)
                if kinds is None:
                    if len(found) >= self.max_fields:
                        self.truncated = True
                        continue
                    kinds = found[path] = Counter()
                kinds[json_kind(value)] += 1

    def fields(self) -> list[dict[str, Any]]:
        """The paths found, sorted, with their payload counts and kinds."""
        return [
            {"path": path, "count": sum(kinds.values()), "kinds": dict(sorted(kinds.items()))}
            for path, kinds in sorted(self._found.items())
        ]


def leaf_fields(
    payloads: Iterable[Mapping[str, Any]], *, max_fields: int
) -> tuple[list[dict[str, Any]], bool]:
    """:class:`LeafFields` of `payloads`: the fields and whether the list was truncated."""
    leaves = LeafFields(max_fields=max_fields)
    for payload in payloads:
        leaves.add(payload)
    return leaves.fields(), leaves.truncated


def _number_summary(numbers: list[float], percentiles: Sequence[int]) -> dict[str, Any] | None:
    if not numbers:
        return None
    numbers.sort()
    return {
        "count": len(numbers),
        "min": numbers[0],
        "max": numbers[-1],
        "avg": math.fsum(numbers) / len(numbers),
        "percentiles": {str(q): percentile(numbers, q) for q in percentiles},
    }


def _weighted_summary(
    numbers: list[tuple[float, int]], percentiles: Sequence[int]
) -> dict[str, Any] | None:
    """:func:`_number_summary` of values given with their counts, to the same bits."""
    if not numbers:
        return None
    numbers.sort()
    count = sum(c for _, c in numbers)
    # v * 2**k is exact: the sum of a value's powers of two is its exact multiple.
    parts = [v * (1 << k) for v, c in numbers for k in range(c.bit_length()) if c >> k & 1]
    ends = list(itertools.accumulate(c for _, c in numbers))

    def at(ordinal: int) -> float:
        return numbers[bisect.bisect_right(ends, ordinal)][0]

    def rank_value(q: int) -> float:
        rank = (count - 1) * q / 100
        low = math.floor(rank)
        low_value, high_value = at(low), at(min(low + 1, count - 1))
        return low_value + (high_value - low_value) * (rank - low)

    return {
        "count": count,
        "min": numbers[0][0],
        "max": numbers[-1][0],
        "avg": math.fsum(parts) / count,
        "percentiles": {str(q): rank_value(q) for q in percentiles},
    }


def field_trend(days: Sequence[int], parts: TrendParts) -> dict[str, Any]:
    """A field per UTC day over every snapshot of each day, from the ``field_days``
    aggregate's `parts` (``storage/queries/field_trend.py``).

    The most frequent keywords of the whole range are ``keywords``; each day counts them in
    the same order (``keyword.counts``) plus the ``other`` keywords. Booleans are counted per
    day, numbers summarized (count, min, max, avg, the 50th and 90th percentiles). Each day
    also counts its values by JSON kind (``missing``: the snapshots without the field).
    ``sampled`` is ``reports`` unless the wide snapshots read were bounded
    (``limits.trendWideSnapshots``): then the snapshots actually counted.
    """
    any_string = any(kinds.get("string") for kinds in parts.kinds.values())
    any_boolean = any(kinds.get("boolean") for kinds in parts.kinds.values())
    result = []
    for day in days:
        reports = parts.reports.get(day, 0)
        sampled = reports - parts.skipped.get(day, 0)
        kinds = dict.fromkeys(KINDS, 0) | parts.kinds.get(day, {})
        kinds["missing"] = sampled - sum(kinds.values())
        found = parts.keyword_counts.get(day, {})
        counts = [found.get(value, 0) for value in parts.keywords]
        result.append(
            {
                "date": iso_date(day),
                "reports": reports,
                "sampled": sampled,
                "kinds": kinds,
                "keyword": {"counts": counts, "other": kinds["string"] - sum(counts)}
                if any_string
                else None,
                "boolean": parts.booleans.get(day, {"true": 0, "false": 0})
                if any_boolean
                else None,
                "number": _weighted_summary(parts.numbers.get(day, []), TREND_PERCENTILES),
            }
        )
    return {"keywords": parts.keywords, "days": result}
