"""Runs one consent combination through the host's real consent, sender and event pieces.

What is real: the ``telemetry`` saved object in a real SQLite store (``core.open_store``), the
config parsed by ``TelemetryConfig`` (Kibana's ``enabled: false`` meta rule included), the
plugin's ``TelemetryState`` (its consent decision with the environment), ``OptInWatcher`` (the
``get_is_opted_in()`` value, which drives ``EventTelemetry.apply`` and so the analytics
client's ``opt_in``), ``FetcherTask`` with ``Delivery`` and ``TelemetrySender`` (the daily
sender: its connectivity check, lease, payload from the platform's real
``telemetry_collection_manager`` and real encryption), ``TelemetryAdmin.set_opt_in`` (what
``POST /internal/telemetry/optIn`` and the CLI call) with its opt-in status report, a fresh
``AnalyticsClient`` and ``ElasticV3ServerShipper``, and HTTP to a ``CaptureServer`` on
127.0.0.1. Time is a ``FakeClock`` moved by the test (the sender's waits are ``FakeSleep``).
Combinations run side by side on lanes; each lane has its own store and clock (so its own
saved object and send lease) and runs one combination at a time; each combination posts under
its own path prefix (``/c{index}/``), so every request is attributed to exactly one of them.

What is not the plugin's own wiring: these pieces are constructed here, per combination,
instead of by ``TelemetryPlugin.setup`` (a platform per combination would take minutes); the
shipper gets a plain-HTTP transport (``verify=False``: the endpoint is ``http://127.0.0.1``)
because building httpx's default TLS context costs about 0.1 s on the loaded 2-core machine;
``set_opt_in`` waits for the opt-in status report instead of leaving it in the background.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from telemetry_service.core import SavedObjectNotFoundError, SavedObjectStore
from telemetry_service.ebt import AnalyticsClient
from telemetry_service.ebt.shippers import ElasticV3ServerShipper, ElasticV3ServerShipperConfig
from telemetry_service.plugins.telemetry.admin import TelemetryAdmin
from telemetry_service.plugins.telemetry.config import TelemetryConfig
from telemetry_service.plugins.telemetry.delivery import Delivery
from telemetry_service.plugins.telemetry.events import EventTelemetry
from telemetry_service.plugins.telemetry.fetcher import FetcherTask
from telemetry_service.plugins.telemetry.history import SendHistory
from telemetry_service.plugins.telemetry.opt_in_watcher import OptInWatcher
from telemetry_service.plugins.telemetry.sender import TelemetrySender
from telemetry_service.plugins.telemetry.state import OptInLockedError, TelemetryState
from telemetry_service.plugins.telemetry_collection_manager import TelemetryCollectionManager
from telemetry_service.testing import Captured, CaptureServer, FakeClock, FakeSleep
from telemetry_service.wire import Decryptor

from .expected import VERSIONS, Case

__all__ = ["PROBE", "Host", "Lane", "Observed", "Phase", "run_case", "run_matrix"]

PROBE = "consent_probe"
PROBE_SCHEMA = {"at": {"type": "keyword", "_meta": {"description": "When it was reported."}}}
#: Each phase runs the sender for this long: its first connectivity check is due at 5 minutes.
WINDOW_MS = 15 * 60_000
CHANNELS = ("snapshot", "opt-in-reports", "server")
LOG = logging.getLogger("tests.consent")


@dataclass(frozen=True)
class Lane:
    """One worker of the matrix: its own store (one ``telemetry`` saved object, one send
    lease) and its own clock, so lanes run side by side without touching each other."""

    store: SavedObjectStore
    clock: FakeClock


@dataclass(frozen=True)
class Host:
    """What the whole module shares: the platform's real collection manager (with the
    vendor's public key), one HTTP client for the sender, the capture server, the vendor's
    private key, and the lanes."""

    manager: TelemetryCollectionManager
    cluster_uuid: str
    http: httpx.AsyncClient
    capture: CaptureServer
    decryptor: Decryptor
    lanes: tuple[Lane, ...]


@dataclass
class Phase:
    """The traffic one phase caused: (method, channel) counts, a POST of events counted once."""

    traffic: Counter[tuple[str, str]] = field(default_factory=Counter)
    strays: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    reports: list[bytes] = field(default_factory=list)
    """The opt-in status reports as sent (encrypted; the check decrypts them)."""
    requests: int = 0


@dataclass
class Observed:
    value: bool | None
    source: str
    locked: bool
    is_opted_in: bool
    before: Phase
    refused: bool | None = None
    after_value: bool | None = None
    after_source: str = ""
    after: Phase = field(default_factory=Phase)


def _config(case: Case, base_url: str) -> TelemetryConfig:
    section: dict[str, Any] = {
        "enabled": case.enabled,
        "allowChangingOptInStatus": case.allow,
        "sendUsageFrom": case.send_from,
        "endpoints": {"prod": base_url, "staging": base_url},
    }
    if case.opt_in is not None:
        section["optIn"] = case.opt_in
    return TelemetryConfig.model_validate(section)


async def _store_state(store: SavedObjectStore, case: Case) -> None:
    """The saved object as a previous run left it (none at all for "none")."""
    with contextlib.suppress(SavedObjectNotFoundError):
        await store.delete("telemetry", "telemetry")
    attributes: dict[str, Any] = {}
    if case.stored != "none":
        attributes = {"enabled": case.stored == "in", "lastVersionChecked": VERSIONS[case.step][0]}
    if case.legacy_allow is not None:
        attributes["allowChangingOptInStatus"] = case.legacy_allow
    if case.legacy_from is not None:
        attributes["sendUsageFrom"] = case.legacy_from
    if attributes:
        await store.create("telemetry", attributes, id_="telemetry", overwrite=True)


def _classify(host: Host, requests: list[Captured], prefix: str) -> Phase:
    phase = Phase(requests=len(requests))
    for request in requests:
        path = request.path.removeprefix(prefix)
        channel = next((c for c in CHANNELS if path == f"v3/send/telemetry-service-{c}"), None)
        if channel is None or request.method not in ("OPTIONS", "POST"):
            phase.strays.append(f"{request.method} {request.path}")
            continue
        key = (request.method, channel)
        if key == ("POST", "server"):
            lines = request.body.decode().splitlines()
            phase.events += [json.loads(line)["properties"]["at"] for line in lines]
            phase.traffic[key] = 1  # one or more batches: the batching is not consent
            continue
        phase.traffic[key] += 1
        if key[0] == "POST" and request.headers.get("x-elastic-cluster-id") != host.cluster_uuid:
            phase.strays.append(f"POST {request.path} for another cluster")
        if key == ("POST", "opt-in-reports"):
            phase.reports.append(request.body)
    return phase


async def _run_sender(fetcher: FetcherTask, clock: FakeClock) -> None:
    """Tick the sender as its loop would, for ``WINDOW_MS`` of simulated time."""
    until = clock.ms + WINDOW_MS
    while clock.ms < until:
        wait = await fetcher.tick()
        clock.advance(ms=min(wait, until - clock.ms))


async def run_matrix(host: Host, cases: dict[int, Case]) -> dict[int, Observed | Exception]:
    """Run the cases on all lanes at once (each lane one case at a time)."""
    results: dict[int, Observed | Exception] = {}
    todo = iter(sorted(cases.items()))

    async def work(lane: Lane) -> None:
        for index, case in todo:
            try:
                results[index] = await run_case(host, lane, case, index)
            except Exception as exc:  # reported by the case's own test
                results[index] = exc

    await asyncio.gather(*(work(lane) for lane in host.lanes))
    return results


async def run_case(host: Host, lane: Lane, case: Case, index: int) -> Observed:
    """Phase 1: a host starts on this state; phase 2: the administrator flips the choice."""
    prefix = f"/c{index}/"
    config = _config(case, host.capture.url + prefix.lstrip("/"))
    current = VERSIONS[case.step][1]
    await _store_state(lane.store, case)
    env = {} if case.dnt is None else {"DO_NOT_TRACK": case.dnt}
    clock, store = lane.clock, lane.store
    state = TelemetryState(
        config=lambda: config, store=store, version=current, env=env, clock=clock
    )
    analytics = AnalyticsClient(clock=clock, logger=LOG)
    analytics.register_event_type(PROBE, PROBE_SCHEMA)
    events = EventTelemetry(
        analytics,
        lambda: config,
        version=current,
        store=store,
        instance_uuid=f"instance-{index}",
        clock=clock,
        logger=LOG,
    )
    analytics.register_shipper(
        ElasticV3ServerShipper,
        ElasticV3ServerShipperConfig(
            base_url=config.endpoints.prod,
            version=current,
            product=config.product,
            transport=httpx.AsyncHTTPTransport(verify=False),
        ),
    )
    watcher = OptInWatcher(state, logger=LOG, on_consent=events.apply)
    sender = TelemetrySender(lambda: host.http, deadline_s=60.0, sleep=FakeSleep(clock))
    history = SendHistory(store)
    delivery = Delivery(state=state, manager=host.manager, sender=sender, history=history, log=LOG)
    fetcher = FetcherTask(
        state=state,
        delivery=delivery,
        store=store,
        sender=sender,
        instance_id=f"instance-{index}",
        logger=LOG,
        rng=random.Random(index),
        sleep=FakeSleep(clock),
    )
    admin = TelemetryAdmin(
        state=state,
        watcher=watcher,
        fetcher=fetcher,
        delivery=delivery,
        send_history=history,
        events=events,
    )
    seen = len(host.capture.requests)
    try:
        analytics.report_event(PROBE, {"at": "before-decision"})
        await watcher.refresh()
        analytics.report_event(PROBE, {"at": "after-decision"})
        consent = await state.consent()
        await _run_sender(fetcher, clock)
        await analytics.flush()
        mine = [r for r in host.capture.requests[seen:] if r.path.startswith(prefix)]
        observed = Observed(
            consent.value,
            consent.source,
            consent.locked,
            watcher.is_opted_in,
            _classify(host, mine, prefix),
        )
        seen += len(host.capture.requests[seen:])
        choice = consent.value is not True
        try:
            await admin.set_opt_in(choice, wait_for_report=True)
            observed.refused = False
        except OptInLockedError:
            observed.refused = True
        after = await state.consent()
        observed.after_value, observed.after_source = after.value, after.source
        analytics.report_event(PROBE, {"at": "after-change"})
        await _run_sender(fetcher, clock)
    finally:
        await analytics.shutdown()
        await fetcher.stop()
    mine = [r for r in host.capture.requests[seen:] if r.path.startswith(prefix)]
    observed.after = _classify(host, mine, prefix)
    return observed
