"""The send history's digest of a snapshot is made off the event loop, and matches what left."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from telemetry_service.plugins.telemetry import delivery
from telemetry_service.plugins.telemetry.history import payload_digest
from telemetry_service.plugins.telemetry_collection_manager import TelemetryCollectionManager
from telemetry_service.plugins.telemetry_collection_manager.contracts import Encrypter
from telemetry_service.testing import CaptureServer
from telemetry_service.wire import (
    Decryptor,
    Encryptor,
    KeyPair,
    compact_json,
    generate_key_pair,
)
from tests.plugins.telemetry.sim import SimClock, instance, telemetry_config

pytestmark = pytest.mark.anyio


async def send_one_snapshot(
    tmp_path: Path, keys: KeyPair, encrypter: Encrypter | None = None
) -> tuple[dict[str, Any], bytes]:
    """Opt in, send one snapshot (encrypted by ``encrypter``, set through the manager's public
    `set_encrypter`, when given); its send-history record and the body that left."""
    with CaptureServer() as capture:
        config = {
            "store": {"url": f"sqlite:///{tmp_path / 'store.db'}"},
            "telemetry": telemetry_config(capture.url, keys),
        }
        async with instance(config, SimClock()) as member:
            if encrypter is not None:
                manager = member.platform.setup_contracts["telemetry_collection_manager"]
                assert isinstance(manager, TelemetryCollectionManager)
                manager.set_encrypter(encrypter)
            await member.plugin.admin.state.set_opt_in(True)
            assert (await member.plugin.send_now(force=True)).sent
            [record] = await member.plugin.admin.history()
        [post] = capture.posts("-snapshot")
    return record, post.body


async def test_the_digest_is_computed_in_a_worker_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[str] = []
    real = delivery.compact_json

    def recording(value: Any) -> bytes:
        threads.append(threading.current_thread().name)
        return real(value)

    monkeypatch.setattr(delivery, "compact_json", recording)
    keys = generate_key_pair("vendor")
    record, body = await send_one_snapshot(tmp_path, keys)
    assert record["payload_sha256"] == payload_digest(Decryptor(keys.private_jwks).decrypt(body))
    assert threads
    assert threading.current_thread().name not in threads


async def test_the_payload_is_serialized_once_for_the_encryption_and_the_digest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One compact_json of the snapshot (off the loop); those bytes are what is encrypted (the
    encrypter gets bytes, not the object to serialize again) and what the history hashes."""
    serialized: list[bytes] = []
    real = delivery.compact_json

    def recording(value: Any) -> bytes:
        serialized.append(real(value))
        return serialized[-1]

    monkeypatch.setattr(delivery, "compact_json", recording)
    encrypted: list[object] = []
    real_encrypt = Encryptor.encrypt

    def spying(self: Encryptor, payload: object) -> str:
        encrypted.append(payload)
        return real_encrypt(self, payload)

    monkeypatch.setattr(Encryptor, "encrypt", spying)
    keys = generate_key_pair("vendor")
    record, body = await send_one_snapshot(tmp_path, keys)
    [payload_json] = serialized
    assert encrypted == [payload_json]
    assert Decryptor(keys.private_jwks).decrypt(body) == payload_json
    assert record["payload_sha256"] == payload_digest(payload_json)


async def test_a_third_party_encrypter_gets_the_payload_object(tmp_path: Path) -> None:
    """Review finding: the public ``set_encrypter`` takes a ``Callable[[object], str]`` that is
    given the payload object; only an encrypter that declares ``accepts_json_bytes`` (ours) is
    given the compact JSON bytes."""
    keys = generate_key_pair("vendor")
    encryptor = Encryptor(keys.public_jwks, "vendor")
    received: list[object] = []
    returned: list[str] = []

    def third_party(payload: object) -> str:
        received.append(payload)
        returned.append(encryptor.encrypt(payload))
        return returned[-1]

    record, body = await send_one_snapshot(tmp_path, keys, third_party)
    [payload] = received
    assert isinstance(payload, dict)
    assert "cluster_uuid" in payload
    assert body == returned[0].encode("ascii")
    assert Decryptor(keys.private_jwks).decrypt(body) == compact_json(payload)
    assert record["payload_sha256"] == payload_digest(compact_json(payload))
