"""What an administrator does with telemetry, for the routes and the CLI: see the status,
change the opt-in, send now, export for an air-gapped site, read the send history."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .consent import Consent
from .delivery import Delivery, SendReport
from .endpoints import get_telemetry_url, is_placeholder_endpoint
from .events import EventTelemetry
from .fetcher import FetcherTask
from .history import SendHistory
from .opt_in_watcher import OptInWatcher
from .rules import get_telemetry_failure_details
from .state import TelemetryState, last_reported

__all__ = ["TelemetryAdmin"]


@dataclass(frozen=True, kw_only=True)
class TelemetryAdmin:
    state: TelemetryState
    watcher: OptInWatcher
    fetcher: FetcherTask
    delivery: Delivery
    send_history: SendHistory
    events: EventTelemetry

    async def status(self) -> dict[str, Any]:
        """The effective consent and why, the send state and the history (newest first)."""
        config = self.state.config()
        saved = await self.state.get()
        consent = await self.state.consent(saved)
        failures = get_telemetry_failure_details(telemetry_saved_object=saved)
        return {
            "optedIn": consent.value is True,
            "consent": consent.to_json(),
            "version": self.state.version,
            "sendUsageFrom": self.state.send_usage_from(saved),
            "sendUsageTo": config.send_usage_to,
            "endpoint": str(get_telemetry_url(config)),
            "endpointConfigured": not is_placeholder_endpoint(config),
            "lastReported": last_reported(saved),
            "userHasSeenNotice": saved.get("userHasSeenNotice") is True,
            "failures": {"count": failures.failure_count, "version": failures.failure_version},
            "history": await self.history(),
            "events": await self.events.status(),
        }

    async def set_opt_in(self, enabled: bool, *, wait_for_report: bool = False) -> Consent:
        """Record a choice (raises :class:`OptInLockedError` when it is locked) and report it
        on the opt-in status channel: in the background, or awaited with ``wait_for_report``."""
        consent = await self.state.set_opt_in(enabled)
        self.watcher.apply(enabled)
        if wait_for_report:
            await self.delivery.opt_in_status(enabled)
        else:
            self.delivery.notify_opt_in_change(enabled)
        return consent

    async def send_now(self, *, force: bool = False) -> SendReport:
        """Send the snapshot if due (``force``: even if not); never without consent."""
        return await self.fetcher.send_snapshot(force=force)

    async def export(self) -> list[dict[str, Any]]:
        """The encrypted snapshot documents; raises ``PermissionError`` without consent."""
        return await self.delivery.export()

    async def history(self) -> list[dict[str, Any]]:
        return await self.send_history.list()
