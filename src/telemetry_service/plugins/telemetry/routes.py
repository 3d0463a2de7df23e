"""The telemetry plugin's HTTP routes, with Kibana's paths, bodies and status codes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from telemetry_service.core import (
    StoreUnavailableError,
    get_principal,
    kibana_error,
    route_options,
)
from telemetry_service.plugins.telemetry_collection_manager import (
    EncryptionUnavailableError,
    TelemetryCollectionManager,
)

from .history import SendHistory
from .service import NOT_ALLOWED_MESSAGE, OptInLockedError, TelemetryService

__all__ = ["OptInBody", "build_router"]

ADMIN_ONLY = "Only administrators can see unencrypted telemetry."


class OptInBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: StrictBool


class StatsBody(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    unencrypted: StrictBool = False
    refresh_cache: StrictBool = Field(default=False, alias="refreshCache")


class SendBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    force: StrictBool = False


class OptInStatsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: StrictBool
    unencrypted: StrictBool = True


OptInStats = Callable[[bool], Awaitable[list[dict[str, Any]]]]
"""Computes the (encrypted) opt-in stats returned by the opt-in route."""


def build_router(
    service: TelemetryService,
    *,
    on_opt_in_changed: Callable[[bool], Awaitable[list[dict[str, Any]]]],
    manager: TelemetryCollectionManager | None,
    history: SendHistory | None = None,
    send_now: Callable[[bool], Awaitable[tuple[bool, str]]] | None = None,
) -> APIRouter:
    """The routes; a ``StoreError`` they raise is the platform's 503 (``core.http``)."""
    router = APIRouter(tags=["telemetry"])

    @router.post("/internal/telemetry/optIn", response_model=None)
    async def opt_in(body: OptInBody) -> Response | list[dict[str, Any]]:
        """Record the administrator's choice; answers the opt-in stats that were reported."""
        try:
            await service.set_opt_in(body.enabled)
        except OptInLockedError:
            return kibana_error(400, NOT_ALLOWED_MESSAGE)
        return await on_opt_in_changed(body.enabled)

    async def config() -> dict[str, Any]:
        return await service.config_body()

    for path in ("/internal/telemetry/config", "/api/telemetry/v2/config"):
        router.add_api_route(
            path,
            config,
            methods=["GET"],
            response_model=None,
            openapi_extra=route_options(access="public"),
        )

    @router.put(
        "/internal/telemetry/userHasSeenNotice",
        response_model=None,
        openapi_extra=route_options(access="viewer"),
    )
    async def user_has_seen_notice() -> dict[str, Any]:
        return await service.mark_notice_seen()

    @router.get("/internal/telemetry/last_reported", response_model=None)
    async def get_last_reported() -> dict[str, Any]:
        last = await service.last_reported()
        return {} if last is None else {"lastReported": last}

    @router.put(
        "/internal/telemetry/last_reported",
        response_model=None,
        openapi_extra=route_options(access="viewer"),
    )
    async def put_last_reported() -> Response:
        await service.set_last_reported()
        return Response(status_code=200)

    async def stats(
        request: Request,
        unencrypted: bool,
        what: str,
        build: Callable[[TelemetryCollectionManager], Awaitable[list[dict[str, Any]]]],
    ) -> Response | list[dict[str, Any]]:
        """A stats answer: unencrypted for administrators only; a failure is logged and ``[]``."""
        if unencrypted and not get_principal(request).has("admin"):
            return kibana_error(403, ADMIN_ONLY)
        if manager is None or not await service.store_available():
            raise StoreUnavailableError("the store or the collection manager is unavailable")
        try:
            return await build(manager)
        except EncryptionUnavailableError as exc:
            return kibana_error(503, f"Cannot encrypt telemetry: {exc}")
        except Exception as exc:
            service.log_failure(f"building {what} failed", exc)
            return []

    @router.post(
        "/internal/telemetry/clusters/_stats",
        response_model=None,
        openapi_extra=route_options(access="viewer"),
    )
    async def cluster_stats(request: Request, body: StatsBody) -> Response | list[dict[str, Any]]:
        """The snapshot payload: encrypted by default; ``unencrypted`` is for administrators."""
        return await stats(
            request,
            body.unencrypted,
            "the telemetry payload",
            lambda m: m.get_stats(unencrypted=body.unencrypted, refresh_cache=body.refresh_cache),
        )

    @router.get(
        "/internal/telemetry/status",
        response_model=None,
        openapi_extra=route_options(access="viewer"),
    )
    async def status(request: Request) -> dict[str, Any]:
        """What the settings page shows (read-only): the effective consent and why, the send
        state, the send history (newest first) and who is asking (``principal``)."""
        body = await service.status()
        body["history"] = await history.list() if history is not None else []
        principal = get_principal(request)
        body["principal"] = {"name": principal.name, "role": principal.role}
        return body

    @router.post(
        "/api/telemetry/v2/clusters/_opt_in_stats",
        response_model=None,
        openapi_extra=route_options(access="viewer"),
    )
    async def opt_in_stats(
        request: Request, body: OptInStatsBody
    ) -> Response | list[dict[str, Any]]:
        """``[{clusterUuid, stats: {cluster_uuid, opt_in_status}}]`` for the given status."""
        return await stats(
            request,
            body.unencrypted,
            "the opt-in stats",
            lambda m: m.get_opt_in_stats(body.enabled, unencrypted=body.unencrypted),
        )

    if send_now is not None:
        sender = send_now

        @router.post(
            "/internal/telemetry/send",
            response_model=None,
            openapi_extra=route_options(access="admin"),
        )
        async def send(body: SendBody | None = None) -> dict[str, Any]:
            """Send the snapshot now if it is due (``force``: even if not); never without
            consent. Answers ``{sent, reason}`` (Kibana's dev-only ``force_send``, made safe)."""
            sent, reason = await sender(body.force if body else False)
            return {"sent": sent, "reason": reason}

    return router
