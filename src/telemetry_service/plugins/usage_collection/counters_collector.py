"""The ``usage_counters`` and ``ui_counters`` collectors: stored counters as daily events.

Kibana's ``register_usage_counters_collector.ts`` / ``register_ui_counters_collector.ts`` and
``collectors/common/counters.ts`` (spec 7.6): every ``usage-counter`` document of one source, in
every namespace, becomes a daily event; documents whose ``count`` is not a number ≥ 1 are
skipped; events of one counter on one UTC day (of the document's ``updated_at``) are merged,
summing their totals (this merges namespaces). ``server`` documents are reported by
``usage_counters`` as ``{domainId, counterName, counterType, lastUpdatedAt, fromTimestamp,
total}``; ``ui`` documents by ``ui_counters`` as ``{appName, eventName, lastUpdatedAt,
fromTimestamp, counterType, total}``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, cast

from telemetry_service.core import SavedObject, SavedObjectStore

from .collector import CollectorFetchContext, UsageCollector, make_usage_collector
from .counters import UsageCountersService
from .counters_keys import CounterSource, iter_counter_documents
from .schema import Schema, leaf

__all__ = [
    "READ_PAGE_SIZE",
    "UI_COUNTERS_COLLECTOR_TYPE",
    "UI_COUNTERS_SCHEMA",
    "USAGE_COUNTERS_COLLECTOR_TYPE",
    "USAGE_COUNTERS_SCHEMA",
    "iso_timestamp",
    "make_ui_counters_collector",
    "make_usage_counters_collector",
    "merge_daily_events",
    "read_daily_events",
    "start_of_utc_day",
    "to_daily_event",
]

USAGE_COUNTERS_COLLECTOR_TYPE = "usage_counters"
UI_COUNTERS_COLLECTOR_TYPE = "ui_counters"
READ_PAGE_SIZE = 1000

DailyEvent = dict[str, Any]


def _daily_events(**names: dict[str, Any]) -> Schema:
    """The ``dailyEvents`` array: the collector's two name fields, then the shared ones."""
    items = {
        **names,
        "lastUpdatedAt": leaf("date", "Time at which the metric was last updated."),
        "fromTimestamp": leaf(
            "date", "Start of the UTC day the metric counts (the day of lastUpdatedAt)."
        ),
        "counterType": leaf("keyword", "Type of counter (count, click, loaded, …)."),
        # Kibana declares `total` as an integer; a long is a superset that cannot overflow.
        "total": leaf("long", "Number of times the event occurred that day."),
    }
    return {"dailyEvents": {"type": "array", "items": items}}


USAGE_COUNTERS_SCHEMA = _daily_events(
    domainId=leaf("keyword", "Domain name of the metric (ie plugin name)."),
    counterName=leaf("keyword", "Name of the counter that happened."),
)
UI_COUNTERS_SCHEMA = _daily_events(
    appName=leaf("keyword", "Name of the app reporting ui counts."),
    eventName=leaf("keyword", "Name of the event that happened."),
)


def iso_timestamp(moment: dt.datetime) -> str:
    """JavaScript's ``Date.toISOString()``: ``2024-06-28T10:11:12.345Z``."""
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def start_of_utc_day(moment: dt.datetime) -> str:
    """moment's ``utc().startOf('day').format()``: ``2024-06-28T00:00:00Z``."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT00:00:00Z")


def to_daily_event(obj: SavedObject) -> DailyEvent | None:
    """One server-shaped event from a counter document, or None when it has nothing to report."""
    attrs = obj.attributes
    count = attrs.get("count")
    if isinstance(count, bool) or not isinstance(count, int | float) or count < 1:
        return None
    names = (attrs.get("domainId"), attrs.get("counterName"), attrs.get("counterType"))
    if not all(isinstance(name, str) for name in names):
        return None
    return {
        "domainId": names[0],
        "counterName": names[1],
        "counterType": names[2],
        "lastUpdatedAt": iso_timestamp(obj.updated_at),
        "fromTimestamp": start_of_utc_day(obj.updated_at),
        "total": int(count),
    }


def merge_daily_events(events: Iterable[DailyEvent]) -> list[DailyEvent]:
    """Merge events by ``domainId:counterType:counterName:fromTimestamp``, summing ``total``.

    The merged event keeps the latest ``lastUpdatedAt`` (ISO strings in UTC sort as time).
    Events come out sorted by day, then domain, name and type.
    """
    merged: dict[tuple[str, str, str, str], DailyEvent] = {}
    for event in events:
        key = (
            event["fromTimestamp"],
            event["domainId"],
            event["counterName"],
            event["counterType"],
        )
        existing = merged.get(key)
        if existing is None:
            merged[key] = dict(event)
            continue
        existing["total"] += event["total"]
        existing["lastUpdatedAt"] = max(existing["lastUpdatedAt"], event["lastUpdatedAt"])
    return [merged[key] for key in sorted(merged)]


def _as_ui_event(event: DailyEvent) -> DailyEvent:
    return {
        "appName": event["domainId"],
        "eventName": event["counterName"],
        "lastUpdatedAt": event["lastUpdatedAt"],
        "fromTimestamp": event["fromTimestamp"],
        "counterType": event["counterType"],
        "total": event["total"],
    }


async def read_daily_events(
    store: SavedObjectStore, source: CounterSource, *, page_size: int = READ_PAGE_SIZE
) -> list[DailyEvent]:
    """The merged server-shaped daily events of every stored counter of ``source``."""
    events: list[DailyEvent] = []
    # Sorted by id: stable while counters are incremented (their updated_at changes).
    async for obj in iter_counter_documents(store, page_size=page_size, sort_field="id"):
        event = to_daily_event(obj) if obj.attributes.get("source") == source else None
        if event is not None:
            events.append(event)
    return merge_daily_events(events)


def _resolve_store(
    source: SavedObjectStore | UsageCountersService | None, context: CollectorFetchContext
) -> SavedObjectStore:
    if source is None:
        if context.store is None:
            raise RuntimeError("no saved-object store in the fetch context")
        return cast(SavedObjectStore, context.store)
    if isinstance(source, UsageCountersService):
        return source.store
    return source


def make_usage_counters_collector(
    store: SavedObjectStore | UsageCountersService | None = None,
) -> UsageCollector[dict[str, list[DailyEvent]]]:
    """The ``usage_counters`` collector (server counters).

    ``store`` is the saved-object store, the `UsageCountersService` (its store is used), or
    None to read the store of the fetch context.
    """

    async def fetch(context: CollectorFetchContext) -> dict[str, list[DailyEvent]]:
        return {"dailyEvents": await read_daily_events(_resolve_store(store, context), "server")}

    return make_usage_collector(
        type=USAGE_COUNTERS_COLLECTOR_TYPE, fetch=fetch, schema=USAGE_COUNTERS_SCHEMA
    )


def make_ui_counters_collector(
    store: SavedObjectStore | UsageCountersService | None = None,
) -> UsageCollector[dict[str, list[DailyEvent]]]:
    """The ``ui_counters`` collector (counters reported by browsers); ``store`` as above."""

    async def fetch(context: CollectorFetchContext) -> dict[str, list[DailyEvent]]:
        events = await read_daily_events(_resolve_store(store, context), "ui")
        return {"dailyEvents": [_as_ui_event(event) for event in events]}

    return make_usage_collector(
        type=UI_COUNTERS_COLLECTOR_TYPE, fetch=fetch, schema=UI_COUNTERS_SCHEMA
    )
