"""Simulated Kibana-like deployments and the reports they send: the demo's data, and the
tests', screenshots' and dashboard benchmark's.

:func:`sample_reports` yields the reports that `clusters` deployments would send over `days`
days up to `end`: one snapshot (about 1.1 KB) per cluster and day, clusters that join late or
go quiet, upgrades that spread over the range, and opt-in reports (every cluster's first
status: up to a year before the range for the clusters of its first day, a few opt-outs that
stop their snapshots, a few that opt back in). The same arguments always give the same
reports, none later than `now`.

>>> await seed_store(store, sample_reports(clusters=300, days=21, now=now))  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import itertools
import random
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from telemetry_service.common.clock import DAY_MS, iso_ms, to_ms
from telemetry_service.wire.protocol import DEFAULT_PRODUCT, channel_name

from .storage import NewReport, ReportStore

__all__ = ["SimulatedCluster", "sample_reports", "seed_store", "simulated_clusters"]

SNAPSHOT_CHANNEL = channel_name(DEFAULT_PRODUCT, "snapshot")
OPT_IN_CHANNEL = channel_name(DEFAULT_PRODUCT, "opt-in-reports")
KID = "sample-1"
#: Versions in release order; the last one is released during the range.
VERSIONS = ("8.9.2", "8.10.4", "8.11.3", "8.12.2", "8.13.0", "8.14.0")
_VERSION_WEIGHTS = (4, 8, 14, 30, 44)
_ENVIRONMENTS = ("prod", "staging", "dev", "qa", "analytics", "logs", "search", "obs")
_REGIONS = ("eu-west", "us-east", "us-west", "ap-south", "eu-central", "sa-east")
#: Traits drawn with weights, in this order.
_WEIGHTED = {
    "license": {"basic": 60, "gold": 10, "platinum": 14, "enterprise": 10, "trial": 6},
    "locale": {"en": 70, "fr-FR": 8, "de-DE": 8, "ja-JP": 8, "zh-CN": 6},
    "auth": {"basic": 70, "saml": 15, "oidc": 10, "pki": 5},
    "cloud": {"aws": 40, "gcp": 20, "azure": 15, "on-prem": 25},
    "platform": {"linux": 88, "darwin": 7, "win32": 5},
}


@dataclass
class SimulatedCluster:
    """One simulated deployment and the days it does things on (day 0 is the first day)."""

    uuid: str
    name: str
    version_index: int
    upgrade_day: int | None
    first_day: int
    last_day: int
    opt_out_day: int | None
    opt_back_in_day: int | None
    hour_ms: int
    traits: dict[str, Any]

    def version_on(self, day: int) -> str:
        if self.upgrade_day is not None and day >= self.upgrade_day:
            return VERSIONS[min(self.version_index + 1, len(VERSIONS) - 1)]
        return VERSIONS[self.version_index]

    def opted_in_on(self, day: int) -> bool:
        if self.opt_out_day is None or day < self.opt_out_day:
            return True
        return self.opt_back_in_day is not None and day >= self.opt_back_in_day


def simulated_clusters(count: int, days: int, *, seed: int, steady: bool) -> list[SimulatedCluster]:
    """`count` deployments with their life over `days` days; with `steady`, every one reports
    from the first day to the last."""
    rng = random.Random(seed)
    clusters = []
    release_day = max(1, days // 3)  # the newest version comes out a third into the range
    for index in range(count):
        version_index = rng.choices(range(len(_VERSION_WEIGHTS)), weights=_VERSION_WEIGHTS)[0]
        upgrade_day: int | None = None
        if rng.random() < (0.55 if version_index == len(_VERSION_WEIGHTS) - 1 else 0.25):
            start = release_day if version_index == len(_VERSION_WEIGHTS) - 1 else 0
            upgrade_day = rng.randint(start, max(start, days - 1))
        first_day = 0 if rng.random() < 0.75 else rng.randint(0, max(0, days - 1))
        last_day = rng.randint(first_day, days - 1) if rng.random() < 0.04 else days - 1
        if steady:
            first_day, last_day = 0, days - 1
        opt_out_day: int | None = None
        opt_back_in_day: int | None = None
        if rng.random() < 0.05 and first_day < days - 1:
            opt_out_day = rng.randint(first_day + 1, days - 1)
            if rng.random() < 0.3 and opt_out_day < days - 1:
                opt_back_in_day = rng.randint(opt_out_day + 1, days - 1)
        name = f"{rng.choice(_ENVIRONMENTS)}-{rng.choice(_REGIONS)}-{index % 97 + 1}"
        traits: dict[str, Any] = {
            trait: rng.choices(list(weights), weights=list(weights.values()))[0]
            for trait, weights in _WEIGHTED.items()
        }
        traits |= {
            "instances": rng.choice((1, 1, 1, 2, 2, 3, 4, 6)),
            "dashboards": rng.randint(0, 60) + int(rng.expovariate(1 / 40)),
            "dashboards_per_day": rng.random() * 0.6,
            "rules": int(rng.expovariate(1 / 25)),
            "spaces": rng.choice((1, 1, 1, 2, 3, 5, 8)),
            "maps": rng.random() < 0.35,
            "dark": rng.random() < 0.42,
            "reporting": rng.random() < 0.6,
            "mfa": rng.random() < 0.3,
            "browser_fetcher": rng.random() < 0.15,
            "events": rng.randint(50, 4000),
        }
        uid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        hour_ms = rng.randint(0, DAY_MS - 3_600_000)
        clusters.append(
            SimulatedCluster(uid, name, version_index, upgrade_day, first_day, last_day,
                             opt_out_day, opt_back_in_day, hour_ms, traits)
        )  # fmt: skip
    return clusters


def _payload(cluster: SimulatedCluster, day: int, ms: int, rng: random.Random) -> dict[str, Any]:
    t = cluster.traits
    grown = day - cluster.first_day
    dashboards = t["dashboards"] + int(grown * t["dashboards_per_day"])
    stamp = iso_ms(ms)
    instances = t["instances"]
    cloud = t["cloud"]
    return {
        "timestamp": stamp,
        "cluster_uuid": cluster.uuid,
        "cluster_name": cluster.name,
        "version": cluster.version_on(day),
        "collectionSource": "local",
        "collection": "local",
        "cacheDetails": {"updatedAt": stamp, "fetchedAt": stamp},
        "license": {"type": t["license"], "status": "active"},
        "stack_stats": {
            "kibana": {
                "count": instances,
                "os": {
                    "platforms": [{"platform": t["platform"], "count": instances}],
                    "platform": t["platform"],
                },
                "plugins": {
                    "telemetry": {
                        "opt_in_status": True,
                        "usage_fetcher": "browser" if t["browser_fetcher"] else "server",
                    },
                    "localization": {"locale": t["locale"]},
                    "cloud": {"is_cloud_enabled": cloud != "on-prem", "provider": cloud},
                    "security": {"auth_provider": t["auth"], "mfa_enabled": t["mfa"]},
                    "spaces": {"count": t["spaces"], "disabled_features": rng.randint(0, 3)},
                    "dashboards": {
                        "total": dashboards,
                        "panels_avg": round(4 + (dashboards % 17) / 3 + rng.random(), 2),
                        "panels_max": 8 + dashboards % 40,
                    },
                    "visualizations": {
                        "total": dashboards * 3 + rng.randint(0, 9),
                        "lens": dashboards * 2 + rng.randint(0, 5),
                        "vega": dashboards // 9,
                        "markdown": dashboards // 4,
                    },
                    "maps": {
                        "enabled": t["maps"],
                        "count": (dashboards // 6) if t["maps"] else 0,
                        "theme": "dark" if t["dark"] else "light",
                    },
                    "alerting": {
                        "rules": t["rules"],
                        "connectors": min(t["rules"], 1 + t["rules"] // 8),
                        "executions_daily": t["rules"] * rng.randint(20, 96),
                        "failures_daily": int(rng.expovariate(1 / 2)) if t["rules"] else 0,
                    },
                    "reporting": {
                        "enabled": t["reporting"],
                        "csv": rng.randint(0, 30) if t["reporting"] else 0,
                        "pdf": rng.randint(0, 6) if t["reporting"] else 0,
                    },
                    "sample_app": {
                        "items": t["events"] // 10 + grown * 3,
                        "theme": "dark" if t["dark"] else "light",
                        "daily_events": int(t["events"] * (0.7 + rng.random() * 0.6)),
                    },
                    "usage_counters": {
                        "response_p95_ms": round(120 + rng.expovariate(1 / 80), 1),
                        "ui_clicks": rng.randint(10, 900),
                    },
                },
            }
        },
    }


def _report(
    cluster: SimulatedCluster, ms: int, payload: dict[str, Any], rng: random.Random, version: str
) -> NewReport:
    text = orjson.dumps(payload).decode()
    snapshot = "opt_in_status" not in payload
    channel = SNAPSHOT_CHANNEL if snapshot else OPT_IN_CHANNEL
    received = ms + rng.randint(200, 4000) if snapshot else ms
    return NewReport(
        id=uuid.UUID(int=rng.getrandbits(128), version=4).hex,
        # unique per report, as the ingest's are (an opt-in body repeats itself)
        digest=hashlib.sha256(f"{channel}\n{ms}\n{text}".encode()).hexdigest(),
        channel=channel,
        kind="snapshot" if snapshot else "opt-in",
        cluster_uuid=cluster.uuid,
        cluster_name=cluster.name if snapshot else None,
        version=payload.get("version"),
        stack_version=version,
        kid=KID,
        received_ms=received,
        report_ms=ms,
        opt_in_status=None if snapshot else bool(payload["opt_in_status"]),
        payload_text=text,
        query_text=text,
    )


def sample_reports(
    *,
    clusters: int,
    days: int,
    now: dt.datetime,
    end: dt.date | None = None,
    seed: int = 7,
    steady: bool = False,
) -> Iterator[NewReport]:
    """The reports of `clusters` deployments over the `days` days that end with `end`
    (default: the day of `now`, UTC), day by day; none later than `now`.

    With `steady` (a benchmark's worst case) every cluster sends a snapshot every day: none
    joins late or goes quiet, and opting out does not stop the snapshots."""
    end = end or now.date()
    first = end - dt.timedelta(days=days - 1)
    start_ms = to_ms(dt.datetime(first.year, first.month, first.day, tzinfo=dt.UTC))
    limit_ms = to_ms(now)
    rng = random.Random(seed * 7919 + 1)
    population = simulated_clusters(clusters, days, seed=seed, steady=steady)
    # Clusters of the first day opted in earlier: up to a year before the range.
    earlier = []
    for cluster in population:
        if cluster.first_day == 0:
            ms = start_ms - rng.randint(1, 365) * DAY_MS + cluster.hour_ms
            earlier.append((ms, cluster))
    for ms, cluster in sorted(earlier, key=lambda item: item[0]):
        body = {"cluster_uuid": cluster.uuid, "opt_in_status": True}
        yield _report(cluster, ms, body, rng, cluster.version_on(0))
    for day in range(days):
        day_ms = start_ms + day * DAY_MS
        for cluster in population:
            if not cluster.first_day <= day <= cluster.last_day:
                continue
            ms = day_ms + cluster.hour_ms + rng.randint(0, 600_000)
            version = cluster.version_on(day)
            if ms > limit_ms:
                continue
            # Clusters of the first day opted in before the range, others on their first day.
            changes = (cluster.opt_out_day, cluster.opt_back_in_day)
            if (day == cluster.first_day and day > 0) or day in changes:
                body = {"cluster_uuid": cluster.uuid, "opt_in_status": cluster.opted_in_on(day)}
                yield _report(cluster, ms - 60_000, body, rng, version)
            if steady or cluster.opted_in_on(day):
                yield _report(cluster, ms, _payload(cluster, day, ms, rng), rng, version)


async def seed_store(
    store: ReportStore,
    reports: Iterable[NewReport],
    *,
    chunk: int = 2000,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Add `reports` through the store's write path, `chunk` at a time (so that the writer
    commits them in batches); call `progress` with the running count. Returns the count."""
    done = 0
    iterator = iter(reports)
    batches = iter(lambda: list(itertools.islice(iterator, chunk)), [])
    for batch in batches:
        await asyncio.gather(*(store.add(report) for report in batch))
        done += len(batch)
        if progress is not None:
            progress(done)
    return done
