"""The schema language's validator, ported from ebt's schema_to_io_ts / validate_schema /
excess tests and kbn-ebt-tools' performance_metric helpers test (spec section 6)."""

from __future__ import annotations

from typing import Any

import pytest

from telemetry_service.ebt import DYNAMIC_KEY, SchemaError, compile_schema


def leaf(kind: str, optional: bool = False) -> dict[str, Any]:
    return {"type": kind, "_meta": {"description": "d", "optional": optional}}


PERFORMANCE_METRIC = {
    "eventName": leaf("keyword"),
    "duration": leaf("integer"),
    "meta": {"type": "pass_through", "_meta": {"description": "m", "optional": True}},
    **{f"key{i}": leaf("keyword", optional=True) for i in range(1, 10)},
    **{f"value{i}": leaf("long", optional=True) for i in range(1, 10)},
}


def test_performance_metric_empty_payload_lists_two_problems() -> None:
    problems = compile_schema(PERFORMANCE_METRIC, "Event Type 'x'").problems({})
    assert problems == [
        ("eventName", '{"expected":"string","actual":"undefined","value":"undefined"}'),
        ("duration", '{"expected":"number","actual":"undefined","value":"undefined"}'),
    ]


def test_performance_metric_excess_key() -> None:
    validator = compile_schema(PERFORMANCE_METRIC, "Event Type 'x'")
    payload = {"eventName": "e", "duration": 1, "an_unknown_field": 1}
    assert validator.problems(payload) == [("", "excess key 'an_unknown_field' found")]
    assert validator.problems({"eventName": "e", "duration": 1, "meta": None}) == []


@pytest.mark.parametrize(
    ("kind", "good", "bad"),
    [
        ("keyword", "x", 1),
        ("text", "x", None),
        ("date", "2020-01-01", 1577836800000),  # the validator accepts only strings for date
        ("long", 1, True),  # bool is never a number
        ("double", 1.5, "1.5"),
        ("boolean", False, 0),
    ],
)
def test_leaf_types(kind: str, good: Any, bad: Any) -> None:
    validator = compile_schema({"f": leaf(kind)}, "s")
    assert validator.problems({"f": good}) == []
    assert validator.problems({"f": bad})[0][0] == "f"


def test_optional_objects_and_arrays() -> None:
    schema = {
        "obj": {"properties": {"x": leaf("long")}, "_meta": {"optional": True}},
        "arr": {"type": "array", "items": leaf("keyword")},
    }
    validator = compile_schema(schema, "s")
    assert validator.problems({"arr": []}) == []
    assert validator.problems({"obj": {"x": 1}, "arr": ["a", 2]}) == [
        ("arr.1", '{"expected":"string","actual":"number","value":2}')
    ]
    assert validator.problems({"obj": {"x": 1}})[0][0] == "arr"


def test_excess_key_reported_only_after_nested_checks_pass() -> None:
    validator = compile_schema({"a": leaf("keyword")}, "s")
    assert validator.problems({"a": 1, "b": 2}) == [
        ("a", '{"expected":"string","actual":"number","value":1}')
    ]
    assert validator.problems({"a": "x", "b": 2}) == [("", "excess key 'b' found")]


def test_dynamic_key_alone_and_with_known_props() -> None:
    only = compile_schema({"m": {"properties": {DYNAMIC_KEY: leaf("long")}}}, "s")
    assert only.problems({"m": {"anything": 1, "else": 2}}) == []
    assert only.problems({"m": {"x": "no"}}) != []
    both = compile_schema(
        {"m": {"properties": {DYNAMIC_KEY: leaf("long"), "known": leaf("keyword")}}}, "s"
    )
    assert both.problems({"m": {"known": "k"}}) == []  # the known-keys object
    assert both.problems({"m": {"a": 1, "b": 2}}) == []  # or a map of numbers
    assert both.problems({"m": {"known": "k", "a": 1}}) != []  # a union, not a merge


def test_validate_raises_kibanas_message() -> None:
    validator = compile_schema({"a_field": leaf("keyword")}, "Event Type 'e'")
    with pytest.raises(ValueError) as info:
        validator.validate({"a_field": 100})
    assert str(info.value) == (
        "Failed to validate payload coming from \"Event Type 'e'\":\n"
        '\t- [a_field]: {"expected":"string","actual":"number","value":100}'
    )


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"a": {"type": "nope"}}, "Malformed schema for key [a]: Unsupported schema type nope."),
        (
            {"a": {"properties": {"b": {"type": "array"}}}},
            'Malformed schema for key [a.b]: Schema type must include the "items" declaration.',
        ),
        ({"a": None}, "Malformed schema for key [a]"),
    ],
)
def test_malformed_schemas(schema: Any, message: str) -> None:
    with pytest.raises(SchemaError) as info:
        compile_schema(schema, "s")
    assert str(info.value).startswith(message)


def test_null_schema_raises() -> None:
    schema: Any = None
    with pytest.raises(SchemaError):
        compile_schema(schema, "s")
