"""A local record of what was sent (or printed), kept in the store: the last 30 entries."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import uuid
from dataclasses import asdict, dataclass
from typing import Any

from telemetry_service.core import SavedObjectNotFoundError, SavedObjectStore

__all__ = ["HISTORY_SIZE", "SendHistory", "SendRecord", "payload_digest"]

HISTORY_TYPE = "telemetry-send-history"
HISTORY_SIZE = 30


def payload_digest(payload_json: bytes) -> str:
    """sha256 of the unencrypted payload, so an administrator can match what was sent."""
    return "sha256:" + hashlib.sha256(payload_json).hexdigest()


@dataclass(frozen=True)
class SendRecord:
    timestamp: str
    channel: str
    url: str
    size: int
    status: str
    payload_sha256: str
    cluster_uuid: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class SendHistory:
    def __init__(self, store: SavedObjectStore, size: int = HISTORY_SIZE) -> None:
        self._store = store
        self._size = size

    async def record(self, entry: SendRecord, when: dt.datetime) -> None:
        """Add an entry and prune the oldest beyond the limit."""
        oid = f"{when.strftime('%Y%m%dT%H%M%S%f')}-{uuid.uuid4().hex[:8]}"
        await self._store.create(HISTORY_TYPE, entry.to_json(), id_=oid)
        page = await self._store.find(
            HISTORY_TYPE, namespace=None, per_page=100, sort_field="id", sort_order="desc"
        )
        for old in page.saved_objects[self._size :]:
            with contextlib.suppress(SavedObjectNotFoundError):  # another instance pruned it
                await self._store.delete(HISTORY_TYPE, old.id)

    async def list(self, limit: int = HISTORY_SIZE) -> list[dict[str, Any]]:
        """Newest first."""
        page = await self._store.find(
            HISTORY_TYPE, namespace=None, per_page=limit, sort_field="id", sort_order="desc"
        )
        return [dict(o.attributes) for o in page.saved_objects]
