"""Per-service status: available, degraded or unavailable, and the overall level."""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["ServiceStatus", "StatusLevel", "StatusService"]


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
        snap = await self.snapshot()
        return StatusLevel[snap["overall"]["level"].upper()]
