"""Fakes for tests of telemetry-service and of the applications built on it.

Everything that reads time or sleeps takes the clock and the sleep as arguments, so tests
control time without patching::

    from telemetry_service.testing import CaptureServer, FakeClock, FakeSleep

    clock = FakeClock()                      # 2026-03-15T12:00:00Z until told otherwise
    sleep = FakeSleep(clock)                 # returns at once, moves the clock by each wait
    service = UsageCountersService(store, clock=clock, sleep=sleep)
    clock.advance(days=1)                    # or clock.set(epoch_ms), clock.ms
    ...
    assert sleep.delays[:1] == [5.0]         # every wait asked for, in order

    with CaptureServer() as capture:         # a real HTTP server on 127.0.0.1
        capture.replies.append(Reply(503))   # the first request gets a 503, then 200 ``{}``
        ...                                  # point a telemetry endpoint at ``capture.url``
        assert capture.posts("-snapshot")[0].headers["x-elastic-stack-version"]

This module imports only ``telemetry_service.common`` and the standard library; see
docs/testing.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import threading
import time
import urllib.parse
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from telemetry_service.common.clock import from_ms, to_ms

__all__ = ["CaptureServer", "Captured", "FakeClock", "FakeSleep", "Reply"]

_START = dt.datetime(2026, 3, 15, 12, 0, tzinfo=dt.UTC)


class FakeClock:
    """A clock that moves only when told: call it for an aware UTC datetime.

    ``tick`` seconds are added after every reading (for code that times itself);
    :meth:`monotonic` reads the same time as float seconds, for a ``time.monotonic`` argument.
    """

    def __init__(self, start: dt.datetime | int = _START, *, tick: float = 0.0) -> None:
        self.now = _as_datetime(start)
        self.tick = tick

    def __call__(self) -> dt.datetime:
        value = self.now
        self.now += dt.timedelta(seconds=self.tick)
        return value

    def monotonic(self) -> float:
        return to_ms(self()) / 1000

    @property
    def ms(self) -> int:
        """The current time in epoch milliseconds."""
        return to_ms(self.now)

    def advance(
        self,
        seconds: float = 0.0,
        *,
        ms: int = 0,
        minutes: float = 0.0,
        hours: float = 0.0,
        days: float = 0.0,
    ) -> None:
        self.now += dt.timedelta(
            seconds=seconds, milliseconds=ms, minutes=minutes, hours=hours, days=days
        )

    def set(self, when: dt.datetime | int) -> None:
        """Jump to an aware datetime or to epoch milliseconds (backwards too)."""
        self.now = _as_datetime(when)


def _as_datetime(when: dt.datetime | int) -> dt.datetime:
    if isinstance(when, int):
        return from_ms(when)
    if when.tzinfo is None:
        raise ValueError("FakeClock needs an aware datetime")
    return when.astimezone(dt.UTC)


class FakeSleep:
    """An ``asyncio.sleep`` that returns at once: records each wait in ``delays``, yields to the
    event loop once, and advances ``clock`` (when given) by the wait."""

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.delays: list[float] = []
        self.clock = clock

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        if self.clock is not None:
            self.clock.advance(seconds)
        await asyncio.sleep(0)


@dataclass(frozen=True)
class Captured:
    """One request the capture server received; header names are lower case."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Reply:
    """What the capture server answers; ``delay_s`` holds the answer back (a slow endpoint)."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"{}"
    delay_s: float = 0.0


class CaptureServer:
    """A real HTTP server on loopback that records every request in ``requests``.

    It answers with ``replies`` in order, then with ``default``; subclasses may override
    :meth:`reply_to`. Use it as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(self) -> None:
        self.requests: list[Captured] = []
        self.replies: deque[Reply] = deque()
        self.default = Reply()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def posts(self, path_suffix: str = "") -> list[Captured]:
        """The POST requests whose path ends with ``path_suffix``, in arrival order."""
        return self.received("POST", path_suffix)

    def received(self, method: str, path_suffix: str = "") -> list[Captured]:
        with self._lock:
            return [r for r in self.requests if r.method == method and r.path.endswith(path_suffix)]

    def reply_to(self, request: Captured) -> Reply:
        """The answer to a request (already recorded): the next queued reply or the default."""
        with self._lock:
            return self.replies.popleft() if self.replies else self.default

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("content-length") or 0)
        body = handler.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in handler.headers.items()}
        path = urllib.parse.urlsplit(handler.path).path
        request = Captured(handler.command, path, headers, body)
        with self._lock:
            self.requests.append(request)
        reply = self.reply_to(request)
        if reply.delay_s:
            time.sleep(reply.delay_s)
        handler.send_response(reply.status)
        for name, value in {"content-type": "application/json", **reply.headers}.items():
            handler.send_header(name, value)
        handler.send_header("content-length", str(len(reply.body)))
        handler.end_headers()
        handler.wfile.write(reply.body)

    def start(self) -> CaptureServer:
        capture = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                with contextlib.suppress(OSError):  # the client went away (a timeout)
                    capture._handle(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_OPTIONS = do_HEAD = _any

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True  # a held reply (``delay_s``) never blocks stop
        self._server.block_on_close = False
        self.port = self._server.server_address[1]
        serve = self._server.serve_forever
        threading.Thread(target=serve, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> CaptureServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
