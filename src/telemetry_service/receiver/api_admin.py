"""The admin API (admin role): deletion requests."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path

from telemetry_service.common.apikeys import Principal

from .api_models import DeleteResult, ErrorBody
from .errors import Rejection
from .http import AuthDependency
from .metrics import Metrics
from .retention import forget_cluster
from .storage import ReportStore

__all__ = ["admin_router"]

_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "A bad parameter."},
    401: {"model": ErrorBody, "description": "API keys are configured and none was sent."},
    403: {"model": ErrorBody, "description": "The API key lacks the admin role."},
    404: {"model": ErrorBody, "description": "No record of that cluster."},
    503: {"model": ErrorBody, "description": "The store is unavailable; see Retry-After."},
}


def admin_router(store: ReportStore, metrics: Metrics, admin: AuthDependency) -> APIRouter:
    router = APIRouter(tags=["admin"], responses=_RESPONSES)

    @router.delete("/api/clusters/{cluster_uuid}", response_model=DeleteResult)
    async def delete_cluster(
        cluster_uuid: Annotated[str, Path(min_length=1, max_length=200)],
        principal: Principal = Depends(admin),  # a local: Annotated would not resolve
    ) -> dict[str, Any]:
        """Remove every record of a cluster (a deletion request); logged in the audit log."""
        counts = await forget_cluster(
            store, cluster_uuid, actor=f"API key [{principal.name}]", metrics=metrics
        )
        if counts.reports == 0 and counts.clusters == 0:
            raise Rejection(404, "not_found", "no record of that cluster")
        return {
            "cluster_uuid": cluster_uuid,
            "deleted_reports": counts.reports,
            "deleted_clusters": counts.clusters,
        }

    return router
