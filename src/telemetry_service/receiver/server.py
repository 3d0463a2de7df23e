"""Run the receiver on uvicorn until SIGINT or SIGTERM (``receiver serve``).

One worker runs in this process. With ``server.workers`` > 1 this process binds the socket,
migrates the store once, and supervises that many worker processes that share the socket
(each builds its app from the resolved config passed in ``TELEMETRY_RECEIVER_WORKER_CONFIG``).
Either way the process prints ``… listening on http://HOST:PORT`` when ready and exits 0
after a signal. The loops run on ``server.loop`` (uvloop by default where it is installed).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import orjson
from starlette.types import ASGIApp

from telemetry_service.common import event_loops
from telemetry_service.common.log import configure_logging
from telemetry_service.common.serving import (
    HttpGuards,
    bind,
    display_url,
    host_checked,
    refuse_public_without_keys,
    serve,
    uvicorn_config,
)

from .app import Receiver, create_app
from .config import WORKER_CONFIG_ENV, ReceiverConfig, validate
from .errors import StartupError
from .storage import StoreError, open_report_store

__all__ = ["http_guards", "run_server", "worker_app"]

_PR_SET_PDEATHSIG = 1
#: The GIL switch interval of a receiver process (Python's default is 5 ms). A decrypt thread
#: back from PBKDF2 (which releases the GIL) waits for the GIL while the event loop or the
#: writer runs Python; a shorter interval hands it over sooner. Measured with
#: ``benchmarks/ingest.py`` on 2 cores (four runs each, alternately): SQLite 0.79 / 0.79 /
#: 0.75 / 0.77 of the crypto limit at 5 ms, 0.80 / 0.82 / 0.81 / 0.81 at 1 ms; PostgreSQL
#: 0.67 / 0.72 at 5 ms, 0.76 / 0.76 at 1 ms (0.5 and 0.2 ms were no better).
SWITCH_INTERVAL_S = 0.001


def _tune_interpreter() -> None:
    """Apply :data:`SWITCH_INTERVAL_S` (only ever in a receiver's own process: a host
    application embedding the library keeps its own)."""
    sys.setswitchinterval(SWITCH_INTERVAL_S)


def _print(line: str) -> None:
    print(line, flush=True)


def http_guards(config: ReceiverConfig) -> HttpGuards:
    """The connection limits, allowed ``Host`` names and event loop of ``server.*``; the
    receiver parses HTTP with httptools (its requests are many and small next to their
    crypto)."""
    server = config.server
    return HttpGuards(
        header_timeout_s=server.header_timeout_seconds,
        keep_alive_s=server.keep_alive_seconds,
        allowed_hosts=server.allowed_hosts,
        parser="httptools",
        loop=server.loop,
    )


def run_server(config: ReceiverConfig) -> None:
    """Serve until SIGINT or SIGTERM. Raises :class:`StartupError` or
    :class:`~telemetry_service.common.serving.ServingError` when it cannot start."""
    configure_logging(config.logging.level)
    refuse_public_without_keys(
        config.server.host, bool(config.auth.api_keys), "set auth.apiKeys in the receiver config"
    )
    try:
        event_loops.resolve_loop(config.server.loop)
    except event_loops.EventLoopUnavailable as exc:
        raise StartupError(f"server.loop: {exc}") from None
    _tune_interpreter()
    try:
        if config.server.workers > 1:
            _serve_workers(config)
        else:
            event_loops.run(_serve_one(config), config.server.loop)
    except StoreError as exc:
        raise StartupError(f"cannot open the store: {exc}") from None
    _print("receiver stopped")


async def _serve_one(config: ReceiverConfig) -> None:
    with bind(config.server.host, config.server.port) as sock:
        async with Receiver(config) as receiver:
            await serve(
                receiver.app,
                sock,
                lambda url: _print(f"telemetry-service receiver listening on {url}"),
                guards=http_guards(config),
            )


def _serve_workers(config: ReceiverConfig) -> None:
    from uvicorn.supervisors import Multiprocess

    Receiver(config)  # checks the key file and store.url before anything listens

    async def migrate() -> None:
        store = open_report_store(config.store_url)
        await store.open()
        await store.close()

    asyncio.run(migrate())
    os.environ[WORKER_CONFIG_ENV] = orjson.dumps(
        config.model_dump(by_alias=True, mode="json")
    ).decode()
    uv_config = uvicorn_config(
        "telemetry_service.receiver.server:worker_app",
        factory=True,
        workers=config.server.workers,
        lifespan="on",
        guards=http_guards(config),
    )
    with bind(config.server.host, config.server.port) as sock:  # connections wait in its backlog
        url = display_url(config.server.host, sock.getsockname()[1])
        _print(f"telemetry-service receiver listening on {url} ({config.server.workers} workers)")
        Multiprocess(uv_config, sockets=[sock]).run()


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


def worker_app() -> ASGIApp:
    """The app of one worker process (``uvicorn --factory``), from the parent's config."""
    _stop_with_parent()
    _tune_interpreter()
    raw = os.environ.get(WORKER_CONFIG_ENV)
    if not raw:
        raise StartupError(f"{WORKER_CONFIG_ENV} is not set: start workers with `receiver serve`")
    config = validate(orjson.loads(raw))
    configure_logging(config.logging.level)
    return host_checked(create_app(config), config.server.host, http_guards(config))
