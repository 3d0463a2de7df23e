"""Per-service status: available, degraded or unavailable, the overall level, and its changes.

Statuses are set or computed on demand by async checks, so a change is noticed by looking:
:class:`OverallStatusWatcher` computes the overall status every few seconds and calls its
listener when the level or the summary changed (Kibana reports ``core-overall_status_changed``).
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from telemetry_service.common.periodic import PeriodicTask, Sleep

__all__ = [
    "OverallStatusWatcher",
    "ServiceStatus",
    "StatusLevel",
    "StatusService",
    "add_status_route",
]

STATUS_POLL_INTERVAL_S = 5.0


class StatusLevel(enum.IntEnum):
    AVAILABLE = 0
    DEGRADED = 1
    UNAVAILABLE = 2

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class ServiceStatus:
    level: StatusLevel
    summary: str

    def to_json(self) -> dict[str, Any]:
        return {"level": self.level.label, "summary": self.summary}


StatusCheck = Callable[[], Awaitable[ServiceStatus]]


class StatusService:
    """Holds the status of the core services and of each plugin.

    A service either sets its status (``set``) or registers a check that is awaited when the
    status is asked for (``register_check``); a check that raises reports ``unavailable``.
    """

    def __init__(self) -> None:
        self._core: dict[str, ServiceStatus | StatusCheck] = {}
        self._plugins: dict[str, ServiceStatus | StatusCheck] = {}

    def set_core(self, name: str, status: ServiceStatus | StatusCheck) -> None:
        self._core[name] = status

    def set_plugin(self, plugin_id: str, status: ServiceStatus | StatusCheck) -> None:
        self._plugins[plugin_id] = status

    @staticmethod
    async def _resolve(entry: ServiceStatus | StatusCheck) -> ServiceStatus:
        if isinstance(entry, ServiceStatus):
            return entry
        try:
            return await entry()
        except Exception as exc:
            return ServiceStatus(
                StatusLevel.UNAVAILABLE, f"status check failed: {type(exc).__name__}"
            )

    async def snapshot(self) -> dict[str, Any]:
        core = {name: await self._resolve(entry) for name, entry in self._core.items()}
        plugins = {name: await self._resolve(entry) for name, entry in self._plugins.items()}
        worst = max(
            [s.level for s in (*core.values(), *plugins.values())], default=StatusLevel.AVAILABLE
        )
        if worst is StatusLevel.AVAILABLE:
            summary = "All services are available"
        else:
            names = [n for n, s in (*core.items(), *plugins.items()) if s.level == worst]
            summary = f"{len(names)} service(s) {worst.label}: {', '.join(names)}"
        return {
            "overall": ServiceStatus(worst, summary).to_json(),
            "core": {n: s.to_json() for n, s in core.items()},
            "plugins": {n: s.to_json() for n, s in plugins.items()},
        }

    async def overall(self) -> StatusLevel:
        return (await self.overall_status()).level

    async def overall_status(self) -> ServiceStatus:
        overall = (await self.snapshot())["overall"]
        return ServiceStatus(StatusLevel[overall["level"].upper()], overall["summary"])


class OverallStatusWatcher:
    """Calls ``on_change`` with the overall status at :meth:`check` and every ``interval`` s
    once started, whenever it differs from the last one seen."""

    def __init__(
        self,
        service: StatusService,
        on_change: Callable[[ServiceStatus], None],
        *,
        interval: float = STATUS_POLL_INTERVAL_S,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._service = service
        self._on_change = on_change
        self._interval = interval
        self.last: ServiceStatus | None = None
        log = logging.getLogger("telemetry_service.core.status")
        self._task = PeriodicTask(
            "status watcher", self._step, sleep=sleep, log=log, first_delay=interval
        )

    async def check(self) -> None:
        status = await self._service.overall_status()
        if status != self.last:
            self.last = status
            self._on_change(status)

    async def _step(self) -> float:
        await self.check()
        return self._interval

    def start(self) -> None:
        self._task.start()

    async def stop(self) -> None:
        await self._task.stop()


def add_status_route(
    router: APIRouter, service: StatusService, name: Callable[[], str], version: str
) -> None:
    """``GET /api/status``: every status and the overall one; 503 when unavailable."""

    @router.get("/api/status", tags=["core"])
    async def get_status() -> Response:
        snapshot = await service.snapshot()
        body = {"name": name(), "version": {"number": version}, "status": snapshot}
        code = 503 if snapshot["overall"]["level"] == "unavailable" else 200
        return JSONResponse(body, status_code=code)
