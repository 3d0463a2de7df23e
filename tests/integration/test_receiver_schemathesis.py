"""schemathesis against the receiver's OpenAPI document: no 500, no undocumented status.

A real ``receiver serve`` process with a few reports in it; every operation of the document
is called with generated valid and invalid input.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode, checks

from telemetry_service.common.clock import iso_ms, to_ms, utc_now
from telemetry_service.wire.protocol import event_headers, events_to_ndjson
from tests.receiver.processes import serve_receiver
from tests.receiver.support import (
    OPT_IN,
    SNAPSHOT,
    encrypt,
    headers,
    opt_in,
    snapshot,
    write_private_keys,
)
from tests.support.processes import ServerProcess, free_port

pytestmark = pytest.mark.integration

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]


@pytest.fixture(scope="module")
def receiver_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp("receiver-schemathesis")
    keys = write_private_keys(tmp / "receiver.private.jwks.json")
    args = ["--keys", str(keys), "--store", f"sqlite:///{tmp / 'r.db'}", "--port", str(free_port())]
    with serve_receiver(args) as server:
        for cluster in ("c-1", "c-2"):
            for channel, payload in ((SNAPSHOT, snapshot(cluster)), (OPT_IN, opt_in(cluster))):
                response = httpx.post(
                    f"{server.url}/v3/send/{channel}",
                    content=encrypt(payload),
                    headers=headers(cluster),
                    timeout=10,
                )
                assert response.status_code == 200
        event = {"timestamp": iso_ms(to_ms(utc_now())), "event_type": "click", "context": {},
                 "properties": {"n": 1, "k": "v", "b": True}}  # fmt: skip
        response = httpx.post(
            f"{server.url}/v3/send/telemetry-service-server",
            content=events_to_ndjson([event]),
            headers=event_headers("c-1", "8.1.0"),
            timeout=10,
        )
        assert response.status_code == 200
        yield server
        assert server.terminate(signal.SIGTERM) == 0


@pytest.fixture(scope="module")
def receiver_schema(receiver_server: ServerProcess) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{receiver_server.url}/openapi.json")


@schemathesis.serializer("application/x-ndjson")
def _ndjson(ctx: object, value: object) -> bytes:
    """An event batch body: the generated value as text (valid lines or not)."""
    return value.encode() if isinstance(value, str) else str(value).encode()


#: Every operation of the document (test_document_lists_every_route keeps this list honest).
OPERATIONS = [
    ("POST", "/v3/send/{channel}"),
    ("GET", "/api/clusters"),
    ("GET", "/api/clusters/{cluster_uuid}"),
    ("DELETE", "/api/clusters/{cluster_uuid}"),
    ("GET", "/api/clusters/{cluster_uuid}/reports"),
    ("GET", "/api/reports/latest"),
    ("GET", "/api/stats/active-clusters"),
    ("GET", "/api/stats/distribution"),
    ("GET", "/api/stats/opt-in"),
    ("GET", "/api/export"),
    ("GET", "/metrics"),
    ("GET", "/api/status"),
    ("GET", "/api/keys/public"),
    # The dashboard's routes.
    ("GET", "/api/me"),
    ("GET", "/api/stats/reports-per-day"),
    ("GET", "/api/stats/versions"),
    ("GET", "/api/stats/fields"),
    ("GET", "/api/stats/field-trend"),
    ("GET", "/api/search/clusters"),
    ("GET", "/api/clusters/{cluster_uuid}/latest"),
    # Events.
    ("POST", "/v3/send/{product}-server"),
    ("POST", "/v3/send/{product}-browser"),
    ("GET", "/api/events/types"),
    ("GET", "/api/events/types/{event_type}/daily"),
    ("GET", "/api/events/types/{event_type}/properties"),
    ("GET", "/api/events/types/{event_type}/properties/{path}"),
    ("GET", "/api/events"),
    # Sign-in links (the demo's).
    ("POST", "/api/signin"),
    ("POST", "/api/signin-links"),
]


#: Operations without any input have no invalid input to generate.
NO_INPUT = {("GET", "/api/status"), ("GET", "/api/keys/public"), ("GET", "/api/me")}
CASES = [
    pytest.param(method, path, mode, id=f"{method} {path} {mode.value}")
    for method, path in OPERATIONS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE or (method, path) not in NO_INPUT
]


# schemathesis' own pytest loader does not run on pytest 9, so each operation is driven
# through hypothesis directly with schemathesis' case strategies and checks.
@pytest.mark.parametrize(("method", "path", "mode"), CASES)
def test_api_conforms_to_its_openapi_document(
    receiver_schema: schemathesis.BaseSchema, method: str, path: str, mode: GenerationMode
) -> None:
    operation = receiver_schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
    )
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(checks=CHECKS)

    run()


def test_document_lists_every_route(receiver_server: ServerProcess) -> None:
    spec = httpx.get(f"{receiver_server.url}/openapi.json", timeout=10).json()
    documented = {(m.upper(), p) for p, item in spec["paths"].items() for m in item}
    assert documented == set(OPERATIONS)
