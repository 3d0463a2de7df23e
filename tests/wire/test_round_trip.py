"""Encryptor and Decryptor together: round trips, key selection, rotation."""

from __future__ import annotations

import base64
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from telemetry_service.wire import (
    CONTENT_ENCODING,
    Decryptor,
    Encryptor,
    KeyPair,
    KeySetError,
    UnknownKeyError,
    compact_json,
)

PAYLOAD = {"cluster_uuid": "abc", "stats": {"count": 3, "ratio": 1.0, "text": "naïve ☃ 日本 😀"}}


def b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def envelope(body: str) -> dict[str, str]:
    document: dict[str, str] = json.loads(b64url(body))
    return document


@pytest.mark.parametrize(
    ("kid", "alg"), [("kid-oaep", "RSA-OAEP"), ("kid-oaep256", "RSA-OAEP-256")]
)
def test_round_trip_follows_the_key_alg(
    public_jwks: dict[str, Any], private_jwks: dict[str, Any], kid: str, alg: str
) -> None:
    encryptor = Encryptor(public_jwks, kid)
    assert (encryptor.kid, encryptor.key_wrap) == (kid, alg)
    body = encryptor.encrypt(PAYLOAD)
    result = Decryptor(private_jwks).decrypt_result(body)
    assert (result.kid, result.key_wrap) == (kid, alg)
    assert result.plaintext == compact_json(PAYLOAD)
    assert Decryptor(private_jwks).decrypt_json(body) == PAYLOAD


def test_body_layout_matches_request_crypto(public_jwks: dict[str, Any]) -> None:
    body = Encryptor(public_jwks, "kid-oaep").encrypt(PAYLOAD)
    assert "=" not in body
    assert set(body) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    raw = b64url(body)
    assert raw.startswith(b'{"encryptedAESKey":"')
    assert b'","encryptedPayload":"' in raw
    document = envelope(body)
    assert list(document) == ["encryptedAESKey", "encryptedPayload"]
    segments = document["encryptedAESKey"].split(".")
    assert len(segments) == 5
    assert b64url(segments[0]) == (
        b'{"zip":"DEF","enc":"A128CBC-HS256","alg":"RSA-OAEP","kid":"kid-oaep"}'
    )
    assert len(b64url(segments[1])) == 256  # RSA-2048 wrapped CEK
    assert len(b64url(segments[2])) == 16  # CBC IV
    assert len(b64url(segments[3])) % 16 == 0
    assert len(b64url(segments[4])) == 16  # HS256 tag, truncated to 128 bits
    payload = base64.b64decode(document["encryptedPayload"], validate=True)
    assert len(payload) == 64 + 12 + 16 + len(compact_json(PAYLOAD))
    assert CONTENT_ENCODING == "aes256gcm"


def test_bytes_are_sent_as_they_are_and_str_becomes_a_json_string(
    public_jwks: dict[str, Any], private_jwks: dict[str, Any]
) -> None:
    encryptor, decryptor = Encryptor(public_jwks, "kid-oaep"), Decryptor(private_jwks)
    assert decryptor.decrypt(encryptor.encrypt(b'{"raw": 1.0}')) == b'{"raw": 1.0}'
    assert decryptor.decrypt(encryptor.encrypt(bytearray(b"[]"))) == b"[]"
    assert decryptor.decrypt(encryptor.encrypt("hi")) == b'"hi"'
    assert decryptor.decrypt(encryptor.encrypt({})) == b"{}"


def test_each_body_is_fresh(public_jwks: dict[str, Any]) -> None:
    encryptor = Encryptor(public_jwks, "kid-oaep")
    first, second = envelope(encryptor.encrypt(PAYLOAD)), envelope(encryptor.encrypt(PAYLOAD))
    assert first["encryptedAESKey"].split(".")[1:] != second["encryptedAESKey"].split(".")[1:]
    assert first["encryptedPayload"] != second["encryptedPayload"]


def test_key_without_alg_wraps_with_rsa_oaep(
    oaep_pair: KeyPair, private_jwks: dict[str, Any]
) -> None:
    bare = {k: v for k, v in oaep_pair.public_jwks["keys"][0].items() if k != "alg"}
    encryptor = Encryptor({"keys": [bare]}, "kid-oaep")
    assert encryptor.key_wrap == "RSA-OAEP"
    assert Decryptor(private_jwks).decrypt_result(encryptor.encrypt(1)).key_wrap == "RSA-OAEP"


@pytest.mark.parametrize(
    ("kid", "key_wrap"), [("kid-oaep", "RSA-OAEP-256"), ("kid-oaep256", "RSA-OAEP")]
)
def test_key_wrap_override_and_decryption_whatever_the_stamp(
    public_jwks: dict[str, Any], private_jwks: dict[str, Any], kid: str, key_wrap: str
) -> None:
    """3.x wraps with RSA-OAEP-256 even for keys stamped RSA-OAEP; receivers accept both."""
    body = Encryptor(public_jwks, kid, key_wrap=key_wrap).encrypt(PAYLOAD)
    assert json.loads(b64url(envelope(body)["encryptedAESKey"].split(".")[0]))["alg"] == key_wrap
    result = Decryptor(private_jwks).decrypt_result(body)
    assert (result.kid, result.key_wrap, result.plaintext) == (kid, key_wrap, compact_json(PAYLOAD))


def test_encryptor_refuses_unknown_kid_and_bad_key_wrap(public_jwks: dict[str, Any]) -> None:
    with pytest.raises(UnknownKeyError, match="'nope'") as caught:
        Encryptor(public_jwks, "nope")
    assert caught.value.kid == "nope"
    with pytest.raises(KeySetError, match="key_wrap"):
        Encryptor(public_jwks, "kid-oaep", key_wrap="RSA1_5")


def test_encryptor_needs_only_public_keys(private_jwks: dict[str, Any]) -> None:
    """A private set works for encryption too; only its public half is used."""
    body = Encryptor(private_jwks, "kid-oaep").encrypt(PAYLOAD)
    assert Decryptor(private_jwks).decrypt_json(body) == PAYLOAD


def test_rotation_picks_the_key_by_kid(
    oaep_pair: KeyPair, oaep256_pair: KeyPair, public_jwks: dict[str, Any]
) -> None:
    old_only = Decryptor(oaep_pair.private_jwks)
    new_body = Encryptor(public_jwks, "kid-oaep256").encrypt(PAYLOAD)
    with pytest.raises(UnknownKeyError) as caught:
        old_only.decrypt(new_body)
    assert caught.value.kid == "kid-oaep256"
    both = Decryptor(
        {"keys": [*oaep256_pair.private_jwks["keys"], *oaep_pair.private_jwks["keys"]]}
    )
    assert both.kids == ("kid-oaep256", "kid-oaep")
    old_body = Encryptor(public_jwks, "kid-oaep").encrypt(PAYLOAD)
    assert both.decrypt_json(new_body) == both.decrypt_json(old_body) == PAYLOAD


def test_decryptor_publishes_its_public_keys(
    private_jwks: dict[str, Any], public_jwks: dict[str, Any]
) -> None:
    decryptor = Decryptor(private_jwks)
    assert decryptor.public_jwks() == public_jwks
    assert "kid-oaep" in repr(decryptor)
    assert private_jwks["keys"][0]["d"][:16] not in repr(decryptor)


def test_decryptor_needs_private_keys_and_sane_limits(
    public_jwks: dict[str, Any], private_jwks: dict[str, Any]
) -> None:
    with pytest.raises(KeySetError, match="private key member"):
        Decryptor(public_jwks)
    with pytest.raises(ValueError, match="max_"):
        Decryptor(private_jwks, max_input_bytes=0)
    with pytest.raises(ValueError, match="max_"):
        Decryptor(private_jwks, max_inflated_bytes=16)


def test_concurrent_use_from_threads(
    public_jwks: dict[str, Any], private_jwks: dict[str, Any]
) -> None:
    encryptor, decryptor = Encryptor(public_jwks, "kid-oaep256"), Decryptor(private_jwks)
    payloads = [{"n": i, "text": "☃" * i} for i in range(16)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        bodies = list(pool.map(encryptor.encrypt, payloads))
        assert list(pool.map(decryptor.decrypt_json, bodies)) == payloads


def test_large_payload_round_trip(
    public_jwks: dict[str, Any], private_jwks: dict[str, Any]
) -> None:
    payload = {"rows": [{"i": i, "v": i / 7, "s": "x" * 50} for i in range(20_000)]}
    body = Encryptor(public_jwks, "kid-oaep").encrypt(payload)
    assert len(body) > 1_000_000
    assert Decryptor(private_jwks).decrypt(body) == compact_json(payload)
