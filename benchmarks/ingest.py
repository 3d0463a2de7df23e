"""End-to-end ingest throughput of the receiver next to the crypto-only limit.

Usage: ``.venv/bin/python benchmarks/ingest.py [--reports 1500] [--concurrency 32]
[--payload-kb 20] [--no-postgres]``

Prints JSON. For SQLite and PostgreSQL (a private cluster started with
``tests/support/postgres.py``) a real ``receiver serve`` process receives ``--reports``
distinct snapshot reports over HTTP from an async client (``--concurrency`` requests in
flight): HTTP, decryption, validation and a durable store commit each. In the same run, the
crypto-only limit decrypts the same bodies in a loop (no HTTP, no JSON parsing, no storage):
in one thread, and in as many threads as the receiver's decrypt pool (the CPU count); the
limit is the better of the two. ``ratio_to_crypto_limit`` = end-to-end reports/s / limit.

The client runs on the same machine and takes part of the CPU; on small machines the ratio is
therefore a lower bound.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO_ROOT / "src"), str(REPO_ROOT)]

import httpx  # noqa: E402
from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: E402

from telemetry_service.receiver.keyfile import write_key_files  # noqa: E402
from telemetry_service.wire import Decryptor, aes, compact_json, jwe  # noqa: E402
from telemetry_service.wire.envelope import pack_body  # noqa: E402
from telemetry_service.wire.keys import load_keys  # noqa: E402

CHANNEL = "telemetry-service-snapshot"
WARM_UP = 50


def snapshot(cluster: str, payload_bytes: int) -> dict[str, Any]:
    """A Kibana-shaped snapshot of about `payload_bytes`."""
    plugins = {
        f"plugin_{i}": {"count": i, "enabled": i % 2 == 0, "mode": f"m{i % 5}", "ratio": i / 7}
        for i in range(max(1, payload_bytes // 70))
    }
    return {
        "collectionSource": "local",
        "cacheDetails": {"updatedAt": "2026-03-15T11:00:00.000Z"},
        "timestamp": "2026-03-15T11:00:00.000Z",
        "cluster_uuid": cluster,
        "cluster_name": f"bench {cluster}",
        "version": "8.1.0",
        "collection": "local",
        "stack_stats": {"kibana": {"plugins": plugins}},
    }


def make_bodies(public_jwks: dict[str, Any], kid: str, payloads: list[Any]) -> list[str]:
    """Valid request-crypto bodies, made fast: one wrapped passphrase and salt, fresh IVs.

    The receiver still unwraps the key (RSA) and derives the AES key (PBKDF2) for every body.
    """
    passphrase = os.urandom(aes.PASSPHRASE_BYTES)
    salt = os.urandom(aes.SALT_BYTES)
    loaded = load_keys(public_jwks, private=False)[kid]
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


def crypto_limit(private: Path, bodies: list[str], threads: int) -> float:
    """Decryptions per second of `bodies` with `threads` threads (no HTTP, no storage)."""
    decryptor = Decryptor(private)
    started = time.perf_counter()
    if threads == 1:
        for body in bodies:
            decryptor.decrypt(body)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(decryptor.decrypt, bodies))
    return len(bodies) / (time.perf_counter() - started)


@contextmanager
def receiver(private: Path, store: str, port_dir: Path) -> Iterator[str]:
    """A `receiver serve` process; yields its URL."""
    command = [
        sys.executable,
        "-m",
        "telemetry_service.cli.main",
        "receiver",
        "serve",
        "--keys",
        str(private),
        "--store",
        store,
        "--port",
        "0",
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "src")}
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=port_dir
    )
    assert proc.stdout is not None
    url = None
    for _ in range(100):
        line = proc.stdout.readline()
        if not line:
            break
        match = re.search(r"listening on (http://\S+)", line)
        if match:
            url = match.group(1)
            break
    if url is None:
        proc.kill()
        raise RuntimeError("the receiver did not start")
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


async def post_all(url: str, bodies: list[tuple[str, str]], concurrency: int) -> tuple[int, float]:
    """Post every body; return (answered 200, seconds)."""
    queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    for item in bodies:
        queue.put_nowait(item)
    ok = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:

        async def worker() -> None:
            nonlocal ok
            while not queue.empty():
                cluster, body = queue.get_nowait()
                response = await client.post(
                    f"/v3/send/{CHANNEL}",
                    content=body,
                    headers={
                        "Content-Type": "application/json",
                        "X-Elastic-Stack-Version": "8.1.0",
                        "X-Elastic-Cluster-ID": cluster,
                        "X-Elastic-Content-Encoding": "aes256gcm",
                    },
                )
                ok += response.status_code == 200

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return ok, time.perf_counter() - started


def end_to_end(
    private: Path, store: str, bodies: list[tuple[str, str]], concurrency: int, workdir: Path
) -> dict[str, Any]:
    warm, measured = bodies[:WARM_UP], bodies[WARM_UP:]
    with receiver(private, store, workdir) as url:
        asyncio.run(post_all(url, warm, concurrency))
        ok, seconds = asyncio.run(post_all(url, measured, concurrency))
    if ok != len(measured):
        raise RuntimeError(f"only {ok} of {len(measured)} reports were accepted")
    return {"reports": ok, "seconds": round(seconds, 3), "reports_per_s": round(ok / seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reports", type=int, default=1500)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--payload-kb", type=int, default=20)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="ingest-bench-") as tmp:
        workdir = Path(tmp)
        files = write_key_files(workdir / "keys", "bench")
        public = json.loads(files.public.read_text())
        backends = ["sqlite"] + ([] if args.no_postgres else ["postgresql"])
        clusters = {
            backend: [f"{backend}-{i:06d}" for i in range(WARM_UP + args.reports)]
            for backend in backends
        }
        bodies = {
            backend: list(
                zip(
                    names,
                    make_bodies(
                        public, "bench", [snapshot(c, args.payload_kb * 1024) for c in names]
                    ),
                    strict=True,
                )
            )
            for backend, names in clusters.items()
        }
        sample = [body for _, body in bodies["sqlite"][WARM_UP:]]
        threads = os.cpu_count() or 2
        crypto_one = crypto_limit(files.private, sample, 1)
        crypto_parallel = crypto_limit(files.private, sample, threads)
        results: dict[str, Any] = {}
        results["sqlite"] = end_to_end(
            files.private,
            f"sqlite:///{workdir / 'receiver.db'}",
            bodies["sqlite"],
            args.concurrency,
            workdir,
        )
        if "postgresql" in backends:
            from tests.support.postgres import PostgresUnavailable, private_cluster

            try:
                with private_cluster() as base_url:
                    import psycopg

                    with psycopg.connect(f"{base_url}/postgres", autocommit=True) as conn:
                        conn.execute("CREATE DATABASE ingest_bench")
                    results["postgresql"] = end_to_end(
                        files.private,
                        f"{base_url}/ingest_bench",
                        bodies["postgresql"],
                        args.concurrency,
                        workdir,
                    )
            except PostgresUnavailable as exc:
                results["postgresql"] = {"skipped": str(exc)}
        limit = max(crypto_one, crypto_parallel)
        for result in results.values():
            if "reports_per_s" in result:
                result["ratio_to_crypto_limit"] = round(result["reports_per_s"] / limit, 3)
        print(
            json.dumps(
                {
                    "benchmark": "receiver ingest, end to end (HTTP, decrypt, validate, store)",
                    "machine": {"cpus": threads, "python": platform.python_version()},
                    "payload_bytes": len(compact_json(snapshot("x", args.payload_kb * 1024))),
                    "body_bytes": len(sample[0]),
                    "reports": args.reports,
                    "concurrency": args.concurrency,
                    "crypto_only_reports_per_s": {
                        "one_thread": round(crypto_one, 1),
                        f"{threads}_threads": round(crypto_parallel, 1),
                        "limit": round(limit, 1),
                    },
                    "end_to_end": results,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
