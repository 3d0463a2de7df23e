"""``POST /v3/send/{product}-server`` and ``…-browser``: event batches (NDJSON, open like
Elastic's endpoint; CORS comes from :mod:`..cors`)."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse, Response
from starlette.requests import ClientDisconnect

from telemetry_service.wire.protocol import (
    HEADER_BATCH_ID,
    HEADER_CLUSTER_ID,
    HEADER_LICENSE_ID,
    HEADER_STACK_VERSION,
    NDJSON_CONTENT_TYPE,
    UNKNOWN_CLUSTER,
)

from ..errors import Rejection
from ..events import EventIngest, EventOutcome
from .event_models import EventsAnswer
from .models import error_response

__all__ = ["router"]

router = APIRouter(tags=["ingest"])


_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: error_response(
        "No line is a valid event (`no_valid_events`, the message counts them by reason), "
        "an empty body, a missing or bad header."
    ),
    404: error_response("The product is not served (products lists the served ones)."),
    408: error_response("The body did not arrive within limits.bodyTimeoutSeconds."),
    413: error_response(
        "The body exceeds limits.maxEventBodyBytes, a line limits.maxEventLineBytes, or "
        "the lines limits.maxEventLines."
    ),
    415: error_response(
        "Content-Type is not application/x-ndjson, or Content-Encoding not identity."
    ),
    429: error_response("Too many batches or body bytes in progress; see Retry-After."),
    503: error_response("The store is unavailable or busy; see Retry-After."),
}
_HEADERS = [
    (HEADER_CLUSTER_ID, True, f"The sender's cluster_uuid, or {UNKNOWN_CLUSTER}."),
    (HEADER_STACK_VERSION, True, "The sender's version."),
    (HEADER_LICENSE_ID, False, "The license id, when known."),
    (HEADER_BATCH_ID, False, "The batch's id, the same on every retry: stored once."),
]
_OPENAPI_EXTRA: dict[str, Any] = {
    "parameters": [
        {"name": name, "in": "header", "required": required, "schema": {"type": "string"},
         "description": text}
        for name, required, text in _HEADERS
    ],
    "requestBody": {
        "required": True,
        "description": "One JSON event per line: {timestamp, event_type, context, properties}.",
        "content": {NDJSON_CONTENT_TYPE: {"schema": {"type": "string"}}},
    },
}  # fmt: skip
Product = Annotated[str, Path(max_length=100)]


async def _chunks(request: Request) -> Any:
    try:
        async for chunk in request.stream():
            yield chunk
    except ClientDisconnect:
        raise Rejection(400, "malformed", "the client disconnected mid-body") from None


def _answer(outcome: EventOutcome) -> Response:
    """The answer, written directly (as ``EventsAnswer`` documents it)."""
    parsed = outcome.parsed
    answer = {
        "ok": True,
        "accepted": outcome.accepted,
        "rejected": parsed.rejected.total(),
        "reasons": dict(sorted(parsed.rejected.items())),
        "errors": [{"line": line, "reason": reason} for line, reason in parsed.errors],
        "duplicate": outcome.duplicate,
        "batch_id": outcome.batch_id,
    }
    return Response(orjson.dumps(answer), media_type="application/json")


def _route(kind: str) -> None:
    @router.post(
        f"/v3/send/{{product}}-{kind}",
        response_model=EventsAnswer,
        response_class=JSONResponse,
        responses=_RESPONSES,
        openapi_extra=_OPENAPI_EXTRA,
        summary=f"Receive a batch of {kind} events (NDJSON, Kibana's elastic_v3_{kind} shipper)",
        name=f"send_{kind}_events",
    )
    async def send_events(request: Request, product: Product) -> Response:
        """Check each line; store the valid events once committed; answer the counts."""
        # Not a dependency: FastAPI runs a plain function dependency in a worker thread.
        service: EventIngest = request.app.state.event_ingest
        channel = f"{product}-{kind}"
        with service.budget.lease() as charge:
            outcome = await service.handle(channel, request.headers, _chunks(request), charge)
        return _answer(outcome)


_route("server")
_route("browser")
