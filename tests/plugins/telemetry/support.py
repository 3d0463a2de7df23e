"""Helpers for running the telemetry plugin in a real platform, in process."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from telemetry_service.core import Platform, Plugin, SavedObjectStore
from telemetry_service.ebt import AnalyticsClient
from telemetry_service.plugins.telemetry import TelemetryPlugin, TelemetrySetup, TelemetryStart
from telemetry_service.plugins.telemetry.config import TelemetryConfig
from telemetry_service.plugins.telemetry.events import EventTelemetry
from telemetry_service.testing import FakeClock

XSRF = {"kbn-xsrf": "true"}


def base_config(store_url: str, **telemetry: Any) -> dict[str, Any]:
    return {"store": {"url": store_url}, "telemetry": telemetry}


@asynccontextmanager
async def running(
    config: dict[str, Any],
    version: str = "8.0.0",
    env: dict[str, str] | None = None,
    poll: float = 10.0,
    extra: list[Plugin] | None = None,
) -> AsyncIterator[tuple[Platform, httpx.AsyncClient]]:
    plugins: list[Plugin] = [TelemetryPlugin(opt_in_poll_interval=poll), *(extra or [])]
    async with Platform(config=config, plugins=plugins, version=version, env=env or {}) as platform:
        transport = httpx.ASGITransport(app=platform.asgi_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://host") as client:
            yield platform, client


def start_contract(platform: Platform) -> TelemetryStart:
    contract = platform.start_contracts["telemetry"]
    assert isinstance(contract, TelemetryStart)
    return contract


def setup_contract(platform: Platform) -> TelemetrySetup:
    contract = platform.setup_contracts["telemetry"]
    assert isinstance(contract, TelemetrySetup)
    return contract


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


def event_telemetry(
    client: AnalyticsClient, store: SavedObjectStore, printed: list[str] | None = None, **cfg: Any
) -> EventTelemetry:
    """The plugin's event side for ``telemetry`` config ``cfg`` (prints go to ``printed``)."""
    config = TelemetryConfig.model_validate(cfg)
    return EventTelemetry(
        client,
        lambda: config,
        version="9.0.0",
        store=store,
        instance_uuid="instance-1",
        clock=FakeClock(),
        logger=logging.getLogger("test"),
        debug_print=(printed if printed is not None else []).append,
    )
