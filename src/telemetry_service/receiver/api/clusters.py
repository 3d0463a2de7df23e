"""``/api/clusters``: the list, a search, one cluster, its latest snapshot, its reports
(viewer role) and its deletion (admin role).

A cluster id may hold ``/`` (``%2F`` in a URL is decoded before routing), so the routes take
the id as a path; ``…/latest`` and ``…/reports`` are matched first: the one cluster of an id
that itself ends in ``/latest`` or ``/reports`` is found through ``/api/search/clusters``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, Response

from telemetry_service.common.apikeys import Principal

from ..errors import Rejection
from ..export import cluster_document, report_document, reports_array
from ..http import require_role
from ..retention import forget_cluster
from ..storage import ClusterPage
from .models import ClusterList, ClusterModel, DeleteResult, ReportModel
from .params import (
    CLUSTER_ID_PATH,
    RESPONSES,
    VIEWER,
    ClusterId,
    From,
    Limit,
    MetricsDep,
    Now,
    Offset,
    Store,
    To,
    date_span,
    error_responses,
    not_found,
    since,
)

__all__ = ["admin_router", "router"]

router = APIRouter(tags=["clusters"], dependencies=[VIEWER], responses=RESPONSES)
admin_router = APIRouter(
    tags=["clusters"], responses=error_responses("admin") | not_found("record")
)


def _page(page: ClusterPage) -> dict[str, Any]:
    return {"total": page.total, "clusters": [cluster_document(c) for c in page.clusters]}


@router.get("/api/clusters", response_model=ClusterList)
async def list_clusters(store: Store, limit: Limit = 100, offset: Offset = 0) -> dict[str, Any]:
    """Every cluster with its latest report time and version, the most recent first."""
    return _page(await store.list_clusters(limit=limit, offset=offset))


@router.get("/api/search/clusters", response_model=ClusterList)
async def search_clusters(
    store: Store,
    now: Now,
    q: Annotated[str | None, Query(max_length=200, description="Part of the id or name.")] = None,
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
        since_ms=None if active_days is None else since(now, active_days),
        limit=limit,
        offset=offset,
    )
    return _page(page)


@router.get(
    "/api/clusters/" + CLUSTER_ID_PATH + "/latest",
    response_model=ReportModel,
    response_class=JSONResponse,
    responses=not_found("snapshot"),
)
async def latest_snapshot(store: Store, cluster_uuid: ClusterId) -> Response:
    """A cluster's latest snapshot with its payload."""
    report = await store.latest_snapshot(cluster_uuid)
    if report is None:
        raise Rejection(404, "not_found", "no snapshot of that cluster")
    return Response(report_document(report), media_type="application/json")


@router.get(
    "/api/clusters/" + CLUSTER_ID_PATH + "/reports",
    response_model=list[ReportModel],
    response_class=JSONResponse,
)
async def cluster_history(
    store: Store,
    now: Now,
    cluster_uuid: ClusterId,
    first: From = None,
    last: To = None,
    limit: Limit = 100,
    payload: Annotated[bool, Query(description="Include the payloads.")] = True,
) -> Response:
    """One cluster's reports in a range of days (default: the last 30), newest first."""
    span = date_span(first, last, now)
    reports = await store.cluster_history(
        cluster_uuid, from_ms=span.from_ms, to_ms=span.to_ms, limit=limit
    )
    return Response(reports_array(reports, payload=payload), media_type="application/json")


@router.get(
    "/api/clusters/" + CLUSTER_ID_PATH,
    response_model=ClusterModel,
    responses=not_found("record"),
)
async def get_cluster(store: Store, cluster_uuid: ClusterId) -> dict[str, Any]:
    cluster = await store.get_cluster(cluster_uuid)
    if cluster is None:
        raise Rejection(404, "not_found", "no record of that cluster")
    return cluster_document(cluster)


@admin_router.delete("/api/clusters/" + CLUSTER_ID_PATH, response_model=DeleteResult)
async def delete_cluster(
    store: Store,
    metrics: MetricsDep,
    cluster_uuid: ClusterId,
    principal: Annotated[Principal, Depends(require_role("admin"))],
) -> dict[str, Any]:
    """Remove every record of a cluster (a deletion request); logged in the audit log."""
    counts = await forget_cluster(
        store, cluster_uuid, actor=f"API key [{principal.name}]", metrics=metrics
    )
    if counts.reports == 0 and counts.clusters == 0 and counts.events == 0:
        raise Rejection(404, "not_found", "no record of that cluster")
    return {
        "cluster_uuid": cluster_uuid,
        "deleted_reports": counts.reports,
        "deleted_clusters": counts.clusters,
        "deleted_events": counts.events,
    }
