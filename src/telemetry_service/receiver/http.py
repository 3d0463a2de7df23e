"""HTTP plumbing of the receiver: Kibana-style errors, exception handlers, role checks.

Every error answer is ``{"statusCode", "error", "message"}`` (plus ``"reason"``, a stable
code, on ingest refusals); 429 and 503 carry ``Retry-After``.
"""

from __future__ import annotations

import http
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import APIKeyHeader
from starlette.exceptions import HTTPException as StarletteHTTPException

from .auth import ANONYMOUS_ADMIN, ApiKeyRegistry, Principal, Role
from .errors import Rejection
from .storage import StoreBusyError, StoreError

__all__ = [
    "AuthDependency",
    "error_response",
    "install_error_handlers",
    "role_dependency",
]

log = logging.getLogger("telemetry_service.receiver.http")

#: How the OpenAPI document names the Authorization header.
API_KEY_HEADER = APIKeyHeader(
    name="Authorization",
    auto_error=False,
    description="`ApiKey <key>` (or `Bearer <key>`), a key listed in auth.apiKeys.",
)
AuthDependency = Callable[..., Awaitable[Principal]]


def error_response(
    status: int,
    message: str,
    *,
    reason: str | None = None,
    retry_after: int | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """Kibana's error body: ``{"statusCode", "error", "message"}`` (+ ``reason``)."""
    body: dict[str, Any] = {
        "statusCode": status,
        "error": http.HTTPStatus(status).phrase,
        "message": message,
    }
    if reason is not None:
        body["reason"] = reason
    headers = dict(headers or {})
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return JSONResponse(body, status, headers=headers)


def _describe(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors()[:3]:
        loc = [str(p) for p in error.get("loc", ())]
        parts.append(f"[{'.'.join(loc)}]: {error.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def install_error_handlers(app: FastAPI, *, retry_after: int) -> None:
    """Map every error to a Kibana-style body; store trouble to 503 with Retry-After."""

    async def rejection(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Rejection)
        return error_response(
            exc.status, exc.message, reason=exc.reason, retry_after=exc.retry_after
        )

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return error_response(exc.status_code, detail, headers=dict(exc.headers or {}))

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return error_response(400, _describe(exc))

    async def store_error(request: Request, exc: Exception) -> Response:
        busy = isinstance(exc, StoreBusyError)
        if not busy:
            log.warning("a query failed: %s", exc)
        message = "the store is busy" if busy else "the store is unavailable"
        return error_response(503, f"{message}; retry later", retry_after=retry_after)

    app.add_exception_handler(Rejection, rejection)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StoreError, store_error)


def role_dependency(keys: ApiKeyRegistry, role: Role) -> AuthDependency:
    """A FastAPI dependency that returns the caller, or answers 401 / 403."""
    from fastapi import Depends

    async def require(
        request: Request, authorization: str | None = Depends(API_KEY_HEADER)
    ) -> Principal:
        if not keys.configured:
            return ANONYMOUS_ADMIN
        principal = keys.authenticate(authorization)
        if principal is None:
            raise StarletteHTTPException(
                401,
                "Authentication required: send 'Authorization: ApiKey <key>'.",
                headers={"WWW-Authenticate": 'ApiKey realm="telemetry-receiver"'},
            )
        if not principal.has(role):
            raise StarletteHTTPException(
                403, f"API key [{principal.name}] needs the [{role}] role for this request."
            )
        request.state.principal = principal
        return principal

    return require
