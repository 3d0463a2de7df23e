"""``telemetry-service serve``: run the platform on uvicorn until SIGINT or SIGTERM.

On a stop signal the requests in progress get :data:`~telemetry_service.core.http.REQUEST_GRACE_S`
to finish before they are cancelled (a send held by a slow endpoint must not hold the host);
then the plugins stop.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from telemetry_service.common.log import configure_logging
from telemetry_service.common.serving import (
    QuietServer,
    bind,
    refuse_public_without_keys,
    serving,
    stop_on_signals,
)
from telemetry_service.core import Platform
from telemetry_service.core.http import HttpService

__all__ = ["serve_platform"]


async def serve_platform(config: Path | None, host: str | None, port: int | None) -> None:
    platform = Platform(config=config)
    core = platform.prepare().core
    configure_logging(core.logging.level)
    bind_host = host or core.server.host
    refuse_public_without_keys(
        bind_host,
        bool(core.server.auth.api_keys),
        "set server.auth.apiKeys, see `telemetry-service apikey create`",
    )
    port = core.server.port if port is None else port
    with bind(bind_host, port) as sock:  # before the plugins start: a taken port stops nothing
        async with platform:
            async with serving(platform.asgi_app, sock) as server, stop_on_signals(server):
                platform.http.server_url = server.url
                print(f"telemetry-service {platform.version} listening on {server.url}", flush=True)
                await _serve_until_stopped(server, platform.http)
            print("stopping plugins…", flush=True)
    print("stopped", flush=True)


async def _serve_until_stopped(server: QuietServer, http: HttpService) -> None:
    """Serve until asked to stop; then stop the requests in progress, and let uvicorn end."""
    while not server.should_exit and not server.task.done():
        await asyncio.wait({server.task}, timeout=0.1)
    await http.stop_requests()
    await server.task
