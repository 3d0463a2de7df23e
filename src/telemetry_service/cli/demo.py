"""``telemetry-service demo``: the whole system on one machine, with data to look at.

Generates a receiver key set, starts a receiver and a host platform (the example plugin
included) on loopback, opts in, sends a snapshot now, seeds the receiver with a few weeks of
simulated installations (their snapshots through the store's write path, their events through
the receiver's own NDJSON ingest route in the shippers' format, a cluster's month in batches of up
to 1,000 events), and prints the two
addresses, one-time links that open the dashboard signed in, and the admin keys. The host's own
events (its shipper posts to the receiver's ``-server`` channel) arrive beside the simulated
ones. Ctrl-C stops both.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from telemetry_service.common.clock import Clock, utc_now
from telemetry_service.common.serving import bind, serving, stop_on_signals
from telemetry_service.core import Platform, generate_api_key, hash_api_key
from telemetry_service.plugins.telemetry import TelemetryPlugin
from telemetry_service.receiver import Receiver
from telemetry_service.receiver.config import load_config
from telemetry_service.receiver.keyfile import PRIVATE_FILE, PUBLIC_FILE, write_key_files
from telemetry_service.receiver.sample_events import (
    EventBatch,
    combine_batches,
    sample_event_batches,
)
from telemetry_service.receiver.samples import sample_reports, seed_store
from telemetry_service.receiver.signin import LINK_TTL_S
from telemetry_service.wire.protocol import (
    DEFAULT_PRODUCT,
    SEND_PATH,
    channel_name,
    event_headers,
    events_to_ndjson,
)

from .errors import CliFailure

__all__ = ["run_demo"]

KID = "demo-1"
ADMIN_NAME = "demo-admin"
#: The simulated event types: when the receiver knows one, the events were seeded already.
_SEEDED_TYPE = "click"


def _admin_auth(key: str) -> dict[str, object]:
    """The ``auth`` section that accepts ``key`` as the ``demo-admin`` administrator."""
    return {"apiKeys": [{"name": ADMIN_NAME, "role": "admin", "hash": hash_api_key(key)}]}


async def post_event_batches(
    client: httpx.AsyncClient,
    batches: Sequence[EventBatch],
    *,
    product: str = DEFAULT_PRODUCT,
    progress: Callable[[int], None] | None = None,
    concurrency: int = 4,
) -> int:
    """POST each batch to ``v3/send/{product}-{kind}`` as the shippers do; return the events
    the receiver accepted. A refused batch stops the seeding with its answer."""
    accepted = done = 0
    gate = asyncio.Semaphore(concurrency)

    async def post(batch: EventBatch) -> None:
        nonlocal accepted, done
        async with gate:
            response = await client.post(
                f"/{SEND_PATH}{channel_name(product, batch.kind)}",
                content=events_to_ndjson(batch.events),
                headers=event_headers(batch.cluster_uuid, batch.version),
            )
        if response.status_code >= 300:
            raise CliFailure(
                f"the receiver refused simulated events: HTTP {response.status_code} "
                f"{response.text[:200]}"
            )
        accepted += len(batch.events)
        done += 1
        if progress is not None:
            progress(done)

    await asyncio.gather(*(post(batch) for batch in batches))
    return accepted


async def _with_progress(
    console: Console,
    label: str,
    total: int,
    run: Callable[[Callable[[int], None]], Awaitable[object]],
) -> None:
    """Runs `run(step)` under a progress bar of `total` steps (`step(done)` moves it)."""
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("seed", total=total)
        await run(lambda done: progress.update(task, completed=done))


async def _seed_events(
    console: Console, client: httpx.AsyncClient, *, clusters: int, days: int, now: dt.datetime
) -> None:
    """The simulated deployments' month of events, unless the receiver has them already."""
    known = await client.get("/api/events/types", params={"days": days})
    if known.status_code != 200:
        console.print(f"This receiver lists no events (HTTP {known.status_code}): none seeded.")
        return
    if any(t["event_type"] == _SEEDED_TYPE for t in known.json()["types"]):
        return
    batches = combine_batches(sample_event_batches(clusters=clusters, days=days, now=now))
    await _with_progress(
        console,
        "Seeding simulated events",
        len(batches),
        lambda step: post_event_batches(client, batches, progress=step),
    )


async def run_demo(
    data_dir: Path | None,
    host_port: int = 5601,
    receiver_port: int = 5602,
    *,
    clusters: int = 60,
    days: int = 28,
    ready: Callable[[dict[str, str]], None] | None = None,
    clock: Clock = utc_now,
) -> None:
    console = Console()
    data = (data_dir or Path("demo-data")).resolve()
    keys = data / "keys"
    if not (keys / PRIVATE_FILE).exists():
        write_key_files(keys, KID)
    host_key, receiver_key = generate_api_key(), generate_api_key()

    receiver = Receiver(
        load_config(
            {
                "server": {"host": "127.0.0.1", "port": receiver_port},
                "path": {"data": str(data / "receiver")},
                "keys": str(keys / PRIVATE_FILE),
                "products": [DEFAULT_PRODUCT],
                "auth": _admin_auth(receiver_key),
            },
            env={},
        ),
        clock=clock,
    )
    async with receiver, serving(receiver.app, bind("127.0.0.1", receiver_port)) as receiving:
        receiver_url = receiving.url
        host_config = {
            "server": {
                "port": host_port,
                "name": "Demo host",
                "auth": _admin_auth(host_key),
            },
            "path": {"data": str(data / "host")},
            "telemetry": {
                "endpoints": {"prod": receiver_url + "/", "staging": receiver_url + "/"},
                "encryption": {"jwks": str(keys / PUBLIC_FILE), "kid": KID},
                "product": DEFAULT_PRODUCT,
            },
        }
        async with (
            Platform(config=host_config) as platform,
            serving(platform.asgi_app, bind("127.0.0.1", host_port)) as hosting,
            stop_on_signals(receiving, hosting),
        ):
            platform.http.server_url = host_url = hosting.url
            telemetry = next(p for p in platform.plugins if isinstance(p, TelemetryPlugin))
            await telemetry.set_opt_in(True, wait_for_report=True)
            report = await telemetry.send_now(force=True)
            console.print(f"Snapshot from this host: {report.reason}")
            now = clock()
            if await receiver.store.count_reports() < clusters:
                reports = list(sample_reports(clusters=clusters, days=days, now=now))
                await _with_progress(
                    console,
                    "Seeding simulated installations",
                    len(reports),
                    lambda step: seed_store(receiver.store, reports, chunk=100, progress=step),
                )
            admin = {"Authorization": f"ApiKey {receiver_key}"}
            async with httpx.AsyncClient(base_url=receiver_url, headers=admin) as client:
                await _seed_events(console, client, clusters=clusters, days=days, now=now)
            dashboard, events = [
                f"{receiver_url}{link.path}"
                for link in [
                    await receiver.signin.create_link(name=ADMIN_NAME, role="admin", next_path=page)
                    for page in ("/", "/app/events")
                ]
            ]
            addresses = {
                "settings": f"{host_url}/app/telemetry",
                "dashboard": f"{receiver_url}/",
                "dashboard_signin": dashboard,
                "events_signin": events,
                "host_admin_key": host_key,
                "receiver_admin_key": receiver_key,
            }
            minutes = LINK_TTL_S // 60
            console.print(
                "\n[bold]telemetry-service demo is running[/bold] (Ctrl-C stops it)\n"
                f"  Host settings page:   {addresses['settings']}\n"
                f"  Receiver dashboard:   {addresses['dashboard']}\n"
                f"  Dashboard, signed in: {dashboard}\n"
                f"  Events, signed in:    {events}\n"
                f"  Host admin key:       {host_key}\n"
                f"  Receiver admin key:   {receiver_key}\n"
                f"  Data:                 {data}\n"
                f"Each signed-in link works once, within {minutes} minutes; or paste a key into "
                "the page's API key field to sign in.",
                highlight=False,
                soft_wrap=True,
            )
            if ready is not None:
                ready(addresses)
            await hosting.task
            console.print("stopping…")
    console.print("stopped")
