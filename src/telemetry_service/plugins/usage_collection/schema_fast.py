"""A fast first look at a collector's output: does all of it match its schema?

`prune_value` walks every value in Python (a 5 MB output: about half a second). Most outputs
match their schema whole; `matches_steps` says so in a fraction of that time by checking
column-wise with built-ins that loop in C: the types of all the values of one field at once
(``set(map(type, column))``), integer ranges with ``min`` and ``max``, the keys of all the
objects of a level with ``frozenset.issuperset``. It yields after every `CHUNK` values, like
`prune_steps`, so that it runs on the event loop in slices.

It is sound, not complete: True only when `prune_value` would keep everything and report
nothing; False ("not sure": a violation, a `DYNAMIC_KEY` map, a ``date``, a ``Mapping`` that is
not a ``dict``, a subclass of a built-in type) sends the output to the full check.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from itertools import chain
from typing import Any

from .schema import DYNAMIC_KEY, FLOAT_TYPES, INTEGER_RANGES, STRING_TYPES, Schema, is_typed
from .schema import object_fields as _object_fields

__all__ = ["CHUNK", "matches_steps"]

CHUNK = 2000
"""Values checked between two yields."""
_FLOAT32_MAX = 3.4028234663852886e38
_NONE = type(None)
_EXACT: dict[str, frozenset[type]] = {
    **dict.fromkeys(INTEGER_RANGES, frozenset({int})),
    **dict.fromkeys(FLOAT_TYPES, frozenset({int, float})),
    **dict.fromkeys(STRING_TYPES, frozenset({str})),
    "boolean": frozenset({bool}),
    "pass_through": frozenset({dict}),
}
Check = Generator[None, None, bool]


def matches_steps(schema: Schema, value: object) -> Check:
    """True when `value` matches `schema` whole (see the module docstring); yields every
    `CHUNK` values."""
    try:
        return (yield from _many(schema, [value]))
    except (OverflowError, TypeError, ValueError):  # e.g. a huge int for a float
        return False


def _many(node: Schema, values: list[Any]) -> Check:
    for start in range(0, len(values), CHUNK):
        if not (yield from _part(node, values[start : start + CHUNK])):
            return False
        yield
    return True


def _part(node: Schema, values: list[Any]) -> Check:
    types = set(map(type, values))
    if _NONE in types:
        types.discard(_NONE)
        values = [v for v in values if v is not None]
    if not values:
        return True
    if not is_typed(node):
        return types == {dict} and (yield from _objects(node, values))
    kind: str = node["type"]
    if kind == "array":
        return types <= {list, tuple} and (
            yield from _many(node["items"], list(chain.from_iterable(values)))
        )
    if not types <= _EXACT.get(kind, frozenset()):
        return False
    if kind in INTEGER_RANGES:
        low, high = INTEGER_RANGES[kind]
        return bool(low <= min(values) and max(values) <= high)
    if kind in FLOAT_TYPES:
        finite = all(map(math.isfinite, values))
        return finite and (kind != "float" or max(map(abs, values)) <= _FLOAT32_MAX)
    return True


def _objects(node: Schema, dicts: list[dict[Any, Any]]) -> Check:
    if DYNAMIC_KEY in node:
        return False
    fields = {key: child for key, child in _object_fields(node) if child is not None}
    if not all(map(frozenset(fields).issuperset, dicts)):
        return False
    for key, child in fields.items():
        if not (yield from _many(child, [d.get(key) for d in dicts])):
            return False
    return True
