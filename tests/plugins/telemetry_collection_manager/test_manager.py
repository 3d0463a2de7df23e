from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest

from telemetry_service.plugins.telemetry_collection_manager import (
    EncryptionUnavailableError,
    TelemetryCollectionManager,
    accepts_json_bytes,
)
from telemetry_service.plugins.telemetry_collection_manager.contracts import (
    PayloadCache,
    StatsContext,
)
from telemetry_service.testing import FakeClock
from telemetry_service.wire import Decryptor, Encryptor, generate_key_pair

pytestmark = pytest.mark.anyio


START = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


class Getter:
    def __init__(self, delay: float = 0.0, fail: bool = False) -> None:
        self.calls = 0
        self.delay = delay
        self.fail = fail

    async def uuids(self, context: StatsContext) -> list[str]:
        return ["b-uuid", "a-uuid"]

    async def stats(self, uuids: list[str], context: StatsContext) -> list[dict[str, Any]]:
        self.calls += 1
        await asyncio.sleep(self.delay)
        if self.fail:
            raise RuntimeError("collector exploded")
        return [{"cluster_uuid": u, "version": context.version, "n": self.calls} for u in uuids]


def manager(clocks: FakeClock, getter: Getter) -> TelemetryCollectionManager:
    m = TelemetryCollectionManager(
        version="8.1.0",
        clock=clocks,
        cache=PayloadCache(clock=clocks.monotonic),
    )
    m.set_collection_strategy(
        title="local", priority=0, stats_getter=getter.stats, cluster_details_getter=getter.uuids
    )
    return m


def test_strategy_priorities_follow_kibana() -> None:
    clocks, getter = FakeClock(START), Getter()
    m = manager(clocks, getter)
    with pytest.raises(ValueError, match="priority already exists"):
        m.set_collection_strategy(
            title="same", priority=0, stats_getter=getter.stats, cluster_details_getter=getter.uuids
        )
    m.set_collection_strategy(
        title="lower", priority=-5, stats_getter=getter.stats, cluster_details_getter=getter.uuids
    )
    assert m.collection_title == "local"
    m.set_collection_strategy(
        title="xpack", priority=1, stats_getter=getter.stats, cluster_details_getter=getter.uuids
    )
    assert m.collection_title == "xpack"
    with pytest.raises(TypeError):
        m.set_collection_strategy(
            title="bad",
            priority="2",
            stats_getter=getter.stats,
            cluster_details_getter=getter.uuids,  # type: ignore[arg-type]
        )


async def test_stats_shape_and_cache_details() -> None:
    clocks, getter = FakeClock(START), Getter()
    m = manager(clocks, getter)
    first = await m.get_unencrypted_stats()
    assert [item["clusterUuid"] for item in first] == ["b-uuid", "a-uuid"]
    stats = first[0]["stats"]
    assert list(stats)[:2] == ["collectionSource", "cacheDetails"]
    assert stats["collectionSource"] == "local"
    assert stats["cacheDetails"] == {
        "updatedAt": "2026-03-01T12:00:00.000Z",
        "fetchedAt": "2026-03-01T12:00:00.000Z",
    }
    clocks.advance(60)
    second = await m.get_unencrypted_stats()
    assert getter.calls == 1
    assert second[0]["stats"]["cacheDetails"] == {
        "updatedAt": "2026-03-01T12:00:00.000Z",
        "fetchedAt": "2026-03-01T12:01:00.000Z",
    }


async def test_cache_expires_after_four_hours_and_refresh_resets() -> None:
    clocks, getter = FakeClock(START), Getter()
    m = manager(clocks, getter)
    await m.get_unencrypted_stats()
    clocks.advance(4 * 3600 - 1)
    await m.get_unencrypted_stats()
    assert getter.calls == 1
    clocks.advance(2)
    await m.get_unencrypted_stats()
    assert getter.calls == 2
    await m.get_unencrypted_stats(refresh_cache=True)
    assert getter.calls == 3


async def test_concurrent_callers_share_one_generation() -> None:
    clocks, getter = FakeClock(START), Getter(delay=0.05)
    m = manager(clocks, getter)
    results = await asyncio.gather(*(m.get_unencrypted_stats() for _ in range(10)))
    assert getter.calls == 1
    assert all(r[0]["stats"]["n"] == 1 for r in results)


async def test_failed_generation_is_not_cached() -> None:
    clocks, getter = FakeClock(START), Getter(fail=True)
    m = manager(clocks, getter)
    with pytest.raises(RuntimeError):
        await m.get_unencrypted_stats()
    getter.fail = False
    assert (await m.get_unencrypted_stats())[0]["stats"]["n"] == 2


async def test_encrypted_stats_decrypt_to_the_unencrypted_payload() -> None:
    clocks, getter = FakeClock(START), Getter()
    m = manager(clocks, getter)
    with pytest.raises(EncryptionUnavailableError):
        await m.get_stats()
    pair = generate_key_pair("k1")
    m.set_encrypter(Encryptor(pair.public_jwks, "k1").encrypt)
    plain = await m.get_unencrypted_stats()
    encrypted = await m.get_stats()  # served from the cache filled just above
    assert isinstance(encrypted[0]["stats"], str)
    decrypted = Decryptor(pair.private_jwks).decrypt_json(encrypted[0]["stats"])
    assert decrypted == plain[0]["stats"]
    unencrypted = await m.get_stats(unencrypted=True)  # refreshes the cache, as in Kibana
    assert unencrypted[0]["stats"]["n"] == plain[0]["stats"]["n"] + 1


async def test_bytes_are_encrypted_as_they_are_and_the_encrypter_is_lent() -> None:
    clocks, getter = FakeClock(START), Getter()
    m = manager(clocks, getter)
    with pytest.raises(EncryptionUnavailableError):
        m.installed_encrypter()
    pair = generate_key_pair("k1")
    encrypt = Encryptor(pair.public_jwks, "k1").encrypt
    m.set_encrypter(encrypt)
    assert m.installed_encrypter() == encrypt
    payload_json = b'{"n":1.5,"s":"na\xc3\xafve"}'
    body = await m.encrypt(payload_json)
    assert Decryptor(pair.private_jwks).decrypt(body) == payload_json


async def test_opt_in_stats() -> None:
    clocks, getter = FakeClock(START), Getter()
    m = manager(clocks, getter)
    assert await m.get_opt_in_stats(False, unencrypted=True) == [
        {"clusterUuid": "b-uuid", "stats": {"cluster_uuid": "b-uuid", "opt_in_status": False}},
        {"clusterUuid": "a-uuid", "stats": {"cluster_uuid": "a-uuid", "opt_in_status": False}},
    ]
    pair = generate_key_pair("k1")
    m.set_encrypter(Encryptor(pair.public_jwks, "k1").encrypt)
    encrypted = await m.get_opt_in_stats(True)
    assert Decryptor(pair.private_jwks).decrypt_json(encrypted[1]["stats"]) == {
        "cluster_uuid": "a-uuid",
        "opt_in_status": True,
    }


async def test_no_strategy_means_no_stats() -> None:
    m = TelemetryCollectionManager(version="1.0.0", clock=FakeClock(START))
    assert await m.get_unencrypted_stats() == []
    assert await m.get_opt_in_stats(True, unencrypted=True) == []


def test_only_an_encrypter_that_says_so_is_given_json_bytes() -> None:
    """The public ``Encrypter`` is given the payload object; the bytes fast path is opt-in."""

    class Declares:
        accepts_json_bytes = True

        def __call__(self, payload: object) -> str:
            return ""

    class Truthy:
        accepts_json_bytes = "yes"

        def __call__(self, payload: object) -> str:
            return ""

    assert accepts_json_bytes(Declares())
    assert not accepts_json_bytes(Truthy())
    assert not accepts_json_bytes(lambda payload: "")
    assert not accepts_json_bytes(Encryptor(generate_key_pair("k1").public_jwks, "k1").encrypt)
