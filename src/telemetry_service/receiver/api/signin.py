"""Sign-in links (see :mod:`telemetry_service.receiver.signin`): ``POST /api/signin-links``
makes one (admin role), ``POST /api/signin`` spends one for a session credential (the token is
the authentication). Both need the ``kbn-xsrf`` header, like every state-changing route of the
host, so that no other site's form or script can call them without a CORS preflight that the
receiver never grants."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from telemetry_service.common.apikeys import Principal
from telemetry_service.common.clock import iso_ms

from ..errors import Rejection
from ..http import require_role
from ..signin import LINK_TTL_S, LOCAL_PATH, MAX_LINK_TTL_S, SignIn
from .models import error_response
from .params import Keys, error_responses, from_state

__all__ = ["XSRF_HEADER", "router"]

XSRF_HEADER = "kbn-xsrf"


def require_xsrf(request: Request) -> None:
    """400 unless the request carries ``kbn-xsrf`` (any value)."""
    if XSRF_HEADER not in request.headers:
        raise Rejection(400, "xsrf", f"Request must contain a {XSRF_HEADER} header.")


SignInDep = Annotated[SignIn, Depends(from_state("signin"))]
router = APIRouter(tags=["sign-in"], dependencies=[Depends(require_xsrf)])
_GONE: dict[int | str, dict[str, Any]] = {
    400: error_response("No kbn-xsrf header, or a body that is not JSON."),
    410: error_response("Unknown, already used or expired."),
}


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LinkRequest(_Body):
    role: Literal["admin", "viewer"] = Field(
        default="viewer", description="The role of the session (at most the caller's)."
    )
    next: str = Field(
        default="/",
        max_length=200,
        pattern=LOCAL_PATH,
        description="The page to open once signed in (a path of this receiver).",
    )
    ttl_minutes: int = Field(
        default=LINK_TTL_S // 60, ge=1, le=MAX_LINK_TTL_S // 60, description="How long it lasts."
    )


class LinkAnswer(_Body):
    url: str = Field(description="The link; the token is in its fragment.")
    role: Literal["admin", "viewer"]
    expires_at: str


class RedeemRequest(_Body):
    token: str = Field(min_length=1, max_length=200)


class RedeemAnswer(_Body):
    credential: str = Field(description="Send it as `Authorization: ApiKey <credential>`.")
    name: str
    role: Literal["admin", "viewer"]
    expires_at: str
    next: str


@router.post(
    "/api/signin-links",
    response_model=LinkAnswer,
    responses=error_responses("admin") | {409: error_response("The receiver has no API keys.")},
)
async def create_link(
    body: LinkRequest,
    request: Request,
    signin: SignInDep,
    keys: Keys,
    principal: Annotated[Principal, Depends(require_role("admin"))],
) -> dict[str, Any]:
    """A one-time link that opens the dashboard signed in (the token is never logged)."""
    if not keys.configured:
        raise Rejection(409, "no_api_keys", "This receiver has no API keys: no sign-in needed.")
    link = await signin.create_link(
        name=principal.name, role=body.role, next_path=body.next, ttl_s=body.ttl_minutes * 60
    )
    base = str(request.base_url).rstrip("/")
    return {"url": base + link.path, "role": body.role, "expires_at": iso_ms(link.expires_ms)}


@router.post("/api/signin", response_model=RedeemAnswer, responses=_GONE)
async def redeem(body: RedeemRequest, signin: SignInDep) -> dict[str, Any]:
    """Spend a sign-in link's token for a session credential (once)."""
    signed_in = await signin.redeem(body.token)
    if signed_in is None:
        raise Rejection(
            410, "signin_link_spent", "This sign-in link is unknown, already used or expired."
        )
    return {
        "credential": signed_in.credential,
        "name": signed_in.principal.name,
        "role": signed_in.principal.role,
        "expires_at": iso_ms(signed_in.expires_ms),
        "next": signed_in.next_path,
    }
