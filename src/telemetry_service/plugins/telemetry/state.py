"""The ``telemetry`` saved object (spec 2.1) and what is read from it: consent, last-reported.

The object is read as ``{}`` when missing and written as a partial upsert of Kibana's
attributes only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from telemetry_service.common.clock import to_ms
from telemetry_service.core import SavedObjectNotFoundError, SavedObjectStore

from .config import TelemetryConfig
from .consent import Consent, decide_consent
from .rules import TelemetrySavedObject, get_telemetry_send_usage_from

__all__ = ["NOT_ALLOWED_MESSAGE", "OptInLockedError", "TelemetryState", "last_reported"]

TELEMETRY_SAVED_OBJECT_TYPE = "telemetry"
TELEMETRY_SAVED_OBJECT_ID = "telemetry"
#: Kibana's attributes of the object: nothing else is written.
ATTRIBUTES = frozenset(TelemetrySavedObject.__annotations__)
NOT_ALLOWED_MESSAGE = "Not allowed to change Opt-in Status."


def last_reported(saved: Mapping[str, Any]) -> int | None:
    """The stored ``lastReported`` when it is an integer (ms since the epoch)."""
    value = saved.get("lastReported")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class OptInLockedError(Exception):
    """The opt-in status is locked by config or the environment."""

    def __init__(self, consent: Consent) -> None:
        self.consent = consent
        super().__init__(f"{NOT_ALLOWED_MESSAGE} ({consent.reason})")


@dataclass(frozen=True, kw_only=True)
class TelemetryState:
    config: Callable[[], TelemetryConfig]
    """The current ``telemetry.*`` config (read it again each time: it can change)."""
    store: SavedObjectStore
    version: str
    env: Mapping[str, str]
    clock: Callable[[], dt.datetime]

    async def get(self) -> dict[str, Any]:
        """The attributes; ``{}`` when the object does not exist (other errors propagate)."""
        try:
            obj = await self.store.get(TELEMETRY_SAVED_OBJECT_TYPE, TELEMETRY_SAVED_OBJECT_ID)
        except SavedObjectNotFoundError:
            return {}
        return dict(obj.attributes)

    async def update(self, attributes: Mapping[str, Any]) -> dict[str, Any]:
        """Merge ``attributes``, creating the object when it is missing."""
        unknown = set(attributes) - ATTRIBUTES
        if unknown:
            raise ValueError(f"unknown telemetry attributes: {sorted(unknown)}")
        obj = await self.store.update(
            TELEMETRY_SAVED_OBJECT_TYPE,
            TELEMETRY_SAVED_OBJECT_ID,
            attributes,
            upsert=dict(attributes),
        )
        return dict(obj.attributes)

    def debug(self) -> bool:
        """``telemetry.debug`` or ``TELEMETRY_SERVICE_DEBUG``: print payloads instead of sending."""
        return self.config().debug or self.env.get("TELEMETRY_SERVICE_DEBUG", "") in ("1", "true")

    def send_usage_from(self, saved: Mapping[str, Any]) -> str:
        return get_telemetry_send_usage_from(
            telemetry_saved_object=saved,
            config_telemetry_send_usage_from=self.config().send_usage_from,
        )

    async def consent(self, saved: Mapping[str, Any] | None = None) -> Consent:
        if saved is None:
            saved = await self.get()
        return decide_consent(self.config(), saved, self.version, self.env)

    async def set_opt_in(self, enabled: bool) -> Consent:
        """Record the administrator's choice, as ``POST /internal/telemetry/optIn`` does."""
        current = await self.consent()
        if current.locked:
            raise OptInLockedError(current)
        saved = await self.update({"enabled": enabled, "lastVersionChecked": self.version})
        return await self.consent(saved)

    async def mark_notice_seen(self) -> dict[str, Any]:
        return await self.update({"userHasSeenNotice": True, "lastVersionChecked": self.version})

    async def last_reported(self) -> int | None:
        return last_reported(await self.get())

    async def set_last_reported(self) -> None:
        await self.update({"lastReported": to_ms(self.clock())})
