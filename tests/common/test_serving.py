"""common.serving: the loopback rule, URLs, a port in use, signals and the bounded shutdown."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from contextlib import suppress
from typing import Literal

import anyio
import httpx
import pytest
from starlette.types import Receive, Scope, Send

from telemetry_service.common.serving import (
    MAX_HEADER_BYTES,
    HttpGuards,
    ServingError,
    bind,
    display_url,
    is_loopback,
    refuse_public_without_keys,
    serve,
    serving,
    uvicorn_config,
)


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "127.8.9.10", "::1", "[::1]"])
def test_loopback_hosts(host: str) -> None:
    assert is_loopback(host)
    refuse_public_without_keys(host, keys_configured=False, hint="unused")


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.1.2.3", "example.com", "[fe80::1]"])
def test_public_hosts_need_keys(host: str) -> None:
    assert not is_loopback(host)
    refuse_public_without_keys(host, keys_configured=True, hint="unused")
    with pytest.raises(ServingError) as raised:
        refuse_public_without_keys(host, keys_configured=False, hint="set auth.apiKeys")
    assert str(raised.value) == (
        f"refusing to listen on {host}: it is not a loopback address and no API key is "
        "configured (set auth.apiKeys)"
    )


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:5601"),
        ("localhost", "http://localhost:5601"),
        ("::1", "http://[::1]:5601"),
        ("[::1]", "http://[::1]:5601"),
    ],
)
def test_display_url(host: str, url: str) -> None:
    assert display_url(host, 5601) == url


def test_a_port_in_use_is_one_line_naming_it() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(ServingError) as raised:
            bind("127.0.0.1", port)
    assert str(raised.value) == f"could not listen on 127.0.0.1:{port}: Address already in use"


def test_bind_port_0_listens_on_a_free_port() -> None:
    with bind("127.0.0.1", 0) as sock, socket.create_connection(sock.getsockname()[:2]):
        assert sock.getsockname()[1] > 0


@pytest.mark.parametrize(
    ("level", "uvicorn_level"),
    [(logging.DEBUG, logging.WARNING), (logging.INFO, logging.WARNING), (logging.ERROR, 40)],
)
def test_uvicorn_config_is_quiet_and_bounds_the_shutdown(level: int, uvicorn_level: int) -> None:
    root = logging.getLogger()
    before = root.level
    root.setLevel(level)
    try:
        config = uvicorn_config("module:app")
    finally:
        root.setLevel(before)
    assert config.log_level == uvicorn_level
    assert config.access_log is False
    assert config.timeout_graceful_shutdown == 3


@pytest.mark.anyio
@pytest.mark.parametrize(("grace_s", "signals"), [(60, 2), (1, 1)], ids=["forced", "grace"])
async def test_a_request_in_progress_cannot_hold_a_stopping_server(
    grace_s: int, signals: int
) -> None:
    """One signal waits `grace_s` at most for the request; a second one stops waiting."""
    in_app, release = asyncio.Event(), asyncio.Event()

    async def never_answers(scope: Scope, receive: Receive, send: Send) -> None:
        in_app.set()
        await release.wait()

    urls: list[str] = []
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = asyncio.create_task(serve(never_answers, sock, urls.append, grace_s=grace_s))
    async with httpx.AsyncClient(timeout=30) as client:
        while not urls:  # serve() announces the URL once its signal handlers are installed
            await asyncio.sleep(0.01)
        request = asyncio.create_task(client.get(urls[0]))
        await in_app.wait()
        with anyio.fail_after(5):
            for _ in range(signals):
                os.kill(os.getpid(), signal.SIGTERM)
                await asyncio.sleep(0.2)
            await server
        release.set()
        request.cancel()
        with suppress(asyncio.CancelledError, httpx.HTTPError):
            await request
    assert urls == [f"http://127.0.0.1:{port}"]
    assert sock.fileno() == -1  # closed


async def _ok(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


@pytest.mark.anyio
async def test_a_loopback_server_refuses_a_foreign_host() -> None:
    """Security review finding 4 (DNS rebinding), for both servers: on loopback, a request for
    another site's name gets 421 and never reaches the app; server.allowedHosts names pass.
    Before, the app answered every name."""
    guards = HttpGuards(allowed_hosts=("telemetry.example.org",))
    async with (
        serving(_ok, bind("127.0.0.1", 0), guards=guards) as server,
        httpx.AsyncClient(base_url=server.url, timeout=10) as client,
    ):
        refused = await client.get("/", headers={"Host": "attacker.example"})
        assert refused.status_code == 421
        assert refused.json()["reason"] == "host_not_allowed"
        for host in ["localhost", "telemetry.example.org"]:
            assert (await client.get("/", headers={"Host": host})).text == "ok"
        assert (await client.get("/")).text == "ok"  # 127.0.0.1:port


Parser = Literal["h11", "httptools"]
PARSERS = pytest.mark.parametrize("parser", ["h11", "httptools"])


@pytest.mark.anyio
@PARSERS
async def test_half_sent_headers_are_dropped_after_the_header_timeout(parser: Parser) -> None:
    """Security review finding 1: a connection that never finishes its headers is closed
    after header_timeout_s (uvicorn has no such limit: it stayed open for ever), with either
    parser (httptools had no deadline before its twin of the h11 protocol)."""
    guards = HttpGuards(header_timeout_s=0.5, parser=parser)
    async with serving(_ok, bind("127.0.0.1", 0), guards=guards) as server:
        port = int(server.url.rsplit(":", 1)[1])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        with anyio.fail_after(5):
            assert await reader.read() == b""  # closed by the server
        writer.close()


@pytest.mark.anyio
@PARSERS
async def test_the_header_deadline_holds_on_a_kept_alive_connection(parser: Parser) -> None:
    """Finding 1 again: the second request of a kept-alive connection also gets the deadline,
    counted from its first byte; a request that completes in time is answered."""
    guards = HttpGuards(header_timeout_s=0.5, keep_alive_s=30, parser=parser)
    async with serving(_ok, bind("127.0.0.1", 0), guards=guards) as server:
        port = int(server.url.rsplit(":", 1)[1])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        with anyio.fail_after(5):
            assert (await reader.readuntil(b"0\r\n\r\n")).startswith(b"HTTP/1.1 200 ")
        await asyncio.sleep(0.7)  # idle, but within keep-alive: still open
        writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        began = asyncio.get_running_loop().time()
        with anyio.fail_after(5):
            assert await reader.read() == b""
        assert asyncio.get_running_loop().time() - began < 3
        writer.close()


@pytest.mark.anyio
@PARSERS
async def test_request_headers_are_capped(parser: Parser) -> None:
    """A client cannot make the server hold endless headers within the deadline: past
    MAX_HEADER_BYTES it gets a 400 and the connection closes (h11's cap; llhttp has none,
    so with httptools they were held until the deadline)."""
    guards = HttpGuards(header_timeout_s=30, parser=parser)
    async with serving(_ok, bind("127.0.0.1", 0), guards=guards) as server:
        port = int(server.url.rsplit(":", 1)[1])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        for i in range(MAX_HEADER_BYTES // 1000 + 2):
            writer.write(b"X-Filler-%d: %s\r\n" % (i, b"x" * 1000))
        with anyio.fail_after(5):
            answer = await reader.read()
        assert answer.startswith(b"HTTP/1.1 400 ")
        writer.close()
        async with httpx.AsyncClient(timeout=10) as client:  # headers under the cap pass
            big = {f"X-Filler-{i}": "x" * 1000 for i in range(MAX_HEADER_BYTES // 1000 - 2)}
            assert (await client.get(server.url, headers=big)).text == "ok"
