"""Two receiver processes on one PostgreSQL database serve ingest and queries together."""

from __future__ import annotations

import asyncio
import signal
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from tests.receiver.processes import fast_bodies, serve_receiver
from tests.receiver.support import OPT_IN, SNAPSHOT, headers, opt_in, snapshot, write_private_keys
from tests.support.processes import free_port

pytestmark = [pytest.mark.integration, pytest.mark.postgres]


def test_two_receivers_share_one_database(tmp_path: Path, postgres_url: str) -> None:
    keys = write_private_keys(tmp_path / "receiver.private.jwks.json")
    with ExitStack() as stack:
        # Both start (and migrate) at the same time.
        servers = [
            stack.enter_context(
                serve_receiver(
                    ["--keys", str(keys), "--store", postgres_url, "--port", str(free_port())]
                )
            )
            for _ in range(2)
        ]
        clusters = [f"pg-{i:03d}" for i in range(120)]
        bodies = fast_bodies([snapshot(c) for c in clusters])
        opt_ins = fast_bodies([opt_in(c, i % 2 == 0) for i, c in enumerate(clusters[:20])])

        async def post_everything() -> list[int]:
            async with httpx.AsyncClient(timeout=30) as client:
                semaphore = asyncio.Semaphore(16)

                async def post(index: int, channel: str, cluster: str, body: str) -> int:
                    url = servers[index % 2].url
                    async with semaphore:
                        response = await client.post(
                            f"{url}/v3/send/{channel}", content=body, headers=headers(cluster)
                        )
                    return response.status_code

                jobs = [
                    post(i, SNAPSHOT, c, b)
                    for i, (c, b) in enumerate(zip(clusters, bodies, strict=True))
                ]
                jobs += [
                    post(i + 1, OPT_IN, c, b)
                    for i, (c, b) in enumerate(zip(clusters, opt_ins, strict=False))
                ]
                # The same report through both receivers at once is stored once.
                jobs += [post(i, SNAPSHOT, clusters[0], bodies[0]) for i in range(4)]
                return await asyncio.gather(*jobs)

        statuses = asyncio.run(post_everything())
        assert set(statuses) == {200}, statuses
        for server in servers:
            body = httpx.get(
                f"{server.url}/api/clusters", params={"limit": 1000}, timeout=10
            ).json()
            assert body["total"] == 120
            first = httpx.get(f"{server.url}/api/clusters/pg-000", timeout=10).json()
            assert first["opt_in_status"] is True
            history = httpx.get(
                f"{server.url}/api/clusters/pg-000/reports",
                params={"from": "2020-01-01", "to": "2029-12-31"},
                timeout=10,
            ).json()
            assert [r["kind"] for r in history].count("snapshot") == 1
        deleted = httpx.delete(f"{servers[0].url}/api/clusters/pg-005", timeout=10)
        assert deleted.status_code == 200
        assert httpx.get(f"{servers[1].url}/api/clusters/pg-005", timeout=10).status_code == 404
        dist = httpx.get(
            f"{servers[1].url}/api/stats/distribution",
            params={
                "field": "stack_stats.kibana.plugins.telemetry.opt_in_status",
                "active_days": 3650,
            },
            timeout=10,
        ).json()
        assert dist["boolean"] == {"true": 119, "false": 0}
        for server in servers:
            assert server.terminate(signal.SIGTERM) == 0
