"""The ``usage_counters`` and ``ui_counters`` collectors: stored counters as daily events."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from telemetry_service.core import SavedObject, SavedObjectStore, open_store
from telemetry_service.plugins.usage_collection.collector import (
    CollectorFetchContext,
    UsageCollector,
)
from telemetry_service.plugins.usage_collection.collector_set import CollectorSet
from telemetry_service.plugins.usage_collection.counters import UsageCountersService
from telemetry_service.plugins.usage_collection.counters_collector import (
    UI_COUNTERS_SCHEMA,
    USAGE_COUNTERS_SCHEMA,
    iso_timestamp,
    make_ui_counters_collector,
    make_usage_counters_collector,
    merge_daily_events,
    read_daily_events,
    start_of_utc_day,
    to_daily_event,
)
from telemetry_service.plugins.usage_collection.schema import validate_schema
from telemetry_service.plugins.usage_collection.schema_values import validate_value
from telemetry_service.testing import FakeClock
from tests.support.stores import BACKENDS, store_url

pytestmark = pytest.mark.anyio

DAY1 = dt.datetime(2024, 6, 28, 10, 11, 12, 345000, tzinfo=dt.UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(DAY1)


@pytest.fixture(params=BACKENDS)
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[SavedObjectStore]:
    s = open_store(store_url(request, request.param, tmp_path), tmp_path, clock=clock)
    await s.open()
    yield s
    await s.close()


def saved(attributes: dict[str, Any], updated_at: dt.datetime = DAY1) -> SavedObject:
    return SavedObject("usage-counter", "id", attributes, None, 1, updated_at, updated_at)


SERVER_ATTRS = {"domainId": "d", "counterName": "n", "counterType": "count", "source": "server"}


async def fetch(collector: UsageCollector[Any], store: object | None = None) -> Any:
    result = await collector.fetch(CollectorFetchContext(store=store))
    assert validate_value(collector.schema, result) == []
    return result


# ----------------------------------------------------------------------------- pure parts


def test_timestamps_match_javascript() -> None:
    assert iso_timestamp(DAY1) == "2024-06-28T10:11:12.345Z"
    assert start_of_utc_day(DAY1) == "2024-06-28T00:00:00Z"
    paris = dt.datetime(2024, 6, 29, 1, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert start_of_utc_day(paris) == "2024-06-28T00:00:00Z"


def test_a_document_becomes_a_daily_event() -> None:
    assert to_daily_event(saved({**SERVER_ATTRS, "count": 3})) == {
        "domainId": "d",
        "counterName": "n",
        "counterType": "count",
        "lastUpdatedAt": "2024-06-28T10:11:12.345Z",
        "fromTimestamp": "2024-06-28T00:00:00Z",
        "total": 3,
    }


@pytest.mark.parametrize("count", [0, -2, "3", True, None, 0.5])
def test_documents_without_a_positive_count_are_skipped(count: object) -> None:
    assert to_daily_event(saved({**SERVER_ATTRS, "count": count})) is None


def test_documents_with_missing_names_are_skipped() -> None:
    assert to_daily_event(saved({"counterName": "n", "counterType": "count", "count": 1})) is None


def test_events_merge_per_counter_and_day() -> None:
    def event(name: str, at: dt.datetime, total: int) -> dict[str, Any]:
        result = to_daily_event(saved({**SERVER_ATTRS, "counterName": name, "count": total}, at))
        assert result is not None
        return result

    later = DAY1 + dt.timedelta(hours=5)
    next_day = DAY1 + dt.timedelta(days=1)
    merged = merge_daily_events(
        [event("n", later, 2), event("n", DAY1, 3), event("m", DAY1, 1), event("n", next_day, 4)]
    )
    assert [(e["counterName"], e["fromTimestamp"], e["total"]) for e in merged] == [
        ("m", "2024-06-28T00:00:00Z", 1),
        ("n", "2024-06-28T00:00:00Z", 5),
        ("n", "2024-06-29T00:00:00Z", 4),
    ]
    assert merged[1]["lastUpdatedAt"] == iso_timestamp(later)


def test_schemas_are_valid() -> None:
    validate_schema(USAGE_COUNTERS_SCHEMA, collector_type="usage_counters")
    validate_schema(UI_COUNTERS_SCHEMA, collector_type="ui_counters")
    bad = {"dailyEvents": [{"domainId": "d", "total": "many", "extra": 1}]}
    problems = {str(v) for v in validate_value(USAGE_COUNTERS_SCHEMA, bad)}
    assert problems == {
        "dailyEvents[0].total: expected long (an integer), got str",
        "dailyEvents[0].extra: field is not declared in the schema",
    }


# ----------------------------------------------------------------------------- collectors


async def test_collectors_report_stored_counters_by_source(
    store: SavedObjectStore, clock: FakeClock
) -> None:
    service = UsageCountersService(store, clock=clock, logger=logging.getLogger("test"))
    dashboards = service.create_usage_counter("dashboards")
    dashboards.increment_counter("viewed", increment_by=2)
    dashboards.increment_counter("viewed", increment_by=3, namespace="space")  # merged
    dashboards.increment_counter("clicked", counter_type="click", source="ui", increment_by=4)
    await service.flush()
    clock.advance(days=1)
    dashboards.increment_counter("viewed")
    await service.flush()

    usage = await fetch(make_usage_counters_collector(store))
    assert usage == {
        "dailyEvents": [
            {
                "domainId": "dashboards",
                "counterName": "viewed",
                "counterType": "count",
                "lastUpdatedAt": "2024-06-28T10:11:12.345Z",
                "fromTimestamp": "2024-06-28T00:00:00Z",
                "total": 5,
            },
            {
                "domainId": "dashboards",
                "counterName": "viewed",
                "counterType": "count",
                "lastUpdatedAt": "2024-06-29T10:11:12.345Z",
                "fromTimestamp": "2024-06-29T00:00:00Z",
                "total": 1,
            },
        ]
    }
    ui = await fetch(make_ui_counters_collector(store))
    assert ui == {
        "dailyEvents": [
            {
                "appName": "dashboards",
                "eventName": "clicked",
                "lastUpdatedAt": "2024-06-28T10:11:12.345Z",
                "fromTimestamp": "2024-06-28T00:00:00Z",
                "counterType": "click",
                "total": 4,
            }
        ]
    }


async def test_collectors_find_the_store_in_the_service_or_the_context(
    store: SavedObjectStore, clock: FakeClock
) -> None:
    service = UsageCountersService(store, clock=clock)
    service.create_usage_counter("app").increment_counter("hit")
    await service.flush()
    expected = await fetch(make_usage_counters_collector(store))
    assert len(expected["dailyEvents"]) == 1
    assert await fetch(make_usage_counters_collector(service)) == expected
    assert await fetch(make_usage_counters_collector(), store=store) == expected
    with pytest.raises(RuntimeError, match="no saved-object store"):
        await make_usage_counters_collector().fetch(CollectorFetchContext())  # type: ignore[misc]


async def test_empty_store_reports_no_events(store: SavedObjectStore) -> None:
    assert await fetch(make_usage_counters_collector(store)) == {"dailyEvents": []}
    assert await fetch(make_ui_counters_collector(store)) == {"dailyEvents": []}


async def test_reading_pages_through_every_document(
    store: SavedObjectStore, clock: FakeClock
) -> None:
    service = UsageCountersService(store, clock=clock)
    counter = service.create_usage_counter("app")
    for i in range(7):
        counter.increment_counter(f"n{i}", increment_by=i + 1)
        counter.increment_counter(f"u{i}", source="ui")
    await service.flush()
    events = await read_daily_events(store, "server", page_size=3)
    assert sorted((e["counterName"], e["total"]) for e in events) == [
        (f"n{i}", i + 1) for i in range(7)
    ]


async def test_bulk_fetch_reports_both_collectors(
    store: SavedObjectStore, clock: FakeClock
) -> None:
    service = UsageCountersService(store, clock=clock)
    service.create_usage_counter("app").increment_counter("hit", increment_by=2)
    await service.flush()
    collectors = CollectorSet(logger=logging.getLogger("test"))
    collectors.register_collector(make_usage_counters_collector(service))
    collectors.register_collector(make_ui_counters_collector(service))
    result = collectors.to_object(await collectors.bulk_fetch(CollectorFetchContext(store=store)))
    assert result["ui_counters"] == {"dailyEvents": []}
    usage = result["usage_counters"]
    assert isinstance(usage, dict)
    assert [e["total"] for e in usage["dailyEvents"]] == [2]
    stats = result["usage_collector_stats"]
    assert isinstance(stats, dict)
    assert stats["failed"]["count"] == 0
