"""The sender side: ``createRequestEncryptor(publicJWKS).encrypt(kid, payload)`` in Python."""

from __future__ import annotations

import contextlib
import functools
import os
from concurrent.futures import Future

from . import aes, jwe
from .envelope import pack_parts
from .errors import KeySetError
from .helpers import HelperThreads
from .jsonc import compact_json_pieces
from .keys import DEFAULT_KEY_WRAP, KEY_WRAP_ALGORITHMS, JWKSSource, load_keys, select_key

__all__ = ["Encryptor"]

# A 32-byte passphrase deflates to about 40 bytes; this bound only guards the registry.
_MAX_WRAPPED_BYTES = 4096


def _new_pool() -> HelperThreads:
    return HelperThreads(2, "wire-encrypt")


# PBKDF2 (10,000 rounds, about 4-5 ms) releases the GIL as soon as it starts: while the
# caller's thread derives the key, a worker wraps the passphrase and writes the payload's JSON,
# so the worker has the GIL at once and that work costs no wall time up to about PBKDF2's own
# (the hand-off itself was not measurable next to PBKDF2, even for a 1 KB payload). Its threads
# start when needed and leave after 10 s without work (helpers.py).
_WORKERS = _new_pool()


def _new_workers_after_fork() -> None:
    """A forked child has none of the pool's threads, but the pool counts them as started
    (and maybe idle): work handed to it would never run. The child gets a pool of its own."""
    global _WORKERS
    _WORKERS = _new_pool()


os.register_at_fork(after_in_child=_new_workers_after_fork)

# The wrapped passphrase (JWE compact text, ASCII) and the plaintext (JSON pieces or bytes).
_Prepared = tuple[bytes, bytes | list[bytes]]


class Encryptor:
    """Encrypts payloads for one public key of a key set, picked by `kid`.

    The key wrap is `key_wrap` when given, else the key's ``alg``, else ``RSA-OAEP``
    (request-crypto 2.x, node-jose). request-crypto 3.x always wraps with ``RSA-OAEP-256``:
    pass ``key_wrap="RSA-OAEP-256"`` to do the same with a key stamped ``RSA-OAEP``, once every
    receiver accepts it (a 2.x receiver with such a key answers "no key found").

    Instances are immutable and thread-safe; :meth:`encrypt` is CPU-bound and synchronous.
    """

    def __init__(self, public_jwks: JWKSSource, kid: str, *, key_wrap: str | None = None) -> None:
        keys = load_keys(public_jwks, private=False)
        loaded = select_key(keys, kid)
        wrap = key_wrap or loaded.alg or DEFAULT_KEY_WRAP
        if wrap not in KEY_WRAP_ALGORITHMS:
            raise KeySetError(f"key_wrap must be one of {', '.join(KEY_WRAP_ALGORITHMS)}")
        self._kid = kid
        self._key_wrap = wrap
        self._key = loaded.key
        self._registry = jwe.KeyWrapRegistry(
            max_inflated_bytes=_MAX_WRAPPED_BYTES, max_ciphertext_bytes=_MAX_WRAPPED_BYTES
        )

    @property
    def kid(self) -> str:
        """The id of the key payloads are encrypted for."""
        return self._kid

    @property
    def key_wrap(self) -> str:
        """The JWE ``alg``: ``RSA-OAEP`` or ``RSA-OAEP-256``."""
        return self._key_wrap

    def encrypt(self, payload: object) -> str:
        """Encrypt `payload` and return the body string.

        `bytes` (or bytearray, memoryview) are sent as they are and must be UTF-8 JSON text: the
        peer ``JSON.parse``-s them. Anything else is serialized with :func:`compact_json`, which
        equals JavaScript's ``JSON.stringify`` (so a ``str`` becomes a JSON string literal).
        """
        passphrase = os.urandom(aes.PASSPHRASE_BYTES)
        salt = os.urandom(aes.SALT_BYTES)
        prepared: Future[_Prepared] | None = None
        # RuntimeError: no helper is free and none can start (the interpreter is exiting, or
        # the process has no more threads), or this is an encrypt nested in a helper's JSON
        # writing; nothing was queued, this thread prepares.
        with contextlib.suppress(RuntimeError):
            prepared = _WORKERS.submit(functools.partial(self._prepare, payload, passphrase))
        key = aes.derive_key(passphrase, salt)
        encrypted_key, plaintext = (
            prepared.result() if prepared is not None else self._prepare(payload, passphrase)
        )
        return pack_parts(encrypted_key, aes.seal_with_key(key, salt, plaintext))

    def _prepare(self, payload: object, passphrase: bytes) -> _Prepared:
        """The wrapped passphrase (the JWE) and the plaintext, as its pieces for an object."""
        encrypted_key = jwe.wrap(
            passphrase, self._key, kid=self._kid, alg=self._key_wrap, registry=self._registry
        )
        plaintext: bytes | list[bytes]
        if isinstance(payload, (bytes, bytearray, memoryview)):
            plaintext = bytes(payload)
        else:
            plaintext = compact_json_pieces(payload)
        return encrypted_key.encode("ascii"), plaintext

    def __repr__(self) -> str:
        return f"Encryptor(kid={self._kid!r}, key_wrap={self._key_wrap!r})"
