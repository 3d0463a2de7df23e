"""One-time sign-in links to the dashboard, and the session credentials they are exchanged for.

An administrator (``POST /api/signin-links``, or the demo) makes a link
``{receiver}/signin#token=…``. The token is random (256 bits), kept only as its SHA-256 hash in
the store's database (table ``signin_links``, its own migration table
``receiver_signin_migrations``), valid for :data:`LINK_TTL_S` seconds (at most
:data:`MAX_LINK_TTL_S`) and spent by its first exchange: one ``UPDATE … WHERE used_ms IS NULL``,
so that two workers or two receivers on one database never both accept it. It sits in the URL's
fragment, which browsers never send to a server, so it reaches no access log, proxy or
``Referer``.

The exchange (``POST /api/signin``) answers a session credential: ``tss1.<claims>.<mac>``, an
HMAC-SHA256 over the claims (key name, role, expiry) with a secret kept in the same database
(made once, shared by every worker and receiver on it). The sign-in page puts it into the tab's
``sessionStorage`` where a typed API key would go; the pages send it as ``Authorization: ApiKey
…``. It is valid for :data:`SESSION_TTL_S` seconds and only while its key name is still
configured with at least its role (removing a key from ``auth.apiKeys`` ends its sessions).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, get_args

import anyio.to_thread
import orjson

from telemetry_service.common.apikeys import ApiKeyRegistry, Principal, Role
from telemetry_service.common.clock import Clock, to_ms
from telemetry_service.common.config_file import ApiKeyConfig
from telemetry_service.common.db import open_database
from telemetry_service.common.db.base import Cursor
from telemetry_service.common.db.migrations import apply_migrations

__all__ = [
    "LINK_TTL_S",
    "LOCAL_PATH",
    "MAX_LINK_TTL_S",
    "SESSION_TTL_S",
    "SessionKeys",
    "SignIn",
    "SignInLink",
    "SignedIn",
]

#: How long a sign-in link stays valid by default (10 minutes), and at most (1 hour).
LINK_TTL_S = 600
MAX_LINK_TTL_S = 3600
#: How long the session credential of a link stays valid (12 hours).
SESSION_TTL_S = 12 * 3600
#: The pages a link may open: a path of this receiver (never ``//host`` or another origin).
LOCAL_PATH = r"^/([^/\\\s#][^\\\s#]*)?$"
_PREFIX = "tss1."
_MIGRATION_TABLE = "receiver_signin_migrations"
_MIGRATION_LOCK = 0x7E1E_0002  # PostgreSQL advisory lock id, beside the report store's
_MIGRATIONS = (
    """
    CREATE TABLE signin_links (
        token_hash TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        role TEXT NOT NULL,
        next_path TEXT NOT NULL,
        created_ms BIGINT NOT NULL,
        expires_ms BIGINT NOT NULL,
        used_ms BIGINT
    );
    CREATE INDEX signin_links_expires ON signin_links (expires_ms);
    CREATE TABLE signin_secret (id INTEGER PRIMARY KEY, secret TEXT NOT NULL)
    """,
)


@dataclass(frozen=True)
class SignInLink:
    """A new link's token (shown once, never stored) and its expiry (epoch ms)."""

    token: str
    expires_ms: int

    @property
    def path(self) -> str:
        return f"/signin#token={self.token}"


@dataclass(frozen=True)
class SignedIn:
    """A spent link: the session credential, whose it is, until when, and where to go."""

    credential: str
    principal: Principal
    expires_ms: int
    next_path: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SignIn:
    """Sign-in links and session credentials on the database of ``store.url``.

    It opens its own small connection pool to that database; :meth:`open` migrates its two
    tables and loads (or makes) the shared secret. Until then no session credential verifies.
    """

    def __init__(self, store_url: str, *, clock: Clock) -> None:
        self._db = open_database(store_url, pool_size=2)
        self._clock = clock
        self._secret: bytes | None = None

    async def open(self) -> None:
        await anyio.to_thread.run_sync(self._open)

    def _open(self) -> None:
        self._db.open()
        apply_migrations(self._db, _MIGRATION_TABLE, _MIGRATIONS, lock_id=_MIGRATION_LOCK)

        def secret(cur: Cursor) -> str:
            new = _b64(secrets.token_bytes(32))
            sql = "INSERT INTO signin_secret (id, secret) VALUES (1, ?) ON CONFLICT (id) DO NOTHING"
            cur.execute(self._db.sql(sql), (new,))
            cur.execute("SELECT secret FROM signin_secret WHERE id = 1")
            return str(cur.fetchone()[0])

        self._secret = _unb64(self._db.transaction(True, secret))

    async def close(self) -> None:
        self._secret = None
        await anyio.to_thread.run_sync(self._db.close)

    def _now_ms(self) -> int:
        return to_ms(self._clock())

    async def create_link(
        self, *, name: str, role: Role, next_path: str = "/", ttl_s: int = LINK_TTL_S
    ) -> SignInLink:
        """A new single-use link that signs in as `name` with `role`, then opens `next_path`.
        Spent and expired links are deleted on the way."""
        if not 1 <= ttl_s <= MAX_LINK_TTL_S:
            raise ValueError(f"a sign-in link lives 1 to {MAX_LINK_TTL_S} seconds")
        token = secrets.token_urlsafe(32)
        now = self._now_ms()
        row = (_token_hash(token), name, role, next_path, now, now + ttl_s * 1000)

        def insert(cur: Cursor) -> None:
            cur.execute(self._db.sql("DELETE FROM signin_links WHERE expires_ms <= ?"), (now,))
            cur.execute(
                self._db.sql(
                    "INSERT INTO signin_links (token_hash, name, role, next_path, created_ms, "
                    "expires_ms) VALUES (?, ?, ?, ?, ?, ?)"
                ),
                row,
            )

        await self._db.run(True, insert)
        return SignInLink(token, now + ttl_s * 1000)

    async def redeem(self, token: str) -> SignedIn | None:
        """Spend a link: its session, or None when the token is unknown, used or expired."""
        now = self._now_ms()
        digest = _token_hash(token)

        def spend(cur: Cursor) -> Any:
            cur.execute(
                self._db.sql(
                    "UPDATE signin_links SET used_ms = ? "
                    "WHERE token_hash = ? AND used_ms IS NULL AND expires_ms > ?"
                ),
                (now, digest, now),
            )
            if cur.rowcount != 1:
                return None
            sql = "SELECT name, role, next_path FROM signin_links WHERE token_hash = ?"
            cur.execute(self._db.sql(sql), (digest,))
            return cur.fetchone()

        row = await self._db.run(True, spend)
        if row is None:
            return None
        principal = Principal(str(row[0]), row[1])
        expires = now + SESSION_TTL_S * 1000
        return SignedIn(self._sign(principal, expires), principal, expires, str(row[2]))

    def _mac(self, claims: str) -> str:
        assert self._secret is not None
        return _b64(hmac.new(self._secret, (_PREFIX + claims).encode(), "sha256").digest())

    def _sign(self, principal: Principal, expires_ms: int) -> str:
        body = {"n": principal.name, "r": principal.role, "e": expires_ms}
        claims = _b64(orjson.dumps(body))
        return f"{_PREFIX}{claims}.{self._mac(claims)}"

    def verify(self, credential: str) -> Principal | None:
        """The principal of an unexpired session credential made here, else None."""
        if self._secret is None or not credential.startswith(_PREFIX):
            return None
        claims, _, mac = credential.removeprefix(_PREFIX).partition(".")
        if not hmac.compare_digest(mac.encode(), self._mac(claims).encode()):
            return None
        try:
            body = orjson.loads(_unb64(claims))
        except (binascii.Error, ValueError):
            return None
        role, expires = body.get("r"), body.get("e")
        if role not in get_args(Role) or not isinstance(expires, int):
            return None
        if expires <= self._now_ms():
            return None
        return Principal(str(body.get("n")), role)


class SessionKeys(ApiKeyRegistry):
    """The configured API keys, and also the session credentials of `signin` whose key name
    is still configured with at least their role."""

    def __init__(self, keys: Iterable[ApiKeyConfig], signin: SignIn) -> None:
        keys = tuple(keys)
        super().__init__(keys)
        self._signin = signin
        self._roles = {key.name: Principal(key.name, key.role) for key in keys}

    def authenticate(self, authorization: str | None) -> Principal | None:
        principal = super().authenticate(authorization)
        if principal is not None:
            return principal
        scheme, _, credential = (authorization or "").partition(" ")
        if scheme.lower() not in ("apikey", "bearer"):
            return None
        session = self._signin.verify(credential.strip())
        key = self._roles.get(session.name) if session else None
        return session if session and key and key.has(session.role) else None
