"""The key-wrap part: the passphrase in a compact JWE (node-jose's output, via joserfc).

Header ``{"zip":"DEF","enc":"A128CBC-HS256","alg":<RSA-OAEP|RSA-OAEP-256>,"kid":<kid>}`` in
this order, as node-jose writes it; the plaintext is the raw passphrase, DEFLATE-compressed.
Decryption checks the header first (algorithms are pinned), inflates with a hard limit, and
turns every failure into a :class:`~telemetry_service.wire.errors.WireError`.
"""

from __future__ import annotations

import binascii
import zlib
from typing import Any

import orjson
from joserfc import jwe
from joserfc.errors import ExceededSizeError, JoseError, UnsupportedAlgorithmError
from joserfc.jwa import JWEZipModel
from joserfc.jwe import JWERegistry
from joserfc.jwk import RSAKey

from .envelope import b64url_decode
from .errors import (
    DecryptionError,
    InflateLimitError,
    MalformedPayloadError,
    PayloadTooLargeError,
    WireError,
)
from .keys import KEY_WRAP_ALGORITHMS

__all__ = [
    "CONTENT_ALGORITHM",
    "ZIP_DEFLATE",
    "KeyWrapRegistry",
    "read_header",
    "unwrap",
    "wrap",
]

CONTENT_ALGORITHM = "A128CBC-HS256"
ZIP_DEFLATE = "DEF"
_SEGMENTS = 5
_MAX_HEADER_CHARS = 4096
# The base64url JWE encrypted key of an RSA key up to 16384 bits.
_MAX_ENCRYPTED_KEY_CHARS = 2752


class BoundedDeflate(JWEZipModel):
    """Raw DEFLATE whose inflate stops at `max_bytes` (a zip bomb guard)."""

    name = ZIP_DEFLATE
    description = "DEFLATE, inflate bounded"

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes

    def compress(self, s: bytes) -> bytes:
        """Raw DEFLATE, as pako's ``deflateRaw``."""
        compressor = zlib.compressobj(level=6, wbits=-zlib.MAX_WBITS)
        return compressor.compress(s) + compressor.flush()

    def decompress(self, s: bytes) -> bytes:
        """Inflate at most `max_bytes`; larger output raises :class:`InflateLimitError`."""
        inflater = zlib.decompressobj(wbits=-zlib.MAX_WBITS)
        try:
            data = inflater.decompress(s, self.max_bytes + 1)
        except zlib.error:
            raise MalformedPayloadError("the compressed key is corrupt") from None
        if len(data) > self.max_bytes:
            raise InflateLimitError(f"the compressed key inflates past {self.max_bytes} bytes")
        if not inflater.eof:
            raise MalformedPayloadError("the compressed key is truncated")
        return data


class KeyWrapRegistry(JWERegistry):
    """A joserfc registry pinned to request-crypto's algorithms, with explicit size limits."""

    def __init__(self, *, max_inflated_bytes: int, max_ciphertext_bytes: int) -> None:
        super().__init__(
            algorithms=[*KEY_WRAP_ALGORITHMS, CONTENT_ALGORITHM, ZIP_DEFLATE],
            strict_check_header=False,
        )
        # joserfc caps a JWE ciphertext at 64 KiB by default; the caller's body limit rules.
        self.max_ciphertext_length = max_ciphertext_bytes
        self.max_protected_header_length = _MAX_HEADER_CHARS
        self.max_encrypted_key_length = _MAX_ENCRYPTED_KEY_CHARS
        self._deflate = BoundedDeflate(max_inflated_bytes)

    def get_zip(self, name: str) -> JWEZipModel:
        """Only ``DEF``, with the bounded inflate."""
        if name != ZIP_DEFLATE:
            raise UnsupportedAlgorithmError(f"Algorithm of '{name}' is not allowed")
        return self._deflate


def wrap(passphrase: bytes, key: RSAKey, *, kid: str, alg: str, registry: JWERegistry) -> str:
    """Encrypt `passphrase` for `key` into a compact JWE, as request-crypto does."""
    header = {"zip": ZIP_DEFLATE, "enc": CONTENT_ALGORITHM, "alg": alg, "kid": kid}
    return jwe.encrypt_compact(header, passphrase, key, registry=registry)


def read_header(compact: str) -> dict[str, Any]:
    """Parse and check the protected header of a compact JWE (no decryption)."""
    segments = compact.split(".")
    if len(segments) != _SEGMENTS:
        raise MalformedPayloadError("encryptedAESKey is not a compact JWE (5 parts)")
    if len(segments[0]) > _MAX_HEADER_CHARS:
        raise PayloadTooLargeError("the JWE header is too large")
    try:
        header = orjson.loads(b64url_decode(segments[0]))
    except (binascii.Error, ValueError):
        raise MalformedPayloadError("the JWE header is not base64url JSON") from None
    if not isinstance(header, dict):
        raise MalformedPayloadError("the JWE header is not a JSON object")
    if "crit" in header:
        raise MalformedPayloadError("the JWE header has unsupported critical parameters")
    if header.get("alg") not in KEY_WRAP_ALGORITHMS:
        raise MalformedPayloadError(
            f"unsupported key wrap (alg); expected one of {', '.join(KEY_WRAP_ALGORITHMS)}"
        )
    if header.get("enc") != CONTENT_ALGORITHM:
        raise MalformedPayloadError(
            f"unsupported content encryption (enc); expected {CONTENT_ALGORITHM}"
        )
    if header.get("zip", ZIP_DEFLATE) != ZIP_DEFLATE:
        raise MalformedPayloadError(f"unsupported compression (zip); expected {ZIP_DEFLATE}")
    if "kid" in header and not isinstance(header["kid"], str):
        raise MalformedPayloadError("the JWE kid is not a string")
    return header


def unwrap(compact: str, key: RSAKey, *, registry: JWERegistry) -> bytes:
    """Decrypt a compact JWE whose header :func:`read_header` accepted."""
    try:
        plaintext = jwe.decrypt_compact(compact, key, registry=registry).plaintext
    except WireError:
        raise
    except ExceededSizeError:
        raise PayloadTooLargeError("a part of encryptedAESKey exceeds its size limit") from None
    except (JoseError, ValueError, TypeError, AssertionError):
        raise DecryptionError("the encrypted key failed decryption") from None
    if plaintext is None:  # pragma: no cover - joserfc always sets it on success
        raise DecryptionError("the encrypted key failed decryption")
    return plaintext
