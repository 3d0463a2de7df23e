"""`CollectorSet`: the registry of collectors (spec 7.1), `bulk_fetch` over them (spec 7.3, see
`bulk_fetch.py`), and the shaping helpers `to_object` / `to_api_field_names` (spec 7.4).

`bulk_fetch` never fails because of a collector: one that is not ready, raises, hangs or returns
data that does not match its schema is left out, logged once, and named in the appended
`usage_collector_stats` result.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, TypeVar, Unpack, overload

from .bulk_fetch import BulkFetcher, CollectorResult, FetchLimits
from .collector import (
    AnyCollector,
    AsyncFetch,
    Collector,
    CollectorFetchContext,
    CollectorOptions,
    StatsCollectorOptions,
    SyncFetch,
    UsageCollector,
    make_stats_collector,
    make_usage_collector,
)
from .collector_stats import USAGE_COLLECTOR_STATS_SCHEMA, USAGE_COLLECTOR_STATS_TYPE
from .field_names import to_api_field_names
from .schema import Schema, schema_to_json, validate_schema

__all__ = [
    "UNCHECKED_SCHEMA",
    "CollectorResult",
    "CollectorSet",
]

T = TypeVar("T")

UNCHECKED_SCHEMA: Schema = {
    "type": "pass_through",
    "_meta": {
        "description": "A stats collector without a schema: its output (an object) is sent "
        "as fetched, unchecked."
    },
}
"""How the stored schema and the docs list a stats collector that declares no schema."""


class CollectorSet:
    """The registered collectors, and the concurrent, fault-isolated `bulk_fetch` over them."""

    def __init__(
        self,
        *,
        logger: logging.Logger | None = None,
        collectors: Iterable[AnyCollector] = (),
        **limits: Unpack[FetchLimits],
    ) -> None:
        """``limits`` are `BulkFetcher`'s: timeouts, concurrency, threads and its clock."""
        self._log = logger or logging.getLogger("telemetry_service.usage_collection")
        self._fetcher = BulkFetcher(logger=self._log, **limits)
        self._collectors: dict[str, AnyCollector] = {}
        for collector in collectors:
            self.register_collector(collector)

    # ------------------------------------------------------------------ registry

    @overload
    def make_usage_collector(
        self,
        *,
        type: str,
        fetch: AsyncFetch[T],
        schema: Schema,
        **options: Unpack[CollectorOptions],
    ) -> UsageCollector[T]: ...
    @overload
    def make_usage_collector(
        self, *, type: str, fetch: SyncFetch[T], schema: Schema, **options: Unpack[CollectorOptions]
    ) -> UsageCollector[T]: ...
    def make_usage_collector(
        self,
        *,
        type: str,
        fetch: SyncFetch[Any],
        schema: Schema,
        **options: Unpack[CollectorOptions],
    ) -> UsageCollector[Any]:
        """Create (not register) a usage collector that logs under this set's logger."""
        logger = self._log.getChild(f"collector.{type}")
        return make_usage_collector(type=type, fetch=fetch, schema=schema, logger=logger, **options)

    @overload
    def make_stats_collector(
        self, *, type: str, fetch: AsyncFetch[T], **options: Unpack[StatsCollectorOptions]
    ) -> Collector[T]: ...
    @overload
    def make_stats_collector(
        self, *, type: str, fetch: SyncFetch[T], **options: Unpack[StatsCollectorOptions]
    ) -> Collector[T]: ...
    def make_stats_collector(
        self, *, type: str, fetch: SyncFetch[Any], **options: Unpack[StatsCollectorOptions]
    ) -> Collector[Any]:
        """Create (not register) a stats collector that logs under this set's logger."""
        logger = self._log.getChild(f"collector.{type}")
        return make_stats_collector(type=type, fetch=fetch, logger=logger, **options)

    def register_collector(self, collector: AnyCollector) -> None:
        """Add a collector; its type must be unique (and its schema valid)."""
        if not isinstance(collector, Collector):
            raise TypeError("CollectorSet can only have Collector instances registered")
        if isinstance(collector, UsageCollector) and collector.schema is None:
            raise ValueError(f'Usage collector "{collector.type}" must have a schema')
        if collector.type == USAGE_COLLECTOR_STATS_TYPE:
            raise ValueError(f'Usage collector\'s type "{collector.type}" is reserved.')
        if collector.type in self._collectors:
            raise ValueError(f'Usage collector\'s type "{collector.type}" is duplicated.')
        if collector.schema is not None:
            validate_schema(collector.schema, collector_type=collector.type)
        self._collectors[collector.type] = collector

    def get_collector_by_type(self, type: str) -> AnyCollector | None:
        """The registered collector of that type, or None."""
        return self._collectors.get(type)

    @property
    def collectors(self) -> tuple[AnyCollector, ...]:
        """The registered collectors, in registration order."""
        return tuple(self._collectors.values())

    def to_schema_json(self) -> dict[str, Any]:
        """The telemetry_check JSON of every collector (spec 8), by type; a stats collector
        without a schema is listed as `UNCHECKED_SCHEMA`, so the stored files and the docs name
        everything that is sent."""
        schemas: dict[str, Schema] = {
            c.type: UNCHECKED_SCHEMA if c.schema is None else c.schema
            for c in self._collectors.values()
        }
        schemas[USAGE_COLLECTOR_STATS_TYPE] = USAGE_COLLECTOR_STATS_SCHEMA
        return {"properties": {name: schema_to_json(schemas[name]) for name in sorted(schemas)}}

    # ------------------------------------------------------------------ collection

    async def are_all_collectors_ready(
        self, collectors: Iterable[AnyCollector] | None = None
    ) -> bool:
        """Whether every collector is ready within the readiness timeout."""
        return await self._fetcher.are_all_ready(self._targets(collectors))

    def _targets(self, collectors: Iterable[AnyCollector] | None) -> list[AnyCollector]:
        return list(self._collectors.values() if collectors is None else collectors)

    async def bulk_fetch(
        self,
        context: CollectorFetchContext | None = None,
        collectors: Iterable[AnyCollector] | None = None,
    ) -> list[CollectorResult]:
        """Fetch every ready collector concurrently; append `usage_collector_stats` (spec 7.3).

        Concurrent calls share one in-flight fetch per collector.
        """
        return await self._fetcher.bulk_fetch(self._targets(collectors), context)

    async def bulk_fetch_usage(
        self, context: CollectorFetchContext | None = None
    ) -> list[CollectorResult]:
        """`bulk_fetch` over the usage collectors only."""
        usage = [c for c in self._collectors.values() if isinstance(c, UsageCollector)]
        return await self.bulk_fetch(context, usage)

    # ------------------------------------------------------------------ shaping

    @staticmethod
    def to_object(results: Iterable[CollectorResult]) -> dict[str, object]:
        """``{type: result}`` from `bulk_fetch`'s list (spec 7.4)."""
        return {entry["type"]: entry["result"] for entry in results}

    @staticmethod
    def to_api_field_names(data: object) -> object:
        """Rename keys to API conventions, recursively (spec 7.4)."""
        return to_api_field_names(data)
