"""The SQLite and PostgreSQL connection layer under both servers' stores.

:func:`parse_store_url` holds the one table of ``store.url`` forms; :func:`open_database`
builds the :class:`~.base.Database` it names. The stores (saved objects, reports) own their SQL.
"""

from __future__ import annotations

from pathlib import Path

from .base import Database, StoreUrlError
from .postgres import PostgresDatabase
from .sqlite import SqliteDatabase

__all__ = ["STORE_URL_FORMS", "open_database", "parse_store_url"]

STORE_URL_FORMS = "sqlite:///ABSOLUTE/FILE, sqlite:RELATIVE/FILE or postgresql://USER@HOST:PORT/DB"


def parse_store_url(url: str | None, *, default_path: Path | None = None) -> Path | str:
    """The SQLite file (a :class:`Path`) or the PostgreSQL URL (a ``str``) of ``store.url``.

    ============================  ===========================================
    ``None``                      `default_path` (an error without one)
    ``sqlite:///ABS``             ``/ABS`` (also ``sqlite:////ABS``)
    ``sqlite:REL``                ``REL``, relative to the working directory
    ``postgresql://…``            that URL (also ``postgres://…``)
    ``sqlite://REL``, others      :class:`StoreUrlError` naming the forms
    ============================  ===========================================
    """
    if url is None:
        if default_path is None:
            raise StoreUrlError(f"is not set: use {STORE_URL_FORMS}")
        return default_path
    if url.startswith(("postgresql://", "postgres://")):
        return url
    if not url.startswith("sqlite:"):
        scheme = url.partition(":")[0]  # never the rest: it may hold a password
        raise StoreUrlError(f'unknown scheme "{scheme}": use {STORE_URL_FORMS}')
    path = url.removeprefix("sqlite:")
    if path.startswith("//"):
        if not path.startswith("///"):
            raise StoreUrlError(f'"{url}" is ambiguous: use {STORE_URL_FORMS}')
        path = "/" + path.lstrip("/")
    if not path:
        raise StoreUrlError(f'"{url}" names no file: use {STORE_URL_FORMS}')
    return Path(path)


def open_database(
    url: str | None,
    *,
    default_path: Path | None = None,
    dedicated_writer: bool = False,
    pool_size: int = 4,
    pool_timeout_s: float = 10.0,
) -> Database:
    """The database of ``store.url`` (not connected yet: call ``open()`` in a worker thread)."""
    target = parse_store_url(url, default_path=default_path)
    if isinstance(target, Path):
        return SqliteDatabase(target, dedicated_writer=dedicated_writer)
    return PostgresDatabase(target, pool_size=pool_size, pool_timeout_s=pool_timeout_s)
