"""Lease holders are processes, not data folders (issue 11: processes sharing one ``path.data``
share its instance UUID, and each of them thought it held the send lease)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from telemetry_service.core import open_store
from telemetry_service.core.leases import lease_holder

pytestmark = pytest.mark.anyio


def test_a_holder_names_the_instance_and_the_process_and_is_never_reused() -> None:
    first, second = lease_holder("instance-1"), lease_holder("instance-1")
    assert first != second
    for holder in (first, second):
        instance, pid, token = holder.split(":")
        assert (instance, pid) == ("instance-1", str(os.getpid()))
        assert len(token) == 16


async def test_two_holders_of_one_instance_exclude_each_other(tmp_path: Path) -> None:
    store = open_store(None, tmp_path)
    await store.open()
    try:
        serve, send = lease_holder("shared-uuid"), lease_holder("shared-uuid")
        assert await store.acquire_lease("telemetry-snapshot-send", serve, 60)
        assert not await store.acquire_lease("telemetry-snapshot-send", send, 60)
        await store.release_lease("telemetry-snapshot-send", serve)
        assert await store.acquire_lease("telemetry-snapshot-send", send, 60)
    finally:
        await store.close()
