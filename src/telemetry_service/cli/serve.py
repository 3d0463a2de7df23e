"""``telemetry-service serve``: run the platform on uvicorn until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import signal
from collections.abc import Generator
from pathlib import Path

import uvicorn

from telemetry_service.core import Platform

from .errors import fail

__all__ = ["QuietSignalsServer", "is_loopback", "serve_platform"]

log = logging.getLogger("telemetry_service.cli")


class QuietSignalsServer(uvicorn.Server):
    """uvicorn re-raises SIGTERM after shutdown; the CLI handles signals itself instead."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


@contextlib.contextmanager
def stop_on_signals(server: uvicorn.Server) -> Generator[None, None, None]:
    """SIGINT and SIGTERM ask the server to exit; the platform then stops its plugins."""
    loop = asyncio.get_running_loop()

    def request_exit() -> None:
        if server.should_exit:  # a second signal: stop waiting for connections
            server.force_exit = True
        server.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, request_exit)
    try:
        yield
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


async def serve_platform(config: Path | None, host: str | None, port: int | None) -> None:
    platform = Platform(config=config)
    service = platform.prepare()
    server_config = service.core.server
    bind_host = host or server_config.host
    bind_port = server_config.port if port is None else port
    if not is_loopback(bind_host) and not server_config.auth.api_keys:
        raise fail(
            f"refusing to listen on {bind_host}: it is not a loopback address and no API key is "
            "configured (set server.auth.apiKeys, see `telemetry-service apikey create`)"
        )
    async with platform:
        uv_config = uvicorn.Config(
            platform.asgi_app,
            host=bind_host,
            port=bind_port,
            lifespan="off",
            log_level="warning",
            access_log=False,
        )
        server = QuietSignalsServer(uv_config)
        with stop_on_signals(server):
            serve_task = asyncio.create_task(server.serve())
            while not server.started and not serve_task.done():  # noqa: ASYNC110 (uvicorn sets a flag)
                await asyncio.sleep(0.05)
            if server.started:
                port_bound = server.servers[0].sockets[0].getsockname()[1]
                shown = f"[{bind_host}]" if ":" in bind_host else bind_host
                url = f"http://{shown}:{port_bound}"
                platform.http.server_url = url
                print(f"telemetry-service {platform.version} listening on {url}", flush=True)
            try:
                await serve_task
            except SystemExit:  # uvicorn exits when it cannot bind
                raise fail(
                    f"could not listen on {bind_host}:{bind_port} (is the port in use?)"
                ) from None
        if not server.started:
            raise fail(f"could not listen on {bind_host}:{bind_port} (is the port in use?)")
        print("stopping plugins…", flush=True)
    print("stopped", flush=True)
