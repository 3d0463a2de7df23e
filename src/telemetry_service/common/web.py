"""The web pages' shared layer: static folders, page headers, the Content-Security-Policy, the
Jinja environment, and the front end both servers' pages are built on.

Both the host's telemetry pages and the receiver's dashboard serve ``static/common`` (the shared
style and script module) under ``/static/common/`` and ``static/vendor`` (pinned third-party
files, checked against their ``SHA256SUMS``) under ``/static/vendor/``, beside their own folder.
Their templates extend ``templates/layout.html``: the top bar with the API key form, the page
config block, the footer and the toasts.

:class:`HostCheck` refuses requests whose ``Host`` header names another site: a page of
``attacker.example`` that re-binds its name to 127.0.0.1 (DNS rebinding) is same-origin with a
server on loopback and could otherwise use its key-less defaults.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import HTMLResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from .http_errors import error_response

__all__ = [
    "COMMON_DIR",
    "COMMON_PREFIX",
    "LAYOUT_DIR",
    "PAGE_HEADERS",
    "VENDOR_DIR",
    "VENDOR_PREFIX",
    "Asset",
    "HostCheck",
    "StaticFolder",
    "add_static_routes",
    "content_security_policy",
    "host_allowed",
    "page_response",
    "template_environment",
]

_HERE = Path(__file__).resolve().parent
COMMON_DIR = _HERE / "static" / "common"
VENDOR_DIR = _HERE / "static" / "vendor"
LAYOUT_DIR = _HERE / "templates"
COMMON_PREFIX = "/static/common"
VENDOR_PREFIX = "/static/vendor"

MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
#: The headers of every page (the static files carry their own).
PAGE_HEADERS = {
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
    """The files of one folder (not its subfolders), read once and served by exact name.

    Only known file types are served and a name is never joined to a path, so nothing outside
    the folder can be reached. Answers carry a content-hash ``ETag`` and ``no-cache``, so that
    browsers keep the files and revalidate them (a 304) on each page load. An unknown name is
    an ``HTTPException`` 404, which each server's error handler words in its error body.
    """

    def __init__(self, folder: Path) -> None:
        self.assets: dict[str, Asset] = {}
        if folder.is_dir():
            for path in sorted(folder.iterdir()):
                media_type = MEDIA_TYPES.get(path.suffix)
                if path.is_file() and media_type is not None:
                    body = path.read_bytes()
                    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
                    self.assets[path.name] = Asset(body, media_type, etag)

    async def serve(self, name: str, request: Request) -> Response:
        asset = self.assets.get(name)
        if asset is None:
            raise HTTPException(404, f"No static file [{name}].")
        headers = {
            "ETag": asset.etag,
            "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff",
        }
        if asset.etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        return Response(asset.body, media_type=asset.media_type, headers=headers)


def add_static_routes(router: APIRouter, folders: Mapping[str, Path], **route_options: Any) -> None:
    """Adds ``GET {prefix}/{name}`` for each of ``folders`` (URL prefix -> folder) and for the
    shared ``/static/common/`` and ``/static/vendor/``; ``route_options`` go to every route."""
    for prefix, folder in {**folders, COMMON_PREFIX: COMMON_DIR, VENDOR_PREFIX: VENDOR_DIR}.items():
        router.add_api_route(
            prefix + "/{name}",
            StaticFolder(folder).serve,
            methods=["GET"],
            response_model=None,
            **route_options,
        )


def content_security_policy(*, connect_src: Iterable[str] = (), img_src: Iterable[str] = ()) -> str:
    """Scripts, styles and requests to this server only, plus the extra ``connect-src`` and
    ``img-src`` sources given (``'self' data:`` are always allowed images)."""
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            " ".join(["img-src 'self' data:", *img_src]),
            " ".join(["connect-src 'self'", *connect_src]),
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def template_environment(folder: Path) -> jinja2.Environment:
    """The templates of ``folder``, then the shared ones; autoescaped, undefined names fail."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader([folder, LAYOUT_DIR]),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def page_response(env: jinja2.Environment, template: str, csp: str, **context: Any) -> HTMLResponse:
    """A page rendered with ``context`` (and ``common``, the shared static prefix), with
    :data:`PAGE_HEADERS` and the ``Content-Security-Policy`` ``csp``."""
    body = env.get_template(template).render(common=COMMON_PREFIX, **context)
    return HTMLResponse(body, headers={**PAGE_HEADERS, "Content-Security-Policy": csp})


def _host_name(header: str) -> str:
    """The name of a ``Host`` value, without its port, brackets or trailing dot, in lower case."""
    name = header.strip().lower()
    if name.startswith("["):
        name = name[1:].partition("]")[0]
    elif name.count(":") == 1:
        name = name.partition(":")[0]
    return name.rstrip(".")


def _is_loopback_name(name: str) -> bool:
    if name == "localhost" or name.endswith(".localhost"):  # RFC 6761: always loopback
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def host_allowed(header: str, *, bound: str, allowed: Iterable[str] = ()) -> bool:
    """Whether a server listening on `bound` answers a request for ``Host: header``.

    Loopback names (``localhost``, ``127.x.y.z``, ``[::1]``) and the `allowed` names always
    are. A server on a public address (which needs API keys) with no `allowed` names answers
    every name; with some, it answers those and its own address only.
    """
    name = _host_name(header)
    names = {_host_name(a) for a in allowed}
    if _is_loopback_name(name) or name in names:
        return True
    bound_name = _host_name(bound) if bound.startswith("[") else bound.strip("[]").lower()
    if _is_loopback_name(bound_name):
        return False
    return not names or name == bound_name


class HostCheck:
    """ASGI middleware: a request whose ``Host`` is not allowed (:func:`host_allowed`) gets a
    421 before any route or key check runs. A request without ``Host`` (HTTP/1.0) passes: a
    browser always sends one. The last few hundred ``Host`` values answered are remembered (a
    check parses the name, ~40 µs a request)."""

    def __init__(self, app: ASGIApp, *, bound: str, allowed: Iterable[str] = ()) -> None:
        self.app = app
        self.bound = bound
        self.allowed = tuple(allowed)
        self._checked = functools.lru_cache(maxsize=256)(self._check)

    def _check(self, header: bytes) -> bool:
        return host_allowed(header.decode("latin-1"), bound=self.bound, allowed=self.allowed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            host = next((v for k, v in scope["headers"] if k == b"host"), None)
            if host is not None and not self._checked(host):
                refusal = error_response(
                    421,
                    "this server does not answer for that Host name; list it in the server's "
                    "allowed hosts",
                    reason="host_not_allowed",
                )
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)
