"""Parsing and validating decrypted payloads."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from telemetry_service.receiver import Rejection, validate
from telemetry_service.receiver.validate import (
    MAX_ID_CHARS,
    is_identifier,
    parse_payload,
    validate_report,
)

from .support import opt_in, snapshot


def parse(text: bytes, depth: int = 100) -> tuple[Any, str, str]:
    return parse_payload(text, max_depth=depth)


def reason(text: bytes, depth: int = 100) -> str:
    with pytest.raises(Rejection) as caught:
        parse(text, depth)
    assert caught.value.status == 400
    return caught.value.reason


def test_plain_json_keeps_its_exact_text() -> None:
    text = b'{"a": 1,  "b":"\\u00fc"}'
    value, exact, query = parse(text)
    assert value == {"a": 1, "b": "ü"}
    assert exact == query == text.decode()


def test_depth_limit() -> None:
    assert reason(b"[" * 101 + b"]" * 101) == "too_deep"
    assert parse(b"[" * 100 + b"]" * 100)[0] is not None
    assert reason(b'{"a":' * 3 + b"1" + b"}" * 3, depth=2) == "too_deep"
    assert reason(b"[" * 100_000 + b"]" * 100_000) == "too_deep"
    assert reason(b"[" * 100_000) in {"too_deep", "malformed_json"}


def test_what_javascript_reads_but_orjson_does_not() -> None:
    value, exact, query = parse(b'{"big": 123456789012345678901234567890, "s": "\\ud800x"}')
    assert value["big"] == 123456789012345678901234567890
    assert exact.startswith('{"big": 1234')
    assert "\ufffd" in query
    assert "\\ud800" not in query


def test_nul_characters_are_replaced_for_queries_only() -> None:
    value, exact, query = parse(b'{"s": "a\\u0000b", "a\\u0000": 1}')
    assert value["s"] == "a\x00b"
    assert "\\u0000" in exact
    assert "\\u0000" not in query
    assert "\ufffd" in query


@pytest.mark.parametrize("text", [b"{", b"NaN", b'{"a": Infinity}', b"\xff", b"", b"[1,]"])
def test_not_json(text: bytes) -> None:
    assert reason(text) == "malformed_json"


def check(kind: str, payload: Any, cluster: str = "c-1") -> Any:
    import json

    text = json.dumps(payload)
    return validate_report(kind, payload, text, text, cluster_id=cluster)  # type: ignore[arg-type]


def test_valid_snapshot_and_opt_in() -> None:
    report = check("snapshot", snapshot())
    assert (report.cluster_uuid, report.version, report.cluster_name) == (
        "c-1",
        "8.1.0",
        "name of c-1",
    )
    assert report.timestamp_ms == 1773572400000
    assert check("opt-in", opt_in(status=False)).opt_in_status is False


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (snapshot(cluster_uuid=""), "invalid_payload"),
        (snapshot(cluster_uuid="c\x01"), "invalid_payload"),
        (snapshot(cluster_uuid="c-2"), "cluster_mismatch"),
        (snapshot(timestamp="2026-13-01T00:00:00Z"), "invalid_payload"),
        (snapshot(version=""), "invalid_payload"),
        (snapshot(version="v" * 201), "invalid_payload"),
        (snapshot(cluster_name="n" * 1001), "invalid_payload"),
        (snapshot(cacheDetails="x"), "invalid_payload"),
    ],
)
def test_invalid_snapshots(payload: Any, expected: str) -> None:
    with pytest.raises(Rejection) as caught:
        check("snapshot", payload)
    assert caught.value.reason == expected


def test_timestamps_in_several_iso_forms() -> None:
    for stamp in ("2026-03-15T11:00:00Z", "2026-03-15T12:00:00+01:00", "2026-03-15T11:00:00.000"):
        assert check("snapshot", snapshot(timestamp=stamp)).timestamp_ms == 1773572400000


def test_names_are_cleaned_for_the_database() -> None:
    report = check("snapshot", snapshot(cluster_name="a\x00b\ud800", version="8\x00"))
    assert report.cluster_name == "a\ufffdb\ufffd"
    assert report.version == "8\ufffd"


@pytest.mark.parametrize(
    "text",
    [
        b'{"a":1,"a":2}',
        b'{"x":{"dup":"first","dup":"last"}}',
        b'[{"k":1},{"k":1,"k":1}]',
        b'{"cluster_uuid":"OTHER","version":"1","cluster_uuid":"c-1"}',
    ],
)
def test_a_repeated_key_is_refused(text: bytes) -> None:
    """Security review finding 9: SQLite's json_extract reads a repeated key's first value,
    orjson and jsonb its last, so such payloads are refused (400 invalid_payload), the first
    cluster_uuid included. Before, they were stored."""
    assert reason(text) == "invalid_payload"


@pytest.mark.parametrize(
    "number",
    ["1e400", "-1e999999", "1e-999999", "1e131072", "0.1e-400", "-1E+309", "1" + "0" * 309],
)
def test_a_number_outside_the_double_range_is_refused(number: str) -> None:
    """Security review finding 6: numbers that JSON.parse reads as Infinity or 0 and that
    PostgreSQL's jsonb refuses are a 400 invalid_payload, not a 503 at the store."""
    assert reason(b'{"x":[1,{"y":%s}]}' % number.encode()) == "invalid_payload"
    assert reason(number.encode()) == "invalid_payload"


@pytest.mark.parametrize(
    "number", ["1e308", "-1.7976931348623157e308", "5e-324", "0e-999999", "0.000", "1" + "0" * 300]
)
def test_numbers_in_the_double_range_are_kept(number: str) -> None:
    value, text, query = parse(b'{"x":%s}' % number.encode())
    assert text == query == f'{{"x":{number}}}'


def test_an_identifier_has_no_control_character_nor_surrogate_in_any_script() -> None:
    """The fast path of printable ASCII and the check of other text agree with the rule."""
    refused = [chr(c) for c in (*range(0x20), 0x7F, 0xD800, 0xDBFF, 0xDC00, 0xDFFF)]
    accepted = [" ", "~", "\x80", "\xa0", "é", "\u2028", "\ud7ff", "\ue000", "\U0001f600"]
    for ch in refused:
        assert not is_identifier(f"abc{ch}"), repr(ch)
        assert not is_identifier(f"é{ch}"), repr(ch)
    for ch in accepted:
        assert is_identifier(f"abc{ch}"), repr(ch)
    assert is_identifier("x" * MAX_ID_CHARS)
    assert not is_identifier("x" * (MAX_ID_CHARS + 1))
    assert not is_identifier("")


_JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=30,
)


def outcome(text: bytes, depth: int) -> Any:
    try:
        return parse(text, depth)
    except Rejection as exc:
        return exc.reason


@settings(max_examples=300, deadline=None)
@given(_JSON_VALUES, st.integers(min_value=2, max_value=6), st.data())
def test_the_fast_path_answers_as_the_exact_parser(value: Any, depth: int, data: Any) -> None:
    """Compact JSON takes the orjson path; it accepts and refuses exactly what the standard
    library's parser with the refusing hooks does (repeated keys added by hand included)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    if text.startswith(b"{") and len(text) > 2:
        member = data.draw(st.sampled_from([m for m in text[1:-1].split(b",") if b":" in m]))
        text = data.draw(st.sampled_from([text, text[:-1] + b"," + member + b"}"]))
    try:
        exact: Any = validate._parse_exact(text.decode(), depth)
    except Rejection as exc:
        exact = exc.reason
    assert outcome(text, depth) == exact


def test_compact_payloads_take_the_fast_path() -> None:
    payload = orjson.dumps(snapshot(stack_stats={"kibana": {"plugins": {"a": [1, 2.5, "x"]}}}))
    fast = validate._parse_fast(payload, payload.decode(), 100)
    assert fast is not None
    assert fast[1] == fast[2] == payload.decode()
    assert validate._parse_fast(b'{"a":1,"a":2}', '{"a":1,"a":2}', 100) is None
    assert validate._parse_fast(b'{"x":1e-999}', '{"x":1e-999}', 100) is None
    assert validate._parse_fast(b"[[[]]]", "[[[]]]", 2) is None
    assert validate._parse_fast(b"[[]]", "[[]]", 2) is not None
