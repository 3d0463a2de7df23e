"""docs/events.md's plain-script example runs as written against a loopback capture server."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest

from telemetry_service.testing import CaptureServer

DOC = Path(__file__).resolve().parents[2] / "docs" / "events.md"

pytestmark = pytest.mark.integration


def example_code() -> str:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    [block] = [b for b in blocks if "async def main(base_url" in b]
    return block


def test_the_documented_script_ships_its_event() -> None:
    namespace: dict[str, Any] = {"__name__": "events_doc"}
    exec(compile(example_code(), str(DOC), "exec"), namespace)
    server = CaptureServer().start()
    try:
        asyncio.run(namespace["main"](server.url))
    finally:
        server.stop()
    assert [r.method for r in server.requests] == ["OPTIONS", "POST"]
    [post] = server.posts("/v3/send/my-app-server")
    assert post.headers["content-type"] == "application/x-ndjson"
    assert post.headers["x-elastic-cluster-id"] == "my-app-0001"
    assert post.headers["x-elastic-stack-version"] == "1.0.0"
    assert re.fullmatch(r"[0-9a-f-]{36}", post.headers["x-elastic-batch-id"])
    assert post.body.endswith(b"\n")
    [line] = post.body.decode().splitlines()
    event = json.loads(line)
    assert list(event) == ["timestamp", "event_type", "context", "properties"]
    assert event["event_type"] == "job_finished"
    assert event["context"] == {"cluster_uuid": "my-app-0001", "version": "1.0.0"}
    assert event["properties"] == {"job": "nightly", "took_ms": 1234}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", event["timestamp"])


def test_a_schema_breaking_event_never_reaches_the_capture_server() -> None:
    """Issue 12: an event that breaks its schema (an undeclared field, a wrong type) is dropped
    before any shipper, in production too, and counted with its reason."""
    from telemetry_service.ebt import AnalyticsClient, TelemetryCounter
    from telemetry_service.ebt.shippers import (
        ElasticV3ServerShipper,
        ElasticV3ServerShipperConfig,
    )

    counters: list[TelemetryCounter] = []

    async def main(base_url: str) -> None:
        client = AnalyticsClient()
        client.telemetry_counters.subscribe(counters.append)
        client.register_event_type(
            "job_finished", {"took_ms": {"type": "long", "_meta": {"description": "ms"}}}
        )
        client.register_shipper(
            ElasticV3ServerShipper,
            ElasticV3ServerShipperConfig(base_url=base_url, version="1.0.0", product="my-app"),
        )
        client.opt_in({"global": {"enabled": True}})
        client.report_event("job_finished", {"took_ms": "slow"})  # wrong type
        client.report_event("job_finished", {"took_ms": 5, "user": "ann"})  # undeclared field
        client.report_event("job_finished", {"took_ms": 7})
        await client.shutdown()

    with CaptureServer() as server:
        asyncio.run(main(server.url))
    [post] = server.posts("/v3/send/my-app-server")
    assert [json.loads(line)["properties"] for line in post.body.decode().splitlines()] == [
        {"took_ms": 7}
    ]
    assert b"slow" not in post.body
    assert b"ann" not in post.body
    dropped = [c for c in counters if c.type == "dropped" and c.source == "client"]
    assert [(c.event_type, c.code) for c in dropped] == [
        ("job_finished", "SchemaViolation"),
        ("job_finished", "SchemaViolation"),
    ]
