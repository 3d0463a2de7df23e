from __future__ import annotations

import json
from typing import Any

import pytest

from telemetry_service.plugins.usage_collection.schema import (
    DYNAMIC_KEY,
    LEAF_TYPES,
    FieldInfo,
    SchemaError,
    iter_fields,
    schema_from_json,
    schema_to_json,
    validate_schema,
)

# ----------------------------------------------------------------------------- schema checks


def test_every_leaf_type_is_accepted() -> None:
    assert {"long", "integer", "short", "byte", "double", "float"} <= LEAF_TYPES
    assert {"keyword", "text", "boolean", "date"} <= LEAF_TYPES
    schema = {name: {"type": name, "_meta": {"description": name}} for name in LEAF_TYPES}
    validate_schema(schema, collector_type="all_leaves")


def test_nested_objects_arrays_and_pass_through_are_accepted() -> None:
    schema = {
        "_meta": {"description": "root"},
        "a": {"b": {"c": {"type": "long"}}},
        "list": {"type": "array", "items": {"type": "keyword"}},
        "rows": {"type": "array", "items": {"name": {"type": "keyword"}}},
        "blob": {"type": "pass_through", "_meta": {"description": "free-form"}},
        "by_app": {DYNAMIC_KEY: {"type": "long"}},
        "type": {"type": "keyword"},  # a field that is itself called "type"
    }
    validate_schema(schema, collector_type="ok")


@pytest.mark.parametrize(
    ("schema", "path", "problem"),
    [
        ({"a": {"type": "strnig"}}, "a", 'unknown type "strnig"'),
        ({"a": {"b": {"type": "lon"}}}, "a.b", 'unknown type "lon"'),
        ({"a": "long"}, "a", "expected a mapping, got str"),
        ({"a": {"type": "array"}}, "a", 'an array needs "items"'),
        ({"a": {"type": "array", "items": {"x": {"type": "nope"}}}}, "a.items.x", "unknown type"),
        ({"a": {"type": "pass_through"}}, "a", "pass_through requires _meta.description"),
        (
            {"a": {"type": "pass_through", "_meta": {"description": " "}}},
            "a",
            "pass_through requires _meta.description",
        ),
        ({"a": {"type": "long", "items": {}}}, "a", "unexpected key(s) items"),
        ({"a": {"type": "long", "_meta": {"descr": "x"}}}, "a._meta", "unsupported _meta key"),
        ({"a": {"type": "long", "_meta": {"description": 3}}}, "a._meta", "must be a string"),
        ({"a": {"type": "long", "_meta": "x"}}, "a._meta", "_meta must be a mapping"),
        ({"a": {"type": 5}}, "a", '"type" must be one of'),
        ({"": {"type": "long"}}, "", "field names must be non-empty strings"),
        ([1, 2], "", "expected a mapping, got list"),
    ],
)
def test_bad_schemas_name_the_collector_and_the_path(schema: Any, path: str, problem: str) -> None:
    with pytest.raises(SchemaError) as caught:
        validate_schema(schema, collector_type="my_plugin")
    error = caught.value
    assert error.collector_type == "my_plugin"
    assert error.path == path
    assert problem in str(error)
    assert str(error).startswith('Invalid schema for collector "my_plugin"')
    if path:
        assert f'at "{path}"' in str(error)


def test_a_meta_field_with_a_type_is_a_data_field() -> None:
    """``_meta`` holding a ``type`` is a field of the output like any other key.

    Kibana: src/plugins/usage_collection/server/collector/types.ts, ``MakeSchemaFrom<Base>``
    (every key of the fetched object, ``_meta`` included, maps to ``{type, _meta?}``);
    packages/kbn-telemetry-tools/src/tools/manage_schema.ts (``isMetaDescription``: only a
    ``_meta`` that holds nothing but a description is left out of the mapping).
    """
    meta_field = {"type": "keyword", "_meta": {"description": "A data field named _meta."}}
    schema = {"_meta": meta_field, "count": {"type": "long"}}
    validate_schema(schema, collector_type="meta_field")
    stored = schema_to_json(schema)
    assert stored == {"properties": {"_meta": meta_field, "count": {"type": "long"}}}
    assert schema_from_json(stored) == schema
    assert [f.path for f in iter_fields(schema)] == ["_meta", "count"]
    assert [f.description for f in iter_fields(schema)][0] == "A data field named _meta."
    # without a type, _meta is still the object's description (and checked as one)
    described = {"_meta": {"description": "Counts."}, "count": {"type": "long"}}
    assert schema_to_json(described)["_meta"] == {"description": "Counts."}
    assert [f.path for f in iter_fields(described)] == ["count"]
    with pytest.raises(SchemaError, match="unsupported _meta key"):
        validate_schema({"_meta": {"kind": "long"}}, collector_type="c")
    with pytest.raises(SchemaError, match='unknown type "wrong"'):
        validate_schema({"_meta": {"type": "wrong"}}, collector_type="c")


def test_unknown_type_error_lists_the_allowed_types() -> None:
    with pytest.raises(SchemaError, match="allowed: boolean, byte, date, .*array, pass_through"):
        validate_schema({"a": {"type": "string"}}, collector_type="x")


# ----------------------------------------------------------------------------- exports


def test_schema_to_json_uses_properties_for_objects() -> None:
    schema = {
        "dashboards": {
            "_meta": {"description": "Dashboards"},
            "total": {"type": "long", "_meta": {"description": "How many"}},
        },
        "views": {
            "type": "array",
            "items": {"appId": {"type": "keyword"}},
        },
        "names": {"type": "array", "items": {"type": "keyword", "_meta": {"description": "n"}}},
        "cfg": {"type": "pass_through", "_meta": {"description": "raw"}},
    }
    assert schema_to_json(schema) == {
        "properties": {
            "dashboards": {
                "properties": {"total": {"type": "long", "_meta": {"description": "How many"}}},
                "_meta": {"description": "Dashboards"},
            },
            "views": {"type": "array", "items": {"properties": {"appId": {"type": "keyword"}}}},
            "names": {"type": "array", "items": {"type": "keyword", "_meta": {"description": "n"}}},
            "cfg": {"type": "pass_through", "_meta": {"description": "raw"}},
        }
    }
    json.dumps(schema_to_json(schema))  # plain JSON data


def test_schema_to_json_keeps_declaration_order() -> None:
    schema = {"z": {"type": "long"}, "a": {"type": "long"}, "m": {"type": "long"}}
    assert list(schema_to_json(schema)["properties"]) == ["z", "a", "m"]


def test_iter_fields_lists_every_field_for_docs() -> None:
    schema = {
        "_meta": {"description": "root"},
        "os": {
            "_meta": {"description": "Operating system"},
            "name": {"type": "keyword", "_meta": {"description": "OS name"}},
        },
        "views": {"type": "array", "items": {"appId": {"type": "keyword"}}},
        "names": {"type": "array", "items": {"type": "keyword", "_meta": {"description": "n"}}},
        "cfg": {"type": "pass_through", "_meta": {"description": "raw"}},
    }
    assert list(iter_fields(schema)) == [
        FieldInfo("os", "object", "Operating system"),
        FieldInfo("os.name", "keyword", "OS name"),
        FieldInfo("views", "array", None),
        FieldInfo("views[].appId", "keyword", None),
        FieldInfo("names", "array", None),
        FieldInfo("names[]", "keyword", "n"),
        FieldInfo("cfg", "pass_through", "raw"),
    ]
    path, kind, description = next(iter_fields(schema))
    assert (path, kind, description) == ("os", "object", "Operating system")
