"""``POST /v3/send/{channel}``: the telemetry endpoint (open, like Elastic's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path, Request
from starlette.responses import Response
from starlette.types import Receive

from telemetry_service.wire import CONTENT_ENCODING

from ..errors import Rejection
from ..ingest import BodyReader, IngestOutcome, IngestService
from .models import IngestAnswer, error_response

__all__ = ["MAX_CHANNEL_CHARS", "answer", "body_reader", "router"]

router = APIRouter(tags=["ingest"])
#: The longest channel name the route takes (a longer one is a 400).
MAX_CHANNEL_CHARS = 200


_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: error_response(
        "Malformed body, undecryptable, unknown kid, invalid payload, JSON too deep, "
        "missing header or a cluster id that does not match X-Elastic-Cluster-ID."
    ),
    404: error_response("The channel is not served (products lists the served ones)."),
    408: error_response("The body did not arrive within limits.bodyTimeoutSeconds."),
    413: error_response(
        "The body exceeds server.maxBodyBytes, or the JWE inflates past its limit."
    ),
    415: error_response(
        "Content-Encoding is not identity, or X-Elastic-Content-Encoding is not aes256gcm."
    ),
    429: error_response("Too many reports or report bytes in progress; see Retry-After."),
    503: error_response("The store is unavailable or busy; see Retry-After."),
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


def body_reader(receive: Receive, content_length: str, charge: Callable[[int], None]) -> BodyReader:
    """Reads an ASGI request's body as it arrives, `charge`-ing each chunk to the process's
    byte budget; `content_length` is the request's header ("" when absent)."""

    async def read(limit: int) -> bytes:
        if content_length.isdigit() and int(content_length) > limit:
            raise Rejection(413, "too_large", f"the body is larger than {limit} bytes")
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # http.disconnect
                raise Rejection(400, "malformed", "the client disconnected mid-body")
            chunk: bytes = message.get("body", b"")
            if chunk:
                size += len(chunk)
                if size > limit:
                    raise Rejection(413, "too_large", f"the body is larger than {limit} bytes")
                charge(len(chunk))
                chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    return read


def answer(outcome: IngestOutcome) -> bytes:
    """The JSON of a 200 (an :class:`IngestAnswer`, written without a response model)."""
    return orjson.dumps({"ok": True, "id": outcome.id, "duplicate": outcome.duplicate})


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
    channel: Annotated[str, Path(max_length=MAX_CHANNEL_CHARS)],
) -> Response:
    """Decrypt, validate and store the report; 200 once it is durably committed.

    The answer is written directly (it is an :class:`IngestAnswer`), without the validation of
    a response model.
    """
    length = request.headers.get("content-length", "")
    with service.budget.lease() as charge:
        read = body_reader(request.receive, length, charge)
        outcome = await service.handle(channel, request.headers, read)
    return Response(answer(outcome), media_type="application/json")
