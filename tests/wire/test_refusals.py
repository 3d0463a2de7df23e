"""Every bad body is refused with its own WireError, and the message holds no secrets."""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Callable
from typing import Any

import pytest

from telemetry_service.wire import (
    DecryptionError,
    Decryptor,
    Encryptor,
    InflateLimitError,
    KeyPair,
    MalformedPayloadError,
    PayloadTooLargeError,
    UnknownKeyError,
    WireError,
    aes,
    generate_key_pair,
    jwe,
)
from telemetry_service.wire.envelope import b64url_encode, pack_body
from telemetry_service.wire.keys import load_keys

PAYLOAD = {"cluster_uuid": "abc", "opt_in_status": True}


def b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@pytest.fixture(scope="module")
def decryptor(private_jwks: dict[str, Any]) -> Decryptor:
    return Decryptor(private_jwks)


@pytest.fixture(scope="module")
def body(public_jwks: dict[str, Any]) -> str:
    return Encryptor(public_jwks, "kid-oaep").encrypt(PAYLOAD)


def split(body: str) -> tuple[list[str], str]:
    document = json.loads(b64url(body))
    return document["encryptedAESKey"].split("."), document["encryptedPayload"]


def join(segments: list[str], payload: str) -> str:
    return pack_body(".".join(segments), payload)


def flip(segment: str, index: int = 5) -> str:
    raw = bytearray(b64url(segment))
    raw[index % len(raw)] ^= 0x40
    return b64url_encode(bytes(raw))


def wrap_raw(pair: KeyPair, plaintext: bytes, header: dict[str, Any] | None = None) -> str:
    """A JWE of arbitrary plaintext, built with a registry that allows everything big."""
    loaded = load_keys(pair.public_jwks, private=False)["kid-oaep"]
    registry = jwe.KeyWrapRegistry(max_inflated_bytes=1 << 30, max_ciphertext_bytes=1 << 30)
    if header is None:
        return jwe.wrap(plaintext, loaded.key, kid="kid-oaep", alg="RSA-OAEP", registry=registry)
    from joserfc import jwe as joserfc_jwe

    return joserfc_jwe.encrypt_compact(header, plaintext, loaded.key, registry=registry)


def a_payload() -> str:
    return aes.encrypt_payload(os.urandom(32), b"{}")


def test_the_untouched_body_decrypts(decryptor: Decryptor, body: str) -> None:
    assert decryptor.decrypt_json(body) == PAYLOAD


@pytest.mark.parametrize(
    ("part", "tamper"),
    [
        ("encrypted key", lambda s, p: ([s[0], flip(s[1]), *s[2:]], p)),
        ("jwe iv", lambda s, p: ([*s[:2], flip(s[2], 0), *s[3:]], p)),
        ("jwe ciphertext", lambda s, p: ([*s[:3], flip(s[3], -1), s[4]], p)),
        ("jwe tag", lambda s, p: ([*s[:4], flip(s[4], 15)], p)),
        ("salt", lambda s, p: (s, _flip_payload(p, 0))),
        ("iv", lambda s, p: (s, _flip_payload(p, 64))),
        ("tag", lambda s, p: (s, _flip_payload(p, 76))),
        ("ciphertext", lambda s, p: (s, _flip_payload(p, 92))),
    ],
)
def test_a_flipped_byte_in_each_part_is_detected(
    decryptor: Decryptor, body: str, part: str, tamper: Callable[..., Any]
) -> None:
    segments, payload = split(body)
    with pytest.raises(DecryptionError) as caught:
        decryptor.decrypt(join(*tamper(segments, payload)))
    assert body[:40] not in str(caught.value)


def _flip_payload(payload: str, offset: int) -> str:
    raw = bytearray(base64.b64decode(payload))
    raw[offset] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def test_a_changed_header_breaks_the_jwe_tag(decryptor: Decryptor, body: str) -> None:
    segments, payload = split(body)
    header = json.loads(b64url(segments[0]))
    respaced = b64url_encode(json.dumps(header, separators=(", ", ": ")).encode())
    with pytest.raises(DecryptionError):
        decryptor.decrypt(join([respaced, *segments[1:]], payload))


def test_parts_of_two_bodies_do_not_mix(
    decryptor: Decryptor, body: str, public_jwks: dict[str, Any]
) -> None:
    other_segments, other_payload = split(Encryptor(public_jwks, "kid-oaep").encrypt(PAYLOAD))
    segments, _ = split(body)
    with pytest.raises(DecryptionError):
        decryptor.decrypt(join(segments, other_payload))


def test_a_different_key_with_the_same_kid_fails(body: str) -> None:
    impostor = generate_key_pair("kid-oaep")
    with pytest.raises(DecryptionError):
        Decryptor(impostor.private_jwks).decrypt(body)


def test_unknown_and_missing_kid(oaep_pair: KeyPair, body: str) -> None:
    other = Decryptor(generate_key_pair("someone-else").private_jwks)
    with pytest.raises(UnknownKeyError, match="'kid-oaep'") as caught:
        other.decrypt(body)
    assert caught.value.kid == "kid-oaep"
    header = {"zip": "DEF", "enc": "A128CBC-HS256", "alg": "RSA-OAEP"}
    no_kid = pack_body(wrap_raw(oaep_pair, os.urandom(32), header), a_payload())
    with pytest.raises(UnknownKeyError, match="no key id") as caught:
        Decryptor(oaep_pair.private_jwks).decrypt(no_kid)
    assert caught.value.kid is None


def test_zip_bomb_stops_at_the_inflate_limit(oaep_pair: KeyPair) -> None:
    bomb = pack_body(wrap_raw(oaep_pair, bytes(10_000_000)), a_payload())
    assert len(bomb) < 40_000  # 10 MB of zeros deflate to about 10 KB
    started = time.perf_counter()
    with pytest.raises(InflateLimitError, match="250000"):
        Decryptor(oaep_pair.private_jwks).decrypt(bomb)
    assert time.perf_counter() - started < 1.0
    with pytest.raises(InflateLimitError, match="1000 bytes"):
        Decryptor(oaep_pair.private_jwks, max_inflated_bytes=1000).decrypt(bomb)
    # With room for it, the bomb inflates and is refused for its length instead.
    roomy = Decryptor(oaep_pair.private_jwks, max_inflated_bytes=20_000_000)
    with pytest.raises(MalformedPayloadError, match="not 32 bytes"):
        roomy.decrypt(bomb)


def test_jwe_ciphertext_beyond_joserfc_default_cap_is_accepted(oaep_pair: KeyPair) -> None:
    """joserfc caps a JWE ciphertext at 64 KiB by default; the body limit rules instead."""
    big = pack_body(wrap_raw(oaep_pair, os.urandom(100_000)), a_payload())
    decryptor = Decryptor(oaep_pair.private_jwks, max_inflated_bytes=200_000)
    with pytest.raises(MalformedPayloadError, match="not 32 bytes"):
        decryptor.decrypt(big)


@pytest.mark.parametrize("as_bytes", [False, True])
def test_oversized_body_is_refused_before_parsing(
    private_jwks: dict[str, Any], body: str, as_bytes: bool
) -> None:
    small = Decryptor(private_jwks, max_input_bytes=len(body) - 1)
    with pytest.raises(PayloadTooLargeError, match=f"limit is {len(body) - 1}"):
        small.decrypt(body.encode() if as_bytes else body)
    with pytest.raises(PayloadTooLargeError):
        small.decrypt("!" * len(body))
    assert Decryptor(private_jwks, max_input_bytes=len(body)).decrypt_json(body) == PAYLOAD


def test_whitespace_and_padding_around_the_body_are_tolerated(
    decryptor: Decryptor, body: str
) -> None:
    padded = body + "=" * (-len(body) % 4)
    assert decryptor.decrypt_json(f"  {padded}\r\n".encode()) == PAYLOAD


def _body_of(document: object) -> str:
    return b64url_encode(json.dumps(document).encode())


def _with_header(pair: KeyPair, **header: Any) -> str:
    full = {"zip": "DEF", "enc": "A128CBC-HS256", "alg": "RSA-OAEP", "kid": "kid-oaep", **header}
    full = {k: v for k, v in full.items() if v is not None}
    segments = wrap_raw(pair, os.urandom(32)).split(".")
    segments[0] = b64url_encode(json.dumps(full).encode())
    return pack_body(".".join(segments), a_payload())


MALFORMED: list[tuple[str, Callable[[KeyPair, str], str | bytes], str]] = [
    ("empty", lambda p, b: "", "JSON document"),
    ("not base64url", lambda p, b: "abc$def", "base64url"),
    ("bad length", lambda p, b: "abcde", "base64url"),
    ("not ascii", lambda p, b: b"\xff\xfe", "base64url"),
    ("not json", lambda p, b: b64url_encode(b"hello"), "JSON document"),
    ("json array", lambda p, b: _body_of([1]), "JSON object"),
    ("missing member", lambda p, b: _body_of({"encryptedAESKey": "a"}), "encryptedPayload"),
    (
        "member not str",
        lambda p, b: _body_of({"encryptedAESKey": 1, "encryptedPayload": "x"}),
        "string",
    ),
    ("four parts", lambda p, b: join(split(b)[0][:4], split(b)[1]), "5 parts"),
    ("header not b64", lambda p, b: join(["*", *split(b)[0][1:]], split(b)[1]), "base64url JSON"),
    (
        "header not json",
        lambda p, b: join([b64url_encode(b"{x"), *split(b)[0][1:]], split(b)[1]),
        "base64url JSON",
    ),
    (
        "header array",
        lambda p, b: join([b64url_encode(b"[]"), *split(b)[0][1:]], split(b)[1]),
        "JSON object",
    ),
    ("alg RSA1_5", lambda p, b: _with_header(p, alg="RSA1_5"), "key wrap"),
    ("alg none", lambda p, b: _with_header(p, alg=None), "key wrap"),
    ("enc A256GCM", lambda p, b: _with_header(p, enc="A256GCM"), "content encryption"),
    ("zip GZ", lambda p, b: _with_header(p, zip="GZ"), "compression"),
    ("crit", lambda p, b: _with_header(p, crit=["exp"]), "critical"),
    ("kid not str", lambda p, b: _with_header(p, kid=7), "kid"),
    ("payload not b64", lambda p, b: join(split(b)[0], "%%%"), "base64"),
    (
        "payload too short",
        lambda p, b: join(split(b)[0], base64.b64encode(bytes(91)).decode()),
        "too short",
    ),
    (
        "passphrase not 32 bytes",
        lambda p, b: pack_body(wrap_raw(p, os.urandom(16)), a_payload()),
        "32 bytes",
    ),
    ("deflate corrupt", lambda p, b: _raw_deflate(p, b"\xff\xff\xff\xff"), "corrupt"),
    ("deflate truncated", lambda p, b: _raw_deflate(p, _deflate(os.urandom(32))[:-3]), "truncated"),
]


def _deflate(data: bytes) -> bytes:
    return jwe.BoundedDeflate(100).compress(data)


def _raw_deflate(pair: KeyPair, compressed: bytes) -> str:
    """A JWE whose (encrypted) DEF stream is `compressed`, verbatim."""
    loaded = load_keys(pair.public_jwks, private=False)["kid-oaep"]

    class Verbatim(jwe.KeyWrapRegistry):
        def get_zip(self, name: str) -> Any:
            model = jwe.BoundedDeflate(100)
            model.compress = lambda s: s  # type: ignore[method-assign]
            return model

    registry = Verbatim(max_inflated_bytes=100, max_ciphertext_bytes=1 << 20)
    compact = jwe.wrap(compressed, loaded.key, kid="kid-oaep", alg="RSA-OAEP", registry=registry)
    return pack_body(compact, a_payload())


@pytest.mark.parametrize(("name", "build", "message"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_bodies(
    oaep_pair: KeyPair, body: str, name: str, build: Callable[[KeyPair, str], Any], message: str
) -> None:
    bad = build(oaep_pair, body)
    with pytest.raises(MalformedPayloadError, match=message):
        Decryptor(oaep_pair.private_jwks).decrypt(bad)


@pytest.mark.parametrize(
    ("plaintext", "expected"),
    [
        (b'{"big": 123456789012345678901234567890}', {"big": 1.2345678901234568e29}),
        (b'["\\ud800", "\\ud83d\\ude00"]', ["\ud800", "\U0001f600"]),
        (b"[1e400]", [float("inf")]),
    ],
)
def test_decrypt_json_reads_what_javascript_reads(
    public_jwks: dict[str, Any], decryptor: Decryptor, plaintext: bytes, expected: Any
) -> None:
    body = Encryptor(public_jwks, "kid-oaep").encrypt(plaintext)
    assert decryptor.decrypt_json(body) == expected


@pytest.mark.parametrize("plaintext", [b"{oops", b"NaN", b'{"a": Infinity}', b"\xff"])
def test_decrypt_json_refuses_invalid_json(
    public_jwks: dict[str, Any], decryptor: Decryptor, plaintext: bytes
) -> None:
    body = Encryptor(public_jwks, "kid-oaep").encrypt(plaintext)
    assert decryptor.decrypt(body) == plaintext
    with pytest.raises(MalformedPayloadError, match="not valid JSON"):
        decryptor.decrypt_json(body)


def test_all_errors_share_one_base() -> None:
    for error in (
        DecryptionError,
        InflateLimitError,
        MalformedPayloadError,
        PayloadTooLargeError,
        UnknownKeyError,
    ):
        assert issubclass(error, WireError)
