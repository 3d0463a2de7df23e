"""``telemetry-service receiver …``: run and administer the telemetry cluster."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from telemetry_service.common.serving import ServingError
from telemetry_service.receiver import (
    ConfigError,
    ImportFileError,
    ImportResult,
    Receiver,
    ReceiverConfig,
    ReportStore,
    StartupError,
    forget_cluster,
    import_file,
    load_config,
    open_report_store,
    write_key_files,
)
from telemetry_service.receiver.server import run_server
from telemetry_service.receiver.storage import DeleteCounts, StoreError

from .errors import CliFailure

__all__ = ["receiver_app"]

receiver_app = typer.Typer(
    help="The telemetry cluster: receive, store and query encrypted usage reports.",
    no_args_is_help=True,
)
keys_app = typer.Typer(help="Create and rotate the receiver's key set.", no_args_is_help=True)
receiver_app.add_typer(keys_app, name="keys")

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Receiver YAML config (default: $TELEMETRY_RECEIVER_CONFIG, then "
        "config/receiver.yml if it exists).",
    ),
]
KeysOption = Annotated[
    Path | None, typer.Option("--keys", help="The private key set (JWKS file, mode 0600).")
]
StoreOption = Annotated[
    str | None, typer.Option("--store", help="sqlite:///FILE or postgresql://… (store.url).")
]


def _config(path: Path | None, **overrides: object) -> ReceiverConfig:
    try:
        config = load_config(path)
        return config.with_overrides(**overrides)
    except ConfigError as exc:
        raise CliFailure(str(exc)) from None


@receiver_app.command()
def serve(
    config: ConfigOption = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on (server.host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (server.port, default 5602).")] = None,
    keys: KeysOption = None,
    store: StoreOption = None,
    workers: Annotated[
        int | None, typer.Option(help="Worker processes (server.workers, default 1).")
    ] = None,
) -> None:
    """Receive reports on POST /v3/send/{channel} and serve the query API until SIGTERM."""
    settings = _config(
        config,
        **{
            "server.host": host,
            "server.port": port,
            "keys": None if keys is None else str(keys),
            "store.url": store,
            "server.workers": workers,
        },
    )
    try:
        run_server(settings)
    except (StartupError, ServingError) as exc:
        raise CliFailure(str(exc)) from None


@keys_app.command("generate")
def keys_generate(
    kid: Annotated[str, typer.Option("--kid", help="The new key's id (senders name it).")],
    out: Annotated[Path, typer.Option("--out", help="Folder for the key set files.")],
    alg: Annotated[
        str, typer.Option(help="Key wrap: RSA-OAEP (request-crypto 2.x) or RSA-OAEP-256.")
    ] = "RSA-OAEP",
    bits: Annotated[int, typer.Option(help="RSA modulus size: 2048, 3072 or 4096.")] = 2048,
    append: Annotated[
        bool, typer.Option("--append", help="Add the key to an existing set (rotation).")
    ] = False,
) -> None:
    """Write the private key set (mode 0600) and the public set that senders configure."""
    try:
        files = write_key_files(out, kid, alg=alg, bits=bits, append=append)
    except StartupError as exc:
        raise CliFailure(str(exc)) from None
    print(f"private key set (keep secret, mode 0600): {files.private}")
    print(f"public key set (for senders' telemetry.encryption.jwks): {files.public}")
    print(f"key ids: {', '.join(files.kids)}; senders set telemetry.encryption.kid: {kid}")


@receiver_app.command("import")
def import_(
    file: Annotated[
        Path, typer.Argument(help="An export of `telemetry-service telemetry export`.")
    ],
    config: ConfigOption = None,
    keys: KeysOption = None,
    store: StoreOption = None,
) -> None:
    """Ingest an air-gapped export file exactly as POST /v3/send/{channel} would."""
    settings = _config(config, **{"keys": None if keys is None else str(keys), "store.url": store})

    async def run() -> list[ImportResult]:
        receiver = Receiver(settings)  # the key set, limits and store of `receiver serve`
        async with _opened(receiver.store):
            return await import_file(receiver.ingest, file)

    try:
        results = asyncio.run(run())
    except (StartupError, ImportFileError, StoreError) as exc:
        raise CliFailure(str(exc)) from None
    table = Table("item", "channel", "outcome", "detail")
    for r in results:
        detail = r.message if r.outcome != "rejected" else f"{r.status}: {r.message}"
        table.add_row(str(r.index), r.channel, r.outcome, detail)
    Console().print(table)
    rejected = sum(1 for r in results if r.outcome == "rejected")
    print(f"{len(results) - rejected} of {len(results)} reports imported")
    if rejected:
        raise CliFailure(f"{rejected} of {len(results)} reports were refused")


@receiver_app.command()
def forget(
    cluster_uuid: Annotated[str, typer.Argument(help="The cluster whose records to delete.")],
    config: ConfigOption = None,
    store: StoreOption = None,
) -> None:
    """Delete every record of a cluster (a deletion request); writes an audit log line."""
    settings = _config(config, **{"store.url": store})

    async def run() -> DeleteCounts:
        async with _opened(open_report_store(settings.store_url)) as report_store:
            return await forget_cluster(report_store, cluster_uuid, actor=f"CLI user {_user()}")

    try:
        counts = asyncio.run(run())
    except StoreError as exc:
        raise CliFailure(str(exc)) from None
    if counts.reports == 0 and counts.clusters == 0 and counts.events == 0:
        print(f"no records of cluster {cluster_uuid!r}; nothing deleted")
    else:
        print(
            f"cluster {cluster_uuid!r} forgotten: {counts.reports} reports deleted, "
            f"{counts.events} events deleted"
        )


@contextlib.asynccontextmanager
async def _opened(store: ReportStore) -> AsyncIterator[ReportStore]:
    """`store`, opened (connected, migrated) for the block and closed after it."""
    await store.open()
    try:
        yield store
    finally:
        await store.close()


def _user() -> str:
    try:
        return os.getlogin()
    except OSError:
        return os.environ.get("USER", "unknown")
