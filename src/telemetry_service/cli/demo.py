"""``telemetry-service demo``: the whole system on one machine, with data to look at.

Generates a receiver key set, starts a receiver and a host platform (the example plugin
included) on loopback, opts in, sends a snapshot now, seeds the receiver with a few weeks of
simulated installations, and prints the two addresses and the admin keys. Ctrl-C stops both.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from telemetry_service.common.serving import bind, serving, stop_on_signals
from telemetry_service.core import Platform, generate_api_key, hash_api_key
from telemetry_service.plugins.telemetry import TelemetryPlugin
from telemetry_service.receiver import Receiver
from telemetry_service.receiver.config import load_config
from telemetry_service.receiver.keyfile import PRIVATE_FILE, PUBLIC_FILE, write_key_files
from telemetry_service.wire.protocol import DEFAULT_PRODUCT

from .demo_seed import seed_store, simulated_reports

__all__ = ["run_demo"]

KID = "demo-1"


async def run_demo(
    data_dir: Path | None,
    host_port: int = 5601,
    receiver_port: int = 5602,
    *,
    clusters: int = 60,
    days: int = 28,
    ready: Callable[[dict[str, str]], None] | None = None,
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
                "auth": {
                    "apiKeys": [
                        {"name": "demo-admin", "role": "admin", "hash": hash_api_key(receiver_key)}
                    ]
                },
            },
            env={},
        )
    )
    async with receiver, serving(receiver.app, bind("127.0.0.1", receiver_port)) as receiving:
        receiver_url = receiving.url
        host_config = {
            "server": {
                "port": host_port,
                "name": "Demo host",
                "auth": {
                    "apiKeys": [
                        {"name": "demo-admin", "role": "admin", "hash": hash_api_key(host_key)}
                    ]
                },
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
            if await receiver.store.count_reports() < clusters:
                reports = list(simulated_reports(clusters, days, now=dt.datetime.now(dt.UTC)))
                with Progress(
                    TextColumn("Seeding simulated installations"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    TimeRemainingColumn(),
                    console=console,
                ) as progress:
                    task = progress.add_task("seed", total=len(reports))
                    await seed_store(
                        receiver.store, reports, DEFAULT_PRODUCT, lambda: progress.advance(task)
                    )
            addresses = {
                "settings": f"{host_url}/app/telemetry",
                "dashboard": f"{receiver_url}/",
                "host_admin_key": host_key,
                "receiver_admin_key": receiver_key,
            }
            console.print(
                "\n[bold]telemetry-service demo is running[/bold] (Ctrl-C stops it)\n"
                f"  Host settings page:   {addresses['settings']}\n"
                f"  Receiver dashboard:   {addresses['dashboard']}\n"
                f"  Host admin key:       {host_key}\n"
                f"  Receiver admin key:   {receiver_key}\n"
                f"  Data:                 {data}\n"
                "Paste a key into the page's API key field to sign in.",
                highlight=False,
            )
            if ready is not None:
                ready(addresses)
            await hosting.task
            console.print("stopping…")
    console.print("stopped")
