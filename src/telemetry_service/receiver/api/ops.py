"""Operating the receiver: ``/api/status`` and ``/api/keys/public`` (open), ``/metrics``
and ``/api/me`` (viewer role)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response

from telemetry_service.wire import Decryptor

from ..config import ReceiverConfig
from ..events import event_channel_names
from ..ingest import channel_names
from ..metrics import CONTENT_TYPE
from .models import Session, Status
from .params import RESPONSES, VIEWER, Keys, MetricsDep, Store, Viewer, from_state

__all__ = ["public_router", "router"]

public_router = APIRouter(tags=["public"])
router = APIRouter(tags=["ops"], responses=RESPONSES)
Config = Annotated[ReceiverConfig, Depends(from_state("config"))]
Keyset = Annotated[Decryptor, Depends(from_state("decryptor"))]


@public_router.get(
    "/api/status",
    response_model=Status,
    responses={503: {"model": Status, "description": "The store does not answer."}},
)
async def status(store: Store, config: Config, decryptor: Keyset) -> Any:
    """Whether the receiver can store reports (no authentication)."""
    body = {
        "status": "available",
        "store": store.backend,
        "products": list(config.products),
        "channels": channel_names(config.products) + event_channel_names(config.products),
        "kids": list(decryptor.kids),
    }
    if not await store.ping():
        return JSONResponse({**body, "status": "unavailable"}, 503)
    return body


@public_router.get("/api/keys/public")
async def public_keys(decryptor: Keyset) -> dict[str, Any]:
    """The public key set that senders configure (telemetry.encryption.jwks)."""
    return decryptor.public_jwks()


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"description": "Prometheus text format.", "content": {"text/plain": {}}}},
    dependencies=[VIEWER],
)
async def prometheus(metrics: MetricsDep) -> Response:
    """This process's metrics in the Prometheus text format."""
    return Response(metrics.render(), media_type=CONTENT_TYPE)


@router.get("/api/me", response_model=Session)
async def me(principal: Viewer, keys: Keys) -> dict[str, Any]:
    """Who the API key belongs to and its role (the pages show admin actions by it)."""
    return {"name": principal.name, "role": principal.role, "auth_required": keys.configured}
