"""Every telemetry route: its success case and each documented error."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from telemetry_service.core import Platform, hash_api_key
from tests.plugins.telemetry.support import XSRF, base_config, running, sqlite_url

pytestmark = pytest.mark.anyio

ADMIN, VIEWER = "admin-key-for-tests", "viewer-key-for-tests"
AS_ADMIN = {**XSRF, "Authorization": f"ApiKey {ADMIN}"}
AS_VIEWER = {**XSRF, "Authorization": f"ApiKey {VIEWER}"}


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[tuple[Platform, httpx.AsyncClient]]:
    async with running(base_config(sqlite_url(tmp_path)), version="8.0.0") as pair:
        yield pair


@pytest.fixture
async def secured(tmp_path: Path) -> AsyncIterator[tuple[Platform, httpx.AsyncClient]]:
    config: dict[str, Any] = base_config(sqlite_url(tmp_path))
    config["server"] = {
        "auth": {
            "apiKeys": [
                {"name": "ops", "role": "admin", "hash": hash_api_key(ADMIN)},
                {"name": "dash", "role": "viewer", "hash": hash_api_key(VIEWER)},
            ]
        }
    }
    async with running(config, version="8.0.0") as pair:
        yield pair


async def saved(platform: Platform) -> dict[str, Any]:
    return dict((await platform.store.get("telemetry", "telemetry")).attributes)


# -- POST /internal/telemetry/optIn ---------------------------------------------------------


async def test_opt_in_writes_enabled_and_version(app: tuple[Platform, httpx.AsyncClient]) -> None:
    platform, client = app
    response = await client.post("/internal/telemetry/optIn", json={"enabled": False}, headers=XSRF)
    assert response.status_code == 200
    assert isinstance(response.json(), list)
    assert await saved(platform) == {"enabled": False, "lastVersionChecked": "8.0.0"}


@pytest.mark.parametrize(
    "body", [{}, {"enabled": "yes"}, {"enabled": 1}, {"enabled": True, "extra": 1}, [True], None]
)
async def test_opt_in_malformed_body_is_400_and_changes_nothing(
    app: tuple[Platform, httpx.AsyncClient], body: Any
) -> None:
    platform, client = app
    response = await client.post("/internal/telemetry/optIn", json=body, headers=XSRF)
    assert response.status_code == 400
    assert response.json()["statusCode"] == 400
    assert (await platform.store.find("telemetry")).total == 0


async def test_locked_opt_in_answers_kibanas_json_string_message(tmp_path: Path) -> None:
    """Kibana's ``T/server/routes/telemetry_opt_in.ts`` answers a locked opt-in with
    ``res.badRequest({body: JSON.stringify({error: 'Not allowed to change Opt-in Status.'})})``,
    so the 400's ``message`` is that JSON text, not plain text (spec section 5.2)."""
    config = base_config(sqlite_url(tmp_path), allowChangingOptInStatus=False, optIn=True)
    async with running(config, version="8.0.0") as (platform, client):
        response = await client.post(
            "/internal/telemetry/optIn", json={"enabled": False}, headers=XSRF
        )
        assert response.status_code == 400
        body = response.json()
        assert body["statusCode"] == 400
        assert body["error"] == "Bad Request"
        assert body["message"] == '{"error":"Not allowed to change Opt-in Status."}'
        assert json.loads(body["message"]) == {"error": "Not allowed to change Opt-in Status."}
        assert (await platform.store.find("telemetry")).total == 0


async def test_opt_in_without_xsrf_is_400(app: tuple[Platform, httpx.AsyncClient]) -> None:
    platform, client = app
    response = await client.post("/internal/telemetry/optIn", json={"enabled": False})
    assert response.status_code == 400
    assert response.json()["message"] == "Request must contain a kbn-xsrf header."
    assert (await platform.store.find("telemetry")).total == 0


async def test_opt_in_needs_an_admin_key(secured: tuple[Platform, httpx.AsyncClient]) -> None:
    platform, client = secured
    body = {"enabled": False}
    assert (
        await client.post("/internal/telemetry/optIn", json=body, headers=XSRF)
    ).status_code == 401
    viewer = await client.post("/internal/telemetry/optIn", json=body, headers=AS_VIEWER)
    assert viewer.status_code == 403
    assert (await platform.store.find("telemetry")).total == 0
    admin = await client.post("/internal/telemetry/optIn", json=body, headers=AS_ADMIN)
    assert admin.status_code == 200
    assert (await saved(platform))["enabled"] is False


async def test_store_down_is_503(app: tuple[Platform, httpx.AsyncClient]) -> None:
    platform, client = app
    await platform.store.close()
    for method, path in [
        ("POST", "/internal/telemetry/optIn"),
        ("GET", "/internal/telemetry/config"),
        ("PUT", "/internal/telemetry/userHasSeenNotice"),
        ("GET", "/internal/telemetry/last_reported"),
        ("PUT", "/internal/telemetry/last_reported"),
        ("GET", "/internal/telemetry/status"),
    ]:
        kwargs: dict[str, Any] = {"json": {"enabled": True}} if method == "POST" else {}
        response = await client.request(method, path, headers=XSRF, **kwargs)
        assert response.status_code == 503, path
        assert "some services are down" in response.json()["message"]


# -- GET config ------------------------------------------------------------------------------


async def test_config_routes_are_public_and_equal(
    secured: tuple[Platform, httpx.AsyncClient],
) -> None:
    _, client = secured
    internal = await client.get("/internal/telemetry/config")
    public = await client.get("/api/telemetry/v2/config")
    assert internal.status_code == public.status_code == 200
    assert internal.json() == public.json()
    assert set(internal.json()) == {
        "allowChangingOptInStatus",
        "optIn",
        "sendUsageFrom",
        "telemetryNotifyUserAboutOptInDefault",
        "labels",
    }


async def test_config_shows_labels_and_sendusagefrom(tmp_path: Path) -> None:
    config = base_config(
        sqlite_url(tmp_path), labels={"environment": "qa", "prId": 12}, sendUsageFrom="browser"
    )
    async with running(config) as (_, client):
        body = (await client.get("/internal/telemetry/config")).json()
        assert body["labels"] == {"environment": "qa", "prId": 12}
        assert body["sendUsageFrom"] == "browser"


# -- PUT userHasSeenNotice ---------------------------------------------------------------------


async def test_user_has_seen_notice(app: tuple[Platform, httpx.AsyncClient]) -> None:
    platform, client = app
    await client.post("/internal/telemetry/optIn", json={"enabled": True}, headers=XSRF)
    response = await client.put("/internal/telemetry/userHasSeenNotice", headers=XSRF)
    assert response.status_code == 200
    assert response.json() == {
        "enabled": True,
        "lastVersionChecked": "8.0.0",
        "userHasSeenNotice": True,
    }
    assert (await saved(platform))["userHasSeenNotice"] is True


async def test_notify_flag_clears_once_the_notice_is_seen(
    app: tuple[Platform, httpx.AsyncClient],
) -> None:
    _, client = app
    assert (await client.get("/internal/telemetry/config")).json()[
        "telemetryNotifyUserAboutOptInDefault"
    ] is True
    await client.put("/internal/telemetry/userHasSeenNotice", headers=XSRF)
    assert (await client.get("/internal/telemetry/config")).json()[
        "telemetryNotifyUserAboutOptInDefault"
    ] is False


async def test_user_has_seen_notice_needs_xsrf_and_a_key(
    secured: tuple[Platform, httpx.AsyncClient],
) -> None:
    _, client = secured
    no_xsrf = await client.put(
        "/internal/telemetry/userHasSeenNotice", headers={"Authorization": f"ApiKey {VIEWER}"}
    )
    assert no_xsrf.status_code == 400
    assert (
        await client.put("/internal/telemetry/userHasSeenNotice", headers=XSRF)
    ).status_code == 401
    assert (
        await client.put("/internal/telemetry/userHasSeenNotice", headers=AS_VIEWER)
    ).status_code == 200


# -- last_reported ---------------------------------------------------------------------------


async def test_last_reported_round_trip(app: tuple[Platform, httpx.AsyncClient]) -> None:
    platform, client = app
    assert (await client.get("/internal/telemetry/last_reported")).json() == {}
    response = await client.put("/internal/telemetry/last_reported", headers=XSRF)
    assert response.status_code == 200
    value = (await client.get("/internal/telemetry/last_reported")).json()["lastReported"]
    now_ms = platform.clock().timestamp() * 1000
    assert abs(now_ms - value) < 60_000
    assert (await saved(platform)) == {"lastReported": value}


async def test_last_reported_needs_keys(secured: tuple[Platform, httpx.AsyncClient]) -> None:
    _, client = secured
    assert (await client.get("/internal/telemetry/last_reported")).status_code == 401
    assert (await client.put("/internal/telemetry/last_reported", headers=XSRF)).status_code == 401
    assert (
        await client.get("/internal/telemetry/last_reported", headers=AS_VIEWER)
    ).status_code == 200
    assert (await client.put("/internal/telemetry/last_reported")).status_code == 400
