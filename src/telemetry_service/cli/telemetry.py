"""``telemetry-service telemetry …``: see and change what the host sends."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from telemetry_service.plugins.telemetry import (
    OptInLockedError,
    SendReport,
    TelemetryAdmin,
    TelemetryPlugin,
)
from telemetry_service.plugins.telemetry_collection_manager import (
    EncryptionUnavailableError,
    TelemetryCollectionManager,
)

from .errors import fail
from .events import event_catalogue, print_catalogue
from .host import ConfigOption, one_shot_platform

__all__ = ["telemetry_app"]

telemetry_app = typer.Typer(help="See and control the host's telemetry.", no_args_is_help=True)

VersionOption = Annotated[
    str | None,
    typer.Option(
        "--app-version", help="The host application's version (default: the installed one)."
    ),
]


@asynccontextmanager
async def _admin(
    config: Path | None, version: str | None, *, create_nothing: bool = False
) -> AsyncIterator[TelemetryAdmin]:
    async with one_shot_platform(config, version, create_nothing=create_nothing) as platform:
        for plugin in platform.plugins:
            if isinstance(plugin, TelemetryPlugin):
                yield plugin.admin
                return
        raise fail("the telemetry plugin is not installed")


def _when(ms: int | None) -> str:
    if ms is None:
        return "never"
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _print_status(status: dict[str, Any]) -> None:
    console = Console()
    consent = status["consent"]
    value = {True: "opted in", False: "opted out", None: "not decided (will ask)"}[consent["optIn"]]
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("Telemetry", value + (" (locked)" if consent["locked"] else ""))
    table.add_row("Decided by", f"{consent['source']}: {consent['reason']}")
    table.add_row("Sends usage from", status["sendUsageFrom"])
    endpoint = status["endpoint"] + ("" if status["endpointConfigured"] else " (placeholder)")
    table.add_row("Endpoint", endpoint)
    table.add_row("Last reported", _when(status["lastReported"]))
    failures = status["failures"]
    if failures["count"]:
        table.add_row("Failures", f"{failures['count']} (version {failures['version']})")
    table.add_row("Version", status["version"])
    table.add_row("Events", _events_line(status.get("events") or {}))
    console.print(table)
    if status.get("history"):
        sent = Table(title="Sent (newest first)")
        for column in ("when", "channel", "status", "bytes", "payload sha256"):
            sent.add_column(column)
        for entry in status["history"][:10]:
            sent.add_row(
                entry["timestamp"][:19],
                entry["channel"],
                entry["status"],
                str(entry["size"]),
                entry["payload_sha256"][7:23] + "…",
            )
        console.print(sent)


def _events_line(events: dict[str, Any]) -> str:
    shipper = events.get("shipper")
    if not shipper:
        return "not shipped (no running host with a configured endpoint)"
    counts = shipper["counts"]
    return (
        f"{shipper['queued']} queued, last send {_when(shipper['lastSend'])}"
        f" ({shipper['lastResult'] or 'none'}); {counts['succeeded']} sent, "
        f"{counts['failed']} failed, {counts['dropped']} dropped"
        f" (as of {_when(events.get('updatedAt'))})"
    )


@telemetry_app.command()
def events(
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List the registered event types (server and browser) with their schemas."""

    async def run() -> Any:
        async with one_shot_platform(config, scratch_store=True) as platform:
            return event_catalogue(platform)

    print_catalogue(asyncio.run(run()), as_json=as_json)


@telemetry_app.command()
def status(
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    app_version: VersionOption = None,
) -> None:
    """Show the effective opt-in, which rule or source decided it, and the send state.
    Creates no file: before the first start, it answers for an empty store."""

    async def run() -> dict[str, Any]:
        async with _admin(config, app_version, create_nothing=True) as admin:
            return await admin.status()

    result = asyncio.run(run())
    if as_json:
        print(json.dumps(result, indent=2))
    else:
        _print_status(result)


def _change(config: Path | None, app_version: str | None, enabled: bool) -> None:
    async def run() -> None:
        async with _admin(config, app_version) as admin:
            try:
                await admin.set_opt_in(enabled, wait_for_report=True)
            except OptInLockedError as exc:
                raise fail(str(exc)) from None

    asyncio.run(run())
    print("Telemetry is now " + ("enabled (opted in)." if enabled else "disabled (opted out)."))


@telemetry_app.command("opt-in")
def opt_in(config: ConfigOption = None, app_version: VersionOption = None) -> None:
    """Opt in to sending usage data (refused when config or the environment locks it)."""
    _change(config, app_version, True)


@telemetry_app.command("opt-out")
def opt_out(config: ConfigOption = None, app_version: VersionOption = None) -> None:
    """Opt out of sending usage data (refused when config or the environment locks it)."""
    _change(config, app_version, False)


@telemetry_app.command()
def send(
    config: ConfigOption = None,
    force: Annotated[
        bool, typer.Option("--force", help="Send even if a report was sent in this interval.")
    ] = False,
    app_version: VersionOption = None,
) -> None:
    """Send the snapshot now if it is due. Never without consent, even with --force."""
    # The outcome is this command's one line: the plugin's warning would say it twice.
    logging.getLogger(f"telemetry_service.plugins.{TelemetryPlugin.id}").setLevel(logging.ERROR)

    async def run() -> SendReport:
        async with _admin(config, app_version) as admin:
            return await admin.send_now(force=force)

    report = asyncio.run(run())
    if not report.sent:
        raise fail(f"nothing sent: {report.reason}")
    if report.printed:
        print("Snapshot printed, not sent (telemetry.debug is on).")
    else:
        print(f"Snapshot sent ({report.reason}).")


@telemetry_app.command()
def export(
    file: Annotated[Path, typer.Argument(help="Where to write the encrypted report (JSON).")],
    config: ConfigOption = None,
    app_version: VersionOption = None,
) -> None:
    """Write the encrypted snapshot with its headers, for `receiver import` at an air-gapped
    site. Needs consent, like sending."""

    async def run() -> list[dict[str, Any]]:
        async with _admin(config, app_version) as admin:
            try:
                return await admin.export()
            except PermissionError as exc:
                raise fail(f"nothing exported: {exc}") from None
            except EncryptionUnavailableError as exc:
                raise fail(f"cannot encrypt: {exc}") from None

    documents = asyncio.run(run())
    data: object = documents[0] if len(documents) == 1 else documents
    file.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {len(documents)} encrypted report(s) to {file}")


@telemetry_app.command()
def preview(
    config: ConfigOption = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the payload to FILE.")
    ] = None,
    app_version: VersionOption = None,
) -> None:
    """Print the unencrypted payload that would be sent now (nothing is sent)."""

    async def run() -> list[dict[str, Any]]:
        async with one_shot_platform(config, app_version) as platform:
            manager = platform.start_contracts.get("telemetry_collection_manager")
            if not isinstance(manager, TelemetryCollectionManager):
                raise fail("the telemetry_collection_manager plugin is not enabled")
            return await manager.get_unencrypted_stats(refresh_cache=True)

    stats = asyncio.run(run())
    payload: object = stats[0]["stats"] if len(stats) == 1 else [s["stats"] for s in stats]
    text = json.dumps(payload, indent=2, ensure_ascii=False) + "\n"
    if output is None:
        print(text, end="")
    else:
        output.write_text(text, encoding="utf-8")
        print(f"wrote the payload ({len(text.encode())} bytes) to {output}")
