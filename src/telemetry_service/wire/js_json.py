"""``JSON.stringify`` in pure Python: the reference and slow path of :func:`.jsonc.compact_json`.

:func:`.jsonc.compact_json` writes with orjson and turns to these for what orjson refuses or
writes unlike JavaScript (the order of array-index keys, non-str keys, lone surrogates, big
integers, deep nesting); ``write_js`` is also the oracle of its property tests.
"""

from __future__ import annotations

import math
import re
from typing import Any

import orjson

__all__ = ["fallback", "js_number", "key_text", "ordered_items", "string_literal", "write_js"]

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
# In the keys of a dict joined with NUL: a key that may be an array index.
_INDEX_NAME = re.compile(r"(?:\A|\x00)(?:0|[1-9][0-9]{0,9})(?=\x00|\Z)")


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


def fallback(value: object) -> bytes:
    """Reorder the keys in Python, then write with orjson, or in pure Python if it refuses."""
    try:
        return orjson.dumps(_reorder(value))
    except orjson.JSONEncodeError:
        pass
    except RecursionError:
        raise ValueError("value is circular or nested too deeply") from None
    parts: list[str] = []
    try:
        write_js(value, parts, set())
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
        items = ordered_items(value)
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


def ordered_items(mapping: dict[Any, Any]) -> list[tuple[str, Any]] | None:
    """Items in JavaScript key order, or None when the keys are plain strings."""
    try:
        joined = "\x00".join(mapping)
    except TypeError:  # a key that is not a str
        pass
    else:
        if not _INDEX_NAME.search(joined):
            return None
    merged = {key_text(key): item for key, item in mapping.items()}
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


def key_text(key: object) -> str:
    """Return a dict key as the string JavaScript would use."""
    if isinstance(key, str):
        return str.__str__(key)
    if isinstance(key, int) and not isinstance(key, bool):
        return str(int(key))
    raise TypeError(f"dict keys must be str or int, not {type(key).__name__}")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return _ESCAPES.get(char) or f"\\u{ord(char):04x}"


def string_literal(text: str) -> str:
    """A JSON string literal as ``JSON.stringify`` writes it."""
    if any("\ud800" <= c <= "\udfff" for c in text):
        # Join surrogate pairs into their character; lone surrogates stay and get escaped.
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
    return '"' + _NEEDS_ESCAPE.sub(_escape, text) + '"'


def write_js(value: Any, out: list[str], path: set[int]) -> None:
    """Slow path: serialize `value` into `out` in pure Python."""
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(string_literal(value))
    elif isinstance(value, int):
        out.append(str(int(value)))
    elif isinstance(value, float):
        out.append(js_number(float(value)))
    elif isinstance(value, _CONTAINERS):
        if id(value) in path:
            raise ValueError("value is circular")
        path.add(id(value))
        if isinstance(value, dict):
            items = ordered_items(value) or list(value.items())
            out.append("{")
            for i, (key, item) in enumerate(items):
                out.append(("," if i else "") + string_literal(key_text(key)) + ":")
                write_js(item, out, path)
            out.append("}")
        else:
            out.append("[")
            for i, item in enumerate(value):
                if i:
                    out.append(",")
                write_js(item, out, path)
            out.append("]")
        path.discard(id(value))
    else:
        raise TypeError(f"value of type {type(value).__name__} is not JSON-compatible")
