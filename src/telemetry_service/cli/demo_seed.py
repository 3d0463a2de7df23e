"""Simulated installations for the demo: a few weeks of reports with some shape to them.

Installations appear over time, some stop reporting, some opt out (and a few back in), and
upgrades roll through the versions, so the receiver's charts have something to show.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from telemetry_service.receiver.storage import ReportStore
from telemetry_service.receiver.storage.records import NewReport
from telemetry_service.receiver.validate import parse_payload, validate_report
from telemetry_service.wire import compact_json
from telemetry_service.wire.protocol import channel_name

__all__ = ["SimulatedReport", "seed_store", "simulated_reports"]

VERSIONS = ("8.0.0", "8.0.1", "8.1.0", "8.2.0")
PLATFORMS = (("linux", 0.72), ("darwin", 0.18), ("windows", 0.10))
LANGUAGES = (("en", 0.6), ("de", 0.15), ("fr", 0.1), ("ja", 0.1), ("pt", 0.05))


@dataclass(frozen=True)
class SimulatedReport:
    kind: Literal["snapshot", "opt-in"]
    at: dt.datetime
    payload: dict[str, Any]


@dataclass
class _Cluster:
    uuid: str
    name: str
    version: str
    platform: str
    language: str
    dark_mode: bool
    activity: float
    joined: int
    leaves: int
    opts_out: int | None
    opts_back_in: int | None
    minute: int


def _pick(rng: random.Random, weighted: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([v for v, _ in weighted], [w for _, w in weighted])[0]


def _iso(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _snapshot(rng: random.Random, cluster: _Cluster, at: dt.datetime, day: int) -> dict[str, Any]:
    version = cluster.version
    greetings = int(cluster.activity * (day + 1) * rng.uniform(0.8, 1.2))
    start_of_day = at.replace(hour=0, minute=0, second=0, microsecond=0)
    events = [
        {
            "domainId": "sample_app",
            "counterName": "hello",
            "counterType": "count",
            "lastUpdatedAt": _iso(at),
            "fromTimestamp": _iso(start_of_day),
            "total": max(1, int(cluster.activity * rng.uniform(0.5, 1.5))),
        }
    ]
    return {
        "collectionSource": "local",
        "cacheDetails": {"updatedAt": _iso(at), "fetchedAt": _iso(at)},
        "timestamp": _iso(at),
        "cluster_uuid": cluster.uuid,
        "cluster_name": cluster.name,
        "version": version,
        "cluster_stats": {},
        "collection": "local",
        "stack_stats": {
            "kibana": {
                "count": 1,
                "indices": 1,
                "os": {
                    "platforms": [{"platform": cluster.platform, "count": 1}],
                    "platformReleases": [
                        {"platformRelease": f"{cluster.platform}-6.1", "count": 1}
                    ],
                },
                "versions": [{"version": version, "count": 1}],
                "plugins": {
                    "sample_app": {
                        "greetings_served": greetings,
                        "uptime_s": int(rng.uniform(3_600, 30 * 86_400)),
                        "features": {
                            "dark_mode": cluster.dark_mode,
                            "language": cluster.language,
                        },
                    },
                    "telemetry": {
                        "opt_in_status": True,
                        "usage_fetcher": "server",
                        "last_reported": int(at.timestamp() * 1000) - 86_400_000,
                        "labels": {},
                    },
                    "usage_counters": {"dailyEvents": events},
                },
            }
        },
    }


def simulated_reports(
    clusters: int, days: int, *, now: dt.datetime, seed: int = 7
) -> Iterator[SimulatedReport]:
    """Reports of `clusters` installations over the `days` before `now`, in time order."""
    rng = random.Random(seed)
    first_day = (now - dt.timedelta(days=days)).replace(hour=0, minute=0, second=0, microsecond=0)
    population: list[_Cluster] = []
    for index in range(clusters):
        joined = int(rng.triangular(0, days - 1, 0))
        company = rng.choice(["acme", "globex", "initech", "umbrella", "hooli"])
        opts_out = rng.randrange(joined, days) if rng.random() < 0.12 else None
        population.append(
            _Cluster(
                uuid=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                name=f"{company}-{index:03d}",
                version=rng.choice(VERSIONS[:2]),
                platform=_pick(rng, PLATFORMS),
                language=_pick(rng, LANGUAGES),
                dark_mode=rng.random() < 0.35,
                activity=rng.lognormvariate(3, 1),
                joined=joined,
                leaves=joined + int(rng.expovariate(1 / (days * 2))),
                opts_out=opts_out,
                opts_back_in=(
                    min(days - 1, opts_out + rng.randint(1, 5))
                    if opts_out is not None and rng.random() < 0.3
                    else None
                ),
                minute=rng.randrange(0, 24 * 60),
            )
        )
    events: list[SimulatedReport] = []
    for day in range(days):
        for cluster in population:
            if not cluster.joined <= day < cluster.leaves:
                continue
            at = first_day + dt.timedelta(days=day, minutes=cluster.minute)
            if at > now:
                continue
            if day > days // 3 and rng.random() < 0.04:  # upgrades roll out over time
                position = VERSIONS.index(cluster.version)
                cluster.version = VERSIONS[min(len(VERSIONS) - 1, position + 1)]
            changes = ((cluster.opts_out, False), (cluster.opts_back_in, True))
            for change_day, status in changes:
                if change_day == day:
                    change = {"cluster_uuid": cluster.uuid, "opt_in_status": status}
                    events.append(SimulatedReport("opt-in", at, change))
            opted_out = (
                cluster.opts_out is not None
                and cluster.opts_out <= day
                and (cluster.opts_back_in is None or day < cluster.opts_back_in)
            )
            if not opted_out:
                events.append(SimulatedReport("snapshot", at, _snapshot(rng, cluster, at, day)))
    events.sort(key=lambda e: e.at)
    yield from events


async def seed_store(
    store: ReportStore, reports: list[SimulatedReport], product: str, progress: Any = None
) -> int:
    """Add the reports to the receiver's store as if they had arrived at their time."""
    added = 0
    for report in reports:
        channel = channel_name(
            product, "snapshot" if report.kind == "snapshot" else "opt-in-reports"
        )
        value, text, query_text = parse_payload(compact_json(report.payload), max_depth=100)
        kind = report.kind
        valid = validate_report(
            kind, value, text, query_text, cluster_id=report.payload["cluster_uuid"]
        )
        at_ms = int(report.at.timestamp() * 1000)
        await store.add(
            NewReport(
                id=uuid.uuid4().hex,
                digest=hashlib.sha256(f"demo:{channel}:{text}".encode()).hexdigest(),
                channel=channel,
                kind=kind,
                cluster_uuid=valid.cluster_uuid,
                cluster_name=valid.cluster_name,
                version=valid.version,
                stack_version=valid.version,
                kid="demo",
                received_ms=at_ms,
                report_ms=at_ms,
                opt_in_status=valid.opt_in_status,
                payload_text=valid.payload_text,
                query_text=valid.query_text,
            )
        )
        added += 1
        if progress is not None:
            progress()
    return added
