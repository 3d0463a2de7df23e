"""Event batches into a real ``receiver serve`` process on 127.0.0.1 (issue 13's Done-when).

A batch made by the host's own ``ElasticV3ServerShipper`` is stored and shows up in the API
and the export; every hostile body gets its documented 4xx while the process's memory stays
bounded, and a valid batch sent afterwards is stored.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from telemetry_service.common.clock import iso_ms, to_ms, utc_now
from telemetry_service.ebt import Event, ShipperContext
from telemetry_service.ebt.shippers import ElasticV3ServerShipper, ElasticV3ServerShipperConfig
from telemetry_service.wire.protocol import event_headers, events_to_ndjson
from tests.receiver.processes import rss_peak_kib, serve_receiver
from tests.receiver.support import write_private_keys
from tests.support.processes import ServerProcess, free_port

pytestmark = pytest.mark.integration

SERVER = "/v3/send/telemetry-service-server"


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[ServerProcess]:
    keys = write_private_keys(tmp_path / "receiver.private.jwks.json")
    config = tmp_path / "receiver.yml"
    config.write_text(
        f"keys: {keys}\nstore.url: sqlite:///{tmp_path / 'receiver.db'}\n"
        f"server.port: {free_port()}\n"
    )
    with serve_receiver(["--config", str(config)]) as server:
        yield server
        assert server.terminate(signal.SIGTERM) == 0


def now_event(event_type: str, **properties: Any) -> Event:
    return {
        "timestamp": iso_ms(to_ms(utc_now())),
        "event_type": event_type,
        "context": {"cluster_uuid": "host-1", "license_id": "lic"},
        "properties": properties,
    }


@pytest.mark.anyio
async def test_a_batch_of_the_host_shipper_is_stored_and_shown(
    receiver: ServerProcess,
) -> None:
    config = ElasticV3ServerShipperConfig(base_url=receiver.url + "/", version="8.1.0")
    shipper = ElasticV3ServerShipper(config, ShipperContext(logging.getLogger("test")))
    codes: list[str] = []
    shipper.telemetry_counters.subscribe(lambda counter: codes.append(counter.code))
    shipper.extend_context({"cluster_uuid": "host-1", "license_id": "lic"})
    shipper.opt_in(True)
    shipper.report_events([now_event("dashboard_opened", panels=i) for i in range(3)])
    await shipper.flush()
    await shipper.shutdown()
    assert codes == ["200"]
    async with httpx.AsyncClient(base_url=receiver.url, timeout=10) as client:
        events = (await client.get("/api/events", params={"cluster_uuid": "host-1"})).json()
        assert [e["properties"]["panels"] for e in events["events"]] == [2, 1, 0]
        assert events["events"][0]["context"] == {"cluster_uuid": "host-1", "license_id": "lic"}
        types = (await client.get("/api/events/types", params={"days": 1})).json()["types"]
        assert [(t["event_type"], t["events"], t["clusters"]) for t in types] == [
            ("dashboard_opened", 3, 1)
        ]
        export = await client.get("/api/export", params={"kind": "event"})
        exported = [orjson.loads(line) for line in export.content.splitlines()]
        assert [e["event_type"] for e in exported] == ["dashboard_opened"] * 3


def test_hostile_bodies_get_their_4xx_in_bounded_memory(receiver: ServerProcess) -> None:
    valid = events_to_ndjson([now_event("ok")])
    headers = event_headers("c-1", "8.1.0")

    def chunks(size: int, chunk: bytes = b"x" * 65536) -> Iterator[bytes]:
        for _ in range(size // len(chunk)):
            yield chunk  # no Content-Length: the receiver must count while streaming

    attacks: list[tuple[str, Any, dict[str, str], int, str]] = [
        ("not NDJSON", b"<html>hello</html>", headers, 400, "no_valid_events"),
        ("20 MB body", b"{}" * (10 << 20), headers, 413, "too_large"),
        ("20 MB chunked", chunks(20 << 20), headers, 413, "too_large"),
        ("1 MB line", b"[" + b"1," * (1 << 19) + b"1]\n", headers, 413, "line_too_large"),
        ("100,000 tiny lines", b"{}\n" * 100_000, headers, 413, "too_many_lines"),
        ("10,000 deep", b"[" * 10_000 + b"]" * 10_000, headers, 400, "no_valid_events"),
        ("invalid UTF-8", b'{"a":"\xc3\x28"}\n', headers, 400, "no_valid_events"),
        (
            "wrong content type",
            valid,
            {**headers, "content-type": "application/json"},
            415,
            "unsupported_media_type",
        ),
    ]
    with httpx.Client(base_url=receiver.url, timeout=60) as client:
        assert client.post(SERVER, content=valid, headers=headers).status_code == 200
        _, baseline = rss_peak_kib(receiver.proc.pid)
        for _ in range(3):
            for name, body, hdrs, status, reason in attacks:
                if name == "20 MB chunked":
                    body = chunks(20 << 20)
                response = client.post(SERVER, content=body, headers=hdrs)
                assert response.status_code == status, (name, response.text)
                assert response.json()["reason"] == reason, name
        _, after = rss_peak_kib(receiver.proc.pid)
        # A buffered 20 MB body or a parsed 100,000-line body would show here.
        assert (after - baseline) < 48 * 1024, (baseline, after)
        after_attacks = events_to_ndjson([now_event("ok", n=2)])
        assert client.post(SERVER, content=after_attacks, headers=headers).status_code == 200
        stored = client.get("/api/events", params={"event_type": "ok"}).json()["events"]
        assert len(stored) == 2
        metrics = client.get("/metrics").text
        assert 'channel="telemetry-service-server",outcome="too_large"} 6' in metrics
        assert 'reason="too_deep"} 3' in metrics
        assert 'reason="invalid_utf8"} 3' in metrics
