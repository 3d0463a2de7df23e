"""The receiver's dashboard: an overview, a field explorer, the cluster list and cluster pages.

The pages are public shells, like the host's: they hold the receiver's version, whether API
keys are configured, today's UTC date and (on a cluster page) the id from the URL, nothing
else. Their scripts read the data from the JSON routes with the API key that the user typed
into the page (kept in ``sessionStorage``, sent as ``Authorization: ApiKey …``), so the data
keeps the viewer role of those routes and deleting a cluster keeps the admin role.

Scripts and the style are ES modules under ``/static/receiver/``; Chart.js comes from the
project's vendored, pinned copy (``telemetry_service/static/vendor``) under
``/static/vendor/``. Nothing is fetched from another origin.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import jinja2
from fastapi import APIRouter, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse

from telemetry_service.common.clock import Clock

from .http import error_response

__all__ = [
    "CHART_JS",
    "STATIC_PREFIX",
    "VENDOR_DIR",
    "VENDOR_PREFIX",
    "DashboardPages",
    "StaticFolder",
    "content_security_policy",
    "dashboard_router",
]

STATIC_PREFIX = "/static/receiver"
VENDOR_PREFIX = "/static/vendor"
#: The vendored Chart.js file the pages load (its sha256 is in the folder's SHA256SUMS).
CHART_JS = "chart-4.6.1.umd.min.js"

_HERE = Path(__file__).resolve().parent
TEMPLATES_DIR = _HERE / "templates"
STATIC_DIR = _HERE / "static"
#: ``src/telemetry_service/static/vendor``: pinned third-party files shared with the host.
VENDOR_DIR = _HERE.parent / "static" / "vendor"

PATHS = {
    "overview": "/",
    "fields": "/app/fields",
    "clusters": "/app/clusters",
}

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


def content_security_policy() -> str:
    """Scripts, styles and requests to this receiver only; downloads are made from blobs."""
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data: blob:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


@dataclass(frozen=True)
class _Asset:
    body: bytes
    media_type: str
    etag: str


class StaticFolder:
    """The files of one folder (not its subfolders), read once and served by exact name.

    Only known file types are served and a name is never joined to a path, so nothing outside
    the folder can be reached. Answers carry a content-hash ``ETag`` and ``no-cache``, so that
    browsers revalidate (and get a 304) on each page load.
    """

    def __init__(self, folder: Path) -> None:
        self.assets: dict[str, _Asset] = {}
        if folder.is_dir():
            for path in sorted(folder.iterdir()):
                media_type = _MEDIA_TYPES.get(path.suffix)
                if path.is_file() and media_type is not None:
                    body = path.read_bytes()
                    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
                    self.assets[path.name] = _Asset(body, media_type, etag)

    def response(self, name: str, request: Request) -> Response:
        asset = self.assets.get(name)
        if asset is None:
            return error_response(404, f"No static file [{name}].")
        headers = {
            "ETag": asset.etag,
            "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff",
        }
        if asset.etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        return Response(asset.body, media_type=asset.media_type, headers=headers)


class DashboardPages:
    """Renders the page shells."""

    def __init__(
        self,
        *,
        version: str,
        auth_required: bool,
        clock: Clock,
        templates_dir: Path = TEMPLATES_DIR,
        static_dir: Path = STATIC_DIR,
        vendor_dir: Path = VENDOR_DIR,
    ) -> None:
        self._version = version
        self._auth_required = auth_required
        self._clock = clock
        self.static = StaticFolder(static_dir)
        self.vendor = StaticFolder(vendor_dir)
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(templates_dir),
            autoescape=jinja2.select_autoescape(["html"]),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def page_config(self, **extra: Any) -> dict[str, Any]:
        """What the scripts need before they ask anything: no data of the receiver."""
        return {
            "authRequired": self._auth_required,
            "today": self._clock().date().isoformat(),
            "version": self._version,
            "paths": PATHS,
            **extra,
        }

    def render(self, template: str, *, title: str, active: str, **extra: Any) -> HTMLResponse:
        body = self._env.get_template(template).render(
            title=title,
            active=active,
            version=self._version,
            config=self.page_config(**extra),
            paths=PATHS,
            static=STATIC_PREFIX,
            chart_js=f"{VENDOR_PREFIX}/{CHART_JS}",
            **extra,
        )
        headers = {**_PAGE_HEADERS, "Content-Security-Policy": content_security_policy()}
        return HTMLResponse(body, headers=headers)


def dashboard_router(pages: DashboardPages) -> APIRouter:
    """The pages and their static files; all public (the data behind them is not)."""
    router = APIRouter(tags=["dashboard-pages"], include_in_schema=False)
    page: Callable[..., HTMLResponse] = pages.render

    @router.get(PATHS["overview"], response_model=None)
    async def overview() -> Response:
        return page("overview.html", title="Overview", active="overview")

    @router.get(PATHS["fields"], response_model=None)
    async def fields() -> Response:
        return page("fields.html", title="Field explorer", active="fields")

    @router.get(PATHS["clusters"], response_model=None)
    async def clusters() -> Response:
        return page("clusters.html", title="Clusters", active="clusters")

    @router.get(PATHS["clusters"] + "/{cluster_uuid}", response_model=None)
    async def cluster(
        cluster_uuid: Annotated[str, PathParam(min_length=1, max_length=200)],
    ) -> Response:
        return page("cluster.html", title="Cluster", active="clusters", clusterUuid=cluster_uuid)

    @router.get(STATIC_PREFIX + "/{name}", response_model=None)
    async def static_file(name: str, request: Request) -> Response:
        return pages.static.response(name, request)

    @router.get(VENDOR_PREFIX + "/{name}", response_model=None)
    async def vendor_file(name: str, request: Request) -> Response:
        return pages.vendor.response(name, request)

    return router
