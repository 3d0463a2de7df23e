"""``/api/events…`` (viewer role): event types over the last days, one type per day, its
properties and one property's values, and recent raw events.

Windows are the last `days` UTC days up to today by the receiver's clock. The overview and the
daily figures read the aggregates only; the property routes read at most
:data:`PROPERTY_SAMPLE` of the type's most recent events in the window.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse, Response

from telemetry_service.common.clock import DAY_MS, iso_date, iso_ms, to_ms

from ..errors import Rejection
from ..events.export import events_array
from ..events.properties import property_breakdown, property_paths
from ..storage import ReportStore
from .event_models import (
    BooleanProperty,
    EventList,
    EventTypeDaily,
    EventTypeList,
    KeywordProperty,
    NumberProperty,
    PropertyList,
)
from .models import ErrorBody
from .params import RESPONSES, VIEWER, Now, Store, field_path

__all__ = ["MAX_EVENT_DAYS", "PROPERTY_SAMPLE", "router"]

#: The longest window of the event routes, in days.
MAX_EVENT_DAYS = 731
#: The most recent events of a type that the property routes read.
PROPERTY_SAMPLE = 10_000

router = APIRouter(tags=["events"], dependencies=[VIEWER], responses=RESPONSES)

Days = Annotated[int, Query(ge=1, le=MAX_EVENT_DAYS, description="UTC days up to today.")]
EventType = Annotated[str, Path(min_length=1, max_length=200)]
_NOT_SEEN: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No event of that type is stored."}
}


def _window(now_ms: int, days: int) -> tuple[int, int]:
    """The UTC day numbers ``[first, end)`` of the last `days` days."""
    end = now_ms // DAY_MS + 1
    return end - days, end


async def _known(store: ReportStore, event_type: str) -> None:
    if not await store.events.known(event_type):
        raise Rejection(404, "not_found", "no event of that type is stored")


@router.get("/api/events/types", response_model=EventTypeList)
async def event_types(store: Store, now: Now, days: Days = 30) -> dict[str, Any]:
    """Event types with events in the window: events, clusters, first and last seen, and
    events per day; the most events first."""
    first, end = _window(to_ms(now), days)
    summaries = await store.events.types(first, end)
    types: list[dict[str, Any]] = []
    for s in summaries:
        trend = [s.per_day.get(day, 0) for day in range(first, end)]
        types.append(
            {
                "event_type": s.event_type,
                "events": sum(trend),
                "clusters": s.clusters,
                "first_seen": iso_ms(s.first_ms),
                "last_seen": iso_ms(s.last_ms),
                "trend": trend,
            }
        )
    types.sort(key=lambda t: (-t["events"], t["event_type"]))
    return {"types": types}


@router.get(
    "/api/events/types/{event_type}/daily", response_model=EventTypeDaily, responses=_NOT_SEEN
)
async def event_type_daily(
    store: Store, now: Now, event_type: EventType, days: Days = 30
) -> dict[str, Any]:
    """Events and distinct clusters of one type per UTC day (every day of the window)."""
    await _known(store, event_type)
    first, end = _window(to_ms(now), days)
    counts = await store.events.days(event_type, first, end)
    rows = []
    for day in range(first, end):
        events, clusters = counts.get(day, (0, 0))
        rows.append({"day": iso_date(day), "events": events, "clusters": clusters})
    return {"event_type": event_type, "days": rows}


async def _sample(store: ReportStore, now: dt.datetime, event_type: str, days: int) -> list[str]:
    await _known(store, event_type)
    first, end = _window(to_ms(now), days)
    return await store.events.recent_properties(
        event_type, first * DAY_MS, end * DAY_MS, PROPERTY_SAMPLE
    )


@router.get(
    "/api/events/types/{event_type}/properties", response_model=PropertyList, responses=_NOT_SEEN
)
async def event_properties(
    store: Store, now: Now, event_type: EventType, days: Days = 30
) -> dict[str, Any]:
    """The leaf paths of the properties of the type's most recent events in the window
    (at most 10,000 read), with their kind and how many of those events hold them."""
    texts = await _sample(store, now, event_type, days)
    paths = await anyio.to_thread.run_sync(property_paths, texts)
    return {"event_type": event_type, "properties": paths}


@router.get(
    "/api/events/types/{event_type}/properties/{path}",
    response_model=KeywordProperty | NumberProperty | BooleanProperty,
    responses={
        404: {"model": ErrorBody, "description": "No event of that type, or no sampled value."}
    },
)
async def event_property(
    store: Store,
    now: Now,
    event_type: EventType,
    path: Annotated[str, Path(max_length=512, description="A dotted path in properties.")],
    days: Days = 30,
    top: Annotated[int, Query(ge=1, le=1000, description="Keywords listed.")] = 10,
) -> dict[str, Any]:
    """One property over the type's most recent events in the window (at most 10,000
    read): top keywords, number statistics or true/false counts, by its kind."""
    keys = field_path(path)
    texts = await _sample(store, now, event_type, days)
    result = await anyio.to_thread.run_sync(lambda: property_breakdown(texts, keys, top=top))
    if result is None:
        raise Rejection(404, "not_found", "no sampled event holds a value at that path")
    return {"event_type": event_type, "path": path, **result}


@router.get("/api/events", response_model=EventList, response_class=JSONResponse)
async def recent_events(
    store: Store,
    event_type: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    cluster_uuid: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Response:
    """The newest events of a type, of a cluster, or both (without either: of all)."""
    rows = await store.events.recent(event_type=event_type, cluster_uuid=cluster_uuid, limit=limit)
    return Response(b'{"events":' + events_array(rows) + b"}", media_type="application/json")
