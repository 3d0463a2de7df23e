"""The key-wrap part: the passphrase in a compact JWE (node-jose's output).

Header ``{"zip":"DEF","enc":"A128CBC-HS256","alg":<RSA-OAEP|RSA-OAEP-256>,"kid":<kid>}`` in
this order, as node-jose writes it; the plaintext is the raw passphrase, DEFLATE-compressed.
Decryption checks the header first (algorithms are pinned), inflates with a hard limit, and
turns every failure into a :class:`~telemetry_service.wire.errors.WireError`.

:func:`wrap` is joserfc's ``encrypt_compact``. :func:`unwrap` is the one JWE this format uses,
opened directly with ``cryptography`` (RFC 7516 section 5.2, RFC 7518 sections 4.3 and 5.2):
joserfc's ``decrypt_compact`` spent ~40 µs of Python a report around the same two calls (the
RSA unwrap and AES-CBC), a receiver's largest cost after the crypto (docs/benchmarks.md,
"Ingest"). joserfc still sets the size limits (:class:`KeyWrapRegistry`), and the tests
check both against each other and against the npm package.
"""

from __future__ import annotations

import binascii
import hmac
import zlib
from collections.abc import Mapping
from typing import Any

import orjson
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from joserfc import jwe
from joserfc.errors import ExceededSizeError, JoseError, UnsupportedAlgorithmError
from joserfc.jwa import JWEZipModel
from joserfc.jwe import JWERegistry
from joserfc.jwk import RSAKey
from joserfc.util import urlsafe_b64decode as strict_b64url_decode

from .envelope import b64url_decode
from .errors import (
    DecryptionError,
    InflateLimitError,
    MalformedPayloadError,
    PayloadTooLargeError,
)
from .keys import KEY_WRAP_ALGORITHMS, RSA_OAEP, RSA_OAEP_256

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
#: A128CBC-HS256: a 32-byte content key (the HMAC key, then the AES-128 key), a 16-byte IV,
#: the first 16 bytes of HMAC-SHA-256 as the tag.
_CEK_BYTES = 32
_HALF = 16
#: RSA-OAEP is OAEP with SHA-1 by definition (RFC 7518 section 4.3; request-crypto 2.x).
_SHA1 = hashes.SHA1()  # noqa: S303
_OAEP = {
    RSA_OAEP: padding.OAEP(mgf=padding.MGF1(_SHA1), algorithm=_SHA1, label=None),
    RSA_OAEP_256: padding.OAEP(
        mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None
    ),
}


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


def unwrap(
    compact: str,
    key: RSAKey,
    *,
    registry: JWERegistry,
    header: Mapping[str, Any] | None = None,
) -> bytes:
    """Decrypt a compact JWE whose `header` :func:`read_header` accepted (read here if not
    given; a caller that passes it passes what ``read_header(compact)`` returned), within
    `registry`'s size limits, header checks and ``DEF`` inflate.

    The tag is checked (in constant time) before anything is decrypted, so the padding check
    that follows tells a sender nothing it did not write.
    """
    if header is None:
        header = read_header(compact)
    try:
        raw = compact.encode("ascii")
    except UnicodeEncodeError:
        raise DecryptionError("the encrypted key failed decryption") from None
    segments = raw.split(b".")
    if len(segments) != _SEGMENTS:
        raise MalformedPayloadError("encryptedAESKey is not a compact JWE (5 parts)")
    aad, encrypted_key, iv, ciphertext, tag = segments
    try:
        registry.validate_compact_value_size(raw)
        registry.validate_protected_header_size(aad)
        registry.validate_encrypted_key_size(encrypted_key)
        registry.validate_initialization_vector_size(iv)
        registry.validate_ciphertext_size(ciphertext)
        registry.validate_auth_tag_size(tag)
    except ExceededSizeError:
        raise PayloadTooLargeError("a part of encryptedAESKey exceeds its size limit") from None
    private = key.private_key
    try:
        # joserfc's checks of the header's values and its strict base64url (no padding, no
        # "+" or "/", canonical last characters): one spelling of each JWE, as before.
        registry.check_header(dict(header), True)
        strict_b64url_decode(aad)
        parts = [strict_b64url_decode(part) for part in (encrypted_key, iv, ciphertext, tag)]
        if not isinstance(private, RSAPrivateKey):
            raise ValueError("not a private key")
        cek = private.decrypt(parts[0], _OAEP[header["alg"]])
    except (JoseError, ValueError, KeyError, TypeError):
        raise DecryptionError("the encrypted key failed decryption") from None
    plaintext = _open_cbc_hs256(cek, aad, parts[1], parts[2], parts[3])
    if "zip" in header:  # read_header allows only DEF
        return registry.get_zip(ZIP_DEFLATE).decompress(plaintext)
    return plaintext


def _open_cbc_hs256(cek: bytes, aad: bytes, iv: bytes, ciphertext: bytes, tag: bytes) -> bytes:
    """AES_128_CBC_HMAC_SHA_256 decryption (RFC 7518 section 5.2.2.2)."""
    failed = DecryptionError("the encrypted key failed decryption")
    if len(cek) != _CEK_BYTES or len(iv) != _HALF or len(tag) != _HALF:
        raise failed
    signed = b"".join((aad, iv, ciphertext, (len(aad) * 8).to_bytes(8, "big")))
    # Not hmac.digest(), which lets go of the GIL even for these few bytes (taking it back
    # costs a busy receiver two context switches).
    expected = hmac.new(cek[:_HALF], signed, "sha256").digest()[:_HALF]
    if not hmac.compare_digest(expected, tag):
        raise failed
    if not ciphertext or len(ciphertext) % _HALF:
        raise failed
    decryptor = Cipher(algorithms.AES(cek[_HALF:]), modes.CBC(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    pad = padded[-1]
    if not 0 < pad <= _HALF or padded[-pad:] != bytes((pad,)) * pad:  # PKCS #7
        raise failed
    return padded[:-pad]
