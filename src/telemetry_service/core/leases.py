"""Leases in the saved-object store: one holder at a time for a named job, across every process
and machine on one store (the ``leases`` table of the store's schema).

A holder is one process, never one ``path.data``: processes that share a data folder share its
instance UUID, so :func:`lease_holder` adds the process id and a random token to it.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable

from telemetry_service.common.db.base import Cursor

__all__ = ["acquire_lease", "lease_holder", "release_lease"]


def lease_holder(instance_uuid: str) -> str:
    """A holder name of this process alone: ``<instance uuid>:<pid>:<random token>``."""
    return f"{instance_uuid}:{os.getpid()}:{secrets.token_hex(8)}"


def acquire_lease(
    cur: Cursor, sql: Callable[[str], str], name: str, holder: str, now: str, expires: str
) -> bool:
    """Take or renew ``name`` for ``holder`` (timestamps as stored); false while another
    holder's lease has not expired."""
    cur.execute(
        sql(
            "INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
            "expires_at = excluded.expires_at "
            "WHERE leases.holder = excluded.holder OR leases.expires_at < ?"
        ),
        (name, holder, expires, now),
    )
    cur.execute(sql("SELECT holder FROM leases WHERE name = ?"), (name,))
    row = cur.fetchone()
    return row is not None and row[0] == holder


def release_lease(cur: Cursor, sql: Callable[[str], str], name: str, holder: str) -> None:
    """Give ``name`` up if ``holder`` has it."""
    cur.execute(sql("DELETE FROM leases WHERE name = ? AND holder = ?"), (name, holder))
