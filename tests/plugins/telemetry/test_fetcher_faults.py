"""Faults around the sender: in every case the host keeps serving, nothing raises into it, the
state stays consistent and the next due time is right."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from telemetry_service.common.db.sqlite import SqliteDatabase
from telemetry_service.core import Platform, SavedObjectStore, StoreUnavailableError
from telemetry_service.plugins.telemetry import TelemetryPlugin
from telemetry_service.plugins.telemetry.fetcher import FetcherTask
from telemetry_service.plugins.telemetry_collection_manager import (
    TelemetryCollectionManagerPlugin,
)
from telemetry_service.plugins.usage_collection import UsageCollectionPlugin
from telemetry_service.testing import CaptureServer, FakeSleep, Reply
from telemetry_service.wire import KeyPair, generate_key_pair
from tests.plugins.telemetry.sim import (
    DAY_MS,
    Instance,
    SimClock,
    instance,
    simulate,
    telemetry_config,
)
from tests.support.hostile import HostileServer

pytestmark = pytest.mark.anyio
HOUR_MS = 3_600_000


@pytest.fixture(scope="module")
def keys() -> KeyPair:
    return generate_key_pair("vendor")


@pytest.fixture
def capture() -> Iterator[CaptureServer]:
    server = CaptureServer().start()
    yield server
    server.stop()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def config(tmp_path: Path, endpoint: str, keys: KeyPair, **telemetry: Any) -> dict[str, Any]:
    return {
        "path": {"data": str(tmp_path)},
        "telemetry": telemetry_config(endpoint, keys, **telemetry),
    }


async def saved(member: Instance) -> dict[str, Any]:
    return dict((await member.platform.store.get("telemetry", "telemetry")).attributes)


async def host_is_serving(member: Instance) -> bool:
    transport = httpx.ASGITransport(app=member.platform.asgi_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://h") as client:
        return (await client.get("/api/status")).status_code == 200


async def test_refused_connection_counts_a_failure_and_waits_twelve_hours(
    tmp_path: Path, keys: KeyPair
) -> None:
    clock = SimClock()
    endpoint = f"http://127.0.0.1:{closed_port()}/"
    async with instance(config(tmp_path, endpoint, keys), clock) as member:
        await simulate([member], clock, clock.ms + 6 * 60_000)
        state = await saved(member)
        assert state["reportFailureCount"] == 1
        assert state["reportFailureVersion"] == "8.0.0"
        assert "lastReported" not in state
        # The next connectivity check is 12 hours after the failed one.
        assert 11 * HOUR_MS < await member.fetcher.tick() <= 12 * HOUR_MS
        assert await host_is_serving(member)


async def test_endpoint_recovers_and_the_next_snapshot_goes_at_the_next_due_time(
    tmp_path: Path, capture: CaptureServer, keys: KeyPair
) -> None:
    clock = SimClock()
    start = clock.ms
    capture.default = Reply(503)
    async with instance(config(tmp_path, capture.url, keys), clock, deadline_s=30) as member:
        await simulate([member], clock, start + HOUR_MS)
        attempts = len(capture.posts())
        assert attempts > 1  # retried within the attempt
        assert (await saved(member))["reportFailureCount"] == 0  # an answer: not counted
        assert "lastReported" not in await saved(member)
        capture.default = Reply(200)
        await simulate([member], clock, start + 13 * HOUR_MS)
        state = await saved(member)
        assert state["reportFailureCount"] == 0
        # Delivered at the retry 12 hours after the failed attempt, not before.
        assert start + 12 * HOUR_MS <= state["lastReported"] <= start + 12 * HOUR_MS + 10 * 60_000
        assert len(capture.posts()) == attempts + 1
        # And the day after, on schedule.
        await simulate([member], clock, start + 12 * HOUR_MS + DAY_MS + 10 * 60_000)
        assert len(capture.posts()) == attempts + 2


async def test_three_connection_failures_on_one_version_stop_until_the_version_changes(
    tmp_path: Path, capture: CaptureServer, keys: KeyPair
) -> None:
    clock = SimClock()
    with HostileServer("close") as closing:  # every connection closed unanswered
        cfg = config(tmp_path, closing.url, keys)
        async with instance(cfg, clock, deadline_s=5) as member:
            await simulate([member], clock, clock.ms + 3 * DAY_MS)
            assert (await saved(member))["reportFailureCount"] == 3
            connections = closing.connections
            await simulate([member], clock, clock.ms + 3 * DAY_MS)
            assert closing.connections == connections
            report = await member.plugin.send_now(force=True)
            assert "stopped until the version changes" in report.reason
    cfg = config(tmp_path, capture.url, keys)
    async with instance(cfg, clock, version="8.0.1") as upgraded:
        await simulate([upgraded], clock, clock.ms + HOUR_MS)
        assert (await saved(upgraded))["reportFailureCount"] == 0
        assert len(capture.posts("-snapshot")) == 1


async def test_http_error_answers_never_stop_the_sender(
    tmp_path: Path, capture: CaptureServer, keys: KeyPair
) -> None:
    """Kibana counts only failures without an answer: in
    ``src/platform/plugins/shared/telemetry/server/fetcher.ts`` (``FetcherTask.sendIfDue``) the
    ``fetch`` of the snapshot resolves on any HTTP status and only a throw reaches
    ``updateReportFailure`` (``reportFailureCount + 1``); an answer takes the success path,
    which writes ``reportFailureCount: 0`` (spec section 3.4, and ``fetcher.test.ts``). Ours
    still waits for a 2xx before storing ``lastReported``, but three bad days at the vendor
    must not silence the host until its next upgrade."""
    clock = SimClock()
    capture.default = Reply(500)
    async with instance(config(tmp_path, capture.url, keys), clock, deadline_s=5) as member:
        two = {"reportFailureCount": 2, "reportFailureVersion": "8.0.0"}
        await member.platform.store.update("telemetry", "telemetry", two, upsert=two)
        await simulate([member], clock, clock.ms + 4 * DAY_MS)
        state = await saved(member)
        assert state["reportFailureCount"] == 0  # reached: the count starts again
        assert "lastReported" not in state
        days_of_500 = len(capture.posts("-snapshot"))
        assert days_of_500 >= 4  # tried on every one of those days, never stopped
        capture.default = Reply(200)
        await simulate([member], clock, clock.ms + DAY_MS)
        assert len(capture.posts("-snapshot")) == days_of_500 + 1
        assert "lastReported" in await saved(member)


async def test_hanging_endpoint_times_out(
    tmp_path: Path, capture: CaptureServer, keys: KeyPair
) -> None:
    clock = SimClock()
    capture.replies.append(Reply(200))  # the OPTIONS connectivity check
    capture.default = Reply(200, delay_s=5)
    async with instance(config(tmp_path, capture.url, keys), clock, deadline_s=2) as member:
        began = time.monotonic()
        await simulate([member], clock, clock.ms + 10 * 60_000)
        assert time.monotonic() - began < 8
        assert (await saved(member))["reportFailureCount"] == 1
        history = await member.plugin.admin.history()
        assert "no answer" in history[0]["status"]
        assert await host_is_serving(member)


async def test_429_with_retry_after_is_honoured(
    tmp_path: Path, capture: CaptureServer, keys: KeyPair
) -> None:
    clock = SimClock()
    capture.replies.extend([Reply(429, headers={"Retry-After": "7"}), Reply(200)])
    async with instance(config(tmp_path, capture.url, keys), clock) as member:
        before = clock.ms
        report = await member.plugin.send_now()
        assert report.sent
        assert [o.attempts for o in report.outcomes] == [2]
        assert clock.ms - before >= 7000
        assert (await saved(member))["reportFailureCount"] == 0


async def test_400_is_a_failure_without_retries(
    tmp_path: Path, capture: CaptureServer, keys: KeyPair
) -> None:
    clock = SimClock()
    capture.default = Reply(400)
    async with instance(config(tmp_path, capture.url, keys), clock) as member:
        await simulate([member], clock, clock.ms + 10 * 60_000)
        assert len(capture.posts()) == 1
        assert (await saved(member))["reportFailureCount"] == 0  # answered: not counted
        assert "lastReported" not in await saved(member)


async def test_tls_error(tmp_path: Path, capture: CaptureServer, keys: KeyPair) -> None:
    clock = SimClock()
    endpoint = f"https://127.0.0.1:{capture.port}/"  # a plain HTTP server: the handshake fails
    async with instance(config(tmp_path, endpoint, keys), clock) as member:
        await simulate([member], clock, clock.ms + 10 * 60_000)
        assert (await saved(member))["reportFailureCount"] == 1
        assert "lastReported" not in await saved(member)
        assert await host_is_serving(member)


async def test_proxy_that_refuses(tmp_path: Path, capture: CaptureServer, keys: KeyPair) -> None:
    clock = SimClock()
    proxy = {"url": f"http://127.0.0.1:{closed_port()}"}
    async with instance(config(tmp_path, capture.url, keys, proxy=proxy), clock) as member:
        await simulate([member], clock, clock.ms + 10 * 60_000)
        assert (await saved(member))["reportFailureCount"] == 1
    assert capture.requests == []  # nothing went around the proxy


async def test_clock_jumping_backwards(
    tmp_path: Path, capture: CaptureServer, keys: KeyPair
) -> None:
    clock = SimClock()
    async with instance(config(tmp_path, capture.url, keys), clock) as member:
        await simulate([member], clock, clock.ms + 10 * 60_000)
        assert len(capture.posts()) == 1
        sent_at = (await saved(member))["lastReported"]
        # An hour back: the report is still recent, nothing is due.
        clock.set(sent_at - HOUR_MS)
        await simulate([member], clock, clock.ms + 2 * HOUR_MS)
        assert len(capture.posts()) == 1
        # Two days back: a lastReported that far in the future cannot be trusted; report now.
        clock.set(sent_at - 2 * DAY_MS)
        await simulate([member], clock, clock.ms + 5 * 60_000)
        assert len(capture.posts()) == 2
        assert (await saved(member))["lastReported"] < sent_at


class FlakyStore(SavedObjectStore):
    fail_updates = False
    fail_reads = False

    async def get(self, type_: str, id_: str, **kwargs: Any) -> Any:
        if self.fail_reads and type_ == "telemetry":
            raise StoreUnavailableError("simulated outage")
        return await super().get(type_, id_, **kwargs)

    async def update(self, type_: str, id_: str, attributes: Any, **kwargs: Any) -> Any:
        if self.fail_updates and type_ == "telemetry":
            raise StoreUnavailableError("simulated outage")
        return await super().update(type_, id_, attributes, **kwargs)


class PausingSleep(FakeSleep):
    """A FakeSleep whose wait after the first ``after`` ones never ends (the loop pauses)."""

    def __init__(self, clock: SimClock, *, after: int) -> None:
        super().__init__(clock)
        self.after = after
        self.paused = asyncio.Event()

    async def __call__(self, seconds: float) -> None:
        if len(self.delays) >= self.after:
            self.paused.set()
            await asyncio.Event().wait()
        await super().__call__(seconds)


@asynccontextmanager
async def on_flaky_store(
    tmp_path: Path, cfg: dict[str, Any], clock: SimClock
) -> AsyncIterator[tuple[Instance, FlakyStore]]:
    store = FlakyStore(SqliteDatabase(tmp_path / "store.db"), clock=clock)
    await store.open()
    plugin = TelemetryPlugin()
    plugins = [UsageCollectionPlugin(), TelemetryCollectionManagerPlugin(), plugin]
    try:
        async with Platform(
            config=cfg,
            plugins=plugins,
            env={},
            clock=clock,
            store=store,
            background=False,
            version="8.0.0",
        ) as platform:
            yield Instance(platform, plugin), store
    finally:
        await store.close()


async def test_a_failed_config_load_is_retried_like_kibana_then_logged_once(
    tmp_path: Path, capture: CaptureServer, keys: KeyPair, caplog: pytest.LogCaptureFixture
) -> None:
    """Kibana's ``validateConnectivity`` (``T/server/fetcher.ts``, spec 3.2 step 2, tested in
    ``T/server/fetcher.test.ts``): a failed config load is retried after 8, 16, 32, 64 and
    64 s, then ``Cannot get the current config`` is logged once and the task waits for its
    next 12 h tick. The real loop runs on a FakeSleep that moves a FakeClock."""
    clock = SimClock()
    async with on_flaky_store(tmp_path, config(tmp_path, capture.url, keys), clock) as pair:
        member, store = pair
        admin = member.plugin.admin
        store.fail_reads = True
        sleep = PausingSleep(clock, after=12)
        fetcher = FetcherTask(
            state=admin.state,
            delivery=admin.delivery,
            store=store,
            sender=admin.delivery.sender,
            instance_id="test",
            logger=logging.getLogger("telemetry-test"),
            sleep=sleep,
        )
        caplog.set_level(logging.WARNING, "telemetry-test")
        fetcher.start()
        await asyncio.wait_for(sleep.paused.wait(), timeout=10)
        await fetcher.stop()
    retries = [8.0, 16.0, 32.0, 64.0, 64.0]
    cycle = [*retries, 12 * 3600.0 - sum(retries)]
    assert sleep.delays == cycle + cycle
    lines = [r.getMessage() for r in caplog.records if r.name == "telemetry-test"]
    assert lines == ["Cannot get the current config: StoreUnavailableError"] * 2
    assert capture.requests == []


async def test_a_config_load_that_succeeds_again_restarts_the_retries(
    tmp_path: Path, capture: CaptureServer, keys: KeyPair
) -> None:
    clock = SimClock()
    cfg = config(tmp_path, capture.url, keys, fetcher={"enabled": True})
    async with on_flaky_store(tmp_path, cfg, clock) as (member, store):
        store.fail_reads = True
        assert [await member.fetcher.tick(), await member.fetcher.tick()] == [8_000, 16_000]
        store.fail_reads = False
        assert await member.fetcher.tick() > 16_000  # loaded: the connectivity check is next
        store.fail_reads = True
        assert await member.fetcher.tick() == 8_000


async def test_store_unavailable_while_recording_a_send(
    tmp_path: Path, capture: CaptureServer, keys: KeyPair, caplog: pytest.LogCaptureFixture
) -> None:
    clock = SimClock()
    async with on_flaky_store(tmp_path, config(tmp_path, capture.url, keys), clock) as pair:
        member, store = pair
        store.fail_updates = True
        await simulate([member], clock, clock.ms + 10 * 60_000)
        assert len(capture.posts()) == 1
        assert "lastReported not stored" in caplog.text
        # This instance remembers the report: nothing more today.
        await simulate([member], clock, clock.ms + 12 * HOUR_MS)
        assert len(capture.posts()) == 1
        store.fail_updates = False
        await simulate([member], clock, clock.ms + 13 * HOUR_MS)
        assert len(capture.posts()) == 2
        assert "lastReported" in (await store.get("telemetry", "telemetry")).attributes
        assert await host_is_serving(member)


async def test_stop_cancels_an_in_flight_send_within_five_seconds(
    tmp_path: Path, capture: CaptureServer, keys: KeyPair
) -> None:
    clock = SimClock()
    capture.default = Reply(200, delay_s=30)
    cfg = config(tmp_path, capture.url, keys, timeouts={"connect": 5, "read": 60})
    async with instance(cfg, clock) as member:
        send = asyncio.create_task(member.plugin.send_now(force=True))
        for _ in range(200):
            if capture.posts():
                break
            await asyncio.sleep(0.02)
        assert capture.posts()
        began = time.monotonic()
        await member.plugin.stop()
        assert time.monotonic() - began < 5
        assert send.cancelled() or send.done()
        found = await member.platform.store.find("telemetry")
        assert all("lastReported" not in o.attributes for o in found.saved_objects)
        # The lease was given back on the way out.
        assert await member.platform.store.acquire_lease(
            "telemetry-snapshot-send", "someone-else", 60
        )
