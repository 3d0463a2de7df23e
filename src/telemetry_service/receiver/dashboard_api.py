"""The dashboard's JSON routes (viewer role), beside the query API's.

They answer what the pages show and the query API does not: who is asking, reports per day,
the versions of active clusters, the field paths of the latest payloads, a field's trend over
days, a cluster search and a cluster's latest snapshot. Each is one indexed SQL aggregation or
a bounded read (see ``storage/reads.py``), so the pages stay fast with many clusters.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, Response

from telemetry_service.common.apikeys import Principal
from telemetry_service.common.clock import DAY_MS, Clock, iso_date, to_ms

from .api_models import ClusterList, ErrorBody, ReportModel
from .api_query import (
    MAX_RANGE_DAYS,
    QUERY_RESPONSES,
    ActiveDays,
    ClusterId,
    From,
    Limit,
    Offset,
    To,
)
from .dashboard_models import FieldList, FieldTrend, ReportsPerDay, Session, Versions
from .errors import Rejection
from .export import cluster_document, report_document
from .http import AuthDependency
from .query import DateRange, date_range, field_trend, leaf_fields, parse_field_path
from .storage import ReportStore

__all__ = ["MAX_FIELDS", "MAX_TREND_DAYS", "TREND_BUDGET", "dashboard_api_router"]

#: The longest range a field trend covers (it reads a sample of every day).
MAX_TREND_DAYS = 731
#: Snapshots a field trend reads over its whole range, by default (the per-day sample is
#: this divided by the days, between 10 and 1000).
TREND_BUDGET = 9_000
#: The most field paths ``/api/stats/fields`` lists.
MAX_FIELDS = 5000

_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No snapshot of that cluster."}
}
Field = Annotated[str, Query(description="A dotted payload path.", max_length=512)]


def _range(
    first: dt.date | None, last: dt.date | None, clock: Clock, *, max_days: int
) -> DateRange:
    try:
        return date_range(first, last, today=clock().date(), default_days=30, max_days=max_days)
    except (ValueError, OverflowError) as exc:
        raise Rejection(400, "bad_range", str(exc)) from None


def _path(field: str) -> tuple[str, ...]:
    try:
        return parse_field_path(field)
    except ValueError as exc:
        raise Rejection(400, "bad_field", str(exc)) from None


def dashboard_api_router(
    store: ReportStore, viewer: AuthDependency, clock: Clock, *, auth_required: bool
) -> APIRouter:
    """The dashboard's read-only routes; every one needs the viewer role with API keys."""
    router = APIRouter(tags=["dashboard"], responses=QUERY_RESPONSES)
    guarded = [Depends(viewer)]

    def since(active_days: int) -> int:
        return to_ms(clock()) - active_days * DAY_MS

    @router.get("/api/me", response_model=Session)
    async def me(principal: Principal = Depends(viewer)) -> dict[str, Any]:
        """Who the API key belongs to and its role (the pages show admin actions by it)."""
        return {"name": principal.name, "role": principal.role, "auth_required": auth_required}

    @router.get("/api/stats/reports-per-day", response_model=ReportsPerDay, dependencies=guarded)
    async def reports_per_day(first: From = None, last: To = None) -> dict[str, Any]:
        """Snapshots and opt-in reports per UTC day, by report time (default: 30 days)."""
        span = _range(first, last, clock, max_days=MAX_RANGE_DAYS)
        counts = await store.reports_per_day(span.from_ms, span.to_ms)
        days = []
        for day in span.days:
            snapshots, opt_in = counts.get(day, (0, 0))
            days.append({"date": iso_date(day), "snapshots": snapshots, "opt_in": opt_in})
        return {"days": days}

    @router.get("/api/stats/versions", response_model=Versions, dependencies=guarded)
    async def versions(
        active_days: ActiveDays = 30,
        size: Annotated[int, Query(ge=1, le=1000, description="Versions listed.")] = 20,
    ) -> dict[str, Any]:
        """Active clusters by the version of their latest snapshot, the most common first."""
        rows = await store.version_counts(since_ms=since(active_days))
        return {
            "active_days": active_days,
            "clusters": sum(count for _, count in rows),
            "versions": [{"version": v, "clusters": c} for v, c in rows[:size]],
            "other": sum(count for _, count in rows[size:]),
        }

    @router.get("/api/stats/fields", response_model=FieldList, dependencies=guarded)
    async def fields(
        active_days: ActiveDays = 30,
        sample: Annotated[
            int, Query(ge=1, le=5000, description="Latest payloads to read, newest first.")
        ] = 500,
    ) -> dict[str, Any]:
        """The dotted paths of the leaves (scalars and arrays) of the latest payloads of
        active clusters, each with how many of the payloads read hold it, and its kinds."""
        payloads = await store.latest_payloads(since_ms=since(active_days), limit=sample)
        found, truncated = await anyio.to_thread.run_sync(
            functools.partial(leaf_fields, payloads, max_fields=MAX_FIELDS)
        )
        return {
            "active_days": active_days,
            "sampled": len(payloads),
            "fields": found,
            "truncated": truncated,
        }

    @router.get("/api/stats/field-trend", response_model=FieldTrend, dependencies=guarded)
    async def trend(
        field: Field,
        first: From = None,
        last: To = None,
        size: Annotated[int, Query(ge=1, le=50, description="Keywords followed.")] = 8,
        sample: Annotated[
            int | None,
            Query(ge=1, le=10_000, description="Snapshots read per day (default: by range)."),
        ] = None,
    ) -> dict[str, Any]:
        """A payload field per UTC day over a sample of each day's snapshots (default: the
        last 30 days): keyword and boolean counts, number statistics."""
        path = _path(field)
        span = _range(first, last, clock, max_days=MAX_TREND_DAYS)
        days = span.days
        per_day = sample or max(10, min(1000, TREND_BUDGET // len(days)))
        samples = await store.field_samples(
            path, from_ms=span.from_ms, to_ms=span.to_ms, per_day=per_day
        )
        summary = await anyio.to_thread.run_sync(
            functools.partial(field_trend, days, samples, size=size)
        )
        return {"field": field, "sample_per_day": per_day, **summary}

    @router.get("/api/search/clusters", response_model=ClusterList, dependencies=guarded)
    async def search_clusters(
        q: Annotated[
            str | None, Query(max_length=200, description="Part of the id or name.")
        ] = None,
        version: Annotated[str | None, Query(max_length=200)] = None,
        active_days: Annotated[
            int | None, Query(ge=1, le=3650, description="Only clusters active this recently.")
        ] = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> dict[str, Any]:
        """Clusters whose id or name contains `q` (any case), of a version, the most recently
        seen first."""
        page = await store.search_clusters(
            text=q or None,
            version=version,
            since_ms=None if active_days is None else since(active_days),
            limit=limit,
            offset=offset,
        )
        return {"total": page.total, "clusters": [cluster_document(c) for c in page.clusters]}

    @router.get(
        "/api/clusters/{cluster_uuid}/latest",
        response_model=ReportModel,
        response_class=JSONResponse,
        responses=_NOT_FOUND,
        dependencies=guarded,
    )
    async def latest_snapshot(cluster_uuid: ClusterId) -> Response:
        """A cluster's latest snapshot with its payload."""
        report = await store.latest_snapshot(cluster_uuid)
        if report is None:
            raise Rejection(404, "not_found", "no snapshot of that cluster")
        return Response(report_document(report), media_type="application/json")

    return router
