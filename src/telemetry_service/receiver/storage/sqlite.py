"""The SQLite backend: its JSON paths, over ``common.db``'s one writer and four readers.

Several processes may share the file (``--workers``): writers then take turns on SQLite's
write lock. The file holds decrypted reports: it is created readable by its owner only (0600,
and SQLite gives its ``-wal`` and ``-shm`` files the same mode), in a folder created 0700;
an existing file is narrowed to 0600 when the store opens.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from telemetry_service.common.db.sqlite import SqliteDatabase

from .migrations import SQLITE
from .store import ReportStore

__all__ = ["SqliteReportStore", "make_private", "sqlite_json_path"]


def sqlite_json_path(path: Sequence[str]) -> str:
    """The SQLite JSON path of object keys: ``$."a"."b"`` (keys hold no ``"`` or ``\\``)."""
    return "$" + "".join(f'."{segment}"' for segment in path)


def make_private(path: Path) -> None:
    """Create the database file `path` with mode 0600 (its folder 0700) unless it exists, and
    take group and other permissions away from it and its ``-wal`` and ``-shm`` files."""
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True)
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            info = file.stat()
        except FileNotFoundError:
            continue
        if stat.S_IMODE(info.st_mode) & 0o077 and info.st_uid == os.geteuid():
            file.chmod(stat.S_IMODE(info.st_mode) & 0o700)


class SqliteReportStore(ReportStore):
    _migrations = SQLITE

    def _open(self) -> None:
        if isinstance(self._db, SqliteDatabase):
            with contextlib.suppress(OSError):  # the database's own open names the problem
                make_private(self._db.path)
        super()._open()

    def _field_select(self, path: Sequence[str]) -> tuple[str, list[Any]]:
        """Over :data:`~.sql.LATEST`: ``clusters.payload`` is NULL unless the latest
        snapshot's query text differs from its text (``queries/writes.py``)."""
        json_path = sqlite_json_path(path)
        payload = "COALESCE(c.payload, r.payload)"
        return (
            f"json_type({payload}, ?), CASE WHEN json_type({payload}, ?) IN ('object', 'array') "
            f"THEN NULL ELSE json_extract({payload}, ?) END",
            [json_path, json_path, json_path],
        )
