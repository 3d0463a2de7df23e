"""The seed's "Usage" example in Python: ``telemetry`` is an optional plugin.

It also shows the collection side: a usage collector with a schema, a usage counter
incremented by its route, and an event (``core.analytics``) reported when it starts and on each
greeting.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import Response
from fastapi.responses import JSONResponse

from telemetry_service.core import CoreSetup, CoreStart, Plugin, PluginContracts
from telemetry_service.plugins.usage_collection import CollectorFetchContext, UsageCollectionSetup

__all__ = ["SAMPLE_APP_EVENT", "SAMPLE_APP_EVENT_SCHEMA", "SAMPLE_APP_SCHEMA", "SampleAppPlugin"]

SAMPLE_APP_EVENT = "sample_app_action"
SAMPLE_APP_EVENT_SCHEMA: dict[str, Any] = {
    "action": {"type": "keyword", "_meta": {"description": "started, or hello (a greeting)."}},
    "greetings_served": {
        "type": "long",
        "_meta": {"description": "Greetings served by this instance so far."},
    },
}

SAMPLE_APP_SCHEMA: dict[str, Any] = {
    "greetings_served": {
        "type": "long",
        "_meta": {"description": "Requests to /api/sample_app/hello since this instance started."},
    },
    "uptime_s": {"type": "long", "_meta": {"description": "Seconds since the plugin started."}},
    "features": {
        "dark_mode": {"type": "boolean", "_meta": {"description": "Whether dark mode is on."}},
        "language": {"type": "keyword", "_meta": {"description": "The UI language."}},
    },
}


class SampleAppPlugin(Plugin):
    id = "sample_app"
    required_plugins = ()
    optional_plugins = ("telemetry", "usage_collection")

    def __init__(self) -> None:
        self.telemetry: Any = None
        self.is_opted_in = False
        self.greetings = 0
        self._started = time.monotonic()

    async def setup(self, core: CoreSetup, plugins: PluginContracts) -> object | None:
        analytics = core.analytics
        analytics.register_event_type(SAMPLE_APP_EVENT, SAMPLE_APP_EVENT_SCHEMA)
        usage = plugins["usage_collection"]
        counter = None
        if isinstance(usage, UsageCollectionSetup):
            usage.register_collector(
                usage.make_usage_collector(
                    type="sample_app", fetch=self._fetch_usage, schema=SAMPLE_APP_SCHEMA
                )
            )
            counter = usage.create_usage_counter("sample_app")
        router = core.http.create_router(prefix="/api/sample_app", tags=["sample_app"])

        @router.get("/hello")
        async def hello() -> Response:
            self.greetings += 1
            analytics.report_event(
                SAMPLE_APP_EVENT, {"action": "hello", "greetings_served": self.greetings}
            )
            if counter is not None:
                counter.increment_counter("hello")
            opted_in = await self.telemetry.get_is_opted_in() if self.telemetry else False
            return JSONResponse({"hello": "world", "telemetryOptedIn": opted_in})

        core.http.register_router(router)
        return None

    def _fetch_usage(self, context: CollectorFetchContext) -> dict[str, Any]:
        return {
            "greetings_served": self.greetings,
            "uptime_s": int(time.monotonic() - self._started),
            "features": {"dark_mode": False, "language": "en"},
        }

    async def start(self, core: CoreStart, plugins: PluginContracts) -> object | None:
        self.telemetry = plugins["telemetry"]  # the start contract, or None when absent/disabled
        self.is_opted_in = await self.telemetry.get_is_opted_in() if self.telemetry else False
        core.logger.info("sample_app started (telemetry opted in: %s)", self.is_opted_in)
        core.analytics.report_event(
            SAMPLE_APP_EVENT, {"action": "started", "greetings_served": self.greetings}
        )
        return None
