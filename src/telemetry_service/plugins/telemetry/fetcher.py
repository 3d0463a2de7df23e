"""The daily sender (Kibana's ``FetcherTask``), made safe for several instances on one store.

Each :meth:`FetcherTask.tick` decides what to do now and returns when to look again:

- nothing leaves the machine unless the effective opt-in is true, usage is sent from the
  server, the endpoint is configured and fewer than 3 attempts failed on this version;
- a connectivity check (OPTIONS) 5 minutes after start, then every 12 hours while offline;
- a snapshot when both the in-memory and the stored ``lastReported`` are older than
  24 h - 2 min; the next attempt is at ``lastReported + 24 h ± 120 s`` inside the next UTC
  day, re-checked every minute;
- before sending, an instance takes a lease in the store and reads ``lastReported`` again, so
  instances sharing a store send one snapshot per interval, not one each;
- a failed attempt is tried again after 12 hours; as in Kibana, only a connection failure (no
  answer at all) counts towards the 3-failures rule, an HTTP error answer does not;
- a failed config load is retried after 8, 16, 32, 64 and 64 s, then logged once, and the
  next try is the 12 h tick after the first failure (Kibana's ``validateConnectivity``).

The loop runs :meth:`tick` forever; tests call it directly with an injected clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from typing import Any

from telemetry_service.common.clock import to_ms
from telemetry_service.common.periodic import PeriodicTask, Sleep
from telemetry_service.core import SavedObjectStore, StoreError
from telemetry_service.core.leases import lease_holder

from .delivery import NO_MANAGER, Delivery, SendReport
from .endpoints import get_telemetry_url, is_placeholder_endpoint
from .rules import get_telemetry_failure_details
from .schedule import (
    CONFIG_LOAD_RETRY_DELAYS_MS,
    CONNECTIVITY_CHECK_DELAY_MS,
    CONNECTIVITY_CHECK_PERIOD_MS,
    SEND_TRIGGER_REPEAT_MS,
    config_load_retry_delay_ms,
    get_next_attempt_date,
    merge_last_reported,
    should_check_connectivity,
    should_send_now,
)
from .sender import TelemetrySender
from .state import TelemetryState

__all__ = ["FetcherTask"]

LEASE_NAME = "telemetry-snapshot-send"
LEASE_TTL_S = 15 * 60.0
#: How often a fetcher that may not send looks again (consent or config can change).
IDLE_RECHECK_MS = 10 * 60_000


class FetcherTask:
    def __init__(
        self,
        *,
        state: TelemetryState,
        delivery: Delivery,
        store: SavedObjectStore,
        sender: TelemetrySender,
        instance_id: str,
        logger: logging.Logger,
        rng: random.Random | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._state = state
        self._delivery = delivery
        self._store = store
        self._sender = sender
        self._instance = lease_holder(instance_id)  # one holder per process, not per path.data
        self._log = logger
        self._rng = rng or random.Random()
        self._started_ms: int | None = None
        self._online = False
        self._next_connectivity_ms = 0
        self._retry_after_failure_ms = 0
        self.last_reported_ms: int | None = None
        self._next_attempt: tuple[int | None, int] | None = None
        self._config_failures: list[int] = []  # when each consecutive config load failed
        self._loop = PeriodicTask(
            "telemetry sender",
            self._step,
            sleep=sleep,
            log=logger,
            retry_delay=SEND_TRIGGER_REPEAT_MS / 1000,
        )
        self._send_lock = asyncio.Lock()
        self._sends: set[asyncio.Task[Any]] = set()

    def _now_ms(self) -> int:
        return to_ms(self._state.clock())

    async def _may_send(self) -> tuple[bool, str, dict[str, Any]]:
        """Whether anything may leave the machine now, and why not."""
        saved = await self._state.get()
        consent = await self._state.consent(saved)
        config = self._state.config()
        failures = get_telemetry_failure_details(telemetry_saved_object=saved)
        version = self._state.version
        if consent.value is not True:
            return False, f"not opted in ({consent.reason})", saved
        if not config.fetcher.enabled:
            return False, "telemetry.fetcher.enabled is false on this instance", saved
        if self._state.send_usage_from(saved) != "server":
            return False, "telemetry.sendUsageFrom is browser", saved
        if not should_check_connectivity(
            opted_in=True,
            send_usage_from="server",
            failure_count=failures.failure_count,
            failure_version=failures.failure_version,
            current_version=version,
        ):
            why = f"{failures.failure_count} failed attempts on version {version}: "
            return False, why + "stopped until the version changes", saved
        if is_placeholder_endpoint(config) and not self._state.debug():
            return False, "telemetry.endpoints are not configured", saved
        return True, "", saved

    # -- the schedule ------------------------------------------------------------------------
    async def tick(self) -> int:
        """Do what is due now; return the milliseconds until the next tick."""
        now = self._now_ms()
        if self._started_ms is None:
            self._started_ms = now
            self._next_connectivity_ms = now + CONNECTIVITY_CHECK_DELAY_MS
        try:
            allowed, _, saved = await self._may_send()
        except StoreError as exc:
            return self._config_load_failed(now, exc)
        self._config_failures.clear()
        if not allowed:
            return IDLE_RECHECK_MS
        if not self._online:
            if now < self._next_connectivity_ms:
                return self._next_connectivity_ms - now
            await self._check_connectivity(now)
            if not self._online:
                return CONNECTIVITY_CHECK_PERIOD_MS
        if now < self._retry_after_failure_ms:
            return self._retry_after_failure_ms - now
        stored = saved.get("lastReported")
        # the newer of ours and the stored one: another instance or a browser may have reported
        self.last_reported_ms = last = merge_last_reported(self.last_reported_ms, stored)
        if not should_send_now(
            opted_in=True,
            send_usage_from="server",
            in_memory_last_reported_ms=self.last_reported_ms,
            stored_last_reported_ms=stored,
            now_ms=now,
        ):
            due = self._next_attempt_for(last, now)
            return max(SEND_TRIGGER_REPEAT_MS, due - now) if due > now else SEND_TRIGGER_REPEAT_MS
        report = await self.send_snapshot()
        if not report.sent and report.outcomes:
            return CONNECTIVITY_CHECK_PERIOD_MS
        return SEND_TRIGGER_REPEAT_MS

    def _config_load_failed(self, now: int, exc: StoreError) -> int:
        failures = self._config_failures
        failures.append(now)
        wait = config_load_retry_delay_ms(len(failures), failures[0], now)
        if len(failures) > len(CONFIG_LOAD_RETRY_DELAYS_MS):
            self._log.warning("Cannot get the current config: %s", type(exc).__name__)
            failures.clear()
        return wait

    def _next_attempt_for(self, last: int | None, now: int) -> int:
        """One jittered due time per ``lastReported`` value (Kibana draws it once per value)."""
        if self._next_attempt is None or self._next_attempt[0] != last:
            jitter = self._rng.uniform(-1.0, 1.0)
            self._next_attempt = (last, get_next_attempt_date(last, now, jitter))
        return self._next_attempt[1]

    async def _check_connectivity(self, now: int) -> None:
        url = str(get_telemetry_url(self._state.config()))
        if self._state.debug():
            self._online = True
            return
        error = await self._sender.options(url)
        if error is None:
            self._online = True
            return
        self._log.warning("Cannot reach the remote telemetry endpoint %s (%s)", url, error)
        self._next_connectivity_ms = now + CONNECTIVITY_CHECK_PERIOD_MS
        await self._record_failure()

    async def _record_failure(self) -> None:
        try:
            saved = await self._state.get()
            failures = get_telemetry_failure_details(telemetry_saved_object=saved)
            await self._state.update(
                {
                    "reportFailureCount": failures.failure_count + 1,
                    "reportFailureVersion": self._state.version,
                }
            )
        except StoreError as exc:
            self._log.warning("could not record the failed attempt: %s", type(exc).__name__)

    # -- sending -----------------------------------------------------------------------------
    async def send_snapshot(self, *, force: bool = False) -> SendReport:
        """Send the snapshot if due (or now, with ``force``); never without consent.

        :meth:`stop` cancels a send in progress."""
        current = asyncio.current_task()
        if current is not None:
            self._sends.add(current)
        try:
            async with self._send_lock:
                return await self._send_snapshot(force)
        finally:
            if current is not None:
                self._sends.discard(current)

    async def _send_snapshot(self, force: bool) -> SendReport:
        try:
            allowed, why, _ = await self._may_send()
        except StoreError as exc:
            return SendReport(False, f"the store is unavailable ({type(exc).__name__})")
        if not allowed:
            return SendReport(False, why)
        if self._delivery.manager is None:
            return SendReport(False, NO_MANAGER)
        if not await self._store.acquire_lease(LEASE_NAME, self._instance, LEASE_TTL_S):
            return SendReport(False, "another instance is sending right now")
        try:
            stored = (await self._state.get()).get("lastReported")
            if not force and not should_send_now(
                opted_in=True,
                send_usage_from="server",
                in_memory_last_reported_ms=self.last_reported_ms,
                stored_last_reported_ms=stored,
                now_ms=self._now_ms(),
            ):
                self.last_reported_ms = merge_last_reported(self.last_reported_ms, stored)
                return SendReport(False, "already reported in this interval")
            report = await self._delivery.snapshot()
        finally:
            with contextlib.suppress(StoreError):  # otherwise it expires by itself
                await self._store.release_lease(LEASE_NAME, self._instance)
        if report.sent:
            self.last_reported_ms = self._now_ms()
            self._retry_after_failure_ms = 0
        elif report.outcomes:  # the endpoint failed: offline until the next connectivity check
            self._online = False
            self._next_connectivity_ms = self._now_ms() + CONNECTIVITY_CHECK_PERIOD_MS
            self._retry_after_failure_ms = self._next_connectivity_ms
            if not all(outcome.answered for outcome in report.outcomes):
                await self._record_failure()
        return report

    # -- lifecycle ---------------------------------------------------------------------------
    async def _step(self) -> float:
        return await self.tick() / 1000

    def start(self) -> None:
        self._loop.start()

    async def stop(self, timeout_s: float = 5.0) -> None:
        """Cancel the loop, any in-flight send and opt-in report; returns within ``timeout_s``."""
        others = [*self._delivery.tasks, *self._sends]
        for task in others:
            task.cancel()
        if others:
            await asyncio.gather(
                self._loop.stop(timeout_s), asyncio.wait(others, timeout=timeout_s)
            )
        else:
            await self._loop.stop(timeout_s)
