"""Logging in (a short-lived bearer token) and who a token belongs to."""

from starlette.requests import Request
from starlette.responses import Response

from xabar.publisher.config import PublisherSettings
from xabar.publisher.routes import params
from xabar.publisher.routes.common import PublisherRouter
from xabar.publisher.routes.deps import Deps, principal
from xabar.publisher.routes.editors import editor_out
from xabar.publisher.schemas import LoginIn, MeOut, TokenOut
from xabar.runtime.auth import Role
from xabar.runtime.clients import client_address, hash_address
from xabar.runtime.http import json_response
from xabar.runtime.openapi import ErrorBody

router = PublisherRouter(tags=["auth"], security=Role.CONTRIBUTOR)


def login_address_key(request: Request, settings: PublisherSettings) -> str:
    """The client's address (behind trusted proxies only) as a keyed hash: what login attempts
    are counted by, for the API and the newsroom alike."""
    address = client_address(request.scope, settings.trusted_networks())
    return hash_address(address, Deps.of(request).codec.derive("login-limit"))


@router.post(
    "/api/v1/auth/login",
    "Log in: a short-lived bearer token (JWT)",
    security=None,  # public: it is how one gets a token
    body=LoginIn,
    responses={200: TokenOut, 401: ErrorBody, 422: ErrorBody, 429: ErrorBody},
)
async def login(request: Request) -> Response:
    deps = Deps.of(request)
    body = await params.read_body(request, LoginIn, 16 * 1024)
    settings = deps.settings
    address = login_address_key(request, settings)
    token, doc = await deps.editors.login(body.email, body.password, address)
    out = TokenOut(access_token=token, expires_in=settings.token_ttl_s, editor=editor_out(doc))
    return json_response(out, headers={"Cache-Control": "no-store"})


@router.post(
    "/api/v1/auth/logout",
    "Log out: every token and newsroom session of this account stops working now",
    responses={204: None},
)
async def logout(request: Request) -> Response:
    await Deps.of(request).accounts.end_everything(principal(request).editor_id)
    return Response(status_code=204)


@router.get("/api/v1/auth/me", "Who the token belongs to", responses={200: MeOut})
async def me(request: Request) -> Response:
    who = principal(request)
    return json_response(MeOut(editor_id=who.editor_id, name=who.name, role=who.role))
