"""Encrypting payloads for the vendor's public key (``telemetry.encryption``)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from telemetry_service.plugins.telemetry_collection_manager import EncryptionUnavailableError
from telemetry_service.wire import Encryptor, WireError, load_jwks

from .config import TelemetryConfig

__all__ = ["PayloadEncrypter"]


class PayloadEncrypter:
    """Encrypts with the key set and ``kid`` of the *current* config (rebuilt when they change).

    Without ``telemetry.encryption.jwks`` nothing can be encrypted, and so nothing is sent.
    It takes a payload object or its compact JSON bytes (see the manager's `Encrypter`).
    """

    accepts_json_bytes = True

    def __init__(self, config: Callable[[], TelemetryConfig]) -> None:
        self._config = config
        self._lock = threading.Lock()
        self._cached: tuple[str, Encryptor] | None = None

    def _encryptor(self) -> Encryptor:
        encryption = self._config().encryption
        if encryption.jwks is None:
            raise EncryptionUnavailableError(
                "telemetry.encryption.jwks is not set: configure the vendor's public key set"
            )
        marker = repr((encryption.jwks, encryption.kid))
        with self._lock:
            if self._cached is not None and self._cached[0] == marker:
                return self._cached[1]
            try:
                jwks: dict[str, Any] = load_jwks(encryption.jwks)
                kid = encryption.kid or _only_kid(jwks)
                encryptor = Encryptor(jwks, kid)
            except WireError as exc:
                raise EncryptionUnavailableError(f"telemetry.encryption: {exc}") from exc
            self._cached = (marker, encryptor)
            return encryptor

    def __call__(self, payload: object) -> str:
        return self._encryptor().encrypt(payload)


def _only_kid(jwks: dict[str, Any]) -> str:
    kids = [key.get("kid") for key in jwks.get("keys", [])]
    if len(kids) == 1 and isinstance(kids[0], str):
        return kids[0]
    raise EncryptionUnavailableError(
        "telemetry.encryption.kid is not set and the key set has several keys: choose one"
    )
