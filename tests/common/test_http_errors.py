"""common.http_errors: Kibana's error body, and the same validation message on both servers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Query
from pydantic import BaseModel

from telemetry_service.common.http_errors import error_response
from telemetry_service.core import CoreSetup, Platform, Plugin, PluginContracts, route_options
from telemetry_service.receiver.http import install_error_handlers


def test_body_is_kibanas_with_optional_reason_and_retry_after() -> None:
    plain = error_response(404, "No such thing.")
    assert plain.status_code == 404
    assert plain.body == b'{"statusCode":404,"error":"Not Found","message":"No such thing."}'
    assert "retry-after" not in plain.headers
    busy = error_response(429, "Slow down.", reason="busy", retry_after=5, headers={"X-A": "1"})
    assert busy.body == (
        b'{"statusCode":429,"error":"Too Many Requests","message":"Slow down.","reason":"busy"}'
    )
    assert (busy.headers["Retry-After"], busy.headers["X-A"]) == ("5", "1")


class Body(BaseModel):
    enabled: bool


async def _check(body: Body, limit: int = Query(default=1, ge=1)) -> dict[str, Any]:
    return {"enabled": body.enabled}


class _BodyRoute(Plugin):
    id = "body_route"

    async def setup(self, core: CoreSetup, plugins: PluginContracts) -> None:
        router = core.http.create_router()
        router.add_api_route(
            "/check", _check, methods=["POST"], openapi_extra=route_options(xsrf=False)
        )
        core.http.register_router(router)


@pytest.fixture(params=["host", "receiver"])
async def client(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a ``POST /check`` route behind one server's error handlers."""
    if request.param == "host":
        config = {"path": {"data": str(tmp_path)}}
        async with Platform(config=config, plugins=[_BodyRoute()]) as platform:
            app: Any = platform.asgi_app
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://test"
            ) as c:
                yield c
        return
    receiver_app = FastAPI()
    install_error_handlers(receiver_app, retry_after=5)
    receiver_app.add_api_route("/check", _check, methods=["POST"])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=receiver_app), base_url="http://test"
    ) as c:
        yield c


@pytest.mark.anyio
async def test_validation_messages_name_the_request_body_on_both_servers(
    client: httpx.AsyncClient,
) -> None:
    """B5: ``[request body.enabled]: …`` from the host and the receiver alike."""
    response = await client.post("/check", json={"enabled": "perhaps"})
    assert response.status_code == 400
    assert response.json() == {
        "statusCode": 400,
        "error": "Bad Request",
        "message": "[request body.enabled]: Input should be a valid boolean, unable to "
        "interpret input",
    }
    several = await client.post("/check?limit=0", json={})
    assert several.json()["message"] == (
        "[query.limit]: Input should be greater than or equal to 1; "
        "[request body.enabled]: Field required"
    )
    assert (await client.post("/check", json={"enabled": True})).json() == {"enabled": True}
