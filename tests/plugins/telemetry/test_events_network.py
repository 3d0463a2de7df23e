"""The event shipper reaches the vendor with the snapshot sender's network settings and limits:
``telemetry.proxy`` (with ``noProxy``), ``telemetry.ssl``, ``telemetry.timeouts.send`` and
``telemetry.maxResponseBytes`` (security review findings 2 and 7 apply to both paths to the
vendor). Real endpoints on 127.0.0.1: a capture server and hostile ones."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from telemetry_service.core import SavedObjectStore
from telemetry_service.ebt import AnalyticsClient
from telemetry_service.ebt.shippers import ElasticV3ServerShipper
from telemetry_service.testing import CaptureServer
from tests.plugins.telemetry.support import event_telemetry
from tests.support.hostile import HostileServer

pytestmark = pytest.mark.anyio
CHANNEL = "/v3/send/telemetry-service-server"
SCHEMA = {"n": {"type": "long", "_meta": {"description": "n"}}}


@pytest.fixture
def capture() -> Iterator[CaptureServer]:
    with CaptureServer() as server:
        yield server


async def shipper_for(
    analytics: AnalyticsClient, store: SavedObjectStore, endpoint: str, **telemetry: Any
) -> ElasticV3ServerShipper:
    """The telemetry plugin's shipper for this config, opted in (its OPTIONS check starts)."""
    analytics.register_event_type("e", SCHEMA)
    endpoints = {"prod": endpoint, "staging": endpoint}
    driver = event_telemetry(analytics, store, endpoints=endpoints, **telemetry)
    driver.register_shipper()
    assert driver.shipper is not None
    driver.apply(True)
    return driver.shipper


async def until(condition: Callable[[], bool], timeout_s: float) -> bool:
    for _ in range(int(timeout_s / 0.02)):
        if condition():
            return True
        await asyncio.sleep(0.02)
    return condition()


async def test_events_go_through_the_configured_proxy(
    store: SavedObjectStore, capture: CaptureServer
) -> None:
    """The endpoint's name does not resolve: only the proxy (the capture server) can reach
    it. Before, the shipper ignored ``telemetry.proxy`` and never got through."""
    analytics = AnalyticsClient()
    try:
        shipper = await shipper_for(
            analytics, store, "http://vendor.invalid/", proxy={"url": capture.url}
        )
        assert await until(lambda: shipper.online, 10)
        analytics.report_event("e", {"n": 1})
        await analytics.flush()
    finally:
        await analytics.shutdown()
    assert [(r.method, r.path) for r in capture.requests] == [
        ("OPTIONS", CHANNEL),
        ("POST", CHANNEL),
    ]
    assert {r.headers["host"] for r in capture.requests} == {"vendor.invalid"}


async def test_no_proxy_hosts_are_reached_directly(
    store: SavedObjectStore, capture: CaptureServer
) -> None:
    with HostileServer("close") as proxy:
        analytics = AnalyticsClient()
        try:
            shipper = await shipper_for(
                analytics,
                store,
                capture.url,
                proxy={"url": proxy.url, "noProxy": "127.0.0.1"},
            )
            assert await until(lambda: shipper.online, 10)
        finally:
            await analytics.shutdown()
    assert proxy.connections == 0
    assert [(r.method, r.path) for r in capture.requests] == [("OPTIONS", CHANNEL)]


async def test_a_hanging_endpoint_is_given_up_at_telemetry_timeouts_send(
    store: SavedObjectStore,
) -> None:
    """Before, the shipper waited its own 30 s whatever ``telemetry.timeouts.send`` said."""
    with HostileServer("hang") as hang:
        analytics = AnalyticsClient()
        try:
            shipper = await shipper_for(analytics, store, hang.url, timeouts={"send": "300ms"})
            assert shipper.config.timeout_s == 0.3
            assert await until(lambda: shipper.offline_since is not None, 5)
            assert not shipper.online
        finally:
            await analytics.shutdown()


async def test_an_answer_is_read_up_to_telemetry_max_response_bytes(
    store: SavedObjectStore,
) -> None:
    """The endpoint answers 200, then one body byte every 20 ms: with
    ``maxResponseBytes: 1`` the shipper stops after the second byte and closes the connection
    (the server's next writes fail); with the shipper's own 64 KiB cap it read for its whole
    0.5 s grace (about 25 bytes)."""
    with HostileServer("trickle", trickle_s=0.02) as trickle:
        analytics = AnalyticsClient()
        try:
            shipper = await shipper_for(analytics, store, trickle.url, maxResponseBytes=1)
            assert shipper.config.max_response_bytes == 1
            assert await until(lambda: shipper.online, 10)  # the status is all it needs
            await asyncio.sleep(0.3)  # the server notices the closed connection
        finally:
            await analytics.shutdown()
        assert trickle.bytes_written < 8


def _certificate(
    subject: str, key: ec.EllipticCurvePrivateKey, issuer: tuple[str, ec.EllipticCurvePrivateKey]
) -> x509.Certificate:
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)  # valid 2026-2036, whatever the test's date
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer[0])]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=3650))
    )
    if subject == issuer[0]:  # the CA
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
    else:
        ip = x509.IPAddress(ipaddress.ip_address("127.0.0.1"))
        builder = builder.add_extension(x509.SubjectAlternativeName([ip]), critical=False)
    return builder.sign(issuer[1], hashes.SHA256())


@pytest.fixture
def tls_endpoint(tmp_path: Path) -> Iterator[tuple[str, Path, list[str]]]:
    """An HTTPS endpoint on 127.0.0.1 whose certificate a private CA signed: its URL, the CA's
    PEM file and the requests it answered (``METHOD path``)."""
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("test CA", ca_key, ("test CA", ca_key))
    cert = _certificate("127.0.0.1", key, ("test CA", ca_key))
    (tmp_path / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_OPTIONS(self) -> None:
            seen.append(f"{self.command} {self.path}")
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/", tmp_path / "ca.pem", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.mark.parametrize("trusted", [True, False], ids=["ca-configured", "no-ca"])
async def test_telemetry_ssl_certificate_authorities_are_trusted(
    store: SavedObjectStore, tls_endpoint: tuple[str, Path, list[str]], trusted: bool
) -> None:
    """With the private CA in ``telemetry.ssl.certificateAuthorities`` the shipper's check
    gets through; without it, verification fails (it is never turned off). Before, the
    shipper ignored the setting and never got through."""
    url, ca_file, seen = tls_endpoint
    telemetry: dict[str, Any] = {"ssl": {"certificateAuthorities": [str(ca_file)]}}
    analytics = AnalyticsClient()
    try:
        shipper = await shipper_for(analytics, store, url, **(telemetry if trusted else {}))
        assert await until(lambda: shipper.online or shipper.offline_since is not None, 10)
    finally:
        await analytics.shutdown()
    assert shipper.online is trusted
    assert seen == ([f"OPTIONS {CHANNEL}"] if trusted else [])
