"""``/internal/telemetry/clusters/_stats`` and ``/api/telemetry/v2/clusters/_opt_in_stats``."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from telemetry_service.core import Platform, hash_api_key
from telemetry_service.plugins import builtin_plugins
from telemetry_service.plugins.telemetry import TelemetryPlugin
from telemetry_service.wire import Decryptor, KeyPair, generate_key_pair
from tests.plugins.telemetry.support import XSRF

pytestmark = pytest.mark.anyio

ADMIN, VIEWER = "admin-key-for-stats", "viewer-key-for-stats"
AS_ADMIN = {**XSRF, "Authorization": f"ApiKey {ADMIN}"}
AS_VIEWER = {**XSRF, "Authorization": f"ApiKey {VIEWER}"}


@pytest.fixture(scope="module")
def keys() -> KeyPair:
    return generate_key_pair("vendor-1")


def config(tmp_path: Path, keys: KeyPair | None, auth: bool = True) -> dict[str, Any]:
    cfg: dict[str, Any] = {"path": {"data": str(tmp_path)}, "telemetry": {}}
    if keys is not None:
        cfg["telemetry"]["encryption"] = {"jwks": json.dumps(keys.public_jwks), "kid": "vendor-1"}
    if auth:
        cfg["server"] = {
            "auth": {
                "apiKeys": [
                    {"name": "ops", "role": "admin", "hash": hash_api_key(ADMIN)},
                    {"name": "dash", "role": "viewer", "hash": hash_api_key(VIEWER)},
                ]
            }
        }
    return cfg


async def client_for(cfg: dict[str, Any]) -> AsyncIterator[tuple[Platform, httpx.AsyncClient]]:
    plugins = [
        p if not isinstance(p, TelemetryPlugin) else TelemetryPlugin() for p in builtin_plugins()
    ]
    async with Platform(config=cfg, plugins=plugins, version="8.2.0", env={}) as platform:
        transport = httpx.ASGITransport(app=platform.asgi_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://host") as client:
            yield platform, client


@pytest.fixture
async def app(tmp_path: Path, keys: KeyPair) -> AsyncIterator[tuple[Platform, httpx.AsyncClient]]:
    async for pair in client_for(config(tmp_path, keys)):
        yield pair


async def test_encrypted_stats_decrypt_with_the_vendor_key(
    app: tuple[Platform, httpx.AsyncClient], keys: KeyPair
) -> None:
    platform, client = app
    response = await client.post("/internal/telemetry/clusters/_stats", json={}, headers=AS_VIEWER)
    assert response.status_code == 200
    [item] = response.json()
    assert item["clusterUuid"] == platform.deployment_uuid
    payload = Decryptor(keys.private_jwks).decrypt_json(item["stats"])
    assert payload["cluster_uuid"] == platform.deployment_uuid
    assert payload["version"] == "8.2.0"
    assert payload["collectionSource"] == "local"
    assert "telemetry" in payload["stack_stats"]["kibana"]["plugins"]
    assert payload["stack_stats"]["kibana"]["plugins"]["telemetry"]["opt_in_status"] is True


async def test_unencrypted_is_for_admins_only(app: tuple[Platform, httpx.AsyncClient]) -> None:
    _, client = app
    body = {"unencrypted": True}
    viewer = await client.post("/internal/telemetry/clusters/_stats", json=body, headers=AS_VIEWER)
    assert viewer.status_code == 403
    assert viewer.json()["message"] == "Only administrators can see unencrypted telemetry."
    anonymous = await client.post("/internal/telemetry/clusters/_stats", json=body, headers=XSRF)
    assert anonymous.status_code == 401
    admin = await client.post("/internal/telemetry/clusters/_stats", json=body, headers=AS_ADMIN)
    assert admin.status_code == 200
    stats = admin.json()[0]["stats"]
    assert isinstance(stats, dict)
    assert (
        stats["stack_stats"]["kibana"]["plugins"]["usage_collector_stats"]["failed"]["count"] == 0
    )


async def test_stats_errors(app: tuple[Platform, httpx.AsyncClient]) -> None:
    platform, client = app
    missing_xsrf = await client.post(
        "/internal/telemetry/clusters/_stats", json={}, headers={"Authorization": f"ApiKey {ADMIN}"}
    )
    assert missing_xsrf.status_code == 400
    malformed = await client.post(
        "/internal/telemetry/clusters/_stats", json={"unencrypted": "please"}, headers=AS_ADMIN
    )
    assert malformed.status_code == 400
    await platform.store.close()
    down = await client.post("/internal/telemetry/clusters/_stats", json={}, headers=AS_ADMIN)
    assert down.status_code == 503
    assert down.json()["message"].startswith("Can't fetch telemetry at the moment")


async def test_without_a_key_set_encrypted_stats_are_503(tmp_path: Path) -> None:
    async for _, client in client_for(config(tmp_path, None, auth=False)):
        response = await client.post("/internal/telemetry/clusters/_stats", json={}, headers=XSRF)
        assert response.status_code == 503
        assert "telemetry.encryption.jwks is not set" in response.json()["message"]
        plain = await client.post(
            "/internal/telemetry/clusters/_stats", json={"unencrypted": True}, headers=XSRF
        )
        assert plain.status_code == 200


async def test_opt_in_stats_route(app: tuple[Platform, httpx.AsyncClient], keys: KeyPair) -> None:
    platform, client = app
    route = "/api/telemetry/v2/clusters/_opt_in_stats"
    plain = await client.post(route, json={"enabled": False}, headers=AS_ADMIN)
    assert plain.json() == [
        {
            "clusterUuid": platform.deployment_uuid,
            "stats": {"cluster_uuid": platform.deployment_uuid, "opt_in_status": False},
        }
    ]
    assert (await client.post(route, json={"enabled": False}, headers=AS_VIEWER)).status_code == 403
    encrypted = await client.post(
        route, json={"enabled": True, "unencrypted": False}, headers=AS_VIEWER
    )
    assert encrypted.status_code == 200
    assert Decryptor(keys.private_jwks).decrypt_json(encrypted.json()[0]["stats"]) == {
        "cluster_uuid": platform.deployment_uuid,
        "opt_in_status": True,
    }
    assert (await client.post(route, json={"enabled": "no"}, headers=AS_ADMIN)).status_code == 400


async def test_opt_in_route_answers_encrypted_opt_in_stats(
    app: tuple[Platform, httpx.AsyncClient], keys: KeyPair
) -> None:
    platform, client = app
    response = await client.post(
        "/internal/telemetry/optIn", json={"enabled": False}, headers=AS_ADMIN
    )
    [item] = response.json()
    assert Decryptor(keys.private_jwks).decrypt_json(item["stats"]) == {
        "cluster_uuid": platform.deployment_uuid,
        "opt_in_status": False,
    }
