"""Run the receiver on uvicorn until SIGINT or SIGTERM (``receiver serve``).

One worker runs in this process. With ``server.workers`` > 1 this process binds the socket,
migrates the store once, and supervises that many worker processes that share the socket
(each builds its app from the resolved config passed in ``TELEMETRY_RECEIVER_WORKER_CONFIG``).
Either way the process prints ``… listening on http://HOST:PORT`` when ready and exits 0
after a signal.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import signal
import sys
from collections.abc import Callable, Generator

import orjson
import uvicorn
from fastapi import FastAPI

from .app import Receiver, create_app
from .config import WORKER_CONFIG_ENV, ReceiverConfig, validate
from .errors import StartupError
from .storage import StoreError, open_report_store

__all__ = ["check_bind_address", "is_loopback", "run_server", "worker_app"]

log = logging.getLogger("telemetry_service.receiver")
Announce = Callable[[str], None]
#: Seconds a stopping server waits for requests in progress (slow clients cannot hold it up).
_GRACE_S = 3
_PR_SET_PDEATHSIG = 1


def _print(line: str) -> None:
    print(line, flush=True)


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP addresses."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind_address(config: ReceiverConfig) -> None:
    """Refuse a non-loopback address unless API keys protect the query and admin APIs."""
    host = config.server.host
    if not is_loopback(host) and not config.auth.api_keys:
        raise StartupError(
            f"refusing to listen on {host}: it is not a loopback address and no API key is "
            "configured (set auth.apiKeys in the receiver config)"
        )


def _url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


class _Server(uvicorn.Server):
    """uvicorn re-raises SIGTERM after shutdown; here the caller handles signals instead."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def run_server(config: ReceiverConfig, *, announce: Announce = _print) -> None:
    """Serve until SIGINT or SIGTERM. Raises :class:`StartupError` when it cannot start."""
    check_bind_address(config)
    if config.server.workers > 1:
        _serve_workers(config, announce)
    else:
        asyncio.run(_serve_one(config, announce))


async def _serve_one(config: ReceiverConfig, announce: Announce) -> None:
    try:
        receiver = Receiver(config)
        await receiver.start()
    except StoreError as exc:
        raise StartupError(f"cannot open the store: {exc}") from None
    try:
        server = _Server(
            uvicorn.Config(
                receiver.app,
                host=config.server.host,
                port=config.server.port,
                lifespan="off",
                log_level="warning",
                access_log=False,
                timeout_graceful_shutdown=_GRACE_S,
            )
        )
        loop = asyncio.get_running_loop()

        def request_exit() -> None:
            if server.should_exit:  # a second signal: stop waiting for connections
                server.force_exit = True
            server.should_exit = True

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, request_exit)
        try:
            task = asyncio.create_task(server.serve())
            while not server.started and not task.done():  # noqa: ASYNC110 (uvicorn's flag)
                await asyncio.sleep(0.02)
            if server.started:
                port = server.servers[0].sockets[0].getsockname()[1]
                announce(
                    f"telemetry-service receiver listening on {_url(config.server.host, port)}"
                )
            with contextlib.suppress(SystemExit):  # uvicorn exits when it cannot bind
                await task
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
        if not server.started:
            raise StartupError(
                f"could not listen on {config.server.host}:{config.server.port} "
                "(is the port in use?)"
            )
    finally:
        await receiver.stop()
    announce("receiver stopped")


def _serve_workers(config: ReceiverConfig, announce: Announce) -> None:
    from uvicorn.supervisors import Multiprocess

    async def migrate() -> None:
        store = open_report_store(config.store_url)
        await store.open()
        await store.close()

    try:
        Receiver(config)  # checks the key file and store.url before anything listens
        asyncio.run(migrate())
    except StoreError as exc:
        raise StartupError(f"cannot open the store: {exc}") from None
    os.environ[WORKER_CONFIG_ENV] = orjson.dumps(
        config.model_dump(by_alias=True, mode="json")
    ).decode()
    uv_config = uvicorn.Config(
        "telemetry_service.receiver.server:worker_app",
        factory=True,
        host=config.server.host,
        port=config.server.port,
        workers=config.server.workers,
        lifespan="on",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=_GRACE_S,
    )
    try:
        sock = uv_config.bind_socket()
    except SystemExit:
        raise StartupError(
            f"could not listen on {config.server.host}:{config.server.port} (is the port in use?)"
        ) from None
    sock.listen(uv_config.backlog)  # connections wait in the backlog while workers start
    port = sock.getsockname()[1]
    supervisor = Multiprocess(uv_config, sockets=[sock])
    announce(
        f"telemetry-service receiver listening on {_url(config.server.host, port)} "
        f"({config.server.workers} workers)"
    )
    try:
        supervisor.run()
    finally:
        sock.close()
    announce("receiver stopped")


def _stop_with_parent() -> None:
    """Ask Linux to send SIGTERM to this worker when its supervisor dies (even by SIGKILL)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # pragma: no cover - not glibc/musl
        return
    if os.getppid() == 1:  # the supervisor died before prctl
        os.kill(os.getpid(), signal.SIGTERM)


def worker_app() -> FastAPI:
    """The app of one worker process (``uvicorn --factory``), from the parent's config."""
    _stop_with_parent()
    raw = os.environ.get(WORKER_CONFIG_ENV)
    if not raw:
        raise StartupError(f"{WORKER_CONFIG_ENV} is not set: start workers with `receiver serve`")
    return create_app(validate(orjson.loads(raw)))
