"""The telemetry plugin's state operations, shared by the routes, the contracts and the CLI."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from typing import Any

from telemetry_service.common.clock import to_ms
from telemetry_service.core import SavedObjectStore

from .config import TelemetryConfig
from .consent import Consent, decide_consent
from .endpoints import get_telemetry_url, is_placeholder_endpoint
from .rules import (
    get_notify_user_about_opt_in_default,
    get_telemetry_failure_details,
    get_telemetry_send_usage_from,
)
from .saved_object import TelemetrySavedObjectClient

__all__ = ["Consent", "OptInLockedError", "TelemetryService"]

NOT_ALLOWED_MESSAGE = "Not allowed to change Opt-in Status."


class OptInLockedError(Exception):
    """The opt-in status is locked by config or the environment."""

    def __init__(self, consent: Consent) -> None:
        self.consent = consent
        super().__init__(f"{NOT_ALLOWED_MESSAGE} ({consent.reason})")


class TelemetryService:
    def __init__(
        self,
        *,
        config: Callable[[], TelemetryConfig],
        store: SavedObjectStore,
        version: str,
        env: Mapping[str, str],
        clock: Callable[[], dt.datetime],
    ) -> None:
        self.config = config
        self.saved_objects = TelemetrySavedObjectClient(store)
        self.version = version
        self.env = env
        self.clock = clock
        self.store = store
        self.logger = logging.getLogger("telemetry_service.plugins.telemetry")

    async def store_available(self) -> bool:
        return await self.store.ping()

    def log_failure(self, what: str, exc: BaseException) -> None:
        """One line, no payload: the exception's type and message."""
        self.logger.warning("%s: %s: %s", what, type(exc).__name__, str(exc)[:200])

    async def consent(self, saved: Mapping[str, Any] | None = None) -> Consent:
        if saved is None:
            saved = await self.saved_objects.get()
        return decide_consent(self.config(), saved, self.version, self.env)

    async def set_opt_in(self, enabled: bool) -> Consent:
        """Record the administrator's choice, as ``POST /internal/telemetry/optIn`` does."""
        current = await self.consent()
        if current.locked:
            raise OptInLockedError(current)
        saved = await self.saved_objects.update(
            {"enabled": enabled, "lastVersionChecked": self.version}
        )
        return await self.consent(saved)

    async def config_body(self) -> dict[str, Any]:
        """The body of ``GET /internal/telemetry/config`` (and ``/api/telemetry/v2/config``)."""
        config = self.config()
        saved = await self.saved_objects.get()
        consent = await self.consent(saved)
        return {
            "allowChangingOptInStatus": not consent.locked,
            "optIn": consent.value,
            "sendUsageFrom": get_telemetry_send_usage_from(
                telemetry_saved_object=saved,
                config_telemetry_send_usage_from=config.send_usage_from,
            ),
            "telemetryNotifyUserAboutOptInDefault": get_notify_user_about_opt_in_default(
                allow_changing_opt_in_status=not consent.locked,
                telemetry_saved_object=saved,
                telemetry_opted_in=consent.value,
                config_telemetry_opt_in=config.opt_in,
            ),
            "labels": config.labels.model_dump(by_alias=True, exclude_none=True),
        }

    async def mark_notice_seen(self) -> dict[str, Any]:
        return await self.saved_objects.update(
            {"userHasSeenNotice": True, "lastVersionChecked": self.version}
        )

    async def last_reported(self) -> int | None:
        value = (await self.saved_objects.get()).get("lastReported")
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    async def set_last_reported(self) -> int:
        now_ms = to_ms(self.clock())
        await self.saved_objects.update({"lastReported": now_ms})
        return now_ms

    async def status(self) -> dict[str, Any]:
        """Everything an administrator needs to see, for ``telemetry status``."""
        config = self.config()
        saved = await self.saved_objects.get()
        consent = await self.consent(saved)
        failures = get_telemetry_failure_details(telemetry_saved_object=saved)
        last = saved.get("lastReported")
        return {
            "optedIn": consent.value is True,
            "consent": consent.to_json(),
            "version": self.version,
            "sendUsageFrom": get_telemetry_send_usage_from(
                telemetry_saved_object=saved,
                config_telemetry_send_usage_from=config.send_usage_from,
            ),
            "sendUsageTo": config.send_usage_to,
            "endpoint": str(get_telemetry_url(config)),
            "endpointConfigured": not is_placeholder_endpoint(config),
            "lastReported": last if isinstance(last, int) else None,
            "userHasSeenNotice": saved.get("userHasSeenNotice") is True,
            "failures": {"count": failures.failure_count, "version": failures.failure_version},
        }
