"""`Encryptor.encrypt`: objects are sent as their compact JSON, bytes as they are."""

from __future__ import annotations

from typing import Any

import pytest

from telemetry_service.wire import Decryptor, Encryptor, compact_json


@pytest.mark.parametrize("payload", [{"a": [1, 2.5, "x"]}, b'{"a":1}', "text", None])
def test_objects_and_bytes_round_trip(
    public_jwks: dict[str, Any], private_jwks: dict[str, Any], payload: object
) -> None:
    body = Encryptor(public_jwks, "kid-oaep").encrypt(payload)
    expected = {"a": 1} if isinstance(payload, bytes) else payload
    assert Decryptor(private_jwks).decrypt_json(body) == expected


def test_a_large_payload_object_and_its_json_bytes_encrypt_alike(
    public_jwks: dict[str, Any], private_jwks: dict[str, Any]
) -> None:
    """Above about 1 MB the key is derived in a thread while the JSON is written in pieces and
    sealed piece by piece; bytes are sealed as they are."""
    rows = [{"id": i, "ratio": i / 3, "whole": float(i), "name": f"r{i}"} for i in range(40_000)]
    payload = {"stack_stats": {"rows": rows}}
    encryptor = Encryptor(public_jwks, "kid-oaep")
    decryptor = Decryptor(private_jwks)
    expected = compact_json(payload)
    assert len(expected) > 1_000_000
    assert decryptor.decrypt(encryptor.encrypt(payload)) == expected
    assert decryptor.decrypt(encryptor.encrypt(expected)) == expected
