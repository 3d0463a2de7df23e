"""Real ``telemetry-service receiver`` processes for the integration tests."""

from __future__ import annotations

import base64
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from telemetry_service.wire import aes, compact_json, jwe
from telemetry_service.wire.envelope import pack_body
from telemetry_service.wire.keys import load_keys
from tests.support.processes import ServerProcess, run_cli

from .support import key_pair


def receiver_command(*args: str) -> list[str]:
    """The argv of ``telemetry-service receiver ARGS``."""
    return [sys.executable, "-m", "telemetry_service.cli.main", "receiver", *args]


@contextmanager
def serve_receiver(
    args: Sequence[str], *, env: dict[str, str] | None = None, cwd: Path | None = None
) -> Iterator[ServerProcess]:
    """Start ``receiver serve ARGS`` and wait for its "listening on URL" line."""
    with run_cli(["receiver", "serve", *args], env=env, cwd=cwd) as server:
        yield server


def fast_bodies(payloads: Sequence[Any], kid: str = "test-1") -> list[str]:
    """Valid request-crypto bodies for many payloads, made fast for load tests.

    One wrapped passphrase and one salt serve every body (each gets a fresh IV), so only the
    receiver pays the full PBKDF2 and RSA cost per body.
    """
    passphrase = os.urandom(aes.PASSPHRASE_BYTES)
    salt = os.urandom(aes.SALT_BYTES)
    (loaded,) = [v for k, v in load_keys(key_pair(kid).public_jwks, private=False).items()]
    registry = jwe.KeyWrapRegistry(max_inflated_bytes=4096, max_ciphertext_bytes=4096)
    wrapped = jwe.wrap(passphrase, loaded.key, kid=kid, alg="RSA-OAEP", registry=registry)
    cipher = AESGCM(aes.derive_key(passphrase, salt))
    bodies = []
    for payload in payloads:
        iv = os.urandom(aes.IV_BYTES)
        sealed = cipher.encrypt(iv, compact_json(payload), None)
        raw = salt + iv + sealed[-aes.TAG_BYTES :] + sealed[: -aes.TAG_BYTES]
        bodies.append(pack_body(wrapped, base64.b64encode(raw).decode()))
    return bodies


def rss_peak_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process, in KiB."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])
