"""API keys with roles, kept as SHA-256 hashes in config (``sha256:<hex>``).

A caller sends ``Authorization: ApiKey <key>`` (or ``Bearer <key>``). ``admin`` includes
``viewer``. With no key configured every caller is an administrator, and the servers refuse to
listen on a non-loopback address. :meth:`ApiKeyRegistry.authorize` refuses with
:class:`AccessDenied`, whose wording and ``WWW-Authenticate`` challenge both servers answer.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from .config_file import ApiKeyConfig

__all__ = [
    "ANONYMOUS_ADMIN",
    "AccessDenied",
    "ApiKeyRegistry",
    "Principal",
    "Role",
    "generate_api_key",
    "hash_api_key",
]

Role = Literal["admin", "viewer"]
_RANK: dict[str, int] = {"viewer": 1, "admin": 2}


@dataclass(frozen=True)
class Principal:
    """An authenticated caller."""

    name: str
    role: Role

    def has(self, role: Role) -> bool:
        """True when this caller's role includes `role`."""
        return _RANK[self.role] >= _RANK[role]


#: Everyone, when no API key is configured (the server then only listens on loopback).
ANONYMOUS_ADMIN = Principal("anonymous", "admin")


def hash_api_key(key: str) -> str:
    """The config form of a key: ``sha256:<hex>``."""
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def generate_api_key() -> str:
    """A new random key (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


class AccessDenied(Exception):
    """A request without a valid key (401) or without the role it needs (403)."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(message)

    def headers(self, realm: str) -> dict[str, str]:
        """The response headers: a 401 carries the ``WWW-Authenticate`` challenge."""
        return {"WWW-Authenticate": f'ApiKey realm="{realm}"'} if self.status == 401 else {}


class ApiKeyRegistry:
    """Checks presented keys against the configured hashes."""

    def __init__(self, keys: Iterable[ApiKeyConfig]) -> None:
        self._keys = tuple(keys)

    @property
    def configured(self) -> bool:
        """True when at least one key is configured."""
        return bool(self._keys)

    def authenticate(self, authorization: str | None) -> Principal | None:
        """The principal of an ``Authorization`` header value, or None."""
        scheme, _, credential = (authorization or "").partition(" ")
        credential = credential.strip()
        if scheme.lower() not in ("apikey", "bearer") or not credential:
            return None
        digest = hash_api_key(credential)
        match = None
        for key in self._keys:  # compare with every key, in constant time each
            if hmac.compare_digest(digest, key.hash):
                match = key
        return Principal(match.name, match.role) if match else None

    def authorize(self, authorization: str | None, role: Role) -> Principal:
        """The caller if it may act as `role` (anyone when no key is configured), else
        :class:`AccessDenied`."""
        if not self._keys:
            return ANONYMOUS_ADMIN
        principal = self.authenticate(authorization)
        if principal is None:
            raise AccessDenied(401, "Authentication required: send 'Authorization: ApiKey <key>'.")
        if not principal.has(role):
            raise AccessDenied(
                403, f"API key [{principal.name}] needs the [{role}] role for this request."
            )
        return principal
