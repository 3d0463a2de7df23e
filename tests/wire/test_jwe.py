"""The JWE unwrap, written out with ``cryptography``, opens what joserfc opens, the same way,
and refuses what joserfc refuses (the npm package's JWEs: test_wire_interop.py)."""

from __future__ import annotations

import hmac
import json
import os
import zlib
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from joserfc import jwe as joserfc_jwe
from joserfc.errors import JoseError

from telemetry_service.wire import (
    DecryptionError,
    InflateLimitError,
    KeyPair,
    PayloadTooLargeError,
    jwe,
)
from telemetry_service.wire.envelope import b64url_encode
from telemetry_service.wire.keys import LoadedKey, load_keys

REGISTRY = jwe.KeyWrapRegistry(max_inflated_bytes=1 << 20, max_ciphertext_bytes=1 << 20)


def _keys(pair: KeyPair) -> tuple[LoadedKey, LoadedKey]:
    kid = pair.public_jwks["keys"][0]["kid"]
    return load_keys(pair.public_jwks, private=False)[kid], load_keys(
        pair.private_jwks, private=True
    )[kid]


@pytest.mark.parametrize("alg", ["RSA-OAEP", "RSA-OAEP-256"])
@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 32, 1000])
@pytest.mark.parametrize("zipped", [True, False])
def test_it_opens_what_joserfc_opens(oaep_pair: KeyPair, alg: str, size: int, zipped: bool) -> None:
    public, private = _keys(oaep_pair)
    header: dict[str, Any] = {"enc": "A128CBC-HS256", "alg": alg, "kid": "kid-oaep"}
    if zipped:
        header = {"zip": "DEF", **header}
    plaintext = os.urandom(size)
    compact = joserfc_jwe.encrypt_compact(header, plaintext, public.key, registry=REGISTRY)
    expected = joserfc_jwe.decrypt_compact(compact, private.key, registry=REGISTRY).plaintext
    assert expected == plaintext
    assert jwe.unwrap(compact, private.key, registry=REGISTRY) == plaintext
    read = jwe.read_header(compact)
    assert jwe.unwrap(compact, private.key, registry=REGISTRY, header=read) == plaintext


HEADER = {"enc": "A128CBC-HS256", "alg": "RSA-OAEP-256", "kid": "kid-oaep"}
_B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _handmade(
    public: LoadedKey,
    padded: bytes,
    *,
    cek: bytes | None = None,
    header: dict[str, Any] | None = None,
    aad: str | None = None,
    ciphertext: bytes | None = None,
) -> str:
    """A compact JWE of already padded content (or of `ciphertext` as it is), its tag right
    over whatever header segment `aad` it carries."""
    cek = os.urandom(32) if cek is None else cek
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    rsa = public.key.public_key
    assert rsa is not None
    encrypted_key = rsa.encrypt(cek, oaep)
    if aad is None:
        document = HEADER if header is None else header
        aad = b64url_encode(json.dumps(document, separators=(",", ":")).encode())
    iv = os.urandom(16)
    if ciphertext is None:
        aes_key = (cek + bytes(32))[16:32]  # a usable key whatever the length of `cek`
        encryptor = Cipher(algorithms.AES(aes_key), modes.CBC(iv)).encryptor()
        ciphertext = encryptor.update(padded) + encryptor.finalize()
    signed = aad.encode() + iv + ciphertext + (len(aad) * 8).to_bytes(8, "big")
    tag = hmac.digest(cek[:16], signed, "sha256")[:16]
    parts = [aad, *(b64url_encode(p) for p in (encrypted_key, iv, ciphertext, tag))]
    return ".".join(parts)


def test_a_handmade_jwe_opens(oaep_pair: KeyPair) -> None:
    public, private = _keys(oaep_pair)
    compact = _handmade(public, b"sixteen bytes!!!" + bytes([16]) * 16)
    assert jwe.unwrap(compact, private.key, registry=REGISTRY) == b"sixteen bytes!!!"


@pytest.mark.parametrize(
    "padded",
    [
        b"x" * 15 + b"\x00",  # a pad length of 0
        b"x" * 15 + b"\x11",  # longer than a block
        b"x" * 14 + b"\x01\x02",  # a pad byte that disagrees
        b"x" * 32,  # no padding at all
    ],
)
def test_bad_padding_under_a_valid_tag_is_refused(oaep_pair: KeyPair, padded: bytes) -> None:
    public, private = _keys(oaep_pair)
    compact = _handmade(public, padded)
    with pytest.raises((JoseError, ValueError)):
        joserfc_jwe.decrypt_compact(compact, private.key, registry=REGISTRY)
    with pytest.raises(DecryptionError, match="failed decryption"):
        jwe.unwrap(compact, private.key, registry=REGISTRY)


@pytest.mark.parametrize("cek_bytes", [16, 31, 33, 64])
def test_a_content_key_of_another_length_is_refused(oaep_pair: KeyPair, cek_bytes: int) -> None:
    public, private = _keys(oaep_pair)
    compact = _handmade(public, bytes([16]) * 16, cek=os.urandom(cek_bytes))
    with pytest.raises(DecryptionError, match="failed decryption"):
        jwe.unwrap(compact, private.key, registry=REGISTRY)


def test_a_public_key_cannot_unwrap(oaep_pair: KeyPair) -> None:
    public, _ = _keys(oaep_pair)
    compact = _handmade(public, bytes([16]) * 16)
    with pytest.raises(DecryptionError):
        jwe.unwrap(compact, public.key, registry=REGISTRY)


def test_a_ciphertext_not_a_whole_number_of_blocks_is_refused(oaep_pair: KeyPair) -> None:
    public, private = _keys(oaep_pair)
    compact = _handmade(public, b"", ciphertext=os.urandom(17))  # its tag right
    with pytest.raises(DecryptionError, match="failed decryption"):
        jwe.unwrap(compact, private.key, registry=REGISTRY)


def test_the_tag_is_checked_before_anything_is_decrypted(
    oaep_pair: KeyPair, monkeypatch: pytest.MonkeyPatch
) -> None:
    public, private = _keys(oaep_pair)
    segments = _handmade(public, bytes([16]) * 16).split(".")
    segments[4] = b64url_encode(os.urandom(16))

    def no_decryption(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("AES ran before the tag was checked")

    monkeypatch.setattr(jwe, "Cipher", no_decryption)
    with pytest.raises(DecryptionError, match="failed decryption"):
        jwe.unwrap(".".join(segments), private.key, registry=REGISTRY)


def _respelled(segment: str, how: str) -> str:
    """Another base64url spelling of the same bytes, which joserfc refuses."""
    if how == "padded":
        assert len(segment) % 4
        return segment + "=" * (-len(segment) % 4)
    if how == "standard alphabet":
        assert "-" in segment or "_" in segment
        return segment.replace("-", "+").replace("_", "/")
    last = _B64URL.index(segment[-1])  # "trailing bits": a last character not canonical
    assert last % 4 == 0
    return segment[:-1] + _B64URL[last + 1]


@pytest.mark.parametrize(
    ("index", "how"),
    [
        (0, "padded"),
        (1, "standard alphabet"),
        (2, "padded"),
        (4, "padded"),
        (4, "trailing bits"),
    ],
)
def test_one_spelling_of_each_part_is_read(oaep_pair: KeyPair, index: int, how: str) -> None:
    public, private = _keys(oaep_pair)
    while True:  # a key segment without "-" or "_" (one in ~50,000) cannot be respelled so
        segments = _handmade(public, bytes([16]) * 16).split(".")
        if "-" in segments[1] or "_" in segments[1]:
            break
    respelled = _respelled(segments[index], how)
    if index == 0:  # the header is the tag's AAD: sign the respelled one
        compact = _handmade(public, bytes([16]) * 16, aad=respelled)
    else:
        compact = ".".join([*segments[:index], respelled, *segments[index + 1 :]])
    with pytest.raises((JoseError, ValueError)):
        joserfc_jwe.decrypt_compact(compact, private.key, registry=REGISTRY)
    with pytest.raises(DecryptionError, match="failed decryption"):
        jwe.unwrap(compact, private.key, registry=REGISTRY)


@pytest.mark.parametrize(
    "extra",
    [{"typ": 1}, {"cty": []}, {"jku": "ftp://x"}, {"x5c": "abc"}, {"jwk": "x"}, {"x5t": 5}],
)
def test_header_values_joserfc_refuses_are_refused(
    oaep_pair: KeyPair, extra: dict[str, Any]
) -> None:
    public, private = _keys(oaep_pair)
    compact = _handmade(public, bytes([16]) * 16, header={**HEADER, **extra})
    with pytest.raises(JoseError):
        joserfc_jwe.decrypt_compact(compact, private.key, registry=REGISTRY)
    with pytest.raises(DecryptionError, match="failed decryption"):
        jwe.unwrap(compact, private.key, registry=REGISTRY)


def test_the_registry_limits_each_part(oaep_pair: KeyPair) -> None:
    public, private = _keys(oaep_pair)
    compact = joserfc_jwe.encrypt_compact(
        {"zip": "DEF", "enc": "A128CBC-HS256", "alg": "RSA-OAEP", "kid": "kid-oaep"},
        os.urandom(5000),
        public.key,
        registry=REGISTRY,
    )
    small = jwe.KeyWrapRegistry(max_inflated_bytes=1 << 20, max_ciphertext_bytes=1000)
    with pytest.raises(PayloadTooLargeError, match="size limit"):
        jwe.unwrap(compact, private.key, registry=small)
    for index in (1, 2, 4):  # the encrypted key, the IV, the tag
        segments = compact.split(".")
        segments[index] += "A" * 4000
        with pytest.raises(PayloadTooLargeError):
            jwe.unwrap(".".join(segments), private.key, registry=REGISTRY)


def test_a_non_ascii_part_is_refused(oaep_pair: KeyPair) -> None:
    public, private = _keys(oaep_pair)
    segments = _handmade(public, bytes([16]) * 16).split(".")
    segments[3] = "é" + segments[3]
    with pytest.raises(DecryptionError):
        jwe.unwrap(".".join(segments), private.key, registry=REGISTRY)


def test_the_inflate_is_bounded(oaep_pair: KeyPair) -> None:
    public, private = _keys(oaep_pair)
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    bomb = compressor.compress(bytes(100_000)) + compressor.flush()
    registry = jwe.KeyWrapRegistry(max_inflated_bytes=1000, max_ciphertext_bytes=1 << 20)

    class Verbatim(jwe.KeyWrapRegistry):
        def get_zip(self, name: str) -> Any:
            model = jwe.BoundedDeflate(1 << 20)
            model.compress = lambda s: s  # type: ignore[method-assign]
            return model

    compact = jwe.wrap(
        bomb,
        public.key,
        kid="kid-oaep",
        alg="RSA-OAEP",
        registry=Verbatim(max_inflated_bytes=1 << 20, max_ciphertext_bytes=1 << 20),
    )
    with pytest.raises(InflateLimitError, match="inflates past 1000 bytes"):
        jwe.unwrap(compact, private.key, registry=registry)
    assert jwe.unwrap(compact, private.key, registry=REGISTRY) == bytes(100_000)
