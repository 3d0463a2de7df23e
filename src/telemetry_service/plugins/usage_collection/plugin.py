"""The ``usage_collection`` plugin: the collector registry, usage counters and their routes."""

from __future__ import annotations

from functools import partial

from telemetry_service.core import CoreSetup, CoreStart, Plugin, PluginContracts

from .collector import CollectorFetchContext
from .collector_set import CollectorSet
from .config import UsageCollectionConfig
from .contracts import UsageCollectionSetup
from .counters import UsageCountersService
from .counters_collector import make_ui_counters_collector, make_usage_counters_collector
from .routes import build_router

__all__ = ["UsageCollectionPlugin"]


class UsageCollectionPlugin(Plugin):
    id = "usage_collection"
    config_path = "usageCollection"
    config_schema = UsageCollectionConfig

    def __init__(self) -> None:
        self.contract: UsageCollectionSetup | None = None
        self.counters: UsageCountersService | None = None

    async def setup(self, core: CoreSetup, plugins: PluginContracts) -> UsageCollectionSetup:
        config = core.config.get()
        assert isinstance(config, UsageCollectionConfig)
        collector_set = CollectorSet(
            logger=core.logger,
            maximum_wait_time_for_all_collectors_s=config.maximum_wait_time_for_all_collectors_in_s,
            fetch_timeout_s=config.fetch_timeout,
            max_collector_concurrency=config.max_collector_concurrency,
        )
        counters = UsageCountersService(
            core.store,
            clock=core.clock,
            buffer_duration_s=config.usage_counters.buffer_duration,
            retry_count=config.usage_counters.retry_count,
            logger=core.logger,
            enabled=config.usage_counters.enabled,
        )
        self.counters = counters
        collector_set.register_collector(make_usage_counters_collector(core.store))
        if config.ui_counters.enabled:
            collector_set.register_collector(make_ui_counters_collector(core.store))
        context = partial(CollectorFetchContext, store=core.store, logger=core.logger)
        self.contract = UsageCollectionSetup(collector_set, counters, context)
        core.http.register_router(build_router(core, counters))
        return self.contract

    async def start(self, core: CoreStart, plugins: PluginContracts) -> UsageCollectionSetup:
        assert self.counters is not None
        assert self.contract is not None
        if core.background:
            await self.counters.start()
        return self.contract

    async def stop(self) -> None:
        if self.counters is not None:
            await self.counters.stop()
