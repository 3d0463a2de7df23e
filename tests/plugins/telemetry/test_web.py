"""The telemetry plugin's pages, static files and status route, in process."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from telemetry_service.core import Platform, hash_api_key
from telemetry_service.plugins.telemetry.history import SendHistory, SendRecord
from telemetry_service.plugins.telemetry.web import STATIC_DIR
from tests.plugins.telemetry.support import base_config, running, sqlite_url

pytestmark = pytest.mark.anyio

ADMIN, VIEWER = "admin-key-for-web", "viewer-key-for-web"
CONFIG_BLOCK = re.compile(r'<script type="application/json" id="page-config">(.*?)</script>', re.S)


def page_config(html: str) -> dict[str, Any]:
    match = CONFIG_BLOCK.search(html)
    assert match is not None
    value: dict[str, Any] = json.loads(match.group(1))
    return value


def with_keys(config: dict[str, Any]) -> dict[str, Any]:
    config["server"] = {
        "auth": {
            "apiKeys": [
                {"name": "ops", "role": "admin", "hash": hash_api_key(ADMIN)},
                {"name": "dash", "role": "viewer", "hash": hash_api_key(VIEWER)},
            ]
        }
    }
    return config


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[tuple[Platform, httpx.AsyncClient]]:
    config = base_config(
        sqlite_url(tmp_path), endpoints={"prod": "https://telemetry.example.com:8443/"}
    )
    config["server"] = {"name": "Acme Analytics"}
    async with running(config, version="8.3.1") as pair:
        yield pair


@pytest.fixture
async def secured(tmp_path: Path) -> AsyncIterator[tuple[Platform, httpx.AsyncClient]]:
    async with running(with_keys(base_config(sqlite_url(tmp_path))), version="8.3.1") as pair:
        yield pair


# -- the pages ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "title"), [("/", "Home · Acme Analytics"), ("/app/telemetry", "Usage collection")]
)
async def test_pages_render_the_current_config(
    app: tuple[Platform, httpx.AsyncClient], path: str, title: str
) -> None:
    _, client = app
    response = await client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert title in response.text
    assert page_config(response.text) == {
        "name": "Acme Analytics",
        "version": "8.3.1",
        "snapshotUrl": "https://telemetry.example.com:8443/v3/send/telemetry-service-snapshot",
        "eventsUrl": "https://telemetry.example.com:8443/v3/send/telemetry-service-browser",
        "debug": False,
        "optInStatusUrl": (
            "https://telemetry.example.com:8443/v3/send/telemetry-service-opt-in-reports"
        ),
        "endpointConfigured": True,
        "banner": True,
        "hidePrivacyStatement": False,
        "authRequired": False,
        "settingsPath": "/app/telemetry",
    }
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "connect-src 'self' https://telemetry.example.com:8443;" in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["cache-control"] == "no-store"
    assert "https://" not in re.sub(CONFIG_BLOCK, "", response.text), "no external resources"


async def test_banner_wording_uses_the_server_name(
    app: tuple[Platform, httpx.AsyncClient],
) -> None:
    _, client = app
    html = (await client.get("/")).text
    assert "Help us improve Acme Analytics" in html
    assert "This allows us to learn what our users are most interested in" in html
    settings = (await client.get("/app/telemetry")).text
    assert "Share usage with the Acme Analytics team" in settings


async def test_pages_follow_config_changes_at_run_time(
    app: tuple[Platform, httpx.AsyncClient],
) -> None:
    platform, client = app
    assert platform.config is not None
    platform.config.update(
        {"telemetry": {"sendUsageTo": "staging", "endpoints": {"staging": "http://[::1]:5602"}}}
    )
    response = await client.get("/app/telemetry")
    config = page_config(response.text)
    assert config["snapshotUrl"] == "http://[::1]:5602/v3/send/telemetry-service-snapshot"
    assert "connect-src 'self' http://[::1]:5602;" in response.headers["content-security-policy"]


async def test_the_name_is_escaped(tmp_path: Path) -> None:
    config = base_config(sqlite_url(tmp_path))
    config["server"] = {"name": "</script><script>alert(1)</script>"}
    async with running(config) as (_, client):
        html = (await client.get("/")).text
    assert "<script>alert(1)" not in html
    assert page_config(html)["name"] == "</script><script>alert(1)</script>"


async def test_pages_are_public_but_their_data_needs_a_key(
    secured: tuple[Platform, httpx.AsyncClient],
) -> None:
    _, client = secured
    for path in ("/", "/app/telemetry", "/static/telemetry/telemetry.js"):
        assert (await client.get(path)).status_code == 200, path
    assert page_config((await client.get("/")).text)["authRequired"] is True
    assert (await client.get("/internal/telemetry/status")).status_code == 401
    viewer = await client.get(
        "/internal/telemetry/status", headers={"Authorization": f"ApiKey {VIEWER}"}
    )
    assert viewer.status_code == 200
    assert viewer.json()["principal"] == {"name": "dash", "role": "viewer"}
    admin = await client.get(
        "/internal/telemetry/status", headers={"Authorization": f"ApiKey {ADMIN}"}
    )
    assert admin.json()["principal"] == {"name": "ops", "role": "admin"}


async def test_pages_are_not_in_the_openapi_document(
    app: tuple[Platform, httpx.AsyncClient],
) -> None:
    _, client = app
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert "/internal/telemetry/status" in paths
    assert not [p for p in paths if p in ("/", "/app/telemetry") or p.startswith("/static/")]


# -- GET /internal/telemetry/status --------------------------------------------------------------


async def test_status_has_consent_state_and_history(
    app: tuple[Platform, httpx.AsyncClient],
) -> None:
    platform, client = app
    record = SendRecord(
        timestamp="2024-05-01T12:00:00+00:00",
        channel="telemetry-service-snapshot",
        url="https://telemetry.example.com:8443/v3/send/telemetry-service-snapshot",
        size=1234,
        status="HTTP 200",
        payload_sha256="sha256:" + "ab" * 32,
        cluster_uuid=platform.deployment_uuid,
    )
    await SendHistory(platform.store).record(record, dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC))
    body = (await client.get("/internal/telemetry/status")).json()
    assert body["consent"] == {
        "optIn": True,
        "source": "config-default",
        "locked": False,
        "reason": "no stored choice yet: the telemetry.optIn default applies",
    }
    assert body["sendUsageFrom"] == "server"
    assert body["endpointConfigured"] is True
    assert body["lastReported"] is None
    assert body["history"] == [record.to_json()]
    assert body["principal"] == {"name": "anonymous", "role": "admin"}


async def test_status_is_locked_by_the_environment(tmp_path: Path) -> None:
    async with running(base_config(sqlite_url(tmp_path)), env={"DO_NOT_TRACK": "1"}) as (
        _,
        client,
    ):
        consent = (await client.get("/internal/telemetry/status")).json()["consent"]
    assert consent == {
        "optIn": False,
        "source": "environment:DO_NOT_TRACK",
        "locked": True,
        "reason": "DO_NOT_TRACK forces opt-out",
    }


async def test_status_when_the_store_is_down_is_503(
    app: tuple[Platform, httpx.AsyncClient],
) -> None:
    platform, client = app
    await platform.store.close()
    response = await client.get("/internal/telemetry/status")
    assert response.status_code == 503
    assert response.json()["message"].startswith("Can't fetch telemetry at the moment")


# -- static files -------------------------------------------------------------------------------


async def test_static_files_with_types_and_etags(app: tuple[Platform, httpx.AsyncClient]) -> None:
    _, client = app
    script = await client.get("/static/telemetry/sender.js")
    assert script.status_code == 200
    assert script.headers["content-type"] == "text/javascript; charset=utf-8"
    assert script.headers["x-content-type-options"] == "nosniff"
    assert script.content == (STATIC_DIR / "sender.js").read_bytes()
    again = await client.get(
        "/static/telemetry/sender.js", headers={"If-None-Match": script.headers["etag"]}
    )
    assert again.status_code == 304
    assert again.content == b""
    style = await client.get("/static/telemetry/telemetry.css")
    assert style.headers["content-type"] == "text/css; charset=utf-8"


@pytest.mark.parametrize(
    "path",
    [
        "/static/telemetry/missing.js",
        "/static/telemetry/..%2fweb.py",
        "/static/telemetry/%2e%2e%2f%2e%2e%2fplugin.py",
        "/static/vendor/SHA256SUMS",
        "/static/vendor/README.md",
        "/static/common/layout.html",
    ],
)
async def test_only_known_static_files_are_served(
    app: tuple[Platform, httpx.AsyncClient], path: str
) -> None:
    _, client = app
    response = await client.get(path)
    assert response.status_code == 404
    assert response.json()["statusCode"] == 404


async def test_every_script_and_import_exists(app: tuple[Platform, httpx.AsyncClient]) -> None:
    _, client = app
    referenced: set[str] = set()
    for page in ("/", "/app/telemetry"):
        html = (await client.get(page)).text
        referenced.update(re.findall(r'(?:src|href)="(/static/[^"]+)"', html))
    assert {"/static/telemetry/telemetry.css", "/static/common/base.css"} <= referenced
    for path in sorted(referenced):
        assert (await client.get(path)).status_code == 200, path
    for script in STATIC_DIR.glob("*.js"):
        for name in re.findall(r"from '\./([\w.-]+)'", script.read_text()):
            assert (STATIC_DIR / name).is_file(), f"{script.name} imports a missing {name}"
