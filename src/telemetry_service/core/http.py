"""The platform's ASGI application: plugin routers, Kibana-style errors, auth and the XSRF guard.

Every route may declare its access and body limit with :func:`route_options`::

    router.get("/api/thing", openapi_extra=route_options(access="public"))

Access defaults to ``viewer`` for GET/HEAD and ``admin`` for other methods. When no API key is
configured every caller is an administrator (the server then refuses non-loopback addresses).
Every POST, PUT, PATCH and DELETE needs the ``kbn-xsrf`` header, as in Kibana. A
:class:`~telemetry_service.core.store.StoreError` raised by any route answers 503.

When the server stops, :meth:`HttpService.stop_requests` gives the requests in progress a short
grace, then cancels the rest (a send held by a slow endpoint, say); they answer 503 and end
cleanly, without the ``CancelledError`` traceback of a request cancelled by the server.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any, Literal

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from telemetry_service.common.apikeys import (
    ANONYMOUS_ADMIN,
    AccessDenied,
    ApiKeyRegistry,
    Principal,
)
from telemetry_service.common.db.base import StoreError
from telemetry_service.common.http_errors import describe_validation_error
from telemetry_service.common.http_errors import error_response as kibana_error

__all__ = [
    "HttpService",
    "get_principal",
    "kibana_error",
    "route_options",
]

Access = Literal["public", "viewer", "admin"]

_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
XSRF_HEADER = "kbn-xsrf"
XSRF_MESSAGE = "Request must contain a kbn-xsrf header."
REALM = "telemetry-service"
#: Kibana's answer when the saved-object store fails (any route; a ``StoreError`` is a 503).
STORE_UNAVAILABLE = (
    "Can't fetch telemetry at the moment because some services are down. "
    "Check the /status page for more details."
)
STOPPING = "The server is stopping."
#: Seconds the requests in progress get to finish once the server stops (less than the grace
#: of :mod:`telemetry_service.common.serving`, after which the server cancels them itself).
REQUEST_GRACE_S = 1.0


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


def get_principal(request: Request) -> Principal:
    """The authenticated caller (a FastAPI dependency)."""
    principal: Principal = request.state.principal
    return principal


class _Guard:
    """ASGI middleware: XSRF header, body size limit, authentication and role check."""

    def __init__(self, app: ASGIApp, service: HttpService) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        task = asyncio.current_task()
        assert task is not None
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        self.service.requests.add(task)
        try:
            admitted = await self._admit(scope, receive)
            if isinstance(admitted, Response):
                await admitted(scope, receive, tracked)
            else:
                await self.app(scope, admitted, tracked)
        except asyncio.CancelledError:
            if not self.service.stopping:
                raise
            task.uncancel()  # cancelled by the stopping server: answer and end cleanly
            if not started:
                await kibana_error(503, STOPPING)(scope, receive, send)
        finally:
            self.service.requests.discard(task)

    async def _admit(self, scope: Scope, receive: Receive) -> Response | Receive:
        """The refusal to send, or the ``receive`` to pass on (the body read and checked)."""
        method = scope["method"]
        options = self._route_options(scope)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if method in _WRITE_METHODS and options.get("x-xsrf", True) and XSRF_HEADER not in headers:
            return kibana_error(400, XSRF_MESSAGE)

        access: Access = options.get("x-access") or (
            "viewer" if method in ("GET", "HEAD", "OPTIONS") else "admin"
        )
        keys, authorization = self.service.keys, headers.get("authorization")
        principal: Principal | None = ANONYMOUS_ADMIN
        if access == "public":
            if keys.configured:  # a public route still knows a caller who sent a key
                principal = keys.authenticate(authorization)
        else:
            try:
                principal = keys.authorize(authorization, access)
            except AccessDenied as exc:
                return kibana_error(exc.status, exc.message, headers=exc.headers(REALM))
        scope.setdefault("state", {})["principal"] = principal

        limit = int(options.get("x-max-body-bytes") or self.service.max_body_bytes)
        too_large = f"Payload content length greater than maximum allowed: {limit}"
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return kibana_error(413, too_large)
        if method not in _WRITE_METHODS:
            return receive
        body = await self._read_body(receive, limit)
        return kibana_error(413, too_large) if body is None else _replay(body)

    def _route_options(self, scope: Scope) -> dict[str, Any]:
        path, method = scope["path"], scope["method"]
        for pattern, methods, options in self.service.route_table:
            if pattern.match(path) and (not methods or method in methods):
                return options
        return {}

    @staticmethod
    async def _read_body(receive: Receive, limit: int) -> bytes | None:
        """The whole body, or None once it grows past ``limit``."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


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
        self.app.add_exception_handler(StarletteHTTPException, self._http_error)
        self.app.add_exception_handler(RequestValidationError, self._validation_error)
        self.app.add_exception_handler(StoreError, self._store_error)
        self.server_url: str | None = None
        #: (path regex, methods, options) of every registered route, for the guard.
        self.route_table: list[tuple[re.Pattern[str], frozenset[str], dict[str, Any]]] = []
        #: Requests in progress, and whether the server is stopping (:meth:`stop_requests`).
        self.requests: set[asyncio.Task[Any]] = set()
        self.stopping = False

    async def stop_requests(self, grace_s: float = REQUEST_GRACE_S) -> None:
        """The server is stopping: wait up to ``grace_s`` for the requests in progress, then
        cancel the others (they answer 503) and wait up to ``grace_s`` for them to end."""
        self.stopping = True
        pending = {task for task in self.requests if not task.done()}
        if pending:
            _, pending = await asyncio.wait(pending, timeout=grace_s)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=grace_s)

    @staticmethod
    async def _http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        return kibana_error(exc.status_code, detail, headers=dict(exc.headers or {}))

    @staticmethod
    async def _validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return kibana_error(400, describe_validation_error(exc))

    @staticmethod
    async def _store_error(request: Request, exc: Exception) -> Response:
        return kibana_error(503, STORE_UNAVAILABLE)

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
