"""The analytics client: event types, context, opt-in and shippers (spec section 1).

Ports ``ebt:src/client/src/analytics_client/analytics_client.ts``. ``report_event`` follows
Kibana's order of operations (spec 1.3) and is synchronous: it never awaits, never does I/O, and
outside dev mode never raises. From a thread other than the client's event loop it hands the
event to the loop with ``call_soon_threadsafe`` (the timestamp is taken first, in the caller).
Beyond Kibana (docs/events.md): the pre-opt-in queue is bounded and also holds events reported
after ``opt_in(True)`` until the first shipper exists; every event is validated against its
schema, and a breaking one is dropped with a counter and logged once per event type.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from telemetry_service.common.clock import Clock, utc_now

from .context import ContextService, ContextSource
from .counters import CounterStream, CounterType, DropReason, TelemetryCounter
from .events import Event, EventContext, TimestampFormatter
from .opt_in import OptInConfig
from .queue import PRE_OPT_IN_QUEUE_LIMIT, PreOptInQueue
from .registry import ShipperRegistry
from .schema import SchemaValidationError, Validator, compile_schema
from .shipper import Shipper, ShipperContext

__all__ = ["AnalyticsClient"]

C = TypeVar("C")
S = TypeVar("S", bound=Shipper)


class AnalyticsClient:
    """One per process (Kibana's ``createAnalytics``); usable with or without the platform."""

    def __init__(
        self,
        *,
        is_dev: bool = False,
        logger: logging.Logger | None = None,
        clock: Clock = utc_now,
        get_trace_context: Callable[[], Mapping[str, Any] | None] | None = None,
        pre_opt_in_queue_limit: int = PRE_OPT_IN_QUEUE_LIMIT,
    ) -> None:
        self.is_dev = is_dev
        self._log = logger or logging.getLogger("telemetry_service.analytics")
        # The real clock is read as a float: it is the costliest step of report_event.
        self._clock: Callable[[], Any] = time.time if clock is utc_now else clock
        self._timestamp = TimestampFormatter()
        self._trace = get_trace_context
        self._lock = threading.RLock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._event_types: dict[str, Validator] = {}
        self._schemas: dict[str, Mapping[str, Any]] = {}
        self._shippers = ShipperRegistry(self._log)
        self._opt_in: OptInConfig | None = None
        self._context_spread = False
        self._queue = PreOptInQueue(pre_opt_in_queue_limit)
        self._warned: set[tuple[str, str]] = set()
        #: The opted-in shippers of each event type under the current config and shippers.
        self._routes: dict[str, list[tuple[str, Shipper]]] = {}
        self._closed = False
        #: Every counter of the client and its shippers (Kibana's ``telemetryCounter$``).
        self.telemetry_counters = CounterStream()
        self._context = ContextService(self._context_changed)
        self._bind_loop()

    # -- registration ------------------------------------------------------------------------

    def register_event_type(self, event_type: str, schema: Mapping[str, Any]) -> None:
        """Store the type and compile its schema; a duplicate or malformed schema raises."""
        with self._lock:
            if event_type in self._event_types:
                raise ValueError(f'Event Type "{event_type}" is already registered.')
            self._event_types[event_type] = compile_schema(schema, f"Event Type '{event_type}'")
            self._schemas[event_type] = schema

    @property
    def event_types(self) -> Mapping[str, Mapping[str, Any]]:
        """Every registered event type with its schema, in registration order (ours)."""
        return dict(self._schemas)

    def register_context_provider(
        self,
        name: str,
        context: Mapping[str, Any] | ContextSource,
        schema: Mapping[str, Any] | None = None,
    ) -> None:
        """Subscribe to a context source (spec 1.6); a duplicate name raises."""
        with self._lock:
            self._context.register(name, context, schema)

    def remove_context_provider(self, name: str) -> None:
        """Forget a provider and its keys; the name can be registered again (ebt 1.4.1)."""
        with self._lock:
            self._context.remove(name)

    def register_shipper(
        self,
        shipper_class: Callable[[C, ShipperContext], S],
        config: C,
        *,
        exclusive_event_types: Sequence[str] = (),
    ) -> S:
        """Build ``shipper_class(config, context)`` and wire it in (spec 1.7); returns it."""
        name: str = getattr(shipper_class, "shipper_name", getattr(shipper_class, "__name__", ""))
        with self._lock:
            self._bind_loop()
            self._shippers.check_free(name, exclusive_event_types)
            logger = self._log.getChild(f"shipper.{name}")
            shipper = shipper_class(config, ShipperContext(logger=logger, is_dev=self.is_dev))
            self._shippers.add(name, shipper, exclusive_event_types)
            self._routes = {}

            def forward(counter: TelemetryCounter) -> None:
                self.telemetry_counters.emit(dataclasses.replace(counter, source=name))

            shipper.telemetry_counters.subscribe(forward)
            if self._opt_in is not None:  # replay the latest config and context to a latecomer
                self._shippers.push_opt_in(name, shipper, self._opt_in)
                self._shippers.extend(name, shipper, self._context.context)
            self._forward_queue()
            return shipper

    # -- consent -----------------------------------------------------------------------------

    def opt_in(self, config: Mapping[str, Any]) -> None:
        """Replace the whole opt-in config (no merge) and push it to every shipper (spec 1.5)."""
        parsed = OptInConfig(config)
        with self._lock:
            self._bind_loop()
            self._opt_in = parsed
            self._routes = {}
            for name, shipper in self._shippers.all():
                self._shippers.push_opt_in(name, shipper, parsed)
            self._forward_queue()

    @property
    def context(self) -> EventContext:
        """The global context now (the one the next event carries)."""
        return self._context.context

    @property
    def queued(self) -> int:
        """Events waiting in the pre-opt-in queue."""
        return len(self._queue)

    # -- reporting ---------------------------------------------------------------------------

    def report_event(self, event_type: str, properties: Mapping[str, Any]) -> None:
        """Report one event (spec 1.3); synchronous, non-blocking, safe from any thread: on the
        client's loop without a lock, from another thread handed to the loop (or, without a
        loop, reported under the lock)."""
        now = self._clock()
        if threading.get_ident() == self._loop_thread:
            self._report_now(event_type, properties, now)
            return
        loop = self._loop
        if loop is not None:
            try:
                loop.call_soon_threadsafe(self._report_now, event_type, properties, now)
                return
            except RuntimeError:  # the loop is closed: report in this thread
                pass
        with self._lock:
            self._report_now(event_type, properties, now)

    def _report_now(self, event_type: str, properties: Mapping[str, Any], now: Any) -> None:
        if self._closed:
            return
        try:
            self._report(event_type, properties, self._timestamp(now))
        except Exception:
            if self.is_dev:
                raise
            self._warn_once(event_type, "failed", "Failed to report event %r", exc_info=True)

    def _report(self, event_type: str, properties: Mapping[str, Any], timestamp: str) -> None:
        counters = self.telemetry_counters
        observed = counters.observed
        if observed:
            counters.emit(TelemetryCounter("enqueued", "client", event_type, "enqueued"))
        validator = self._event_types.get(event_type)
        if validator is None:
            self._count("dropped", event_type, DropReason.UNREGISTERED_TYPE)
            message = (
                f'Attempted to report event type "{event_type}", before registering it. '
                'Use the "registerEventType" API to register it.'
            )
            self._warn_once(event_type, "unregistered", "%s", message)
            if self.is_dev:
                raise ValueError(message)
            return
        quick = validator.quick
        if not (quick is not None and quick(properties)) and not validator.is_valid(properties):
            self._count("dropped", event_type, DropReason.SCHEMA_VIOLATION)
            error = SchemaValidationError(validator.source, validator.problems(properties))
            self._warn_once(event_type, "schema", "Event dropped: %s", str(error))
            if self.is_dev:
                raise error
            return
        event: Event = {
            "timestamp": timestamp,
            "event_type": event_type,
            "context": self._context.context,
            "properties": properties,
        }
        if self._trace is not None:
            event["trace"] = self._trace() or {}
        if self._log.isEnabledFor(logging.DEBUG):
            self._log.debug('Report event "%s"', event_type, extra={"ebt_event": event})
        route = self._routes.get(event_type)
        config = self._opt_in
        if route is None and config is not None and self._shippers:
            route = self._routes[event_type] = self._shippers.route(config, event_type)
        if route is not None:
            if route and self._shippers.deliver(route, event_type, [event]) and observed:
                counters.emit(TelemetryCounter("sent_to_shipper", "client", event_type, "OK"))
            return
        if config is not None and not config.is_event_type_opted_in(event_type):
            return  # opted out: gone, silently (Kibana)
        if not self._queue.offer(event):
            self._count("dropped", event_type, DropReason.QUEUE_FULL)
            self._warn_once(event_type, "queue", "Pre-opt-in queue full; dropping events")

    # -- forwarding --------------------------------------------------------------------------

    def _forward_queue(self) -> None:
        """Kibana's readiness drain (spec 1.4), run synchronously after opt-in or a shipper.

        Opted out: the queue is discarded. Opted in with a shipper: the context is spread once,
        then queued events go out per type in batches of at most 1000.
        """
        config = self._opt_in
        if config is None:
            return
        if not config.is_opted_in():
            self._queue.clear()
            return
        if not self._shippers:
            return
        if not self._context_spread:
            self._context_spread = True
            self._context_changed(self._context.context)
        for event_type, batch in self._queue.drain(config.is_event_type_opted_in):
            self._send(config, event_type, batch)

    def _send(self, config: OptInConfig, event_type: str, events: list[Event]) -> None:
        route = self._shippers.route(config, event_type)
        if route and self._shippers.deliver(route, event_type, events):
            self._count("sent_to_shipper", event_type, "OK", len(events))

    def _context_changed(self, context: EventContext) -> None:
        if self._opt_in is None:  # Kibana's skipWhile(!optInConfig)
            return
        for name, shipper in self._shippers.all():
            self._shippers.extend(name, shipper, context)

    def _count(self, kind: CounterType, event_type: str, code: str, count: int = 1) -> None:
        if self.telemetry_counters.observed:
            self.telemetry_counters.emit(TelemetryCounter(kind, "client", event_type, code, count))

    def _warn_once(self, event_type: str, what: str, message: str, *args: Any, **kw: Any) -> None:
        """A misbehaving producer is logged once per event type and problem, not per event."""
        if (event_type, what) in self._warned:
            return
        self._warned.add((event_type, what))
        self._log.warning(message + " (event type %r; logged once)", *args, event_type, **kw)

    def _bind_loop(self) -> None:
        if self._loop is not None and not self._loop.is_closed():
            return
        try:
            self._loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._loop_thread = threading.get_ident()

    # -- lifecycle ---------------------------------------------------------------------------

    async def flush(self) -> None:
        """Flush every shipper in parallel; a failure is logged and swallowed."""
        self._bind_loop()
        await self._shippers.flush()

    async def shutdown(self) -> None:
        """Flush, shut every shipper down (errors logged), then close the streams."""
        await self.flush()
        await self._shippers.shutdown()
        with self._lock:
            self._closed = True
            self._context.close()
            self.telemetry_counters.close()
