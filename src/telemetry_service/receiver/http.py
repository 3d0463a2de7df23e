"""HTTP plumbing of the receiver: Kibana-style errors, exception handlers, role checks.

Every error answer is ``{"statusCode", "error", "message"}`` (plus ``"reason"``, a stable
code, on ingest refusals); 429 and 503 carry ``Retry-After``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.security import APIKeyHeader
from starlette.exceptions import HTTPException as StarletteHTTPException

from telemetry_service.common.apikeys import AccessDenied, ApiKeyRegistry, Principal, Role
from telemetry_service.common.http_errors import describe_validation_error, error_response

from .errors import Rejection
from .storage import StoreBusyError, StoreError

__all__ = [
    "AuthDependency",
    "install_error_handlers",
    "rejection_response",
    "require_role",
    "store_error_response",
]

log = logging.getLogger("telemetry_service.receiver.http")

#: How the OpenAPI document names the Authorization header.
API_KEY_HEADER = APIKeyHeader(
    name="Authorization",
    auto_error=False,
    description="`ApiKey <key>` (or `Bearer <key>`), a key listed in auth.apiKeys.",
)
AuthDependency = Callable[..., Awaitable[Principal]]


def rejection_response(exc: Rejection) -> Response:
    """The answer to an ingest refusal; a body that did not arrive in time (408) also closes
    the connection, whatever else comes."""
    close = {"Connection": "close"} if exc.status == 408 else None
    return error_response(
        exc.status, exc.message, reason=exc.reason, retry_after=exc.retry_after, headers=close
    )


def store_error_response(exc: StoreError, *, retry_after: int) -> Response:
    """503 with Retry-After: the store is busy or unavailable (the latter is logged)."""
    busy = isinstance(exc, StoreBusyError)
    if not busy:
        log.warning("a query failed: %s", exc)
    message = "the store is busy" if busy else "the store is unavailable"
    return error_response(503, f"{message}; retry later", retry_after=retry_after)


def install_error_handlers(app: FastAPI, *, retry_after: int) -> None:
    """Map every error to a Kibana-style body; store trouble to 503 with Retry-After."""

    async def rejection(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Rejection)
        return rejection_response(exc)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return error_response(exc.status_code, detail, headers=dict(exc.headers or {}))

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return error_response(400, describe_validation_error(exc))

    async def store_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StoreError)
        return store_error_response(exc, retry_after=retry_after)

    app.add_exception_handler(Rejection, rejection)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StoreError, store_error)


def require_role(role: Role) -> AuthDependency:
    """A FastAPI dependency that returns the caller, or answers 401 / 403 (the keys are
    ``app.state.keys``)."""

    async def require(
        request: Request, authorization: str | None = Depends(API_KEY_HEADER)
    ) -> Principal:
        keys: ApiKeyRegistry = request.app.state.keys
        try:
            principal = keys.authorize(authorization, role)
        except AccessDenied as exc:
            headers = exc.headers("telemetry-receiver")
            raise StarletteHTTPException(exc.status, exc.message, headers=headers) from None
        return principal

    return require
