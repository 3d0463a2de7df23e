"""The fast path of ``POST /v3/send/{channel}``: a plain ASGI app in front of FastAPI's whole
middleware stack that answers the reports of the served snapshot and opt-in channels without
FastAPI's routing, dependency solving and request objects, and without the middleware every
other request passes (FastAPI's server-error, exception-telemetry and body-limit layers, the
ingest CORS, their send wrappers): ~0.4 ms of event-loop CPU a report before, next to ~8 ms
of crypto.

It sits inside the ``Host`` check (which wraps the whole app) and answers as the documented
route in :mod:`.ingest` does, through the middleware it skips: the same body reader, byte
budget, service, answer and error bodies, the ``Access-Control-Allow-Origin: *`` of
:class:`~telemetry_service.receiver.cors.IngestCors`, and, for an unexpected error, the
server-error middleware's plain 500 (without that header: that middleware is outside the
CORS one); then the error goes on to uvicorn, which logs it.
Everything else (other methods, unserved or over-long channels, the event channels) goes on
to FastAPI unchanged, and the route stays in the OpenAPI document.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from ..cors import ALLOW_ANY_ORIGIN, INGEST_PREFIX, with_any_origin
from ..errors import Rejection
from ..http import rejection_response, store_error_response
from ..ingest import IngestService, channel_names
from ..storage import StoreError
from .ingest import MAX_CHANNEL_CHARS, answer, body_reader

__all__ = ["FastIngest", "FastIngestApp"]

_JSON = (b"content-type", b"application/json")


class FastIngestApp(FastAPI):
    """FastAPI with :attr:`fast_ingest` in front of its whole middleware stack."""

    #: Wraps the middleware stack when it is built (None: FastAPI answers every request).
    fast_ingest: Callable[[ASGIApp], ASGIApp] | None = None

    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        return stack if self.fast_ingest is None else self.fast_ingest(stack)


class FastIngest:
    """ASGI app: answers ``POST /v3/send/{channel}`` for the channels `service` serves;
    passes every other request to `app`."""

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
            await rejection_response(exc)(scope, receive, with_any_origin(send))
            return
        except StoreError as exc:
            error = store_error_response(exc, retry_after=self.retry_after)
            await error(scope, receive, with_any_origin(send))
            return
        except Exception:
            server_error = PlainTextResponse("Internal Server Error", status_code=500)
            await server_error(scope, receive, send)  # outside IngestCors: no CORS header
            raise
        body = answer(outcome)
        start = [(b"content-length", str(len(body)).encode()), _JSON, ALLOW_ANY_ORIGIN]
        await send({"type": "http.response.start", "status": 200, "headers": start})
        await send({"type": "http.response.body", "body": body})
