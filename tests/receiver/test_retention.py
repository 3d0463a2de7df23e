"""Retention runs at start and then on its interval, with an injected clock."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from telemetry_service.common.clock import DAY_MS
from telemetry_service.receiver import Receiver, load_config, retention_cutoff
from telemetry_service.receiver.storage import open_report_store
from telemetry_service.testing import FakeClock
from telemetry_service.wire.protocol import event_headers, events_to_ndjson

from .support import SNAPSHOT, encrypt, headers, snapshot

pytestmark = pytest.mark.anyio


def test_cutoff() -> None:
    assert retention_cutoff(400 * DAY_MS + 5, 400) == 5


async def test_reports_older_than_retention_days_are_deleted(
    receiver_settings: dict[str, Any], clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="telemetry_service.receiver.audit")
    receiver_settings["retention"] = {"days": 10}
    config = load_config(receiver_settings, env={})
    async with Receiver(config, clock=clock, retention_interval_s=0.05) as receiver:
        transport = httpx.ASGITransport(app=receiver.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://r") as client:
            for cluster in ("old", "new"):
                response = await client.post(
                    f"/v3/send/{SNAPSHOT}",
                    content=encrypt(snapshot(cluster)),
                    headers=headers(cluster),
                )
                assert response.status_code == 200
                clock.advance(days=6)
            # now: "old" was received 12 days ago, "new" 6 days ago
            for _ in range(100):
                if await receiver.store.count_reports() == 1:
                    break
                await asyncio.sleep(0.02)
            assert await receiver.store.count_reports("new") == 1
            assert await receiver.store.get_cluster("old") is None
            metrics = (await client.get("/metrics")).text
            assert "telemetry_receiver_retention_deleted_total 1" in metrics
    assert any("retention: deleted 1 reports" in r.getMessage() for r in caplog.records)


async def test_retention_failure_is_logged_and_retried(
    receiver_settings: dict[str, Any], clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    config = load_config(receiver_settings, env={})
    receiver = Receiver(config, clock=clock, retention_interval_s=0.02)
    await receiver.start()
    await receiver.store.close()  # every run now fails
    await asyncio.sleep(0.1)
    await receiver.retention.stop()
    assert any("retention failed" in r.getMessage() for r in caplog.records)


async def test_retention_and_forget_remove_events_and_their_counts(
    receiver_settings: dict[str, Any], clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="telemetry_service.receiver.audit")
    receiver_settings["retention"] = {"days": 10}
    receiver = Receiver(load_config(receiver_settings, env={}), clock=clock)
    async with receiver:
        transport = httpx.ASGITransport(app=receiver.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://r") as client:
            for cluster in ("old", "new", "gone"):
                event = {
                    "timestamp": clock.now.isoformat(),
                    "event_type": f"seen-{cluster}",
                    "context": {},
                    "properties": {},
                }
                response = await client.post(
                    "/v3/send/telemetry-service-server",
                    content=events_to_ndjson([event]),
                    headers=event_headers(cluster, "8.1.0"),
                )
                assert response.status_code == 200, response.text
                clock.advance(days=4)
            # now: "old" sent 12 days ago, "new" and "gone" 8 and 4 days ago
            forgotten = await client.delete("/api/clusters/gone")
            assert forgotten.json()["deleted_events"] == 1
            assert await receiver.retention.run_once() == 0
            types = (await client.get("/api/events/types", params={"days": 30})).json()
            assert [t["event_type"] for t in types["types"]] == ["seen-new"]
            clock.advance(days=3)
            await receiver.retention.run_once()
            assert (await client.get("/api/events/types")).json() == {"types": []}
            metrics = (await client.get("/metrics")).text
            assert "telemetry_receiver_retention_deleted_events_total 2" in metrics
    assert any("retention: deleted 1 events" in r.getMessage() for r in caplog.records)
    assert any("'gone' forgotten (0 reports, 0 cluster records, 1 events)" in r.getMessage()
               for r in caplog.records)  # fmt: skip


def test_deletion_and_retention_audit_lines_reach_the_log_at_the_default_levels(
    tmp_path: Path,
) -> None:
    """Issue 11: the audit lines are logged whatever the process's level: `receiver forget`
    runs at the CLI's warning level, and a receiver may run at logging.level warning. Before,
    both dropped the info-level audit lines."""
    store = f"sqlite:///{tmp_path / 'r.db'}"
    script = (
        "import asyncio, logging\n"
        "from telemetry_service.common.log import configure_logging\n"
        "from telemetry_service.receiver.metrics import Metrics\n"
        "from telemetry_service.receiver.retention import RetentionTask\n"
        "from telemetry_service.receiver.storage import open_report_store\n"
        "configure_logging('warning')\n"
        "async def main():\n"
        f"    s = open_report_store({store!r}); await s.open()\n"
        "    await RetentionTask(s, days=1, metrics=Metrics()).run_once()\n"
        "    await s.close()\n"
        "asyncio.run(main())\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    forget = subprocess.run(
        [
            sys.executable,
            "-m",
            "telemetry_service.cli.main",
            "receiver",
            "forget",
            "c-1",
            "--store",
            store,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    assert "deletion request by CLI user" in forget.stderr
    # A report older than retention.days, then a run at the warning level.
    asyncio.run(_add_old_report(store))
    retention = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60
    )
    assert retention.returncode == 0, retention.stderr
    assert "retention: deleted 1 reports older than 1 days" in retention.stderr


async def _add_old_report(url: str) -> None:
    from tests.receiver.storage.test_store import report

    store = open_report_store(url)
    await store.open()
    try:
        await store.add(report(received_ms=0))
    finally:
        await store.close()
