from __future__ import annotations

import json
import math
import random
import re
import struct
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from telemetry_service.wire import compact_json, jsonc
from telemetry_service.wire.js_json import write_js
from telemetry_service.wire.jsonc import js_number

# Expected strings are what node 20's JSON.stringify printed for the same values.
NUMBER_VECTORS = [
    (1.0, "1"),
    (-1.0, "-1"),
    (0.0, "0"),
    (-0.0, "0"),
    (0.5, "0.5"),
    (0.1 + 0.2, "0.30000000000000004"),
    (1e16, "10000000000000000"),
    (1e21, "1e+21"),
    (1.5e300, "1.5e+300"),
    (123456789012345680000.0, "123456789012345680000"),
    (1e-6, "0.000001"),
    (1e-7, "1e-7"),
    (123e-20, "1.23e-18"),
    (5e-324, "5e-324"),
    (1.7976931348623157e308, "1.7976931348623157e+308"),
    (-2.5e-8, "-2.5e-8"),
    (100.0, "100"),
    (0.001, "0.001"),
    (float("nan"), "null"),
    (float("inf"), "null"),
    (float("-inf"), "null"),
]


@pytest.mark.parametrize(("value", "expected"), NUMBER_VECTORS)
def test_numbers_match_javascript(value: float, expected: str) -> None:
    assert js_number(value) == expected
    assert compact_json(value) == expected.encode()


def test_document_matches_node_output() -> None:
    value = [
        "\x1f",
        "\x7f",
        "\u2028\u2029",
        "\ud800",
        "\ud83d\ude00",
        "naïve ☃ 日本 😀",
        'q"b\\\b\f\n\r\t',
        1e21,
        -0.0,
        2**53 + 2,
        {"b": 1, "10": 2, "1": 3, "01": 4, "4294967294": 5, "4294967295": 6, "-1": 7},
    ]
    expected = (
        '["\\u001f","\x7f","\u2028\u2029","\\ud800","😀","naïve ☃ 日本 😀",'
        '"q\\"b\\\\\\b\\f\\n\\r\\t",1e+21,0,9007199254740994,'
        '{"1":3,"10":2,"4294967294":5,"b":1,"01":4,"4294967295":6,"-1":7}]'
    )
    assert compact_json(value) == expected.encode("utf-8")


def test_non_ascii_is_raw_utf8() -> None:
    assert compact_json({"t": "日本\u2028"}) == '{"t":"日本\u2028"}'.encode()


def test_int_keys_become_strings_in_javascript_order() -> None:
    assert compact_json({"a": 1, 3: 2, 1: 3}) == b'{"1":3,"3":2,"a":1}'


def test_tuples_and_subclasses() -> None:
    class Name(str):
        pass

    class Count(int):
        pass

    assert compact_json((Name("x"), Count(2), True, None)) == b'["x",2,true,null]'


def test_big_integers_are_written_exactly() -> None:
    assert compact_json([2**64, -(2**70)]) == f"[{2**64},{-(2**70)}]".encode()


def test_deep_nesting_beyond_orjson_limit() -> None:
    value: Any = 1.0
    for _ in range(400):
        value = [value]
    assert compact_json(value) == b"[" * 400 + b"1" + b"]" * 400


def test_rejects_unsupported_types_and_cycles() -> None:
    with pytest.raises(TypeError, match="set"):
        compact_json({"a": {1, 2}})
    with pytest.raises(TypeError, match="keys"):
        compact_json({(1, 2): 1})
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="circular"):
        compact_json(loop)


json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text()
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=30,
)


def _as_javascript_sees_it(value: Any) -> Any:
    """`value` after a trip through JavaScript: NaN/inf -> null, pairs joined, -0 -> 0."""
    if isinstance(value, float):
        return None if not math.isfinite(value) else (0.0 if value == 0 else value)
    if isinstance(value, str):
        return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
    if isinstance(value, list):
        return [_as_javascript_sees_it(v) for v in value]
    if isinstance(value, dict):
        return {_as_javascript_sees_it(k): _as_javascript_sees_it(v) for k, v in value.items()}
    return value


def _same(parsed: Any, expected: Any) -> bool:
    """Equality where a float may come back as an int literal (1e16 -> 10000000000000000)."""
    if isinstance(expected, float):
        return isinstance(parsed, (int, float)) and float(parsed) == expected
    if isinstance(expected, list):
        return (
            isinstance(parsed, list)
            and len(parsed) == len(expected)
            and all(_same(p, e) for p, e in zip(parsed, expected, strict=True))
        )
    if isinstance(expected, dict):
        return (
            isinstance(parsed, dict)
            and parsed.keys() == expected.keys()
            and all(_same(parsed[k], expected[k]) for k in expected)
        )
    return type(parsed) is type(expected) and parsed == expected


@given(json_values)
def test_round_trip_keeps_the_value(value: Any) -> None:
    parsed = json.loads(compact_json(value))
    assert _same(parsed, _as_javascript_sees_it(value)), (parsed, value)


plain_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(alphabet=st.characters(exclude_categories=["Cs"])),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(
            st.text(alphabet=st.characters(exclude_categories=["Cs", "Nd"]), max_size=8),
            children,
            max_size=5,
        )
    ),
    max_leaves=30,
)


@given(plain_values)
def test_without_floats_it_equals_the_stdlib_compact_form(value: Any) -> None:
    """No floats, no index keys, no surrogates: the stdlib's output is the oracle."""
    expected = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    assert compact_json(value) == expected


JS_NUMBER = re.compile(r"-?(0|[1-9]\d*)(\.\d*[1-9])?(e[+-][1-9]\d*)?")


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_js_number_round_trips_and_follows_the_grammar(value: float) -> None:
    text = js_number(value)
    assert float(text) == value
    assert JS_NUMBER.fullmatch(text), text
    magnitude = abs(value)
    exponential = magnitude != 0 and (magnitude >= 1e21 or magnitude < 1e-6)
    assert ("e" in text) == exponential
    assert float(orjson.loads(compact_json([value]))[0]) == value


@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), max_size=8))
def test_floats_are_written_exactly_as_js_number(values: list[float]) -> None:
    expected = "[" + ",".join(js_number(v) for v in values) + "]"
    assert compact_json(values) == expected.encode()


def test_random_doubles_of_every_magnitude() -> None:
    rng = random.Random(7)
    values = [struct.unpack("<d", rng.randbytes(8))[0] for _ in range(20_000)]
    values += [
        float(rng.randint(-(10**6), 10**6)) * 10.0**e for e in range(-25, 25) for _ in range(40)
    ]
    values = [v for v in values if math.isfinite(v)]
    expected = "[" + ",".join(js_number(v) for v in values) + "]"
    assert compact_json(values) == expected.encode()


NUMBERISH = st.text(alphabet='0123456789.e+-,]}{[:"\\ ', max_size=12)


@given(st.lists(st.one_of(NUMBERISH, st.floats(), st.integers()), max_size=10))
def test_number_like_text_in_strings_is_left_alone(values: list[Any]) -> None:
    parsed = json.loads(compact_json(values))
    assert _same(parsed, _as_javascript_sees_it(values))


def test_float_fixes_skip_strings_and_escapes() -> None:
    value = {
        "s": "1.0]",
        "t": 'a\\"1.0,',
        "u": "\\",
        "x": 1.0,
        "y": [-0.0, 2e16, 3e-6],
        "z": "e+16}",
    }
    expected = (
        '{"s":"1.0]","t":"a\\\\\\"1.0,","u":"\\\\","x":1,"y":[0,20000000000000000,0.000003],'
        '"z":"e+16}"}'
    )
    assert compact_json(value) == expected.encode()


@pytest.mark.parametrize("shift", range(-14, 4))
def test_an_index_key_across_a_megabyte_boundary_is_still_written_first(shift: int) -> None:
    # The index-key check reads the output in overlapping pieces of 1 MiB.
    text = "a" * ((1 << 20) - 9 + shift)
    assert compact_json({"x": text, "1234": 1}) == b'{"1234":1,"x":"' + text.encode() + b'"}'


def _reference(value: Any) -> bytes:
    """``JSON.stringify`` in pure Python, the slow path's writer (no orjson involved)."""
    parts: list[str] = []
    write_js(value, parts, set())
    return "".join(parts).encode("utf-8")


index_or_text_keys = st.one_of(
    st.text(max_size=6), st.integers(0, 2**33).map(str), st.sampled_from(["0", "01", "-1"])
)
any_values = st.recursive(
    json_scalars | st.integers(min_value=-(2**70), max_value=2**70),
    lambda children: (
        st.lists(children, max_size=6)
        | st.lists(children, max_size=6).map(tuple)
        | st.dictionaries(index_or_text_keys, children, max_size=6)
        | st.dictionaries(st.integers(0, 50), children, max_size=4)
    ),
    max_leaves=40,
)


@given(any_values)
def test_equals_the_pure_python_writer(value: Any) -> None:
    """Floats, index keys, int keys, surrogates, big integers: byte for byte the reference."""
    assert compact_json(value) == _reference(value)


@given(any_values)
def test_written_in_pieces_it_is_the_same_bytes(value: Any) -> None:
    """With tiny pieces every container is cut (member by member, or in slices): the joined
    pieces are the bytes of the document written whole."""
    saved = jsonc._PIECE_BYTES, jsonc._MEMBERS_EACH
    jsonc._PIECE_BYTES, jsonc._MEMBERS_EACH = 4, 2
    try:
        pieces: list[bytes] = []
        jsonc._write(value, pieces, 0)
        assert b"".join(pieces) == _reference(value)
    finally:
        jsonc._PIECE_BYTES, jsonc._MEMBERS_EACH = saved


def test_a_large_document_is_written_in_pieces_of_bounded_size() -> None:
    rows = [{"id": i, "ratio": i / 7, "whole": float(i), "tags": ["a", "b"]} for i in range(30_000)]
    value = {"cluster_uuid": "x", "stack_stats": {"kibana": {"plugins": {"big": {"rows": rows}}}}}
    pieces: list[bytes] = []
    jsonc._write(value, pieces, 0)
    assert len(pieces) > 8
    assert max(len(piece) for piece in pieces) < 4 * jsonc._PIECE_BYTES
    assert b"".join(pieces) == compact_json(value) == _reference(value)


def test_cycles_and_bad_keys_inside_a_large_document_are_refused() -> None:
    loop: list[Any] = ["x" * 300_000]
    loop.append(loop)
    with pytest.raises(ValueError, match="circular"):
        compact_json({"a": loop})
    with pytest.raises(TypeError, match="keys"):
        compact_json({"big": "x" * 300_000, "bad": {(1, 2): 1}})
