"""Helpers of the receiver tests: keys, payloads, bodies and headers."""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

import httpx

from telemetry_service.wire import Encryptor, KeyPair, generate_key_pair
from telemetry_service.wire.protocol import DEFAULT_PRODUCT, channel_name

SNAPSHOT = channel_name(DEFAULT_PRODUCT, "snapshot")
OPT_IN = channel_name(DEFAULT_PRODUCT, "opt-in-reports")


def key_pair(kid: str = "test-1") -> KeyPair:
    """A key pair per kid, generated once per session (RSA generation is slow)."""
    return _key_pair(kid)


@functools.cache
def _key_pair(kid: str) -> KeyPair:
    return generate_key_pair(kid)


def encryptor(kid: str = "test-1") -> Encryptor:
    return _encryptor(kid)


@functools.cache
def _encryptor(kid: str) -> Encryptor:
    return Encryptor(key_pair(kid).public_jwks, kid)


def snapshot(cluster_uuid: str = "c-1", **extra: Any) -> dict[str, Any]:
    """A Kibana-shaped snapshot payload (spec 6.5)."""
    payload: dict[str, Any] = {
        "collectionSource": "local",
        "cacheDetails": {
            "updatedAt": "2026-03-15T11:00:00.000Z",
            "fetchedAt": "2026-03-15T11:00:00.000Z",
        },
        "timestamp": "2026-03-15T11:00:00.000Z",
        "cluster_uuid": cluster_uuid,
        "cluster_name": f"name of {cluster_uuid}",
        "version": "8.1.0",
        "collection": "local",
        "stack_stats": {"kibana": {"plugins": {"telemetry": {"opt_in_status": True}}}},
    }
    payload.update(extra)
    return payload


def opt_in(cluster_uuid: str = "c-1", status: bool = True) -> dict[str, Any]:
    return {"cluster_uuid": cluster_uuid, "opt_in_status": status}


def headers(cluster_uuid: str = "c-1", **extra: str) -> dict[str, str]:
    """Kibana's headers (spec 3.4)."""
    return {
        "Content-Type": "application/json",
        "X-Elastic-Stack-Version": "8.1.0",
        "X-Elastic-Cluster-ID": cluster_uuid,
        "X-Elastic-Content-Encoding": "aes256gcm",
        **extra,
    }


def encrypt(payload: Any, kid: str = "test-1") -> str:
    return encryptor(kid).encrypt(payload)


def write_private_keys(path: Path, *kids: str, mode: int = 0o600) -> Path:
    """Write the private key set of `kids` (default: test-1) with `mode`."""
    keys = [k for kid in (kids or ("test-1",)) for k in key_pair(kid).private_jwks["keys"]]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    os.fchmod(fd, mode)
    with os.fdopen(fd, "w") as handle:
        json.dump({"keys": keys}, handle)
    return path


async def send(
    client: httpx.AsyncClient, payload: dict[str, Any], *, channel: str = SNAPSHOT
) -> None:
    """POST ``payload`` encrypted to ``channel`` of an in-process receiver; expect 200."""
    response = await client.post(
        f"/v3/send/{channel}", content=encrypt(payload), headers=headers(payload["cluster_uuid"])
    )
    assert response.status_code == 200, response.text


def at(day: int, hour: int = 10) -> str:
    """An ISO timestamp on ``day`` of March 2026 (the receiver tests' fake month)."""
    return f"2026-03-{day:02d}T{hour:02d}:00:00.000Z"
