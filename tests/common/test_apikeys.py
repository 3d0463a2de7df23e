"""common.apikeys: the registry, and the same 401/403 answers from both servers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from telemetry_service.common.apikeys import (
    ANONYMOUS_ADMIN,
    AccessDenied,
    ApiKeyRegistry,
    Principal,
    generate_api_key,
    hash_api_key,
)
from telemetry_service.common.config_file import ApiKeyConfig
from telemetry_service.core import CoreSetup, Platform, Plugin, PluginContracts
from telemetry_service.receiver import Receiver, load_config
from tests.receiver.support import write_private_keys

ADMIN_KEY, VIEWER_KEY = "admin-secret-key", "viewer-secret-key"
KEYS = [
    {"name": "ops", "role": "admin", "hash": hash_api_key(ADMIN_KEY)},
    {"name": "dash", "role": "viewer", "hash": hash_api_key(VIEWER_KEY)},
]
REGISTRY = ApiKeyRegistry(ApiKeyConfig.model_validate(key) for key in KEYS)


def test_keys_are_hashed_and_random() -> None:
    assert hash_api_key("k") == (
        "sha256:8254c329a92850f6d539dd376f4816ee2764517da5e0235514af433164480d7a"
    )
    keys = {generate_api_key() for _ in range(20)}
    assert len(keys) == 20
    assert all(len(key) >= 43 for key in keys)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (f"ApiKey {ADMIN_KEY}", Principal("ops", "admin")),
        (f"apikey  {ADMIN_KEY} ", Principal("ops", "admin")),
        (f"Bearer {VIEWER_KEY}", Principal("dash", "viewer")),
        (f"Basic {ADMIN_KEY}", None),
        ("ApiKey ", None),
        ("ApiKey wrong", None),
        (ADMIN_KEY, None),
        (None, None),
    ],
)
def test_authenticate_reads_the_authorization_header(
    header: str | None, expected: Principal | None
) -> None:
    assert REGISTRY.authenticate(header) == expected


def test_authorize_refuses_with_401_or_403() -> None:
    assert ApiKeyRegistry([]).authorize(None, "admin") is ANONYMOUS_ADMIN
    assert REGISTRY.authorize(f"ApiKey {VIEWER_KEY}", "viewer") == Principal("dash", "viewer")
    assert REGISTRY.authorize(f"ApiKey {ADMIN_KEY}", "viewer") == Principal("ops", "admin")
    with pytest.raises(AccessDenied) as missing:
        REGISTRY.authorize("ApiKey nope", "viewer")
    assert missing.value.status == 401
    assert missing.value.headers("r") == {"WWW-Authenticate": 'ApiKey realm="r"'}
    with pytest.raises(AccessDenied) as weak:
        REGISTRY.authorize(f"Bearer {VIEWER_KEY}", "admin")
    assert (weak.value.status, weak.value.headers("r")) == (403, {})
    assert weak.value.message == "API key [dash] needs the [admin] role for this request."


def test_key_names_are_limited_to_200_characters() -> None:
    ApiKeyConfig(name="n" * 200, role="viewer", hash=hash_api_key("k"))
    with pytest.raises(ValidationError, match="at most 200 characters"):
        ApiKeyConfig(name="n" * 201, role="viewer", hash=hash_api_key("k"))


class _AdminRoute(Plugin):
    id = "admin_route"

    async def setup(self, core: CoreSetup, plugins: PluginContracts) -> None:
        router = core.http.create_router()
        router.add_api_route("/api/clusters/c-1", self.delete, methods=["DELETE"])
        core.http.register_router(router)

    async def delete(self) -> dict[str, Any]:
        return {}


@pytest.fixture(params=["host", "receiver"])
async def server(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    """(client, realm, a viewer route, an admin route, headers every request needs)."""
    if request.param == "host":
        config = {"path": {"data": str(tmp_path)}, "server": {"auth": {"apiKeys": KEYS}}}
        async with Platform(config=config, plugins=[_AdminRoute()]) as platform:
            app, realm, extra = platform.asgi_app, "telemetry-service", {"kbn-xsrf": "1"}
            read = "/api/status"
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://test"
            ) as client:
                yield client, realm, read, extra
        return
    settings = {
        "keys": str(write_private_keys(tmp_path / "private.json")),
        "path": {"data": str(tmp_path)},
        "auth": {"apiKeys": KEYS},
    }
    async with (
        Receiver(load_config(settings, env={})) as receiver,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=receiver.app), base_url="http://test"
        ) as client,
    ):
        yield client, "telemetry-receiver", "/api/clusters", {}


@pytest.mark.anyio
async def test_both_servers_answer_401_and_403_alike(server: Any) -> None:
    client, realm, read, extra = server
    missing = await client.get(read)
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"] == f'ApiKey realm="{realm}"'
    assert missing.json() == {
        "statusCode": 401,
        "error": "Unauthorized",
        "message": "Authentication required: send 'Authorization: ApiKey <key>'.",
    }
    viewer = {**extra, "Authorization": f"Bearer {VIEWER_KEY}"}
    assert (await client.get(read, headers=viewer)).status_code == 200
    refused = await client.delete("/api/clusters/c-1", headers=viewer)
    assert refused.json() == {
        "statusCode": 403,
        "error": "Forbidden",
        "message": "API key [dash] needs the [admin] role for this request.",
    }
    admin = {**extra, "Authorization": f"ApiKey {ADMIN_KEY}"}
    assert (await client.delete("/api/clusters/c-1", headers=admin)).status_code in (200, 404)
