"""The event-based telemetry of the simulated deployments of :mod:`.samples`: the demo's events.

:func:`sample_event_batches` yields what the deployments' shippers would post over `days` days
up to `end`: per cluster and day, one ``server`` batch (the host's own ``platform_started`` on a
(re)start, ``core-overall_status_changed`` when the status flaps, ``sample_app_action``
greetings) and one ``browser`` batch (``page_view``, ``page_load`` and ``click`` with keyword,
number and boolean properties), in the shipper's shape (``timestamp``, ``event_type``,
``context``, ``properties``). Clusters send events on the days they report snapshots and only
while opted in. The same arguments always give the same events, none later than `now`.

>>> for batch in sample_event_batches(clusters=60, days=28, now=now): ...  # doctest: +SKIP
...     post(channel_url(base, product, batch.kind), events_to_ndjson(batch.events))
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from telemetry_service.common.clock import DAY_MS, iso_ms, to_ms

from .samples import SimulatedCluster, simulated_clusters

__all__ = ["EventBatch", "combine_batches", "sample_event_batches"]

_PAGES = {"/": 30, "/app/dashboards": 25, "/app/discover": 20, "/app/telemetry": 5,
          "/app/sample": 12, "/app/alerts": 8}  # fmt: skip
_TARGETS = {"save": 20, "share": 8, "add_panel": 15, "refresh": 30, "filter": 22, "export": 5}
_STATUSES = ("degraded", "unavailable")
_OS = {"linux": ("6.1.0-18-amd64", "x86_64"), "darwin": ("23.4.0", "arm64"),
       "win32": ("10.0.22631", "AMD64")}  # fmt: skip


Kind = Literal["server", "browser"]
_Day = Callable[[SimulatedCluster, int, int, random.Random], list[dict[str, Any]]]


@dataclass(frozen=True)
class EventBatch:
    """One POST of a cluster's shipper: its channel kind, headers' values and events."""

    kind: Kind
    cluster_uuid: str
    version: str
    events: list[dict[str, Any]]


def _pick(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _context(cluster: SimulatedCluster, version: str, level: str = "available") -> dict[str, Any]:
    platform = cluster.traits["platform"]
    release, arch = _OS[platform]
    return {
        "cluster_uuid": cluster.uuid,
        "cluster_name": cluster.name,
        "instance_uuid": cluster.uuid[:24] + "0" * 12,
        "version": version,
        "python_version": "3.11.2",
        "os_platform": platform,
        "os_release": release,
        "os_arch": arch,
        "overall_status_level": level,
    }


def _event(ms: int, event_type: str, context: dict[str, Any], **properties: Any) -> dict[str, Any]:
    return {
        "timestamp": iso_ms(ms),
        "event_type": event_type,
        "context": context,
        "properties": properties,
    }


def _server_day(
    cluster: SimulatedCluster, day: int, day_ms: int, rng: random.Random
) -> list[dict[str, Any]]:
    version = cluster.version_on(day)
    context = _context(cluster, version)
    start_ms = day_ms + cluster.hour_ms
    events = []
    restarted = day in (cluster.first_day, cluster.upgrade_day) or rng.random() < 0.06
    if restarted:
        setup = round(rng.uniform(40, 400), 1)
        ready = round(setup + rng.uniform(200, 2500), 1)
        steps = {
            "constructor": {"start": 0.0, "end": round(rng.uniform(2, 12), 1)},
            "setup": {"start": 15.0, "end": setup},
            "start": {"start": setup + 1, "end": ready},
        }
        plugins = 4 + rng.randint(0, 2)
        events.append(
            _event(start_ms, "platform_started", context, uptime_per_step=steps, plugins=plugins)
        )
        events.append(
            _event(
                start_ms + 50, "sample_app_action", context, action="started", greetings_served=0
            )
        )
    if rng.random() < 0.1:
        level = rng.choice(_STATUSES)
        summary = f"{rng.choice(('store', 'elasticsearch', 'savedObjects'))} is {level}"
        at = start_ms + rng.randint(60_000, 3_600_000)
        events.append(
            _event(
                at,
                "core-overall_status_changed",
                context,
                overall_status_level=level,
                overall_status_summary=summary,
            )
        )
        back = _context(cluster, version, level)
        events.append(
            _event(
                at + rng.randint(5_000, 600_000),
                "core-overall_status_changed",
                back,
                overall_status_level="available",
                overall_status_summary="All services are available",
            )
        )
    served = (cluster.traits["events"] // 40) * (day + 1)
    for _ in range(rng.randint(0, 2 + cluster.traits["instances"] * 2)):
        served += 1
        at = start_ms + rng.randint(0, 6 * 3_600_000)
        events.append(
            _event(at, "sample_app_action", context, action="hello", greetings_served=served)
        )
    return events


def _browser_day(
    cluster: SimulatedCluster, day: int, day_ms: int, rng: random.Random
) -> list[dict[str, Any]]:
    traits = cluster.traits
    session = f"{cluster.uuid[:8]}-{day:03d}"
    context = {
        "cluster_uuid": cluster.uuid,
        "version": cluster.version_on(day),
        "session_id": session,
        "preferred_language": traits["locale"],
        "viewport_width": rng.choice((1280, 1440, 1920, 2560)),
        "viewport_height": rng.choice((720, 900, 1080)),
    }
    views = max(1, int(traits["events"] / 200 * (0.6 + rng.random() * 0.8)))
    events = []
    for _ in range(views):
        at = day_ms + rng.randint(6 * 3_600_000, 20 * 3_600_000)
        page = _pick(rng, _PAGES)
        events.append(
            _event(
                at, "page_view", context, page_name=page, referrer_same_origin=rng.random() < 0.7
            )
        )
        if rng.random() < 0.6:
            response = int(rng.lognormvariate(4.5, 0.5))
            loaded = response + int(rng.lognormvariate(5.5, 0.6))
            events.append(
                _event(
                    at + loaded,
                    "page_load",
                    context,
                    page_name=page,
                    duration_ms=loaded + int(rng.expovariate(1 / 120)),
                    dom_content_loaded_ms=loaded,
                    response_ms=response,
                    transfer_bytes=rng.choice((0, rng.randint(20_000, 900_000))),
                )
            )
        for _ in range(rng.randint(0, 3)):
            events.append(
                _event(
                    at + rng.randint(2_000, 300_000),
                    "click",
                    context,
                    target=_pick(rng, _TARGETS),
                    page_name=page,
                    dark_mode=traits["dark"],
                )
            )
    return sorted(events, key=lambda event: str(event["timestamp"]))


_MAKERS: tuple[tuple[Kind, _Day], ...] = (("server", _server_day), ("browser", _browser_day))


def sample_event_batches(
    *, clusters: int, days: int, now: dt.datetime, end: dt.date | None = None, seed: int = 7
) -> Iterator[EventBatch]:
    """The event batches of the deployments of ``sample_reports(clusters=…, days=…, seed=…)``
    over the `days` days that end with `end` (default: the day of `now`, UTC), day by day;
    no event later than `now`."""
    end = end or now.date()
    first = end - dt.timedelta(days=days - 1)
    start_ms = to_ms(dt.datetime(first.year, first.month, first.day, tzinfo=dt.UTC))
    limit = iso_ms(to_ms(now))
    rng = random.Random(seed * 104_729 + 3)
    population = simulated_clusters(clusters, days, seed=seed, steady=False)
    for day in range(days):
        day_ms = start_ms + day * DAY_MS
        for cluster in population:
            if not (cluster.first_day <= day <= cluster.last_day and cluster.opted_in_on(day)):
                continue
            version = cluster.version_on(day)
            for kind, make in _MAKERS:
                events = [e for e in make(cluster, day, day_ms, rng) if e["timestamp"] <= limit]
                if events:
                    yield EventBatch(kind, cluster.uuid, version, events)


def combine_batches(batches: Iterable[EventBatch], *, max_events: int = 1000) -> list[EventBatch]:
    """The events of `batches` in fewer, larger batches: per channel kind and cluster, in their
    order, at most `max_events` each, with the version of the last batch they hold (seeding a
    store with a POST per batch of a day would cost a request per cluster and day)."""
    groups: dict[tuple[Kind, str], list[EventBatch]] = {}
    for batch in batches:
        groups.setdefault((batch.kind, batch.cluster_uuid), []).append(batch)
    combined = []
    for (kind, cluster), group in groups.items():
        chunk: list[dict[str, Any]] = []
        for index, batch in enumerate(group):
            chunk += batch.events
            if len(chunk) >= max_events or index == len(group) - 1:
                while chunk:
                    combined.append(EventBatch(kind, cluster, batch.version, chunk[:max_events]))
                    chunk = chunk[max_events:]
    return combined
