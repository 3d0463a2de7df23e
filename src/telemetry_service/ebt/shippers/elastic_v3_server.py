"""``ElasticV3ServerShipper``: events as NDJSON to ``{base}v3/send/{product}-server`` (spec 2.2).

Ports ``ebt:src/shippers/elastic_v3/server/src/server_shipper.ts``: a bounded queue (10,000),
a 1 s tick sending at most every 10 s (the whole queue under 10 KiB, else a >= 10 KiB batch),
an ``OPTIONS`` connectivity check before anything is sent (on opt-in and every minute, back-off
doubling to 1 h), a 24 h offline limit after which the queue is emptied and new events refused,
and while opted out no network call at all. Beyond Kibana: retries (``send_policy``), a batch
id header, a :class:`ShipperStatus` for ``telemetry status``, and ``print_to``, which prints
each batch instead of sending it (``telemetry.debug``). Every request has a total deadline and
reads at most a few KiB of its answer (:mod:`.bounded_request`); the last flush at shutdown is
bounded too. Clock, sleep and transport are injected.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any

import httpx

from telemetry_service.common.clock import to_ms
from telemetry_service.wire.protocol import channel_url, event_headers

from ..counters import CounterType, TelemetryCounter
from ..events import Event
from ..shipper import Shipper, ShipperContext
from . import send_policy as policy
from .bounded_request import BoundedAnswer, bounded_request
from .elastic_v3_config import ElasticV3ServerShipperConfig
from .event_queue import Batch, EventQueue
from .status import ShipperStatus

__all__ = ["ElasticV3ServerShipper", "ElasticV3ServerShipperConfig"]


class ElasticV3ServerShipper(Shipper):
    shipper_name = "elastic_v3_server"

    def __init__(self, config: ElasticV3ServerShipperConfig, context: ShipperContext) -> None:
        super().__init__(context)
        self.config = config
        self.url = channel_url(config.base_url, config.product, "server")
        self._log = context.logger
        self.queue = EventQueue(config.queue_cap)
        self.retry: Batch | None = None
        self.is_opted_in: bool | None = None
        self.online = False  # with offline_since None: connectivity unknown (Kibana: undefined)
        self.offline_since: float | None = None
        self.cluster_uuid: str | None = None
        self.license_id: str | None = None
        self.last_batch_sent = self._now()
        self._backoff = policy.CONNECTIVITY_INTERVAL_S
        self._next_check = 0.0
        self._check_task: asyncio.Task[None] | None = None
        self._abandoned_check: asyncio.Task[None] | None = None
        self._send_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._http: httpx.AsyncClient | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._shut_down = False
        self.status = ShipperStatus(config.clock)
        self.telemetry_counters.subscribe(self.status.record)
        self._start()

    # -- the Shipper contract ----------------------------------------------------------------

    def report_events(self, events: Sequence[Event]) -> None:
        """Queue events; refused while opted out or after 24 h offline; overflow is counted."""
        if self.is_opted_in is False or (self.offline_since is not None and self._given_up()):
            return
        refused = self.queue.add(events)
        if refused is not None:
            self._count(refused, "dropped", "queue_full")
        if self._ticker is None:
            self._start()

    def opt_in(self, is_opted_in: bool) -> None:
        """Store the answer; opted out empties the queue, opted in checks connectivity now."""
        self.is_opted_in = is_opted_in
        if not is_opted_in:
            self._discard_all()
            return
        self._next_check = 0.0
        self._start()
        self._maybe_check()

    def extend_context(self, context: Mapping[str, Any]) -> None:
        """Learn ``cluster_uuid`` and ``license_id``; only truthy values overwrite."""
        if context.get("cluster_uuid"):
            self.cluster_uuid = str(context["cluster_uuid"])
        if context.get("license_id"):
            self.license_id = str(context["license_id"])

    async def flush(self) -> None:
        """Send everything sendable now (whole queue, one request) and wait for it.

        Ours: a connectivity check in flight (or due) is awaited first (once, up to
        ``flush_wait_s``), so a short-lived program that opts in, reports and flushes does not
        lose its events (cf. kibana #135647).
        """
        if self._shut_down:
            return
        self._start()
        if self.is_opted_in is True and not self.online:
            if self._check_task is None:
                self._maybe_check()
            check = self._check_task
            if check is not None and check is not self._abandoned_check:
                try:
                    async with asyncio.timeout(self.config.flush_wait_s):
                        await asyncio.shield(check)
                except TimeoutError:  # a hanging endpoint holds neither this flush nor the next
                    self._abandoned_check = check
        await self._send(flush=True)

    async def shutdown(self) -> None:
        """One last flush, then stop the tick and close the HTTP client."""
        if self._shut_down:
            return
        try:
            async with asyncio.timeout(self.config.flush_wait_s):
                await self.flush()
        except TimeoutError:
            self._log.warning("events not flushed within %gs at shutdown", self.config.flush_wait_s)
        self._shut_down = True
        for task in [*self._tasks, *([self._ticker] if self._ticker else [])]:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._ticker is not None:
            await asyncio.gather(self._ticker, return_exceptions=True)
        if self._http is not None:
            await self._http.aclose()

    # -- the tick ----------------------------------------------------------------------------

    def _start(self) -> None:
        if self._ticker is not None or self._shut_down:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # started by the first call made inside a running loop
        self._http = httpx.AsyncClient(
            transport=self.config.transport, timeout=self.config.timeout_s
        )
        self._ticker = loop.create_task(self._tick_forever())

    async def _tick_forever(self) -> None:
        while not self._shut_down:
            self._maybe_check()
            now = self._now()
            retry_due = self.retry is not None and now >= self.retry.not_before
            due = now - self.last_batch_sent >= policy.MIN_TIME_SINCE_LAST_SEND_S or retry_due
            if due and not self._send_lock.locked() and self._can_send():
                self._spawn(self._send(flush=False))
            await self.config.sleep(policy.TICK_S)

    def _spawn(self, work: Awaitable[None]) -> asyncio.Task[None]:
        async def run() -> None:
            try:
                await work
            except Exception:  # pragma: no cover - _send and _check catch their own errors
                self._log.exception("Elastic V3 server shipper task failed")

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- sending -----------------------------------------------------------------------------

    def _can_send(self) -> bool:
        """Kibana's gate: opted in, connectivity confirmed, something to send."""
        return self.is_opted_in is True and self.online and (bool(self.queue) or bool(self.retry))

    async def _send(self, flush: bool) -> None:
        async with self._send_lock:
            while self._can_send():
                batch = self._next_batch(flush)
                if batch is None:
                    return
                await self._post(batch)
                if not flush or self.retry is not None:
                    return

    def _next_batch(self, flush: bool) -> Batch | None:
        if self.retry is not None:  # a retried batch goes first, and not before its time
            return self.retry if self._now() >= self.retry.not_before else None
        return self.queue.take(self.config.new_batch_id(), whole=flush)

    async def _post(self, batch: Batch) -> None:
        assert self._http is not None
        self.last_batch_sent = self._now()
        headers = event_headers(self.cluster_uuid, self.config.version, self.license_id)
        headers[policy.BATCH_ID_HEADER] = batch.batch_id
        if self.config.print_to is not None:
            self.config.print_to(batch.body.decode())
            self._count(batch.types, "succeeded", "printed")
            return
        try:
            response = await self._request("POST", content=batch.body, headers=headers)
        except Exception as exc:  # network failure: Kibana's code is the error message
            self._failed(batch, None, str(exc) or type(exc).__name__, None)
            return
        if self.config.debug:
            self._log.debug("%s - %s", response.status_code, response.text)
        if response.is_success:
            self._settle(batch)
            self._count(batch.types, "succeeded", str(response.status_code))
            return
        after = policy.parse_retry_after(response.headers.get("retry-after"), self.config.clock())
        self._failed(batch, response.status_code, str(response.status_code), after)

    def _failed(self, batch: Batch, status: int | None, code: str, after: float | None) -> None:
        """Kibana: a failure makes connectivity unknown again. Ours: retry if retryable."""
        self.online = False
        self.offline_since = None
        self._next_check = self._now() + policy.CONNECTIVITY_INTERVAL_S
        batch.attempts += 1
        if policy.is_retryable(status) and batch.attempts < policy.MAX_ATTEMPTS:
            batch.not_before = self._now() + policy.retry_delay(batch.attempts, after)
            self.retry = batch
            self.queue.held = len(batch)
            self._log.info("Events batch failed (%s); retry %d scheduled", code, batch.attempts)
            return
        self._settle(batch)
        self._count(batch.types, "failed", code)

    def _settle(self, batch: Batch) -> None:
        if self.retry is batch:
            self.retry = None
            self.queue.held = 0

    def _discard_all(self) -> None:
        self.queue.clear()
        self.retry = None
        self.queue.held = 0

    # -- connectivity ------------------------------------------------------------------------

    def _maybe_check(self) -> None:
        """Check only while opted in and not known online, one at a time, when due."""
        if self.is_opted_in is not True or self.online or self._check_task or self._shut_down:
            return
        if self._now() < self._next_check or self._http is None:
            return
        self._check_task = self._spawn(self._check())

    async def _check(self) -> None:
        assert self._http is not None
        try:
            printing = self.config.print_to is not None
            ok = printing or (await self._request("OPTIONS")).is_success
        except Exception:
            ok = False
        finally:
            self._check_task = None
        now = self._now()
        if ok:
            self.online, self.offline_since = True, None
            self._backoff = policy.CONNECTIVITY_INTERVAL_S
            return
        if self.offline_since is None:
            self.offline_since = now
        elif self._given_up():
            self._discard_all()
        self._backoff = policy.next_backoff(self._backoff)
        self._next_check = now + self._backoff

    def _given_up(self) -> bool:
        since = self.offline_since
        return since is not None and self._now() - since > policy.OFFLINE_GIVE_UP_S

    # -- helpers -----------------------------------------------------------------------------
    async def _request(self, method: str, **kwargs: Any) -> BoundedAnswer:
        assert self._http is not None
        cap = self.config.max_response_bytes
        return await bounded_request(
            self._http, method, self.url, deadline_s=self.config.timeout_s, max_bytes=cap, **kwargs
        )

    def state(self) -> dict[str, object]:
        """What ``telemetry status`` shows: the queue, the connection, the last send, counts."""
        queued = len(self.queue) + (len(self.retry) if self.retry else 0)
        return self.status.to_json(queued=queued, opted_in=self.is_opted_in, online=self.online)

    def _now(self) -> float:
        return to_ms(self.config.clock()) / 1000

    def _count(self, types: Counter[str], kind: CounterType, code: str) -> None:
        """One counter per event type in the batch (``report_telemetry_counters.ts``)."""
        for event_type, count in types.items():
            counter = TelemetryCounter(kind, self.shipper_name, event_type, code, count)
            self.telemetry_counters.emit(counter)
