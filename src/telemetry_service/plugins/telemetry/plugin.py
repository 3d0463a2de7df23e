"""The ``telemetry`` plugin: consent, the public contracts, the routes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
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
from .fetcher import FetcherTask, SendReport
from .history import SendHistory
from .opt_in_watcher import OPT_IN_POLL_INTERVAL_S, OptInWatcher
from .routes import build_router
from .sender import TelemetrySender, build_client
from .service import Consent, TelemetryService
from .web import WebPages, build_web_router

__all__ = ["TelemetryPlugin"]


class TelemetryPlugin(Plugin):
    id = "telemetry"
    config_path = "telemetry"
    config_schema = TelemetryConfig
    optional_plugins = ("usage_collection", "telemetry_collection_manager")
    #: ``telemetry.enabled: false`` forces opt-out (Kibana's meta setting); it does not remove
    #: the plugin, so other plugins still get a contract that answers False.
    disableable = False

    def __init__(
        self,
        *,
        opt_in_poll_interval: float = OPT_IN_POLL_INTERVAL_S,
        send_deadline_s: float = 300.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._poll_interval = opt_in_poll_interval
        self._send_deadline_s = send_deadline_s
        self._sleep = sleep
        self.service: TelemetryService | None = None
        self.watcher: OptInWatcher | None = None
        self.manager: TelemetryCollectionManager | None = None
        self.fetcher: FetcherTask | None = None
        self.history: SendHistory | None = None
        self._client: httpx.AsyncClient | None = None
        self._client_marker: object = None

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
        self.history = SendHistory(core.store)
        sender = TelemetrySender(
            lambda: self._http_client(config()), deadline_s=self._send_deadline_s, sleep=self._sleep
        )
        self.fetcher = FetcherTask(
            service=self.service,
            manager=self.manager,
            store=core.store,
            sender=sender,
            history=self.history,
            instance_id=core.instance_uuid,
            logger=core.logger,
        )
        usage = plugins["usage_collection"]
        if isinstance(usage, UsageCollectionSetup):
            register_telemetry_collector(usage, self.service)
        core.http.register_router(
            build_router(
                self.service,
                on_opt_in_changed=self._on_opt_in_changed,
                manager=self.manager,
                history=self.history,
                send_now=self._send_from_route,
            )
        )
        pages = WebPages(
            telemetry_config=config, core_config=lambda: core.core_config, version=core.version
        )
        core.http.register_router(build_web_router(pages))

        def url() -> httpx.URL:
            return get_telemetry_url(config())

        return TelemetrySetup(url)

    def _http_client(self, config: TelemetryConfig) -> httpx.AsyncClient:
        """One client per proxy/TLS/timeout setting; rebuilt when those change."""
        marker = (config.proxy, config.ssl, config.timeouts)
        if self._client is None or marker != self._client_marker:
            if self._client is not None:
                old = self._client
                asyncio.get_running_loop().create_task(old.aclose())
            self._client = build_client(config)
            self._client_marker = marker
        return self._client

    async def set_opt_in(self, enabled: bool, *, wait_for_report: bool = False) -> Consent:
        """Record a choice as the route does (for the CLI); raises when it is locked."""
        assert self.service is not None
        assert self.fetcher is not None
        consent = await self.service.set_opt_in(enabled)
        if self.watcher is not None:
            self.watcher.apply(enabled)
        if wait_for_report:
            await self.fetcher.send_opt_in_status(enabled)
        else:
            self.fetcher.notify_opt_in_change(enabled)
        return consent

    async def _send_from_route(self, force: bool) -> tuple[bool, str]:
        report = await self.send_now(force=force)
        return report.sent, report.reason

    async def send_now(self, *, force: bool = False) -> SendReport:
        assert self.fetcher is not None
        return await self.fetcher.send_snapshot(force=force)

    async def _on_opt_in_changed(self, enabled: bool) -> list[dict[str, Any]]:
        """After the route stored a choice: update the in-memory value, report the change in
        the background, and answer the encrypted opt-in stats."""
        assert self.watcher is not None
        assert self.service is not None
        assert self.fetcher is not None
        self.watcher.apply(enabled)
        self.fetcher.notify_opt_in_change(enabled)
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
            assert self.fetcher is not None
            assert self.service is not None
            if self.service.config().fetcher.enabled:
                self.fetcher.start()
        else:
            await self.watcher.refresh()
        watcher = self.watcher

        async def is_opted_in() -> bool:
            return watcher.is_opted_in

        return TelemetryStart(is_opted_in)

    async def stop(self) -> None:
        if self.fetcher is not None:
            await self.fetcher.stop(timeout_s=5.0)
        if self.watcher is not None:
            await self.watcher.stop()
        if self._client is not None:
            await self._client.aclose()
            self._client = None
