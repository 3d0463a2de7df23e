"""The collection manager's contracts: strategies at setup (the highest priority one builds the
payload, spec 6.1), payloads at start; the payload is cached for 4 hours."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from telemetry_service.common.clock import iso_ms, to_ms

__all__ = [
    "CACHE_DURATION_S",
    "CollectionStrategy",
    "Encrypter",
    "EncryptionUnavailableError",
    "PayloadCache",
    "StatsContext",
    "TelemetryCollectionManager",
    "accepts_json_bytes",
]

CACHE_DURATION_S = 4 * 3600.0

Generation = list[dict[str, Any]]


class PayloadCache:
    """A one-entry cache of the generated payload, shared by concurrent callers: it stores the
    *task* of a generation, so concurrent misses share one (spec 6.3 step 6)."""

    def __init__(
        self, ttl_s: float = CACHE_DURATION_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl = ttl_s
        self._clock = clock
        self._key: str | None = None
        self._task: asyncio.Future[Generation] | None = None
        self._stored_at = 0.0

    def reset(self) -> None:
        self._key = None
        self._task = None

    async def get_or_create(
        self, key: str, generate: Callable[[], Awaitable[Generation]]
    ) -> tuple[Generation, bool]:
        """The cached value for ``key`` and whether it was a hit."""
        fresh = self._clock() - self._stored_at < self._ttl
        if self._task is not None and self._key == key and fresh:
            return await asyncio.shield(self._task), True

        task = asyncio.ensure_future(generate())
        self._key, self._task, self._stored_at = key, task, self._clock()
        try:
            return await asyncio.shield(task), False
        except BaseException:
            if self._task is task:
                self.reset()
            raise


@dataclass(frozen=True)
class StatsContext:
    """What a strategy's getters receive."""

    version: str
    refresh_cache: bool


ClusterDetailsGetter = Callable[[StatsContext], Awaitable[list[str]]]
StatsGetter = Callable[[list[str], StatsContext], Awaitable[list[dict[str, Any]]]]


@dataclass(frozen=True)
class CollectionStrategy:
    title: str
    priority: int
    stats_getter: StatsGetter
    cluster_details_getter: ClusterDetailsGetter


Encrypter = Callable[[object], str]
"""Encrypts one payload object into the packed wire string (runs in a worker thread). An
encrypter that also takes the payload's compact JSON as bytes (``wire.compact_json``'s output,
encrypted as it is) says so with a true ``accepts_json_bytes`` attribute (`accepts_json_bytes`);
the sender then serializes the payload once for both the encryption and its history digest.
Any other encrypter is given the payload object."""


def accepts_json_bytes(encrypter: Encrypter) -> bool:
    """Whether ``encrypter`` declared that it may be given compact JSON bytes (see `Encrypter`)."""
    return getattr(encrypter, "accepts_json_bytes", False) is True


class EncryptionUnavailableError(RuntimeError):
    """No encryption key is configured, so an encrypted payload cannot be produced."""


class TelemetryCollectionManager:
    """Builds the payloads: ``get_stats`` (the snapshot) and ``get_opt_in_stats``."""

    def __init__(
        self,
        *,
        version: str,
        clock: Callable[[], dt.datetime],
        cache: PayloadCache | None = None,
    ) -> None:
        self._version = version
        self._clock = clock
        self._strategy: CollectionStrategy | None = None
        self._cache = cache or PayloadCache()
        self._encrypter: Encrypter | None = None

    # -- setup -------------------------------------------------------------------------------
    def set_collection_strategy(
        self,
        *,
        title: str,
        priority: int,
        stats_getter: StatsGetter,
        cluster_details_getter: ClusterDetailsGetter,
    ) -> None:
        """Kibana's rules: a priority must be a number and differ from the current one; a higher
        priority replaces the current strategy (the start value is -1)."""
        current = self._strategy.priority if self._strategy else -1
        if not isinstance(priority, int) or isinstance(priority, bool):
            raise TypeError("priority must be set.")
        if priority == current:
            raise ValueError("A Usage Collection Strategy with that priority already exists.")
        if priority > current:
            if stats_getter is None or cluster_details_getter is None:  # pragma: no cover
                raise ValueError("Both stats_getter and cluster_details_getter are required.")
            self._strategy = CollectionStrategy(
                title, priority, stats_getter, cluster_details_getter
            )

    def set_encrypter(self, encrypter: Encrypter) -> None:
        """Install the function that encrypts payloads (the telemetry plugin does this)."""
        self._encrypter = encrypter

    @property
    def collection_title(self) -> str | None:
        return self._strategy.title if self._strategy else None

    # -- start -------------------------------------------------------------------------------
    async def encrypt(self, payload: object) -> str:
        """Encrypt one payload (an object, or compact JSON bytes for an encrypter that
        `accepts_json_bytes`) in a worker thread (raises when no encrypter is installed)."""
        return await asyncio.to_thread(self.installed_encrypter(), payload)

    def installed_encrypter(self) -> Encrypter:
        """The encrypter, for a caller that runs it in its own worker thread together with other
        work on the same payload (raises when none is installed)."""
        if self._encrypter is None:
            raise EncryptionUnavailableError("no encrypter is installed")
        return self._encrypter

    async def get_unencrypted_stats(self, *, refresh_cache: bool = False) -> list[dict[str, Any]]:
        """``[{clusterUuid, stats}]`` with the payload objects; errors propagate."""
        strategy = self._strategy
        if strategy is None:
            return []
        context = StatsContext(version=self._version, refresh_cache=refresh_cache)
        uuids = await strategy.cluster_details_getter(context)
        if refresh_cache:
            self._cache.reset()
        if not uuids:
            return []
        key = f"{strategy.title}::{'_'.join(sorted(uuids))}"

        async def generate() -> list[dict[str, Any]]:
            stats = await strategy.stats_getter(uuids, context)
            now = iso_ms(to_ms(self._clock()))
            return [
                {
                    "collectionSource": strategy.title,
                    "cacheDetails": {"updatedAt": now, "fetchedAt": now},
                    **stat,
                }
                for stat in stats
            ]

        generated, hit = await self._cache.get_or_create(key, generate)
        fetched_at = iso_ms(to_ms(self._clock()))
        fetched = {"fetchedAt": fetched_at} if hit else {}
        return [
            {
                "clusterUuid": stat["cluster_uuid"],
                "stats": {**stat, "cacheDetails": {**stat["cacheDetails"], **fetched}},
            }
            for stat in generated
        ]

    async def get_stats(
        self, *, unencrypted: bool = False, refresh_cache: bool = False
    ) -> list[dict[str, Any]]:
        """``[{clusterUuid, stats}]``: ``stats`` is the packed encrypted string unless
        ``unencrypted`` (which also refreshes the cache, as in Kibana)."""
        stats = await self.get_unencrypted_stats(refresh_cache=unencrypted or refresh_cache)
        if unencrypted:
            return stats
        return [
            {"clusterUuid": item["clusterUuid"], "stats": await self.encrypt(item["stats"])}
            for item in stats
        ]

    async def get_opt_in_stats(
        self, opt_in_status: bool, *, unencrypted: bool = False
    ) -> list[dict[str, Any]]:
        """``[{clusterUuid, stats: {cluster_uuid, opt_in_status}}]`` (encrypted unless asked)."""
        strategy = self._strategy
        if strategy is None:
            return []
        context = StatsContext(version=self._version, refresh_cache=False)
        uuids = await strategy.cluster_details_getter(context)
        out: list[dict[str, Any]] = []
        for uuid in uuids:
            payload = {"cluster_uuid": uuid, "opt_in_status": opt_in_status}
            stats: object = payload if unencrypted else await self.encrypt(payload)
            out.append({"clusterUuid": uuid, "stats": stats})
        return out
