"""Error types of the wire format.

Every error raised by :mod:`telemetry_service.wire` for bad input or bad keys is a
:class:`WireError`. Messages never contain key material, passphrases or payload bytes.
"""

from __future__ import annotations

__all__ = [
    "DecryptionError",
    "InflateLimitError",
    "KeySetError",
    "MalformedPayloadError",
    "PayloadTooLargeError",
    "UnknownKeyError",
    "WireError",
]


class WireError(Exception):
    """Base class of every error of the wire package."""


class KeySetError(WireError, ValueError):
    """A key set (JWKS) is unreadable or holds a key that cannot be used.

    It is also a :class:`ValueError`, so configuration validators can let it through as a
    validation error.
    """


class UnknownKeyError(WireError):
    """The key id (``kid``) names no key of the key set."""

    def __init__(self, kid: str | None) -> None:
        self.kid = kid
        if kid is None:
            super().__init__("the encrypted key names no key id (kid)")
        else:
            cut = "..." if len(kid) > 64 else ""
            super().__init__(f"unknown key id (kid) {kid[:64]!r}{cut}")


class DecryptionError(WireError):
    """Authentication failed: a wrong key, or a tampered or corrupted body."""


class InflateLimitError(WireError):
    """The compressed (``zip: DEF``) content inflates past the configured limit."""


class PayloadTooLargeError(WireError):
    """The encrypted body is larger than the configured maximum."""


class MalformedPayloadError(WireError):
    """The body is not well-formed: bad base64, bad JSON, or a bad JWE structure."""
