"""PostgreSQL under both stores: B3 (an unreachable server: one line, no password), the
migration lock, and driver errors (the private cluster's tests are marked ``postgres``)."""

from __future__ import annotations

import socket
import threading
from pathlib import Path
from typing import Any

import pytest

from telemetry_service.common.db.base import Cursor, StoreUnavailableError
from telemetry_service.common.db.migrations import apply_migrations
from telemetry_service.common.db.postgres import PostgresDatabase
from telemetry_service.core import open_store
from telemetry_service.receiver.storage import open_report_store
from telemetry_service.receiver.storage.migrations import POSTGRES
from tests.support.cli import run_command

pytestmark = pytest.mark.anyio

SIDES = ["host", "receiver"]


def opener(side: str, url: str, tmp_path: Path) -> Any:
    return open_store(url, tmp_path) if side == "host" else open_report_store(url)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("side", SIDES)
async def test_unreachable_server_is_one_line_without_the_password(
    side: str, tmp_path: Path
) -> None:
    """B3."""
    url = f"postgresql://telemetry:s3cret-pw@127.0.0.1:{closed_port()}/telemetry"
    store = opener(side, url, tmp_path)
    with pytest.raises(StoreUnavailableError) as caught:
        await store.open()
    message = str(caught.value)
    assert message.startswith("cannot connect to the PostgreSQL store: connection failed: ")
    assert "Connection refused" in message
    assert "\n" not in message
    assert "s3cret-pw" not in message + repr(store)


def test_host_cli_prints_one_line(tmp_path: Path) -> None:
    url = f"postgresql://telemetry:s3cret-pw@127.0.0.1:{closed_port()}/telemetry"
    result = run_command(
        "telemetry", "status", cwd=tmp_path, env={"TELEMETRY_SERVICE_STORE_URL": url}
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: cannot connect to the PostgreSQL store: ")
    assert result.stderr.count("\n") == 1
    assert "s3cret-pw" not in result.stderr


def test_a_reason_that_quotes_the_password_is_masked() -> None:
    db = PostgresDatabase("postgresql://u:s3cret@127.0.0.1:1/x")
    reason = db._reason(ValueError('bad option "password=s3cret"\nDETAIL: more'))
    assert reason == 'bad option "password=***"'


@pytest.mark.postgres
async def test_both_stores_share_one_database(postgres_url: str, tmp_path: Path) -> None:
    host, receiver = open_store(postgres_url, tmp_path), open_report_store(postgres_url)
    await host.open()
    await receiver.open()
    try:
        tables = await host._db.run(
            False,
            lambda cur: {
                row[0]: row[1]
                for row in cur.execute(
                    "SELECT 'schema_migrations', COUNT(*) FROM schema_migrations UNION ALL "
                    "SELECT 'receiver_migrations', COUNT(*) FROM receiver_migrations"
                ).fetchall()
            },
        )
        assert tables == {"schema_migrations": 1, "receiver_migrations": len(POSTGRES)}
    finally:
        await host.close()
        await receiver.close()


@pytest.mark.postgres
def test_first_opens_in_parallel_migrate_once(postgres_url: str) -> None:
    """The advisory lock: four migrators, one set of tables, each version recorded once."""
    dbs = [PostgresDatabase(postgres_url, pool_size=1) for _ in range(4)]
    errors: list[BaseException] = []

    def migrate(db: PostgresDatabase) -> None:
        try:
            db.open()
            apply_migrations(
                db,
                "m",
                ["CREATE TABLE once (v INTEGER)", "CREATE INDEX once_v ON once (v)"],
                lock_id=0x7E1E,
            )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=migrate, args=(db,)) for db in dbs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    rows = dbs[0].transaction(False, lambda cur: cur.execute("SELECT version FROM m").fetchall())
    assert sorted(row[0] for row in rows) == [1, 2]
    for db in dbs:
        db.close()


@pytest.mark.postgres
def test_driver_errors_are_unavailable_in_one_line(postgres_url: str) -> None:
    db = PostgresDatabase(postgres_url)
    db.open()

    def bad(cur: Cursor) -> None:
        cur.execute("SELECT no_such_column FROM pg_class")

    with pytest.raises(StoreUnavailableError) as caught:
        db.transaction(False, bad)
    assert str(caught.value).startswith("PostgreSQL store: UndefinedColumn: column ")
    assert "\n" not in str(caught.value)
    assert db.transaction(False, lambda cur: cur.execute(db.sql("SELECT ?"), (1,)).fetchone()) == (
        1,
    )
    db.close()
    with pytest.raises(StoreUnavailableError, match="the store is closed"):
        db.transaction(False, bad)
