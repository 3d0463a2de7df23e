"""``GET /public`` (a page) and ``GET /public/api/stats`` (JSON): the published statistics,
without an API key, answered from memory.

Both carry the published document's ``ETag`` (the page its own) and ``Cache-Control: public,
max-age=`` the seconds until the next refresh, and answer ``If-None-Match`` with 304. The page
is rendered once per published document: its headline numbers and tables are HTML (no
JavaScript needed); ``public.js`` draws the charts with the vendored Chart.js from the same
document, embedded in the page as a JSON data block. Before the first refresh both answer 503
with ``Retry-After``. With ``public.enabled: false`` this router is not mounted: every
``/public`` route is a 404.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from telemetry_service.common.http_errors import error_response
from telemetry_service.common.web import (
    COMMON_PREFIX,
    PAGE_HEADERS,
    VENDOR_PREFIX,
    content_security_policy,
    template_environment,
)

from ..web.pages import CHART_JS, PATHS, STATIC_PREFIX, TEMPLATES_DIR
from .service import PublicStats, Published

__all__ = ["PAGE_PATH", "STATS_PATH", "public_router"]

PAGE_PATH = "/public"
STATS_PATH = "/public/api/stats"
_RETRY_AFTER = 30
_CSP = content_security_policy()


def _fresh(request: Request, etag: str) -> bool:
    """Whether the request's ``If-None-Match`` holds `etag` (or ``*``)."""
    header = request.headers.get("if-none-match")
    if not header:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in tags or etag in tags


def public_router(stats: PublicStats, *, version: str) -> APIRouter:
    """The public routes over `stats` (mount only when ``public.enabled``)."""
    router = APIRouter(tags=["public"])
    env = template_environment(TEMPLATES_DIR)

    def render(published: Published | None) -> bytes:
        return (
            env.get_template("public.html")
            .render(
                common=COMMON_PREFIX,
                static=STATIC_PREFIX,
                chart_js=f"{VENDOR_PREFIX}/{CHART_JS}",
                dashboard=PATHS["overview"],
                stats_path=STATS_PATH,
                version=version,
                doc=published.document if published else None,
            )
            .encode()
        )

    def answer(
        request: Request, published: Published, etag: str, body: bytes, headers: dict[str, str]
    ) -> Response:
        headers = {
            **headers,
            "ETag": etag,
            "Cache-Control": f"public, max-age={stats.seconds_to_refresh()}",
        }
        if _fresh(request, etag):
            return Response(status_code=304, headers=headers)
        return Response(body, headers=headers)

    @router.get(STATS_PATH, response_model=None, responses={304: {}, 503: {}})
    async def public_stats(request: Request) -> Response:
        """The published statistics (no API key; see ``docs/receiver.md``)."""
        published = stats.published
        if published is None:
            return error_response(
                503, "the public statistics are being computed; retry later",
                retry_after=_RETRY_AFTER,
            )  # fmt: skip
        headers = {
            "Content-Type": "application/json",
            "Access-Control-Allow-Origin": "*",
            "X-Content-Type-Options": "nosniff",
        }
        return answer(request, published, published.etag, published.body, headers)

    @router.get(PAGE_PATH, response_model=None, include_in_schema=False)
    async def public_page(request: Request) -> Response:
        published = stats.published
        page_headers: dict[str, Any] = {**PAGE_HEADERS, "Content-Security-Policy": _CSP}
        if published is None:
            headers = {**page_headers, "Retry-After": str(_RETRY_AFTER)}
            return HTMLResponse(render(None), 503, headers=headers)
        body = published.rendered.get("page")
        if body is None:
            body = published.rendered["page"] = render(published)
        headers = {**page_headers, "Content-Type": "text/html; charset=utf-8"}
        return answer(request, published, published.etag[:-1] + '-page"', body, headers)

    return router
