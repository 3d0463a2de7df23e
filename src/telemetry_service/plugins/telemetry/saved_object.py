"""The ``telemetry`` saved object: read as ``{}`` when missing, written as a partial upsert."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from telemetry_service.core import SavedObjectNotFoundError, SavedObjectStore

__all__ = ["TELEMETRY_SAVED_OBJECT_ID", "TELEMETRY_SAVED_OBJECT_TYPE", "TelemetrySavedObjectClient"]

TELEMETRY_SAVED_OBJECT_TYPE = "telemetry"
TELEMETRY_SAVED_OBJECT_ID = "telemetry"

#: Exactly the attributes of Kibana's telemetry saved object (spec 2.1).
ATTRIBUTES = frozenset(
    {
        "enabled",
        "lastVersionChecked",
        "sendUsageFrom",
        "lastReported",
        "allowChangingOptInStatus",
        "userHasSeenNotice",
        "reportFailureCount",
        "reportFailureVersion",
    }
)


class TelemetrySavedObjectClient:
    def __init__(self, store: SavedObjectStore) -> None:
        self._store = store

    async def get(self) -> dict[str, Any]:
        """The attributes; ``{}`` when the object does not exist (other errors propagate)."""
        try:
            obj = await self._store.get(TELEMETRY_SAVED_OBJECT_TYPE, TELEMETRY_SAVED_OBJECT_ID)
        except SavedObjectNotFoundError:
            return {}
        return dict(obj.attributes)

    async def update(self, attributes: Mapping[str, Any]) -> dict[str, Any]:
        """Merge ``attributes``, creating the object when it is missing."""
        unknown = set(attributes) - ATTRIBUTES
        if unknown:
            raise ValueError(f"unknown telemetry attributes: {sorted(unknown)}")
        obj = await self._store.update(
            TELEMETRY_SAVED_OBJECT_TYPE,
            TELEMETRY_SAVED_OBJECT_ID,
            attributes,
            upsert=dict(attributes),
        )
        return dict(obj.attributes)
