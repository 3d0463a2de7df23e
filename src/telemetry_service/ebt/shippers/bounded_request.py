"""One request to the telemetry cluster with hard limits: a total deadline and a capped answer.

Both senders of the host (the snapshot sender of the telemetry plugin and the event shipper)
only need the status of an answer. httpx's ``post`` reads the whole body into memory and its
timeouts apply to each read, so an endpoint that answers with an endless body, or trickles one
byte at a time, could hold a send and its memory for ever. :func:`bounded_request` streams the
answer instead: it reads at most ``max_bytes`` of the body (raw: nothing is decompressed), stops
at ``deadline_s`` counted from the start of the request, and closes the connection. Once the
status is in, the body gets :data:`BODY_GRACE_S` more at most: it is not needed, and a body that
trickles must not keep a send (or a stopping host) waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass

import httpx

__all__ = ["BODY_GRACE_S", "BoundedAnswer", "DeadlineExceeded", "bounded_request"]

#: Seconds the body may take once the status line is in (within the deadline).
BODY_GRACE_S = 0.5


class DeadlineExceeded(httpx.TimeoutException):
    """No status line before the request's total deadline."""


@dataclass(frozen=True)
class BoundedAnswer:
    """The status, headers and at most ``max_bytes`` of the body of an answer."""

    status_code: int
    headers: httpx.Headers
    body: bytes
    truncated: bool
    """More body was on its way (over the cap, past the deadline, or cut off); it was not read."""

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    @property
    def text(self) -> str:
        """The body read, for debug logs (undecodable bytes replaced)."""
        return self.body.decode("utf-8", errors="replace")


async def bounded_request(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    deadline_s: float,
    max_bytes: int,
    content: bytes | None = None,
    headers: Mapping[str, str] | None = None,
) -> BoundedAnswer:
    """Send the request; return once the status and at most ``max_bytes`` of the body are in.

    Raises :class:`DeadlineExceeded` when no status arrived within ``deadline_s``, and httpx's
    errors for a failure before the status. Once the status is in, the answer counts: a body
    that breaks off or outlasts the deadline is returned as read, with ``truncated`` set.
    """
    deadline = asyncio.get_running_loop().time() + max(deadline_s, 0.0)
    request = client.build_request(
        method, url, content=content, headers={**(headers or {}), "Accept-Encoding": "identity"}
    )
    try:
        async with asyncio.timeout_at(deadline):
            response = await client.send(request, stream=True)
    except TimeoutError:
        raise DeadlineExceeded(f"no answer within {deadline_s:g} s", request=request) from None
    try:
        grace = asyncio.get_running_loop().time() + BODY_GRACE_S
        body, truncated = await _read_at_most(response, max_bytes, min(deadline, grace))
    finally:
        await response.aclose()  # an unfinished body closes the connection
    return BoundedAnswer(response.status_code, response.headers, body, truncated)


async def _read_at_most(
    response: httpx.Response, max_bytes: int, deadline: float
) -> tuple[bytes, bool]:
    if response.is_stream_consumed:  # read already, by an in-memory transport
        return response.content[:max_bytes], len(response.content) > max_bytes
    chunks: list[bytes] = []
    size = 0
    raw = response.aiter_raw()
    assert isinstance(raw, AsyncGenerator)  # closed on the way out, not left to the collector
    try:
        async with asyncio.timeout_at(deadline), contextlib.aclosing(raw) as stream:
            async for chunk in stream:
                chunks.append(chunk[: max(max_bytes - size, 0)])
                size += len(chunk)
                if size > max_bytes:
                    return b"".join(chunks), True
    except (TimeoutError, httpx.HTTPError):
        return b"".join(chunks), True
    return b"".join(chunks), False
