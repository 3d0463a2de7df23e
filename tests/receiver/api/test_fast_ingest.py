"""The fast path of POST /v3/send/{channel} answers exactly as the documented FastAPI route."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from telemetry_service.receiver import Receiver, load_config
from telemetry_service.receiver.api import ingest as ingest_api
from telemetry_service.receiver.api.fast_ingest import FastIngest, FastIngestApp
from telemetry_service.testing import FakeClock

from ..support import OPT_IN, SNAPSHOT, encrypt, headers, opt_in, snapshot

pytestmark = pytest.mark.anyio

Request = tuple[str, str, list[tuple[str, str]], bytes]


def _post(body: str | bytes, channel: str = SNAPSHOT, **changes: str | None) -> Request:
    sent: dict[str, str | None] = {**headers(), **changes}
    raw = body.encode() if isinstance(body, str) else body
    pairs = [(k, v) for k, v in sent.items() if v is not None]
    return ("POST", f"/v3/send/{channel}", pairs, raw)


def _requests(max_body: int) -> list[Request]:
    body = encrypt(snapshot())
    return [
        _post(body),
        _post(body),  # a duplicate
        _post(encrypt(opt_in()), channel=OPT_IN),
        _post(f'"{encrypt(snapshot("c-3"))}"', **{"X-Elastic-Cluster-ID": "c-3"}),
        _post(body, **{"Content-Encoding": "gzip"}),
        _post(body, **{"X-Elastic-Content-Encoding": None}),
        _post(body, **{"Content-Type": "text/html"}),
        _post(body, **{"X-Elastic-Cluster-ID": None}),
        _post(body, **{"X-Elastic-Cluster-ID": "c-2"}),
        _post(b"garbage!"),
        _post(b""),
        _post(b"x" * (max_body + 1)),
        _post(body, channel="nope-snapshot"),
        _post(body, channel="kibana-server"),
        _post(body, channel="k" * 201 + "-snapshot"),
        ("GET", f"/v3/send/{SNAPSHOT}", [], b""),
        ("OPTIONS", f"/v3/send/{SNAPSHOT}", [("Origin", "http://x")], b""),
        _post(body, **{"X-Elastic-Cluster-ID": "c-1, c-9"}),
    ]


@pytest.fixture
async def pair(
    receiver_settings: dict[str, Any], clock: FakeClock, tmp_path: Path
) -> AsyncIterator[tuple[Receiver, Receiver]]:
    """Two receivers on their own stores: one as served, one without the fast path."""
    plain_settings = {**receiver_settings, "path": {"data": str(tmp_path / "plain")}}
    async with (
        Receiver(load_config(receiver_settings, env={}), clock=clock) as fast,
        Receiver(load_config(plain_settings, env={}), clock=clock) as plain,
    ):
        assert isinstance(plain.app, FastIngestApp)
        plain.app.fast_ingest = None
        yield fast, plain


async def _call(receiver: Receiver, request: Request) -> tuple[httpx.Response, Scope]:
    """The answer of `receiver` to `request`, and the ASGI scope after it ran."""
    scopes: list[Scope] = []

    async def spy(scope: Scope, receive: Receive, send: Send) -> None:
        scopes.append(scope)
        await receiver.app(scope, receive, send)

    method, path, sent, body = request
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=spy), base_url="http://r") as c:
        return await c.request(method, path, headers=sent, content=body), scopes[0]


async def _answer(receiver: Receiver, request: Request) -> tuple[Any, ...]:
    """The answer to `request`, its id blanked, and whether FastAPI's router chose a route."""
    response, scope = await _call(receiver, request)
    answer = response.json() if response.content else None
    if isinstance(answer, dict) and "id" in answer:
        answer["id"] = len(answer["id"])
    return response.status_code, response.headers.multi_items(), answer, "endpoint" in scope


async def test_the_fast_path_answers_as_the_fastapi_route(
    pair: tuple[Receiver, Receiver],
) -> None:
    fast, plain = pair
    documented = fast.app.openapi()["paths"]["/v3/send/{channel}"]["post"]["responses"]
    answered_fast = 0
    for request in _requests(fast.config.server.max_body_bytes):
        got, expected = await _answer(fast, request), await _answer(plain, request)
        assert got[:3] == expected[:3], request[:3]
        assert expected[3] or request[0] == "OPTIONS"  # the plain app routes every request
        if not got[3] and request[0] == "POST":
            answered_fast += 1
            assert str(got[0]) in documented, got
    assert answered_fast == 13  # all but the unserved, event and over-long channels
    for receiver in pair:  # the byte budget (429), the in-flight slots (429), the store (503)
        receiver.ingest.budget.limit = 10
    request = _post(encrypt(snapshot()))
    assert (await _answer(fast, request))[:3] == (await _answer(plain, request))[:3]
    for receiver in pair:
        receiver.ingest.budget.limit = 1 << 24
        receiver.ingest.in_flight = receiver.config.limits.max_in_flight
    assert (await _answer(fast, request))[:3] == (await _answer(plain, request))[:3]
    for receiver in pair:
        receiver.ingest.in_flight = 0
        await receiver.store.close()
    got, expected = await _answer(fast, request), await _answer(plain, request)
    assert (got[0], got[1:3]) == (503, expected[1:3])
    assert not got[3]


async def test_an_unexpected_error_answers_as_the_fastapi_route(
    pair: tuple[Receiver, Receiver], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug in the pipeline: the plain 500 of FastAPI's server-error middleware (no CORS
    header: that middleware is outside the CORS one), and the error goes on to the server,
    which logs it."""

    async def broken(*args: object) -> None:
        raise RuntimeError("a bug")

    fast, plain = pair
    for receiver in pair:
        monkeypatch.setattr(receiver.ingest, "handle", broken)
    request = _post(encrypt(snapshot()))
    answers = []
    for receiver in (fast, plain):
        transport = httpx.ASGITransport(app=receiver.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://r") as client:
            method, path, sent, body = request
            response = await client.request(method, path, headers=sent, content=body)
        answers.append((response.status_code, response.headers.multi_items(), response.text))
    assert answers[0] == answers[1]
    assert (answers[0][0], answers[0][2]) == (500, "Internal Server Error")
    with pytest.raises(RuntimeError, match="a bug"):
        await _call(fast, request)


async def test_the_fast_path_takes_only_what_the_openapi_route_documents(
    pair: tuple[Receiver, Receiver],
) -> None:
    """Every path it answers is one FastAPI's router gives the documented route, within the
    documented channel parameter."""
    fast, plain = pair
    operation = fast.app.openapi()["paths"]["/v3/send/{channel}"]["post"]
    channel = next(p for p in operation["parameters"] if p["name"] == "channel")
    paths = FastIngest(fast.app, service=fast.ingest, retry_after=5).paths
    assert len(paths) == 2 * len(fast.config.products)
    for path in paths:
        name = path.removeprefix("/v3/send/")
        assert "/" not in name
        assert len(name) <= channel["schema"]["maxLength"]
        assert await _endpoint(plain, path) is ingest_api.send
        assert await _endpoint(fast, path) is None


async def _endpoint(receiver: Receiver, path: str) -> Any:
    """The endpoint FastAPI's router chose for a POST to `path` (None: it chose none)."""
    return (await _call(receiver, _post(b"x", path.removeprefix("/v3/send/"))))[1].get("endpoint")
