"""A one-entry cache of the generated payload for 4 hours, shared by concurrent callers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["CACHE_DURATION_S", "PayloadCache"]

CACHE_DURATION_S = 4 * 3600.0

Generation = list[dict[str, Any]]


class PayloadCache:
    """Stores the *task* of a generation, so concurrent misses share one (spec 6.3 step 6)."""

    def __init__(
        self, ttl_s: float = CACHE_DURATION_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl = ttl_s
        self._clock = clock
        self._key: str | None = None
        self._task: asyncio.Future[Generation] | None = None
        self._stored_at = 0.0

    def reset(self) -> None:
        self._key = None
        self._task = None

    async def get_or_create(
        self, key: str, generate: Callable[[], Awaitable[Generation]]
    ) -> tuple[Generation, bool]:
        """The cached value for ``key`` and whether it was a hit."""
        fresh = self._clock() - self._stored_at < self._ttl
        if self._task is not None and self._key == key and fresh:
            return await asyncio.shield(self._task), True

        task = asyncio.ensure_future(generate())
        self._key, self._task, self._stored_at = key, task, self._clock()
        try:
            return await asyncio.shield(task), False
        except BaseException:
            if self._task is task:
                self.reset()
            raise
