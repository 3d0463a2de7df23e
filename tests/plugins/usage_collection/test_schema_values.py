"""Checking a collector's output against its schema: `validate_value` and `prune_value`."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from telemetry_service.plugins.usage_collection.schema import (
    DYNAMIC_KEY,
    INTEGER_RANGES,
    LEAF_TYPES,
    validate_schema,
)
from telemetry_service.plugins.usage_collection.schema_values import (
    SchemaViolation,
    prune_value,
    validate_value,
)


def messages(schema: Any, value: object) -> list[str]:
    return [str(v) for v in validate_value(schema, value)]


@pytest.mark.parametrize("kind", sorted(INTEGER_RANGES))
def test_integer_types_check_their_range(kind: str) -> None:
    low, high = INTEGER_RANGES[kind]
    schema = {"n": {"type": kind}}
    assert validate_value(schema, {"n": low}) == []
    assert validate_value(schema, {"n": high}) == []
    assert validate_value(schema, {"n": 7.0}) == []  # an integral float is an integer
    for bad in (low - 1, high + 1):
        assert messages(schema, {"n": bad}) == [f"n: value out of range for {kind} ({low}..{high})"]


def test_integer_ranges_are_the_elasticsearch_widths() -> None:
    assert INTEGER_RANGES["long"] == (-(2**63), 2**63 - 1)
    assert INTEGER_RANGES["integer"] == (-(2**31), 2**31 - 1)
    assert INTEGER_RANGES["short"] == (-32768, 32767)
    assert INTEGER_RANGES["byte"] == (-128, 127)


@pytest.mark.parametrize("bad", [True, False, "1", 1.5, [1], {"a": 1}])
def test_integers_reject_bools_strings_and_fractions(bad: object) -> None:
    found = validate_value({"n": {"type": "long"}}, {"n": bad})
    assert len(found) == 1
    assert found[0].path == "n"
    assert found[0].message.startswith("expected long (an integer), got")


def test_floating_point_types() -> None:
    for kind in ("double", "float"):
        schema = {"x": {"type": kind}}
        assert validate_value(schema, {"x": 1.25}) == []
        assert validate_value(schema, {"x": 3}) == []
        assert messages(schema, {"x": True}) == [f"x: expected {kind} (a number), got bool"]
        assert messages(schema, {"x": "1.0"}) == [f"x: expected {kind} (a number), got str"]
        assert messages(schema, {"x": float("nan")}) == [f"x: expected a finite {kind}"]
        assert messages(schema, {"x": float("inf")}) == [f"x: expected a finite {kind}"]
    assert validate_value({"x": {"type": "double"}}, {"x": 1e300}) == []
    assert messages({"x": {"type": "float"}}, {"x": 1e300}) == [
        "x: value out of range for float (32-bit)"
    ]


def test_strings_booleans_and_dates() -> None:
    schema = {
        "k": {"type": "keyword"},
        "t": {"type": "text"},
        "b": {"type": "boolean"},
        "d": {"type": "date"},
    }
    good = {"k": "a", "t": "long text", "b": False, "d": "2024-06-28T10:00:00Z"}
    assert validate_value(schema, good) == []
    for d in ("2024-06-28", "2024-06-28T10:00:00.123+02:00", datetime.now(UTC), date.today()):
        assert validate_value(schema, {"d": d}) == []
    assert validate_value(schema, {"d": 1719568800000}) == []  # epoch millis (spec 7.2)
    assert messages(schema, {"k": 1, "t": None, "b": 1, "d": "yesterday"}) == [
        "k: expected keyword (a string), got int",
        "b: expected boolean, got int",
        "d: expected an ISO-8601 date string",
    ]
    assert messages(schema, {"d": [2024]}) == ["d: expected date (an ISO-8601 string), got list"]


def test_nested_objects_and_arrays_report_full_paths() -> None:
    schema = {
        "os": {"platforms": {"type": "array", "items": {"name": {"type": "keyword"}}}},
        "tags": {"type": "array", "items": {"type": "keyword"}},
    }
    value = {
        "os": {"platforms": [{"name": "linux"}, {"name": 3}, {"name": "mac", "extra": 1}]},
        "tags": ["a", 2, None],
    }
    assert messages(schema, value) == [
        "os.platforms[1].name: expected keyword (a string), got int",
        "os.platforms[2].extra: field is not declared in the schema",
        "tags[1]: expected keyword (a string), got int",
    ]
    assert messages(schema, {"os": "linux"}) == ["os: expected an object, got str"]
    assert messages(schema, {"tags": "a"}) == ["tags: expected an array, got str"]
    assert messages(schema, ["x"]) == ["<root>: expected an object, got list"]


def test_undeclared_fields_are_violations_at_any_depth() -> None:
    schema = {"a": {"b": {"type": "long"}}}
    assert messages(schema, {"a": {"b": 1}, "secret": "x"}) == [
        "secret: field is not declared in the schema"
    ]
    assert messages(schema, {"a": {"b": 1, "c": 2}}) == ["a.c: field is not declared in the schema"]
    assert messages(schema, {"_meta": {}}) == ["_meta: field is not declared in the schema"]
    described = {"_meta": {"description": "not a field"}, "b": {"type": "long"}}
    assert messages(described, {"_meta": 1}) == ["_meta: field is not declared in the schema"]
    assert messages(schema, {1: 2}) == ["<root>: field names must be strings, got int"]


def test_a_meta_data_field_is_checked_like_any_field() -> None:
    """Kibana: src/plugins/usage_collection/server/collector/types.ts, ``MakeSchemaFrom<Base>``."""
    schema = {"_meta": {"type": "keyword"}, "n": {"type": "long"}}
    assert validate_value(schema, {"_meta": "x", "n": 1}) == []
    assert messages(schema, {"_meta": 3}) == ["_meta: expected keyword (a string), got int"]


def test_prune_keeps_what_matches_and_drops_each_violation() -> None:
    schema = {
        "n": {"type": "long"},
        "tags": {"type": "array", "items": {"type": "keyword"}},
        "os": {"name": {"type": "keyword"}},
    }
    value = {"n": 1, "tags": ["a", 2, "b"], "os": {"name": "linux", "kernel": "6"}, "x": 1}
    kept, found = prune_value(schema, value)
    assert kept == {"n": 1, "tags": ["a", "b"], "os": {"name": "linux"}}
    assert [v.path for v in found] == ["tags[1]", "os.kernel", "x"]
    assert value["tags"] == ["a", 2, "b"]  # the input is not modified
    good = {"n": 1, "tags": ["a"], "os": {"name": "linux"}}
    assert prune_value(schema, good) == (good, [])
    assert prune_value(schema, good)[0] is good  # nothing copied when it all matches
    assert prune_value(schema, "text") == (
        None,
        [SchemaViolation("", "expected an object, got str")],
    )


def test_prune_drops_every_violation_beyond_the_listed_limit() -> None:
    value = {f"f{i}": i for i in range(300)} | {"ok": 1}
    kept, found = prune_value({"ok": {"type": "long"}}, value, limit=5)
    assert kept == {"ok": 1}
    assert len(found) == 5


def test_missing_and_null_fields_are_allowed() -> None:
    schema = {
        "a": {"type": "long"},
        "b": {"c": {"type": "keyword"}},
        "d": {"type": "array", "items": {"type": "long"}},
    }
    assert validate_value(schema, {}) == []
    assert validate_value(schema, {"a": None, "b": None, "d": None}) == []
    assert validate_value(schema, {"b": {}}) == []
    assert validate_value(schema, None) == []


def test_pass_through_takes_any_object_but_only_objects() -> None:
    schema = {"cfg": {"type": "pass_through", "_meta": {"description": "settings"}}}
    assert validate_value(schema, {"cfg": {"anything": {"nested": [1, "x"]}}}) == []
    assert messages(schema, {"cfg": [1]}) == ["cfg: expected an object, got list"]


def test_dynamic_key_describes_every_key_of_a_map() -> None:
    schema = {"apps": {DYNAMIC_KEY: {"clicks": {"type": "long"}}, "total": {"type": "long"}}}
    value = {"apps": {"total": 3, "discover": {"clicks": 1}, "dashboards": {"clicks": "x"}}}
    assert messages(schema, value) == [
        "apps.dashboards.clicks: expected long (an integer), got str"
    ]


def test_violation_messages_never_quote_the_value() -> None:
    schema = {"k": {"type": "long"}, "d": {"type": "date"}, "n": {"type": "byte"}}
    found = validate_value(schema, {"k": "user@example.com", "d": "s3cret-date", "n": 99999})
    assert len(found) == 3
    text = " ".join(str(v) for v in found)
    assert "user@example.com" not in text
    assert "s3cret" not in text
    assert "99999" not in text


def test_long_undeclared_keys_are_truncated_in_paths() -> None:
    key = "k" * 500
    (violation,) = validate_value({}, {key: 1})
    assert violation.path == "k" * 64 + "..."


def test_the_violation_limit_bounds_the_list() -> None:
    value = {f"f{i}": i for i in range(1000)}
    assert len(validate_value({}, value)) == 100
    assert len(validate_value({}, value, limit=5)) == 5


def test_schema_violation_str() -> None:
    assert str(SchemaViolation("a.b", "bad")) == "a.b: bad"
    assert str(SchemaViolation("", "bad")) == "<root>: bad"


_leaf = st.sampled_from(sorted(LEAF_TYPES)).map(lambda t: {"type": t})
_schemas = st.recursive(
    _leaf,
    lambda children: st.one_of(
        st.dictionaries(st.from_regex(r"[a-z_]{1,8}", fullmatch=True), children, max_size=4),
        children.map(lambda c: {"type": "array", "items": c}),
    ),
    max_leaves=12,
)
_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=10,
)


@given(schema=_schemas, value=_values)
def test_validate_value_never_raises_on_any_input(schema: Any, value: object) -> None:
    validate_schema(schema, collector_type="generated")
    for violation in validate_value(schema, value):
        assert isinstance(violation, SchemaViolation)
    kept, found = prune_value(schema, value, limit=10_000)
    assert validate_value(schema, kept) == []  # what is kept always matches
    assert (kept is value) == (not found) or value is None
