"""The vendor's load balancer in front of the two receivers, with faults on demand.

A :class:`CaptureServer` whose answers come from the receivers (round robin; a receiver that
refuses the connection is skipped, as a load balancer does; one that drops it mid-request is
answered 502). On demand it answers every POST itself (``fault``: the 500 and 429 outages),
or holds the next snapshot without forwarding it (``hold_next_snapshot``: the host sending it
is then killed while it holds the send lease). Every answer is kept in ``answers``.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass

import httpx

from telemetry_service.testing import Captured, CaptureServer, Reply

__all__ = ["Answer", "FaultProxy"]

_HOP = {"host", "content-length", "connection", "accept-encoding", "transfer-encoding"}


@dataclass(frozen=True)
class Answer:
    """A request the proxy answered, and what it answered (``forwarded``: by a receiver)."""

    at: float  # time.monotonic()
    request: Captured
    status: int
    body: bytes
    forwarded: bool


class FaultProxy(CaptureServer):
    def __init__(self, upstreams: list[str]) -> None:
        super().__init__()
        self.upstreams = upstreams
        self.fault: Reply | None = None
        self.hold_next_snapshot = False
        self.held = threading.Event()
        self.release = threading.Event()
        self.answers: list[Answer] = []
        self._turn = itertools.count()
        self._client = httpx.Client(timeout=60)

    def reply_to(self, request: Captured) -> Reply:
        forwarded = False
        if request.method == "POST" and self.fault is not None:
            reply = self.fault
        elif self.hold_next_snapshot and request.path.endswith("-snapshot"):
            self.hold_next_snapshot = False
            self.held.set()
            self.release.wait(120)
            reply = Reply(503)  # never forwarded; its sender is gone by now
        else:
            reply, forwarded = self._forward(request), True
        with self._lock:
            answer = Answer(time.monotonic(), request, reply.status, reply.body, forwarded)
            self.answers.append(answer)
        return reply

    def _forward(self, request: Captured) -> Reply:
        headers = {k: v for k, v in request.headers.items() if k not in _HOP}
        first = next(self._turn)
        for i in range(len(self.upstreams)):
            base = self.upstreams[(first + i) % len(self.upstreams)]
            try:
                answer = self._client.request(
                    request.method, base + request.path, content=request.body, headers=headers
                )
            except httpx.ConnectError:
                continue  # that receiver is down: the next one
            except httpx.HTTPError:
                return Reply(502, body=b'{"error":"upstream dropped the request"}')
            kept = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP}
            return Reply(answer.status_code, kept, answer.content)
        return Reply(502, body=b'{"error":"no receiver is up"}')

    def stop(self) -> None:
        self.release.set()
        super().stop()
        self._client.close()
