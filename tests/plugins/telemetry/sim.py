"""Run telemetry platforms against a capture server with a simulated clock."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from telemetry_service.core import Platform
from telemetry_service.plugins.telemetry import TelemetryPlugin
from telemetry_service.plugins.telemetry.fetcher import FetcherTask
from telemetry_service.plugins.telemetry_collection_manager import TelemetryCollectionManagerPlugin
from telemetry_service.plugins.usage_collection import UsageCollectionPlugin
from telemetry_service.testing import FakeClock, FakeSleep
from telemetry_service.wire import KeyPair

DAY_MS = 86_400_000


class SimClock(FakeClock):
    """The simulations' clock: it starts on a Monday morning."""

    def __init__(self) -> None:
        super().__init__(dt.datetime(2026, 5, 4, 9, 30, tzinfo=dt.UTC))


def telemetry_config(endpoint: str, keys: KeyPair, **extra: Any) -> dict[str, Any]:
    return {
        "endpoints": {"prod": endpoint, "staging": endpoint},
        "encryption": {"jwks": json.dumps(keys.public_jwks), "kid": "vendor"},
        "timeouts": {"connect": 1, "read": 1},
        **extra,
    }


class Instance:
    def __init__(self, platform: Platform, plugin: TelemetryPlugin) -> None:
        self.platform = platform
        self.plugin = plugin

    @property
    def fetcher(self) -> FetcherTask:
        return self.plugin.admin.fetcher


@asynccontextmanager
async def instance(
    config: dict[str, Any],
    clock: SimClock,
    *,
    version: str = "8.0.0",
    env: dict[str, str] | None = None,
    deadline_s: float = 120.0,
) -> AsyncIterator[Instance]:
    plugin = TelemetryPlugin(send_deadline_s=deadline_s, sleep=FakeSleep(clock))
    plugins = [UsageCollectionPlugin(), TelemetryCollectionManagerPlugin(), plugin]
    async with Platform(
        config=config,
        plugins=plugins,
        version=version,
        env=env or {},
        clock=clock,
        background=False,
    ) as platform:
        yield Instance(platform, plugin)


@asynccontextmanager
async def instances(
    configs: list[dict[str, Any]], clock: SimClock, **kwargs: Any
) -> AsyncIterator[list[Instance]]:
    async with AsyncExitStack() as stack:
        yield [await stack.enter_async_context(instance(c, clock, **kwargs)) for c in configs]


async def simulate(members: list[Instance], clock: SimClock, until_ms: int) -> int:
    """Tick each instance when its next tick is due, in time order; returns the tick count."""
    due = {id(m): clock.ms for m in members}
    ticks = 0
    while True:
        member = min(members, key=lambda m: due[id(m)])
        when = due[id(member)]
        if when >= until_ms:
            clock.set(max(clock.ms, until_ms))  # the rest of the window passes quietly
            return ticks
        if when > clock.ms:
            clock.set(when)
        wait = await member.fetcher.tick()
        ticks += 1
        assert wait > 0
        due[id(member)] = clock.ms + wait
