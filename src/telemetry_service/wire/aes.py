"""Payload encryption of ``@elastic/node-crypto`` (used by request-crypto for the payload).

``key = PBKDF2-HMAC-SHA512(passphrase, salt, 10_000 rounds, 32 bytes)``, then AES-256-GCM without
AAD; the result is standard, padded base64 of ``salt(64) || iv(12) || tag(16) || ciphertext``.
The passphrase is the raw 32 random bytes that the JWE part carries.

:func:`seal` and :func:`open_sealed` are the byte-level halves the encryptor and decryptor use
(no str round trip, one copy of a large payload less); :func:`encrypt_payload` and
:func:`decrypt_payload` are the same on base64 text.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from .envelope import b64decode_strict, b64encode
from .errors import DecryptionError, MalformedPayloadError

__all__ = [
    "IV_BYTES",
    "PASSPHRASE_BYTES",
    "PBKDF2_ITERATIONS",
    "SALT_BYTES",
    "TAG_BYTES",
    "b64decode",
    "decrypt_payload",
    "derive_key",
    "encrypt_payload",
    "open_sealed",
    "seal",
    "seal_with_key",
]

PASSPHRASE_BYTES = 32
SALT_BYTES = 64
IV_BYTES = 12
TAG_BYTES = 16
KEY_BYTES = 32
PBKDF2_ITERATIONS = 10_000
_HEADER_BYTES = SALT_BYTES + IV_BYTES + TAG_BYTES
_BLOCK_BYTES = 16


def derive_key(passphrase: bytes, salt: bytes) -> bytes:
    """The AES-256 key: PBKDF2-HMAC-SHA512 with 10,000 rounds."""
    kdf = PBKDF2HMAC(
        algorithm=hashes.SHA512(), length=KEY_BYTES, salt=salt, iterations=PBKDF2_ITERATIONS
    )
    return kdf.derive(passphrase)


def encrypt_payload(
    passphrase: bytes, plaintext: bytes, *, salt: bytes | None = None, iv: bytes | None = None
) -> str:
    """Encrypt `plaintext` into node-crypto's base64 string.

    `salt` and `iv` are random unless given (only known-answer tests give them).
    """
    return seal(passphrase, plaintext, salt=salt, iv=iv).decode("ascii")


def seal(
    passphrase: bytes, plaintext: bytes, *, salt: bytes | None = None, iv: bytes | None = None
) -> bytes:
    """:func:`encrypt_payload` as ASCII bytes."""
    salt = os.urandom(SALT_BYTES) if salt is None else salt
    if len(salt) != SALT_BYTES:
        raise ValueError("salt must be 64 bytes and iv 12 bytes")
    return seal_with_key(derive_key(passphrase, salt), salt, plaintext, iv=iv)


def seal_with_key(
    key: bytes, salt: bytes, plaintext: bytes | Sequence[bytes], *, iv: bytes | None = None
) -> bytes:
    """:func:`seal` with the key already derived from the passphrase and `salt` (the encryptor
    derives it in a thread while it serializes the payload).

    `plaintext` may be a sequence of pieces (the encryptor's JSON in pieces): they are
    encrypted one after the other straight into the result's buffer, behind the header, so a
    payload of megabytes is neither joined nor copied (each fresh megabyte costs page faults).
    """
    iv = os.urandom(IV_BYTES) if iv is None else iv
    if len(salt) != SALT_BYTES or len(iv) != IV_BYTES:
        raise ValueError("salt must be 64 bytes and iv 12 bytes")
    pieces = (plaintext,) if isinstance(plaintext, bytes) else plaintext
    size = sum(len(piece) for piece in pieces)
    # update_into wants room for one block more than it writes.
    sealed = memoryview(bytearray(_HEADER_BYTES + size + _BLOCK_BYTES))
    encryptor = Cipher(algorithms.AES(key), modes.GCM(iv)).encryptor()
    end = _HEADER_BYTES
    for piece in pieces:
        end += encryptor.update_into(piece, sealed[end:])
    encryptor.finalize()
    sealed[:SALT_BYTES] = salt
    sealed[SALT_BYTES : SALT_BYTES + IV_BYTES] = iv
    sealed[SALT_BYTES + IV_BYTES : _HEADER_BYTES] = encryptor.tag
    return b64encode(sealed[:end])


def b64decode(encoded: str | bytes | memoryview) -> bytes:
    """Strict standard base64 (``base64.b64decode(validate=True)``), fast on valid input."""
    try:
        return b64decode_strict(encoded)  # ASCII text is read as it is, without a copy
    except ValueError:
        pass  # the SIMD decoder refuses a few inputs that validate=True reads (an extra "=")
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedPayloadError("encryptedPayload is not valid base64") from None


def decrypt_payload(passphrase: bytes, encoded: str) -> bytes:
    """Decrypt node-crypto's base64 string; the result is the UTF-8 JSON text."""
    return open_sealed(passphrase, b64decode(encoded))


def open_sealed(passphrase: bytes, raw: bytes) -> bytes:
    """Decrypt ``salt || iv || tag || ciphertext`` (the decoded ``encryptedPayload``)."""
    if len(raw) < _HEADER_BYTES:
        raise MalformedPayloadError("encryptedPayload is too short")
    view = memoryview(raw)
    salt = bytes(view[:SALT_BYTES])
    iv = bytes(view[SALT_BYTES : SALT_BYTES + IV_BYTES])
    sealed = b"".join((view[_HEADER_BYTES:], view[SALT_BYTES + IV_BYTES : _HEADER_BYTES]))
    try:
        return AESGCM(derive_key(passphrase, salt)).decrypt(iv, sealed, None)
    except InvalidTag:
        raise DecryptionError("the payload failed authentication") from None
