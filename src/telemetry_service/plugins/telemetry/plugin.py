"""The ``telemetry`` plugin: consent, the public contracts, the routes."""

from __future__ import annotations

from typing import Any

import httpx

from telemetry_service.core import CoreSetup, CoreStart, Plugin, PluginContracts

from .config import TelemetryConfig
from .contracts import TelemetrySetup, TelemetryStart
from .endpoints import get_telemetry_url
from .opt_in_watcher import OPT_IN_POLL_INTERVAL_S, OptInWatcher
from .routes import build_router
from .service import TelemetryService

__all__ = ["TelemetryPlugin"]


class TelemetryPlugin(Plugin):
    id = "telemetry"
    config_path = "telemetry"
    config_schema = TelemetryConfig
    optional_plugins = ("usage_collection", "telemetry_collection_manager")
    #: ``telemetry.enabled: false`` forces opt-out (Kibana's meta setting); it does not remove
    #: the plugin, so other plugins still get a contract that answers False.
    disableable = False

    def __init__(self, *, opt_in_poll_interval: float = OPT_IN_POLL_INTERVAL_S) -> None:
        self._poll_interval = opt_in_poll_interval
        self.service: TelemetryService | None = None
        self.watcher: OptInWatcher | None = None

    async def setup(self, core: CoreSetup, plugins: PluginContracts) -> TelemetrySetup:
        def config() -> TelemetryConfig:
            value = core.config.get()
            assert isinstance(value, TelemetryConfig)
            return value

        self.service = TelemetryService(
            config=config, store=core.store, version=core.version, env=core.env, clock=core.clock
        )
        self.watcher = OptInWatcher(self.service, interval=self._poll_interval, logger=core.logger)
        core.http.register_router(
            build_router(self.service, on_opt_in_changed=self._on_opt_in_changed)
        )

        def url() -> httpx.URL:
            return get_telemetry_url(config())

        return TelemetrySetup(url)

    async def _on_opt_in_changed(self, enabled: bool) -> list[dict[str, Any]]:
        assert self.watcher is not None
        self.watcher.apply(enabled)
        return []

    async def start(self, core: CoreStart, plugins: PluginContracts) -> TelemetryStart:
        assert self.watcher is not None
        await self.watcher.start()
        watcher = self.watcher

        async def is_opted_in() -> bool:
            return watcher.is_opted_in

        return TelemetryStart(is_opted_in)

    async def stop(self) -> None:
        if self.watcher is not None:
            await self.watcher.stop()
