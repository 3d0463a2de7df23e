"""The telemetry plugin's web pages: the home page with the notice banner, the settings page.

The pages are public shells (no data of the deployment is in them, only what any browser needs
to report: the channel URLs, the host's version and its name). Their scripts read everything
else from the JSON routes, with the API key that the user typed into the page (kept in
``sessionStorage``) when the server has API keys. The scripts are plain ES modules under
``/static/telemetry/`` on the shared front end of :mod:`telemetry_service.common.web`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Response
from fastapi.responses import HTMLResponse

from telemetry_service.common.web import (
    add_static_routes,
    content_security_policy,
    page_response,
    template_environment,
)
from telemetry_service.core import CoreConfig, route_options

from .config import TelemetryConfig
from .endpoints import (
    get_opt_in_status_url,
    get_telemetry_channel_endpoint,
    get_telemetry_url,
    is_placeholder_endpoint,
)

__all__ = [
    "BROWSER_EVENT_SCHEMAS",
    "HOME_PATH",
    "SETTINGS_PATH",
    "STATIC_PREFIX",
    "WebPages",
    "build_web_router",
    "page_config",
    "page_csp",
]

HOME_PATH = "/"
SETTINGS_PATH = "/app/telemetry"
STATIC_PREFIX = "/static/telemetry"

_HERE = Path(__file__).resolve().parent
TEMPLATES_DIR = _HERE / "templates"
STATIC_DIR = _HERE / "static"
_NAV = [(HOME_PATH, "Home", "home"), (SETTINGS_PATH, "Usage collection", "settings")]


def _leaf(kind: str, description: str) -> dict[str, Any]:
    return {"type": kind, "_meta": {"description": description}}


_PAGE = _leaf("keyword", "The page's path, e.g. / or /app/telemetry.")
#: The events the pages report (``static/analytics.js``), for ``telemetry events`` and the
#: catalogue; they go to ``{product}-browser``.
BROWSER_EVENT_SCHEMAS: dict[str, dict[str, Any]] = {
    "page_view": {
        "page_name": _PAGE,
        "referrer_same_origin": _leaf("boolean", "Whether the user came from one of our pages."),
    },
    "page_load": {
        "page_name": _PAGE,
        "duration_ms": _leaf("long", "From navigation start to the end of the load event."),
        "dom_content_loaded_ms": _leaf("long", "From navigation start to DOMContentLoaded."),
        "response_ms": _leaf("long", "From navigation start to the end of the response."),
        "transfer_bytes": _leaf("long", "Bytes transferred for the page (0 when cached)."),
    },
}


def _origin(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port is not None else ""
    return f"{parts.scheme}://{host}{port}"


def page_csp(config: TelemetryConfig) -> str:
    """The shared policy, with requests allowed to the telemetry channels' origins."""
    channels = {
        _origin(str(get_telemetry_url(config))),
        _origin(str(get_opt_in_status_url(config))),
    }
    return content_security_policy(connect_src=sorted(channels))


def page_config(config: TelemetryConfig, core: CoreConfig, version: str) -> dict[str, Any]:
    """What the page scripts need before they ask the server anything (spec 9.1's injected
    config): the channel URLs of the *current* config, the version and the product's name."""
    return {
        "name": core.server.name,
        "version": version,
        "snapshotUrl": str(get_telemetry_url(config)),
        "eventsUrl": str(get_telemetry_channel_endpoint(config, "browser")),
        "debug": config.debug,
        "optInStatusUrl": str(get_opt_in_status_url(config)),
        "endpointConfigured": not is_placeholder_endpoint(config),
        "banner": config.banner,
        "hidePrivacyStatement": config.hide_privacy_statement,
        "authRequired": bool(core.server.auth.api_keys),
        "settingsPath": SETTINGS_PATH,
    }


class WebPages:
    """Renders the pages from the current config (it can change at run time)."""

    def __init__(
        self,
        *,
        telemetry_config: Callable[[], TelemetryConfig],
        core_config: Callable[[], CoreConfig],
        version: str,
    ) -> None:
        self._telemetry_config = telemetry_config
        self._core_config = core_config
        self._version = version
        self._env = template_environment(TEMPLATES_DIR)

    def render(self, template: str, title: str) -> HTMLResponse:
        config = self._telemetry_config()
        core = self._core_config()
        return page_response(
            self._env,
            template,
            page_csp(config),
            title=title,
            name=core.server.name,
            version=self._version,
            config=page_config(config, core, self._version),
            nav=_NAV,
            static=STATIC_PREFIX,
            stylesheet=f"{STATIC_PREFIX}/telemetry.css",
            footer=f"{core.server.name} {self._version}",
            settings_path=SETTINGS_PATH,
        )


def build_web_router(pages: WebPages) -> APIRouter:
    """``GET /`` (home, with the notice banner), ``GET /app/telemetry`` (settings) and the
    static files. Every one is public: the data behind them needs an API key."""
    router = APIRouter(tags=["telemetry-web"], include_in_schema=False)
    public = route_options(access="public")

    @router.get(HOME_PATH, response_model=None, openapi_extra=public)
    async def home() -> Response:
        return pages.render("home.html", "Home")

    @router.get(SETTINGS_PATH, response_model=None, openapi_extra=public)
    async def settings() -> Response:
        return pages.render("settings.html", "Usage collection")

    add_static_routes(router, {STATIC_PREFIX: STATIC_DIR}, openapi_extra=public)
    return router
