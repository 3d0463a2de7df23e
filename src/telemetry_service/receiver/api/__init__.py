"""The receiver's HTTP API, one module per resource. Handlers are module-level functions;
they take the receiver's parts from ``app.state`` (see :mod:`.params`)."""

from __future__ import annotations

from fastapi import APIRouter

from . import clusters, event_ingest, events, ingest, ops, reports, stats

__all__ = ["routers"]


def routers() -> list[APIRouter]:
    """Every router of the API, for ``app.include_router``."""
    return [
        event_ingest.router,  # before ingest's /v3/send/{channel}
        ingest.router,
        clusters.router,
        clusters.admin_router,
        reports.router,
        stats.router,
        events.router,
        ops.router,
        ops.public_router,
    ]
