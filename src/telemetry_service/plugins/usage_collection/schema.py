"""The schema language of usage collectors (Kibana's `MakeSchemaFrom`, spec section 7.2).

A schema is plain data:

- a leaf: ``{"type": "long", "_meta": {"description": "..."}}``, where the type is one of
  `LEAF_TYPES`;
- an object: a mapping of field name to schema (``{"count": {"type": "long"}}``), with an
  optional ``_meta`` key; a field named `DYNAMIC_KEY` describes every key of a map-like object;
- an array: ``{"type": "array", "items": <schema>}``;
- a pass-through object: ``{"type": "pass_through", "_meta": {"description": "..."}}``
  (the description is mandatory; the content is not checked).

`validate_schema` checks a schema at registration; `validate_value` checks a collector's
output against it (undeclared fields are violations: nothing leaves that was not declared).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple

__all__ = [
    "DYNAMIC_KEY",
    "INTEGER_RANGES",
    "LEAF_TYPES",
    "FieldInfo",
    "Schema",
    "SchemaError",
    "SchemaViolation",
    "iter_fields",
    "schema_from_json",
    "schema_to_json",
    "validate_schema",
    "validate_value",
]

Schema = Mapping[str, Any]
"""A schema node: a leaf, an object, an array or a pass-through (see the module docstring)."""

DYNAMIC_KEY = "DYNAMIC_KEY"
"""Field name that describes every key of a map-like object (flag it for human review)."""

INTEGER_RANGES: Mapping[str, tuple[int, int]] = {
    "long": (-(2**63), 2**63 - 1),
    "integer": (-(2**31), 2**31 - 1),
    "short": (-(2**15), 2**15 - 1),
    "byte": (-(2**7), 2**7 - 1),
}
_FLOAT_TYPES = frozenset({"double", "float"})
_FLOAT32_MAX = 3.4028234663852886e38
_STRING_TYPES = frozenset({"keyword", "text"})
LEAF_TYPES: frozenset[str] = frozenset(
    {*INTEGER_RANGES, *_FLOAT_TYPES, *_STRING_TYPES, "boolean", "date"}
)
_ALLOWED_TYPES = ", ".join([*sorted(LEAF_TYPES), "array", "pass_through"])
_META_KEYS = frozenset({"description", "optional"})
_MAX_KEY_IN_PATH = 64


class SchemaError(ValueError):
    """A collector's schema is malformed; names the collector type and the field path."""

    def __init__(self, collector_type: str, path: str, problem: str) -> None:
        self.collector_type = collector_type
        self.path = path
        self.problem = problem
        where = f' at "{path}"' if path else ""
        super().__init__(f'Invalid schema for collector "{collector_type}"{where}: {problem}')


@dataclass(frozen=True, slots=True)
class SchemaViolation:
    """One place where a value does not match its schema (the message never holds the value)."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path or '<root>'}: {self.message}"


class FieldInfo(NamedTuple):
    """A schema field for docs: dotted path (``[]`` marks array items), type, description."""

    path: str
    type: str
    description: str | None


def _is_typed(node: Mapping[str, Any]) -> bool:
    """A node with a string `type` is a leaf, array or pass-through; otherwise an object."""
    return isinstance(node.get("type"), str)


def _join(path: str, key: str) -> str:
    if len(key) > _MAX_KEY_IN_PATH:
        key = key[:_MAX_KEY_IN_PATH] + "..."
    return f"{path}.{key}" if path else key


def _description(node: Mapping[str, Any]) -> str | None:
    meta = node.get("_meta")
    if isinstance(meta, Mapping):
        description = meta.get("description")
        if isinstance(description, str):
            return description
    return None


# --------------------------------------------------------------------------- schema checks


def validate_schema(schema: object, *, collector_type: str) -> None:
    """Raise `SchemaError` if `schema` is not a valid schema (checked at registration)."""
    _check_node(schema, collector_type, "")


def _check_node(node: object, collector_type: str, path: str) -> None:
    def fail(problem: str) -> SchemaError:
        return SchemaError(collector_type, path, problem)

    if not isinstance(node, Mapping):
        raise fail(f"expected a mapping, got {type(node).__name__}")
    if "_meta" in node:
        _check_meta(node["_meta"], collector_type, _join(path, "_meta"))
    if not _is_typed(node):
        if "type" in node and not isinstance(node["type"], Mapping):
            raise fail(f'"type" must be one of {_ALLOWED_TYPES}')
        for key, child in node.items():
            if key == "_meta":
                continue
            if not isinstance(key, str) or not key:
                raise fail(f"field names must be non-empty strings, got {key!r}")
            _check_node(child, collector_type, _join(path, key))
        return
    kind: str = node["type"]
    if kind == "array":
        _check_keys(node, {"type", "items", "_meta"}, fail)
        if "items" not in node:
            raise fail('an array needs "items"')
        _check_node(node["items"], collector_type, _join(path, "items"))
    elif kind == "pass_through":
        _check_keys(node, {"type", "_meta"}, fail)
        if not (_description(node) or "").strip():
            raise fail("pass_through requires _meta.description")
    elif kind in LEAF_TYPES:
        _check_keys(node, {"type", "_meta"}, fail)
    else:
        raise fail(f'unknown type "{kind}"; allowed: {_ALLOWED_TYPES}')


def _check_keys(
    node: Mapping[str, Any], allowed: set[str], fail: Callable[[str], SchemaError]
) -> None:
    extra = sorted(str(key) for key in node if key not in allowed)
    if extra:
        kind = node["type"]
        raise fail(f"unexpected key(s) {', '.join(extra)} in a {kind} (allowed: {sorted(allowed)})")


def _check_meta(meta: object, collector_type: str, path: str) -> None:
    if not isinstance(meta, Mapping):
        raise SchemaError(collector_type, path, "_meta must be a mapping")
    extra = sorted(str(key) for key in meta if key not in _META_KEYS)
    if extra:
        problem = f"unsupported _meta key(s) {', '.join(extra)} (allowed: description, optional)"
        raise SchemaError(collector_type, path, problem)
    if "description" in meta and not isinstance(meta["description"], str):
        raise SchemaError(collector_type, path, "_meta.description must be a string")
    if "optional" in meta and not isinstance(meta["optional"], bool):
        raise SchemaError(collector_type, path, "_meta.optional must be a boolean")


# --------------------------------------------------------------------------- value checks


def validate_value(schema: Schema, value: object, *, limit: int = 100) -> list[SchemaViolation]:
    """Check `value` against a (valid) schema; return at most `limit` violations.

    Absent fields and ``None`` are allowed anywhere; undeclared fields are violations.
    """
    found: list[SchemaViolation] = []
    _check_value(schema, value, "", found, limit)
    return found


def _check_value(
    node: Schema, value: object, path: str, found: list[SchemaViolation], limit: int
) -> None:
    if value is None or len(found) >= limit:
        return
    if not _is_typed(node):
        _check_object(node, value, path, found, limit)
        return
    kind: str = node["type"]
    if kind == "array":
        if not isinstance(value, list | tuple):
            found.append(SchemaViolation(path, f"expected an array, got {_kind(value)}"))
            return
        for index, item in enumerate(value):
            _check_value(node["items"], item, f"{path}[{index}]", found, limit)
    elif kind == "pass_through":
        if not isinstance(value, Mapping):
            found.append(SchemaViolation(path, f"expected an object, got {_kind(value)}"))
    else:
        problem = _leaf_problem(kind, value)
        if problem:
            found.append(SchemaViolation(path, problem))


def _check_object(
    node: Schema, value: object, path: str, found: list[SchemaViolation], limit: int
) -> None:
    if not isinstance(value, Mapping):
        found.append(SchemaViolation(path, f"expected an object, got {_kind(value)}"))
        return
    dynamic = node.get(DYNAMIC_KEY)
    for key, child in value.items():
        if len(found) >= limit:
            return
        if not isinstance(key, str):
            found.append(SchemaViolation(path, f"field names must be strings, got {_kind(key)}"))
            continue
        child_path = _join(path, key)
        declared = node.get(key) if key not in ("_meta", DYNAMIC_KEY) else None
        if declared is None:
            declared = dynamic
        if declared is None:
            found.append(SchemaViolation(child_path, "field is not declared in the schema"))
            continue
        _check_value(declared, child, child_path, found, limit)


def _kind(value: object) -> str:
    return type(value).__name__


def _leaf_problem(kind: str, value: object) -> str | None:
    """Return why `value` is not a valid `kind`, or None (never quotes the value)."""
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if kind in INTEGER_RANGES:
        if not is_number or (isinstance(value, float) and not value.is_integer()):
            return f"expected {kind} (an integer), got {_kind(value)}"
        low, high = INTEGER_RANGES[kind]
        if not low <= value <= high:  # type: ignore[operator]
            return f"value out of range for {kind} ({low}..{high})"
        return None
    if kind in _FLOAT_TYPES:
        if not is_number:
            return f"expected {kind} (a number), got {_kind(value)}"
        if not math.isfinite(value):  # type: ignore[arg-type]
            return f"expected a finite {kind}"
        if kind == "float" and abs(value) > _FLOAT32_MAX:  # type: ignore[arg-type]
            return "value out of range for float (32-bit)"
        return None
    if kind in _STRING_TYPES:
        return None if isinstance(value, str) else f"expected {kind} (a string), got {_kind(value)}"
    if kind == "boolean":
        return None if isinstance(value, bool) else f"expected boolean, got {_kind(value)}"
    return _date_problem(value, is_number)


def _date_problem(value: object, is_number: bool) -> str | None:
    """A date is an ISO-8601 string, a `datetime`/`date`, or epoch milliseconds (spec 7.2)."""
    if isinstance(value, datetime | date):
        return None
    if is_number:
        return None if math.isfinite(value) else "expected a finite date"  # type: ignore[arg-type]
    if isinstance(value, str):
        try:
            datetime.fromisoformat(value)
        except ValueError:
            return "expected an ISO-8601 date string"
        return None
    return f"expected date (an ISO-8601 string), got {_kind(value)}"


# --------------------------------------------------------------------------- exports


def schema_to_json(schema: Schema) -> dict[str, Any]:
    """The stored JSON form of telemetry_check (spec 8): objects become ``{"properties": ...}``."""
    if _is_typed(schema):
        out: dict[str, Any] = {"type": schema["type"]}
        if schema["type"] == "array":
            out["items"] = schema_to_json(schema["items"])
        if "_meta" in schema:
            out["_meta"] = dict(schema["_meta"])
        return out
    properties = {key: schema_to_json(child) for key, child in schema.items() if key != "_meta"}
    result: dict[str, Any] = {"properties": properties}
    if "_meta" in schema:
        result["_meta"] = dict(schema["_meta"])
    return result


def schema_from_json(data: Mapping[str, Any]) -> dict[str, Any]:
    """The inverse of :func:`schema_to_json`: ``{"properties": ...}`` objects become nesting."""
    if "properties" in data and "type" not in data:
        out: dict[str, Any] = {
            key: schema_from_json(child) for key, child in data["properties"].items()
        }
        if "_meta" in data:
            out["_meta"] = dict(data["_meta"])
        return out
    result = dict(data)
    if data.get("type") == "array" and isinstance(data.get("items"), Mapping):
        result["items"] = schema_from_json(data["items"])
    return result


def iter_fields(schema: Schema, prefix: str = "") -> Iterator[FieldInfo]:
    """Yield every field below `schema` (objects as type ``object``), depth first, for docs."""
    for key, child in schema.items():
        if key == "_meta":
            continue
        yield from _iter_node(child, f"{prefix}.{key}" if prefix else key)


def _iter_node(node: Schema, path: str) -> Iterator[FieldInfo]:
    if not _is_typed(node):
        yield FieldInfo(path, "object", _description(node))
        yield from iter_fields(node, path)
        return
    yield FieldInfo(path, node["type"], _description(node))
    if node["type"] == "array":
        items = node["items"]
        if _is_typed(items):
            yield from _iter_node(items, f"{path}[]")
        else:
            yield from iter_fields(items, f"{path}[]")
