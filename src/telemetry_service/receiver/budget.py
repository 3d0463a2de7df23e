"""The byte budget of the ingest bodies a process holds at once (``limits.maxBufferedBytes``)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from .errors import Rejection

__all__ = ["BodyBudget"]


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
