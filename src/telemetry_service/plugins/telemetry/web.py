"""The telemetry plugin's web pages: the home page with the notice banner, the settings page.

The pages are public shells (no data of the deployment is in them, only what any browser needs
to report: the channel URLs, the host's version and its name). Their scripts read everything
else from the JSON routes, with the API key that the user typed into the page (kept in
``sessionStorage``) when the server has API keys. The scripts are plain ES modules under
``/static/telemetry/``; the vendored htmx and Chart.js files are served under ``/static/vendor/``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from telemetry_service.core import CoreConfig, kibana_error, route_options

from .config import TelemetryConfig
from .endpoints import get_opt_in_status_url, get_telemetry_url, is_placeholder_endpoint

__all__ = [
    "HOME_PATH",
    "SETTINGS_PATH",
    "STATIC_PREFIX",
    "VENDOR_PREFIX",
    "StaticFolder",
    "WebPages",
    "build_web_router",
    "content_security_policy",
    "page_config",
]

HOME_PATH = "/"
SETTINGS_PATH = "/app/telemetry"
STATIC_PREFIX = "/static/telemetry"
VENDOR_PREFIX = "/static/vendor"

_HERE = Path(__file__).resolve().parent
TEMPLATES_DIR = _HERE / "templates"
STATIC_DIR = _HERE / "static"
#: ``src/telemetry_service/static/vendor``: pinned third-party files shared with the receiver.
VENDOR_DIR = _HERE.parents[1] / "static" / "vendor"

_MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}


@dataclass(frozen=True)
class Asset:
    body: bytes
    media_type: str
    etag: str


class StaticFolder:
    """The files of one folder (not its subfolders), read once and served by name.

    Only known file types are served; a name is never joined to a path, so nothing outside the
    folder can be reached. Responses carry a content-hash ETag and ``no-cache``: browsers keep
    the files and revalidate them (a 304) on each page load.
    """

    def __init__(self, folder: Path) -> None:
        self.assets: dict[str, Asset] = {}
        if folder.is_dir():
            for path in sorted(folder.iterdir()):
                media_type = _MEDIA_TYPES.get(path.suffix)
                if path.is_file() and media_type is not None:
                    body = path.read_bytes()
                    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
                    self.assets[path.name] = Asset(body, media_type, etag)

    def response(self, name: str, request: Request) -> Response:
        asset = self.assets.get(name)
        if asset is None:
            return kibana_error(404, f"No static file [{name}].")
        headers = {
            "ETag": asset.etag,
            "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff",
        }
        if asset.etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        return Response(asset.body, media_type=asset.media_type, headers=headers)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port is not None else ""
    return f"{parts.scheme}://{host}{port}"


def content_security_policy(config: TelemetryConfig) -> str:
    """Scripts and styles from this server only; requests to it and to the telemetry channels."""
    channels = sorted(
        {_origin(str(get_telemetry_url(config))), _origin(str(get_opt_in_status_url(config)))}
    )
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "connect-src 'self' " + " ".join(channels),
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def page_config(config: TelemetryConfig, core: CoreConfig, version: str) -> dict[str, Any]:
    """What the page scripts need before they ask the server anything (spec 9.1's injected
    config): the channel URLs of the *current* config, the version and the product's name."""
    return {
        "name": core.server.name,
        "version": version,
        "snapshotUrl": str(get_telemetry_url(config)),
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
        templates_dir: Path = TEMPLATES_DIR,
        static_dir: Path = STATIC_DIR,
        vendor_dir: Path = VENDOR_DIR,
    ) -> None:
        self._telemetry_config = telemetry_config
        self._core_config = core_config
        self._version = version
        self.static = StaticFolder(static_dir)
        self.vendor = StaticFolder(vendor_dir)
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(templates_dir),
            autoescape=jinja2.select_autoescape(["html"]),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def render(self, template: str, title: str) -> HTMLResponse:
        config = self._telemetry_config()
        core = self._core_config()
        body = self._env.get_template(template).render(
            title=title,
            name=core.server.name,
            version=self._version,
            config=page_config(config, core, self._version),
            static=STATIC_PREFIX,
            home_path=HOME_PATH,
            settings_path=SETTINGS_PATH,
        )
        headers = {**_PAGE_HEADERS, "Content-Security-Policy": content_security_policy(config)}
        return HTMLResponse(body, headers=headers)


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

    @router.get(STATIC_PREFIX + "/{name}", response_model=None, openapi_extra=public)
    async def static_file(name: str, request: Request) -> Response:
        return pages.static.response(name, request)

    @router.get(VENDOR_PREFIX + "/{name}", response_model=None, openapi_extra=public)
    async def vendor_file(name: str, request: Request) -> Response:
        return pages.vendor.response(name, request)

    return router
