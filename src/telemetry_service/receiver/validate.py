"""Decrypted payloads: JSON parsing with a depth limit, and the root shape of each channel.

A snapshot is Kibana's payload (spec 6.5): an object with ``cluster_uuid`` (equal to the
``X-Elastic-Cluster-ID`` header), an ISO-8601 ``timestamp`` and a ``version``; when present,
``cluster_name``, ``collectionSource`` and ``collection`` are strings and ``cacheDetails`` and
``stack_stats`` objects. An opt-in report is ``{cluster_uuid, opt_in_status: bool}``. Other
fields are allowed and kept. Messages name fields, never their values.

The JSON text is stored as received, so that every reader of it must see what validation saw:
an object that repeats a key (read as its last value by orjson and PostgreSQL's jsonb, as its
first by SQLite's JSON functions) is refused, and so is a number outside the range of a double
(``1e400``, ``-1e999999``, ``1e-999999``, a 400-digit integer: JavaScript's ``JSON.parse``
cannot read them and jsonb refuses some), each a 400 ``invalid_payload``.

Parsing takes a fast path first: orjson, kept only when orjson writes the value back as the
exact text received (compact JSON as ``JSON.stringify`` writes it; then no repeated key was
dropped and no number rounded), with no string jsonb refuses and no nesting near the limit.
Anything else goes to the exact path (the standard library's parser with hooks that refuse
repeated keys and out-of-range numbers), so both paths answer the same. The cycle collector
is paused during large parses (their containers have no cycles; collections would traverse
every object of the process again and again).
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from typing import Any, Literal, NoReturn

import orjson

from telemetry_service.common.clock import parse_timestamp
from telemetry_service.wire.decryptor import collector_paused

from .errors import Rejection
from .storage import jsonb

__all__ = [
    "MAX_ID_CHARS",
    "ReportKind",
    "ValidatedReport",
    "depth_exceeds",
    "is_identifier",
    "parse_payload",
    "validate_report",
]

ReportKind = Literal["snapshot", "opt-in"]
MAX_ID_CHARS = 200
_MAX_NAME_CHARS = 1000
_OPTIONAL_STRINGS = ("collectionSource", "collection")
_OPTIONAL_OBJECTS = ("cacheDetails", "stack_stats")
_MAX_INT = int(sys.float_info.max)
_NONZERO_DIGIT = re.compile(r"[1-9]")
_NOT_IN_ID = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")


@dataclass(frozen=True, repr=False)
class ValidatedReport:
    """A decrypted, validated report and the fields the store indexes."""

    kind: ReportKind
    cluster_uuid: str
    cluster_name: str | None
    version: str | None
    timestamp_ms: int | None
    opt_in_status: bool | None
    #: The payload's JSON text exactly as received.
    payload_text: str
    #: The same JSON with NUL characters and lone surrogates replaced (PostgreSQL's jsonb
    #: refuses them); equal to `payload_text` for nearly every payload.
    query_text: str

    def __repr__(self) -> str:
        return f"ValidatedReport(kind={self.kind!r}, <{len(self.payload_text)} chars>)"


def _bad(reason: str, message: str) -> NoReturn:
    raise Rejection(400, reason, message)


def _bad_field(field: str, must: str) -> NoReturn:
    _bad("invalid_payload", f"payload field [{field}] must be {must}")


class _Refused(Exception):
    """A duplicate key or an out-of-range number, raised by the parser's hooks."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        raise _Refused("the decrypted payload repeats a key in an object")
    return value


def _finite_float(token: str) -> float:
    number = float(token)
    mantissa = token.partition("e")[0].partition("E")[0]
    if abs(number) == float("inf") or (number == 0 and _NONZERO_DIGIT.search(mantissa)):
        raise _Refused("the decrypted payload holds a number outside the range of a double")
    return number


def parse_payload(plaintext: bytes, *, max_depth: int) -> tuple[Any, str, str]:
    """Parse decrypted JSON; return the value, its text and the text safe for jsonb.

    Raises a 400 :class:`Rejection` (``malformed_json``, ``too_deep`` or ``invalid_payload``
    for a repeated key or an out-of-range number).
    """
    try:
        text = plaintext.decode("utf-8")
    except UnicodeDecodeError:
        _bad("malformed_json", "the decrypted payload is not UTF-8 text")
    with collector_paused(len(plaintext)):
        fast = _parse_fast(plaintext, text, max_depth)
        if fast is not None:
            return fast
        return _parse_exact(text, max_depth)


def _parse_fast(plaintext: bytes, text: str, max_depth: int) -> tuple[Any, str, str] | None:
    """orjson's value when the text is exactly what orjson writes of it (so no key was
    dropped and no number rounded) and shallow enough; else None, for the exact path."""
    if jsonb.refused(text):
        return None
    try:
        value = orjson.loads(plaintext)
    except orjson.JSONDecodeError:
        return None
    if orjson.dumps(value) != plaintext:
        return None
    # Indented by two spaces a level, a line at 2 * max_depth holds a value of a container
    # at max_depth: maybe one nested too deep (the exact path tells). Nesting deeper than
    # max_depth takes more than 2 * max_depth brackets (counting them costs half the dump).
    if len(plaintext) > 2 * max_depth:
        indented = orjson.dumps(value, option=orjson.OPT_INDENT_2)
        if b"\n" + b" " * (2 * max_depth) in indented:
            return None
    return value, text, text


def _parse_exact(text: str, max_depth: int) -> tuple[Any, str, str]:
    """The standard library's parser with hooks that refuse repeated keys and numbers
    outside a double's range."""
    try:
        value = json.loads(
            text,
            object_pairs_hook=_unique_keys,
            parse_float=_finite_float,
            parse_constant=_reject_constant,
        )
    except RecursionError:
        _bad("too_deep", f"the decrypted payload nests deeper than {max_depth} levels")
    except _Refused as exc:
        _bad("invalid_payload", str(exc))
    except ValueError:  # also integers of more than 4300 digits
        _bad("malformed_json", "the decrypted payload is not valid JSON")
    problem = _tree_problem(value, max_depth)
    if problem == "too_deep":
        _bad("too_deep", f"the decrypted payload nests deeper than {max_depth} levels")
    if problem:
        _bad(
            "invalid_payload", "the decrypted payload holds a number outside the range of a double"
        )
    query_text = text
    if jsonb.refused(text):
        query_text = jsonb.safe_json(value)
    return value, text, query_text


def validate_report(
    kind: ReportKind, value: Any, text: str, query_text: str, *, cluster_id: str
) -> ValidatedReport:
    """Check the root shape of `value` for its channel kind; raise a 400 :class:`Rejection`."""
    if not isinstance(value, dict):
        _bad("invalid_payload", "the payload must be a JSON object")
    uuid = value.get("cluster_uuid")
    if not isinstance(uuid, str) or not is_identifier(uuid):
        _bad_field("cluster_uuid", f"1 to {MAX_ID_CHARS} printable characters")
    if uuid != cluster_id:
        _bad(
            "cluster_mismatch",
            "payload field [cluster_uuid] does not match the X-Elastic-Cluster-ID header",
        )
    if kind == "opt-in":
        status = value.get("opt_in_status")
        if not isinstance(status, bool):
            _bad_field("opt_in_status", "true or false")
        return ValidatedReport(kind, uuid, None, None, None, status, text, query_text)
    timestamp = value.get("timestamp")
    timestamp_ms = parse_timestamp(timestamp) if isinstance(timestamp, str) else None
    if timestamp_ms is None:
        _bad_field("timestamp", "an ISO-8601 date-time string")
    version = value.get("version")
    if not isinstance(version, str) or not version or len(version) > MAX_ID_CHARS:
        _bad_field("version", f"a string of 1 to {MAX_ID_CHARS} characters")
    name = value.get("cluster_name")
    if name is not None and (not isinstance(name, str) or len(name) > _MAX_NAME_CHARS):
        _bad_field("cluster_name", f"a string of at most {_MAX_NAME_CHARS} chars")
    for field in _OPTIONAL_STRINGS:
        if field in value and not isinstance(value[field], str):
            _bad_field(field, "a string")
    for field in _OPTIONAL_OBJECTS:
        if field in value and not isinstance(value[field], dict):
            _bad_field(field, "an object")
    name = None if name is None else jsonb.clean(name)
    return ValidatedReport(
        kind, uuid, name, jsonb.clean(version), timestamp_ms, None, text, query_text
    )


def is_identifier(text: str) -> bool:
    """1 to MAX_ID_CHARS characters, none of them a control character or a surrogate."""
    if not 0 < len(text) <= MAX_ID_CHARS:
        return False
    if text.isascii():  # the usual case: printable ASCII is exactly 0x20..0x7E
        return text.isprintable()
    return _NOT_IN_ID.search(text) is None


def depth_exceeds(value: Any, limit: int) -> bool:
    """True when arrays and objects nest deeper than `limit` (iterative; stops early)."""
    return _tree_problem(value, limit) == "too_deep"


def _tree_problem(value: Any, limit: int) -> str | None:
    """``too_deep`` when arrays and objects nest deeper than `limit`, ``out_of_range`` for an
    integer beyond the range of a double, else None (iterative; stops early)."""
    if not isinstance(value, dict | list):
        return "out_of_range" if type(value) is int and abs(value) > _MAX_INT else None
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        children: Any = node.values() if isinstance(node, dict) else node
        depth += 1
        if depth > limit:
            return "too_deep"
        for child in children:
            if isinstance(child, dict | list):
                stack.append((child, depth))
            elif type(child) is int and not -_MAX_INT <= child <= _MAX_INT:
                return "out_of_range"
    return None


def _reject_constant(name: str) -> NoReturn:
    """NaN and Infinity are not JSON."""
    raise ValueError(name)
