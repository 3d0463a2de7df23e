"""Encrypt/decrypt time of telemetry_service.wire next to the real @elastic/request-crypto.

Usage: ``.venv/bin/python benchmarks/wire.py [--reps-small 15] [--reps-large 5]``

Prints JSON: for a ~100 KB and a ~5 MB snapshot-like payload, the median milliseconds of our
``Encryptor.encrypt`` (object in, includes compact JSON) and ``Decryptor.decrypt`` /
``decrypt_json`` next to the npm package's ``encrypt`` (object in, includes JSON.stringify) and
``decrypt`` (includes JSON.parse), measured in the same run, with the ratios ours / npm.
Both sides decrypt the same body. The npm packages are installed into ``.cache/interop-npm``
(git-ignored) if missing, by the interop test harness.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO_ROOT / "src"), str(REPO_ROOT)]

from tests.integration.interop import harness  # noqa: E402

from telemetry_service.wire import (  # noqa: E402
    Decryptor,
    Encryptor,
    compact_json,
    generate_key_pair,
)

PACKAGE = "rc-2.0.3"
SIZES = {"100kB": 100_000, "5MB": 5_000_000}


def snapshot_like(target_bytes: int, seed: int) -> dict[str, Any]:
    """A deterministic payload shaped like a usage snapshot (mostly ints, strings, booleans)."""
    rng = random.Random(seed)

    def collector(index: int) -> dict[str, Any]:
        return {
            "type": f"plugin_{index % 97}",
            "enabled": rng.random() < 0.8,
            "count": rng.randint(0, 10**6),
            "avg_duration_ms": round(rng.uniform(0, 500), 3),
            "saved_objects": {name: rng.randint(0, 5000) for name in ("dashboard", "lens", "map")},
            "labels": [rng.choice(["alpha", "beta", "ga", "naïve ☃"]) for _ in range(3)],
        }

    size = len(compact_json(collector(0)))
    collectors = [collector(i) for i in range(max(1, target_bytes // size))]
    return {
        "cluster_uuid": f"bench-{seed}",
        "timestamp": "2024-05-01T12:00:00.000Z",
        "version": "8.1.0",
        "stack_stats": {"kibana": {"plugins": collectors}},
    }


def median_ms(action: Callable[[], object], reps: int) -> float:
    """Median wall time of `action` in milliseconds, after one warm-up run."""
    action()
    times = []
    for _ in range(reps):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 2)


def node_version() -> str:
    done = subprocess.run(["node", "--version"], capture_output=True, text=True, check=False)
    return done.stdout.strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps-small", type=int, default=15, help="repetitions for 100 KB")
    parser.add_argument("--reps-large", type=int, default=5, help="repetitions for 5 MB")
    args = parser.parse_args()
    try:
        install_dir = harness.ensure_installed()
    except harness.NpmUnavailable as exc:
        print(json.dumps({"error": str(exc)}))
        return 1

    report: dict[str, Any] = {
        "benchmark": "wire encrypt/decrypt vs @elastic/request-crypto",
        "npm_package": "@elastic/request-crypto@2.0.3",
        "python": platform.python_version(),
        "node": node_version(),
        "cpus": os.cpu_count(),
        "key": "RSA-2048, RSA-OAEP",
        "results": {},
    }
    with tempfile.TemporaryDirectory(prefix="wire-bench-") as tmp:
        workdir = Path(tmp)
        pair = generate_key_pair("bench", alg="RSA-OAEP")
        (workdir / "public.json").write_text(json.dumps(pair.public_jwks))
        (workdir / "private.json").write_text(json.dumps(pair.private_jwks))
        encryptor, decryptor = Encryptor(pair.public_jwks, "bench"), Decryptor(pair.private_jwks)
        cases: list[dict[str, Any]] = []
        ours: dict[str, dict[str, Any]] = {}
        for seed, (label, size) in enumerate(SIZES.items()):
            reps = args.reps_small if size < 1_000_000 else args.reps_large
            payload = snapshot_like(size, seed)
            payload_file = workdir / f"payload-{label}.json"
            payload_file.write_bytes(compact_json(payload))
            body = encryptor.encrypt(payload)
            assert decryptor.decrypt_json(body) == payload
            (workdir / f"body-{label}").write_text(body)
            ours[label] = {
                "payload_bytes": payload_file.stat().st_size,
                "body_bytes": len(body),
                "reps": reps,
                "encrypt": median_ms(partial(encryptor.encrypt, payload), reps),
                "decrypt": median_ms(partial(decryptor.decrypt, body), reps),
                "decrypt_json": median_ms(partial(decryptor.decrypt_json, body), reps),
                "compact_json": median_ms(partial(compact_json, payload), reps),
            }
            common = {"package": PACKAGE, "reps": reps}
            cases.append(
                {
                    "id": f"encrypt-{label}",
                    "op": "bench-encrypt",
                    "publicJwks": str(workdir / "public.json"),
                    "kid": "bench",
                    "payloadFile": str(payload_file),
                    **common,
                }
            )
            cases.append(
                {
                    "id": f"decrypt-{label}",
                    "op": "bench-decrypt",
                    "privateJwks": str(workdir / "private.json"),
                    "bodyFile": str(workdir / f"body-{label}"),
                    **common,
                }
            )
        peer = harness.run_batch(install_dir, cases, workdir)

    for label, mine in ours.items():
        failed = [r for r in (peer[f"encrypt-{label}"], peer[f"decrypt-{label}"]) if not r["ok"]]
        if failed:
            print(json.dumps({"error": failed}))
            return 1
        npm_encrypt = round(peer[f"encrypt-{label}"]["medianMs"], 2)
        npm_decrypt = round(peer[f"decrypt-{label}"]["medianMs"], 2)
        report["results"][label] = {
            "payload_bytes": mine["payload_bytes"],
            "body_bytes": mine["body_bytes"],
            "reps": mine["reps"],
            "encrypt_ms": {
                "ours": mine["encrypt"],
                "npm": npm_encrypt,
                "ratio": round(mine["encrypt"] / npm_encrypt, 2),
            },
            "decrypt_json_ms": {
                "ours": mine["decrypt_json"],
                "npm": npm_decrypt,
                "ratio": round(mine["decrypt_json"] / npm_decrypt, 2),
            },
            "ours_decrypt_bytes_ms": mine["decrypt"],
            "ours_compact_json_ms": mine["compact_json"],
        }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
