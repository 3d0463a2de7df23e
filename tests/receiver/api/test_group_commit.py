"""The ingest tells the store when other reports are still being decrypted, so that the
writer commits them together (group commit); a lone report is never held back."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from telemetry_service.receiver import Receiver
from telemetry_service.receiver.storage import AddResult, NewReport

from ..support import encrypt, snapshot
from .test_ingest import post

pytestmark = pytest.mark.anyio


def _record_flags(receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    flags: list[bool] = []
    add = receiver.store.add

    async def recording_add(report: NewReport, *, more_coming: bool = False) -> AddResult:
        flags.append(more_coming)
        return await add(report, more_coming=more_coming)

    monkeypatch.setattr(receiver.store, "add", recording_add)
    return flags


async def test_a_lone_report_does_not_announce_more(
    client: httpx.AsyncClient, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    flags = _record_flags(receiver, monkeypatch)
    for cluster in ("c-1", "c-2"):
        response = await post(client, encrypt(snapshot(cluster)), cluster=cluster)
        assert response.status_code == 200, response.text
    assert flags == [False, False]
    assert receiver.ingest.decrypting == 0


async def test_reports_decrypted_together_are_announced_and_the_last_is_not(
    client: httpx.AsyncClient, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    flags = _record_flags(receiver, monkeypatch)
    clusters = [f"c-{i}" for i in range(8)]
    bodies = [encrypt(snapshot(c)) for c in clusters]
    answers: list[Any] = await asyncio.gather(
        *(post(client, body, cluster=c) for body, c in zip(bodies, clusters, strict=True))
    )
    assert [a.status_code for a in answers] == [200] * 8
    assert len(flags) == 8
    assert flags[0] is True  # 7 others were still being decrypted
    assert flags[-1] is False  # nothing left to wait for
    assert receiver.ingest.decrypting == 0
    assert await receiver.store.count_reports() == 8
