from __future__ import annotations

import logging
from typing import Any

import pytest

from telemetry_service.plugins.usage_collection.collector import (
    Collector,
    CollectorFetchContext,
    make_stats_collector,
    make_usage_collector,
)
from telemetry_service.plugins.usage_collection.collector_set import UNCHECKED_SCHEMA, CollectorSet
from telemetry_service.plugins.usage_collection.schema import (
    SchemaError,
    iter_fields,
    schema_from_json,
)

LOGGER = "test.usage_collection"
COUNT = {"count": {"type": "long"}}


def empty(context: CollectorFetchContext) -> dict[str, Any]:
    return {}


def make_set(**options: Any) -> CollectorSet:
    return CollectorSet(logger=logging.getLogger(LOGGER), **options)


# ----------------------------------------------------------------------------- registration


def test_only_collectors_can_be_registered() -> None:
    collectors = make_set()
    with pytest.raises(
        TypeError, match="^CollectorSet can only have Collector instances registered$"
    ):
        collectors.register_collector({"type": "x", "fetch": lambda c: 1})  # type: ignore[arg-type]


def test_duplicate_types_are_rejected_even_across_collector_kinds() -> None:
    collectors = make_set()
    collectors.register_collector(make_stats_collector(type="test_duplicated", fetch=lambda c: 1))
    duplicate = make_usage_collector(type="test_duplicated", fetch=empty, schema=COUNT)
    with pytest.raises(
        ValueError, match='^Usage collector\'s type "test_duplicated" is duplicated.$'
    ):
        collectors.register_collector(duplicate)
    assert collectors.get_collector_by_type("test_duplicated") is not duplicate


def test_the_stats_type_is_reserved() -> None:
    with pytest.raises(ValueError, match='type "usage_collector_stats" is reserved'):
        make_set().register_collector(
            make_stats_collector(type="usage_collector_stats", fetch=empty)
        )


def test_a_usage_collector_without_a_schema_cannot_be_registered() -> None:
    collector = make_usage_collector(type="x", fetch=empty, schema=COUNT)
    collector.schema = None  # type: ignore[assignment]
    with pytest.raises(ValueError, match='Usage collector "x" must have a schema'):
        make_set().register_collector(collector)


def test_the_schema_is_checked_again_at_registration() -> None:
    schema: dict[str, Any] = {"count": {"type": "long"}}
    collector = make_usage_collector(type="mutated", fetch=empty, schema=schema)
    schema["count"]["type"] = "lon"
    with pytest.raises(SchemaError, match='collector "mutated" at "count"'):
        make_set().register_collector(collector)


def test_lookup_and_registration_order() -> None:
    collectors = make_set()
    a = collectors.make_usage_collector(type="a", fetch=empty, schema=COUNT)
    b = collectors.make_stats_collector(type="b", fetch=empty)
    collectors.register_collector(a)
    collectors.register_collector(b)
    assert collectors.get_collector_by_type("a") is a
    assert collectors.get_collector_by_type("missing") is None
    assert collectors.collectors == (a, b)
    assert a.log.name == f"{LOGGER}.collector.a"
    assert CollectorSet(collectors=[a, b]).collectors == (a, b)


@pytest.mark.parametrize(
    "options",
    [
        {"maximum_wait_time_for_all_collectors_s": 0},
        {"fetch_timeout_s": -1},
        {"max_collector_concurrency": 0},
        {"max_threads": 0},
    ],
)
def test_bad_settings_are_rejected(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        make_set(**options)


# ----------------------------------------------------------------------------- other API


@pytest.mark.anyio
async def test_fetch_receives_the_store_and_its_own_logger() -> None:
    seen: list[CollectorFetchContext] = []

    def fetch(context: CollectorFetchContext) -> dict[str, int]:
        seen.append(context)
        return {"count": 1}

    collectors = make_set()
    collector = collectors.make_usage_collector(type="ctx", fetch=fetch, schema=COUNT)
    collectors.register_collector(collector)
    store = object()
    await collectors.bulk_fetch(CollectorFetchContext(store=store, request="req"))
    (context,) = seen
    assert context.store is store
    assert context.logger is collector.log
    assert context.request is None  # did not opt in


@pytest.mark.anyio
async def test_bulk_fetch_over_a_subset_and_usage_only() -> None:
    collectors = make_set()
    usage = make_usage_collector(type="usage", fetch=lambda c: {"count": 1}, schema=COUNT)
    stats = make_stats_collector(type="stats", fetch=lambda c: {"x": 1})
    collectors.register_collector(usage)
    collectors.register_collector(stats)
    only_stats = await collectors.bulk_fetch(collectors=[stats])
    assert [r["type"] for r in only_stats] == ["stats", "usage_collector_stats"]
    only_usage = await collectors.bulk_fetch_usage()
    assert [r["type"] for r in only_usage] == ["usage", "usage_collector_stats"]


@pytest.mark.anyio
async def test_are_all_collectors_ready() -> None:
    collectors = make_set(maximum_wait_time_for_all_collectors_s=0.1)
    collectors.register_collector(make_stats_collector(type="a", fetch=lambda c: 1))
    assert await collectors.are_all_collectors_ready()
    late: Collector[int] = make_stats_collector(type="b", fetch=lambda c: 1, is_ready=lambda: False)
    collectors.register_collector(late)
    assert not await collectors.are_all_collectors_ready()
    assert await collectors.are_all_collectors_ready([collectors.collectors[0]])


def test_to_object_and_to_api_field_names() -> None:
    results: list[Any] = [{"type": "a", "result": {"x": 1}}, {"type": "b", "result": [1]}]
    assert CollectorSet.to_object(results) == {"a": {"x": 1}, "b": [1]}
    assert CollectorSet.to_api_field_names(
        {"uptimeInMillis": 1, "osLoad": {"free_in_bytes": 2}}
    ) == {
        "uptime_ms": 1,
        "os_load": {"free_bytes": 2},
    }


def test_to_schema_json_covers_every_schema_and_the_stats() -> None:
    collectors = make_set()
    collectors.register_collector(make_usage_collector(type="zeta", fetch=empty, schema=COUNT))
    collectors.register_collector(make_usage_collector(type="alpha", fetch=empty, schema=COUNT))
    collectors.register_collector(make_stats_collector(type="no_schema", fetch=empty))
    document = collectors.to_schema_json()
    assert list(document["properties"]) == ["alpha", "no_schema", "usage_collector_stats", "zeta"]
    assert document["properties"]["alpha"] == {"properties": {"count": {"type": "long"}}}
    stats_json = document["properties"]["usage_collector_stats"]["properties"]
    assert stats_json["failed"]["properties"]["count"]["type"] == "short"
    assert stats_json["fetch_duration_breakdown"]["items"]["properties"]["duration"] == {
        "type": "double",
        "_meta": {
            "description": "The execution duration of the fetch function for the collector "
            "in milliseconds"
        },
    }


def test_stats_collectors_without_a_schema_are_listed_as_unchecked() -> None:
    """Kibana lets a stats collector go without a schema; we follow (its output is sent as
    fetched) but list it, as an unchecked pass-through, in the stored schema and the docs, so
    that they name everything that can be sent. With a schema, its output is checked (see
    test_bulk_fetch.py).

    Kibana: packages/kbn-telemetry-tools/src/tools/__fixture__/telemetry_collectors/
    stats_collector.ts ("Stats Collectors are allowed with schema and without them."); spec 7.1.
    """
    collectors = make_set()
    collectors.register_collector(make_stats_collector(type="free", fetch=empty))
    collectors.register_collector(make_stats_collector(type="typed", fetch=empty, schema=COUNT))
    stored = collectors.to_schema_json()["properties"]
    assert stored["free"] == {
        "type": "pass_through",
        "_meta": {"description": UNCHECKED_SCHEMA["_meta"]["description"]},
    }
    assert stored["typed"] == {"properties": {"count": {"type": "long"}}}
    (row,) = iter_fields(schema_from_json(stored["free"]))
    assert (row.path, row.type) == ("<root>", "pass_through")
    assert "without a schema" in (row.description or "")
