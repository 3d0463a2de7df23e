"""``receiver.signin`` on both backends: a link is spent once, concurrently too, and its
table keeps only the token's hash."""

from __future__ import annotations

import asyncio

import pytest

from telemetry_service.receiver.signin import SignIn
from telemetry_service.testing import FakeClock

pytestmark = pytest.mark.anyio


async def test_a_link_is_spent_once_and_only_its_hash_is_kept(
    backend_url: str, clock: FakeClock
) -> None:
    one, two = SignIn(backend_url, clock=clock), SignIn(backend_url, clock=clock)
    await one.open()
    await two.open()  # the second migrates nothing and reads the same secret
    try:
        link = await one.create_link(name="ops", role="viewer", next_path="/app/events")
        spent = await asyncio.gather(*(s.redeem(link.token) for s in (one, two, one, two)))
        won = [s for s in spent if s is not None]
        assert len(won) == 1
        assert won[0].next_path == "/app/events"
        assert two.verify(won[0].credential) == one.verify(won[0].credential) == won[0].principal

        stored = await one._db.run(
            False, lambda cur: cur.execute("SELECT token_hash FROM signin_links").fetchall()
        )
        assert link.token not in repr(stored)
        assert len(stored[0][0]) == 64
    finally:
        await one.close()
        await two.close()
    assert one.verify(won[0].credential) is None  # closed: nothing verifies
