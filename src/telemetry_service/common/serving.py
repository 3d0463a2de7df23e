"""Serving an ASGI app on uvicorn, the same way for the host and the receiver.

Owns the loopback check and the refusal to listen publicly without API keys, binding the port
(a port in use is one :class:`ServingError` line, not uvicorn's exit and traceback), the
``http://HOST:PORT`` shown to users, the signals (SIGINT or SIGTERM stops; a second one stops
waiting for requests in progress) and the bounded graceful shutdown: a slow client cannot hold
a stopping server up for more than ``grace_s`` seconds.

Connections are guarded (:class:`HttpGuards`): a client has ``header_timeout_s`` to send a
request's line and headers (uvicorn has no such limit, so idle or half-sent connections stayed
open for ever; see ``http_protocols``) and at most ``MAX_HEADER_BYTES`` of them, an idle
keep-alive connection is closed after ``keep_alive_s``, and a request whose ``Host`` is not an
allowed name is refused (:class:`~.web.HostCheck`, against DNS rebinding). ``parser`` picks
uvicorn's HTTP/1.1 parser: h11 (pure Python) or httptools (C, about 0.3 ms less a request),
and ``loop`` the event loop of worker processes (see :mod:`.event_loops`; a server in this
process runs on the caller's loop).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import signal
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import uvicorn
from starlette.types import ASGIApp

from .event_loops import EventLoopName
from .http_protocols import (
    HEADER_TIMEOUT_S,
    MAX_HEADER_BYTES,
    GuardedConfig,
    HeaderDeadlineProtocol,
    HttpToolsDeadlineProtocol,
)
from .web import HostCheck

__all__ = [
    "HEADER_TIMEOUT_S",
    "KEEP_ALIVE_S",
    "MAX_HEADER_BYTES",
    "GuardedConfig",
    "HeaderDeadlineProtocol",
    "HttpGuards",
    "HttpToolsDeadlineProtocol",
    "QuietServer",
    "ServingError",
    "bind",
    "display_url",
    "host_checked",
    "is_loopback",
    "refuse_public_without_keys",
    "serve",
    "serving",
    "stop_on_signals",
    "uvicorn_config",
]

#: Seconds a stopping server waits for requests in progress.
GRACE_S = 3
#: Seconds an idle keep-alive connection stays open.
KEEP_ALIVE_S = 5
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class ServingError(Exception):
    """The server cannot start (a port in use, a refused address); the message is one line."""


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP addresses (``[::1]`` included)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def display_url(host: str, port: int) -> str:
    """The URL of a server listening on host:port (IPv6 addresses in brackets)."""
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{shown}:{port}"


def refuse_public_without_keys(host: str, keys_configured: bool, hint: str) -> None:
    """Refuse a non-loopback address unless API keys protect the server; `hint` says where."""
    if not is_loopback(host) and not keys_configured:
        raise ServingError(
            f"refusing to listen on {host}: it is not a loopback address and no API key is "
            f"configured ({hint})"
        )


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (0: any free port); connections wait in its backlog."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = socket.create_server((host.strip("[]"), port), family=family, backlog=2048)
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise ServingError(f"could not listen on {host}:{port}: {reason}") from None
    sock.set_inheritable(True)  # worker processes share it
    return sock


@dataclass(frozen=True)
class HttpGuards:
    """Connection limits of a server: the header deadline, the keep-alive of idle connections
    and the ``Host`` names accepted besides loopback ones (see :class:`~.web.HostCheck`)."""

    header_timeout_s: float = HEADER_TIMEOUT_S
    keep_alive_s: int = KEEP_ALIVE_S
    allowed_hosts: tuple[str, ...] = ()
    #: The HTTP/1.1 parser: h11 (pure Python) or httptools (llhttp, in C).
    parser: Literal["h11", "httptools"] = "h11"
    #: The event loop of worker processes that uvicorn starts (``server.workers`` > 1).
    loop: EventLoopName = "asyncio"


class QuietServer(uvicorn.Server):
    """uvicorn re-raises SIGTERM after shutdown; our callers handle signals instead."""

    url = ""  # serving() sets both
    task: asyncio.Task[None]

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def stop_on_signals(*servers: uvicorn.Server) -> AsyncIterator[None]:
    """SIGINT and SIGTERM ask the servers to exit; a second signal stops waiting for clients."""
    loop = asyncio.get_running_loop()

    def request_exit() -> None:
        for server in servers:
            server.force_exit = server.should_exit
            server.should_exit = True

    for sig in _SIGNALS:
        loop.add_signal_handler(sig, request_exit)
    try:
        yield
    finally:
        for sig in _SIGNALS:
            loop.remove_signal_handler(sig)


def uvicorn_config(
    app: ASGIApp | str,
    *,
    grace_s: int = GRACE_S,
    guards: HttpGuards = HttpGuards(),
    **options: Any,
) -> uvicorn.Config:
    """uvicorn's config for our servers: no access log, uvicorn's own lines from warning up
    (or from the process's level when higher), a graceful shutdown bounded by `grace_s`, the
    header deadline and keep-alive of `guards`."""
    level = max(logging.WARNING, logging.getLogger().getEffectiveLevel())
    config = GuardedConfig(
        app,
        log_level=level,
        access_log=False,
        timeout_graceful_shutdown=grace_s,
        http=HttpToolsDeadlineProtocol if guards.parser == "httptools" else HeaderDeadlineProtocol,
        timeout_keep_alive=guards.keep_alive_s,
        loop=guards.loop,
        **options,
    )
    config.header_timeout_s = guards.header_timeout_s
    return config


def host_checked(app: ASGIApp, bound: str, guards: HttpGuards = HttpGuards()) -> ASGIApp:
    """`app` behind the ``Host`` check of a server listening on `bound`."""
    return HostCheck(app, bound=bound, allowed=guards.allowed_hosts)


@contextlib.asynccontextmanager
async def serving(
    app: ASGIApp, sock: socket.socket, *, grace_s: int = GRACE_S, guards: HttpGuards = HttpGuards()
) -> AsyncIterator[QuietServer]:
    """Serve `app` on a socket of :func:`bind` while the block runs; leaving it stops the server."""
    bound = str(sock.getsockname()[0])
    config = uvicorn_config(
        host_checked(app, bound, guards), grace_s=grace_s, guards=guards, lifespan="off"
    )
    server = QuietServer(config)
    server.url = display_url(*sock.getsockname()[:2])
    server.task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield server
    finally:
        server.should_exit = True
        await server.task
        sock.close()


async def serve(
    app: ASGIApp,
    sock: socket.socket,
    announce: Callable[[str], None],
    *,
    grace_s: int = GRACE_S,
    guards: HttpGuards = HttpGuards(),
) -> None:
    """Serve `app` on `sock` until SIGINT or SIGTERM; `announce(url)` once it listens."""
    async with (
        serving(app, sock, grace_s=grace_s, guards=guards) as server,
        stop_on_signals(server),
    ):
        announce(server.url)
        await server.task
