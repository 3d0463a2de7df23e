"""The ``telemetry_collection_manager`` plugin: strategies, payload assembly, cache."""

from __future__ import annotations

from telemetry_service.core import CoreSetup, CoreStart, Plugin, PluginContracts
from telemetry_service.plugins.usage_collection import UsageCollectionSetup

from .cache import PayloadCache
from .contracts import TelemetryCollectionManager
from .local_stats import LocalStats

__all__ = ["TelemetryCollectionManagerPlugin"]


class TelemetryCollectionManagerPlugin(Plugin):
    id = "telemetry_collection_manager"
    required_plugins = ("usage_collection",)

    def __init__(self) -> None:
        self.manager: TelemetryCollectionManager | None = None

    async def setup(self, core: CoreSetup, plugins: PluginContracts) -> TelemetryCollectionManager:
        usage = plugins["usage_collection"]
        assert isinstance(usage, UsageCollectionSetup)
        self.manager = TelemetryCollectionManager(
            version=core.version,
            clock=core.clock,
            cache=PayloadCache(clock=lambda: core.clock().timestamp()),
        )
        local = LocalStats(usage, core)
        self.manager.set_collection_strategy(
            title="local",
            priority=0,
            stats_getter=local.stats,
            cluster_details_getter=local.cluster_uuids,
        )
        return self.manager

    async def start(self, core: CoreStart, plugins: PluginContracts) -> TelemetryCollectionManager:
        assert self.manager is not None
        return self.manager
