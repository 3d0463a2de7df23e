"""Open the host's config and store for administrative commands, without starting plugins."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from telemetry_service.common.clock import utc_now
from telemetry_service.core import ConfigService, Platform, SavedObjectStore, open_store
from telemetry_service.plugins.telemetry.config import TelemetryConfig
from telemetry_service.plugins.telemetry.service import TelemetryService

from .errors import fail

__all__ = ["HostContext", "open_host"]


@dataclass
class HostContext:
    config: ConfigService
    store: SavedObjectStore
    version: str
    telemetry: TelemetryService


@asynccontextmanager
async def open_host(config_path: Path | None, version: str | None) -> AsyncIterator[HostContext]:
    platform = Platform(config=config_path, version=version)
    service = platform.prepare()
    try:
        telemetry_config = service.get("telemetry")
    except KeyError:
        raise fail("the telemetry plugin is not installed") from None
    assert isinstance(telemetry_config, TelemetryConfig)
    store = open_store(service.core.store.url, Path(service.core.path.data))
    await store.open()
    try:

        def current() -> TelemetryConfig:
            value = service.get("telemetry")
            assert isinstance(value, TelemetryConfig)
            return value

        telemetry = TelemetryService(
            config=current, store=store, version=platform.version, env=os.environ, clock=utc_now
        )
        yield HostContext(service, store, platform.version, telemetry)
    finally:
        await store.close()
