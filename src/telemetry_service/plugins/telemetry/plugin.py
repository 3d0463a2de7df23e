"""The ``telemetry`` plugin: wires the state, the sender, the routes and the pages together."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx

from telemetry_service.core import CoreSetup, CoreStart, Plugin, PluginContracts
from telemetry_service.plugins.telemetry_collection_manager import TelemetryCollectionManager
from telemetry_service.plugins.usage_collection import UsageCollectionSetup

from .admin import TelemetryAdmin
from .collector import register_telemetry_collector
from .config import TelemetryConfig
from .consent import Consent
from .contracts import TelemetrySetup, TelemetryStart
from .delivery import Delivery, SendReport
from .encryption import PayloadEncrypter
from .endpoints import get_telemetry_url
from .events import EventTelemetry
from .fetcher import FetcherTask
from .history import SendHistory
from .opt_in_watcher import OPT_IN_POLL_INTERVAL_S, OptInWatcher
from .routes import build_router
from .sender import TelemetrySender, build_client
from .state import TelemetryState
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
        send_deadline_s: float | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._poll_interval = opt_in_poll_interval
        self._send_deadline_s = send_deadline_s
        self._sleep = sleep
        self._admin: TelemetryAdmin | None = None
        self._client: httpx.AsyncClient | None = None
        self._client_marker: object = None

    @property
    def admin(self) -> TelemetryAdmin:
        """Status, opt-in, send, export and history, for the CLI (after setup)."""
        if self._admin is None:
            raise RuntimeError("the telemetry plugin is not set up")
        return self._admin

    async def setup(self, core: CoreSetup, plugins: PluginContracts) -> TelemetrySetup:
        def config() -> TelemetryConfig:
            value = core.config.get()
            assert isinstance(value, TelemetryConfig)
            return value

        state = TelemetryState(
            config=config, store=core.store, version=core.version, env=core.env, clock=core.clock
        )
        manager = plugins["telemetry_collection_manager"]
        if not isinstance(manager, TelemetryCollectionManager):
            manager = None
        else:
            manager.set_encrypter(PayloadEncrypter(config))
        history = SendHistory(core.store)
        sender = TelemetrySender(
            lambda: self._http_client(config()),
            config=config,
            deadline_s=self._send_deadline_s,
            sleep=self._sleep,
        )
        delivery = Delivery(
            state=state, manager=manager, sender=sender, history=history, log=core.logger
        )
        fetcher = FetcherTask(
            state=state,
            delivery=delivery,
            store=core.store,
            sender=sender,
            instance_id=core.instance_uuid,
            logger=core.logger,
        )
        events = EventTelemetry(
            core.analytics,
            config,
            version=core.version,
            store=core.store,
            instance_uuid=core.instance_uuid,
            clock=core.clock,
            logger=core.logger,
        )
        if core.background:  # one-shot commands ship nothing
            events.register_shipper()
        watcher = OptInWatcher(
            state, interval=self._poll_interval, logger=core.logger, on_consent=events.apply
        )
        # Not applied in setup, unlike Kibana: the first refresh in start knows every rule
        # (DO_NOT_TRACK too), so no connectivity probe can leave before the full decision.
        self._admin = TelemetryAdmin(
            state=state,
            watcher=watcher,
            fetcher=fetcher,
            delivery=delivery,
            send_history=history,
            events=events,
        )
        usage = plugins["usage_collection"]
        if isinstance(usage, UsageCollectionSetup):
            register_telemetry_collector(usage, state)
        core.http.register_router(build_router(self._admin, manager=manager, logger=core.logger))
        pages = WebPages(
            telemetry_config=config, core_config=lambda: core.core_config, version=core.version
        )
        core.http.register_router(build_web_router(pages))
        return TelemetrySetup(lambda: get_telemetry_url(config()))

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
        return await self.admin.set_opt_in(enabled, wait_for_report=wait_for_report)

    async def send_now(self, *, force: bool = False) -> SendReport:
        return await self.admin.send_now(force=force)

    async def start(self, core: CoreStart, plugins: PluginContracts) -> TelemetryStart:
        watcher = self.admin.watcher
        if core.background:
            await watcher.start()
            self.admin.events.start()
            if self.admin.state.config().fetcher.enabled:
                self.admin.fetcher.start()
        else:
            await watcher.refresh()

        async def is_opted_in() -> bool:
            return watcher.is_opted_in

        return TelemetryStart(is_opted_in)

    async def stop(self) -> None:
        if self._admin is not None:
            await self._admin.fetcher.stop(timeout_s=5.0)
            await self._admin.watcher.stop()
            await self._admin.events.stop()
        if self._client is not None:
            await self._client.aclose()
            self._client = None
