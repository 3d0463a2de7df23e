"""uvicorn's HTTP/1.1 protocols with the connection guards of :mod:`.serving`.

uvicorn gives a client for ever to send a request's line and headers: both protocols here (h11,
pure Python; httptools, llhttp in C) close a connection that has not sent them all within the
config's ``header_timeout_s``, counted from the connection or from the first byte of a request
on a kept-alive connection. h11 caps them at 16 KiB while they are incomplete (a header block
that arrives whole in one read, up to asyncio's read size of 256 KiB, passes); llhttp has no
cap, so the httptools protocol adds the same one (:data:`MAX_HEADER_BYTES`), counted over the
reads of an incomplete request. Module-level classes: ``--workers`` pickles the config.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = [
    "HEADER_TIMEOUT_S",
    "MAX_HEADER_BYTES",
    "GuardedConfig",
    "HeaderDeadlineProtocol",
    "HttpToolsDeadlineProtocol",
]

#: Seconds a client has to send a request's line and headers.
HEADER_TIMEOUT_S = 10.0
#: Bytes of a request's line and headers (h11's limit; beyond, 400 and the connection closes).
MAX_HEADER_BYTES = 16 * 1024


class GuardedConfig(uvicorn.Config):
    """uvicorn's config plus the header deadline that :class:`HeaderDeadlineProtocol` reads."""

    header_timeout_s: float = HEADER_TIMEOUT_S


class _HeaderDeadline:
    """The header deadline's timer, armed from the connection (a mixin before uvicorn's
    protocol class, whose ``loop`` and ``transport`` it uses)."""

    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    _header_timer: asyncio.TimerHandle | None = None

    def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
        cast(Any, super()).__init__(config, *args, **kwargs)
        self._header_timeout_s = float(getattr(config, "header_timeout_s", HEADER_TIMEOUT_S))

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        cast(Any, super()).connection_made(cast(asyncio.Transport, transport))
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        cast(Any, super()).connection_lost(exc)

    def _arm(self) -> None:
        self._header_timer = self.loop.call_later(self._header_timeout_s, self._expire)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _expire(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.close()


class HeaderDeadlineProtocol(_HeaderDeadline, H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request's line and headers (the
    config's ``header_timeout_s``): counted from the connection, or from the first byte of a
    request on a kept-alive connection; a client that has not sent them all by then is
    disconnected. A module-level class: ``--workers`` pickles the config."""

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is h11.IDLE:  # still waiting for the headers
            if self._header_timer is None:
                self._arm()
        else:
            self._disarm()


class HttpToolsDeadlineProtocol(_HeaderDeadline, HttpToolsProtocol):
    """uvicorn's httptools protocol with :class:`HeaderDeadlineProtocol`'s header deadline,
    and h11's cap on a request's line and headers while they are incomplete
    (:data:`MAX_HEADER_BYTES`; llhttp has none): a client past it gets a 400 and its
    connection is closed."""

    #: Bytes received while a request's line and headers are incomplete; -1 during a body.
    _header_bytes = 0

    def data_received(self, data: bytes) -> None:
        if self._header_bytes >= 0:
            self._header_bytes += len(data)
        super().data_received(data)
        if self._header_bytes > MAX_HEADER_BYTES and not self.transport.is_closing():
            self.send_400_response("Request line and headers too large.")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._header_timer is None:  # the first byte of a request on a kept-alive connection
            self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        self._header_bytes = -1
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._header_bytes = 0
        super().on_message_complete()
