"""What the events API says about the properties of a sample of events (pure; runs in a
worker thread): their leaf paths and kinds, and one property's breakdown.

A leaf's kind is ``keyword`` (strings), ``number`` or ``boolean``: the most frequent of the
three among the sampled values (ties in that order); leaves that hold only arrays or nulls
are not listed.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import orjson

from ..analysis import leaf_fields, percentile

__all__ = ["MAX_PATHS", "property_breakdown", "property_paths"]

#: The most property paths listed for one event type.
MAX_PATHS = 1000
_KINDS = {"string": "keyword", "number": "number", "boolean": "boolean"}


def _objects(texts: Sequence[str]) -> list[dict[str, Any]]:
    decoded = (orjson.loads(text) for text in texts)
    return [value for value in decoded if isinstance(value, dict)]


def property_paths(texts: Sequence[str]) -> list[dict[str, Any]]:
    """``[{path, kind, count}]`` of the leaves of the properties (JSON texts), the most
    frequent first; `count` is the number of events that hold the path."""
    fields, _ = leaf_fields(_objects(texts), max_fields=MAX_PATHS)
    paths = []
    for item in fields:
        kinds = {_KINDS[k]: n for k, n in item["kinds"].items() if k in _KINDS}
        if kinds:
            kind = max(kinds, key=lambda k: (kinds[k], -list(_KINDS.values()).index(k)))
            paths.append({"path": item["path"], "kind": kind, "count": item["count"]})
    paths.sort(key=lambda p: (-p["count"], p["path"]))
    return paths


def _value(properties: dict[str, Any], path: Sequence[str]) -> Any:
    node: Any = properties
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def property_breakdown(
    texts: Sequence[str], path: Sequence[str], *, top: int
) -> dict[str, Any] | None:
    """One property over the sampled events: the `top` keywords with their counts, number
    statistics (min, max, avg, p50, p90, p99) or true/false counts, for its kind; None when
    no sampled event holds a keyword, number or boolean there."""
    strings: Counter[str] = Counter()
    numbers: list[float] = []
    booleans = Counter({"true": 0, "false": 0})
    for properties in _objects(texts):
        value = _value(properties, path)
        if isinstance(value, bool):
            booleans["true" if value else "false"] += 1
        elif isinstance(value, int | float) and math.isfinite(value):
            numbers.append(float(value))
        elif isinstance(value, str):
            strings[value] += 1
    counts = {
        "keyword": strings.total(),
        "number": len(numbers),
        "boolean": booleans.total(),
    }
    kind = max(counts, key=lambda k: counts[k])  # ties: the first of the three
    count = counts[kind]
    if count == 0:
        return None
    if kind == "keyword":
        ranked = sorted(strings.items(), key=lambda pair: (-pair[1], pair[0]))[:top]
        return {"kind": kind, "count": count, "top": [{"value": v, "count": n} for v, n in ranked]}
    if kind == "boolean":
        return {"kind": kind, "count": count, **booleans}
    numbers.sort()
    stats = {f"p{q}": percentile(numbers, q) for q in (50, 90, 99)}
    return {
        "kind": kind,
        "count": count,
        "min": numbers[0],
        "max": numbers[-1],
        "avg": math.fsum(numbers) / count,
        **stats,
    }
