"""The receiver's dashboard pages: an overview, events, a field explorer, the cluster list and
pages, and the sign-in page of one-time links.

The pages are public shells, like the host's: they hold the receiver's version, whether API
keys are configured, today's UTC date and (on a cluster page) the id from the URL, nothing
else. Their scripts read the data from the JSON routes with the API key that the user typed
into the page, or the session credential of a one-time sign-in link (``/signin``, see
:mod:`telemetry_service.receiver.signin`), kept in ``sessionStorage`` and sent as
``Authorization: ApiKey …``, so the data keeps the viewer role of those routes and deleting a
cluster keeps the admin role.

Scripts and the style are ES modules under ``/static/receiver/`` on the shared front end of
:mod:`telemetry_service.common.web`; Chart.js is its vendored, pinned copy under
``/static/vendor/``. Nothing is fetched from another origin.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import HTMLResponse

from telemetry_service.common.clock import Clock
from telemetry_service.common.web import (
    VENDOR_PREFIX,
    add_static_routes,
    content_security_policy,
    page_response,
    template_environment,
)

from ..api.params import CLUSTER_ID_PATH, ClusterId

__all__ = ["CHART_JS", "PATHS", "STATIC_PREFIX", "DashboardPages", "dashboard_router"]

STATIC_PREFIX = "/static/receiver"
#: The vendored Chart.js file the pages load (its sha256 is in the folder's SHA256SUMS).
CHART_JS = "chart-4.6.1.umd.min.js"

_HERE = Path(__file__).resolve().parent
TEMPLATES_DIR = _HERE / "templates"
STATIC_DIR = _HERE / "static"

#: Each page of the navigation: its path, its label in the navigation and its title.
_PAGES = {
    "overview": ("/", "Overview", "Overview"),
    "events": ("/app/events", "Events", "Events"),
    "fields": ("/app/fields", "Fields", "Field explorer"),
    "clusters": ("/app/clusters", "Clusters", "Clusters"),
}
PATHS = {name: path for name, (path, _, _) in _PAGES.items()}
_NAV = [(path, label, name) for name, (path, label, _) in _PAGES.items()]
#: Downloads are made from blobs.
_CSP = content_security_policy(img_src=["blob:"])


class DashboardPages:
    """Renders the page shells."""

    def __init__(self, *, version: str, auth_required: bool, clock: Clock) -> None:
        self._version = version
        self._auth_required = auth_required
        self._clock = clock
        self._env = template_environment(TEMPLATES_DIR)

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
        return page_response(
            self._env,
            template,
            _CSP,
            title=title,
            name="Telemetry receiver",
            active=active,
            config=self.page_config(**extra),
            nav=_NAV,
            paths=PATHS,
            static=STATIC_PREFIX,
            stylesheet=f"{STATIC_PREFIX}/dashboard.css",
            footer=f"telemetry-service receiver {self._version} · days are UTC",
            chart_js=f"{VENDOR_PREFIX}/{CHART_JS}",
            **extra,
        )


def dashboard_router(pages: DashboardPages) -> APIRouter:
    """The pages and their static files; all public (the data behind them is not)."""
    router = APIRouter(tags=["dashboard-pages"], include_in_schema=False)
    page = pages.render

    def shell(name: str, title: str) -> Callable[[], Awaitable[Response]]:
        async def route() -> Response:
            return page(f"{name}.html", title=title, active=name)

        return route

    for name, (path, _, title) in _PAGES.items():
        router.add_api_route(path, shell(name, title), response_model=None)

    @router.get(PATHS["clusters"] + "/" + CLUSTER_ID_PATH, response_model=None)
    async def cluster(cluster_uuid: ClusterId) -> Response:
        return page("cluster.html", title="Cluster", active="clusters", clusterUuid=cluster_uuid)

    @router.get("/signin", response_model=None)
    async def signin() -> Response:
        """Spends the link's token (in the URL's fragment) from the page's script."""
        return page("signin.html", title="Sign in", active="signin")

    add_static_routes(router, {STATIC_PREFIX: STATIC_DIR})
    return router
