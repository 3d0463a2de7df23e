"""The in-memory opt-in value behind ``get_is_opted_in()``, refreshed from the store.

As in Kibana, only boolean decisions replace the value (a ``None`` re-prompt keeps the last
boolean), each change is logged once, and a store error skips the round. Every decision, ``None``
included, also goes to ``on_consent`` (event-based telemetry's opt-in, ``events.py``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from telemetry_service.common.periodic import PeriodicTask, Sleep
from telemetry_service.core import StoreError

from .state import TelemetryState

__all__ = ["OPT_IN_POLL_INTERVAL_S", "OptInWatcher"]

OPT_IN_POLL_INTERVAL_S = 10.0
_DOCS = "docs/privacy.md in the telemetry-service documentation"


class OptInWatcher:
    def __init__(
        self,
        state: TelemetryState,
        *,
        interval: float = OPT_IN_POLL_INTERVAL_S,
        logger: logging.Logger,
        sleep: Sleep = asyncio.sleep,
        on_consent: Callable[[bool | None], None] | None = None,
    ) -> None:
        self._state = state
        self._log = logger
        self._on_consent = on_consent
        config = state.config()
        self.value: bool | None = None if config.allow_changing_opt_in_status else config.opt_in
        self._loop = PeriodicTask(
            "telemetry opt-in watcher",
            self._step,
            sleep=sleep,
            log=logger,
            first_delay=interval,
            retry_delay=interval,
        )
        self._interval = interval

    @property
    def is_opted_in(self) -> bool:
        return self.value is True

    def apply(self, value: bool | None) -> None:
        """Take a freshly computed decision (ignored unless boolean)."""
        if self._on_consent is not None:
            self._on_consent(value)
        if not isinstance(value, bool) or value == self.value:
            return
        self.value = value
        state = "enabled" if value else "disabled"
        self._log.info(
            "Telemetry collection is %s. For more information on telemetry settings, refer to %s",
            state,
            _DOCS,
        )

    async def refresh(self) -> None:
        try:
            consent = await self._state.consent()
        except StoreError as exc:
            self._log.debug("opt-in refresh skipped: %s", exc)
            return
        self.apply(consent.value)

    async def _step(self) -> float:
        await self.refresh()
        return self._interval

    async def start(self) -> None:
        await self.refresh()
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
