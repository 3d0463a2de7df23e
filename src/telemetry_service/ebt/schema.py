"""The EBT schema language and its validator (spec section 6, ``ebt:src/client/src/schema``).

A root schema maps field names to schema values: a leaf ``{"type": "keyword", "_meta": {...}}``,
``pass_through``, an object ``{"properties": {...}}`` (``DYNAMIC_KEY`` makes it a map) or an
array ``{"type": "array", "items": ...}``. Fields are required unless ``_meta.optional`` is true;
objects are strict. :func:`compile_schema` turns a schema into a :class:`Validator` once, at
registration; unlike Kibana (dev only, spec 1.8) the client runs it on every event.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

__all__ = [
    "DYNAMIC_KEY",
    "SchemaError",
    "SchemaValidationError",
    "Validator",
    "compile_schema",
    "format_errors",
]

DYNAMIC_KEY = "DYNAMIC_KEY"

#: One problem: (dotted path, message), as ``schema_to_io_ts`` reports it.
Problem = tuple[str, str]
Check = Callable[[Any, str, list[Problem]], None]

_MISSING: Any = object()
_STRING = ("keyword", "text", "date")
_NUMBER = ("long", "integer", "short", "byte", "double", "float")


class SchemaError(ValueError):
    """A malformed schema (spec 6.4): raised by :func:`compile_schema` at registration."""


class SchemaValidationError(ValueError):
    """A payload that breaks its schema; ``problems`` holds one (path, message) per error."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        super().__init__(format_errors(source, problems))
        self.problems = problems


def format_errors(source: str, problems: list[Problem]) -> str:
    """``Failed to validate payload coming from "<source>":`` then ``\\t- [path]: msg`` lines."""
    lines = dict.fromkeys(f"\t- [{path}]: {message}" for path, message in problems)
    return f'Failed to validate payload coming from "{source}":\n' + "\n".join(lines)


def _typeof(value: Any) -> str:
    """JavaScript's ``typeof`` of the JSON value ``value`` becomes."""
    if value is _MISSING:
        return "undefined"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "object" if value is None or isinstance(value, Mapping | list | tuple) else "unknown"


def _mismatch(expected: str, value: Any) -> str:
    shown = "undefined" if value is _MISSING else value
    try:
        text = json.dumps(shown, separators=(",", ":"), ensure_ascii=False, default=repr)
    except ValueError:
        text = json.dumps(repr(shown))
    actual = json.dumps(_typeof(value))
    return f'{{"expected":"{expected}","actual":{actual},"value":{text}}}'


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class Validator:
    """A compiled schema: :meth:`problems` lists what is wrong, :meth:`validate` raises on it."""

    __slots__ = ("_check", "quick", "source")

    def __init__(self, check: Check, source: str, quick: Callable[[Any], bool] | None) -> None:
        self._check = check
        #: A generated yes/no check for flat schemas (None otherwise): True means valid, False
        #: means "ask :meth:`problems`". It keeps validation ~1 µs on the hot path.
        self.quick = quick
        self.source = source

    def is_valid(self, payload: Any) -> bool:
        """True when ``payload`` matches."""
        quick = self.quick
        if quick is not None and quick(payload):
            return True
        return not self.problems(payload)

    def problems(self, payload: Any) -> list[Problem]:
        found: list[Problem] = []
        self._check(payload, "", found)
        return found

    def validate(self, payload: Any) -> None:
        found = self.problems(payload)
        if found:
            raise SchemaValidationError(self.source, found)


def compile_schema(schema: Mapping[str, Any], source: str) -> Validator:
    """Compile a root schema (the ``properties`` of an implicit object) for ``source``.

    ``source`` names the payload's producer in messages: ``Event Type 'x'`` or
    ``Context Provider 'y'``. Raises :class:`SchemaError` for a malformed schema.
    """
    if not isinstance(schema, Mapping):
        raise SchemaError(f"Malformed schema for key []: expected an object, got {schema!r}.")
    return Validator(_object(schema, ""), source, _flat(schema))


def _flat(schema: Mapping[str, Any]) -> Callable[[Any], bool] | None:
    """A quick yes/no check for a root of leaves only (most event schemas), else None.

    It is generated as straight-line code, one test per field, with exact types only
    (``type(v) in ...``), so bool is never a number; anything it refuses goes to the full
    check, which decides and explains.
    """
    lines = ["def quick(p):", "    if type(p) is not dict: return False", "    n = 0"]
    names: dict[str, Any] = {"M": _MISSING}
    for index, (key, value) in enumerate(schema.items()):
        kind = value.get("type") if isinstance(value, Mapping) else None
        if kind in _STRING:
            test = "type(v) is not str"
        elif kind in _NUMBER:
            test = "type(v) is not int and type(v) is not float"
        elif kind == "boolean":
            test = "type(v) is not bool"
        elif kind == "pass_through":
            test = "False"
        else:
            return None
        names[f"k{index}"] = key
        missing = "pass" if _optional(value) else "return False"
        lines += [
            f"    v = p.get(k{index}, M)",
            f"    if v is M: {missing}",
            f"    elif {test}: return False",
            "    else: n += 1",
        ]
    lines.append("    return n == len(p)")
    exec("\n".join(lines), names)  # noqa: S102 - the source is built above from fixed text
    quick: Callable[[Any], bool] = names["quick"]
    return quick


def _optional(value: Mapping[str, Any]) -> bool:
    meta = value.get("_meta")
    return isinstance(meta, Mapping) and meta.get("optional") is True


def _compile(value: Any, path: str) -> tuple[Check, str]:
    """The check of one schema value and the type name its ``expected`` messages use."""
    if not isinstance(value, Mapping):
        raise SchemaError(f"Malformed schema for key [{path}]: Unsupported schema type {value}.")
    if "properties" in value and "type" not in value:
        return _object(value["properties"], path), "object"
    kind = value.get("type")
    if kind == "array":
        if "items" not in value:
            raise SchemaError(
                f'Malformed schema for key [{path}]: Schema type must include the "items" '
                "declaration."
            )
        return _array(_compile(value["items"], path)[0]), "array"
    if kind == "pass_through":
        return _anything, "unknown"
    if kind in _STRING:
        return _leaf(str, "string"), "string"
    if kind in _NUMBER:
        return _number, "number"
    if kind == "boolean":
        return _leaf(bool, "boolean"), "boolean"
    raise SchemaError(f"Malformed schema for key [{path}]: Unsupported schema type {kind}.")


def _anything(value: Any, path: str, problems: list[Problem]) -> None:
    return


def _leaf(kind: type, name: str) -> Check:
    def check(value: Any, path: str, problems: list[Problem]) -> None:
        if not isinstance(value, kind):
            problems.append((path, _mismatch(name, value)))

    return check


def _number(value: Any, path: str, problems: list[Problem]) -> None:
    # bool is an int in Python, never a number in JSON (spec 6.1, Python note).
    if not isinstance(value, int | float) or isinstance(value, bool):
        problems.append((path, _mismatch("number", value)))


def _array(item: Check) -> Check:
    def check(value: Any, path: str, problems: list[Problem]) -> None:
        if not isinstance(value, list | tuple):
            problems.append((path, _mismatch("array", value)))
            return
        for index, element in enumerate(value):
            item(element, _join(path, str(index)), problems)

    return check


def _object(properties: Any, path: str) -> Check:
    if not isinstance(properties, Mapping):
        raise SchemaError(f"Malformed schema for key [{path}]: properties must be an object.")
    fields: dict[str, tuple[Check, str, bool]] = {}
    for key, value in properties.items():
        field_path = _join(path, key)
        check, name = _compile(value, field_path)
        fields[key] = (check, name, _optional(value))
    dynamic = fields.pop(DYNAMIC_KEY, None)
    strict = _strict_object(fields)
    if dynamic is None:
        return strict
    return _either(strict, _map(dynamic[0])) if fields else _map(dynamic[0])


def _strict_object(fields: dict[str, tuple[Check, str, bool]]) -> Check:
    def check(value: Any, path: str, problems: list[Problem]) -> None:
        if not isinstance(value, Mapping):
            problems.append((path, _mismatch("object", value)))
            return
        before = len(problems)
        for key, (field_check, name, optional) in fields.items():
            field = value.get(key, _MISSING)
            if field is not _MISSING:
                field_check(field, _join(path, key), problems)
            elif not optional:
                problems.append((_join(path, key), _mismatch(name, _MISSING)))
        # The excess check runs only once the nested checks pass ("lists multiple errors").
        if len(problems) == before:
            problems.extend((path, f"excess key '{k}' found") for k in value if k not in fields)

    return check


def _map(values: Check) -> Check:
    def check(value: Any, path: str, problems: list[Problem]) -> None:
        if not isinstance(value, Mapping):
            problems.append((path, _mismatch("object", value)))
            return
        for key, element in value.items():
            values(element, _join(path, str(key)), problems)

    return check


def _either(first: Check, second: Check) -> Check:
    """``DYNAMIC_KEY`` beside known keys: a union, not a merge (test "+ known props")."""

    def check(value: Any, path: str, problems: list[Problem]) -> None:
        attempt: list[Problem] = []
        first(value, path, attempt)
        if not attempt:
            return
        other: list[Problem] = []
        second(value, path, other)
        if other:
            problems.extend(attempt + other)

    return check
