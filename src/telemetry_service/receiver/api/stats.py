"""``/api/stats/...`` (viewer role): figures over days and over the latest snapshots of
active clusters. Each reads one indexed SQL aggregation, an aggregate that a background fold
keeps up to date plus the snapshots it has not folded yet (the field trend, the daily
snapshots: ``storage/queries/field_days.py``, ``field_fold.py``) or a bounded read (the field
list), so the pages stay fast with many clusters; the figures are exact."""

from __future__ import annotations

import asyncio
import functools
import weakref
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Query

from telemetry_service.common.clock import iso_date, iso_ms

from ..analysis import LeafFields, distribution, field_trend
from .models import (
    ActiveClusters,
    Distribution,
    FieldList,
    FieldTrend,
    OptInReport,
    ReportsPerDay,
    Versions,
)
from .ops import Config
from .params import (
    RESPONSES,
    VIEWER,
    ActiveDays,
    Field,
    From,
    Now,
    Store,
    To,
    date_span,
    field_path,
    since,
)

__all__ = ["MAX_FIELDS", "MAX_TREND_DAYS", "router"]

#: The longest range a field trend covers.
MAX_TREND_DAYS = 731
#: The most field paths ``/api/stats/fields`` lists.
MAX_FIELDS = 5000

router = APIRouter(tags=["stats"], dependencies=[VIEWER], responses=RESPONSES)
#: One field listing at a time per event loop (a process): its memory is then one payload.
_FIELDS_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


@router.get("/api/stats/active-clusters", response_model=ActiveClusters)
async def active_clusters(
    store: Store, now: Now, first: From = None, last: To = None
) -> dict[str, Any]:
    """Clusters that sent a snapshot, per UTC day (default: the last 30 days)."""
    span = date_span(first, last, now)
    counts = await store.active_per_day(span.from_ms, span.to_ms)
    return {"days": [{"date": iso_date(d), "clusters": counts.get(d, 0)} for d in span.days]}


@router.get("/api/stats/reports-per-day", response_model=ReportsPerDay)
async def reports_per_day(
    store: Store, now: Now, first: From = None, last: To = None
) -> dict[str, Any]:
    """Snapshots and opt-in reports per UTC day, by report time (default: 30 days)."""
    span = date_span(first, last, now)
    counts = await store.reports_per_day(span.from_ms, span.to_ms)
    days = []
    for day in span.days:
        snapshots, opt_in = counts.get(day, (0, 0))
        days.append({"date": iso_date(day), "snapshots": snapshots, "opt_in": opt_in})
    return {"days": days}


@router.get("/api/stats/versions", response_model=Versions)
async def versions(
    store: Store,
    now: Now,
    active_days: ActiveDays = 30,
    size: Annotated[int, Query(ge=1, le=1000, description="Versions listed.")] = 20,
) -> dict[str, Any]:
    """Active clusters by the version of their latest snapshot, the most common first."""
    rows = await store.version_counts(since_ms=since(now, active_days))
    return {
        "active_days": active_days,
        "clusters": sum(count for _, count in rows),
        "versions": [{"version": v, "clusters": c} for v, c in rows[:size]],
        "other": sum(count for _, count in rows[size:]),
    }


@router.get(
    "/api/stats/distribution", response_model=Distribution, response_model_exclude_none=True
)
async def field_distribution(
    store: Store,
    now: Now,
    field: Field,
    active_days: ActiveDays = 30,
    size: Annotated[int, Query(ge=1, le=1000, description="Keyword buckets.")] = 20,
) -> dict[str, Any]:
    """A payload field over the latest snapshots of active clusters: counts of keywords
    and booleans, min/max/avg/percentiles of numbers."""
    path = field_path(field)
    values = await store.field_values(path, since_ms=since(now, active_days))
    return {"field": field, "active_days": active_days, **distribution(values, size=size)}


@router.get("/api/stats/fields", response_model=FieldList)
async def fields(
    store: Store,
    now: Now,
    config: Config,
    active_days: ActiveDays = 30,
    sample: Annotated[
        int, Query(ge=1, le=5000, description="Latest payloads to read, newest first.")
    ] = 500,
) -> dict[str, Any]:
    """The dotted paths of the leaves (scalars and arrays) of the latest payloads of
    active clusters, each with how many of the payloads read hold it, and its kinds.

    Payloads are decoded one at a time, one listing at a time, and those larger than
    ``limits.fieldsPayloadBytes`` are skipped, so that what open ingest accepted cannot make
    this page's memory explode (docs/receiver.md gives the bound)."""
    leaves = LeafFields(max_fields=MAX_FIELDS)
    lock = _FIELDS_LOCKS.setdefault(asyncio.get_running_loop(), asyncio.Lock())
    async with lock:
        sampled, skipped = await store.visit_latest_payloads(
            since_ms=since(now, active_days),
            limit=sample,
            visit=leaves.add,
            max_bytes=config.limits.fields_payload_bytes,
        )
    return {
        "active_days": active_days,
        "sampled": sampled,
        "skipped": skipped,
        "fields": leaves.fields(),
        "truncated": leaves.truncated,
    }


@router.get("/api/stats/field-trend", response_model=FieldTrend)
async def trend(
    store: Store,
    now: Now,
    config: Config,
    field: Field,
    first: From = None,
    last: To = None,
    size: Annotated[int, Query(ge=1, le=50, description="Keywords followed.")] = 8,
    sample: Annotated[
        int | None,
        Query(ge=1, le=10_000, description="Ignored: every snapshot of each day counts."),
    ] = None,
) -> dict[str, Any]:
    """A payload field per UTC day over every snapshot of each day (default: the last 30
    days), from the per-day field aggregate: keyword and boolean counts, number statistics.
    At most ``limits.trendWideSnapshots`` wide snapshots are read: a day with some left out
    has ``sampled`` < ``reports``."""
    path = field_path(field)
    span = date_span(first, last, now, max_days=MAX_TREND_DAYS)
    parts = await store.field_trend_parts(
        path,
        from_ms=span.from_ms,
        to_ms=span.to_ms,
        size=size,
        wide_limit=config.limits.trend_wide_snapshots,
    )
    summary = await anyio.to_thread.run_sync(functools.partial(field_trend, span.days, parts))
    # Every snapshot is read: the most of one day (the contract of a sample's size).
    return {"field": field, "sample_per_day": max(parts.reports.values(), default=0), **summary}


@router.get("/api/stats/opt-in", response_model=OptInReport)
async def opt_in_changes(
    store: Store,
    now: Now,
    first: From = None,
    last: To = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    cluster_uuid: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, Any]:
    """Opt-in status changes per day and the changes themselves (default: 30 days)."""
    span = date_span(first, last, now)
    per_day = await store.opt_in_changes_per_day(
        span.from_ms, span.to_ms, cluster_uuid=cluster_uuid
    )
    changes = await store.opt_in_changes(
        span.from_ms, span.to_ms, limit=limit + 1, cluster_uuid=cluster_uuid
    )
    day_rows = []
    for day in span.days:
        opted_in, opted_out = per_day.get(day, (0, 0))
        day_rows.append({"date": iso_date(day), "opted_in": opted_in, "opted_out": opted_out})
    change_rows = [
        {
            "cluster_uuid": change.cluster_uuid,
            "timestamp": iso_ms(change.report_ms),
            "opt_in_status": change.opt_in_status,
            "previous": change.previous,
        }
        for change in changes[:limit]
    ]
    return {"days": day_rows, "changes": change_rows, "truncated": len(changes) > limit}
