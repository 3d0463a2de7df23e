"""Helpers of the public statistics tests: reports and events written straight to the store, a
store that counts its queries."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from typing import Any

import orjson

from telemetry_service.common.clock import DAY_MS, to_ms
from telemetry_service.receiver.storage import EventBatch, NewEvent, NewReport, ReportStore
from telemetry_service.testing import FakeClock
from tests.receiver.support import OPT_IN, SNAPSHOT, snapshot


def report(clock: FakeClock, payload: dict[str, Any], *, opt_in: bool | None = None) -> NewReport:
    """A validated report of `payload` (a snapshot, or an opt-in report when `opt_in` is given)
    at the clock's time."""
    cluster_uuid = payload["cluster_uuid"]
    if opt_in is not None:
        payload = {"cluster_uuid": cluster_uuid, "opt_in_status": opt_in}
    text = orjson.dumps(payload).decode()
    ms = to_ms(clock())
    return NewReport(
        id=uuid.uuid4().hex,
        channel=SNAPSHOT if opt_in is None else OPT_IN,
        kind="snapshot" if opt_in is None else "opt-in",
        cluster_uuid=cluster_uuid,
        cluster_name=payload.get("cluster_name"),
        version=payload.get("version"),
        stack_version="8.1.0",
        received_ms=ms,
        report_ms=ms,
        opt_in_status=opt_in,
        payload_text=text,
        digest=hashlib.sha256(f"{ms}{text}".encode()).hexdigest(),
        kid="test-1",
        query_text=text,
    )


async def seed_clusters(
    store: ReportStore,
    clock: FakeClock,
    count: int,
    *,
    prefix: str,
    version: str,
    opt_in: bool | None = True,
    **extra: Any,
) -> list[str]:
    """`count` clusters named ``{prefix} deployment N`` that each send one snapshot of
    `version` (and an opt-in report); returns their uuids."""
    uuids = []
    for index in range(count):
        cluster_uuid = str(uuid.uuid4())
        payload = snapshot(
            cluster_uuid, cluster_name=f"{prefix} deployment {index}", version=version, **extra
        )
        await store.add(report(clock, payload))
        if opt_in is not None:
            await store.add(report(clock, payload, opt_in=opt_in))
        uuids.append(cluster_uuid)
    return uuids


class CountingStore:
    """Wraps a store and counts every call of one of its coroutine methods (its queries)."""

    def __init__(self, inner: ReportStore) -> None:
        self._inner = inner
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if not callable(value) or name.startswith("__"):
            return value
        return self._counted(name, value)

    def _counted(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            return method(*args, **kwargs)

        return call


async def send_events(
    store: ReportStore,
    clock: FakeClock,
    event_type: str,
    clusters: int,
    *,
    days_ago: int = 1,
    per_cluster: int = 1,
    prefix: str = "c",
) -> None:
    """`per_cluster` events of `event_type` from each of `clusters` clusters, `days_ago` days
    before the clock's time."""
    ms = to_ms(clock()) - days_ago * DAY_MS
    for index in range(clusters):
        cluster = f"{prefix}-{event_type}-{index}"
        context = orjson.dumps({"cluster_uuid": cluster, "cluster_name": f"{cluster} name"})
        events = [
            NewEvent(ms, event_type, cluster, context.decode(), '{"n": 1}')
            for _ in range(per_cluster)
        ]
        batch = EventBatch(uuid.uuid4().hex, "telemetry-service-server", cluster, ms, events)
        await store.events.add(batch)
