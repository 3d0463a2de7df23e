"""The receiver side: ``createRequestDecryptor(privateJWKS).decrypt(body)`` in Python, hardened."""

from __future__ import annotations

import copy
import gc
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NoReturn

import orjson

from . import aes, jwe
from .envelope import unpack_parts
from .errors import MalformedPayloadError, PayloadTooLargeError
from .keys import JWKSSource, load_key_set, select_key

__all__ = [
    "DEFAULT_MAX_INFLATED_BYTES",
    "DEFAULT_MAX_INPUT_BYTES",
    "DecryptResult",
    "Decryptor",
    "collector_paused",
    "parse_json",
]

#: Default limit of an encrypted body, in bytes (a 5 MB payload makes a body of about 9 MB).
DEFAULT_MAX_INPUT_BYTES = 32 * 1024 * 1024
#: Default limit of the inflated JWE plaintext (request-crypto 3.x uses the same 250 KB).
DEFAULT_MAX_INFLATED_BYTES = 250_000


@dataclass(frozen=True, repr=False)
class DecryptResult:
    """A decrypted body: the payload's JSON text and the key that opened it."""

    plaintext: bytes
    kid: str
    key_wrap: str

    def __repr__(self) -> str:
        return (
            f"DecryptResult(kid={self.kid!r}, key_wrap={self.key_wrap!r}, "
            f"plaintext=<{len(self.plaintext)} bytes>)"
        )


class Decryptor:
    """Decrypts bodies with any key of a private key set, picked by the JWE header's kid.

    It holds several keys for rotation and accepts both key wraps, ``RSA-OAEP`` (2.x senders)
    and ``RSA-OAEP-256`` (3.x senders), whatever ``alg`` a key is stamped with; ``enc`` and
    ``zip`` are pinned to ``A128CBC-HS256`` and ``DEF``. Every failure raises a
    :class:`~telemetry_service.wire.errors.WireError`. Instances are immutable and thread-safe.
    """

    def __init__(
        self,
        private_jwks: JWKSSource,
        *,
        max_input_bytes: int = DEFAULT_MAX_INPUT_BYTES,
        max_inflated_bytes: int = DEFAULT_MAX_INFLATED_BYTES,
    ) -> None:
        if max_input_bytes < 1 or max_inflated_bytes < aes.PASSPHRASE_BYTES:
            raise ValueError("max_input_bytes must be positive and max_inflated_bytes >= 32")
        self._public, self._keys = load_key_set(private_jwks, private=True)
        self._max_input_bytes = max_input_bytes
        self._max_inflated_bytes = max_inflated_bytes
        self._registry = jwe.KeyWrapRegistry(
            max_inflated_bytes=max_inflated_bytes, max_ciphertext_bytes=max_input_bytes
        )

    @property
    def max_input_bytes(self) -> int:
        """The largest body accepted, in bytes."""
        return self._max_input_bytes

    @property
    def max_inflated_bytes(self) -> int:
        """The most the compressed JWE content may inflate to, in bytes."""
        return self._max_inflated_bytes

    @property
    def kids(self) -> tuple[str, ...]:
        """The key ids this decryptor can open, in key-set order."""
        return tuple(self._keys)

    def public_jwks(self) -> dict[str, Any]:
        """The public half of the key set (what senders need; request-crypto's well-knowns)."""
        return copy.deepcopy(self._public)

    def decrypt_result(self, body: str | bytes) -> DecryptResult:
        """Decrypt `body`; return the payload's JSON text with the kid and key wrap used."""
        if len(body) > self._max_input_bytes:
            raise PayloadTooLargeError(
                f"the body has {len(body)} bytes; the limit is {self._max_input_bytes}"
            )
        encrypted_key, payload = unpack_parts(body)
        header = jwe.read_header(encrypted_key)
        loaded = select_key(self._keys, header.get("kid"))
        passphrase = jwe.unwrap(encrypted_key, loaded.key, registry=self._registry, header=header)
        if len(passphrase) != aes.PASSPHRASE_BYTES:
            raise MalformedPayloadError("the wrapped passphrase is not 32 bytes")
        if isinstance(payload, str):
            plaintext = aes.decrypt_payload(passphrase, payload)
        else:
            plaintext = aes.open_sealed(passphrase, payload)
        return DecryptResult(plaintext=plaintext, kid=loaded.kid, key_wrap=header["alg"])

    def decrypt(self, body: str | bytes) -> bytes:
        """Decrypt `body` and return the payload's UTF-8 JSON text."""
        return self.decrypt_result(body).plaintext

    def decrypt_json(self, body: str | bytes) -> Any:
        """Decrypt `body` and parse the payload (as ``JSON.parse`` would)."""
        return parse_json(self.decrypt(body))

    def __repr__(self) -> str:
        return f"Decryptor(kids={self.kids!r})"


#: From this size on, :func:`collector_paused` pauses the cycle collector.
_PAUSE_GC_BYTES = 64 * 1024


@contextmanager
def collector_paused(size: int) -> Iterator[None]:
    """Pause the cycle collector while a JSON text of `size` bytes is parsed, from 64 KiB on
    (resumed if it was running: another thread that resumes it early only costs the speed-up).

    A large document makes hundreds of thousands of objects, and their allocation triggers
    cycle collections that traverse every object of the process (2 to 3 times the parse itself
    at 5 MB in a process holding other large values); parsed JSON has no cycles.
    """
    paused = size >= _PAUSE_GC_BYTES and gc.isenabled()
    if paused:
        gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def parse_json(text: bytes) -> Any:
    """Parse JSON text; fall back to the stdlib for what orjson refuses but JavaScript reads
    (integers beyond 64 bits, lone surrogate escapes). orjson parses with the cycle collector
    paused (:func:`collector_paused`)."""
    try:
        with collector_paused(len(text)):
            return orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except ValueError:
        raise MalformedPayloadError("the decrypted payload is not valid JSON") from None


def _reject_constant(name: str) -> NoReturn:
    """NaN and Infinity are not JSON."""
    raise ValueError(name)
