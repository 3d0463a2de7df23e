"""A stored report's id and digest (receiver/ingest.py): made without letting go of the GIL,
and the same as the plain ``uuid.uuid4().hex`` and one-update SHA-256 they replace."""

from __future__ import annotations

import hashlib
import os
import threading
import uuid

import pytest

from telemetry_service.receiver import ingest


def _plain_digest(*parts: bytes) -> str:
    hasher = hashlib.sha256()
    for part in parts:
        hasher.update(len(part).to_bytes(8, "big") + part)
    return hasher.hexdigest()


@pytest.mark.parametrize("size", [0, 1, 2046, 2047, 2048, 4094, 4095, 23_107])
def test_the_digest_hashed_in_pieces_is_the_whole_parts_digest(size: int) -> None:
    payload = os.urandom(size)
    parts = (b"payload", b"kibana-snapshot", payload)
    assert ingest._digest(*parts) == _plain_digest(*parts)
    assert ingest._digest(b"payload", b"kibana-snapshot", payload + b"x") != _plain_digest(*parts)


def test_ids_are_version_4_uuids_in_hex_and_distinct() -> None:
    ids = [ingest._new_id() for _ in range(3000)]  # more than one pool of 256
    assert len(set(ids)) == len(ids)
    for text in ids[:600]:
        parsed = uuid.UUID(hex=text)
        assert parsed.hex == text
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122


def test_threads_draw_distinct_ids() -> None:
    drawn: list[list[str]] = [[] for _ in range(4)]

    def draw(into: list[str]) -> None:
        into.extend(ingest._new_id() for _ in range(500))

    threads = [threading.Thread(target=draw, args=(into,)) for into in drawn]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [text for into in drawn for text in into]
    assert len(set(every)) == len(every) == 2000


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    ingest._new_id()  # the parent's pool holds 255 more
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, then out without pytest's teardown
        try:
            os.write(write, "".join(ingest._new_id() for _ in range(10)).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        child = pipe.read().decode()
    os.waitpid(pid, 0)
    parent = "".join(ingest._new_id() for _ in range(10))
    assert len(child) == len(parent) == 320
    assert {child[i : i + 32] for i in range(0, 320, 32)}.isdisjoint(
        parent[i : i + 32] for i in range(0, 320, 32)
    )
