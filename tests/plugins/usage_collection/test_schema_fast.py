"""`matches_steps`: True only when `prune_value` keeps everything; True for common outputs."""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Generator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from telemetry_service.plugins.usage_collection.schema_fast import CHUNK, matches_steps
from telemetry_service.plugins.usage_collection.schema_values import prune_value

SCHEMA: dict[str, Any] = {
    "_meta": {"description": "an object's description, not a field"},
    "count": {"type": "long"},
    "small": {"type": "byte"},
    "ratio": {"type": "float"},
    "wide": {"type": "double"},
    "name": {"type": "keyword"},
    "on": {"type": "boolean"},
    "extra": {"type": "pass_through", "_meta": {"description": "free"}},
    "items": {
        "type": "array",
        "items": {"n": {"type": "integer"}, "tags": {"type": "array", "items": {"type": "text"}}},
    },
    "nested": {"inner": {"type": "short"}},
}


def run_steps(steps: Generator[None, None, Any]) -> tuple[Any, int]:
    """Run a check's steps to the end: (its result, how many times it yielded)."""
    yields = 0
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value, yields
        yields += 1


def matches(schema: Any, value: object) -> bool:
    return bool(run_steps(matches_steps(schema, value))[0])


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=3),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from([*SCHEMA, "n", "tags", "inner", "other"]), inner),
    ),
    max_leaves=30,
)
fitting = st.fixed_dictionaries(
    {},
    optional={
        "count": st.integers(min_value=-(2**63), max_value=2**63 - 1),
        "small": st.integers(min_value=-128, max_value=127),
        "ratio": st.floats(min_value=-1e30, max_value=1e30),
        "name": st.text(max_size=3),
        "on": st.booleans(),
        "items": st.lists(
            st.fixed_dictionaries({"n": st.integers(-5, 5)}, optional={"tags": st.lists(st.text())})
        ),
        "nested": st.fixed_dictionaries({"inner": st.integers(-100, 100)}),
    },
)


@settings(max_examples=400)
@given(st.one_of(values, fitting, st.dictionaries(st.sampled_from(list(SCHEMA)), values)))
def test_a_match_is_an_output_the_full_check_keeps_whole(value: object) -> None:
    if matches(SCHEMA, value):
        kept, violations = prune_value(SCHEMA, value)
        assert violations == []
        assert kept is value


@settings(max_examples=200)
@given(fitting)
def test_outputs_of_plain_types_that_fit_are_matches(value: dict[str, Any]) -> None:
    assert matches(SCHEMA, value)


def test_a_large_output_matches_in_chunks() -> None:
    value = {"items": [{"n": i % 100, "tags": ["a", "b"]} for i in range(3 * CHUNK)]}
    result, yields = run_steps(matches_steps(SCHEMA, value))
    assert result is True
    assert yields > 3


@pytest.mark.parametrize(
    "value",
    [
        {"count": True},
        {"small": 128},
        {"ratio": math.inf},
        {"ratio": 1e39},
        {"wide": math.nan},
        {"ratio": 10**400},
        {"name": 3},
        {"undeclared": 1},
        {"_meta": {"description": "x"}},
        {1: 2},
        {"items": [{"n": 1}, {"n": "1"}]},
        {"items": [{"tags": [1]}]},
        {"extra": [1]},
        {"nested": OrderedDict(inner=1)},  # not a dict: the full check decides
        {"count": 1.0},  # an integral float: the full check decides
        [],
    ],
)
def test_not_sure_or_wrong_is_no_match(value: object) -> None:
    assert not matches(SCHEMA, value)


def test_dates_and_dynamic_keys_go_to_the_full_check() -> None:
    assert not matches({"when": {"type": "date"}}, {"when": "2026-01-01"})
    assert not matches({"DYNAMIC_KEY": {"type": "long"}}, {"a": 1})
    assert matches({"when": {"type": "date"}}, {"when": None})
