"""``telemetry-service serve``: run the platform on uvicorn until SIGINT or SIGTERM."""

from __future__ import annotations

from pathlib import Path

from telemetry_service.common.log import configure_logging
from telemetry_service.common.serving import bind, refuse_public_without_keys, serve
from telemetry_service.core import Platform

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

            def announce(url: str) -> None:
                platform.http.server_url = url
                print(f"telemetry-service {platform.version} listening on {url}", flush=True)

            await serve(platform.asgi_app, sock, announce)
            print("stopping plugins…", flush=True)
    print("stopped", flush=True)
