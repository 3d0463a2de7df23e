"""The telemetry plugin through its public API: contracts, routes, the upgrade story."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from tests.plugins.telemetry.support import (
    XSRF,
    base_config,
    running,
    setup_contract,
    sqlite_url,
    start_contract,
)
from tests.support.stores import BACKENDS, store_url

pytestmark = pytest.mark.anyio


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return store_url(request, request.param, tmp_path)


async def test_seed_upgrade_story(url: str) -> None:
    config = base_config(url)
    # Opt out on 8.0.0.
    async with running(config, version="8.0.0") as (platform, client):
        response = await client.post(
            "/internal/telemetry/optIn", json={"enabled": False}, headers=XSRF
        )
        assert response.status_code == 200
        assert await start_contract(platform).get_is_opted_in() is False
    # A patch upgrade keeps the choice.
    async with running(config, version="8.0.1") as (platform, client):
        assert await start_contract(platform).get_is_opted_in() is False
        assert (await client.get("/internal/telemetry/config")).json()["optIn"] is False
    # A minor upgrade asks again: optIn is null, and get_is_opted_in() stays False.
    async with running(config, version="8.1.0") as (platform, client):
        body = (await client.get("/internal/telemetry/config")).json()
        assert body["optIn"] is None
        assert (await client.get("/api/telemetry/v2/config")).json()["optIn"] is None
        assert await start_contract(platform).get_is_opted_in() is False
        # Opting in there gives True everywhere.
        response = await client.post(
            "/internal/telemetry/optIn", json={"enabled": True}, headers=XSRF
        )
        assert response.status_code == 200
        assert await start_contract(platform).get_is_opted_in() is True
        assert (await client.get("/internal/telemetry/config")).json()["optIn"] is True
    async with running(config, version="8.1.0") as (platform, client):
        assert await start_contract(platform).get_is_opted_in() is True


async def test_default_config_without_saved_object_is_opted_in(url: str) -> None:
    async with running(base_config(url)) as (platform, client):
        assert await start_contract(platform).get_is_opted_in() is True
        body = (await client.get("/internal/telemetry/config")).json()
        assert body == {
            "allowChangingOptInStatus": True,
            "optIn": True,
            "sendUsageFrom": "server",
            "telemetryNotifyUserAboutOptInDefault": True,
            "labels": {},
        }


async def test_locked_config_refuses_changes_and_keeps_state(tmp_path: Path) -> None:
    config = base_config(sqlite_url(tmp_path), allowChangingOptInStatus=False, optIn=True)
    async with running(config) as (platform, client):
        response = await client.post(
            "/internal/telemetry/optIn", json={"enabled": False}, headers=XSRF
        )
        assert response.status_code == 400
        assert response.json()["message"] == '{"error":"Not allowed to change Opt-in Status."}'
        assert await start_contract(platform).get_is_opted_in() is True
        assert await platform.store.find("telemetry") is not None
        assert (await platform.store.find("telemetry")).total == 0


async def test_telemetry_enabled_false_forces_opt_out_and_locks(tmp_path: Path) -> None:
    async with running(base_config(sqlite_url(tmp_path), enabled=False)) as (platform, client):
        assert await start_contract(platform).get_is_opted_in() is False
        body = (await client.get("/internal/telemetry/config")).json()
        assert body["optIn"] is False
        assert body["allowChangingOptInStatus"] is False
        response = await client.post(
            "/internal/telemetry/optIn", json={"enabled": True}, headers=XSRF
        )
        assert response.status_code == 400


@pytest.mark.parametrize(
    "env",
    [
        {"DO_NOT_TRACK": "1"},
        {"DO_NOT_TRACK": "true"},
        {"TELEMETRY_SERVICE_TELEMETRY_OPTIN": "false"},
        {"TELEMETRY_SERVICE_TELEMETRY_ENABLED": "0"},
    ],
)
async def test_environment_forces_opt_out_even_after_opt_in(
    tmp_path: Path, env: dict[str, str]
) -> None:
    config = base_config(sqlite_url(tmp_path))
    async with running(config) as (platform, client):
        await client.post("/internal/telemetry/optIn", json={"enabled": True}, headers=XSRF)
        assert await start_contract(platform).get_is_opted_in() is True
    async with running(config, env=env) as (platform, client):
        assert await start_contract(platform).get_is_opted_in() is False
        body = (await client.get("/internal/telemetry/config")).json()
        assert body["optIn"] is False
        assert body["allowChangingOptInStatus"] is False


async def test_two_platforms_on_one_store_see_an_opt_out_within_the_poll_interval(url: str) -> None:
    config = base_config(url)
    async with (
        running(config, poll=0.1) as (first, first_client),
        running(config, poll=0.1) as (second, _),
    ):
        assert await start_contract(second).get_is_opted_in() is True
        response = await first_client.post(
            "/internal/telemetry/optIn", json={"enabled": False}, headers=XSRF
        )
        assert response.status_code == 200
        assert await start_contract(first).get_is_opted_in() is False
        for _ in range(50):
            if not await start_contract(second).get_is_opted_in():
                break
            await asyncio.sleep(0.05)
        assert await start_contract(second).get_is_opted_in() is False


async def test_each_change_is_logged_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="telemetry_service.plugins.telemetry")
    async with running(base_config(sqlite_url(tmp_path)), poll=0.05) as (_, client):
        await client.post("/internal/telemetry/optIn", json={"enabled": False}, headers=XSRF)
        await asyncio.sleep(0.3)  # several polls see the same value
    messages = [
        r.getMessage() for r in caplog.records if "Telemetry collection is" in r.getMessage()
    ]
    assert len(messages) == 2
    assert messages[0].startswith("Telemetry collection is enabled.")
    assert messages[1].startswith("Telemetry collection is disabled.")


async def test_get_telemetry_url_follows_config_changes(tmp_path: Path) -> None:
    config = base_config(
        sqlite_url(tmp_path),
        endpoints={"prod": "https://t.vendor.test/", "staging": "https://staging.vendor.test/"},
        product="acme",
    )
    async with running(config) as (platform, _):
        setup = setup_contract(platform)
        url = await setup.get_telemetry_url()
        assert str(url) == "https://t.vendor.test/v3/send/acme-snapshot"
        assert url.host == "t.vendor.test"
        assert platform.config is not None
        platform.config.update({"telemetry": {"sendUsageTo": "staging"}})
        assert (
            str(await setup.get_telemetry_url())
            == "https://staging.vendor.test/v3/send/acme-snapshot"
        )
