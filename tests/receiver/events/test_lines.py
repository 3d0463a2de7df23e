"""Each line of an event batch: valid events, every refusal reason, the 413 limits."""

from __future__ import annotations

import orjson
import pytest

from telemetry_service.common.clock import DAY_MS, to_ms
from telemetry_service.receiver import Rejection
from telemetry_service.receiver.events.lines import LineLimits, ParsedBody, parse_body
from telemetry_service.testing import FakeClock
from telemetry_service.wire.protocol import events_to_ndjson

NOW = to_ms(FakeClock().now)
LIMITS = LineLimits(
    max_line_bytes=1000, max_lines=10, max_depth=5, oldest_ms=NOW - 5 * DAY_MS,
    newest_ms=NOW + DAY_MS,
)  # fmt: skip


def event(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "timestamp": "2026-03-15T11:00:00.000Z",
        "event_type": "click",
        "context": {"cluster_uuid": "ctx-1"},
        "properties": {"n": 1},
    }
    return {**base, **fields}


def parse(body: bytes, cluster: str = "c-1", limits: LineLimits = LIMITS) -> ParsedBody:
    return parse_body(body, cluster_id=cluster, limits=limits)


def test_a_kibana_line_becomes_an_event() -> None:
    # The server shipper test's 100-byte event (spec 2.2), plus a trace and an extra key.
    line = events_to_ndjson([event(trace={"id": "t"}, extra=1)])
    parsed = parse(line + b"\n")  # blank lines are skipped
    (stored,) = parsed.events
    assert stored.timestamp_ms == to_ms(FakeClock().now) - 3_600_000
    assert (stored.event_type, stored.cluster_uuid) == ("click", "c-1")
    assert orjson.loads(stored.context) == {"cluster_uuid": "ctx-1"}
    assert orjson.loads(stored.properties) == {"n": 1}
    assert not parsed.rejected


def test_an_unknown_cluster_header_takes_the_context_cluster() -> None:
    body = events_to_ndjson([event(), event(context={}), event(context={"cluster_uuid": 5})])
    assert [e.cluster_uuid for e in parse(body, "UNKNOWN").events] == [
        "ctx-1",
        "UNKNOWN",
        "UNKNOWN",
    ]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"not json", "malformed_json"),
        (b'{"a":"\xff\xfe"}', "invalid_utf8"),
        (b"[1, 2]", "not_an_object"),
        (b"[" * 2000 + b"]" * 2000, "too_deep"),
        (orjson.dumps(event(properties={"a": {"b": {"c": {"d": {"e": {}}}}}})), "too_deep"),
        (orjson.dumps(event(timestamp="yesterday")), "invalid_timestamp"),
        (orjson.dumps(event(timestamp=12)), "invalid_timestamp"),
        (orjson.dumps(event(timestamp="2026-01-01T00:00:00Z")), "timestamp_out_of_range"),
        (orjson.dumps(event(timestamp="2026-03-17T00:00:00Z")), "timestamp_out_of_range"),
        (orjson.dumps(event(event_type="")), "invalid_event_type"),
        (orjson.dumps(event(event_type=["x"])), "invalid_event_type"),
        (orjson.dumps(event(event_type="a\nb")), "invalid_event_type"),
        (orjson.dumps({k: v for k, v in event().items() if k != "context"}), "invalid_context"),
        (orjson.dumps(event(properties=[1])), "invalid_properties"),
    ],
)
def test_each_bad_line_is_refused_with_its_reason(line: bytes, reason: str) -> None:
    limits = LineLimits(10_000, 10, 5, NOW - 5 * DAY_MS, NOW + DAY_MS)
    parsed = parse(orjson.dumps(event()) + b"\n" + line + b"\n", limits=limits)
    assert len(parsed.events) == 1
    assert parsed.rejected == {reason: 1}
    assert parsed.errors == [(2, reason)]


def test_only_the_first_ten_refused_lines_are_listed() -> None:
    limits = LineLimits(1000, 100, 5, NOW - DAY_MS, NOW + DAY_MS)
    parsed = parse(b"x\n" * 30, limits=limits)
    assert parsed.rejected == {"malformed_json": 30}
    assert [n for n, _ in parsed.errors] == list(range(1, 11))


def test_too_many_lines_or_a_long_line_refuse_the_whole_body() -> None:
    line = orjson.dumps(event())
    with pytest.raises(Rejection) as many:
        parse(b"\n".join([line] * 11))
    assert (many.value.status, many.value.reason) == (413, "too_many_lines")
    with pytest.raises(Rejection) as long:
        parse(line + b"\n" + orjson.dumps(event(properties={"s": "x" * 1000})))
    assert (long.value.status, long.value.reason) == (413, "line_too_large")
    assert len(parse(b"\n".join([line] * 10) + b"\n\n\n").events) == 10
