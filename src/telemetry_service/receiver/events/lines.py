"""An event batch's NDJSON body, line by line: the valid events and the refused lines by
reason (pure; runs in a worker thread).

A line is an event when it is a JSON object (UTF-8) with an ISO-8601 ``timestamp`` within
``[oldest_ms, newest_ms]``, an ``event_type`` of 1 to 200 printable characters, and
``context`` and ``properties`` objects, nested at most ``max_depth`` deep (Kibana's
``{timestamp, event_type, context, properties, trace}``; other keys are dropped). Blank lines
are skipped. A line over ``max_line_bytes`` or more than ``max_lines`` lines refuse the whole
body (413) before any line is read.

An event's cluster is the ``X-Elastic-Cluster-ID`` header, or, when that is ``UNKNOWN``, the
event's ``context.cluster_uuid`` when it is one (else ``UNKNOWN``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson

from telemetry_service.common.clock import parse_timestamp
from telemetry_service.wire.protocol import UNKNOWN_CLUSTER

from ..errors import Rejection
from ..storage import NewEvent
from ..validate import depth_exceeds, is_identifier

__all__ = ["LINE_REASONS", "MAX_ERRORS", "LineLimits", "ParsedBody", "parse_body"]

#: Why a line is not stored (the ``reason`` label of the rejected-events counter).
LINE_REASONS = (
    "invalid_utf8",
    "malformed_json",
    "too_deep",
    "not_an_object",
    "invalid_timestamp",
    "timestamp_out_of_range",
    "invalid_event_type",
    "invalid_context",
    "invalid_properties",
)
#: Refused lines listed in an answer (the counts by reason cover them all).
MAX_ERRORS = 10


@dataclass(frozen=True)
class LineLimits:
    max_line_bytes: int
    max_lines: int
    max_depth: int
    oldest_ms: int
    newest_ms: int


@dataclass
class ParsedBody:
    """The valid events, the count of refused lines by reason, and the first refused lines
    as ``(line number from 1, reason)``."""

    events: list[NewEvent] = field(default_factory=list)
    rejected: Counter[str] = field(default_factory=Counter)
    errors: list[tuple[int, str]] = field(default_factory=list)


class _Refused(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason


def parse_body(body: bytes, *, cluster_id: str, limits: LineLimits) -> ParsedBody:
    """The events of an NDJSON body; 413 :class:`Rejection` for the size limits."""
    lines = body.split(b"\n")
    if len(lines) - lines.count(b"") > limits.max_lines:
        raise Rejection(413, "too_many_lines", f"the body holds more than {limits.max_lines} lines")
    if max(map(len, lines)) > limits.max_line_bytes:
        raise Rejection(
            413, "line_too_large", f"a line is larger than {limits.max_line_bytes} bytes"
        )
    parsed = ParsedBody()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            parsed.events.append(_event(line, cluster_id, limits))
        except _Refused as refused:
            parsed.rejected[refused.reason] += 1
            if len(parsed.errors) < MAX_ERRORS:
                parsed.errors.append((number, refused.reason))
    return parsed


def _load(line: bytes) -> Any:
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        if "depth limit" in str(exc) or "recursion" in str(exc).lower():
            raise _Refused("too_deep") from None
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            raise _Refused("invalid_utf8") from None
        raise _Refused("malformed_json") from None


def _event(line: bytes, cluster_id: str, limits: LineLimits) -> NewEvent:
    value = _load(line)
    if type(value) is not dict:
        raise _Refused("not_an_object")
    timestamp = value.get("timestamp")
    ms = parse_timestamp(timestamp) if type(timestamp) is str else None
    if ms is None:
        raise _Refused("invalid_timestamp")
    if not limits.oldest_ms <= ms <= limits.newest_ms:
        raise _Refused("timestamp_out_of_range")
    event_type = value.get("event_type")
    if type(event_type) is not str or not is_identifier(event_type):
        raise _Refused("invalid_event_type")
    context = value.get("context")
    if type(context) is not dict:
        raise _Refused("invalid_context")
    properties = value.get("properties")
    if type(properties) is not dict:
        raise _Refused("invalid_properties")
    # Each level of nesting takes a bracket: only a line with enough of them is walked.
    if line.count(b"{") + line.count(b"[") > limits.max_depth and depth_exceeds(
        value, limits.max_depth
    ):
        raise _Refused("too_deep")
    cluster = cluster_id
    if cluster == UNKNOWN_CLUSTER:
        candidate = context.get("cluster_uuid")
        if type(candidate) is str and is_identifier(candidate):
            cluster = candidate
    return NewEvent(
        ms, event_type, cluster, orjson.dumps(context).decode(), orjson.dumps(properties).decode()
    )
