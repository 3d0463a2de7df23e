"""Property paths and one property's breakdown over sampled events."""

from __future__ import annotations

import orjson

from telemetry_service.receiver.events.properties import property_breakdown, property_paths


def texts(*items: object) -> list[str]:
    return [orjson.dumps(item).decode() for item in items]


def test_leaf_paths_with_their_dominant_kind_most_frequent_first() -> None:
    sample = texts(
        {"a": {"b": 1}, "k": "x", "f": True, "arr": [1], "n": None},
        {"a": {"b": "two"}, "k": "y"},
        {"a": {"b": 3}},
    )
    assert property_paths(sample) == [
        {"path": "a.b", "kind": "number", "count": 3},
        {"path": "k", "kind": "keyword", "count": 2},
        {"path": "f", "kind": "boolean", "count": 1},
    ]


def test_a_keyword_lists_its_top_values() -> None:
    sample = texts(*({"k": v} for v in "aabbbc"), {"k": 1}, {})
    assert property_breakdown(sample, ("k",), top=2) == {
        "kind": "keyword",
        "count": 6,
        "top": [{"value": "b", "count": 3}, {"value": "a", "count": 2}],
    }


def test_a_number_gets_its_statistics() -> None:
    result = property_breakdown(texts(*({"x": {"y": v}} for v in range(101))), ("x", "y"), top=5)
    assert result == {
        "kind": "number", "count": 101, "min": 0.0, "max": 100.0, "avg": 50.0,
        "p50": 50.0, "p90": 90.0, "p99": 99.0,
    }  # fmt: skip


def test_a_boolean_counts_true_and_false_and_nothing_is_none() -> None:
    sample = texts({"f": True}, {"f": False}, {"f": True}, {"f": 1})
    assert property_breakdown(sample, ("f",), top=5) == {
        "kind": "boolean",
        "count": 3,
        "true": 2,
        "false": 1,
    }
    assert property_breakdown(sample, ("missing",), top=5) is None
