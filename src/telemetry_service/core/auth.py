"""API keys with roles, kept as SHA-256 hashes in config."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from .config import ApiKeyConfig

__all__ = ["ApiKeyRegistry", "Principal", "Role", "generate_api_key", "hash_api_key"]

Role = Literal["admin", "viewer"]
_RANK: dict[str, int] = {"viewer": 1, "admin": 2}


@dataclass(frozen=True)
class Principal:
    name: str
    role: Role

    def has(self, role: Role) -> bool:
        return _RANK[self.role] >= _RANK[role]


#: When no key is configured everyone is an administrator (the server then only listens on
#: loopback).
ANONYMOUS_ADMIN = Principal("anonymous", "admin")


def hash_api_key(key: str) -> str:
    """The config form of a key: ``sha256:<hex>``."""
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def generate_api_key() -> str:
    """A new random key (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


class ApiKeyRegistry:
    def __init__(self, keys: Iterable[ApiKeyConfig]) -> None:
        self._keys = tuple(keys)

    @property
    def configured(self) -> bool:
        return bool(self._keys)

    def authenticate(self, presented: str) -> Principal | None:
        digest = hash_api_key(presented)
        match = None
        for key in self._keys:  # compare with every key, in constant time each
            if hmac.compare_digest(digest, key.hash):
                match = key
        return Principal(match.name, match.role) if match else None
