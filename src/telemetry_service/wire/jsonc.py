"""Compact JSON equal to JavaScript's ``JSON.stringify(value)``.

The sender of ``@elastic/request-crypto`` encrypts ``JSON.stringify(payload)``; this module writes
the same bytes for JSON-compatible Python values (dict, list, tuple, str, int, float, bool, None):

- numbers follow ECMAScript ``Number::toString``: ``1.0`` -> ``1``, ``-0.0`` -> ``0``,
  ``1e16`` -> ``10000000000000000``, ``1e21`` -> ``1e+21``, ``1e-7`` -> ``1e-7``; NaN and
  infinities -> ``null``;
- object keys that are array indexes (``"0"`` .. ``"4294967294"``) come first in ascending order,
  as in a JavaScript object; int keys are written as strings;
- strings keep non-ASCII characters (U+2028 and U+2029 included) as UTF-8; control characters
  become ``\\b \\t \\n \\f \\r`` or ``\\u00xx``; a surrogate pair becomes its character and a lone
  surrogate ``\\udxxx`` (well-formed ``JSON.stringify``, ES2019).

orjson writes the document; floats that orjson formats unlike ECMAScript are rewritten in its
output, and dicts with array-index keys are reordered first (a slower path, :mod:`.js_json`).
A large document is written in pieces of about 256 KB (the members of its big containers, or
slices of them) joined into the same bytes: one orjson call on megabytes holds the GIL for
tens of milliseconds on a busy machine, which would stall an event loop in another thread.

Known differences that cannot be closed: integers are written exactly, whereas JavaScript would
round integers beyond 2**53 to the nearest double; nesting deeper than about 900 levels raises
``ValueError`` (JavaScript allows a few thousand). Types other than the JSON-compatible ones that
orjson supports (dataclasses, datetimes, enums, ...) are written as orjson writes them.
"""

from __future__ import annotations

import re
from itertools import islice
from typing import Any

import orjson

from .js_json import fallback, js_number, key_text, ordered_items, string_literal

__all__ = ["compact_json", "compact_json_pieces", "js_number"]

# An object key that may be an array index: `"12":` (a quote in a string is escaped, so this
# only matches keys). Scanning for it is slow (every quote starts a try), so the output with its
# digits deleted is first searched for `"":`, which every such key leaves (as do rarer keys:
# empty or all digits), a fast plain search.
_INDEX_KEY = re.compile(rb'"(?:0|[1-9][0-9]{0,9})":')
_DIGITS = b"0123456789"
_LONGEST_INDEX_KEY = len(b'"4294967294":')
_SCAN_STEP = 1 << 20
# The ends of float tokens that orjson writes unlike ECMAScript: `1.0`, `-0.0`, `1e+16`, `1e-6`
# (one pattern with a literal prefix each: much faster to scan than one alternation). The `e+`
# one is only scanned for when the output holds a "+" (a memchr).
_POINT_ZERO, _E_PLUS, _E_MINUS_6 = (
    re.compile(tail + rb"(?=[,\]}]|\Z)") for tail in (rb"\.0", rb"e\+(?:1[6-9]|20)", rb"e-6")
)
_TOKEN_AT_END = re.compile(rb"-?[0-9]+(?:\.[0-9]+)?e[-+][0-9]+\Z")
# Pieces: a container whose estimated JSON exceeds _PIECE_BYTES is written member by member
# (up to _MEMBERS_EACH members) or in slices of about _PIECE_BYTES, down to _SPLIT_DEPTH.
_PIECE_BYTES = 256 * 1024
_MEMBERS_EACH = 64
_SPLIT_DEPTH = 8
_SAMPLE = 8
_ESTIMATE_VISITS = 128
_PLAIN_SCALARS = frozenset({str, int, bool, type(None)})
_SPLIT_KINDS = frozenset({dict, list, tuple})


def compact_json(value: object) -> bytes:
    """Serialize `value` to the UTF-8 bytes of ``JSON.stringify(value)``.

    Raises ``TypeError`` for a value that is not JSON-compatible and ``ValueError`` for a
    circular or too deeply nested structure.
    """
    pieces = compact_json_pieces(value)
    return pieces[0] if len(pieces) == 1 else b"".join(pieces)


def compact_json_pieces(value: object) -> list[bytes]:
    """:func:`compact_json` as the pieces it is written in (their join), for a consumer that
    reads them in turn (the encryptor) instead of copying megabytes into one buffer."""
    pieces: list[bytes] = []
    _write(value, pieces, 0)
    return pieces


def _write(value: object, out: list[bytes], depth: int) -> None:
    """Append the pieces of `value`'s JSON to `out`."""
    if isinstance(value, float) and type(value) is float:
        out.append(js_number(value).encode("ascii"))
    elif type(value) in _PLAIN_SCALARS:
        try:
            out.append(orjson.dumps(value))
        except orjson.JSONEncodeError:  # lone surrogates, integers beyond 64 bits
            out.append(fallback(value))
    elif (
        isinstance(value, (dict, list, tuple))
        and type(value) in _SPLIT_KINDS
        and depth < _SPLIT_DEPTH
        and _estimate_json_bytes(value) > _PIECE_BYTES
    ):
        _write_container(value, out, depth)
    else:
        out.append(_leaf(value))


def _write_container(
    value: dict[Any, Any] | list[Any] | tuple[Any, ...], out: list[bytes], depth: int
) -> None:
    """Write a big container member by member, or in slices of about `_PIECE_BYTES`."""
    is_dict = isinstance(value, dict)
    if isinstance(value, dict):
        items = ordered_items(value)  # JavaScript's key order; raises TypeError for bad keys
        members: list[Any] = list(value.items()) if items is None else items
    else:
        members = list(value)
    out.append(b"{" if is_dict else b"[")
    if len(members) <= _MEMBERS_EACH:
        for index, member in enumerate(members):
            if index:
                out.append(b",")
            if is_dict:
                out.append(string_literal(key_text(member[0])).encode("utf-8") + b":")
            _write(member[1] if is_dict else member, out, depth + 1)
    else:
        each = max(1, len(members) * _PIECE_BYTES // _estimate_json_bytes(value))
        for start in range(0, len(members), each):
            chunk = members[start : start + each]
            if start:
                out.append(b",")
            out.append(_leaf(dict(chunk) if is_dict else chunk)[1:-1])
    out.append(b"}" if is_dict else b"]")


def _estimate_json_bytes(value: object, budget: list[int] | None = None) -> int:
    """A rough size of `value`'s JSON from its lengths and a sample of its members, looking
    at `_ESTIMATE_VISITS` containers at most, to decide where to cut pieces."""
    if isinstance(value, str):
        return len(value) + 2
    if not isinstance(value, (dict, list, tuple)):
        return 8
    budget = [_ESTIMATE_VISITS] if budget is None else budget
    count = len(value)
    if count == 0 or budget[0] <= 0:
        return 2 + 16 * count
    budget[0] -= 1
    members = value.values() if isinstance(value, dict) else value
    sample = list(islice(members, _SAMPLE))
    per_member = sum(_estimate_json_bytes(member, budget) for member in sample) // len(sample)
    return 2 + count * (per_member + 8)


def _leaf(value: object) -> bytes:
    """`value` in one orjson call, fixed where it differs from ``JSON.stringify``."""
    try:
        out = orjson.dumps(value)
    except orjson.JSONEncodeError:
        # Non-str keys, lone surrogates, integers beyond 64 bits, deep nesting, other types.
        return _fix_all_floats(fallback(value))
    if _may_have_index_keys(out) and _INDEX_KEY.search(out):
        # JavaScript lists array-index keys first: write the dicts in that order.
        out = fallback(value)
    return _fix_all_floats(out)


def _fix_all_floats(out: bytes) -> bytes:
    patterns = (_POINT_ZERO, _E_MINUS_6, _E_PLUS) if b"+" in out else (_POINT_ZERO, _E_MINUS_6)
    tails = sorted(match.span() for pattern in patterns for match in pattern.finditer(out))
    return _fix_floats(out, tails) if tails else out


def _may_have_index_keys(out: bytes) -> bool:
    """Whether `out` with its digits deleted holds `"":` (looked at in overlapping pieces: one
    call on megabytes would hold the GIL for tens of milliseconds)."""
    return any(
        b'"":' in out[start : start + _SCAN_STEP + _LONGEST_INDEX_KEY].translate(None, _DIGITS)
        for start in range(0, len(out), _SCAN_STEP)
    )


def _fix_floats(out: bytes, tails: list[tuple[int, int]]) -> bytes:
    """Rewrite the float tokens (outside strings) that orjson writes unlike ECMAScript.

    orjson writes ``1.0``, ``-0.0``, ``1e+16`` .. ``9e+20`` and ``1e-6`` .. ``9e-6`` (with any
    digits) where ECMAScript writes ``1``, ``0``, plain digits and ``0.00000x``; all other floats
    are already written alike (tests/wire/test_jsonc.py checks this on random floats).
    """
    # `tails` are the spans of candidate token ends, some of them inside strings. orjson escapes
    # every control character: mask escaped backslashes and quotes with \x01\x01 and \x02\x02
    # (same length), so that every quote left delimits a string.
    masked = out
    if b"\\" in out:
        masked = out.replace(b"\\\\", b"\x01\x01").replace(b'\\"', b"\x02\x02")
    pieces: list[bytes] = []
    last = scanned = quotes = 0
    for start, end in tails:
        quotes += masked.count(b'"', scanned, start)
        scanned = start
        if quotes & 1:  # inside a string
            continue
        if masked[start] == 0x2E:  # "." of ".0"
            if masked[start - 2 : start] == b"-0":
                pieces += [out[last : start - 2], b"0"]  # -0.0
            else:
                pieces.append(out[last:start])  # 25.0 -> 25
        else:
            token = _TOKEN_AT_END.search(masked, max(last, end - 40), end)
            if token is None:  # pragma: no cover - orjson writes every float as such a token
                continue
            start = token.start()
            pieces += [out[last:start], js_number(float(token.group())).encode("ascii")]
        last = end
    if not pieces:
        return out
    pieces.append(out[last:])
    return b"".join(pieces)
