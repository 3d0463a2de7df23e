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
output, and dicts with array-index keys are reordered first (a slower path).

Known differences that cannot be closed: integers are written exactly, whereas JavaScript would
round integers beyond 2**53 to the nearest double; nesting deeper than about 900 levels raises
``ValueError`` (JavaScript allows a few thousand). Types other than the JSON-compatible ones that
orjson supports (dataclasses, datetimes, enums, ...) are written as orjson writes them.
"""

from __future__ import annotations

import math
import re
from typing import Any

import orjson

__all__ = ["compact_json", "js_number"]

_CONTAINERS = (dict, list, tuple)
_SCALARS = frozenset({str, int, float, bool, type(None)})
_MAX_ARRAY_INDEX = 4_294_967_294  # 2**32 - 2, the largest array index of ECMAScript
_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}
_NEEDS_ESCAPE = re.compile('[\x00-\x1f"\\\\\ud800-\udfff]')
# An object key that may be an array index: `"12":` (a quote in a string is escaped, so this
# only matches keys). Scanning for it is slow (every quote starts a try), so the output with its
# digits deleted is first searched for `"":`, which every such key leaves (as do rarer keys:
# empty or all digits), a fast plain search.
_INDEX_KEY = re.compile(rb'"(?:0|[1-9][0-9]{0,9})":')
_DIGITS = b"0123456789"
_LONGEST_INDEX_KEY = len(b'"4294967294":')
# In the keys of a dict joined with NUL: a key that may be an array index.
_INDEX_NAME = re.compile(r"(?:\A|\x00)(?:0|[1-9][0-9]{0,9})(?=\x00|\Z)")
# The ends of float tokens that orjson writes unlike ECMAScript: `1.0`, `-0.0`, `1e+16`, `1e-6`
# (three patterns with a literal prefix each: much faster to scan than one alternation).
_FLOAT_TAILS = tuple(
    re.compile(tail + rb"(?=[,\]}]|\Z)") for tail in (rb"\.0", rb"e\+(?:1[6-9]|20)", rb"e-6")
)
_TOKEN_AT_END = re.compile(rb"-?[0-9]+(?:\.[0-9]+)?e[-+][0-9]+\Z")


def compact_json(value: object) -> bytes:
    """Serialize `value` to the UTF-8 bytes of ``JSON.stringify(value)``.

    Raises ``TypeError`` for a value that is not JSON-compatible and ``ValueError`` for a
    circular or too deeply nested structure.
    """
    try:
        out = orjson.dumps(value)
    except orjson.JSONEncodeError:
        # Non-str keys, lone surrogates, integers beyond 64 bits, deep nesting, other types.
        out = _fallback(value)
    else:
        if _may_have_index_keys(out) and _INDEX_KEY.search(out):
            # JavaScript lists array-index keys first: write the dicts in that order.
            out = _fallback(value)
    tails = sorted(match.span() for pattern in _FLOAT_TAILS for match in pattern.finditer(out))
    return _fix_floats(out, tails) if tails else out


def _may_have_index_keys(out: bytes) -> bool:
    """Whether `out` with its digits deleted holds `"":` (looked at in overlapping pieces: one
    call on megabytes would hold the GIL for tens of milliseconds)."""
    step = 1 << 20
    return any(
        b'"":' in out[start : start + step + _LONGEST_INDEX_KEY].translate(None, _DIGITS)
        for start in range(0, len(out), step)
    )


def js_number(value: float) -> str:
    """Format `value` like ECMAScript ``Number::toString`` (``null`` for NaN and infinities)."""
    if not math.isfinite(value):
        return "null"
    if value == 0:
        return "0"
    if value < 0:
        return "-" + js_number(-value)
    # repr() gives the shortest digits that round-trip, as ECMAScript requires.
    mantissa, _, exponent = repr(value).partition("e")
    int_part, _, frac_part = mantissa.partition(".")
    digits = int_part + frac_part
    point = len(int_part) + (int(exponent) if exponent else 0)
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    k, n = len(digits), point
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return "0." + "0" * -n + digits
    sign = "+" if n - 1 >= 0 else "-"
    head = digits[0] if k == 1 else digits[0] + "." + digits[1:]
    return f"{head}e{sign}{abs(n - 1)}"


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


def _fallback(value: object) -> bytes:
    """Reorder the keys in Python, then write with orjson, or in pure Python if it refuses."""
    try:
        return orjson.dumps(_reorder(value))
    except orjson.JSONEncodeError:
        pass
    except RecursionError:
        raise ValueError("value is circular or nested too deeply") from None
    parts: list[str] = []
    try:
        _write(value, parts, set())
    except RecursionError:
        raise ValueError("value is nested too deeply") from None
    return "".join(parts).encode("utf-8")


def _reorder(value: Any) -> Any:
    """`value` with its dicts in JavaScript key order; unchanged parts are not copied."""
    if isinstance(value, dict):
        replaced: dict[Any, Any] = {}
        for key, item in value.items():
            if type(item) not in _SCALARS and isinstance(item, _CONTAINERS):
                new = _reorder(item)
                if new is not item:
                    replaced[key] = new
        if replaced:
            value = {k: replaced.get(k, v) for k, v in value.items()}
        items = _ordered_items(value)
        return value if items is None else dict(items)
    if isinstance(value, (list, tuple)):
        result: list[Any] | None = None
        for index, item in enumerate(value):
            if type(item) not in _SCALARS and isinstance(item, _CONTAINERS):
                new = _reorder(item)
                if new is not item:
                    result = list(value) if result is None else result
                    result[index] = new
        return value if result is None else result
    return value


def _ordered_items(mapping: dict[Any, Any]) -> list[tuple[str, Any]] | None:
    """Items in JavaScript key order, or None when the keys are plain strings."""
    try:
        joined = "\x00".join(mapping)
    except TypeError:  # a key that is not a str
        pass
    else:
        if not _INDEX_NAME.search(joined):
            return None
    merged = {_key(key): item for key, item in mapping.items()}
    index_keys: list[str] = []
    others: list[str] = []
    for key in merged:
        (index_keys if _is_array_index(key) else others).append(key)
    index_keys.sort(key=int)
    return [(k, merged[k]) for k in index_keys + others]


def _is_array_index(key: str) -> bool:
    """Whether `key` is a canonical array index, which JavaScript objects list first."""
    return (
        key.isascii()
        and key.isdigit()
        and (key == "0" or key[0] != "0")
        and int(key) <= _MAX_ARRAY_INDEX
    )


def _key(key: object) -> str:
    """Return a dict key as the string JavaScript would use."""
    if isinstance(key, str):
        return str.__str__(key)
    if isinstance(key, int) and not isinstance(key, bool):
        return str(int(key))
    raise TypeError(f"dict keys must be str or int, not {type(key).__name__}")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return _ESCAPES.get(char) or f"\\u{ord(char):04x}"


def _string(text: str) -> str:
    """A JSON string literal as ``JSON.stringify`` writes it."""
    if any("\ud800" <= c <= "\udfff" for c in text):
        # Join surrogate pairs into their character; lone surrogates stay and get escaped.
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
    return '"' + _NEEDS_ESCAPE.sub(_escape, text) + '"'


def _write(value: Any, out: list[str], path: set[int]) -> None:
    """Slow path: serialize `value` into `out` in pure Python."""
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(_string(value))
    elif isinstance(value, int):
        out.append(str(int(value)))
    elif isinstance(value, float):
        out.append(js_number(float(value)))
    elif isinstance(value, _CONTAINERS):
        if id(value) in path:
            raise ValueError("value is circular")
        path.add(id(value))
        if isinstance(value, dict):
            items = _ordered_items(value) or list(value.items())
            out.append("{")
            for i, (key, item) in enumerate(items):
                out.append(("," if i else "") + _string(_key(key)) + ":")
                _write(item, out, path)
            out.append("}")
        else:
            out.append("[")
            for i, item in enumerate(value):
                if i:
                    out.append(",")
                _write(item, out, path)
            out.append("]")
        path.discard(id(value))
    else:
        raise TypeError(f"value of type {type(value).__name__} is not JSON-compatible")
