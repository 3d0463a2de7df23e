"""The packed body: the byte-level fast paths read and write what the JSON paths do."""

from __future__ import annotations

import base64
import json
import os
from typing import Any

import pytest

from telemetry_service.wire import Decryptor, Encryptor, MalformedPayloadError, aes
from telemetry_service.wire.envelope import (
    b64encode,
    b64url_encode,
    pack_body,
    pack_parts,
    unpack_body,
    unpack_parts,
)

PAYLOAD = {"cluster_uuid": "abc", "stack_stats": {"n": 1.5, "labels": ["naïve ☃"]}}


def encode(document: bytes) -> str:
    return base64.urlsafe_b64encode(document).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def parts(public_jwks: dict[str, Any]) -> tuple[str, str]:
    """The two members of a real body, one whose payload holds a ``/`` (about 1 in 100 does
    not): the "escaped slashes" layout must differ from request-crypto's own."""
    encryptor = Encryptor(public_jwks, "kid-oaep")
    while True:
        key, payload = unpack_body(encryptor.encrypt(PAYLOAD))
        if "/" in payload:
            return key, payload


@pytest.mark.parametrize("size", range(12))
def test_b64url_encode_is_unpadded_urlsafe_base64(size: int) -> None:
    data = os.urandom(size)
    assert b64url_encode(data) == base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_pack_parts_writes_the_bytes_of_pack_body(parts: tuple[str, str]) -> None:
    key, payload = parts
    assert pack_parts(key.encode(), payload.encode()) == pack_body(key, payload)


def test_unpack_parts_cuts_request_cryptos_layout_without_a_parser(
    parts: tuple[str, str],
) -> None:
    key, payload = parts
    assert unpack_parts(pack_body(key, payload)) == (key, base64.b64decode(payload))


def other_layouts(key: str, payload: str) -> dict[str, bytes]:
    """Bodies that are the same JSON document written otherwise (all read by a JSON parser)."""
    escaped = payload.replace("/", "\\/")
    return {
        "spaces": json.dumps({"encryptedAESKey": key, "encryptedPayload": payload}).encode(),
        "key order": json.dumps({"encryptedPayload": payload, "encryptedAESKey": key}).encode(),
        "escaped slashes": f'{{"encryptedAESKey":"{key}","encryptedPayload":"{escaped}"}}'.encode(),
        "repeated member": (
            f'{{"encryptedAESKey":"{key}","encryptedPayload":"bm90IGl0",'
            f'"encryptedPayload":"{payload}"}}'
        ).encode(),
        "extra member": (
            f'{{"encryptedAESKey":"{key}","encryptedPayload":"{payload}","x":"y"}}'
        ).encode(),
    }


@pytest.mark.parametrize(
    "layout", ["spaces", "key order", "escaped slashes", "repeated member", "extra member"]
)
def test_other_layouts_of_the_document_decrypt_as_before(
    parts: tuple[str, str], private_jwks: dict[str, Any], layout: str
) -> None:
    key, payload = parts
    body = encode(other_layouts(key, payload)[layout])
    assert unpack_parts(body) == unpack_body(body) == (key, payload)
    assert Decryptor(private_jwks).decrypt_json(body) == PAYLOAD


@pytest.mark.parametrize("suffix", ["", "=", "=="])
def test_payload_padding_is_read_as_base64_validate_reads_it(
    parts: tuple[str, str], private_jwks: dict[str, Any], suffix: str
) -> None:
    key, payload = parts
    text = payload.rstrip("=") + suffix
    try:
        expected: bytes | None = base64.b64decode(text, validate=True)
    except ValueError:
        expected = None
    try:
        decoded: bytes | None = aes.b64decode(text)
    except MalformedPayloadError:
        decoded = None
    assert decoded == expected
    key_out, payload_out = unpack_parts(pack_body(key, text))
    assert key_out == key
    assert payload_out in (text, expected)  # decoded already, or left to aes.b64decode


@pytest.mark.parametrize(
    "document",
    [
        b'{"encryptedAESKey":"a","encryptedPayload":"}',  # the layout's ends overlap
        b'{"encryptedAESKey":","encryptedPayload":"QUJD"}',  # not JSON
        b'{"encryptedAESKey":"a\x01","encryptedPayload":"QUJD"}',  # a raw control character
    ],
)
def test_near_misses_of_the_layout_are_refused_as_json_errors(document: bytes) -> None:
    with pytest.raises(MalformedPayloadError, match="not a JSON document"):
        unpack_parts(encode(document))


@pytest.mark.parametrize("size", [3 * 128 * 1024 - 1, 3 * 128 * 1024, 3 * 128 * 1024 * 2 + 1])
def test_large_inputs_are_encoded_as_the_stdlib_encodes_them(size: int) -> None:
    data = os.urandom(size)
    assert b64encode(data) == base64.b64encode(data)
    assert b64url_encode(data) == base64.urlsafe_b64encode(data).rstrip(b"=").decode()
