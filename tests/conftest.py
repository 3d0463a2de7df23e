from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

import pytest

from tests.support.postgres import PostgresUnavailable, create_database, private_cluster

IN_CI = os.environ.get("CI") == "true"


@pytest.fixture
def anyio_backend() -> str:
    """Run `@pytest.mark.anyio` tests on asyncio only (the platform is asyncio-based)."""
    return "asyncio"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A private PostgreSQL cluster for the session; skips loudly (fails under CI=true)."""
    try:
        with private_cluster(in_memory=True) as base_url:
            yield base_url
    except PostgresUnavailable as exc:
        if IN_CI:
            pytest.fail(f"PostgreSQL suite cannot run in CI: {exc}")
        pytest.skip(f"!! PostgreSQL suite SKIPPED: {exc} (run scripts/provision as root)")


_db_counter = itertools.count()


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty database on the session cluster, dropped after the test (which keeps
    the cluster small, so stopping it at the end takes no time)."""
    import psycopg

    name = f"test_{os.getpid()}_{next(_db_counter)}"
    yield create_database(postgres_server, name)
    with psycopg.connect(f"{postgres_server}/postgres", autocommit=True) as conn:
        force = " WITH (FORCE)" if conn.info.server_version >= 130000 else ""
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"{force}')
