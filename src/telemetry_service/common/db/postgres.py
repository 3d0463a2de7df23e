"""PostgreSQL through psycopg 3 and its pool: several processes and machines on one database.

Connecting tries once directly before the pool starts, so an unreachable server gives one
clear line instead of the pool's retries. Error messages carry the first line of the reason,
never the URL or its password.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from .base import Cursor, Database, StoreError, StoreUnavailableError

if TYPE_CHECKING:
    from psycopg_pool import ConnectionPool

__all__ = ["PostgresDatabase"]

T = TypeVar("T")
_CONNECT_TIMEOUT_S = 10


class PostgresDatabase(Database):
    """A pool of at most `pool_size` connections to the database of `url`."""

    backend = "postgresql"

    def __init__(self, url: str, *, pool_size: int = 4, pool_timeout_s: float = 10.0) -> None:
        super().__init__()
        self.url = url
        self._pool_size = pool_size
        self._pool_timeout_s = pool_timeout_s
        self._pool: ConnectionPool[Any] | None = None

    def __repr__(self) -> str:
        return "PostgresDatabase(<url hidden>)"

    def sql(self, sql: str) -> str:
        return sql.replace("?", "%s")

    def _reason(self, exc: BaseException) -> str:
        """The first line of `exc`'s message, the URL's password masked; only the SQLSTATE of
        a data error, whose message may quote the data (a payload)."""
        import psycopg

        if isinstance(exc, psycopg.errors.DataError):
            return f"a value was refused (SQLSTATE {exc.sqlstate})"
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        try:
            password = urlsplit(self.url).password
        except ValueError:
            password = None
        return reason.replace(password, "***") if password else reason

    def open(self) -> None:
        try:
            import psycopg
            from psycopg_pool import ConnectionPool
        except ImportError:  # pragma: no cover - depends on the install
            raise StoreUnavailableError(
                "store.url is PostgreSQL but psycopg is not installed: "
                "pip install 'telemetry-service[postgres]'"
            ) from None
        try:
            psycopg.connect(self.url, connect_timeout=_CONNECT_TIMEOUT_S).close()
        except psycopg.Error as exc:
            raise StoreUnavailableError(
                f"cannot connect to the PostgreSQL store: {self._reason(exc)}"
            ) from None
        pool: ConnectionPool[Any] = ConnectionPool(
            self.url, min_size=1, max_size=self._pool_size, open=False, timeout=self._pool_timeout_s
        )
        try:
            pool.open(wait=True, timeout=_CONNECT_TIMEOUT_S)
        except Exception as exc:
            pool.close()
            raise StoreUnavailableError(
                f"cannot connect to the PostgreSQL store: {type(exc).__name__}"
            ) from None
        self._pool = pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def transaction(self, write: bool, fn: Callable[[Cursor], T]) -> T:
        import psycopg

        if self._pool is None:
            raise StoreUnavailableError("the store is closed")
        try:
            with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
                return fn(cur)
        except StoreError:
            raise
        except (psycopg.Error, OSError) as exc:
            raise StoreUnavailableError(
                f"PostgreSQL store: {type(exc).__name__}: {self._reason(exc)}"
            ) from exc
        except Exception as exc:
            if type(exc).__module__.startswith("psycopg_pool"):
                raise StoreUnavailableError(f"PostgreSQL store: {self._reason(exc)}") from exc
            raise
