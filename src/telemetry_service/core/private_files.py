"""What the host keeps on disk is its user's alone: the folders it creates are 0700 and its
files (the ``uuid`` file, the SQLite store and SQLite's ``-wal`` / ``-shm`` / ``-journal``
beside it) are 0600, whatever the umask. A folder that already exists is left as the
administrator made it; a file of ours that an older version left wider is narrowed to 0600.
`store_file` says where the SQLite store is.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from telemetry_service.common.db import parse_store_url
from telemetry_service.common.db.base import StoreUrlError

from .errors import ConfigError

__all__ = [
    "DEFAULT_STORE_FILE",
    "FILE_MODE",
    "FOLDER_MODE",
    "make_private_dir",
    "narrow_file",
    "prepare_sqlite_file",
    "store_file",
    "write_private",
]

DEFAULT_STORE_FILE = "telemetry_service.db"
FOLDER_MODE = 0o700
FILE_MODE = 0o600
_SQLITE_COMPANIONS = ("", "-wal", "-shm", "-journal")


def make_private_dir(path: Path) -> None:
    """Create ``path`` and its missing parents as 0700 folders (existing ones are kept)."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another process made it meanwhile
            folder.mkdir(mode=FOLDER_MODE)
            folder.chmod(FOLDER_MODE)  # mkdir's mode is narrowed by the umask, never widened


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` as a 0600 file (its folder made private when missing)."""
    make_private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        os.fchmod(fd, FILE_MODE)
        file.write(text)


def prepare_sqlite_file(path: Path) -> None:
    """Before SQLite opens ``path``: a private folder and a 0600 file, which SQLite's ``-wal``
    and ``-shm`` files copy; an older, wider store and its companions are narrowed to 0600."""
    make_private_dir(path.parent)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    for suffix in _SQLITE_COMPANIONS:
        narrow_file(path.with_name(path.name + suffix))


def narrow_file(path: Path) -> None:
    """Make an existing file wider than 0600 (written by an older version) 0600."""
    with contextlib.suppress(OSError):  # missing, or another user's file: leave it
        if stat.S_IMODE(path.stat().st_mode) & ~FILE_MODE:
            path.chmod(FILE_MODE)


def store_file(url: str | None, data_path: Path) -> Path | None:
    """The SQLite file of ``store.url`` (by default `DEFAULT_STORE_FILE` under ``path.data``);
    None for PostgreSQL. A ``store.url`` of no known form is a :class:`ConfigError`."""
    try:
        target = parse_store_url(url, default_path=data_path / DEFAULT_STORE_FILE)
    except StoreUrlError as exc:
        raise ConfigError("store.url", exc.reason) from None
    return target if isinstance(target, Path) else None
