"""The telemetry plugin's side of event-based telemetry (spec 4.1): consent drives
``core.analytics``, the Elastic V3 server shipper goes to the configured endpoint, and
``telemetry.labels`` becomes ``context.labels``.

The effective consent (every rule, the lock, ``telemetry.enabled``, the environment) becomes
``opt_in({"global": {"enabled": ...}})`` whenever it is computed: at start, at every opt-in poll
and when the routes or the CLI change it. Until the first decision nothing is pushed, so events
wait in the client's bounded queue; a decision that becomes undecided again counts as opted out.
A running host keeps its shipper's state in the store (``telemetry-events``, one object per
instance), where ``telemetry status`` reads it.

The shipper reaches the vendor as the snapshot sender does: through a client built like the
sender's (``telemetry.proxy``, ``telemetry.ssl``, ``telemetry.timeouts.connect``/``.read``), with
``telemetry.timeouts.send`` as the deadline of each request and ``telemetry.maxResponseBytes``
as the most of an answer it reads (read when the shipper is registered, at start).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import httpx

from telemetry_service.common.clock import Clock, to_ms
from telemetry_service.common.periodic import PeriodicTask
from telemetry_service.core import SavedObjectNotFoundError, SavedObjectStore, StoreError
from telemetry_service.ebt import AnalyticsClient, ContextValue
from telemetry_service.ebt.shippers import ElasticV3ServerShipper, ElasticV3ServerShipperConfig

from .config import TelemetryConfig
from .endpoints import get_base_url, is_placeholder_endpoint
from .sender import build_client

__all__ = ["EVENTS_STATE_TYPE", "ClientTransport", "EventTelemetry", "read_events_state"]

EVENTS_STATE_TYPE = "telemetry-events"
SAVE_INTERVAL_S = 10.0
_LABELS_SCHEMA = {
    "labels": {"type": "pass_through", "_meta": {"description": "telemetry.labels."}},
}


def _labels(config: TelemetryConfig) -> dict[str, Any]:
    return {"labels": config.labels.model_dump(by_alias=True, exclude_none=True)}


class ClientTransport(httpx.AsyncBaseTransport):
    """Sends each request through a client of the snapshot sender's :func:`.build_client`
    (``telemetry.proxy`` with ``noProxy``, ``telemetry.ssl``, the connect and read timeouts),
    built at the first request and closed with the transport."""

    def __init__(self, config: TelemetryConfig) -> None:
        self._config = config
        self._client: httpx.AsyncClient | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._client is None:
            self._client = build_client(self._config)
        request.extensions = {**request.extensions, "timeout": self._client.timeout.as_dict()}
        return await self._client.send(request, stream=True)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()


class EventTelemetry:
    def __init__(
        self,
        analytics: AnalyticsClient,
        config: Callable[[], TelemetryConfig],
        *,
        version: str,
        store: SavedObjectStore,
        instance_uuid: str,
        clock: Clock,
        logger: logging.Logger,
        debug_print: Callable[[str], None] = print,
    ) -> None:
        self._analytics = analytics
        self._config = config
        self._version = version
        self._store = store
        self._instance = instance_uuid
        self._clock = clock
        self._log = logger
        self._debug_print = debug_print
        self._pushed: bool | None = None
        self.shipper: ElasticV3ServerShipper | None = None
        self._labels = ContextValue(_labels(config()))
        analytics.register_context_provider("telemetry labels", self._labels, _LABELS_SCHEMA)
        self._saved: dict[str, Any] | None = None
        self._saver = PeriodicTask(
            "telemetry events state", self._save_step, log=logger, first_delay=SAVE_INTERVAL_S
        )

    def register_shipper(self) -> None:
        """The Elastic V3 server shipper on ``{endpoint}v3/send/{product}-server``, with the
        snapshot sender's network settings and limits; none while the endpoint is the shipped
        placeholder (nothing could be delivered)."""
        config = self._config()
        if is_placeholder_endpoint(config):
            self._log.info("telemetry.endpoints is a placeholder: events are not shipped")
            return
        self.shipper = self._analytics.register_shipper(
            ElasticV3ServerShipper,
            ElasticV3ServerShipperConfig(
                base_url=get_base_url(config, config.send_usage_to),
                version=self._version,
                product=config.product,
                transport=ClientTransport(config),
                timeout_s=config.timeouts.send,
                max_response_bytes=config.max_response_bytes,
                print_to=self._print if config.debug else None,
            ),
        )

    def _print(self, ndjson: str) -> None:
        self._debug_print(f"telemetry.debug: events printed, not sent:\n{ndjson.rstrip()}")

    def apply(self, consent: bool | None) -> None:
        """Push the effective consent to the client when it changed (``None``: undecided)."""
        labels = _labels(self._config())
        if labels != self._labels.value:
            self._labels.set(labels)
        enabled = consent if consent is not None else (False if self._pushed else None)
        if enabled is None or enabled == self._pushed:
            return
        self._pushed = enabled
        try:
            self._analytics.opt_in({"global": {"enabled": enabled}})
        except Exception as exc:  # pragma: no cover - the client guards its shippers
            self._log.warning("applying the opt-in to analytics failed: %s", type(exc).__name__)

    def state(self) -> dict[str, Any]:
        """The shipper's state now, for ``telemetry status``."""
        if self.shipper is None:
            return {"shipper": None, "queuedBeforeOptIn": self._analytics.queued}
        shipper = {"url": self.shipper.url, **self.shipper.state()}
        return {"shipper": shipper, "queuedBeforeOptIn": self._analytics.queued}

    async def status(self) -> dict[str, Any]:
        """Live when this process ships events; otherwise what the running host last saved."""
        if self.shipper is not None:
            return {**self.state(), "updatedAt": to_ms(self._clock())}
        saved = await read_events_state(self._store, self._instance)
        return saved if saved is not None else {"shipper": None, "updatedAt": None}

    def start(self) -> None:
        self._saver.start()

    async def stop(self) -> None:
        await self._saver.stop()
        await self._save()

    async def _save_step(self) -> float:
        await self._save()
        return SAVE_INTERVAL_S

    async def _save(self) -> None:
        state = self.state()
        if state == self._saved or self.shipper is None:
            return
        document = {**state, "updatedAt": to_ms(self._clock())}
        try:
            await self._store.create(
                EVENTS_STATE_TYPE, document, id_=self._instance, overwrite=True
            )
            self._saved = state
        except StoreError as exc:
            self._log.debug("saving the events state skipped: %s", type(exc).__name__)


async def read_events_state(store: SavedObjectStore, instance_uuid: str) -> dict[str, Any] | None:
    """What the running host last saved of its shipper, or None."""
    try:
        return dict((await store.get(EVENTS_STATE_TYPE, instance_uuid)).attributes)
    except SavedObjectNotFoundError:
        return None
