from __future__ import annotations

import pytest

from telemetry_service.plugins.usage_collection.field_names import (
    snake_case,
    to_api_field_name,
    to_api_field_names,
)


def test_kibana_example_snake_cases_and_renames_units() -> None:
    """`collector_set.test.ts`: 'should snake_case and convert field names to api standards'."""
    api_data = {
        "os": {
            "load": {"15m": 2.3525390625, "1m": 2.22412109375, "5m": 2.4462890625},
            "memory": {
                "free_in_bytes": 458280960,
                "total_in_bytes": 17179869184,
                "used_in_bytes": 16721588224,
            },
            "uptime_in_millis": 137844000,
        },
        "process": {
            "heap": {"total_in_bytes": 1, "used_in_bytes": 2, "size_limit": 3},
            "resident_set_size_in_bytes": 4,
            "array_buffers_in_bytes": 5,
            "external_in_bytes": 6,
        },
        "daysOfTheWeek": ["monday", "tuesday", "wednesday"],
    }
    assert to_api_field_names(api_data) == {
        "os": {
            "load": {"15m": 2.3525390625, "1m": 2.22412109375, "5m": 2.4462890625},
            "memory": {
                "free_bytes": 458280960,
                "total_bytes": 17179869184,
                "used_bytes": 16721588224,
            },
            "uptime_ms": 137844000,
        },
        "process": {
            "heap": {"total_bytes": 1, "used_bytes": 2, "size_limit": 3},
            "resident_set_size_bytes": 4,
            "array_buffers_bytes": 5,
            "external_bytes": 6,
        },
        "days_of_the_week": ["monday", "tuesday", "wednesday"],
    }


def test_kibana_example_object_keys_inside_arrays() -> None:
    """`collector_set.test.ts`: 'should correct object key fields nested in arrays'."""
    api_data = {
        "daysOfTheWeek": [
            {"dayName": "monday", "dayIndex": 1},
            {"dayName": "tuesday", "dayIndex": 2},
            {"dayName": "wednesday", "dayIndex": 3},
        ]
    }
    assert to_api_field_names(api_data) == {
        "days_of_the_week": [
            {"day_index": 1, "day_name": "monday"},
            {"day_index": 2, "day_name": "tuesday"},
            {"day_index": 3, "day_name": "wednesday"},
        ]
    }


def test_collection_interval_becomes_ms() -> None:
    """Spec 5.3: `collection_interval_in_millis` -> `collection_interval_ms`."""
    assert to_api_field_name("collection_interval_in_millis") == "collection_interval_ms"


def test_only_the_first_unit_suffix_is_renamed_like_javascript_replace() -> None:
    assert to_api_field_name("a_in_bytes_b_in_bytes") == "a_bytes_b_in_bytes"
    assert to_api_field_name("x_in_millis_in_millis") == "x_ms_in_millis"


def test_load_averages_lose_the_underscore_only_at_the_start() -> None:
    assert to_api_field_name("15m") == "15m"
    assert to_api_field_name("load_15m") == "load_15_m"  # lodash output, no fix applied
    assert to_api_field_name("10m") == "10_m"


# Expected values produced by lodash 4.17.21 `_.snakeCase` (node), so the port is exact.
LODASH_SNAKE_CASE = [
    ("daysOfTheWeek", "days_of_the_week"),
    ("15m", "15_m"),
    ("XMLHttpRequest", "xml_http_request"),
    ("__FOO_BAR__", "foo_bar"),
    ("Foo Bar", "foo_bar"),
    ("version2", "version_2"),
    ("abc123def", "abc_123_def"),
    ("1st", "1st"),
    ("21stCentury", "21st_century"),
    ("4thOfJuly", "4th_of_july"),
    ("3DModel", "3_d_model"),
    ("totalKB", "total_kb"),
    ("myURLValue", "my_url_value"),
    ("ABCdef", "ab_cdef"),
    ("kibana.index", "kibana_index"),
    ("apm-ui", "apm_ui"),
    ("_meta", "meta"),
    ("don't stop", "dont_stop"),
    ("foo\u2019s", "foos"),
    ("h\u00e9llo w\u00f6rld", "hello_world"),
    ("\u00c6sop", "aesop"),
    ("Stra\u00dfe", "strasse"),
    ("\u0153uvre", "oeuvre"),
    ("\u00d7\u00f7", ""),
    ("CPU%usage", "cpu_usage"),
    ("", ""),
    ("  ", ""),
]


@pytest.mark.parametrize(("key", "expected"), LODASH_SNAKE_CASE)
def test_snake_case_matches_lodash(key: str, expected: str) -> None:
    assert snake_case(key) == expected


def test_values_and_non_string_keys_are_left_alone() -> None:
    assert to_api_field_names("camelCase") == "camelCase"
    assert to_api_field_names(3) == 3
    assert to_api_field_names(None) is None
    assert to_api_field_names({1: {"aB": 1}}) == {1: {"a_b": 1}}
    assert to_api_field_names(({"aB": 1},)) == [{"a_b": 1}]
    assert to_api_field_names([[{"fooBar": [{"bazQux": 1}]}]]) == [[{"foo_bar": [{"baz_qux": 1}]}]]


def test_input_is_not_mutated() -> None:
    data = {"fooBar": {"bazQux": [1, 2]}}
    to_api_field_names(data)
    assert data == {"fooBar": {"bazQux": [1, 2]}}
