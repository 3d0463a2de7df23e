"""The platform's ASGI application: plugin routers, Kibana-style errors, auth and the XSRF guard.

Every route may declare its access and body limit with :func:`route_options`::

    router.get("/api/thing", openapi_extra=route_options(access="public"))

Access defaults to ``viewer`` for GET/HEAD and ``admin`` for other methods. When no API key is
configured every caller is an administrator (the server then refuses non-loopback addresses).
Every POST, PUT, PATCH and DELETE needs the ``kbn-xsrf`` header, as in Kibana.
"""

from __future__ import annotations

import http
import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Literal

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from .auth import ANONYMOUS_ADMIN, ApiKeyRegistry, Principal

__all__ = [
    "HttpService",
    "get_principal",
    "kibana_error",
    "route_options",
]

Access = Literal["public", "viewer", "admin"]
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
XSRF_HEADER = "kbn-xsrf"
XSRF_MESSAGE = "Request must contain a kbn-xsrf header."


def route_options(
    *, access: Access | None = None, max_body_bytes: int | None = None, xsrf: bool = True
) -> dict[str, Any]:
    """Per-route options read by the platform's guard (passed as ``openapi_extra``)."""
    options: dict[str, Any] = {}
    if access is not None:
        options["x-access"] = access
    if max_body_bytes is not None:
        options["x-max-body-bytes"] = max_body_bytes
    if not xsrf:
        options["x-xsrf"] = False
    return options


def kibana_error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """Kibana's error body: ``{"statusCode", "error", "message"}``."""
    phrase = http.HTTPStatus(status).phrase
    return JSONResponse(
        {"statusCode": status, "error": phrase, "message": message}, status, headers=headers
    )


def get_principal(request: Request) -> Principal:
    """The authenticated caller (a FastAPI dependency)."""
    principal: Principal = request.state.principal
    return principal


def _describe_validation(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors()[:3]:
        loc = [str(p) for p in error.get("loc", ())]
        where = ".".join(["request body", *loc[1:]] if loc[:1] == ["body"] else loc)
        parts.append(f"[{where}]: {error.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


class _Guard:
    """ASGI middleware: XSRF header, body size limit, authentication and role check."""

    def __init__(self, app: ASGIApp, service: HttpService) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        options = self._route_options(scope)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}

        if method in _WRITE_METHODS and options.get("x-xsrf", True) and XSRF_HEADER not in headers:
            await kibana_error(400, XSRF_MESSAGE)(scope, receive, send)
            return

        access: Access = options.get("x-access") or (
            "viewer" if method in ("GET", "HEAD", "OPTIONS") else "admin"
        )
        principal = self._authenticate(headers)
        if access != "public" and self.service.keys.configured:
            if principal is None:
                await kibana_error(
                    401,
                    "Authentication required: send 'Authorization: ApiKey <key>'.",
                    {"WWW-Authenticate": 'ApiKey realm="telemetry-service"'},
                )(scope, receive, send)
                return
            if not principal.has(access):
                await kibana_error(
                    403, f"API key [{principal.name}] needs the [{access}] role for this request."
                )(scope, receive, send)
                return
        scope.setdefault("state", {})["principal"] = principal or (
            ANONYMOUS_ADMIN if not self.service.keys.configured else None
        )

        limit = int(options.get("x-max-body-bytes") or self.service.max_body_bytes)
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await kibana_error(
                413, f"Payload content length greater than maximum allowed: {limit}"
            )(scope, receive, send)
            return
        if method in _WRITE_METHODS:
            body, too_large = await self._read_body(receive, limit)
            if too_large:
                await kibana_error(
                    413, f"Payload content length greater than maximum allowed: {limit}"
                )(scope, receive, send)
                return
            receive = _replay(body)
        await self.app(scope, receive, send)

    def _route_options(self, scope: Scope) -> dict[str, Any]:
        path, method = scope["path"], scope["method"]
        for pattern, methods, options in self.service.route_table:
            if pattern.match(path) and (not methods or method in methods):
                return options
        return {}

    def _authenticate(self, headers: dict[str, str]) -> Principal | None:
        value = headers.get("authorization", "")
        scheme, _, credential = value.partition(" ")
        if scheme.lower() not in ("apikey", "bearer") or not credential.strip():
            return None
        return self.service.keys.authenticate(credential.strip())

    @staticmethod
    async def _read_body(receive: Receive, limit: int) -> tuple[bytes, bool]:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return b"", True
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks), False


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


class HttpService:
    """Owns the FastAPI app; plugins register routers during setup."""

    def __init__(
        self, *, keys: ApiKeyRegistry, max_body_bytes: int, title: str, version: str
    ) -> None:
        self.keys = keys
        self.max_body_bytes = max_body_bytes
        self.app = FastAPI(title=title, version=version, docs_url=None, redoc_url=None)
        self.app.add_middleware(_Guard, service=self)
        self.app.add_exception_handler(StarletteHTTPException, self._http_error)  # type: ignore[arg-type]
        self.app.add_exception_handler(RequestValidationError, self._validation_error)  # type: ignore[arg-type]
        self.server_url: str | None = None
        #: (path regex, methods, options) of every registered route, for the guard.
        self.route_table: list[tuple[re.Pattern[str], frozenset[str], dict[str, Any]]] = []

    @staticmethod
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        return kibana_error(exc.status_code, detail, dict(exc.headers or {}))

    @staticmethod
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return kibana_error(400, _describe_validation(exc))

    def create_router(self, prefix: str = "", **kwargs: Any) -> APIRouter:
        return APIRouter(prefix=prefix, **kwargs)

    def register_router(self, router: APIRouter) -> None:
        """Serve the router's routes; declare them all before registering."""
        for route in router.routes:
            if isinstance(route, APIRoute):
                extra = route.openapi_extra if isinstance(route.openapi_extra, dict) else {}
                self.route_table.append(
                    (route.path_regex, frozenset(route.methods or ()), dict(extra))
                )
        self.app.include_router(router)
