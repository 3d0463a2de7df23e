"""The fast path of ``POST /v3/send/{channel}``: a plain ASGI middleware that answers the
reports of the served snapshot and opt-in channels without FastAPI's routing, dependency
solving and request objects (~0.4 ms of event-loop CPU a report, next to ~4 ms of crypto).

It sits inside FastAPI's middleware stack (so the ``Host`` check around the app, the server
error middleware and :class:`~telemetry_service.receiver.cors.IngestCors` still wrap it) and
runs the same pipeline as the documented route in :mod:`.ingest`: the same body reader, byte
budget, service, answer and error bodies. Everything else (other methods, unserved or
over-long channels, the event channels) goes on to FastAPI unchanged, and the route stays in
the OpenAPI document.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from ..cors import INGEST_PREFIX
from ..errors import Rejection
from ..http import rejection_response, store_error_response
from ..ingest import IngestService, channel_names
from ..storage import StoreError
from .ingest import MAX_CHANNEL_CHARS, answer, body_reader

__all__ = ["FastIngest"]

_JSON = (b"content-type", b"application/json")


class FastIngest:
    """ASGI middleware: answers ``POST /v3/send/{channel}`` for the channels `service`
    serves; passes every other request to `app`."""

    def __init__(self, app: ASGIApp, *, service: IngestService, retry_after: int) -> None:
        self.app = app
        self.service = service
        self.retry_after = retry_after
        names = channel_names(service.products)
        #: The paths answered here (a longer channel gets FastAPI's 400).
        self.paths = frozenset(INGEST_PREFIX + n for n in names if len(n) <= MAX_CHANNEL_CHARS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or scope["path"] not in self.paths
            or scope.get("root_path")
        ):
            await self.app(scope, receive, send)
            return
        headers: dict[str, str] = {}
        for key, value in scope["headers"]:  # the first of repeated headers, as Starlette's
            headers.setdefault(key.decode("latin-1"), value.decode("latin-1"))
        service = self.service
        try:
            with service.budget.lease() as charge:
                read = body_reader(receive, headers.get("content-length", ""), charge)
                outcome = await service.handle(scope["path"][len(INGEST_PREFIX) :], headers, read)
        except Rejection as exc:
            await rejection_response(exc)(scope, receive, send)
            return
        except StoreError as exc:
            await store_error_response(exc, retry_after=self.retry_after)(scope, receive, send)
            return
        body = answer(outcome)
        start = [(b"content-length", str(len(body)).encode()), _JSON]
        await send({"type": "http.response.start", "status": 200, "headers": start})
        await send({"type": "http.response.body", "body": body})
