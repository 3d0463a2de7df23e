"""The schema language of usage collectors (Kibana's `MakeSchemaFrom`, spec section 7.2).

A schema is plain data:

- a leaf: ``{"type": "long", "_meta": {"description": "..."}}``, where the type is one of
  `LEAF_TYPES`;
- an object: a mapping of field name to schema (``{"count": {"type": "long"}}``), with an
  optional ``_meta`` key for its description; a ``_meta`` that holds a ``type`` is a data field
  named ``_meta`` instead (in Kibana's ``MakeSchemaFrom`` every key is a field of the output);
  a field named `DYNAMIC_KEY` describes every key of a map-like object;
- an array: ``{"type": "array", "items": <schema>}``;
- a pass-through object: ``{"type": "pass_through", "_meta": {"description": "..."}}``
  (the description is mandatory; the content is not checked).

`validate_schema` checks a schema at registration; `schema_values.py` checks a collector's
output against it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple

__all__ = [
    "DYNAMIC_KEY",
    "FLOAT_TYPES",
    "INTEGER_RANGES",
    "LEAF_TYPES",
    "STRING_TYPES",
    "FieldInfo",
    "Schema",
    "SchemaError",
    "declared_field",
    "field_path",
    "is_typed",
    "iter_fields",
    "leaf",
    "object_fields",
    "schema_from_json",
    "schema_to_json",
    "validate_schema",
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
FLOAT_TYPES = frozenset({"double", "float"})
STRING_TYPES = frozenset({"keyword", "text"})
LEAF_TYPES: frozenset[str] = frozenset(
    {*INTEGER_RANGES, *FLOAT_TYPES, *STRING_TYPES, "boolean", "date"}
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


class FieldInfo(NamedTuple):
    """A schema field for docs: dotted path (``[]`` marks array items), type, description."""

    path: str
    type: str
    description: str | None


def leaf(type_: str, description: str) -> dict[str, Any]:
    """A leaf schema: ``{"type": type_, "_meta": {"description": description}}``."""
    return {"type": type_, "_meta": {"description": description}}


def is_typed(node: Mapping[str, Any]) -> bool:
    """A node with a string `type` is a leaf, array or pass-through; otherwise an object."""
    return isinstance(node.get("type"), str)


def _is_field(key: object, child: object) -> bool:
    """Whether an object's entry is a data field: anything but a ``_meta`` without a ``type``."""
    return key != "_meta" or (isinstance(child, Mapping) and "type" in child)


def object_fields(node: Schema) -> Iterator[tuple[str, Any]]:
    """An object node's ``(name, schema)`` data fields (its ``_meta`` description left out)."""
    return ((key, child) for key, child in node.items() if _is_field(key, child))


def _meta_of(node: Schema) -> Any:
    """The node's ``_meta`` description, or None (an object's data field ``_meta`` is not one)."""
    meta = node.get("_meta")
    return meta if meta is not None and (is_typed(node) or not _is_field("_meta", meta)) else None


def declared_field(node: Schema, key: str) -> Any:
    """The schema of an object's field `key`, or None (`DYNAMIC_KEY` is never a field name)."""
    child = node.get(key)
    return child if key != DYNAMIC_KEY and child is not None and _is_field(key, child) else None


def field_path(path: str, key: str) -> str:
    """``path.key``, with an overlong key shortened (paths are logged and reported)."""
    if len(key) > _MAX_KEY_IN_PATH:
        key = key[:_MAX_KEY_IN_PATH] + "..."
    return f"{path}.{key}" if path else key


def _description(node: Mapping[str, Any]) -> str | None:
    meta = _meta_of(node)
    description = meta.get("description") if isinstance(meta, Mapping) else None
    return description if isinstance(description, str) else None


# --------------------------------------------------------------------------- schema checks


def validate_schema(schema: object, *, collector_type: str) -> None:
    """Raise `SchemaError` if `schema` is not a valid schema (checked at registration)."""
    _check_node(schema, collector_type, "")


def _check_node(node: object, collector_type: str, path: str) -> None:
    def fail(problem: str) -> SchemaError:
        return SchemaError(collector_type, path, problem)

    if not isinstance(node, Mapping):
        raise fail(f"expected a mapping, got {type(node).__name__}")
    if _meta_of(node) is not None:
        _check_meta(node["_meta"], collector_type, field_path(path, "_meta"))
    if not is_typed(node):
        if "type" in node and not isinstance(node["type"], Mapping):
            raise fail(f'"type" must be one of {_ALLOWED_TYPES}')
        for key, child in object_fields(node):
            if not isinstance(key, str) or not key:
                raise fail(f"field names must be non-empty strings, got {key!r}")
            _check_node(child, collector_type, field_path(path, key))
        return
    kind: str = node["type"]
    if kind == "array":
        _check_keys(node, {"type", "items", "_meta"}, fail)
        if "items" not in node:
            raise fail('an array needs "items"')
        _check_node(node["items"], collector_type, field_path(path, "items"))
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


# --------------------------------------------------------------------------- exports


def schema_to_json(schema: Schema) -> dict[str, Any]:
    """The stored JSON form of telemetry_check (spec 8): objects become ``{"properties": ...}``."""
    out: dict[str, Any]
    if is_typed(schema):
        out = {"type": schema["type"]}
        if schema["type"] == "array":
            out["items"] = schema_to_json(schema["items"])
    else:
        out = {"properties": {key: schema_to_json(child) for key, child in object_fields(schema)}}
    if _meta_of(schema) is not None:
        out["_meta"] = dict(schema["_meta"])
    return out


def schema_from_json(data: Mapping[str, Any]) -> dict[str, Any]:
    """The inverse of :func:`schema_to_json`: ``{"properties": ...}`` objects become nesting."""
    if "properties" in data and "type" not in data:
        out: dict[str, Any] = {
            key: schema_from_json(child) for key, child in data["properties"].items()
        }
        if "_meta" in data and "_meta" not in out:  # a data field "_meta" has no room for both
            out["_meta"] = dict(data["_meta"])
        return out
    result = dict(data)
    if data.get("type") == "array" and isinstance(data.get("items"), Mapping):
        result["items"] = schema_from_json(data["items"])
    return result


def iter_fields(schema: Schema, prefix: str = "") -> Iterator[FieldInfo]:
    """Yield every field below `schema` (objects as type ``object``), depth first, for docs;
    a schema that is a single leaf, array or pass-through yields itself (path `prefix` or
    ``<root>``)."""
    if is_typed(schema):
        yield from _iter_node(schema, prefix or "<root>")
        return
    for key, child in object_fields(schema):
        yield from _iter_node(child, f"{prefix}.{key}" if prefix else key)


def _iter_node(node: Schema, path: str) -> Iterator[FieldInfo]:
    if not is_typed(node):
        yield FieldInfo(path, "object", _description(node))
        yield from iter_fields(node, path)
        return
    yield FieldInfo(path, node["type"], _description(node))
    if node["type"] == "array":
        items = node["items"]
        if is_typed(items):
            yield from _iter_node(items, f"{path}[]")
        else:
            yield from iter_fields(items, f"{path}[]")
