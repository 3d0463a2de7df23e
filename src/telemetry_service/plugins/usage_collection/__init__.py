"""The ``usage_collection`` plugin: collectors with schemas, bulk fetch, usage counters."""

from .collector import (
    Collector,
    CollectorFetchContext,
    UsageCollector,
    make_stats_collector,
    make_usage_collector,
)
from .collector_set import CollectorResult, CollectorSet
from .contracts import UsageCollectionSetup
from .field_names import to_api_field_names
from .plugin import UsageCollectionPlugin
from .schema import Schema, SchemaError, iter_fields, leaf, schema_to_json
from .schema_values import validate_value

__all__ = [
    "Collector",
    "CollectorFetchContext",
    "CollectorResult",
    "CollectorSet",
    "Schema",
    "SchemaError",
    "UsageCollectionPlugin",
    "UsageCollectionSetup",
    "UsageCollector",
    "iter_fields",
    "leaf",
    "make_stats_collector",
    "make_usage_collector",
    "schema_to_json",
    "to_api_field_names",
    "validate_value",
]
