"""``core.analytics``: the platform's one analytics client, its server context and core events.

Like Kibana's core analytics service (``CA/server-internal``): every plugin gets the same
:class:`~telemetry_service.ebt.AnalyticsClient` in setup and in start. Core registers the server
context providers (spec 3.1): ``cluster info`` (the deployment's UUID and name), ``instance
info`` (this instance's UUID and pid), ``build info`` (the host's version and, beyond Kibana, the
Python version and OS) and ``status info``; and reports its own events: ``platform_started``
(like ``kibana_started``: when each lifecycle step began and ended) and
``core-overall_status_changed``. Nothing here is sent by itself: the telemetry plugin opts the
client in and registers the shippers. Reporting never blocks or raises into the host.
"""

from __future__ import annotations

import asyncio
import logging
import os
import platform as host_platform
import time
from collections.abc import Mapping
from typing import Any

from telemetry_service.common.clock import Clock, utc_now
from telemetry_service.ebt import AnalyticsClient, ContextValue

from .status import OverallStatusWatcher, ServiceStatus, StatusService

__all__ = [
    "PLATFORM_STARTED",
    "STATUS_CHANGED",
    "AnalyticsService",
    "core_event_schemas",
]

PLATFORM_STARTED = "platform_started"
STATUS_CHANGED = "core-overall_status_changed"
STEPS = ("constructor", "setup", "start")


def _leaf(kind: str, description: str) -> dict[str, Any]:
    return {"type": kind, "_meta": {"description": description}}


def _step(name: str) -> dict[str, Any]:
    return {
        "properties": {
            "start": _leaf("float", f"When {name} began (ms since the platform was created)."),
            "end": _leaf("float", f"When {name} ended (ms since the platform was created)."),
        }
    }


_STATUS_FIELDS: dict[str, Any] = {
    "overall_status_level": _leaf("keyword", "initializing, available, degraded or unavailable."),
    "overall_status_summary": _leaf("text", "Which services are not available, in words."),
}


def core_event_schemas() -> dict[str, dict[str, Any]]:
    """The schemas of the events core reports, by event type."""
    return {
        PLATFORM_STARTED: {
            "uptime_per_step": {"properties": {step: _step(step) for step in STEPS}},
            "plugins": _leaf("long", "How many plugins were started."),
        },
        STATUS_CHANGED: dict(_STATUS_FIELDS),
    }


_CONTEXT_SCHEMAS: dict[str, dict[str, Any]] = {
    "cluster info": {
        "cluster_uuid": _leaf("keyword", "The deployment's UUID, shared by its instances."),
        "cluster_name": _leaf("keyword", "The deployment's name (server.name)."),
    },
    "instance info": {
        "instance_uuid": _leaf("keyword", "This instance's UUID (kept in path.data)."),
        "pid": _leaf("long", "This instance's process id."),
    },
    "build info": {
        "version": _leaf("keyword", "The host application's version."),
        "python_version": _leaf("keyword", "The Python version the host runs on."),
        "os_platform": _leaf("keyword", "The operating system (linux, darwin, windows)."),
        "os_release": _leaf("keyword", "The operating system's release."),
        "os_arch": _leaf("keyword", "The machine architecture."),
    },
    "status info": _STATUS_FIELDS,
}


class AnalyticsService:
    """Owns the client; the platform calls :meth:`mark`, :meth:`set_identity`, the reports and
    :meth:`stop` as it goes."""

    def __init__(
        self,
        version: str,
        status: StatusService,
        *,
        clock: Clock = utc_now,
        logger: logging.Logger | None = None,
        is_dev: bool = False,
    ) -> None:
        self._log = logger or logging.getLogger("telemetry_service.analytics")
        self._created = time.monotonic()
        self._steps: dict[str, dict[str, float]] = {step: {} for step in STEPS}
        self._steps["constructor"]["start"] = 0.0
        self.client = AnalyticsClient(is_dev=is_dev, logger=self._log, clock=clock)
        for event_type, schema in core_event_schemas().items():
            self.client.register_event_type(event_type, schema)
        self.client.register_context_provider(
            "build info",
            {
                "version": version,
                "python_version": host_platform.python_version(),
                "os_platform": host_platform.system().lower(),
                "os_release": host_platform.release(),
                "os_arch": host_platform.machine(),
            },
            _CONTEXT_SCHEMAS["build info"],
        )
        self._status = ContextValue(
            {"overall_status_level": "initializing", "overall_status_summary": "starting up"}
        )
        self._last_status: tuple[str, str] | None = None
        self.client.register_context_provider(
            "status info", self._status, _CONTEXT_SCHEMAS["status info"]
        )
        self._watcher = OverallStatusWatcher(status, self.report_status)
        self.stopped = False
        self.mark("constructor", "end")

    def mark(self, step: str, edge: str) -> None:
        """Record that lifecycle ``step`` (constructor, setup, start) began or ended now."""
        self._steps[step][edge] = round((time.monotonic() - self._created) * 1000, 3)

    def set_identity(self, *, cluster_uuid: str, cluster_name: str, instance_uuid: str) -> None:
        """Register the identity providers, once the deployment and instance UUIDs are known."""
        for name, value in (
            ("cluster info", {"cluster_uuid": cluster_uuid, "cluster_name": cluster_name}),
            ("instance info", {"instance_uuid": instance_uuid, "pid": os.getpid()}),
        ):
            self.client.remove_context_provider(name)  # a platform may be started again
            self.client.register_context_provider(name, value, _CONTEXT_SCHEMAS[name])

    async def started(self, plugins: int, *, watch_status: bool) -> None:
        """At the end of ``Platform.start``: ``platform_started`` and the first overall status;
        with ``watch_status``, status changes from then on."""
        steps = {name: dict(edges) for name, edges in self._steps.items()}
        self.client.report_event(PLATFORM_STARTED, {"uptime_per_step": steps, "plugins": plugins})
        try:
            await self._watcher.check()
        except Exception as exc:  # pragma: no cover - StatusService turns failures into a level
            self._log.warning("reading the overall status failed: %s", type(exc).__name__)
        if watch_status:
            self._watcher.start()

    def report_status(self, status: ServiceStatus) -> None:
        """On an overall status change: the event first, then the context (Kibana's order, so
        the event's context holds the previous status)."""
        value = (status.level.label, status.summary)
        if value == self._last_status:
            return
        self._last_status = value
        fields: Mapping[str, Any] = {
            "overall_status_level": value[0],
            "overall_status_summary": value[1],
        }
        self.client.report_event(STATUS_CHANGED, fields)
        self._status.set(fields)

    async def stop(self, timeout_s: float = 5.0) -> None:
        """Stop watching the status, flush and shut the client down within ``timeout_s``;
        never raises."""
        self.stopped = True
        await self._watcher.stop()
        try:
            await asyncio.wait_for(self.client.shutdown(), timeout=timeout_s)
        except TimeoutError:
            self._log.warning("analytics did not flush within %.1fs; events dropped", timeout_s)
        except Exception as exc:  # pragma: no cover - the client logs its own failures
            self._log.warning("analytics shutdown failed: %s", type(exc).__name__)
