"""``GET /api/stats`` and ``POST /api/ui_counters/_report`` (spec 5.2, 5.3)."""

from __future__ import annotations

import datetime as dt
import os
import platform as host_platform
import socket
import time
from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field, field_validator

from telemetry_service.core import CoreSetup, StatusLevel, route_options

from .counters import UsageCountersService
from .counters_keys import check_name
from .field_names import to_api_field_names

__all__ = ["build_router"]

_STATUS_COLOURS = {
    StatusLevel.AVAILABLE: "green",
    StatusLevel.DEGRADED: "yellow",
    StatusLevel.UNAVAILABLE: "red",
}
_STARTED = time.monotonic()


class UiCounterEntry(BaseModel):
    model_config = ConfigDict(extra="ignore")
    key: str | None = None
    type: str = Field(min_length=1, max_length=100)
    app_name: str = Field(alias="appName", min_length=1, max_length=100)
    event_name: str = Field(alias="eventName", min_length=1, max_length=200)
    total: int = Field(ge=1, le=1_000_000)

    @field_validator("type", "app_name", "event_name")
    @classmethod
    def _storable(cls, value: str) -> str:
        """A name no store can keep (NUL, a lone surrogate) is a 400, not a stuck write."""
        check_name(value, "name")
        return value


class UiReport(BaseModel):
    model_config = ConfigDict(extra="ignore")
    report_version: Literal[3] | None = Field(default=None, alias="reportVersion")
    ui_counter: dict[str, UiCounterEntry] = Field(default_factory=dict, alias="uiCounter")


class UiReportBody(BaseModel):
    report: UiReport


def _flag(value: str | None) -> bool:
    """Kibana's query flags: present and empty, or ``true``, mean true."""
    return value is not None and value.lower() in ("", "true", "1")


def _ops_metrics() -> dict[str, Any]:
    """The process metrics this host can give cheaply (Kibana reports its ops metrics here)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    try:
        load = list(os.getloadavg())
    except OSError:  # pragma: no cover - not on every platform
        load = []
    return {
        "process": {
            "memory": {"resident_set_size_in_bytes": usage.ru_maxrss * 1024},
            "uptime_in_millis": int((time.monotonic() - _STARTED) * 1000),
        },
        "os": {
            "platform": host_platform.system().lower(),
            "platformRelease": host_platform.release(),
            "load": {"1m": load[0], "5m": load[1], "15m": load[2]} if load else {},
        },
    }


def build_router(
    core: CoreSetup,
    counters: UsageCountersService,
    collection_interval_ms: int = 10_000,
) -> APIRouter:
    router = APIRouter(tags=["usage_collection"])

    @router.get("/api/stats")
    async def stats(
        extended: str | None = Query(default=None),
        legacy: str | None = Query(default=None),
        exclude_usage: str | None = Query(default=None),
    ) -> dict[str, Any]:
        """Host statistics (Metricbeat's endpoint); ``extended`` adds the deployment UUID."""
        server = core.core_config.server
        overall = await core.status.overall()
        version = core.version.lower().removesuffix("-snapshot")
        body: dict[str, Any] = {
            **_ops_metrics(),
            "kibana": {
                "uuid": core.instance_uuid,
                "name": server.name,
                "index": ".kibana",
                "host": socket.gethostname(),
                "locale": "en",
                "transport_address": f"{server.host}:{server.port}",
                "version": version,
                "snapshot": core.version.lower().endswith("-snapshot"),
                "status": _STATUS_COLOURS[overall],
            },
            "last_updated": dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z"),
            "collection_interval_in_millis": collection_interval_ms,
        }
        converted = to_api_field_names(body)
        assert isinstance(converted, dict)
        if _flag(extended):  # added after the conversion, so legacy keeps its camelCase key
            converted["usage"] = {}
            converted["clusterUuid" if _flag(legacy) else "cluster_uuid"] = core.deployment_uuid
        return converted

    @router.post("/api/ui_counters/_report", openapi_extra=route_options(access="viewer"))
    async def ui_counters_report(body: UiReportBody) -> dict[str, str]:
        """Store the browser's counters in the default namespace (as Kibana's store_ui_report.ts:
        an entry's ``namespace`` is ignored); answers ``{"status": "fail"}`` on any error."""
        try:
            for entry in body.report.ui_counter.values():
                counter = counters.get_or_create_usage_counter(entry.app_name)
                counter.increment_counter(
                    entry.event_name,
                    counter_type=entry.type,
                    source="ui",
                    increment_by=entry.total,
                )
        except Exception as exc:
            core.logger.warning("ui counters report failed: %s", type(exc).__name__)
            return {"status": "fail"}
        return {"status": "ok"}

    return router
