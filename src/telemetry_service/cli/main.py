"""Entry point of the ``telemetry-service`` command."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer

from telemetry_service.common.log import configure_logging
from telemetry_service.common.serving import ServingError
from telemetry_service.core import PlatformError, StoreError, generate_api_key, hash_api_key

from .errors import CliFailure, print_error
from .host import ConfigOption
from .receiver import receiver_app
from .signin import signin_link
from .telemetry import telemetry_app
from .usage import usage_app

__all__ = ["app", "main"]

app = typer.Typer(
    name="telemetry-service",
    help="Opt-in product-usage telemetry: the host platform and the receiving telemetry cluster.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
apikey_app = typer.Typer(help="Create API keys for server.auth.apiKeys.", no_args_is_help=True)
app.add_typer(apikey_app, name="apikey")
app.add_typer(telemetry_app, name="telemetry")
app.add_typer(usage_app, name="usage")
app.add_typer(receiver_app, name="receiver")
receiver_app.command("signin-link")(signin_link)


@app.command()
def serve(
    config: ConfigOption = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on (server.host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (server.port, default 5601).")] = None,
) -> None:
    """Start the platform and its plugins; Ctrl-C or SIGTERM stops them in reverse order."""
    from .serve import serve_platform

    asyncio.run(serve_platform(config, host, port))


@app.command()
def demo(
    data: Annotated[Path | None, typer.Option(help="Folder for the demo's data.")] = None,
    port: Annotated[int, typer.Option(help="Port of the host platform.")] = 5601,
    receiver_port: Annotated[int, typer.Option(help="Port of the receiver.")] = 5602,
    clusters: Annotated[int, typer.Option(help="Simulated installations to seed.")] = 60,
    days: Annotated[int, typer.Option(help="Days of simulated reports.")] = 28,
) -> None:
    """Run the whole system locally with example data; prints the addresses to open."""
    from .demo import run_demo

    asyncio.run(run_demo(data, port, receiver_port, clusters=clusters, days=days))


@apikey_app.command("create")
def apikey_create(
    name: Annotated[str, typer.Option(help="A name for the key, shown in logs.")],
    role: Annotated[str, typer.Option(help="admin or viewer.")] = "viewer",
) -> None:
    """Print a new random key and the config entry that accepts it (only its hash)."""
    if role not in ("admin", "viewer"):
        raise typer.BadParameter("role must be admin or viewer", param_hint="--role")
    key = generate_api_key()
    print(f"key: {key}")
    print("config entry (server.auth.apiKeys):")
    print(f"  - name: {name}\n    role: {role}\n    hash: {hash_api_key(key)}")


def main(argv: list[str] | None = None) -> int:
    """Run the command; errors become one line on stderr with exit code 1 (2 for bad usage)."""
    configure_logging("warning")  # the servers then apply their config's logging.level
    command = typer.main.get_command(app)
    try:
        command.main(args=argv, prog_name="telemetry-service", standalone_mode=False)
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except typer.Abort:
        print_error("aborted")
        return 1
    except typer.TyperException as exc:  # bad usage: typer's own message, exit code 2
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            print_error(str(exc))
        return int(getattr(exc, "exit_code", 2))
    except (CliFailure, PlatformError, ServingError, StoreError) as exc:
        print_error(str(exc))
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
