"""`Encryptor.encrypt`: objects are sent as their compact JSON, bytes as they are."""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any

import pytest

from telemetry_service.wire import Decryptor, Encryptor, compact_json
from telemetry_service.wire import encryptor as encryptor_module
from telemetry_service.wire import helpers as helpers_module
from telemetry_service.wire.helpers import HelperThreads


@pytest.mark.parametrize("payload", [{"a": [1, 2.5, "x"]}, b'{"a":1}', "text", None])
def test_objects_and_bytes_round_trip(
    public_jwks: dict[str, Any], private_jwks: dict[str, Any], payload: object
) -> None:
    body = Encryptor(public_jwks, "kid-oaep").encrypt(payload)
    expected = {"a": 1} if isinstance(payload, bytes) else payload
    assert Decryptor(private_jwks).decrypt_json(body) == expected


def test_a_large_payload_object_and_its_json_bytes_encrypt_alike(
    public_jwks: dict[str, Any], private_jwks: dict[str, Any]
) -> None:
    """Above about 1 MB the JSON is written in pieces (in a worker thread while the key is
    derived) and sealed piece by piece; bytes are sealed as they are."""
    rows = [{"id": i, "ratio": i / 3, "whole": float(i), "name": f"r{i}"} for i in range(40_000)]
    payload = {"stack_stats": {"rows": rows}}
    encryptor = Encryptor(public_jwks, "kid-oaep")
    decryptor = Decryptor(private_jwks)
    expected = compact_json(payload)
    assert len(expected) > 1_000_000
    assert decryptor.decrypt(encryptor.encrypt(payload)) == expected
    assert decryptor.decrypt(encryptor.encrypt(expected)) == expected


def test_a_payload_that_is_not_json_raises_the_serializer_error(
    public_jwks: dict[str, Any],
) -> None:
    """The JSON is written in a worker thread; its error reaches the caller as it is."""
    with pytest.raises(TypeError, match="not JSON-compatible"):
        Encryptor(public_jwks, "kid-oaep").encrypt({"rows": [1, 2], "bad": object()})


def test_encrypt_works_inline_when_no_helper_thread_can_start(
    public_jwks: dict[str, Any], private_jwks: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Out of threads (or at interpreter exit on Python 3.12+) no helper starts: the encryptor
    writes the JSON and wraps the key in the caller's thread, and nothing runs it again later
    (the JSON writer may run user code: a dict subclass's ``items``)."""
    writes: list[int] = []

    class Counted(dict[str, Any]):
        def items(self) -> Any:
            writes.append(1)
            return super().items()

    class NoThread(threading.Thread):
        def start(self) -> None:
            raise RuntimeError("can't start new thread")

    monkeypatch.setattr(encryptor_module, "_WORKERS", HelperThreads(2, "wire-encrypt-test"))
    monkeypatch.setattr(helpers_module.threading, "Thread", NoThread)
    payload = Counted(rows=[{"id": i, "x": i / 7} for i in range(100)], big=2**70)
    expected = compact_json(payload)
    one_write = len(writes)
    body = Encryptor(public_jwks, "kid-oaep").encrypt(payload)
    assert Decryptor(private_jwks).decrypt(body) == expected
    time.sleep(0.05)  # a queued job would have run by now
    assert len(writes) == 2 * one_write  # compact_json's above, then this encrypt's
    assert encryptor_module._WORKERS.threads == 0


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_encrypts_with_a_pool_of_its_own(
    public_jwks: dict[str, Any], private_jwks: dict[str, Any]
) -> None:
    """The parent's pool has started its thread; the child has no such thread (without a
    pool of its own its encrypt would wait forever: the parent kills it after 20 s)."""
    encryptor = Encryptor(public_jwks, "kid-oaep")
    encryptor.encrypt({"in": "parent"})
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            os.close(read_end)
            body = encryptor.encrypt({"in": "child"}).encode()  # about 1 KB: the pipe holds it
            os.write(write_end, body)
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    deadline = time.monotonic() + 20
    while (done := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    if done[0] == 0:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(read_end)
        pytest.fail("the forked child's encrypt did not finish in 20 s")
    with os.fdopen(read_end) as got:
        body = got.read()
    assert os.waitstatus_to_exitcode(done[1]) == 0
    assert Decryptor(private_jwks).decrypt_json(body) == {"in": "child"}


def test_an_encrypt_from_inside_the_json_writer_runs_inline(
    public_jwks: dict[str, Any], private_jwks: dict[str, Any]
) -> None:
    """User code that the JSON writer runs (a dict subclass's ``items``, called by the writer's
    path for integers beyond 64 bits) may encrypt too. Three levels of that would wait for
    each other on a pool of two workers; nested calls prepare inline instead."""
    encryptor = Encryptor(public_jwks, "kid-oaep")
    bodies: dict[int, str] = {}

    class Nesting(dict[str, Any]):
        def items(self) -> Any:
            depth = self["depth"]
            if depth > 0 and depth not in bodies:
                bodies[depth] = encryptor.encrypt(Nesting(depth=depth - 1, big=2**70))
            return super().items()

    payload = Nesting(depth=3, big=2**70)
    outer: list[str] = []
    worker = threading.Thread(target=lambda: outer.append(encryptor.encrypt(payload)), daemon=True)
    worker.start()
    worker.join(20)
    assert not worker.is_alive(), "the nested encrypts waited for each other"
    decryptor = Decryptor(private_jwks)
    assert sorted(bodies) == [1, 2, 3]
    for depth, body in bodies.items():
        assert decryptor.decrypt(body) == compact_json({"depth": depth - 1, "big": 2**70})
    assert decryptor.decrypt(outer[0]) == compact_json({"depth": 3, "big": 2**70})
