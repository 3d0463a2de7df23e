"""The PostgreSQL backend of the saved-object store (psycopg 3, pooled connections)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from telemetry_service.common.clock import Clock

from .store import MIGRATIONS, SavedObjectStore, StoreError, StoreUnavailableError, _Cursor

if TYPE_CHECKING:
    from psycopg_pool import ConnectionPool

__all__ = ["PostgresStore"]

T = TypeVar("T")
_MIGRATION_LOCK = 0x7E1E  # advisory lock id: one migrator at a time across processes


class PostgresStore(SavedObjectStore):
    backend = "postgresql"
    _for_update = " FOR UPDATE"

    def __init__(self, url: str, *, clock: Clock | None = None, pool_size: int = 4) -> None:
        super().__init__(clock)
        self.url = url
        self._pool_size = pool_size
        self._pool: ConnectionPool[Any] | None = None

    def __repr__(self) -> str:
        return "PostgresStore(<url hidden>)"

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s")

    def _open(self) -> None:
        try:
            import psycopg  # noqa: F401
            from psycopg_pool import ConnectionPool
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise StoreUnavailableError(
                "store.url is PostgreSQL but psycopg is not installed: "
                "pip install 'telemetry-service[postgres]'"
            ) from exc
        pool: ConnectionPool[Any] = ConnectionPool(
            self.url, min_size=1, max_size=self._pool_size, open=False, timeout=10
        )
        try:
            pool.open(wait=True, timeout=10)
        except Exception as exc:
            pool.close()
            raise StoreUnavailableError(f"cannot connect to the PostgreSQL store: {exc}") from exc
        self._pool = pool
        self._transaction(True, self._migrate)

    @staticmethod
    def _migrate(cur: _Cursor) -> None:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        cur.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        cur.execute("SELECT version FROM schema_migrations")
        applied = {row[0] for row in cur.fetchall()}
        for version, script in enumerate(MIGRATIONS, start=1):
            if version in applied:
                continue
            for statement in filter(str.strip, script.split(";")):
                cur.execute(statement)
            cur.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))

    def _close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def _transaction(self, write: bool, fn: Callable[[_Cursor], T]) -> T:
        import psycopg

        if self._pool is None:
            raise StoreUnavailableError("the store is closed")
        try:
            with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
                return fn(cur)
        except StoreError:
            raise
        except (psycopg.Error, OSError) as exc:
            raise StoreUnavailableError(f"PostgreSQL store: {type(exc).__name__}: {exc}") from exc
        except Exception as exc:
            if type(exc).__module__.startswith("psycopg_pool"):
                raise StoreUnavailableError(f"PostgreSQL store: {exc}") from exc
            raise
