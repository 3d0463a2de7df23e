"""The telemetry plugin's HTTP routes, with Kibana's paths, bodies and status codes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, StrictBool

from telemetry_service.core import StoreError, kibana_error, route_options

from .service import NOT_ALLOWED_MESSAGE, OptInLockedError, TelemetryService

__all__ = ["OptInBody", "build_router"]


class OptInBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: StrictBool


OptInStats = Callable[[bool], Awaitable[list[dict[str, Any]]]]
"""Computes the (encrypted) opt-in stats returned by the opt-in route."""


def build_router(
    service: TelemetryService,
    *,
    on_opt_in_changed: Callable[[bool], Awaitable[list[dict[str, Any]]]],
) -> APIRouter:
    router = APIRouter(tags=["telemetry"])
    unavailable = (
        "Can't fetch telemetry at the moment because some services are down. "
        "Check the /status page for more details."
    )

    @router.post("/internal/telemetry/optIn", response_model=None)
    async def opt_in(body: OptInBody) -> Response | list[dict[str, Any]]:
        """Record the administrator's choice; answers the opt-in stats that were reported."""
        try:
            await service.set_opt_in(body.enabled)
        except OptInLockedError:
            return kibana_error(400, NOT_ALLOWED_MESSAGE)
        except StoreError:
            return kibana_error(503, unavailable)
        return await on_opt_in_changed(body.enabled)

    async def config() -> Response | dict[str, Any]:
        try:
            return await service.config_body()
        except StoreError:
            return kibana_error(503, unavailable)

    public = route_options(access="public")
    router.add_api_route(
        "/internal/telemetry/config",
        config,
        methods=["GET"],
        response_model=None,
        openapi_extra=public,
    )
    router.add_api_route(
        "/api/telemetry/v2/config",
        config,
        methods=["GET"],
        response_model=None,
        openapi_extra=public,
    )

    @router.put(
        "/internal/telemetry/userHasSeenNotice",
        response_model=None,
        openapi_extra=route_options(access="viewer"),
    )
    async def user_has_seen_notice() -> Response | dict[str, Any]:
        try:
            return await service.mark_notice_seen()
        except StoreError:
            return kibana_error(503, unavailable)

    @router.get("/internal/telemetry/last_reported", response_model=None)
    async def get_last_reported() -> Response | dict[str, Any]:
        try:
            last = await service.last_reported()
        except StoreError:
            return kibana_error(503, unavailable)
        return {} if last is None else {"lastReported": last}

    @router.put(
        "/internal/telemetry/last_reported",
        response_model=None,
        openapi_extra=route_options(access="viewer"),
    )
    async def put_last_reported() -> Response:
        try:
            await service.set_last_reported()
        except StoreError:
            return kibana_error(503, unavailable)
        return Response(status_code=200)

    return router
