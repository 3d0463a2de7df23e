"""Encrypt/decrypt time of telemetry_service.wire next to the real @elastic/request-crypto.

Usage: ``.venv/bin/python benchmarks/wire.py [--rounds 3] [--reps-small 15] [--reps-large 7]``

Prints JSON: for a ~100 KB and a ~5 MB snapshot-like payload, the median milliseconds of our
``Encryptor.encrypt`` (object in, includes compact JSON) and ``Decryptor.decrypt`` /
``decrypt_json`` next to the npm package's ``encrypt`` (object in, includes JSON.stringify) and
``decrypt`` (includes JSON.parse), with the ratios ours / npm. Both sides decrypt the same body.
The machine is shared, so the two sides are measured in alternation: each round times ours,
then node's (one node process per round), and takes the ratios of that round; the figures shown
are the medians over the rounds (the rounds are listed too).

Also shown: our decrypt followed by the receiver's own parse (``receiver.validate.
parse_payload``: the stdlib parser refusing repeated keys) next to node's decrypt, and the
PBKDF2 alone (10,000 rounds of SHA-512, which both sides must pay per message): at 100 KB it is
most of the time, so ``pbkdf2_over_npm_encrypt`` is the lowest encrypt ratio reachable there.
The npm packages are installed into ``.cache/interop-npm`` (git-ignored) if missing, by the
interop test harness.
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

from telemetry_service.receiver.validate import parse_payload  # noqa: E402
from telemetry_service.wire import (  # noqa: E402
    Decryptor,
    Encryptor,
    compact_json,
    generate_key_pair,
)
from telemetry_service.wire.aes import derive_key  # noqa: E402

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


def times_ms(action: Callable[[], object], reps: int) -> list[float]:
    """Wall times of `action` in milliseconds, after one warm-up run."""
    action()
    times = []
    for _ in range(reps):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return times


def node_version() -> str:
    done = subprocess.run(["node", "--version"], capture_output=True, text=True, check=False)
    return done.stdout.strip()


def receiver_parse(decryptor: Decryptor, body: str) -> object:
    """What the receiver does after decrypting: its own parse (repeated keys refused)."""
    return parse_payload(decryptor.decrypt(body), max_depth=100)[0]


def ratio(ours: float, npm: float) -> float:
    return round(ours / npm, 2)


def our_round(
    encryptor: Encryptor, decryptor: Decryptor, inputs: dict[str, tuple[Any, str, int]]
) -> dict[str, dict[str, list[float]]]:
    """Our times (ms) for every payload size."""
    salt, passphrase = os.urandom(64), os.urandom(32)
    times: dict[str, dict[str, list[float]]] = {}
    for label, (payload, body, reps) in inputs.items():
        times[label] = {
            "encrypt": times_ms(partial(encryptor.encrypt, payload), reps),
            "decrypt": times_ms(partial(decryptor.decrypt, body), reps),
            "decrypt_json": times_ms(partial(decryptor.decrypt_json, body), reps),
            "decrypt_receiver_parse": times_ms(partial(receiver_parse, decryptor, body), reps),
            "compact_json": times_ms(partial(compact_json, payload), reps),
            "pbkdf2": times_ms(partial(derive_key, passphrase, salt), reps),
        }
    return times


def summary(rounds: list[dict[str, dict[str, list[float]]]], label: str) -> dict[str, Any]:
    """Medians over the rounds of one payload size, with every round's ratio.

    ``ratio`` is the median over the rounds of (our median / node's median) in that round;
    ``ratio_best`` compares the fastest repetition of each side over all rounds (the one the
    other work on the machine disturbed least).
    """

    def med(key: str) -> float:
        return round(statistics.median(statistics.median(r[label][key]) for r in rounds), 2)

    def best(key: str) -> float:
        return round(min(min(r[label][key]) for r in rounds), 2)

    def round_ratio(r: dict[str, dict[str, list[float]]], ours: str, npm: str) -> float:
        return ratio(statistics.median(r[label][ours]), statistics.median(r[label][npm]))

    def pair(ours_key: str, npm_key: str) -> dict[str, Any]:
        ratios = [round_ratio(r, ours_key, npm_key) for r in rounds]
        return {
            "ours": med(ours_key),
            "npm": med(npm_key),
            "ratio": round(statistics.median(ratios), 2),
            "ratio_rounds": ratios,
            "ours_best": best(ours_key),
            "npm_best": best(npm_key),
            "ratio_best": ratio(best(ours_key), best(npm_key)),
        }

    return {
        "encrypt_ms": pair("encrypt", "npm_encrypt"),
        "decrypt_json_ms": pair("decrypt_json", "npm_decrypt"),
        "decrypt_receiver_parse_ms": pair("decrypt_receiver_parse", "npm_decrypt"),
        "ours_decrypt_bytes_ms": med("decrypt"),
        "ours_compact_json_ms": med("compact_json"),
        "ours_pbkdf2_ms": med("pbkdf2"),
        "pbkdf2_over_npm_encrypt": round(
            statistics.median(round_ratio(r, "pbkdf2", "npm_encrypt") for r in rounds), 2
        ),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="alternations of ours and node's")
    parser.add_argument("--reps-small", type=int, default=15, help="repetitions for 100 KB")
    parser.add_argument("--reps-large", type=int, default=7, help="repetitions for 5 MB")
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
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "key": "RSA-2048, RSA-OAEP",
        "rounds": args.rounds,
        "results": {},
    }
    rounds: list[dict[str, dict[str, list[float]]]] = []
    with tempfile.TemporaryDirectory(prefix="wire-bench-") as tmp:
        workdir = Path(tmp)
        pair = generate_key_pair("bench", alg="RSA-OAEP")
        (workdir / "public.json").write_text(json.dumps(pair.public_jwks))
        (workdir / "private.json").write_text(json.dumps(pair.private_jwks))
        encryptor, decryptor = Encryptor(pair.public_jwks, "bench"), Decryptor(pair.private_jwks)
        cases: list[dict[str, Any]] = []
        inputs: dict[str, tuple[Any, str, int]] = {}
        sizes: dict[str, dict[str, int]] = {}
        for seed, (label, size) in enumerate(SIZES.items()):
            reps = args.reps_small if size < 1_000_000 else args.reps_large
            payload = snapshot_like(size, seed)
            payload_file = workdir / f"payload-{label}.json"
            payload_file.write_bytes(compact_json(payload))
            body = encryptor.encrypt(payload)
            assert decryptor.decrypt_json(body) == payload
            assert receiver_parse(decryptor, body) == payload
            (workdir / f"body-{label}").write_text(body)
            inputs[label] = (payload, body, reps)
            sizes[label] = {
                "payload_bytes": payload_file.stat().st_size,
                "body_bytes": len(body),
                "reps": reps,
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
        for _ in range(args.rounds):
            ours = our_round(encryptor, decryptor, inputs)
            peer = harness.run_batch(install_dir, cases, workdir)
            failed = [r for r in peer.values() if not r["ok"]]
            if failed:
                print(json.dumps({"error": failed}))
                return 1
            for label in inputs:
                ours[label]["npm_encrypt"] = peer[f"encrypt-{label}"]["timesMs"]
                ours[label]["npm_decrypt"] = peer[f"decrypt-{label}"]["timesMs"]
            rounds.append(ours)

    for label, size_info in sizes.items():
        report["results"][label] = {**size_info, **summary(rounds, label)}
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
