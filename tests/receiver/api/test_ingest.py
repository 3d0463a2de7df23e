"""POST /v3/send/{channel}: accepted reports, and every documented refusal."""

from __future__ import annotations

import asyncio
import base64
import logging
import os
from typing import Any

import httpx
import orjson
import pytest
from joserfc import jwe as joserfc_jwe

from telemetry_service.receiver import Receiver, Rejection, load_config
from telemetry_service.testing import FakeClock
from telemetry_service.wire import Encryptor, generate_key_pair
from telemetry_service.wire import jwe as wire_jwe
from telemetry_service.wire.envelope import pack_body, unpack_body
from telemetry_service.wire.keys import load_keys

from ..support import (
    OPT_IN,
    SNAPSHOT,
    encrypt,
    headers,
    key_pair,
    opt_in,
    snapshot,
)

pytestmark = pytest.mark.anyio


async def post(
    client: httpx.AsyncClient,
    body: str | bytes,
    *,
    channel: str = SNAPSHOT,
    cluster: str = "c-1",
    extra: dict[str, str] | None = None,
) -> httpx.Response:
    return await client.post(
        f"/v3/send/{channel}", content=body, headers=headers(cluster, **(extra or {}))
    )


def assert_refused(response: httpx.Response, status: int, reason: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["statusCode"] == status
    assert body["reason"] == reason
    assert body["error"]
    assert body["message"]
    return body


async def test_snapshot_is_stored_and_listed(client: httpx.AsyncClient, receiver: Receiver) -> None:
    response = await post(client, encrypt(snapshot("c-1")))
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["ok"] is True
    assert answer["duplicate"] is False
    assert await receiver.store.count_reports() == 1
    clusters = (await client.get("/api/clusters")).json()
    assert clusters["total"] == 1
    (cluster,) = clusters["clusters"]
    assert cluster["cluster_uuid"] == "c-1"
    assert cluster["version"] == "8.1.0"
    assert cluster["last_report_at"] == "2026-03-15T11:00:00.000Z"
    assert cluster["cluster_name"] == "name of c-1"


async def test_opt_in_report_is_stored(client: httpx.AsyncClient, receiver: Receiver) -> None:
    response = await post(client, encrypt(opt_in("c-9", False)), channel=OPT_IN, cluster="c-9")
    assert response.status_code == 200, response.text
    cluster = await receiver.store.get_cluster("c-9")
    assert cluster is not None
    assert cluster.opt_in_status is False


async def test_extra_payload_fields_are_kept(client: httpx.AsyncClient, receiver: Receiver) -> None:
    payload = snapshot(license={"type": "basic"}, big=2**70, text="naïve ☃")
    assert (await post(client, encrypt(payload))).status_code == 200
    (stored,) = await receiver.store.cluster_history("c-1", from_ms=0, to_ms=2**50, limit=5)
    assert orjson.loads(stored.payload_text.replace(str(2**70), "0")) == {**payload, "big": 0}
    assert str(2**70) in stored.payload_text


async def test_same_body_twice_is_stored_once(
    client: httpx.AsyncClient, receiver: Receiver
) -> None:
    body = encrypt(snapshot())
    first = (await post(client, body)).json()
    second = (await post(client, body)).json()
    assert second == {**first, "duplicate": True}
    # A re-encryption of the same snapshot (a sender's retry from its cache) is the same report.
    third = (await post(client, encrypt(snapshot()))).json()
    assert third["duplicate"] is True
    assert await receiver.store.count_reports() == 1


async def test_same_opt_in_status_sent_again_is_a_new_report(
    client: httpx.AsyncClient, receiver: Receiver
) -> None:
    """Opt-in reports carry no time: on, off, on again are three reports (not deduplicated)."""
    for status in (True, False, True):
        response = await post(client, encrypt(opt_in("c-1", status)), channel=OPT_IN)
        assert response.json()["duplicate"] is False
    assert await receiver.store.count_reports() == 3


async def test_a_json_quoted_body_is_accepted(client: httpx.AsyncClient) -> None:
    response = await post(client, orjson.dumps(encrypt(snapshot())))
    assert response.status_code == 200, response.text


async def test_rotated_keys_are_all_accepted(clock: FakeClock, tmp_path: Any) -> None:
    from telemetry_service.receiver import load_config

    from ..support import write_private_keys

    keys = write_private_keys(tmp_path / "k.json", "test-1", "test-2")
    config = load_config({"keys": str(keys), "path": {"data": str(tmp_path)}}, env={})
    async with Receiver(config, clock=clock) as receiver:
        transport = httpx.ASGITransport(app=receiver.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://r") as client:
            assert (await post(client, encrypt(snapshot("a"), "test-1"), cluster="a")).is_success
            assert (await post(client, encrypt(snapshot("b"), "test-2"), cluster="b")).is_success
            status = (await client.get("/api/status")).json()
            assert status["kids"] == ["test-1", "test-2"]


async def test_rsa_oaep_256_key_wrap_is_accepted(client: httpx.AsyncClient) -> None:
    body = Encryptor(key_pair().public_jwks, "test-1", key_wrap="RSA-OAEP-256").encrypt(snapshot())
    response = await post(client, body)
    assert response.status_code == 200, response.text


# -- refusals ---------------------------------------------------------------------------------


async def test_tampered_ciphertext_is_undecryptable(client: httpx.AsyncClient) -> None:
    key, payload = unpack_body(encrypt(snapshot()))
    raw = bytearray(base64.b64decode(payload))
    raw[-1] ^= 0x01
    tampered = pack_body(key, base64.b64encode(bytes(raw)).decode())
    assert_refused(await post(client, tampered), 400, "undecryptable")


async def test_a_tampered_byte_anywhere_is_a_400(client: httpx.AsyncClient) -> None:
    body = encrypt(snapshot())
    for position in (5, len(body) // 3, len(body) // 2, len(body) - 3):
        flipped = body[:position] + ("A" if body[position] != "A" else "B") + body[position + 1 :]
        response = await post(client, flipped)
        assert response.status_code == 400, (position, response.text)
        assert response.json()["reason"] in {"malformed", "undecryptable", "unknown_kid"}


async def test_unknown_kid(client: httpx.AsyncClient) -> None:
    other = generate_key_pair("not-ours")
    body = Encryptor(other.public_jwks, "not-ours").encrypt(snapshot())
    response = await post(client, body)
    assert_refused(response, 400, "unknown_kid")
    assert "not-ours" in response.json()["message"]


async def test_random_bytes(client: httpx.AsyncClient) -> None:
    assert_refused(await post(client, os.urandom(4096)), 400, "malformed")
    assert_refused(await post(client, b""), 400, "malformed")
    assert_refused(await post(client, b"   "), 400, "malformed")


async def test_body_over_the_limit_is_413(client: httpx.AsyncClient) -> None:
    body = b"A" * (20 * 1024 * 1024)
    assert_refused(await post(client, body), 413, "too_large")


async def test_streamed_body_over_the_limit_is_413(client: httpx.AsyncClient) -> None:
    async def chunks() -> Any:
        for _ in range(21):
            yield b"A" * (1024 * 1024)

    response = await client.post(f"/v3/send/{SNAPSHOT}", content=chunks(), headers=headers())
    assert_refused(response, 413, "too_large")


async def test_zip_bomb_in_the_key_is_413(client: httpx.AsyncClient) -> None:
    (loaded,) = load_keys(key_pair().public_jwks, private=False).values()
    registry = wire_jwe.KeyWrapRegistry(max_inflated_bytes=1 << 30, max_ciphertext_bytes=1 << 30)
    header = {"zip": "DEF", "enc": "A128CBC-HS256", "alg": "RSA-OAEP", "kid": "test-1"}
    bomb = joserfc_jwe.encrypt_compact(header, bytes(50_000_000), loaded.key, registry=registry)
    assert len(bomb) < 200_000
    _, payload = unpack_body(encrypt(snapshot()))
    assert_refused(await post(client, pack_body(bomb, payload)), 413, "too_large")


async def test_deep_json_is_refused(client: httpx.AsyncClient) -> None:
    for depth in (10_000, 101):
        deep = b"[" * depth + b"]" * depth
        assert_refused(await post(client, encrypt(deep)), 400, "too_deep")
    nested: Any = {}
    node = nested
    for _ in range(98):
        node["x"] = {}
        node = node["x"]
    assert (await post(client, encrypt(snapshot(deep=nested)))).status_code == 200


async def test_mismatched_cluster_id(client: httpx.AsyncClient) -> None:
    response = await post(client, encrypt(snapshot("c-1")), cluster="c-2")
    assert_refused(response, 400, "cluster_mismatch")
    response = await post(client, encrypt(opt_in("c-1")), channel=OPT_IN, cluster="c-2")
    assert_refused(response, 400, "cluster_mismatch")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ([1, 2], "JSON object"),
        ("text", "JSON object"),
        ({"timestamp": "2026-01-01T00:00:00Z", "version": "1"}, "cluster_uuid"),
        (snapshot(timestamp="yesterday"), "timestamp"),
        (snapshot(timestamp=12), "timestamp"),
        (snapshot(version=None), "version"),
        (snapshot(cluster_name=["x"]), "cluster_name"),
        (snapshot(stack_stats=[]), "stack_stats"),
        (snapshot(collectionSource=1), "collectionSource"),
    ],
)
async def test_invalid_snapshot_shapes(client: httpx.AsyncClient, payload: Any, field: str) -> None:
    body = assert_refused(await post(client, encrypt(payload)), 400, "invalid_payload")
    assert field in body["message"]


async def test_invalid_opt_in_shape(client: httpx.AsyncClient) -> None:
    body = encrypt({"cluster_uuid": "c-1", "opt_in_status": "yes"})
    refused = assert_refused(await post(client, body, channel=OPT_IN), 400, "invalid_payload")
    assert "opt_in_status" in refused["message"]


async def test_not_json_after_decryption(client: httpx.AsyncClient) -> None:
    assert_refused(await post(client, encrypt(b"{not json")), 400, "malformed_json")
    assert_refused(await post(client, encrypt(b'{"a": NaN}')), 400, "malformed_json")
    assert_refused(await post(client, encrypt(b"\xff\xfe")), 400, "malformed_json")


async def test_unknown_channel_is_404(client: httpx.AsyncClient) -> None:
    for channel in ("kibana-snapshot", "telemetry-service-other", "x" * 150):
        response = await post(client, encrypt(snapshot()), channel=channel)
        assert_refused(response, 404, "unknown_channel")


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ({"X-Elastic-Content-Encoding": "gzip"}, "unsupported_encoding"),
        ({"Content-Encoding": "gzip"}, "unsupported_encoding"),
        ({"Content-Type": "application/x-www-form-urlencoded"}, "unsupported_media_type"),
    ],
)
async def test_wrong_encoding_is_415(
    client: httpx.AsyncClient, extra: dict[str, str], reason: str
) -> None:
    assert_refused(await post(client, encrypt(snapshot()), extra=extra), 415, reason)


@pytest.mark.parametrize("missing", ["X-Elastic-Cluster-ID", "X-Elastic-Stack-Version"])
async def test_missing_headers_are_400(client: httpx.AsyncClient, missing: str) -> None:
    sent = headers()
    del sent[missing]
    response = await client.post(f"/v3/send/{SNAPSHOT}", content=encrypt(snapshot()), headers=sent)
    body = assert_refused(response, 400, "missing_header")
    assert missing in body["message"]


async def test_missing_content_encoding_header_is_415(client: httpx.AsyncClient) -> None:
    sent = headers()
    del sent["X-Elastic-Content-Encoding"]
    response = await client.post(f"/v3/send/{SNAPSHOT}", content=encrypt(snapshot()), headers=sent)
    assert_refused(response, 415, "unsupported_encoding")


async def test_overload_is_429_with_retry_after(
    client: httpx.AsyncClient, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reports past their body hold the limits.maxInFlight slots: the next one gets a 429."""
    gate = asyncio.Event()
    limit = receiver.config.limits.max_in_flight
    add = receiver.store.add

    async def slow_add(report: Any, *, more_coming: bool = False) -> Any:
        await gate.wait()
        return await add(report, more_coming=more_coming)

    monkeypatch.setattr(receiver.store, "add", slow_add)

    async def body(limit: int) -> bytes:
        return encrypt(snapshot()).encode()

    waiting = [
        asyncio.create_task(receiver.ingest.handle(SNAPSHOT, headers(), body)) for _ in range(limit)
    ]
    while receiver.ingest.in_flight < limit:
        await asyncio.sleep(0.01)
    response = await post(client, encrypt(snapshot("c-2")), cluster="c-2")
    assert_refused(response, 429, "overloaded")
    assert response.headers["Retry-After"] == "5"
    gate.set()
    outcomes = await asyncio.gather(*waiting)
    assert sum(not o.duplicate for o in outcomes) == 1
    assert (await post(client, encrypt(snapshot("c-2")), cluster="c-2")).status_code == 200


async def test_store_down_is_503_with_retry_after(
    client: httpx.AsyncClient, receiver: Receiver
) -> None:
    await receiver.store.close()
    response = await post(client, encrypt(snapshot()))
    assert_refused(response, 503, "store_unavailable")
    assert response.headers["Retry-After"] == "5"
    query = await client.get("/api/clusters")
    assert query.status_code == 503
    assert query.headers["Retry-After"] == "5"
    status = await client.get("/api/status")
    assert status.status_code == 503
    assert status.json()["status"] == "unavailable"


async def test_metrics_count_each_outcome(client: httpx.AsyncClient) -> None:
    await post(client, encrypt(snapshot()))
    await post(client, encrypt(snapshot()))
    await post(client, b"garbage!")
    await post(client, encrypt(snapshot()), channel="nope-snapshot")
    text = (await client.get("/metrics")).text
    counted = 'telemetry_receiver_ingest_total{{channel="{}",outcome="{}"}} 1'
    for outcome in ("stored", "duplicate", "malformed"):
        assert counted.format(SNAPSHOT, outcome) in text
    assert counted.format("unknown", "unknown_channel") in text
    assert "telemetry_receiver_ingest_seconds_count 2" in text
    assert "telemetry_receiver_ingest_in_flight 0" in text


async def test_no_payload_contents_in_logs(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    marker = "SECRET-PAYLOAD-MARKER"
    caplog.set_level(logging.DEBUG)
    bodies = [
        encrypt(snapshot(note=marker)),
        encrypt(snapshot(timestamp=marker)),
        encrypt({"cluster_uuid": "c-1", marker: [[[[1]]]]}),
        encrypt(b"{" + marker.encode()),
    ]
    for body in bodies:
        await post(client, body)
        await post(client, body[:-5] + "AAAAA")
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert marker not in logged
    assert all(body[:40] not in logged for body in bodies)


async def test_rejection_carries_status_and_reason() -> None:
    rejection = Rejection(413, "too_large", "big")
    assert (rejection.status, rejection.reason, str(rejection)) == (
        413,
        "too_large",
        "413 too_large: big",
    )


async def test_browsers_may_post_reports_cross_origin(client: httpx.AsyncClient) -> None:
    preflight = await client.options(
        f"/v3/send/{SNAPSHOT}",
        headers={
            "Origin": "https://kibana.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-elastic-cluster-id",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "X-Elastic-Cluster-ID" in preflight.headers["access-control-allow-headers"]
    posted = await post(client, encrypt(snapshot()))
    assert posted.headers["access-control-allow-origin"] == "*"
    refused = await post(client, b"nope")
    assert refused.headers["access-control-allow-origin"] == "*"
    query = await client.get("/api/clusters", headers={"Origin": "https://kibana.example"})
    assert "access-control-allow-origin" not in query.headers


async def test_out_of_range_numbers_and_repeated_keys_are_400_on_both_backends(
    backend_url: str, keys_file: Any, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """Security review findings 6 and 9: `1e400`, `1e-999999` and a repeated key answer 400
    invalid_payload on SQLite and PostgreSQL alike, and the log holds nothing of the payload.
    Before, PostgreSQL answered 503 store_unavailable and logged an excerpt of the payload;
    SQLite stored them."""
    caplog.set_level(logging.DEBUG)
    marker = "SECRET-PAYLOAD-MARKER"
    config = load_config({"keys": str(keys_file), "store": {"url": backend_url}}, env={})
    async with Receiver(config, clock=clock) as receiver:
        transport = httpx.ASGITransport(app=receiver.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as client:
            for tail in ['"x":1e400', '"x":[1e-999999]', '"version":"0.1","version":"8.1.0"']:
                text = orjson.dumps(snapshot(note=marker))[:-1] + b"," + tail.encode() + b"}"
                assert_refused(await post(client, encrypt(text)), 400, "invalid_payload")
            assert (await client.get("/api/clusters")).json()["total"] == 0
    assert marker not in "\n".join(record.getMessage() for record in caplog.records)


@pytest.mark.postgres
@pytest.mark.real_clock
async def test_a_postgresql_outage_answers_503_within_the_pool_timeout(
    postgres_url: str, keys_file: Any, clock: FakeClock
) -> None:
    """Security review finding 14: while PostgreSQL refuses connections, each report gets its
    503 within store.poolTimeoutSeconds (2 s by default; 4 s asserted). Before, each waited the
    pool's 10 s."""
    import time

    import psycopg

    server, _, name = postgres_url.rpartition("/")
    config = load_config({"keys": str(keys_file), "store": {"url": postgres_url}}, env={})
    async with Receiver(config, clock=clock) as receiver:
        transport = httpx.ASGITransport(app=receiver.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as client:
            assert (await post(client, encrypt(snapshot("c-0")), cluster="c-0")).status_code == 200
            with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
                admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                    [name],
                )
                try:
                    for i in range(1, 4):
                        began = time.monotonic()
                        response = await post(client, encrypt(snapshot(f"c-{i}")), cluster=f"c-{i}")
                        assert_refused(response, 503, "store_unavailable")
                        assert time.monotonic() - began < 4
                finally:
                    admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
