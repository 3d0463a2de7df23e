"""The query API (viewer role) and ``/metrics``."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse, Response, StreamingResponse

from telemetry_service.common.clock import DAY_MS, Clock, iso_date, iso_ms, to_ms

from .api_models import (
    ActiveClusters,
    ClusterList,
    ClusterModel,
    Distribution,
    ErrorBody,
    LatestReports,
    OptInReport,
    ReportModel,
)
from .errors import Rejection
from .export import cluster_document, csv_rows, ndjson_lines, reports_array
from .http import AuthDependency
from .metrics import CONTENT_TYPE, Metrics
from .query import DateRange, date_range, distribution, parse_field_path
from .storage import ReportStore

__all__ = ["QUERY_RESPONSES", "query_router"]

MAX_RANGE_DAYS = 3660
QUERY_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "A bad parameter."},
    401: {"model": ErrorBody, "description": "API keys are configured and none was sent."},
    403: {"model": ErrorBody, "description": "The API key lacks the viewer role."},
    503: {"model": ErrorBody, "description": "The store is unavailable; see Retry-After."},
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No record of that cluster."}
}

Limit = Annotated[int, Query(ge=1, le=1000, description="Items per page.")]
Offset = Annotated[int, Query(ge=0, le=1_000_000, description="Items to skip.")]
ActiveDays = Annotated[
    int, Query(ge=1, le=3650, description="A cluster is active if its latest snapshot is newer.")
]
From = Annotated[dt.date | None, Query(alias="from", description="First UTC day (YYYY-MM-DD).")]
To = Annotated[dt.date | None, Query(alias="to", description="Last UTC day, included.")]
ClusterId = Annotated[str, Path(min_length=1, max_length=200)]


def _json(body: bytes) -> Response:
    return Response(body, media_type="application/json")


def query_router(
    store: ReportStore, metrics: Metrics, viewer: AuthDependency, clock: Clock
) -> APIRouter:
    """The read-only routes; every one needs the viewer role when API keys are configured."""
    router = APIRouter(tags=["query"], dependencies=[Depends(viewer)], responses=QUERY_RESPONSES)

    def days(first: dt.date | None, last: dt.date | None, default: int) -> DateRange:
        try:
            return date_range(
                first, last, today=clock().date(), default_days=default, max_days=MAX_RANGE_DAYS
            )
        except (ValueError, OverflowError) as exc:
            raise Rejection(400, "bad_range", str(exc)) from None

    def since(active_days: int) -> int:
        return to_ms(clock()) - active_days * DAY_MS

    @router.get("/api/clusters", response_model=ClusterList)
    async def list_clusters(limit: Limit = 100, offset: Offset = 0) -> dict[str, Any]:
        """Every cluster with its latest report time and version, the most recent first."""
        page = await store.list_clusters(limit=limit, offset=offset)
        return {"total": page.total, "clusters": [cluster_document(c) for c in page.clusters]}

    @router.get("/api/clusters/{cluster_uuid}", response_model=ClusterModel, responses=_NOT_FOUND)
    async def get_cluster(cluster_uuid: ClusterId) -> dict[str, Any]:
        """One cluster."""
        cluster = await store.get_cluster(cluster_uuid)
        if cluster is None:
            raise Rejection(404, "not_found", "no record of that cluster")
        return cluster_document(cluster)

    @router.get(
        "/api/clusters/{cluster_uuid}/reports",
        response_model=list[ReportModel],
        response_class=JSONResponse,
    )
    async def cluster_history(
        cluster_uuid: ClusterId,
        first: From = None,
        last: To = None,
        limit: Limit = 100,
        payload: Annotated[bool, Query(description="Include the payloads.")] = True,
    ) -> Response:
        """One cluster's reports in a range of days (default: the last 30), newest first."""
        span = days(first, last, 30)
        reports = await store.cluster_history(
            cluster_uuid, from_ms=span.from_ms, to_ms=span.to_ms, limit=limit
        )
        return _json(reports_array(reports, payload=payload))

    @router.get("/api/reports/latest", response_model=LatestReports, response_class=JSONResponse)
    async def latest_reports(
        active_days: ActiveDays = 30, limit: Limit = 100, offset: Offset = 0
    ) -> Response:
        """The latest snapshot of each active cluster, newest first."""
        total, reports = await store.latest_reports(
            since_ms=since(active_days), limit=limit, offset=offset
        )
        head = f'{{"total":{total},"active_days":{active_days},"reports":'.encode()
        return _json(head + reports_array(reports) + b"}")

    @router.get("/api/stats/active-clusters", response_model=ActiveClusters)
    async def active_clusters(first: From = None, last: To = None) -> dict[str, Any]:
        """Clusters that sent a snapshot, per UTC day (default: the last 30 days)."""
        span = days(first, last, 30)
        counts = await store.active_per_day(span.from_ms, span.to_ms)
        return {"days": [{"date": iso_date(d), "clusters": counts.get(d, 0)} for d in span.days]}

    @router.get(
        "/api/stats/distribution", response_model=Distribution, response_model_exclude_none=True
    )
    async def field_distribution(
        field: Annotated[str, Query(description="A dotted payload path.", max_length=512)],
        active_days: ActiveDays = 30,
        size: Annotated[int, Query(ge=1, le=1000, description="Keyword buckets.")] = 20,
    ) -> dict[str, Any]:
        """A payload field over the latest snapshots of active clusters: counts of keywords
        and booleans, min/max/avg/percentiles of numbers."""
        try:
            path = parse_field_path(field)
        except ValueError as exc:
            raise Rejection(400, "bad_field", str(exc)) from None
        values = await store.field_values(path, since_ms=since(active_days))
        return {"field": field, "active_days": active_days, **distribution(values, size=size)}

    @router.get("/api/stats/opt-in", response_model=OptInReport)
    async def opt_in_changes(
        first: From = None,
        last: To = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
        cluster_uuid: Annotated[str | None, Query(max_length=200)] = None,
    ) -> dict[str, Any]:
        """Opt-in status changes per day and the changes themselves (default: 30 days)."""
        span = days(first, last, 30)
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

    @router.get(
        "/api/export",
        response_class=StreamingResponse,
        responses={
            200: {
                "description": "NDJSON (one report per line) or CSV (a header row first).",
                "content": {"application/x-ndjson": {}, "text/csv": {}},
            }
        },
    )
    async def export(
        first: From = None,
        last: To = None,
        format: Annotated[Literal["ndjson", "csv"], Query()] = "ndjson",
        kind: Annotated[Literal["snapshot", "opt-in"] | None, Query()] = None,
    ) -> StreamingResponse:
        """Every report of a range of days (default: the last 30), by report time."""
        span = days(first, last, 30)
        name = f"reports-{span.first.isoformat()}-{span.last.isoformat()}.{format}"
        headers = {"Content-Disposition": f'attachment; filename="{name}"'}
        if format == "csv":
            rows = csv_rows(store, span.from_ms, span.to_ms, kind=kind)
            return StreamingResponse(rows, media_type="text/csv; charset=utf-8", headers=headers)
        lines = ndjson_lines(store, span.from_ms, span.to_ms, kind=kind)
        return StreamingResponse(lines, media_type="application/x-ndjson", headers=headers)

    @router.get(
        "/metrics",
        response_class=Response,
        responses={200: {"description": "Prometheus text format.", "content": {"text/plain": {}}}},
        tags=["metrics"],
    )
    async def prometheus() -> Response:
        """This process's metrics in the Prometheus text format."""
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    return router
