"""Fixtures of the receiver tests: stores on both backends, an in-process receiver."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from telemetry_service.receiver import Receiver, hash_api_key, load_config
from telemetry_service.receiver.storage import ReportStore, open_report_store
from telemetry_service.testing import FakeClock
from tests.support.stores import BACKENDS, store_url

from .support import write_private_keys


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=BACKENDS)
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return store_url(request, request.param, tmp_path)


@pytest.fixture
async def store(backend_url: str) -> AsyncIterator[ReportStore]:
    s = open_report_store(backend_url)
    await s.open()
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture
def keys_file(tmp_path: Path) -> Path:
    """The private key set of kid test-1, mode 0600."""
    return write_private_keys(tmp_path / "receiver.private.jwks.json")


@pytest.fixture
def receiver_settings(tmp_path: Path, keys_file: Path) -> dict[str, Any]:
    """Raw receiver config for an in-process receiver; tests may edit it first."""
    return {"keys": str(keys_file), "path": {"data": str(tmp_path / "data")}}


@pytest.fixture
async def receiver(receiver_settings: dict[str, Any], clock: FakeClock) -> AsyncIterator[Receiver]:
    async with Receiver(load_config(receiver_settings, env={}), clock=clock) as r:
        yield r


@pytest.fixture
async def client(receiver: Receiver) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=receiver.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as c:
        yield c


ADMIN_KEY, VIEWER_KEY = "admin-key-123", "viewer-key-456"


@pytest.fixture
async def secured(
    receiver_settings: dict[str, Any], clock: FakeClock
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a receiver with an admin key (``ops``) and a viewer key (``dash``)."""
    receiver_settings["auth"] = {
        "apiKeys": [
            {"name": "ops", "role": "admin", "hash": hash_api_key(ADMIN_KEY)},
            {"name": "dash", "role": "viewer", "hash": hash_api_key(VIEWER_KEY)},
        ]
    }
    async with Receiver(load_config(receiver_settings, env={}), clock=clock) as receiver:
        transport = httpx.ASGITransport(app=receiver.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as c:
            yield c
