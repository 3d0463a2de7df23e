"""`Encryptor.encrypt`: the key derivation beside the serialization keeps its outcomes."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from telemetry_service.wire import Decryptor, Encryptor


def test_a_payload_that_cannot_be_serialized_raises_and_leaves_no_thread(
    public_jwks: dict[str, Any],
) -> None:
    encryptor = Encryptor(public_jwks, "kid-oaep")
    with pytest.raises(TypeError):
        encryptor.encrypt({"when": object()})
    for thread in threading.enumerate():
        if thread.name == "wire-pbkdf2":
            thread.join(5)
    assert not [t for t in threading.enumerate() if t.name == "wire-pbkdf2"]


@pytest.mark.parametrize("payload", [{"a": [1, 2.5, "x"]}, b'{"a":1}', "text", None])
def test_objects_and_bytes_round_trip(
    public_jwks: dict[str, Any], private_jwks: dict[str, Any], payload: object
) -> None:
    body = Encryptor(public_jwks, "kid-oaep").encrypt(payload)
    expected = {"a": 1} if isinstance(payload, bytes) else payload
    assert Decryptor(private_jwks).decrypt_json(body) == expected
