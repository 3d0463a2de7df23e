"""A flaky store shared by the usage-counter tests (no tests here)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from telemetry_service.core import (
    CounterIncrement,
    SavedObjectStore,
    StoreUnavailableError,
)


class FlakyStore:
    """A real store whose writes fail while ``down`` (or ``failures`` > 0); ``calls`` counts
    the write transactions (an ``increment_counters`` batch is one), ``ids`` the ids written."""

    def __init__(self, inner: SavedObjectStore, failures: int = 0) -> None:
        self.inner = inner
        self.failures = failures
        self.down = False
        self.calls = 0
        self.ids: list[str] = []

    async def increment_counters(self, type_: str, changes: Sequence[CounterIncrement]) -> int:
        self.calls += 1
        if self.down or self.failures > 0:
            self.failures = max(0, self.failures - 1)
            raise StoreUnavailableError("the store is closed")
        done = await self.inner.increment_counters(type_, changes)
        self.ids += [change.id for change in changes]
        return done

    async def find(self, type_: str, **kwargs: Any) -> Any:
        return await self.inner.find(type_, **kwargs)

    async def delete(self, type_: str, id_: str, *, namespace: str | None = None) -> None:
        await self.inner.delete(type_, id_, namespace=namespace)
