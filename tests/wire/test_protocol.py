"""The wire protocol: channels, URLs, both header sets, NDJSON framing, export documents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from telemetry_service.plugins.telemetry.config import TelemetryConfig
from telemetry_service.plugins.telemetry.endpoints import get_opt_in_status_url, get_telemetry_url
from telemetry_service.receiver.config import LimitsConfig
from telemetry_service.receiver.ingest import IngestService
from telemetry_service.receiver.metrics import Metrics
from telemetry_service.receiver.storage import open_report_store
from telemetry_service.wire import Decryptor, Encryptor, KeyPair
from telemetry_service.wire.protocol import (
    CHANNEL_KINDS,
    DEFAULT_PRODUCT,
    ENCRYPTED_KINDS,
    EVENT_KINDS,
    EXPORT_FORMAT,
    ChannelKind,
    ExportedRequest,
    channel_name,
    channel_url,
    event_headers,
    events_to_ndjson,
    export_document,
    parse_channel,
    read_export_document,
    report_headers,
)


def test_kinds_split_into_encrypted_and_events() -> None:
    assert set(CHANNEL_KINDS) == ENCRYPTED_KINDS | EVENT_KINDS
    assert not ENCRYPTED_KINDS & EVENT_KINDS
    assert {"snapshot", "opt-in-reports"} == ENCRYPTED_KINDS


@pytest.mark.parametrize("kind", CHANNEL_KINDS)
def test_channel_name_and_parse_channel_are_inverse(kind: ChannelKind) -> None:
    name = channel_name("acme", kind)
    assert name == f"acme-{kind}"
    assert parse_channel(name, "acme") == kind
    assert parse_channel(name, ["other", "acme"]) == kind


def test_kibana_channel_names() -> None:
    assert channel_name("kibana", "snapshot") == "kibana-snapshot"
    assert channel_name("kibana", "opt-in-reports") == "kibana-opt-in-reports"
    assert channel_name("kibana", "server") == "kibana-server"
    assert channel_name(DEFAULT_PRODUCT, "browser") == "telemetry-service-browser"


def test_unknown_channel_kind_raises_kibanas_message() -> None:
    kind: Any = "ANY"
    with pytest.raises(ValueError, match=r"^Unknown telemetry channel ANY\.$"):
        channel_name("kibana", kind)


@pytest.mark.parametrize(
    "name",
    ["acme-opt-in", "other-snapshot", "acme-snapshot-serverless", "acme", "snapshot", ""],
)
def test_parse_channel_refuses_other_names(name: str) -> None:
    assert parse_channel(name, ("acme",)) is None


def test_parse_channel_with_hyphenated_products() -> None:
    assert parse_channel("telemetry-service-server", DEFAULT_PRODUCT) == "server"
    assert parse_channel("a-b-snapshot", ["a", "a-b"]) == "snapshot"
    assert parse_channel("a-snapshot", []) is None


@pytest.mark.parametrize("base", ["https://telemetry.elastic.co", "https://telemetry.elastic.co/"])
def test_channel_url_matches_kibana(base: str) -> None:
    assert channel_url(base, "kibana", "server") == (
        "https://telemetry.elastic.co/v3/send/kibana-server"
    )
    assert channel_url("http://127.0.0.1:5602/t/", "acme", "opt-in-reports") == (
        "http://127.0.0.1:5602/t/v3/send/acme-opt-in-reports"
    )


def test_report_headers_are_kibanas_four() -> None:
    assert report_headers("8.1.0", "c-1") == {
        "Content-Type": "application/json",
        "X-Elastic-Stack-Version": "8.1.0",
        "X-Elastic-Cluster-ID": "c-1",
        "X-Elastic-Content-Encoding": "aes256gcm",
    }


def test_event_headers_match_ebt_build_headers() -> None:
    assert event_headers("uuid-1", "8.1.0", "lic-1") == {
        "content-type": "application/x-ndjson",
        "x-elastic-cluster-id": "uuid-1",
        "x-elastic-stack-version": "8.1.0",
        "x-elastic-license-id": "lic-1",
    }


@pytest.mark.parametrize("license_id", [None, ""])
@pytest.mark.parametrize("cluster_uuid", [None, ""])
def test_event_headers_unknown_cluster_and_no_license(
    cluster_uuid: str | None, license_id: str | None
) -> None:
    assert event_headers(cluster_uuid, "9.0.0", license_id) == {
        "content-type": "application/x-ndjson",
        "x-elastic-cluster-id": "UNKNOWN",
        "x-elastic-stack-version": "9.0.0",
    }


def test_events_to_ndjson_matches_ebt_vector() -> None:
    event = {"timestamp": "2020-01-01T00:00:00.000Z", "event_type": "event_type"}
    line = events_to_ndjson([{**event, "context": {}, "properties": {}}])
    assert line == (
        b'{"timestamp":"2020-01-01T00:00:00.000Z","event_type":"event_type",'
        b'"context":{},"properties":{}}\n'
    )


def test_events_to_ndjson_joins_lines_like_json_stringify() -> None:
    body = events_to_ndjson([{"a": 1.0, "n": None}, {"text": "naïve ☃ 😀", "list": [1, 2.5]}])
    assert body == '{"a":1,"n":null}\n{"text":"naïve ☃ 😀","list":[1,2.5]}\n'.encode()
    assert events_to_ndjson([]) == b""


def test_export_document_round_trips() -> None:
    url = channel_url("https://t.example/", "acme", "snapshot")
    headers = report_headers("8.1.0", "c-1")
    document = export_document(url, headers, "BODY", "2026-03-15T12:00:00+00:00")
    assert document == {
        "format": EXPORT_FORMAT,
        "exportedAt": "2026-03-15T12:00:00+00:00",
        "url": "https://t.example/v3/send/acme-snapshot",
        "channel": "acme-snapshot",
        "headers": headers,
        "body": "BODY",
    }
    assert read_export_document(document) == ExportedRequest("acme-snapshot", headers, "BODY")
    del document["channel"]
    document["url"] += "?x=1"
    assert read_export_document(document).channel == "acme-snapshot"


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ([], "not a JSON object"),
        ({"format": "other"}, '"format" must be'),
        ({"format": EXPORT_FORMAT, "body": 1}, '"body"'),
        ({"format": EXPORT_FORMAT, "body": "x", "headers": {"a": 1}}, '"headers"'),
        ({"format": EXPORT_FORMAT, "body": "x", "url": "https://x/"}, '"channel"'),
        ({"format": EXPORT_FORMAT, "body": "x", "url": "https://x/v3/send/"}, '"channel"'),
    ],
)
def test_read_export_document_names_the_problem(item: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        read_export_document(item)


@pytest.mark.anyio
@pytest.mark.parametrize("opt_in", [False, True])
async def test_the_hosts_requests_are_accepted_by_the_receivers_parser(
    tmp_path: Path, oaep_pair: KeyPair, opt_in: bool
) -> None:
    """The URL and headers of the host's sender pass the receiver's channel and header checks,
    and the report is stored."""
    config = TelemetryConfig.model_validate(
        {"endpoints": {"prod": "https://t.example/base/"}, "product": "acme"}
    )
    url = httpx.URL(str((get_opt_in_status_url if opt_in else get_telemetry_url)(config)))
    headers = report_headers("8.1.0", "c-1")
    payload: dict[str, Any] = {"cluster_uuid": "c-1", "opt_in_status": True}
    if not opt_in:
        payload |= {
            "timestamp": "2026-03-15T11:00:00.000Z",
            "cluster_name": "one",
            "version": "8.1.0",
            "collection": "local",
            "collectionSource": "local",
            "stack_stats": {},
        }
    body = Encryptor(oaep_pair.public_jwks, "kid-oaep").encrypt(payload).encode()
    store = open_report_store(f"sqlite:///{tmp_path / 'r.db'}")
    await store.open()
    try:
        service = IngestService(
            decryptor=Decryptor(oaep_pair.private_jwks),
            store=store,
            products=("other", "acme"),
            limits=LimitsConfig(),
            max_body_bytes=1 << 20,
            metrics=Metrics(),
        )
        assert url.path.startswith("/base/v3/send/")
        channel = url.path.rsplit("/", 1)[1]
        assert service.channel(channel).kind == ("opt-in" if opt_in else "snapshot")
        assert service.check_headers(headers) == ("c-1", "8.1.0")

        async def read_body(limit: int) -> bytes:
            return body

        outcome = await service.handle(channel, headers, read_body)
    finally:
        await store.close()
    assert (outcome.channel, outcome.duplicate) == (channel, False)
