"""The seed's "Usage" example in Python: ``telemetry`` is an optional plugin."""

from __future__ import annotations

from typing import Any

from fastapi import Response
from fastapi.responses import JSONResponse

from telemetry_service.core import CoreSetup, CoreStart, Plugin, PluginContracts

__all__ = ["SampleAppPlugin"]


class SampleAppPlugin(Plugin):
    id = "sample_app"
    required_plugins = ()
    optional_plugins = ("telemetry",)

    def __init__(self) -> None:
        self.telemetry: Any = None
        self.is_opted_in = False

    async def setup(self, core: CoreSetup, plugins: PluginContracts) -> object | None:
        router = core.http.create_router(prefix="/api/sample_app", tags=["sample_app"])

        @router.get("/hello")
        async def hello() -> Response:
            opted_in = await self.telemetry.get_is_opted_in() if self.telemetry else False
            return JSONResponse({"hello": "world", "telemetryOptedIn": opted_in})

        core.http.register_router(router)
        return None

    async def start(self, core: CoreStart, plugins: PluginContracts) -> object | None:
        self.telemetry = plugins["telemetry"]  # the start contract, or None when absent/disabled
        self.is_opted_in = await self.telemetry.get_is_opted_in() if self.telemetry else False
        core.logger.info("sample_app started (telemetry opted in: %s)", self.is_opted_in)
        return None
