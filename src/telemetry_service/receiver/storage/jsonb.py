"""What PostgreSQL's ``jsonb`` holds of a payload: it refuses NUL characters and lone
surrogates in strings, so they are stored as U+FFFD (``clusters.payload``, the latest snapshot
of each cluster); and how ``payload #> path`` reads a field of it, for the payloads that are
not in ``clusters.payload`` yet (the fold copies them there, ``queries/field_fold.py``)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from .records import FieldValue
from .sql import field_value, json_kind

__all__ = ["UNSAFE", "clean", "path_value", "refused", "safe", "safe_json", "safe_text"]

#: What jsonb refuses in a string, as JSON text writes it: a NUL escape, and a surrogate
#: escape (lone ones; pairs are rewritten harmlessly).
UNSAFE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")
#: An array index as ``#>`` reads one (C's ``strtol``: leading white space, a sign, digits).
_INDEX = re.compile(r"[ \t\n\v\f\r]*[+-]?[0-9]+")
_MISSING = object()


def clean(text: str) -> str:
    """`text` with NUL characters and lone surrogates replaced by U+FFFD."""
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        text = "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in text)
    return text


def safe(value: Any) -> Any:
    """A copy with :func:`clean` strings and keys."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, list):
        return [safe(item) for item in value]
    if isinstance(value, dict):
        return {clean(key): safe(item) for key, item in value.items()}
    return value


def refused(text: str) -> bool:
    """Whether JSON `text` holds what jsonb refuses (:data:`UNSAFE`)."""
    # A backslash is rare in a payload and found at memchr's speed ("\\u" is not: ~1 ns a
    # character).
    return "\\" in text and UNSAFE.search(text) is not None


def safe_json(value: Any) -> str:
    """The :func:`safe` copy of `value` written compactly: ingest's query text of a payload
    that :func:`refused`."""
    return json.dumps(safe(value), ensure_ascii=False, separators=(",", ":"))


def safe_text(text: str) -> str:
    """Stored JSON text as jsonb can read it: `text` itself, or, when jsonb :func:`refused` it,
    :func:`safe_json` of its value (what ingest stored as its query text)."""
    return safe_json(json.loads(text)) if refused(text) else text


def path_value(payload: Any, path: Sequence[str]) -> FieldValue:
    """``(jsonb_typeof(payload #> path), payload #>> path)`` of a decoded :func:`safe`
    payload, normalized as ``sql.field_value`` normalizes PostgreSQL's answer: an array's
    element is addressed by its index (negative ones from its end), as ``#>`` does."""
    node: Any = payload
    for key in path:
        if isinstance(node, dict):
            node = node.get(key, _MISSING)
        elif isinstance(node, list) and _INDEX.fullmatch(key):
            index = int(key)
            index += len(node) if index < 0 else 0
            node = node[index] if 0 <= index < len(node) else _MISSING
        else:
            node = _MISSING
        if node is _MISSING:
            return FieldValue("missing", None)
    return field_value(json_kind(node), node)
