"""``POST /api/signin-links`` and ``POST /api/signin`` in process: an admin makes a one-time
link, its token buys a session credential once, that credential works as an API key of the
link's role, and nothing else gets in."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from telemetry_service.receiver import Receiver, hash_api_key, load_config
from telemetry_service.testing import FakeClock
from tests.receiver.conftest import ADMIN_KEY, VIEWER_KEY

pytestmark = pytest.mark.anyio

XSRF = {"kbn-xsrf": "true"}
ADMIN = {"Authorization": f"ApiKey {ADMIN_KEY}", **XSRF}


def keyed(settings: dict[str, Any]) -> dict[str, Any]:
    return settings | {
        "auth": {
            "apiKeys": [
                {"name": "ops", "role": "admin", "hash": hash_api_key(ADMIN_KEY)},
                {"name": "dash", "role": "viewer", "hash": hash_api_key(VIEWER_KEY)},
            ]
        }
    }


@pytest.fixture
async def running(
    receiver_settings: dict[str, Any], clock: FakeClock
) -> AsyncIterator[tuple[Receiver, httpx.AsyncClient]]:
    async with Receiver(load_config(keyed(receiver_settings), env={}), clock=clock) as receiver:
        transport = httpx.ASGITransport(app=receiver.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as c:
            yield receiver, c


async def make_link(client: httpx.AsyncClient, **body: Any) -> str:
    answer = await client.post("/api/signin-links", json=body, headers=ADMIN)
    assert answer.status_code == 200, answer.text
    url: str = answer.json()["url"]
    assert url.startswith("http://receiver/signin#token=")
    return url.split("#token=", 1)[1]


async def redeem(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post("/api/signin", json={"token": token}, headers=XSRF)


async def test_a_link_signs_in_once_with_its_role(
    running: tuple[Receiver, httpx.AsyncClient], caplog: pytest.LogCaptureFixture
) -> None:
    _, client = running
    caplog.set_level(logging.DEBUG)
    token = await make_link(client, role="viewer", next="/app/events?days=7")
    first = await redeem(client, token)
    assert first.status_code == 200, first.text
    session = first.json()
    assert session["name"] == "ops"
    assert session["role"] == "viewer"
    assert session["next"] == "/app/events?days=7"
    assert session["expires_at"] == "2026-03-16T00:00:00.000Z"  # 12 h after the fake clock
    auth = {"Authorization": f"ApiKey {session['credential']}"}
    me = await client.get("/api/me", headers=auth)
    assert me.json() == {"name": "ops", "role": "viewer", "auth_required": True}
    assert (await client.get("/api/clusters", headers=auth)).status_code == 200
    # viewer: the admin routes refuse it
    refused = await client.delete("/api/clusters/x", headers=auth)
    assert refused.status_code == 403

    again = await redeem(client, token)
    assert again.status_code == 410
    assert "already used or expired" in again.json()["message"]
    assert token not in caplog.text
    assert session["credential"] not in caplog.text


async def test_an_admin_link_gives_an_admin_session(
    running: tuple[Receiver, httpx.AsyncClient],
) -> None:
    _, client = running
    credential = (await redeem(client, await make_link(client, role="admin"))).json()["credential"]
    me = await client.get("/api/me", headers={"Authorization": f"ApiKey {credential}"})
    assert me.json()["role"] == "admin"


async def test_links_and_sessions_expire(
    running: tuple[Receiver, httpx.AsyncClient], clock: FakeClock
) -> None:
    _, client = running
    late = await make_link(client)  # 10 minutes by default
    short = await make_link(client, ttl_minutes=1)
    clock.advance(61)
    assert (await redeem(client, short)).status_code == 410
    credential = (await redeem(client, late)).json()["credential"]
    auth = {"Authorization": f"ApiKey {credential}"}
    clock.advance(hours=12, seconds=-1)
    assert (await client.get("/api/me", headers=auth)).status_code == 200
    clock.advance(1)
    assert (await client.get("/api/me", headers=auth)).status_code == 401
    stale = await make_link(client)
    clock.advance(600)
    assert (await redeem(client, stale)).status_code == 410


async def test_concurrent_exchanges_of_one_token_succeed_once(
    running: tuple[Receiver, httpx.AsyncClient],
) -> None:
    _, client = running
    token = await make_link(client)
    answers = await asyncio.gather(*(redeem(client, token) for _ in range(8)))
    assert sorted(a.status_code for a in answers) == [200] + [410] * 7


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        (XSRF, {}, 401),  # no key
        ({"Authorization": f"ApiKey {VIEWER_KEY}", **XSRF}, {}, 403),  # not an admin
        ({"Authorization": f"ApiKey {ADMIN_KEY}"}, {}, 400),  # no kbn-xsrf
        (ADMIN, {"next": "//evil.example/"}, 400),  # not a path of this receiver
        (ADMIN, {"next": "https://evil.example/"}, 400),
        (ADMIN, {"next": "/\\evil.example"}, 400),
        (ADMIN, {"ttl_minutes": 61}, 400),
        (ADMIN, {"role": "root"}, 400),
    ],
)
async def test_making_a_link_needs_an_admin_the_xsrf_header_and_a_local_page(
    running: tuple[Receiver, httpx.AsyncClient],
    headers: dict[str, str],
    body: dict[str, Any],
    status: int,
) -> None:
    _, client = running
    answer = await client.post("/api/signin-links", json=body, headers=headers)
    assert answer.status_code == status, answer.text


async def test_spending_needs_the_xsrf_header_and_a_real_token(
    running: tuple[Receiver, httpx.AsyncClient],
) -> None:
    _, client = running
    token = await make_link(client)
    no_xsrf = await client.post("/api/signin", json={"token": token})
    assert no_xsrf.status_code == 400
    assert (await redeem(client, token + "x")).status_code == 410
    assert (await redeem(client, token)).status_code == 200  # the refusals did not spend it


def _respelled(text: str) -> str:
    """`text` with its last two characters changed (never to what they were: a random MAC ends
    in "AA" once in 1,024 credentials)."""
    return text[:-2] + ("BA" if text.endswith("AA") else "AA")


async def test_forged_and_tampered_credentials_are_refused(
    running: tuple[Receiver, httpx.AsyncClient],
) -> None:
    _, client = running
    credential = (await redeem(client, await make_link(client))).json()["credential"]
    prefix, claims, mac = credential.split(".")
    for bad in (
        f"{prefix}.{claims}.{_respelled(mac)}",
        f"{prefix}.{_respelled(claims)}.{mac}",
        f"{prefix}.{claims}",
        "tss1.",
        credential + ".x",
    ):
        answer = await client.get("/api/me", headers={"Authorization": f"ApiKey {bad}"})
        assert answer.status_code == 401, bad


async def test_a_session_ends_when_its_key_leaves_the_config_and_is_shared_across_receivers(
    receiver_settings: dict[str, Any], clock: FakeClock, tmp_path: Path
) -> None:
    """Two receivers on one store: a link made on one is spent on the other (as with several
    workers), once; a session lives only while its key name is configured."""
    settings = keyed(receiver_settings) | {"store": {"url": f"sqlite:///{tmp_path / 's.db'}"}}
    without_ops = settings | {"auth": {"apiKeys": settings["auth"]["apiKeys"][1:]}}
    async with (
        Receiver(load_config(settings, env={}), clock=clock) as one,
        Receiver(load_config(settings, env={}), clock=clock) as two,
        Receiver(load_config(without_ops, env={}), clock=clock) as three,
    ):
        link = await one.signin.create_link(name="ops", role="admin")
        assert await three.signin.redeem(link.token + "0") is None
        spent = await two.signin.redeem(link.token)
        assert spent is not None
        assert await one.signin.redeem(link.token) is None
        header = f"ApiKey {spent.credential}"
        assert one.keys.authenticate(header) == spent.principal
        assert three.keys.authenticate(header) is None  # "ops" is not configured there


async def test_without_api_keys_no_link_is_made(client: httpx.AsyncClient) -> None:
    answer = await client.post("/api/signin-links", json={}, headers=XSRF)
    assert answer.status_code == 409
    assert "no API keys" in answer.json()["message"]


async def test_the_sign_in_page_is_a_public_shell(
    running: tuple[Receiver, httpx.AsyncClient],
) -> None:
    _, client = running
    page = await client.get("/signin")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert '/static/receiver/signin.js"' in page.text
    assert (await client.get("/static/receiver/signin.js")).status_code == 200
