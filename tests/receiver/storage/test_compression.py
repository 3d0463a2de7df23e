"""Migration 7: on PostgreSQL the payloads of ``reports`` and ``clusters`` are compressed with
lz4 (far cheaper than pglz at insert), in the partitions of ``reports`` that existed before
the migration and in those created after it."""

from __future__ import annotations

import time
from typing import Any

import anyio
import pytest

from telemetry_service.common.clock import DAY_MS
from telemetry_service.common.db.base import Cursor
from telemetry_service.receiver.storage import ReportStore, open_report_store

from .test_store import T0, report

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]

#: Each payload column: its table and the compression set on it ('' for the default).
_COLUMNS = """
    SELECT c.relname, a.attcompression FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
    WHERE a.attname = 'payload' AND (c.relname IN ('reports', 'clusters')
        OR c.relname LIKE 'reports_p%')
"""


async def columns(store: ReportStore) -> dict[str, str]:
    def read(cur: Cursor) -> dict[str, str]:
        cur.execute(_COLUMNS)
        return {str(name): str(method) for name, method in cur.fetchall()}

    return await store._db.run(False, read)


async def stored(store: ReportStore) -> set[Any]:
    """The compression of the stored payloads (the fold first: it fills ``clusters``')."""
    while await store.fold_field_days(100):
        pass

    def read(cur: Cursor) -> set[Any]:
        cur.execute(
            "SELECT pg_column_compression(payload) FROM reports UNION "
            "SELECT pg_column_compression(payload) FROM clusters"
        )
        return {row[0] for row in cur.fetchall()}

    return await store._db.run(False, read)


def big(cluster: str, at: int) -> Any:  # a payload that PostgreSQL compresses (over 2 kB)
    return report(cluster, received_ms=at, payload={"cluster_uuid": cluster, "x": "ab" * 4000})


async def test_payloads_are_lz4_in_old_and_new_partitions(postgres_url: str) -> None:
    store = open_report_store(postgres_url)
    await store.open()
    try:
        supported = await store._db.run(
            False,
            lambda cur: cur.execute(
                "SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' "
                "AND 'lz4' = ANY(enumvals)"
            ).fetchone(),
        )
        if supported is None:
            pytest.skip("this PostgreSQL server has no lz4")
        await store.add(big("a", T0))
        assert set((await columns(store)).values()) == {"l"}  # l: lz4
        assert await stored(store) == {"lz4"}

        def downgrade(cur: Cursor) -> None:  # a store of version 6 with a partition
            tables = ["reports", "clusters", *partitions(cur)]
            assert len(tables) == 3
            for table in tables:
                cur.execute(f"ALTER TABLE {table} ALTER COLUMN payload SET COMPRESSION pglz")
            cur.execute("DELETE FROM reports")
            cur.execute("DELETE FROM clusters")
            cur.execute("DELETE FROM report_digests")
            cur.execute("DELETE FROM receiver_migrations WHERE version >= 7")

        await store._db.run(True, downgrade)
        await store.add(big("b", T0))
        assert await stored(store) == {"pglz"}
    finally:
        await store.close()
    store = open_report_store(postgres_url)
    await store.open()
    try:
        await store.add(big("c", T0 - 40 * DAY_MS))  # a partition created after the migration
        names = await columns(store)
        assert len(names) == 4
        assert set(names.values()) == {"l"}
        await store.add(big("b", T0 + 1))  # the existing partition's new values, the cluster's
        assert await stored(store) == {"lz4", "pglz"}  # what was stored before keeps pglz

        def methods(cur: Cursor) -> dict[str, str]:
            cur.execute("SELECT cluster_uuid, pg_column_compression(payload) FROM clusters")
            return dict(cur.fetchall())

        assert await store._db.run(False, methods) == {"b": "lz4", "c": "lz4"}
    finally:
        await store.close()


def partitions(cur: Cursor) -> list[str]:
    cur.execute(
        "SELECT CAST(inhrelid AS regclass) FROM pg_inherits "
        "WHERE inhparent = CAST('reports' AS regclass)"
    )
    return [str(name) for (name,) in cur.fetchall()]


@pytest.mark.real_clock  # PostgreSQL's lock timeout, a timed wait libfaketime stalls
async def test_tables_in_use_skip_lz4_instead_of_holding_the_start(postgres_url: str) -> None:
    """Another receiver's open read holds ``clusters``: the migration's exclusive lock is not
    granted within 5 s, so it skips lz4 (rolled back) and the store opens and works. Before,
    the start waited for as long as the read lasted."""
    import psycopg

    store = open_report_store(postgres_url)
    await store.open()
    try:

        def downgrade(cur: Cursor) -> None:
            for table in ["reports", "clusters", *partitions(cur)]:
                cur.execute(f"ALTER TABLE {table} ALTER COLUMN payload SET COMPRESSION pglz")
            cur.execute("DELETE FROM receiver_migrations WHERE version >= 7")

        await store._db.run(True, downgrade)
    finally:
        await store.close()
    with psycopg.connect(postgres_url) as reader:
        reader.execute("SELECT count(*) FROM clusters").fetchone()  # holds it until commit
        store = open_report_store(postgres_url)
        began = time.monotonic()
        with anyio.fail_after(25):
            await store.open()
        waited = time.monotonic() - began
        reader.rollback()
    try:
        assert waited < 25  # the lock timeout (5 s) or deadlock detection, not the reader
        assert set((await columns(store)).values()) == {"p"}  # left as it was: pglz
        await store.add(big("a", T0))
        assert await store.count_reports() == 1
    finally:
        await store.close()
