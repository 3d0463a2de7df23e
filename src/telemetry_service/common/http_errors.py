"""Kibana's error body, ``{"statusCode", "error", "message"}``, as both servers answer it."""

from __future__ import annotations

import http
from typing import Any

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

__all__ = ["describe_validation_error", "error_response"]


def error_response(
    status: int,
    message: str,
    *,
    reason: str | None = None,
    retry_after: int | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """The error body, plus ``reason`` (a stable code) and ``Retry-After`` when given."""
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


def describe_validation_error(exc: RequestValidationError) -> str:
    """The first three problems of a request, each naming its place: ``[request body.x]: …``."""
    parts = []
    for error in exc.errors()[:3]:
        loc = [str(p) for p in error.get("loc", ())]
        where = ".".join(["request body", *loc[1:]] if loc[:1] == ["body"] else loc)
        parts.append(f"[{where}]: {error.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"
