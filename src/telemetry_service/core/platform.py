"""The platform: discovers plugins, validates config, and runs setup, start and stop in order."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from telemetry_service.common.apikeys import ApiKeyRegistry
from telemetry_service.common.clock import utc_now

from .analytics import AnalyticsService
from .config import ConfigService, ConfigView, load_raw_config
from .context import CoreSetup, CoreStart, HttpSetup, PluginStatus
from .deployment import ensure_deployment_uuid, ensure_instance_uuid
from .errors import PlatformError, PluginLifecycleError
from .http import HttpService
from .plugins import Plugin, PluginContracts, resolve_order
from .status import ServiceStatus, StatusLevel, StatusService, add_status_route
from .store import SavedObjectStore, open_store
from .worker_threads import start_worker_threads

__all__ = ["ENTRY_POINT_GROUP", "Platform", "discover_plugins"]

ENTRY_POINT_GROUP = "telemetry_service.plugins"
DISTRIBUTION = "telemetry-service"
log = logging.getLogger("telemetry_service.core.platform")


def discover_plugins() -> list[Plugin]:
    """Fresh instances of every plugin registered in the entry-point group (built-ins included)."""
    found: list[Plugin] = []
    for entry in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            target = entry.load()
        except Exception as exc:
            raise PlatformError(f"cannot load plugin entry point [{entry.name}]: {exc}") from exc
        plugin = target() if isinstance(target, type) else target
        if not isinstance(plugin, Plugin):
            raise PlatformError(f"entry point [{entry.name}] is not a telemetry_service Plugin")
        found.append(plugin)
    return found


def _installed_version() -> str:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0.0.0"


class Platform:
    """Runs a set of plugins: ``async with Platform(config=…) as platform: …``.

    ``plugins=None`` means every plugin of the entry-point group ``telemetry_service.plugins``
    (the built-in plugins are registered there). ``version`` is the host application's version,
    the one the telemetry opt-in rules compare across upgrades.
    """

    def __init__(
        self,
        config: Mapping[str, Any] | str | os.PathLike[str] | None = None,
        plugins: Sequence[Plugin] | None = None,
        version: str | None = None,
        *,
        env: Mapping[str, str] | None = None,
        clock: Callable[[], dt.datetime] | None = None,
        store: SavedObjectStore | None = None,
        background: bool = True,
    ) -> None:
        self.version = version or _installed_version()
        self._config_source = config
        self._explicit_plugins = list(plugins) if plugins is not None else None
        self._env = dict(os.environ if env is None else env)
        self.clock = clock or utc_now
        self._store = store
        self._owns_store = store is None
        self._setup: dict[str, object | None] = {}
        self._start: dict[str, object | None] = {}
        self._started: list[Plugin] = []
        self._running = False
        self.status = StatusService()
        self.config: ConfigService | None = None
        self._http: HttpService | None = None
        self.plugins: list[Plugin] = []
        self.background = background
        self.deployment_uuid = ""
        self.instance_uuid = ""
        self.analytics = AnalyticsService(self.version, self.status, clock=self.clock)

    # -- public surface --------------------------------------------------------------------
    @property
    def setup_contracts(self) -> Mapping[str, object | None]:
        return MappingProxyType(self._setup)

    @property
    def start_contracts(self) -> Mapping[str, object | None]:
        return MappingProxyType(self._start)

    @property
    def asgi_app(self) -> Any:
        return self.http.app

    @property
    def http(self) -> HttpService:
        if self._http is None:
            raise PlatformError("the platform has not been started")
        return self._http

    @property
    def store(self) -> SavedObjectStore:
        if self._store is None:
            raise PlatformError("the platform has not been started")
        return self._store

    async def __aenter__(self) -> Platform:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # -- lifecycle -------------------------------------------------------------------------
    def prepare(self) -> ConfigService:
        """Discover plugins and validate config and the plugin graph; nothing runs yet."""
        raw = load_raw_config(self._config_source)
        plugins = (
            self._explicit_plugins if self._explicit_plugins is not None else discover_plugins()
        )
        service = ConfigService(raw, self._env)
        for plugin in plugins:
            service.register(plugin.section(), plugin.config_schema)
        owns_enabled = frozenset(p.section() for p in plugins if not p.disableable)
        service.validate(owns_enabled=owns_enabled)
        disabled = {
            p.id for p in plugins if p.disableable and not service.section_enabled(p.section())
        }
        self.plugins = resolve_order(plugins, disabled)
        self.config = service
        return service

    async def start(self) -> None:
        """Validate everything, then set up and start each plugin in dependency order."""
        if self._running:
            raise PlatformError("the platform is already running")
        service = self.config if self.config is not None else self.prepare()
        core = service.core
        if self.analytics.stopped:  # started again after a stop
            self.analytics = AnalyticsService(self.version, self.status, clock=self.clock)
        data_path = Path(core.path.data)
        self._http = HttpService(
            keys=ApiKeyRegistry(core.server.auth.api_keys),
            max_body_bytes=core.server.max_body_bytes,
            title=core.server.name,
            version=self.version,
        )
        router = self._http.create_router()
        add_status_route(router, self.status, lambda: service.core.server.name, self.version)
        self._http.register_router(router)
        if self._store is None:
            self._store = open_store(core.store.url, data_path, clock=self.clock)
        try:
            if self._owns_store:
                await self._store.open()
        except Exception as exc:
            raise PlatformError(f"cannot open the saved-object store: {exc}") from exc
        await start_worker_threads()
        try:
            self.deployment_uuid = await ensure_deployment_uuid(self._store)
            self.instance_uuid = await asyncio.to_thread(ensure_instance_uuid, data_path)
        except Exception as exc:
            await self._close_store()
            raise PlatformError(f"cannot read the deployment identity: {exc}") from exc
        self.status.set_core("savedObjects", self._store_status)
        self.status.set_core("http", ServiceStatus(StatusLevel.AVAILABLE, "HTTP server is ready"))
        self.analytics.set_identity(
            cluster_uuid=self.deployment_uuid,
            cluster_name=core.server.name,
            instance_uuid=self.instance_uuid,
        )
        try:
            await self._run_phase("setup", data_path)
            await self._run_phase("start", data_path)
        except BaseException:
            await self._stop_started()
            await self.analytics.stop()
            await self._close_store()
            raise
        self._running = True
        log.info("platform started with plugins: %s", ", ".join(p.id for p in self.plugins))
        await self.analytics.started(len(self.plugins), watch_status=self.background)

    async def stop(self) -> None:
        """Stop started plugins in reverse order, each within ``plugins.stopTimeout``."""
        if not self._running:
            return
        self._running = False
        await self._stop_started()
        await self.analytics.stop()
        await self._close_store()

    async def _stop_started(self) -> None:
        timeout = self.config.core.plugins.stop_timeout if self.config else 30.0
        while self._started:
            plugin = self._started.pop()
            try:
                await asyncio.wait_for(plugin.stop(), timeout=timeout)
            except TimeoutError:
                log.error("plugin [%s] did not stop within %.1fs; skipped", plugin.id, timeout)
            except Exception as exc:
                log.error("plugin [%s] failed to stop: %s: %s", plugin.id, type(exc).__name__, exc)

    async def _close_store(self) -> None:
        if self._store is not None and self._owns_store:
            try:
                await self._store.close()
            except Exception as exc:  # pragma: no cover - closing should not fail
                log.error("closing the store failed: %s", exc)
            self._store = None

    # -- helpers ---------------------------------------------------------------------------
    async def _run_phase(self, phase: Literal["setup", "start"], data_path: Path) -> None:
        """Every plugin's ``setup`` (or ``start``) in dependency order, marked for analytics."""
        contracts = self._setup if phase == "setup" else self._start
        self.analytics.mark(phase, "start")
        for plugin in self.plugins:
            declared = (*plugin.required_plugins, *plugin.optional_plugins)
            deps = PluginContracts(plugin.id, {dep: contracts.get(dep) for dep in declared})
            core = self._core_args(plugin, data_path)
            try:
                if phase == "setup":
                    contracts[plugin.id] = await plugin.setup(CoreSetup(**core), deps)
                else:
                    contracts[plugin.id] = await plugin.start(CoreStart(**core), deps)
            except Exception as exc:
                raise PluginLifecycleError(plugin.id, phase, exc) from exc
            if phase == "start":
                self._started.append(plugin)
                self.status.set_plugin(
                    plugin.id, ServiceStatus(StatusLevel.AVAILABLE, f"{plugin.id} is available")
                )
        self.analytics.mark(phase, "end")

    def _core_args(self, plugin: Plugin, data_path: Path) -> dict[str, Any]:
        assert self.config is not None
        assert self._store is not None
        assert self._http is not None
        return {
            "http": HttpSetup(self._http),
            "plugin_id": plugin.id,
            "config": ConfigView(self.config, plugin.section()),
            "store": self._store,
            "status": PluginStatus(self.status, plugin.id),
            "logger": logging.getLogger(f"telemetry_service.plugins.{plugin.id}"),
            "clock": self.clock,
            "version": self.version,
            "data_path": data_path,
            "env": MappingProxyType(self._env),
            "deployment_uuid": self.deployment_uuid,
            "instance_uuid": self.instance_uuid,
            "background": self.background,
            "analytics": self.analytics.client,
            "_config_service": self.config,
        }

    async def _store_status(self) -> ServiceStatus:
        if self._store is not None and await self._store.ping():
            return ServiceStatus(StatusLevel.AVAILABLE, f"{self._store.backend} store is available")
        return ServiceStatus(StatusLevel.UNAVAILABLE, "the saved-object store cannot be reached")
