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
- a failed attempt counts towards Kibana's 3-failures rule and is tried again after 12 hours.

The loop runs :meth:`tick` forever; tests call it directly with an injected clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from telemetry_service.common.clock import to_ms
from telemetry_service.common.periodic import PeriodicTask, Sleep
from telemetry_service.core import SavedObjectStore, StoreError
from telemetry_service.plugins.telemetry_collection_manager import (
    EncryptionUnavailableError,
    TelemetryCollectionManager,
)
from telemetry_service.wire import compact_json
from telemetry_service.wire.protocol import (
    ChannelKind,
    channel_name,
    export_document,
    report_headers,
)

from .config import TelemetryConfig
from .consent import Consent
from .endpoints import get_opt_in_status_url, get_telemetry_url, is_placeholder_endpoint
from .history import SendHistory, SendRecord, payload_digest
from .rules import get_telemetry_failure_details, get_telemetry_send_usage_from
from .schedule import (
    CONNECTIVITY_CHECK_DELAY_MS,
    CONNECTIVITY_CHECK_PERIOD_MS,
    SEND_TRIGGER_REPEAT_MS,
    get_next_attempt_date,
    merge_last_reported,
    should_check_connectivity,
    should_send_now,
)
from .sender import SendOutcome, TelemetrySender
from .service import TelemetryService

__all__ = ["FetcherTask", "SendReport"]

LEASE_NAME = "telemetry-snapshot-send"
LEASE_TTL_S = 15 * 60.0
#: How often a fetcher that may not send looks again (consent or config can change).
IDLE_RECHECK_MS = 10 * 60_000


@dataclass(frozen=True)
class SendReport:
    """What one send did, for the CLI and the logs."""

    sent: bool
    reason: str
    outcomes: tuple[SendOutcome, ...] = ()


class FetcherTask:
    def __init__(
        self,
        *,
        service: TelemetryService,
        manager: TelemetryCollectionManager | None,
        store: SavedObjectStore,
        sender: TelemetrySender,
        history: SendHistory,
        instance_id: str,
        logger: logging.Logger,
        rng: random.Random | None = None,
        debug_print: Callable[[str], None] = print,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._service = service
        self._manager = manager
        self._store = store
        self._sender = sender
        self._history = history
        self._instance = instance_id
        self._log = logger
        self._rng = rng or random.Random()
        self._debug_print = debug_print
        self._started_ms: int | None = None
        self._online = False
        self._next_connectivity_ms = 0
        self._retry_after_failure_ms = 0
        self.last_reported_ms: int | None = None
        self._next_attempt: tuple[int | None, int] | None = None
        self._loop = PeriodicTask(
            "telemetry sender",
            self._step,
            sleep=sleep,
            log=logger,
            retry_delay=SEND_TRIGGER_REPEAT_MS / 1000,
        )
        self._send_lock = asyncio.Lock()
        self._opt_in_tasks: set[asyncio.Task[SendReport]] = set()
        self._sends: set[asyncio.Task[Any]] = set()

    # -- helpers -----------------------------------------------------------------------------
    def _now_ms(self) -> int:
        return to_ms(self._service.clock())

    def _config(self) -> TelemetryConfig:
        return self._service.config()

    def _debug(self) -> bool:
        return self._config().debug or self._service.env.get("TELEMETRY_SERVICE_DEBUG", "") in (
            "1",
            "true",
        )

    async def _may_send(self) -> tuple[bool, str, dict[str, Any]]:
        """Whether anything may leave the machine now, and why not."""
        saved = await self._service.saved_objects.get()
        consent: Consent = await self._service.consent(saved)
        config = self._config()
        failures = get_telemetry_failure_details(telemetry_saved_object=saved)
        send_from = get_telemetry_send_usage_from(
            telemetry_saved_object=saved, config_telemetry_send_usage_from=config.send_usage_from
        )
        if consent.value is not True:
            return False, f"not opted in ({consent.reason})", saved
        if not config.fetcher.enabled:
            return False, "telemetry.fetcher.enabled is false on this instance", saved
        if send_from != "server":
            return False, "telemetry.sendUsageFrom is browser", saved
        if not should_check_connectivity(
            opted_in=True,
            send_usage_from=send_from,
            failure_count=failures.failure_count,
            failure_version=failures.failure_version,
            current_version=self._service.version,
        ):
            return (
                False,
                (
                    f"{failures.failure_count} failed attempts on version {self._service.version}: "
                    "stopped until the version changes"
                ),
                saved,
            )
        if is_placeholder_endpoint(config) and not self._debug():
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
            self._log.warning("Error getting telemetry configs. (%s)", type(exc).__name__)
            return SEND_TRIGGER_REPEAT_MS
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
        last = merge_last_reported(self.last_reported_ms, stored)
        if last is not None and (self.last_reported_ms is None or last > self.last_reported_ms):
            self.last_reported_ms = last  # another instance or a browser reported
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

    def _next_attempt_for(self, last: int | None, now: int) -> int:
        """One jittered due time per ``lastReported`` value (Kibana draws it once per value)."""
        if self._next_attempt is None or self._next_attempt[0] != last:
            jitter = self._rng.uniform(-1.0, 1.0)
            self._next_attempt = (last, get_next_attempt_date(last, now, jitter))
        return self._next_attempt[1]

    async def _check_connectivity(self, now: int) -> None:
        url = str(get_telemetry_url(self._config()))
        if self._debug():
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
            saved = await self._service.saved_objects.get()
            failures = get_telemetry_failure_details(telemetry_saved_object=saved)
            await self._service.saved_objects.update(
                {
                    "reportFailureCount": failures.failure_count + 1,
                    "reportFailureVersion": self._service.version,
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
        if self._manager is None:
            return SendReport(False, "the telemetry_collection_manager plugin is not enabled")
        if not await self._store.acquire_lease(LEASE_NAME, self._instance, LEASE_TTL_S):
            return SendReport(False, "another instance is sending right now")
        try:
            saved = await self._service.saved_objects.get()
            now = self._now_ms()
            if not force and not should_send_now(
                opted_in=True,
                send_usage_from="server",
                in_memory_last_reported_ms=self.last_reported_ms,
                stored_last_reported_ms=saved.get("lastReported"),
                now_ms=now,
            ):
                self.last_reported_ms = merge_last_reported(
                    self.last_reported_ms, saved.get("lastReported")
                )
                return SendReport(False, "already reported in this interval")
            return await self._deliver_snapshot()
        finally:
            with contextlib.suppress(StoreError):  # otherwise it expires by itself
                await self._store.release_lease(LEASE_NAME, self._instance)

    async def _deliver_snapshot(self) -> SendReport:
        assert self._manager is not None
        config = self._config()
        url = str(get_telemetry_url(config))
        try:
            stats = await self._manager.get_unencrypted_stats()
        except Exception as exc:
            self._log.warning("Error fetching usage. (%s: %s)", type(exc).__name__, str(exc)[:200])
            return SendReport(False, f"building the payload failed: {type(exc).__name__}")
        if self._debug():
            for item in stats:
                self._debug_print(orjson.dumps(item["stats"], option=orjson.OPT_INDENT_2).decode())
            self.last_reported_ms = self._now_ms()
            await self._record_history(stats, "snapshot", url, "debug: printed, not sent", 0)
            return SendReport(True, "telemetry.debug is on: printed the payload instead of sending")
        outcomes = []
        for item in stats:
            try:
                body = await self._manager.encrypt(item["stats"])
            except EncryptionUnavailableError as exc:
                self._log.warning("Cannot encrypt telemetry: %s", exc)
                return SendReport(False, f"cannot encrypt: {exc}")
            headers = report_headers(self._service.version, item["clusterUuid"])
            outcome = await self._sender.post(url, body, headers)
            outcomes.append(outcome)
            await self._record_history([item], "snapshot", url, outcome.describe(), len(body))
        if all(o.ok for o in outcomes):
            now = self._now_ms()
            self.last_reported_ms = now
            self._retry_after_failure_ms = 0
            try:
                await self._service.saved_objects.update(
                    {"reportFailureCount": 0, "lastReported": now}
                )
            except StoreError as exc:
                self._log.warning(
                    "snapshot sent but lastReported not stored: %s", type(exc).__name__
                )
            return SendReport(True, "sent", tuple(outcomes))
        failed = next(o for o in outcomes if not o.ok)
        self._log.warning("Error sending usage to the telemetry endpoint. (%s)", failed.describe())
        self._online = False
        self._next_connectivity_ms = self._now_ms() + CONNECTIVITY_CHECK_PERIOD_MS
        self._retry_after_failure_ms = self._next_connectivity_ms
        await self._record_failure()
        return SendReport(False, f"the endpoint answered {failed.describe()}", tuple(outcomes))

    async def _record_history(
        self, stats: list[dict[str, Any]], kind: ChannelKind, url: str, status: str, size: int
    ) -> None:
        config = self._config()
        for item in stats:
            record = SendRecord(
                timestamp=self._service.clock().isoformat(),
                channel=channel_name(config.product, kind),
                url=url,
                size=size,
                status=status,
                payload_sha256=payload_digest(compact_json(item["stats"])),
                cluster_uuid=str(item["clusterUuid"]),
            )
            try:
                await self._history.record(record, self._service.clock())
            except StoreError as exc:
                self._log.debug("send history not recorded: %s", type(exc).__name__)

    async def export_snapshot(self) -> list[dict[str, Any]]:
        """The encrypted snapshot with its URL and headers, for sites without a network path
        to the endpoint (``receiver import`` takes it). Needs consent, like sending."""
        saved = await self._service.saved_objects.get()
        consent = await self._service.consent(saved)
        if consent.value is not True:
            raise PermissionError(f"not opted in ({consent.reason})")
        if self._manager is None:
            raise PermissionError("the telemetry_collection_manager plugin is not enabled")
        config = self._config()
        url = str(get_telemetry_url(config))
        stats = await self._manager.get_unencrypted_stats(refresh_cache=True)
        documents = []
        for item in stats:
            body = await self._manager.encrypt(item["stats"])
            headers = report_headers(self._service.version, item["clusterUuid"])
            exported_at = self._service.clock().isoformat()
            documents.append(export_document(url, headers, body, exported_at))
            await self._record_history([item], "snapshot", url, "exported to a file", len(body))
        return documents

    # -- the opt-in status channel -------------------------------------------------------------
    def notify_opt_in_change(self, enabled: bool) -> None:
        """Post ``{cluster_uuid, opt_in_status}`` in the background (best effort, not awaited)."""
        task = asyncio.create_task(self.send_opt_in_status(enabled))
        self._opt_in_tasks.add(task)
        task.add_done_callback(self._opt_in_tasks.discard)

    async def send_opt_in_status(self, enabled: bool) -> SendReport:
        config = self._config()
        if (
            get_telemetry_send_usage_from(
                telemetry_saved_object=await self._service.saved_objects.get(),
                config_telemetry_send_usage_from=config.send_usage_from,
            )
            != "server"
        ):
            return SendReport(False, "telemetry.sendUsageFrom is browser")
        if self._manager is None or (is_placeholder_endpoint(config) and not self._debug()):
            return SendReport(False, "telemetry.endpoints are not configured")
        url = str(get_opt_in_status_url(config))
        try:
            stats = await self._manager.get_opt_in_stats(enabled, unencrypted=True)
            if self._debug():
                for item in stats:
                    self._debug_print(orjson.dumps(item["stats"]).decode())
                return SendReport(True, "telemetry.debug is on: printed instead of sending")
            outcomes = []
            for item in stats:
                body = await self._manager.encrypt(item["stats"])
                headers = report_headers(self._service.version, item["clusterUuid"])
                outcome = await self._sender.post(url, body, headers)
                outcomes.append(outcome)
                await self._record_history(
                    [item], "opt-in-reports", url, outcome.describe(), len(body)
                )
        except Exception as exc:
            self._log.warning(
                "Failed to notify the telemetry endpoint about the opt-in selection. "
                "Possibly blocked by a firewall? - %s",
                type(exc).__name__,
            )
            return SendReport(False, f"{type(exc).__name__}")
        ok = all(o.ok for o in outcomes)
        if not ok:
            self._log.warning(
                "Failed to notify the telemetry endpoint about the opt-in selection. "
                "Possibly blocked by a firewall? - %s",
                next(o for o in outcomes if not o.ok).describe(),
            )
        return SendReport(ok, "sent" if ok else "failed", tuple(outcomes))

    # -- lifecycle ---------------------------------------------------------------------------
    async def _step(self) -> float:
        return await self.tick() / 1000

    def start(self) -> None:
        self._loop.start()

    async def stop(self, timeout_s: float = 5.0) -> None:
        """Cancel the loop and any in-flight send; returns within ``timeout_s``."""
        others = [*self._opt_in_tasks, *self._sends]
        for task in others:
            task.cancel()
        if others:
            await asyncio.gather(
                self._loop.stop(timeout_s), asyncio.wait(others, timeout=timeout_s)
            )
        else:
            await self._loop.stop(timeout_s)
