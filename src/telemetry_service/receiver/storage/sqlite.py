"""The SQLite backend: its JSON paths, over ``common.db``'s one writer and four readers.

Several processes may share the file (``--workers``): writers then take turns on SQLite's
write lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .migrations import SQLITE
from .store import ReportStore

__all__ = ["SqliteReportStore", "sqlite_json_path"]


def sqlite_json_path(path: Sequence[str]) -> str:
    """The SQLite JSON path of object keys: ``$."a"."b"`` (keys hold no ``"`` or ``\\``)."""
    return "$" + "".join(f'."{segment}"' for segment in path)


class SqliteReportStore(ReportStore):
    _migrations = SQLITE

    def _field_select(self, path: Sequence[str]) -> tuple[str, list[Any]]:
        json_path = sqlite_json_path(path)
        return (
            "json_type(payload, ?), CASE WHEN json_type(payload, ?) IN ('object', 'array') "
            "THEN NULL ELSE json_extract(payload, ?) END",
            [json_path, json_path, json_path],
        )
