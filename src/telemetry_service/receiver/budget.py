"""What bounds the ingest bodies (reports and event batches) a process holds at once: the byte
budget (``limits.maxBufferedBytes``), the in-flight slots (``limits.maxInFlight``) and the
body deadline (``limits.bodyTimeoutSeconds``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator

from .config import LimitsConfig
from .errors import Rejection

__all__ = ["BodyBudget", "admit", "within_body_timeout"]


class BodyBudget:
    """The ingest body bytes a process holds at once (``limits.maxBufferedBytes``).

    Each HTTP body takes a :meth:`lease` for as long as its request runs; the reader charges
    it as bytes arrive, so that a slow sender holds only what it has sent.
    """

    def __init__(self, limit: int, retry_after: int) -> None:
        self.limit = limit
        self.used = 0
        self._retry_after = retry_after

    @contextlib.contextmanager
    def lease(self) -> Iterator[Callable[[int], None]]:
        """A ``charge(size)`` for one body; its bytes are given back when the block ends.
        ``charge`` raises a 429 :class:`Rejection` when the budget is spent."""
        held = 0

        def charge(size: int) -> None:
            nonlocal held
            if self.used + size > self.limit:
                raise Rejection(
                    429,
                    "overloaded",
                    "too many report bytes are being received; retry later",
                    retry_after=self._retry_after,
                )
            self.used += size
            held += size

        try:
            yield charge
        finally:
            self.used -= held


def admit(in_flight: int, limits: LimitsConfig, what: str) -> None:
    """A 429 :class:`Rejection` when `in_flight` requests fill ``limits.maxInFlight``."""
    if in_flight >= limits.max_in_flight:
        raise Rejection(
            429,
            "overloaded",
            f"too many {what} are being processed; retry later",
            retry_after=limits.retry_after_seconds,
        )


async def within_body_timeout(limits: LimitsConfig, read: Awaitable[bytes]) -> bytes:
    """The body `read` gives, if it arrives within ``limits.bodyTimeoutSeconds`` (else 408)."""
    try:
        async with asyncio.timeout(limits.body_timeout_seconds):
            return await read
    except TimeoutError:
        raise Rejection(
            408,
            "body_timeout",
            f"the body did not arrive within {limits.body_timeout_seconds:g} s",
        ) from None
