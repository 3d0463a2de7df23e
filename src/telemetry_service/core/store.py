"""The saved-object store: small JSON documents keyed by (type, namespace, id).

Its SQL runs on a :class:`~telemetry_service.common.db.base.Database`: a SQLite file under
``path.data`` (WAL, safe for several processes on one file) or PostgreSQL
(``store.url: postgresql://…``, for several machines). Each operation is one short transaction
in a worker thread, so the event loop never waits on the database; writes take the row
(PostgreSQL) or the database (SQLite) write lock, which makes read-modify-write operations such
as :meth:`SavedObjectStore.increment_counter` atomic across processes.
:meth:`SavedObjectStore.increment_counters` increments many objects in one transaction (one
thread hop, one commit), taking their row locks in one order so that concurrent batches never
deadlock.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import anyio.to_thread
import orjson

from telemetry_service.common.clock import Clock, utc_now
from telemetry_service.common.db import open_database
from telemetry_service.common.db.base import Cursor, Database, count_and_page
from telemetry_service.common.db.migrations import apply_migrations
from telemetry_service.common.db.sqlite import SqliteDatabase

from . import leases
from .private_files import DEFAULT_STORE_FILE, prepare_sqlite_file, store_file
from .saved_objects import (
    COLUMNS,
    MIGRATIONS,
    CounterIncrement,
    FindResult,
    SavedObject,
    SavedObjectConflictError,
    SavedObjectNotFoundError,
    add_counts,
    format_ts,
    from_row,
)

__all__ = [
    "DEFAULT_STORE_FILE",
    "CounterIncrement",
    "FindResult",
    "SavedObject",
    "SavedObjectConflictError",
    "SavedObjectNotFoundError",
    "SavedObjectStore",
    "open_store",
    "store_file",
]

ALL_NAMESPACES = "*"
_MIGRATION_LOCK = 0x7E1E  # PostgreSQL advisory lock id: one migrator at a time


def _ns(namespace: str | None) -> str:
    if namespace == ALL_NAMESPACES:
        raise ValueError("'*' is only valid in find()")
    return namespace or ""


class SavedObjectStore:
    """The saved-object operations over `db`; open it before use, close it after."""

    def __init__(self, db: Database, clock: Clock | None = None) -> None:
        self._db = db
        self._clock = clock or utc_now
        self.backend = db.backend
        #: ``SELECT … FOR UPDATE`` where the database locks rows.
        self._for_update = " FOR UPDATE" if db.backend == "postgresql" else ""
        self._sql = db.sql

    def __repr__(self) -> str:
        return f"SavedObjectStore({self._db!r})"

    # -- lifecycle -------------------------------------------------------------------------
    async def open(self) -> None:
        """Connect and apply the migrations."""
        await anyio.to_thread.run_sync(self._open)

    def _open(self) -> None:
        if isinstance(self._db, SqliteDatabase):
            prepare_sqlite_file(self._db.path)
        self._db.open()
        apply_migrations(self._db, "schema_migrations", MIGRATIONS, lock_id=_MIGRATION_LOCK)

    async def close(self) -> None:
        await anyio.to_thread.run_sync(self._db.close)

    async def ping(self) -> bool:
        """True when the database answers."""
        return await self._db.ping()

    # -- row helpers (inside a transaction) ------------------------------------------------
    def _select(self, cur: Cursor, type_: str, ns: str, id_: str, lock: bool) -> SavedObject:
        """The object, or :class:`SavedObjectNotFoundError`; ``lock`` takes its row lock."""
        sql = f"SELECT {COLUMNS} FROM saved_objects WHERE type = ? AND namespace = ? AND id = ?"
        cur.execute(self._sql(sql + (self._for_update if lock else "")), (type_, ns, id_))
        row = cur.fetchone()
        if row is None:
            raise SavedObjectNotFoundError(type_, id_)
        return from_row(row)

    def _insert(self, cur: Cursor, type_: str, ns: str, id_: str, attrs: Mapping[str, Any]) -> bool:
        now = format_ts(self._clock())
        cur.execute(
            self._sql(
                f"INSERT INTO saved_objects ({COLUMNS}) VALUES (?, ?, ?, ?, 1, ?, ?) "
                "ON CONFLICT (type, namespace, id) DO NOTHING"
            ),
            (type_, ns, id_, orjson.dumps(dict(attrs)).decode(), now, now),
        )
        return bool(getattr(cur, "rowcount", 1))

    def _write(self, cur: Cursor, obj: SavedObject, attrs: Mapping[str, Any]) -> SavedObject:
        now = self._clock()
        self._update_row(cur, obj.type, obj.namespace or "", obj.id, attrs, now)
        return SavedObject(
            obj.type, obj.id, dict(attrs), obj.namespace, obj.version + 1, obj.created_at, now
        )

    def _update_row(
        self, cur: Cursor, type_: str, ns: str, id_: str, attrs: Mapping[str, Any], now: dt.datetime
    ) -> None:
        cur.execute(
            self._sql(
                "UPDATE saved_objects SET attributes = ?, version = version + 1, updated_at = ? "
                "WHERE type = ? AND namespace = ? AND id = ?"
            ),
            (orjson.dumps(dict(attrs)).decode(), format_ts(now), type_, ns, id_),
        )

    def _add_counts(self, cur: Cursor, type_: str, ns: str, change: CounterIncrement) -> None:
        """Increment one object (created when missing), reading only its attributes."""
        zeros = dict.fromkeys(change.fields, 0)
        self._insert(cur, type_, ns, change.id, {**(change.upsert_attributes or {}), **zeros})
        sql = "SELECT attributes FROM saved_objects WHERE type = ? AND namespace = ? AND id = ?"
        cur.execute(self._sql(sql + self._for_update), (type_, ns, change.id))
        attrs = add_counts(orjson.loads(cur.fetchone()[0]), change.fields)
        self._update_row(cur, type_, ns, change.id, attrs, self._clock())

    # -- operations ------------------------------------------------------------------------
    async def get(self, type_: str, id_: str, *, namespace: str | None = None) -> SavedObject:
        """The object, or :class:`SavedObjectNotFoundError`."""
        ns = _ns(namespace)
        return await self._db.run(False, lambda cur: self._select(cur, type_, ns, id_, lock=False))

    async def create(
        self,
        type_: str,
        attributes: Mapping[str, Any],
        *,
        id_: str | None = None,
        overwrite: bool = False,
        namespace: str | None = None,
    ) -> SavedObject:
        """Create an object; with ``overwrite`` replace an existing one, else conflict."""
        ns, oid = _ns(namespace), id_ or str(uuid.uuid4())

        def op(cur: Cursor) -> SavedObject:
            inserted = self._insert(cur, type_, ns, oid, attributes)
            if not inserted and not overwrite:
                raise SavedObjectConflictError(type_, oid)
            obj = self._select(cur, type_, ns, oid, lock=not inserted)
            return obj if inserted else self._write(cur, obj, attributes)

        return await self._db.run(True, op)

    async def update(
        self,
        type_: str,
        id_: str,
        attributes: Mapping[str, Any],
        *,
        upsert: Mapping[str, Any] | None = None,
        namespace: str | None = None,
    ) -> SavedObject:
        """Merge ``attributes`` into the object's top-level attributes.

        When the object is missing: with ``upsert`` it is created with those attributes,
        otherwise :class:`SavedObjectNotFoundError` is raised.
        """
        ns = _ns(namespace)

        def op(cur: Cursor) -> SavedObject:
            if upsert is not None and self._insert(cur, type_, ns, id_, upsert):
                return self._select(cur, type_, ns, id_, lock=False)
            existing = self._select(cur, type_, ns, id_, lock=True)
            return self._write(cur, existing, {**existing.attributes, **attributes})

        return await self._db.run(True, op)

    async def increment_counter(
        self,
        type_: str,
        id_: str,
        fields: Mapping[str, int],
        *,
        upsert_attributes: Mapping[str, Any] | None = None,
        namespace: str | None = None,
    ) -> SavedObject:
        """Atomically add to numeric attributes, creating the object when missing."""
        ns, change = _ns(namespace), CounterIncrement(id_, fields, upsert_attributes, namespace)

        def op(cur: Cursor) -> SavedObject:
            self._add_counts(cur, type_, ns, change)
            return self._select(cur, type_, ns, id_, lock=False)

        return await self._db.run(True, op)

    async def increment_counters(self, type_: str, changes: Sequence[CounterIncrement]) -> int:
        """:meth:`increment_counter` of every change, all in one transaction (all or none, an
        id may come twice); returns how many changes it made. Builds no `SavedObject`."""
        # one lock order (namespace, id) for every batch: two batches never wait on each other
        keyed = sorted(((_ns(c.namespace), c) for c in changes), key=lambda k: (k[0], k[1].id))

        def op(cur: Cursor) -> int:
            for ns, change in keyed:
                self._add_counts(cur, type_, ns, change)
            return len(keyed)

        return await self._db.run(True, op) if keyed else 0

    async def delete(self, type_: str, id_: str, *, namespace: str | None = None) -> None:
        """Delete an object, or :class:`SavedObjectNotFoundError`."""
        ns = _ns(namespace)

        def op(cur: Cursor) -> None:
            cur.execute(
                self._sql("DELETE FROM saved_objects WHERE type = ? AND namespace = ? AND id = ?"),
                (type_, ns, id_),
            )
            if getattr(cur, "rowcount", 1) == 0:
                raise SavedObjectNotFoundError(type_, id_)

        await self._db.run(True, op)

    async def find(
        self,
        type_: str,
        *,
        namespace: str | None = ALL_NAMESPACES,
        page: int = 1,
        per_page: int = 100,
        updated_before: dt.datetime | None = None,
        sort_field: Literal["updated_at", "id"] = "updated_at",
        sort_order: Literal["asc", "desc"] = "asc",
    ) -> FindResult:
        """One page of the objects of a type (all namespaces by default)."""
        if page < 1 or not 1 <= per_page <= 10_000:
            raise ValueError("page must be >= 1 and per_page between 1 and 10000")
        where, params = ["type = ?"], [type_]
        if namespace != ALL_NAMESPACES:
            where.append("namespace = ?")
            params.append(namespace or "")
        if updated_before is not None:
            where.append("updated_at < ?")
            params.append(format_ts(updated_before))
        clause = " AND ".join(where)
        order = f"{sort_field} {sort_order.upper()}, namespace, id"

        def op(cur: Cursor) -> FindResult:
            source, offset = f"saved_objects WHERE {clause}", (page - 1) * per_page
            total, rows = count_and_page(
                cur, self._sql, COLUMNS, source, order, params, per_page, offset
            )
            return FindResult(total, page, per_page, [from_row(r) for r in rows])

        return await self._db.run(False, op)

    async def acquire_lease(self, name: str, holder: str, ttl_s: float) -> bool:
        """Take or renew the lease ``name`` for ``holder``; false while another holds it.
        Name a holder with :func:`~.leases.lease_holder`: one per process."""
        now = self._clock()
        stamps = format_ts(now), format_ts(now + dt.timedelta(seconds=ttl_s))
        return await self._db.run(
            True, lambda cur: leases.acquire_lease(cur, self._sql, name, holder, *stamps)
        )

    async def release_lease(self, name: str, holder: str) -> None:
        """Give up the lease if ``holder`` has it."""
        await self._db.run(True, lambda c: leases.release_lease(c, self._sql, name, holder))


def open_store(url: str | None, data_path: Path, clock: Clock | None = None) -> SavedObjectStore:
    """The store of ``store.url`` (see ``common.db``); by default ``telemetry_service.db`` under
    ``path.data``, created 0600 in a 0700 folder. A ``store.url`` of no known form is a
    :class:`ConfigError`."""
    file = store_file(url, data_path)
    return SavedObjectStore(open_database(url, default_path=file), clock)
