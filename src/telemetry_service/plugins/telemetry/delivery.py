"""Delivering reports: the snapshot and the opt-in status channels, debug printing, the send
history and the air-gapped export. When to deliver is :mod:`.fetcher`'s decision."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from telemetry_service.common.clock import to_ms
from telemetry_service.core import StoreError
from telemetry_service.plugins.telemetry_collection_manager import (
    EncryptionUnavailableError,
    TelemetryCollectionManager,
    accepts_json_bytes,
)
from telemetry_service.wire import compact_json
from telemetry_service.wire.protocol import (
    ChannelKind,
    channel_name,
    export_document,
    report_headers,
)

from .endpoints import get_opt_in_status_url, get_telemetry_url, is_placeholder_endpoint
from .history import SendHistory, SendRecord, payload_digest
from .sender import SendOutcome, TelemetrySender
from .state import TelemetryState

__all__ = ["NO_MANAGER", "Delivery", "SendReport"]

NO_MANAGER = "the telemetry_collection_manager plugin is not enabled"
PRINTED = "telemetry.debug is on: printed, not sent"


@dataclass(frozen=True)
class SendReport:
    """What one send did, for the CLI and the logs."""

    sent: bool
    reason: str
    outcomes: tuple[SendOutcome, ...] = ()
    printed: bool = False
    """``telemetry.debug``: the payload was printed, not sent."""


@dataclass(kw_only=True)
class Delivery:
    state: TelemetryState
    manager: TelemetryCollectionManager | None
    sender: TelemetrySender
    history: SendHistory
    log: logging.Logger
    debug_print: Callable[[str], None] = print
    tasks: set[asyncio.Task[SendReport]] = field(default_factory=set)
    """Opt-in status reports in flight (cancelled when the plugin stops)."""

    async def snapshot(self) -> SendReport:
        """Build, encrypt and post the snapshot (or print it in debug mode); on success store
        ``lastReported`` and reset the failure count."""
        manager = self.manager
        if manager is None:
            return SendReport(False, NO_MANAGER)
        url = str(get_telemetry_url(self.state.config()))
        try:
            stats = await manager.get_unencrypted_stats()
        except Exception as exc:
            self.log.warning("Error fetching usage. (%s: %s)", type(exc).__name__, str(exc)[:200])
            return SendReport(False, f"building the payload failed: {type(exc).__name__}")
        if self.state.debug():
            for item in stats:
                text = orjson.dumps(item["stats"], option=orjson.OPT_INDENT_2).decode()
                self.debug_print(f"telemetry.debug: snapshot printed, not sent:\n{text}")
                digest = await asyncio.to_thread(_digest_of, item["stats"])
                await self._record(item, "snapshot", url, "debug: printed, not sent", 0, digest)
            return SendReport(True, PRINTED, printed=True)
        try:
            outcomes = await self._post_each(manager, stats, "snapshot", url)
        except EncryptionUnavailableError as exc:
            self.log.warning("Cannot encrypt telemetry: %s", exc)
            return SendReport(False, f"cannot encrypt: {exc}")
        failed = next((o for o in outcomes if not o.answered), None)
        failed = failed or next((o for o in outcomes if not o.ok), None)
        if failed is not None:
            self.log.warning(
                "Error sending usage to the telemetry endpoint. (%s)", failed.describe()
            )
            if failed.answered:  # reachable: Kibana's fetcher resets the failure count
                await self._reset_failures()
                return SendReport(False, f"the endpoint answered {failed.describe()}", outcomes)
            return SendReport(False, f"could not reach the endpoint: {failed.describe()}", outcomes)
        try:
            now = to_ms(self.state.clock())
            await self.state.update({"reportFailureCount": 0, "lastReported": now})
        except StoreError as exc:
            self.log.warning("snapshot sent but lastReported not stored: %s", type(exc).__name__)
        return SendReport(True, "sent", outcomes)

    async def export(self) -> list[dict[str, Any]]:
        """The encrypted snapshot with its URL and headers, for sites without a network path
        to the endpoint (``receiver import`` takes it). Needs consent, like sending."""
        consent = await self.state.consent()
        if consent.value is not True:
            raise PermissionError(f"not opted in ({consent.reason})")
        manager = self.manager
        if manager is None:
            raise PermissionError(NO_MANAGER)
        url = str(get_telemetry_url(self.state.config()))
        documents = []
        for item in await manager.get_unencrypted_stats(refresh_cache=True):
            body, digest = await self._seal(manager, item["stats"])
            headers = report_headers(self.state.version, item["clusterUuid"])
            exported_at = self.state.clock().isoformat()
            documents.append(export_document(url, headers, body.decode("ascii"), exported_at))
            await self._record(item, "snapshot", url, "exported to a file", len(body), digest)
        return documents

    def notify_opt_in_change(self, enabled: bool) -> None:
        """Post ``{cluster_uuid, opt_in_status}`` in the background (best effort, not awaited)."""
        task = asyncio.create_task(self.opt_in_status(enabled))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def opt_in_status(self, enabled: bool) -> SendReport:
        """Kibana's optIn route reports when the *config's* ``sendUsageFrom`` is ``server``; a
        legacy stored value does not count (``T/server/routes/telemetry_opt_in.ts``)."""
        config = self.state.config()
        if config.send_usage_from != "server":
            return SendReport(False, "telemetry.sendUsageFrom is browser")
        manager = self.manager
        if manager is None or (is_placeholder_endpoint(config) and not self.state.debug()):
            return SendReport(False, "telemetry.endpoints are not configured")
        url = str(get_opt_in_status_url(config))
        try:
            stats = await manager.get_opt_in_stats(enabled, unencrypted=True)
            if self.state.debug():
                for item in stats:
                    text = orjson.dumps(item["stats"]).decode()
                    self.debug_print(f"telemetry.debug: opt-in status printed, not sent: {text}")
                return SendReport(True, PRINTED, printed=True)
            outcomes = await self._post_each(manager, stats, "opt-in-reports", url)
        except Exception as exc:
            self._warn_opt_in(type(exc).__name__)
            return SendReport(False, f"{type(exc).__name__}")
        failed = next((o for o in outcomes if not o.ok), None)
        if failed is not None:
            self._warn_opt_in(failed.describe())
        return SendReport(failed is None, "sent" if failed is None else "failed", outcomes)

    async def _reset_failures(self) -> None:
        """Only connection failures count towards the 3-failures stop (Kibana's fetcher
        counts a throw of ``fetch``, never an HTTP status), so an answer resets the count."""
        try:
            await self.state.update({"reportFailureCount": 0})
        except StoreError as exc:
            self.log.debug("failure count not reset: %s", type(exc).__name__)

    def _warn_opt_in(self, detail: str) -> None:
        self.log.warning(
            "Failed to notify the telemetry endpoint about the opt-in selection. "
            "Possibly blocked by a firewall? - %s",
            detail,
        )

    async def _post_each(
        self,
        manager: TelemetryCollectionManager,
        stats: list[dict[str, Any]],
        kind: ChannelKind,
        url: str,
    ) -> tuple[SendOutcome, ...]:
        """Encrypt and post each cluster's payload, recording each in the history."""
        outcomes = []
        for item in stats:
            body, digest = await self._seal(manager, item["stats"])
            headers = report_headers(self.state.version, item["clusterUuid"])
            outcome = await self.sender.post(url, body, headers)
            outcomes.append(outcome)
            await self._record(item, kind, url, outcome.describe(), len(body), digest)
        return tuple(outcomes)

    @staticmethod
    async def _seal(manager: TelemetryCollectionManager, payload: object) -> tuple[bytes, str]:
        """The HTTP body (ASCII bytes) and the history's digest of `payload`, made in one worker
        thread: the payload is serialized once (in pieces, so that the thread never holds the
        GIL long), and for an encrypter that `accepts_json_bytes` (ours) those bytes are both
        encrypted and hashed; any other encrypter gets the payload object, as its contract
        says. The body of megabytes is encoded there too, not on the loop."""
        encrypter = manager.installed_encrypter()
        as_bytes = accepts_json_bytes(encrypter)

        def seal() -> tuple[bytes, str]:
            payload_json = compact_json(payload)
            sealed = encrypter(payload_json if as_bytes else payload)
            return sealed.encode("ascii"), payload_digest(payload_json)

        return await asyncio.to_thread(seal)

    async def _record(
        self,
        item: dict[str, Any],
        kind: ChannelKind,
        url: str,
        status: str,
        size: int,
        digest: str,
    ) -> None:
        """Add a send to the history; `digest` is :func:`payload_digest` of the payload."""
        record = SendRecord(
            timestamp=self.state.clock().isoformat(),
            channel=channel_name(self.state.config().product, kind),
            url=url,
            size=size,
            status=status,
            payload_sha256=digest,
            cluster_uuid=str(item["clusterUuid"]),
        )
        try:
            await self.history.record(record, self.state.clock())
        except StoreError as exc:
            self.log.debug("send history not recorded: %s", type(exc).__name__)


def _digest_of(payload: object) -> str:
    """The send history's digest of a payload (its compact JSON)."""
    return payload_digest(compact_json(payload))
