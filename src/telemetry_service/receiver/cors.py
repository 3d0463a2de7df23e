"""CORS for the ingest routes only: browsers send reports too (Kibana's browser sender).

A preflight ``OPTIONS /v3/send/{channel}`` is answered 204 with the methods and the headers
the senders use (the four of a report, an event batch's license and batch ids); every answer
of an ingest route carries ``Access-Control-Allow-Origin: *`` (ingest is open and uses no
cookies). The query and admin APIs get no CORS headers.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from telemetry_service.wire.protocol import (
    HEADER_BATCH_ID,
    SEND_PATH,
    event_headers,
    report_headers,
)

__all__ = ["ALLOW_ANY_ORIGIN", "INGEST_PREFIX", "IngestCors", "with_any_origin"]

INGEST_PREFIX = "/" + SEND_PATH


def _allow_headers() -> bytes:
    """The names of the headers the senders use: a report's, then those only an event
    batch has (names compare in any case)."""
    names: dict[str, str] = {}
    for name in [*report_headers("", ""), *event_headers("", "", "x"), HEADER_BATCH_ID]:
        names.setdefault(name.lower(), name)
    return ", ".join(names.values()).encode()


_ALLOW_HEADERS = _allow_headers()
#: The header every answer of an ingest route carries.
ALLOW_ANY_ORIGIN = (b"access-control-allow-origin", b"*")
_PREFLIGHT = [
    ALLOW_ANY_ORIGIN,
    (b"access-control-allow-methods", b"POST, OPTIONS"),
    (b"access-control-allow-headers", _ALLOW_HEADERS),
    (b"access-control-max-age", b"86400"),
    (b"content-length", b"0"),
]


class IngestCors:
    """ASGI middleware adding CORS to ``/v3/send/…``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(INGEST_PREFIX):
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS":
            await send({"type": "http.response.start", "status": 204, "headers": _PREFLIGHT})
            await send({"type": "http.response.body", "body": b""})
            return
        await self.app(scope, receive, with_any_origin(send))


def with_any_origin(send: Send) -> Send:
    """`send`, adding :data:`ALLOW_ANY_ORIGIN` to the answer's headers."""

    async def send_with_origin(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            headers.append(ALLOW_ANY_ORIGIN)
            message = {**message, "headers": headers}
        await send(message)

    return send_with_origin
