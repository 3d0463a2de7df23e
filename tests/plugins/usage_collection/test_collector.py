from __future__ import annotations

import functools
import logging
from typing import Any

import pytest

from telemetry_service.plugins.usage_collection.collector import (
    Collector,
    CollectorFetchContext,
    UsageCollector,
    make_stats_collector,
    make_usage_collector,
)
from telemetry_service.plugins.usage_collection.schema import SchemaError

SCHEMA = {"count": {"type": "long", "_meta": {"description": "How many"}}}


def fetch_sync(context: CollectorFetchContext) -> dict[str, int]:
    return {"count": 1}


async def fetch_async(context: CollectorFetchContext) -> dict[str, int]:
    return {"count": 2}


def test_factories_build_the_right_classes() -> None:
    usage = make_usage_collector(type="my_usage", fetch=fetch_sync, schema=SCHEMA)
    stats = make_stats_collector(type="my_stats", fetch=fetch_sync)
    assert isinstance(usage, UsageCollector)
    assert type(stats) is Collector
    assert usage.type == "my_usage"
    assert usage.schema == SCHEMA
    assert stats.schema is None
    assert usage.is_ready is None  # always ready, no thread needed
    assert repr(usage) == "<UsageCollector 'my_usage'>"


def test_a_usage_collector_needs_a_schema() -> None:
    with pytest.raises(ValueError, match='Usage collector "x" must be instantiated with a schema'):
        make_usage_collector(type="x", fetch=fetch_sync, schema=None)  # type: ignore[call-overload]
    with pytest.raises(TypeError):
        UsageCollector(type="x", fetch=fetch_sync)  # type: ignore[call-arg]


def test_type_and_fetch_are_required() -> None:
    with pytest.raises(ValueError, match="Collector must be instantiated with a type string"):
        make_stats_collector(type="", fetch=fetch_sync)
    with pytest.raises(ValueError, match="type string"):
        make_stats_collector(type=None, fetch=fetch_sync)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match='Collector "x" must be instantiated with a fetch function'):
        make_stats_collector(type="x", fetch={"count": 1})  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="is_ready must be a function"):
        make_stats_collector(type="x", fetch=fetch_sync, is_ready=True)  # type: ignore[call-overload]


def test_the_schema_is_validated_when_the_collector_is_made() -> None:
    with pytest.raises(SchemaError, match='collector "bad" at "a.b": unknown type "lon"'):
        make_usage_collector(type="bad", fetch=fetch_sync, schema={"a": {"b": {"type": "lon"}}})
    with pytest.raises(SchemaError, match='collector "bad_stats"'):
        make_stats_collector(type="bad_stats", fetch=fetch_sync, schema={"a": 1})


def test_sync_and_async_callables_are_told_apart() -> None:
    class AsyncCallable:
        async def __call__(self, context: CollectorFetchContext) -> dict[str, int]:
            return {"count": 3}

    async def is_ready() -> bool:
        return True

    assert not make_stats_collector(type="a", fetch=fetch_sync).is_async_fetch
    assert make_stats_collector(type="b", fetch=fetch_async).is_async_fetch
    assert make_stats_collector(type="c", fetch=functools.partial(fetch_async)).is_async_fetch
    assert make_stats_collector(type="d", fetch=AsyncCallable()).is_async_fetch
    assert make_stats_collector(type="e", fetch=fetch_sync, is_ready=is_ready).is_async_is_ready
    assert not make_stats_collector(
        type="f", fetch=fetch_sync, is_ready=lambda: True
    ).is_async_is_ready


def test_the_fetch_context_carries_the_collectors_logger_and_the_request_only_on_opt_in() -> None:
    request = object()
    context = CollectorFetchContext(store="store", request=request)
    plain = make_stats_collector(type="plain", fetch=fetch_sync)
    extended = make_stats_collector(
        type="extended", fetch=fetch_sync, extend_fetch_context={"request": True}
    )
    seen_plain = plain.context_for(context)
    seen_extended = extended.context_for(context)
    assert seen_plain.store == "store"
    assert seen_plain.request is None
    assert seen_plain.logger is plain.log
    assert plain.log.name.endswith(".plain")
    assert seen_extended.request is request
    assert extended.wants_request
    assert not plain.wants_request
    with pytest.raises(AttributeError):
        context.store = None  # type: ignore[misc]  # frozen, like Kibana's Object.freeze


def test_unknown_extend_fetch_context_keys_are_rejected() -> None:
    options: Any = {"kibanaRequest": True}
    with pytest.raises(ValueError, match="unknown extend_fetch_context key"):
        make_stats_collector(type="x", fetch=fetch_sync, extend_fetch_context=options)


def test_a_given_logger_is_used() -> None:
    logger = logging.getLogger("custom")
    assert make_stats_collector(type="x", fetch=fetch_sync, logger=logger).log is logger
