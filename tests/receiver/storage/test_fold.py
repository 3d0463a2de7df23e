"""The receiver folds the snapshots it stores into the ``field_days`` aggregate in the
background (``store.foldInterval``, ``store.foldBatch``), a batch per write transaction, and
a failed run is logged and tried again."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from telemetry_service.receiver import Receiver, load_config
from telemetry_service.receiver.storage.fold import FoldTask
from telemetry_service.testing import FakeClock

from ..support import SNAPSHOT, encrypt, headers, snapshot

pytestmark = pytest.mark.anyio


def test_the_fold_keys_and_their_defaults() -> None:
    assert load_config({}, env={}).store.fold_interval == 30.0
    assert load_config({}, env={}).store.fold_batch == 500
    config = load_config(
        {"store": {"foldInterval": "2m"}}, env={"TELEMETRY_RECEIVER_STORE_FOLDBATCH": "50"}
    )
    assert (config.store.fold_interval, config.store.fold_batch) == (120.0, 50)


async def test_the_receiver_folds_what_it_stores(
    receiver_settings: dict[str, Any], clock: FakeClock
) -> None:
    receiver_settings["store"] = {"foldInterval": "0.05s", "foldBatch": 2}
    config = load_config(receiver_settings, env={})
    async with Receiver(config, clock=clock) as receiver:
        transport = httpx.ASGITransport(app=receiver.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://r") as client:
            for cluster in ("a", "b", "c", "d", "e"):
                response = await client.post(
                    f"/v3/send/{SNAPSHOT}",
                    content=encrypt(snapshot(cluster)),
                    headers=headers(cluster),
                )
                assert response.status_code == 200
        for _ in range(200):
            if not await receiver.store.pending_field_days():
                break
            await asyncio.sleep(0.02)
        assert await receiver.store.pending_field_days() == 0
        rows = await receiver.store._db.run(
            False,
            lambda cur: cur.execute("SELECT SUM(count) FROM field_days WHERE path = ''").fetchone(),
        )
        assert rows[0] == 5


async def test_a_failed_fold_is_logged_and_tried_again(
    receiver_settings: dict[str, Any], clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    receiver = Receiver(load_config(receiver_settings, env={}), clock=clock)
    await receiver.start()
    await receiver.fold.stop()
    await receiver.store.close()  # every run now fails
    task = FoldTask(receiver.store, interval_s=0.02)
    task.start()
    await asyncio.sleep(0.1)
    await task.stop()
    failures = [r for r in caplog.records if "field fold failed" in r.getMessage()]
    assert len(failures) >= 2
    await receiver.stop()
