"""The platform's HTTP guard: XSRF header, API keys with roles, body limits, error bodies."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import Request
from pydantic import BaseModel

from telemetry_service.core import (
    CoreSetup,
    Platform,
    Plugin,
    PluginContracts,
    StoreUnavailableError,
    get_principal,
    hash_api_key,
    route_options,
)

pytestmark = pytest.mark.anyio

ADMIN_KEY, VIEWER_KEY = "admin-secret-key", "viewer-secret-key"


class Body(BaseModel):
    enabled: bool


class Routes(Plugin):
    id = "routes"

    async def setup(self, core: CoreSetup, plugins: PluginContracts) -> None:
        router = core.http.create_router(prefix="/api/routes")

        @router.get("/read")
        async def read(request: Request) -> dict[str, Any]:
            return {"who": get_principal(request).name}

        @router.post("/write")
        async def write(body: Body) -> dict[str, Any]:
            return {"enabled": body.enabled}

        @router.get("/open", openapi_extra=route_options(access="public"))
        async def public() -> dict[str, Any]:
            return {"open": True}

        @router.post("/small", openapi_extra=route_options(max_body_bytes=10))
        async def small(request: Request) -> dict[str, Any]:
            return {"size": len(await request.body())}

        @router.get("/slow")
        async def slow() -> dict[str, Any]:
            await asyncio.sleep(3600)  # a send held by a slow endpoint, say
            return {}

        @router.get("/broken")
        async def broken() -> dict[str, Any]:
            raise StoreUnavailableError("database is down")

        core.http.register_router(router)


def keys() -> list[dict[str, str]]:
    return [
        {"name": "ops", "role": "admin", "hash": hash_api_key(ADMIN_KEY)},
        {"name": "dash", "role": "viewer", "hash": hash_api_key(VIEWER_KEY)},
    ]


async def client_for(tmp_path: Path, auth: bool) -> AsyncIterator[httpx.AsyncClient]:
    server: dict[str, Any] = {"maxBodyBytes": 2048}
    if auth:
        server["auth"] = {"apiKeys": keys()}
    cfg = {"path": {"data": str(tmp_path)}, "server": server}
    async with Platform(config=cfg, plugins=[Routes()]) as platform:
        transport = httpx.ASGITransport(app=platform.asgi_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


@pytest.fixture
async def open_client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async for client in client_for(tmp_path, auth=False):
        yield client


@pytest.fixture
async def auth_client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async for client in client_for(tmp_path, auth=True):
        yield client


XSRF = {"kbn-xsrf": "true"}


async def test_post_without_xsrf_is_400_with_kibana_body(open_client: httpx.AsyncClient) -> None:
    response = await open_client.post("/api/routes/write", json={"enabled": True})
    assert response.status_code == 400
    assert response.json() == {
        "statusCode": 400,
        "error": "Bad Request",
        "message": "Request must contain a kbn-xsrf header.",
    }
    ok = await open_client.post("/api/routes/write", json={"enabled": True}, headers=XSRF)
    assert ok.json() == {"enabled": True}


async def test_without_configured_keys_everyone_is_admin(open_client: httpx.AsyncClient) -> None:
    assert (await open_client.get("/api/routes/read")).json() == {"who": "anonymous"}


async def test_malformed_body_is_400_naming_the_field(open_client: httpx.AsyncClient) -> None:
    response = await open_client.post(
        "/api/routes/write", json={"enabled": "yes please"}, headers=XSRF
    )
    assert response.status_code == 400
    assert response.json()["message"].startswith("[request body.enabled]")


async def test_body_limit_is_413(open_client: httpx.AsyncClient) -> None:
    big = await open_client.post("/api/routes/write", content=b"x" * 4096, headers=XSRF)
    assert big.status_code == 413
    small = await open_client.post("/api/routes/small", content=b"x" * 11, headers=XSRF)
    assert small.status_code == 413

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted while reading
        for _ in range(3):
            yield b"y" * 5

    streamed = await open_client.post("/api/routes/small", content=chunks(), headers=XSRF)
    assert streamed.status_code == 413
    fits = await open_client.post("/api/routes/small", content=b"x" * 10, headers=XSRF)
    assert fits.json() == {"size": 10}


async def test_reads_need_a_key_when_auth_is_configured(auth_client: httpx.AsyncClient) -> None:
    anonymous = await auth_client.get("/api/routes/read")
    assert anonymous.status_code == 401
    assert anonymous.json()["error"] == "Unauthorized"
    wrong = await auth_client.get("/api/routes/read", headers={"Authorization": "ApiKey nope"})
    assert wrong.status_code == 401
    viewer = await auth_client.get(
        "/api/routes/read", headers={"Authorization": f"ApiKey {VIEWER_KEY}"}
    )
    assert viewer.json() == {"who": "dash"}
    bearer = await auth_client.get(
        "/api/routes/read", headers={"Authorization": f"Bearer {ADMIN_KEY}"}
    )
    assert bearer.json() == {"who": "ops"}


async def test_writes_need_admin(auth_client: httpx.AsyncClient) -> None:
    body = {"enabled": False}
    none = await auth_client.post("/api/routes/write", json=body, headers=XSRF)
    assert none.status_code == 401
    viewer = await auth_client.post(
        "/api/routes/write", json=body, headers={**XSRF, "Authorization": f"ApiKey {VIEWER_KEY}"}
    )
    assert viewer.status_code == 403
    assert "needs the [admin] role" in viewer.json()["message"]
    admin = await auth_client.post(
        "/api/routes/write", json=body, headers={**XSRF, "Authorization": f"ApiKey {ADMIN_KEY}"}
    )
    assert admin.json() == {"enabled": False}


async def test_public_route_needs_no_key(auth_client: httpx.AsyncClient) -> None:
    assert (await auth_client.get("/api/routes/open")).json() == {"open": True}


async def test_status_route_reports_every_service(open_client: httpx.AsyncClient) -> None:
    body = (await open_client.get("/api/status")).json()
    assert body["status"]["overall"]["level"] == "available"
    assert body["status"]["core"]["savedObjects"]["level"] == "available"
    assert body["status"]["plugins"]["routes"]["level"] == "available"


async def test_unknown_route_is_kibana_404(open_client: httpx.AsyncClient) -> None:
    response = await open_client.get("/nothing/here")
    assert response.status_code == 404
    assert response.json() == {"statusCode": 404, "error": "Not Found", "message": "Not Found"}


async def test_a_store_error_in_any_route_is_kibanas_503(open_client: httpx.AsyncClient) -> None:
    response = await open_client.get("/api/routes/broken")
    assert response.status_code == 503
    assert response.json() == {
        "statusCode": 503,
        "error": "Service Unavailable",
        "message": "Can't fetch telemetry at the moment because some services are down. "
        "Check the /status page for more details.",
    }


async def test_a_stopping_server_cancels_what_outlasts_the_grace_with_a_503(
    tmp_path: Path,
) -> None:
    """Security review finding 8: the request ends cleanly (no ``CancelledError`` reaches the
    server, which would log a traceback) and the stop does not wait for it."""
    async with Platform(config={"path": {"data": str(tmp_path)}}, plugins=[Routes()]) as platform:
        transport = httpx.ASGITransport(app=platform.asgi_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            slow = asyncio.create_task(client.get("/api/routes/slow"))
            while not platform.http.requests:
                await asyncio.sleep(0.01)
            began = asyncio.get_running_loop().time()
            await platform.http.stop_requests(grace_s=0.2)
            assert asyncio.get_running_loop().time() - began < 1
            answer = await slow
    assert answer.status_code == 503
    assert answer.json()["message"] == "The server is stopping."


async def test_a_request_cancelled_while_running_is_still_cancelled(
    open_client: httpx.AsyncClient,
) -> None:
    slow = asyncio.create_task(open_client.get("/api/routes/slow"))
    await asyncio.sleep(0.05)
    slow.cancel()
    with pytest.raises(asyncio.CancelledError):
        await slow
