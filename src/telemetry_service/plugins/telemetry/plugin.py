"""The ``telemetry`` plugin: consent, the public contracts, the routes."""

from __future__ import annotations

from typing import Any

import httpx

from telemetry_service.core import CoreSetup, CoreStart, Plugin, PluginContracts
from telemetry_service.plugins.telemetry_collection_manager import TelemetryCollectionManager
from telemetry_service.plugins.usage_collection import UsageCollectionSetup

from .collector import register_telemetry_collector
from .config import TelemetryConfig
from .contracts import TelemetrySetup, TelemetryStart
from .encryption import PayloadEncrypter
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
        self.manager: TelemetryCollectionManager | None = None

    async def setup(self, core: CoreSetup, plugins: PluginContracts) -> TelemetrySetup:
        def config() -> TelemetryConfig:
            value = core.config.get()
            assert isinstance(value, TelemetryConfig)
            return value

        self.service = TelemetryService(
            config=config, store=core.store, version=core.version, env=core.env, clock=core.clock
        )
        self.watcher = OptInWatcher(self.service, interval=self._poll_interval, logger=core.logger)
        manager = plugins["telemetry_collection_manager"]
        if isinstance(manager, TelemetryCollectionManager):
            self.manager = manager
            manager.set_encrypter(PayloadEncrypter(config))
        usage = plugins["usage_collection"]
        if isinstance(usage, UsageCollectionSetup):
            register_telemetry_collector(usage, self.service)
        core.http.register_router(
            build_router(
                self.service, on_opt_in_changed=self._on_opt_in_changed, manager=self.manager
            )
        )

        def url() -> httpx.URL:
            return get_telemetry_url(config())

        return TelemetrySetup(url)

    async def _on_opt_in_changed(self, enabled: bool) -> list[dict[str, Any]]:
        """After the route stored a choice: update the in-memory value and answer the stats."""
        assert self.watcher is not None
        assert self.service is not None
        self.watcher.apply(enabled)
        if self.manager is None:
            return []
        try:
            return await self.manager.get_opt_in_stats(enabled)
        except Exception as exc:
            self.service.log_failure("encrypting the opt-in stats failed", exc)
            return []

    async def start(self, core: CoreStart, plugins: PluginContracts) -> TelemetryStart:
        assert self.watcher is not None
        if core.background:
            await self.watcher.start()
        else:
            await self.watcher.refresh()
        watcher = self.watcher

        async def is_opted_in() -> bool:
            return watcher.is_opted_in

        return TelemetryStart(is_opted_in)

    async def stop(self) -> None:
        if self.watcher is not None:
            await self.watcher.stop()
