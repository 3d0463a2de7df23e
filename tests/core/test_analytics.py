"""core.analytics: one client per platform, the server context, core's own events, the stop."""

from __future__ import annotations

import asyncio
import os
import platform as host_platform
import time
from pathlib import Path
from typing import Any

import pytest

from telemetry_service.core import CoreSetup, CoreStart, Platform, Plugin, PluginContracts
from telemetry_service.core.analytics import PLATFORM_STARTED, STATUS_CHANGED, AnalyticsService
from telemetry_service.core.status import (
    OverallStatusWatcher,
    ServiceStatus,
    StatusLevel,
    StatusService,
)
from telemetry_service.ebt import AnalyticsClient, Event
from telemetry_service.plugins.sample_app import SampleAppPlugin
from telemetry_service.plugins.sample_app.plugin import SAMPLE_APP_EVENT
from tests.ebt.fakes import RecordingShipper

pytestmark = pytest.mark.anyio


class Listener(Plugin):
    """Opts the client in and records what it ships, as the telemetry plugin would."""

    id = "listener"

    def __init__(self, opt_in: bool | None = True, *, ship: bool = True) -> None:
        self.clients: dict[str, AnalyticsClient] = {}
        self.shipper: RecordingShipper | None = None
        self._opt_in = opt_in
        self._ship = ship

    async def setup(self, core: CoreSetup, plugins: PluginContracts) -> None:
        self.clients["setup"] = core.analytics
        if not self._ship:
            return
        self.shipper = core.analytics.register_shipper(RecordingShipper, None)
        if self._opt_in is not None:
            core.analytics.opt_in({"global": {"enabled": self._opt_in}})

    async def start(self, core: CoreStart, plugins: PluginContracts) -> None:
        self.clients["start"] = core.analytics

    def events(self, event_type: str | None = None) -> list[Event]:
        assert self.shipper is not None
        found = [e for batch in self.shipper.reported for e in batch]
        return [e for e in found if event_type is None or e["event_type"] == event_type]


def config(tmp_path: Path) -> dict[str, Any]:
    return {"path": {"data": str(tmp_path)}, "server": {"name": "Acme"}}


async def test_every_plugin_gets_the_same_client_in_setup_and_start(tmp_path: Path) -> None:
    first, second = Listener(), Listener(ship=False)
    second.id = "second"
    async with Platform(config=config(tmp_path), plugins=[first, second]) as platform:
        clients = {id(c) for p in (first, second) for c in p.clients.values()}
        assert clients == {id(platform.analytics.client)}


async def test_events_carry_the_server_context(tmp_path: Path) -> None:
    listener = Listener()
    async with Platform(config=config(tmp_path), plugins=[listener], version="9.1.0") as platform:
        [started] = listener.events(PLATFORM_STARTED)
    context = started["context"]
    assert context["cluster_uuid"] == platform.deployment_uuid
    assert context["cluster_name"] == "Acme"
    assert context["instance_uuid"] == platform.instance_uuid
    assert context["pid"] == os.getpid()
    assert context["version"] == "9.1.0"
    assert context["python_version"] == host_platform.python_version()
    assert context["os_platform"] == host_platform.system().lower()
    assert context["overall_status_level"] == "initializing"


async def test_platform_started_holds_ordered_step_times(tmp_path: Path) -> None:
    listener = Listener()
    async with Platform(config=config(tmp_path), plugins=[listener]):
        [started] = listener.events(PLATFORM_STARTED)
    props = started["properties"]
    assert props["plugins"] == 1
    steps = props["uptime_per_step"]
    times = [steps[s][edge] for s in ("constructor", "setup", "start") for edge in ("start", "end")]
    assert times == sorted(times)
    assert times[0] == 0.0


async def test_the_first_overall_status_is_reported_and_becomes_the_context(
    tmp_path: Path,
) -> None:
    listener = Listener()
    async with Platform(config=config(tmp_path), plugins=[listener]) as platform:
        [changed] = listener.events(STATUS_CHANGED)
        assert changed["properties"] == {
            "overall_status_level": "available",
            "overall_status_summary": "All services are available",
        }
        # Kibana's order: the event carries the previous status, the context the new one.
        assert changed["context"]["overall_status_level"] == "initializing"
        assert platform.analytics.client.context["overall_status_level"] == "available"


async def test_sample_app_reports_its_start_and_each_greeting(tmp_path: Path) -> None:
    listener = Listener()
    async with Platform(config=config(tmp_path), plugins=[listener, SampleAppPlugin()]) as p:
        import httpx

        transport = httpx.ASGITransport(app=p.asgi_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://host") as http:
            assert (await http.get("/api/sample_app/hello")).status_code == 200
        actions = [e["properties"] for e in listener.events(SAMPLE_APP_EVENT)]
    assert actions == [
        {"action": "started", "greetings_served": 0},
        {"action": "hello", "greetings_served": 1},
    ]


async def test_nothing_is_shipped_while_undecided_or_opted_out(tmp_path: Path) -> None:
    for opt_in in (None, False):
        listener = Listener(opt_in=opt_in)
        folder = tmp_path / str(opt_in)
        async with Platform(config=config(folder), plugins=[listener, SampleAppPlugin()]):
            pass
        assert listener.events() == []


async def test_a_bad_event_never_raises_into_the_host(tmp_path: Path) -> None:
    listener = Listener()
    async with Platform(config=config(tmp_path), plugins=[listener]) as platform:
        platform.analytics.client.report_event(SAMPLE_APP_EVENT, {"action": 1})
        platform.analytics.client.report_event("never_registered", {})
    assert listener.events(SAMPLE_APP_EVENT) == []


async def test_stop_shuts_the_client_down_and_a_restart_gets_a_new_one(tmp_path: Path) -> None:
    listener = Listener()
    platform = Platform(config=config(tmp_path), plugins=[listener])
    await platform.start()
    first = platform.analytics.client
    await platform.stop()
    first.report_event(PLATFORM_STARTED, {})  # closed: ignored, no error
    assert listener.shipper is not None
    assert listener.shipper.shut_down
    await platform.start()
    try:
        assert platform.analytics.client is not first
        assert not platform.analytics.stopped
    finally:
        await platform.stop()


class HangingShipper(RecordingShipper):
    shipper_name = "hanging"

    async def flush(self) -> None:
        await asyncio.sleep(3600)


async def test_stop_is_bounded_when_a_shipper_hangs() -> None:
    service = AnalyticsService("1.0.0", StatusService())
    service.client.register_shipper(HangingShipper, None)
    started = time.monotonic()
    await service.stop(timeout_s=0.2)
    assert time.monotonic() - started < 2


async def test_the_watcher_reports_each_change_once() -> None:
    status = StatusService()
    seen: list[ServiceStatus] = []
    watcher = OverallStatusWatcher(status, seen.append)
    await watcher.check()
    await watcher.check()
    status.set_plugin("db", ServiceStatus(StatusLevel.DEGRADED, "slow"))
    await watcher.check()
    status.set_plugin("db", ServiceStatus(StatusLevel.AVAILABLE, "fine"))
    await watcher.check()
    assert [s.level for s in seen] == [
        StatusLevel.AVAILABLE,
        StatusLevel.DEGRADED,
        StatusLevel.AVAILABLE,
    ]
    assert seen[1].summary == "1 service(s) degraded: db"


async def test_the_watcher_polls_once_started() -> None:
    status = StatusService()
    seen: list[ServiceStatus] = []
    watcher = OverallStatusWatcher(status, seen.append, interval=0.01)
    watcher.start()
    try:
        await asyncio.sleep(0.05)
        status.set_core("http", ServiceStatus(StatusLevel.UNAVAILABLE, "down"))
        for _ in range(100):
            if len(seen) == 2:
                break
            await asyncio.sleep(0.01)
    finally:
        await watcher.stop()
    assert [s.level for s in seen] == [StatusLevel.AVAILABLE, StatusLevel.UNAVAILABLE]
