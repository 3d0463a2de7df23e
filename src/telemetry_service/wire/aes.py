"""Payload encryption of ``@elastic/node-crypto`` (used by request-crypto for the payload).

``key = PBKDF2-HMAC-SHA512(passphrase, salt, 10_000 rounds, 32 bytes)``, then AES-256-GCM without
AAD; the result is standard, padded base64 of ``salt(64) || iv(12) || tag(16) || ciphertext``.
The passphrase is the raw 32 random bytes that the JWE part carries.
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from .errors import DecryptionError, MalformedPayloadError

__all__ = [
    "IV_BYTES",
    "PASSPHRASE_BYTES",
    "PBKDF2_ITERATIONS",
    "SALT_BYTES",
    "TAG_BYTES",
    "decrypt_payload",
    "derive_key",
    "encrypt_payload",
]

PASSPHRASE_BYTES = 32
SALT_BYTES = 64
IV_BYTES = 12
TAG_BYTES = 16
KEY_BYTES = 32
PBKDF2_ITERATIONS = 10_000
_HEADER_BYTES = SALT_BYTES + IV_BYTES + TAG_BYTES


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
    salt = os.urandom(SALT_BYTES) if salt is None else salt
    iv = os.urandom(IV_BYTES) if iv is None else iv
    if len(salt) != SALT_BYTES or len(iv) != IV_BYTES:
        raise ValueError("salt must be 64 bytes and iv 12 bytes")
    sealed = AESGCM(derive_key(passphrase, salt)).encrypt(iv, plaintext, None)
    ciphertext, tag = sealed[:-TAG_BYTES], sealed[-TAG_BYTES:]
    return base64.b64encode(b"".join((salt, iv, tag, ciphertext))).decode("ascii")


def decrypt_payload(passphrase: bytes, encoded: str) -> bytes:
    """Decrypt node-crypto's base64 string; the result is the UTF-8 JSON text."""
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedPayloadError("encryptedPayload is not valid base64") from None
    if len(raw) < _HEADER_BYTES:
        raise MalformedPayloadError("encryptedPayload is too short")
    salt = raw[:SALT_BYTES]
    iv = raw[SALT_BYTES : SALT_BYTES + IV_BYTES]
    tag = raw[SALT_BYTES + IV_BYTES : _HEADER_BYTES]
    ciphertext = raw[_HEADER_BYTES:]
    try:
        return AESGCM(derive_key(passphrase, salt)).decrypt(iv, ciphertext + tag, None)
    except InvalidTag:
        raise DecryptionError("the payload failed authentication") from None
