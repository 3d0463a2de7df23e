"""The daily sender against a real capture server on loopback, with a simulated clock."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from telemetry_service.testing import CaptureServer
from telemetry_service.wire import Decryptor, KeyPair, generate_key_pair
from tests.plugins.telemetry.sim import (
    DAY_MS,
    SimClock,
    instance,
    instances,
    simulate,
    telemetry_config,
)
from tests.support.stores import BACKENDS, store_url

pytestmark = pytest.mark.anyio
XSRF = {"kbn-xsrf": "1"}


@pytest.fixture(scope="module")
def keys() -> KeyPair:
    return generate_key_pair("vendor")


@pytest.fixture
def capture() -> Iterator[CaptureServer]:
    server = CaptureServer().start()
    yield server
    server.stop()


def config(url: str, capture: CaptureServer, keys: KeyPair, **telemetry: Any) -> dict[str, Any]:
    return {"store": {"url": url}, "telemetry": telemetry_config(capture.url, keys, **telemetry)}


def sqlite(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


async def test_first_snapshot_after_the_connectivity_check(
    tmp_path: Path, capture: CaptureServer, keys: KeyPair
) -> None:
    clock = SimClock()
    start = clock.ms
    async with instance(config(sqlite(tmp_path), capture, keys), clock, version="8.3.1") as member:
        await simulate([member], clock, start + 10 * 60_000)
        [options] = [r for r in capture.requests if r.method == "OPTIONS"]
        [post] = capture.posts()
        assert post.path == "/v3/send/telemetry-service-snapshot"
        assert post.headers["content-type"] == "application/json"
        assert post.headers["x-elastic-stack-version"] == "8.3.1"
        assert post.headers["x-elastic-cluster-id"] == member.platform.deployment_uuid
        assert post.headers["x-elastic-content-encoding"] == "aes256gcm"
        payload = Decryptor(keys.private_jwks).decrypt_json(post.body)
        assert payload["cluster_uuid"] == member.platform.deployment_uuid
        saved = (await member.platform.store.get("telemetry", "telemetry")).attributes
        assert saved["reportFailureCount"] == 0
        assert start + 5 * 60_000 <= saved["lastReported"] <= start + 7 * 60_000
        history = await member.plugin.admin.history()
        assert history[0]["status"] == "HTTP 200"
        assert history[0]["channel"] == "telemetry-service-snapshot"


# -- privacy ---------------------------------------------------------------------------------


async def _opt_out_on_old_version(url: str, capture: CaptureServer, keys: KeyPair) -> None:
    async with instance(config(url, capture, keys), SimClock(), version="8.0.0") as member:
        await member.plugin.admin.state.set_opt_in(False)


@pytest.mark.parametrize(
    "scenario", ["opted-out", "unset-after-upgrade", "do-not-track", "telemetry-disabled"]
)
async def test_nothing_leaves_without_consent_for_three_days(
    tmp_path: Path, capture: CaptureServer, keys: KeyPair, scenario: str
) -> None:
    url = sqlite(tmp_path)
    version, env, extra = "8.0.0", {}, {}
    if scenario in ("opted-out", "unset-after-upgrade"):
        await _opt_out_on_old_version(url, capture, keys)
        version = "8.1.0" if scenario == "unset-after-upgrade" else "8.0.0"
    if scenario == "do-not-track":
        env = {"DO_NOT_TRACK": "1"}
    if scenario == "telemetry-disabled":
        extra = {"enabled": False}
    clock = SimClock()
    async with instance(
        config(url, capture, keys, **extra), clock, version=version, env=env
    ) as member:
        ticks = await simulate([member], clock, clock.ms + 3 * DAY_MS)
        assert ticks > 3
        report = await member.plugin.send_now(force=True)
        assert not report.sent
        assert "not opted in" in report.reason
    assert capture.requests == []


async def test_legacy_stored_lock_never_overrides_a_stored_opt_out(
    tmp_path: Path, capture: CaptureServer, keys: KeyPair
) -> None:
    """A legacy ``allowChangingOptInStatus: false`` stored beside an opt-out, with the config's
    ``optIn: true``: Kibana's sender calls ``getTelemetryOptIn`` with the *config's*
    ``allowChangingOptInStatus`` (``T/server/fetcher.ts``, ``getCurrentConfigs``; spec 2.2
    rule 1 and 3.4), so the stored opt-out decides and nothing is sent."""
    url = sqlite(tmp_path)
    async with instance(config(url, capture, keys), SimClock()) as member:
        await member.plugin.admin.state.update(
            {"enabled": False, "lastVersionChecked": "8.0.0", "allowChangingOptInStatus": False}
        )
    clock = SimClock()
    async with instance(config(url, capture, keys, optIn=True), clock) as member:
        assert await member.platform.start_contracts["telemetry"].get_is_opted_in() is False
        consent = await member.plugin.admin.state.consent()
        assert (consent.value, consent.locked) == (False, True)
        await simulate([member], clock, clock.ms + 3 * DAY_MS)
        report = await member.plugin.send_now(force=True)
        assert not report.sent
        assert "not opted in" in report.reason
    assert capture.requests == []


@pytest.mark.parametrize("before", ["opted-in", "never-opted-in"])
async def test_opting_out_sends_one_last_message_then_nothing(
    tmp_path: Path, capture: CaptureServer, keys: KeyPair, before: str
) -> None:
    """``never-opted-in`` pins security review finding 12, kept on purpose: Kibana's opt-in
    route sends the opt-in status on every change, whatever the previous state
    (``T/server/routes/telemetry_opt_in.ts`` calls ``sendTelemetryOptInStatus`` when
    ``sendUsageFrom`` is ``server``; spec 3.6). So a host that was never opted in
    (``optIn: false``, nothing stored: undecided) reports its opt-out once, and nothing else
    ever leaves it. docs/privacy.md says so."""
    clock = SimClock()
    opt_in = before == "opted-in"
    async with instance(config(sqlite(tmp_path), capture, keys, optIn=opt_in), clock) as member:
        consent = await member.plugin.admin.state.consent()
        assert consent.value is (True if opt_in else None)  # None: undecided, never opted in
        transport = httpx.ASGITransport(app=member.platform.asgi_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://h") as client:
            response = await client.post(
                "/internal/telemetry/optIn", json={"enabled": False}, headers=XSRF
            )
            assert response.status_code == 200
        for _ in range(250):  # the report is sent in the background, not awaited by the route
            if capture.requests:
                break
            await asyncio.sleep(0.02)
        await simulate([member], clock, clock.ms + 3 * DAY_MS)
    [message] = capture.requests
    assert message.path == "/v3/send/telemetry-service-opt-in-reports"
    assert Decryptor(keys.private_jwks).decrypt_json(message.body) == {
        "cluster_uuid": member.platform.deployment_uuid,
        "opt_in_status": False,
    }


async def test_placeholder_endpoint_sends_nothing(tmp_path: Path, keys: KeyPair) -> None:
    clock = SimClock()
    cfg = {
        "store": {"url": sqlite(tmp_path)},
        "telemetry": {"encryption": {"jwks": keys.public_jwks}},
    }
    async with instance(cfg, clock) as member:
        await simulate([member], clock, clock.ms + DAY_MS)
        report = await member.plugin.send_now(force=True)
        assert report.reason == "telemetry.endpoints are not configured"


# -- several instances -------------------------------------------------------------------------


@pytest.fixture(params=BACKENDS)
def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return store_url(request, request.param, tmp_path)


@pytest.mark.parametrize("kill", [False, True], ids=["all-up", "one-killed"])
async def test_three_instances_send_exactly_one_snapshot_a_day(
    shared_url: str, tmp_path: Path, capture: CaptureServer, keys: KeyPair, kill: bool
) -> None:
    clock = SimClock()
    start = clock.ms
    configs = [config(shared_url, capture, keys) for _ in range(3)]
    for i, cfg in enumerate(configs):
        cfg["path"] = {"data": str(tmp_path / f"instance-{i}")}
    async with instances(configs, clock) as members:
        await simulate(members, clock, start + 4 * DAY_MS + 3_600_000)
        if kill:
            # The first instance dies holding the send lease: the others wait for it to expire.
            victim = members.pop(0)
            store = victim.platform.store
            assert await store.acquire_lease(
                "telemetry-snapshot-send", victim.platform.instance_uuid, 900
            )
        # Ten days, less an hour: the first report waits 5 minutes for the connectivity check
        # and each later one may come up to 2 minutes early (the jitter and the expiry buffer),
        # so exactly ten reports fall due in this window.
        await simulate(members, clock, start + 10 * DAY_MS - 3_600_000)
    snapshots = capture.posts("-snapshot")
    assert len(snapshots) == 10
    times = sorted(
        Decryptor(keys.private_jwks).decrypt_json(p.body)["timestamp"] for p in snapshots
    )
    assert len(set(times)) == 10
    uuids = {p.headers["x-elastic-cluster-id"] for p in snapshots}
    assert len(uuids) == 1
