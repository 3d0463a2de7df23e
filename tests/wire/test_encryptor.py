"""`Encryptor.encrypt`: objects are sent as their compact JSON, bytes as they are."""

from __future__ import annotations

from typing import Any

import pytest

from telemetry_service.wire import Decryptor, Encryptor


@pytest.mark.parametrize("payload", [{"a": [1, 2.5, "x"]}, b'{"a":1}', "text", None])
def test_objects_and_bytes_round_trip(
    public_jwks: dict[str, Any], private_jwks: dict[str, Any], payload: object
) -> None:
    body = Encryptor(public_jwks, "kid-oaep").encrypt(payload)
    expected = {"a": 1} if isinstance(payload, bytes) else payload
    assert Decryptor(private_jwks).decrypt_json(body) == expected
