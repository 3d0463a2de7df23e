"""A collector's output checked against its schema (spec 7.2): `prune_value` keeps what matches
and drops, field by field, what does not (nothing leaves that was not declared);
`validate_value` only lists the violations.

Absent fields and ``None`` are allowed anywhere. A field that is not declared, or whose value
does not match its type, is dropped; an array item that does not match is dropped from its
array; an output that is not even of its schema's kind is dropped whole. Violations name the
path and the problem, never the value.

`prune_steps` is the same check as a generator that yields after every `STEP_VALUES` values,
so that a large output can be checked on the event loop in slices (`prune_in_slices`).
"""

from __future__ import annotations

import math
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from datetime import date, datetime

from .schema import (
    DYNAMIC_KEY,
    FLOAT_TYPES,
    INTEGER_RANGES,
    STRING_TYPES,
    Schema,
    declared_field,
    field_path,
    is_typed,
)

__all__ = ["STEP_VALUES", "SchemaViolation", "prune_steps", "prune_value", "validate_value"]

_FLOAT32_MAX = 3.4028234663852886e38
_DROP = object()
STEP_VALUES = 256
"""Values `prune_steps` checks between two yields (well under a millisecond)."""
Steps = Generator[None, None, object]


@dataclass(frozen=True, slots=True)
class SchemaViolation:
    """One place where a value does not match its schema (the message never holds the value)."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path or '<root>'}: {self.message}"


def validate_value(schema: Schema, value: object, *, limit: int = 100) -> list[SchemaViolation]:
    """Check `value` against a (valid) schema; return at most `limit` violations."""
    return prune_value(schema, value, limit=limit)[1]


def prune_value(
    schema: Schema, value: object, *, limit: int = 100
) -> tuple[object, list[SchemaViolation]]:
    """``(what matches the schema, at most `limit` violations)``; None if nothing matches.

    Every violating part is dropped (only the first `limit` are listed); `value` itself is never
    modified, and returned as-is when it matches.
    """
    steps = prune_steps(schema, value, limit=limit)
    while True:
        try:
            next(steps)
        except StopIteration as done:
            result: tuple[object, list[SchemaViolation]] = done.value
            return result


def prune_steps(
    schema: Schema, value: object, *, limit: int = 100
) -> Generator[None, None, tuple[object, list[SchemaViolation]]]:
    """`prune_value` as a generator: it yields every `STEP_VALUES` values and returns the
    same tuple."""
    pruner = _Pruner(limit)
    kept = yield from pruner.node(schema, value, "")
    return (None if kept is _DROP else kept), pruner.found


class _Pruner:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.found: list[SchemaViolation] = []
        self.values = 0

    def drop(self, path: str, message: str) -> object:
        if len(self.found) < self.limit:
            self.found.append(SchemaViolation(path, message))
        return _DROP

    def node(self, node: Schema, value: object, path: str) -> Steps:
        """The kept part of `value`, or `_DROP`."""
        self.values += 1
        if self.values >= STEP_VALUES:
            self.values = 0
            yield
        if value is None:
            return None
        if not is_typed(node):
            return (yield from self.object(node, value, path))
        kind: str = node["type"]
        if kind == "array":
            if not isinstance(value, list | tuple):
                return self.drop(path, f"expected an array, got {_kind(value)}")
            items = []
            for i, v in enumerate(value):
                items.append((yield from self.node(node["items"], v, f"{path}[{i}]")))
            if all(new is old for new, old in zip(items, value, strict=True)):
                return value
            return [item for item in items if item is not _DROP]
        if kind == "pass_through":
            if isinstance(value, Mapping):
                return value
            return self.drop(path, f"expected an object, got {_kind(value)}")
        problem = _leaf_problem(kind, value)
        return self.drop(path, problem) if problem else value

    def object(self, node: Schema, value: object, path: str) -> Steps:
        if not isinstance(value, Mapping):
            return self.drop(path, f"expected an object, got {_kind(value)}")
        dynamic = node.get(DYNAMIC_KEY)
        kept: dict[str, object] = {}
        changed = False
        for key, child in value.items():
            if not isinstance(key, str):
                self.drop(path, f"field names must be strings, got {_kind(key)}")
                changed = True
                continue
            child_path = field_path(path, key)
            declared = declared_field(node, key)
            if declared is None:
                declared = dynamic
            new = (
                (yield from self.node(declared, child, child_path))
                if declared is not None
                else self.drop(child_path, "field is not declared in the schema")
            )
            changed = changed or new is not child
            if new is not _DROP:
                kept[key] = new
        return kept if changed else value


def _kind(value: object) -> str:
    return type(value).__name__


def _leaf_problem(kind: str, value: object) -> str | None:
    """Return why `value` is not a valid `kind`, or None (never quotes the value)."""
    number = value if isinstance(value, int | float) and not isinstance(value, bool) else None
    if kind in INTEGER_RANGES:
        if number is None or (isinstance(number, float) and not number.is_integer()):
            return f"expected {kind} (an integer), got {_kind(value)}"
        low, high = INTEGER_RANGES[kind]
        return None if low <= number <= high else f"value out of range for {kind} ({low}..{high})"
    if kind in FLOAT_TYPES:
        if number is None:
            return f"expected {kind} (a number), got {_kind(value)}"
        if not math.isfinite(number):
            return f"expected a finite {kind}"
        if kind == "float" and abs(number) > _FLOAT32_MAX:
            return "value out of range for float (32-bit)"
        return None
    if kind in STRING_TYPES:
        return None if isinstance(value, str) else f"expected {kind} (a string), got {_kind(value)}"
    if kind == "boolean":
        return None if isinstance(value, bool) else f"expected boolean, got {_kind(value)}"
    return _date_problem(value, number)


def _date_problem(value: object, number: float | None) -> str | None:
    """A date is an ISO-8601 string, a `datetime`/`date`, or epoch milliseconds (spec 7.2)."""
    if isinstance(value, datetime | date):
        return None
    if number is not None:
        return None if math.isfinite(number) else "expected a finite date"
    if isinstance(value, str):
        try:
            datetime.fromisoformat(value)
        except ValueError:
            return "expected an ISO-8601 date string"
        return None
    return f"expected date (an ISO-8601 string), got {_kind(value)}"
