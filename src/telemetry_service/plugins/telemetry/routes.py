"""The telemetry plugin's HTTP routes, with Kibana's paths, bodies and status codes."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.types import DecoratedCallable
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

from .admin import TelemetryAdmin
from .rules import get_notify_user_about_opt_in_default
from .state import NOT_ALLOWED_MESSAGE, OptInLockedError

__all__ = ["OptInBody", "build_router"]

ADMIN_ONLY = "Only administrators can see unencrypted telemetry."
#: Kibana answers ``badRequest({body: JSON.stringify({error: …})})``: the message is JSON text.
OPT_IN_LOCKED_BODY = orjson.dumps({"error": NOT_ALLOWED_MESSAGE}).decode()


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


def build_router(
    admin: TelemetryAdmin,
    *,
    manager: TelemetryCollectionManager | None,
    logger: logging.Logger,
) -> APIRouter:
    """The routes; a ``StoreError`` they raise is the platform's 503 (``core.http``)."""
    router = APIRouter(tags=["telemetry"])
    state = admin.state

    def route(
        method: str, path: str, access: Literal["public", "viewer", "admin"] | None = None
    ) -> Callable[[DecoratedCallable], DecoratedCallable]:
        """Register a handler: no response model; ``access`` as in `route_options`."""
        options = route_options(access=access)
        return router.api_route(path, methods=[method], response_model=None, openapi_extra=options)

    def log_failure(what: str, exc: BaseException) -> None:
        """One line, no payload: the exception's type and message."""
        logger.warning("%s: %s: %s", what, type(exc).__name__, str(exc)[:200])

    @route("POST", "/internal/telemetry/optIn")
    async def opt_in(body: OptInBody) -> Response | list[dict[str, Any]]:
        """Record the administrator's choice, report it in the background, and answer the
        encrypted opt-in stats."""
        try:
            await admin.set_opt_in(body.enabled)
        except OptInLockedError:
            return kibana_error(400, OPT_IN_LOCKED_BODY)
        if manager is None:
            return []
        try:
            return await manager.get_opt_in_stats(body.enabled)
        except Exception as exc:
            log_failure("encrypting the opt-in stats failed", exc)
            return []

    async def config() -> dict[str, Any]:
        """The body of ``GET /internal/telemetry/config`` (and ``/api/telemetry/v2/config``)."""
        current = state.config()
        saved = await state.get()
        consent = await state.consent(saved)
        return {
            "allowChangingOptInStatus": not consent.locked,
            "optIn": consent.value,
            "sendUsageFrom": state.send_usage_from(saved),
            "telemetryNotifyUserAboutOptInDefault": get_notify_user_about_opt_in_default(
                allow_changing_opt_in_status=not consent.locked,
                telemetry_saved_object=saved,
                telemetry_opted_in=consent.value,
                config_telemetry_opt_in=current.opt_in,
            ),
            "labels": current.labels.model_dump(by_alias=True, exclude_none=True),
        }

    for path in ("/internal/telemetry/config", "/api/telemetry/v2/config"):
        route("GET", path, "public")(config)

    @route("PUT", "/internal/telemetry/userHasSeenNotice", "viewer")
    async def user_has_seen_notice() -> dict[str, Any]:
        return await state.mark_notice_seen()

    @route("GET", "/internal/telemetry/last_reported")
    async def get_last_reported() -> dict[str, Any]:
        last = await state.last_reported()
        return {} if last is None else {"lastReported": last}

    @route("PUT", "/internal/telemetry/last_reported", "viewer")
    async def put_last_reported() -> Response:
        await state.set_last_reported()
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
        if manager is None or not await state.store.ping():
            raise StoreUnavailableError("the store or the collection manager is unavailable")
        try:
            return await build(manager)
        except EncryptionUnavailableError as exc:
            return kibana_error(503, f"Cannot encrypt telemetry: {exc}")
        except Exception as exc:
            log_failure(f"building {what} failed", exc)
            return []

    @route("POST", "/internal/telemetry/clusters/_stats", "viewer")
    async def cluster_stats(request: Request, body: StatsBody) -> Response | list[dict[str, Any]]:
        """The snapshot payload: encrypted by default; ``unencrypted`` is for administrators."""
        return await stats(
            request,
            body.unencrypted,
            "the telemetry payload",
            lambda m: m.get_stats(unencrypted=body.unencrypted, refresh_cache=body.refresh_cache),
        )

    @route("GET", "/internal/telemetry/status", "viewer")
    async def status(request: Request) -> dict[str, Any]:
        """What the settings page shows (read-only): the effective consent and why, the send
        state, the send history (newest first) and who is asking (``principal``)."""
        body = await admin.status()
        principal = get_principal(request)
        body["principal"] = {"name": principal.name, "role": principal.role}
        return body

    @route("POST", "/api/telemetry/v2/clusters/_opt_in_stats", "viewer")
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

    @route("POST", "/internal/telemetry/send", "admin")
    async def send(body: SendBody | None = None) -> dict[str, Any]:
        """Send the snapshot now if it is due (``force``: even if not); never without
        consent. Answers ``{sent, reason}`` (Kibana's dev-only ``force_send``, made safe)."""
        report = await admin.send_now(force=body.force if body else False)
        return {"sent": report.sent, "reason": report.reason}

    return router
