"""The ``telemetry_collection_manager`` plugin: strategies, payload assembly, cache, and the
``local`` strategy, which builds this deployment's payload in Kibana's shape (spec 6.5)."""

from __future__ import annotations

import platform
from typing import Any

from telemetry_service.common.clock import iso_ms, to_ms
from telemetry_service.core import CoreSetup, CoreStart, Plugin, PluginContracts
from telemetry_service.plugins.usage_collection import UsageCollectionSetup

from .contracts import PayloadCache, StatsContext, TelemetryCollectionManager

__all__ = ["LocalStats", "TelemetryCollectionManagerPlugin"]

#: Collector types that are folded into ``stack_stats.kibana`` itself, not under ``plugins``.
_RESERVED = frozenset({"kibana", "kibana_stats"})


def _os_block() -> dict[str, Any]:
    system = platform.system().lower()
    release = platform.release()
    block: dict[str, Any] = {
        "platforms": [{"platform": system, "count": 1}],
        "platformReleases": [{"platformRelease": f"{system}-{release}", "count": 1}],
    }
    try:
        info = platform.freedesktop_os_release()
    except OSError:
        return block
    if "ID" in info:
        block["distros"] = [{"distro": info["ID"], "count": 1}]
        if "VERSION_ID" in info:
            block["distroReleases"] = [
                {"distroRelease": f"{info['ID']}-{info['VERSION_ID']}", "count": 1}
            ]
    return block


class LocalStats:
    """Cluster details and stats getters for the ``local`` strategy."""

    def __init__(self, usage_collection: UsageCollectionSetup, core: CoreSetup) -> None:
        self._usage = usage_collection
        self._core = core

    async def cluster_uuids(self, context: StatsContext) -> list[str]:
        return [self._core.deployment_uuid]

    async def stats(self, cluster_uuids: list[str], context: StatsContext) -> list[dict[str, Any]]:
        results = await self._usage.bulk_fetch()
        usage = self._usage.to_object(results)
        plugins = {name: value for name, value in usage.items() if name not in _RESERVED}
        version = context.version.lower().removesuffix("-snapshot")
        kibana: dict[str, Any] = {
            "count": 1,
            "indices": 1,
            "os": _os_block(),
            "versions": [{"version": version, "count": 1}],
            "plugins": plugins,
        }
        return [
            {
                "timestamp": iso_ms(to_ms(self._core.clock())),
                "cluster_uuid": uuid,
                "cluster_name": self._core.core_config.server.name,
                "version": context.version,
                "cluster_stats": {},
                "collection": "local",
                "stack_stats": {"kibana": kibana},
            }
            for uuid in cluster_uuids
        ]


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
