"""A private PostgreSQL cluster for the test session (initdb + pg_ctl on a free loopback port).

PostgreSQL refuses to run as root, so as root the cluster belongs to the ``postgres`` user.
The cluster lives in a temporary folder and is removed at the end.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = [
    "PostgresUnavailable",
    "create_database",
    "data_directory",
    "find_pg_bin",
    "postmaster_pid",
    "private_cluster",
]


class PostgresUnavailable(RuntimeError):
    pass


def find_pg_bin() -> Path | None:
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
    )
    for path in reversed(candidates):
        if Path(path, "initdb").exists():
            return Path(path)
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def private_cluster(*, in_memory: bool = False) -> Iterator[str]:
    """Start a cluster; yield a base URL ``postgresql://user@127.0.0.1:port``.

    ``in_memory`` puts the cluster's files on ``/dev/shm`` when it is there: the test suite
    creates and drops hundreds of databases, which cost ten times as much on disk. The
    benchmarks keep the default, a cluster on disk like a real one.
    """
    pg_bin = find_pg_bin()
    if pg_bin is None:
        raise PostgresUnavailable("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    as_root = os.geteuid() == 0
    user = "postgres" if as_root else pwd.getpwuid(os.geteuid()).pw_name
    if as_root:
        try:
            pw = pwd.getpwnam("postgres")
        except KeyError as exc:
            raise PostgresUnavailable("running as root but there is no 'postgres' user") from exc
    shm = Path("/dev/shm")
    in_shm = in_memory and shm.is_dir() and os.access(shm, os.W_OK)
    tmp = Path(tempfile.mkdtemp(prefix="ts-pg-", dir=shm if in_shm else None))
    data = tmp / "data"
    sock_dir = tmp / "sock"
    sock_dir.mkdir()
    if as_root:
        os.chown(tmp, pw.pw_uid, pw.pw_gid)
        os.chown(sock_dir, pw.pw_uid, pw.pw_gid)

    def run(*args: str) -> None:
        cmd = ["runuser", "-u", "postgres", "--", *args] if as_root else list(args)
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
        if result.returncode != 0:
            raise PostgresUnavailable(f"{args[0]} failed: {result.stderr.strip()[-500:]}")

    port = _free_port()
    run(
        str(pg_bin / "initdb"),
        "-D",
        str(data),
        "-A",
        "trust",
        "-U",
        user,
        "--no-sync",
        "-E",
        "UTF8",
    )
    options = (
        f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={sock_dir} "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    )
    run(
        str(pg_bin / "pg_ctl"),
        "-D",
        str(data),
        "-o",
        options,
        "-l",
        str(tmp / "log"),
        "-w",
        "start",
    )
    try:
        yield f"postgresql://{user}@127.0.0.1:{port}"
    finally:
        try:
            run(str(pg_bin / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def create_database(base_url: str, name: str, *, replace: bool = False) -> str:
    """Create the database `name` on the server at `base_url` (dropping one of that name first
    with `replace`); answer its URL. ``FILE_COPY`` (PostgreSQL 15+) copies the small template's
    files instead of writing them through the WAL (15's default): several times faster."""
    import psycopg

    with psycopg.connect(f"{base_url}/postgres", autocommit=True) as conn:
        if replace:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        strategy = " STRATEGY = FILE_COPY" if conn.info.server_version >= 150000 else ""
        conn.execute(f'CREATE DATABASE "{name}"{strategy}')
    return f"{base_url}/{name}"


def data_directory(base_url: str) -> Path:
    """The data folder of the server at `base_url`, a local one."""
    import psycopg

    with psycopg.connect(f"{base_url}/postgres") as conn:
        row = conn.execute("SHOW data_directory").fetchone()
    assert row is not None
    return Path(str(row[0]))


def postmaster_pid(base_url: str) -> int:
    """The process id of the server at `base_url`, a local one: its backends are its children."""
    return int((data_directory(base_url) / "postmaster.pid").read_text().split()[0])
