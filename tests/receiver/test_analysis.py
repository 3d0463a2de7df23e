"""Pure helpers of the query API."""

from __future__ import annotations

import datetime as dt

import pytest

from telemetry_service.receiver.analysis import (
    date_range,
    distribution,
    parse_field_path,
    percentile,
)
from telemetry_service.receiver.storage import FieldValue


def test_percentiles_interpolate_linearly() -> None:
    values = [1.0, 2.0, 3.0, 4.0]
    assert percentile(values, 0) == 1
    assert percentile(values, 50) == 2.5
    assert percentile(values, 100) == 4
    assert percentile([7.0], 99) == 7
    with pytest.raises(ValueError):
        percentile([], 50)


def test_distribution_of_mixed_kinds() -> None:
    values = [
        FieldValue("number", 1.0),
        FieldValue("number", 3.0),
        FieldValue("number", float("inf")),
        FieldValue("string", "b"),
        FieldValue("string", "a"),
        FieldValue("string", "b"),
        FieldValue("boolean", True),
        FieldValue("missing", None),
        FieldValue("null", None),
    ]
    result = distribution(values, size=1)
    assert result["clusters"] == 9
    assert result["kinds"] == {
        "missing": 1, "null": 1, "boolean": 1, "number": 3, "string": 3, "array": 0, "object": 0,
    }  # fmt: skip
    assert result["keyword"] == {"buckets": [{"value": "b", "count": 2}], "other": 1}
    assert result["boolean"] == {"true": 1, "false": 0}
    assert result["number"]["count"] == 2  # infinity is not a statistic
    assert result["number"]["avg"] == 2
    assert set(result["number"]["percentiles"]) == {"50", "75", "90", "95", "99"}


def test_empty_distribution() -> None:
    assert distribution([], size=5) == {
        "clusters": 0,
        "kinds": dict.fromkeys(
            ["missing", "null", "boolean", "number", "string", "array", "object"], 0
        ),
    }


def test_field_paths() -> None:
    assert parse_field_path("stack_stats.kibana.plugins.x-y:z") == (
        "stack_stats", "kibana", "plugins", "x-y:z",
    )  # fmt: skip
    assert parse_field_path("日本.ü") == ("日本", "ü")
    for bad in ("", "a.", "a..b", 'a"b', "a\\b", "a\tb", "x" * 513):
        with pytest.raises(ValueError):
            parse_field_path(bad)


def test_date_ranges() -> None:
    today = dt.date(2026, 3, 15)
    span = date_range(None, None, today=today, default_days=7, max_days=30)
    assert (span.first, span.last) == (dt.date(2026, 3, 9), today)
    assert len(span.days) == 7
    assert span.to_ms - span.from_ms == 7 * 86_400_000
    with pytest.raises(ValueError, match="before"):
        date_range(today, dt.date(2026, 3, 1), today=today, default_days=7, max_days=30)
    with pytest.raises(ValueError, match="exceed"):
        date_range(dt.date(2020, 1, 1), None, today=today, default_days=7, max_days=30)
    with pytest.raises(OverflowError):
        date_range(None, dt.date.min, today=today, default_days=7, max_days=30)
