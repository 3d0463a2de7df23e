"""The platform starts its worker threads when it starts, not on demand on the event loop."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from telemetry_service.core import Platform, SavedObjectNotFoundError
from telemetry_service.core.worker_threads import ANYIO_THREADS, EXECUTOR_THREADS

pytestmark = pytest.mark.anyio


async def test_a_started_platform_starts_no_thread_for_its_pools_busiest_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = {"path": {"data": str(tmp_path)}}
    async with Platform(config=config, plugins=[], background=False) as platform:
        started: list[str] = []
        original = threading.Thread.start

        def recording(thread: threading.Thread) -> None:
            started.append(thread.name)
            original(thread)

        monkeypatch.setattr(threading.Thread, "start", recording)
        together = threading.Barrier(EXECUTOR_THREADS, timeout=5)

        async def missing(i: int) -> None:
            with pytest.raises(SavedObjectNotFoundError):
                await platform.store.get("t", f"missing-{i}")

        await asyncio.gather(
            *(missing(i) for i in range(ANYIO_THREADS * 4)),  # 8 transactions at once at most
            *(asyncio.to_thread(together.wait) for _ in range(EXECUTOR_THREADS)),
        )
        monkeypatch.undo()
    assert started == []
