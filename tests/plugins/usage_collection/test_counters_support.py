"""A flaky store shared by the usage-counter tests (no tests here)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from telemetry_service.core import SavedObject, SavedObjectStore, StoreUnavailableError


class FlakyStore:
    """A real store whose ``increment_counter`` fails while ``down`` (or ``failures`` > 0)."""

    def __init__(self, inner: SavedObjectStore, failures: int = 0) -> None:
        self.inner = inner
        self.failures = failures
        self.down = False
        self.calls = 0

    async def increment_counter(
        self,
        type_: str,
        id_: str,
        fields: Mapping[str, int],
        *,
        upsert_attributes: Mapping[str, Any] | None = None,
        namespace: str | None = None,
    ) -> SavedObject:
        self.calls += 1
        if self.down or self.failures > 0:
            self.failures = max(0, self.failures - 1)
            raise StoreUnavailableError("the store is closed")
        return await self.inner.increment_counter(
            type_, id_, fields, upsert_attributes=upsert_attributes, namespace=namespace
        )

    async def find(self, type_: str, **kwargs: Any) -> Any:
        return await self.inner.find(type_, **kwargs)

    async def delete(self, type_: str, id_: str, *, namespace: str | None = None) -> None:
        await self.inner.delete(type_, id_, namespace=namespace)
