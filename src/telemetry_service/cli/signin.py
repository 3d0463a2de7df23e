"""``telemetry-service receiver signin-link``: a one-time link that opens the receiver's
dashboard signed in, made on the receiver's store (no admin key needed, only the store)."""

from __future__ import annotations

import asyncio
import re
from typing import Annotated, Literal

import typer

from telemetry_service.common.clock import iso_ms, utc_now
from telemetry_service.receiver.signin import (
    LINK_TTL_S,
    LOCAL_PATH,
    MAX_LINK_TTL_S,
    SignIn,
    SignInLink,
)
from telemetry_service.receiver.storage import StoreError

from .errors import CliFailure
from .receiver import ConfigOption, StoreOption, _config

__all__ = ["signin_link"]


def signin_link(
    name: Annotated[
        str, typer.Option("--name", help="A configured API key's name: the session acts as it.")
    ],
    role: Annotated[str, typer.Option(help="viewer or admin (at most the key's role).")] = "viewer",
    page: Annotated[str, typer.Option("--page", help="The page it opens, a path.")] = "/",
    minutes: Annotated[
        int, typer.Option(help=f"How long the link works (1 to {MAX_LINK_TTL_S // 60}).")
    ] = LINK_TTL_S // 60,
    url: Annotated[
        str | None,
        typer.Option(help="The receiver's address as browsers reach it (default: server.*)."),
    ] = None,
    config: ConfigOption = None,
    store: StoreOption = None,
) -> None:
    """Print a one-time sign-in link to the dashboard (the token is shown once, stored hashed)."""
    settings = _config(config, **{"store.url": store})
    if role not in ("admin", "viewer"):
        raise typer.BadParameter("role must be admin or viewer", param_hint="--role")
    if not re.fullmatch(LOCAL_PATH, page):
        raise typer.BadParameter("a path of the receiver, like /app/events", param_hint="--page")
    if not 1 <= minutes <= MAX_LINK_TTL_S // 60:
        raise typer.BadParameter(f"1 to {MAX_LINK_TTL_S // 60}", param_hint="--minutes")
    key = next((k for k in settings.auth.api_keys if k.name == name), None)
    if key is None or (key.role == "viewer" and role == "admin"):
        raise CliFailure(f"no API key named {name!r} with the {role} role in auth.apiKeys")
    chosen: Literal["admin", "viewer"] = "admin" if role == "admin" else "viewer"

    async def run() -> SignInLink:
        signin = SignIn(settings.store_url, clock=utc_now)
        await signin.open()
        try:
            return await signin.create_link(
                name=name, role=chosen, next_path=page, ttl_s=minutes * 60
            )
        finally:
            await signin.close()

    try:
        link = asyncio.run(run())
    except StoreError as exc:
        raise CliFailure(str(exc)) from None
    base = url or f"http://{settings.server.host}:{settings.server.port}"
    print(f"{base.rstrip('/')}{link.path}")
    print(f"works once, until {iso_ms(link.expires_ms)}, as {name} ({role})")
