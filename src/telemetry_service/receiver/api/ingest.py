"""``POST /v3/send/{channel}``: the telemetry endpoint (open, like Elastic's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path, Request
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from telemetry_service.wire import CONTENT_ENCODING

from ..errors import Rejection
from ..ingest import BodyReader, IngestService
from .models import ErrorBody, IngestAnswer

__all__ = ["router"]

router = APIRouter(tags=["ingest"])


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _error(
        "Malformed body, undecryptable, unknown kid, invalid payload, JSON too deep, "
        "missing header or a cluster id that does not match X-Elastic-Cluster-ID."
    ),
    404: _error("The channel is not served (products lists the served ones)."),
    408: _error("The body did not arrive within limits.bodyTimeoutSeconds."),
    413: _error("The body exceeds server.maxBodyBytes, or the JWE inflates past its limit."),
    415: _error(
        "Content-Encoding is not identity, or X-Elastic-Content-Encoding is not aes256gcm."
    ),
    429: _error("Too many reports or report bytes in progress; see Retry-After."),
    503: _error("The store is unavailable or busy; see Retry-After."),
}

_HEADERS = [
    ("X-Elastic-Cluster-ID", {"type": "string"}, "The cluster_uuid of the payload."),
    ("X-Elastic-Stack-Version", {"type": "string"}, "The sender's version."),
    (
        "X-Elastic-Content-Encoding",
        {"type": "string", "enum": [CONTENT_ENCODING]},
        "Always aes256gcm.",
    ),
]
_OPENAPI_EXTRA: dict[str, Any] = {
    "parameters": [
        {"name": name, "in": "header", "required": True, "schema": schema, "description": text}
        for name, schema, text in _HEADERS
    ],
    "requestBody": {
        "required": True,
        "description": "The packed encrypted string of @elastic/request-crypto (spec 4.2).",
        "content": {"application/json": {"schema": {"type": "string"}}},
    },
}


def _body_reader(request: Request, charge: Callable[[int], None]) -> BodyReader:
    """Reads the body as it arrives, `charge`-ing each chunk to the process's byte budget."""

    async def read(limit: int) -> bytes:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise Rejection(413, "too_large", f"the body is larger than {limit} bytes")
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise Rejection(413, "too_large", f"the body is larger than {limit} bytes")
                charge(len(chunk))
                chunks.append(chunk)
        except ClientDisconnect:
            raise Rejection(400, "malformed", "the client disconnected mid-body") from None
        return b"".join(chunks)

    return read


async def _service(request: Request) -> IngestService:
    """The ingest service (an async dependency: a sync one would cost a thread hop)."""
    service: IngestService = request.app.state.ingest
    return service


@router.post(
    "/v3/send/{channel}",
    response_model=IngestAnswer,
    responses=_RESPONSES,
    openapi_extra=_OPENAPI_EXTRA,
    summary="Receive one encrypted report (snapshot or opt-in status)",
)
async def send(
    request: Request,
    service: Annotated[IngestService, Depends(_service)],
    channel: Annotated[str, Path(max_length=200)],
) -> Response:
    """Decrypt, validate and store the report; 200 once it is durably committed.

    The answer is written directly (it is an :class:`IngestAnswer`), without the validation of
    a response model.
    """
    with service.budget.lease() as charge:
        outcome = await service.handle(channel, request.headers, _body_reader(request, charge))
    answer = {"ok": True, "id": outcome.id, "duplicate": outcome.duplicate}
    return Response(orjson.dumps(answer), media_type="application/json")
