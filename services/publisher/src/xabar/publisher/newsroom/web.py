"""What every newsroom page shares: its router, the page guard, the form it posted, redirects.

A page module declares its endpoints on a ``PageRouter`` (the runtime's ``Router``): ``access``
is the minimum role (``None``: open to anyone, the login page), ``form`` the limits of what a
POST may carry (``None``: the endpoint reads the body itself, a JSON autosave say, and the CSRF
token comes in the ``X-CSRF-Token`` header). ``page_guard`` runs before the endpoint:

1. a POST (PUT, PATCH, DELETE) whose ``Origin`` is not the newsroom's is refused (403) before
   anything else is read (``runtime.security.OriginCheck``);
2. the session is looked up from its cookie; without one, a page answers 303 to the login page
   with ``next`` (where the editor was going), and a role below the minimum is 403;
3. a POST's form is read within its limits and its ``csrf`` field must be the session's token
   (the login form's: the token of its own cookie); else 403.

The endpoint then finds the session in ``current(request)`` and the form in ``posted(request)``.
"""

import functools
import hmac
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from xabar.publisher.newsroom.deps import Newsroom
from xabar.publisher.newsroom.errors import PageForbidden, StaleForm
from xabar.publisher.newsroom.render import ROUTE_PREFIX, NavItem, path_for
from xabar.publisher.repositories.sessions import Session
from xabar.publisher.routes.deps import of_type
from xabar.runtime.auth import Role
from xabar.runtime.bodies import Form, Limits, read_form
from xabar.runtime.routing import E, Endpoint, Operation, Router
from xabar.runtime.security import UNSAFE_METHODS

SESSION_COOKIE = "xabar_newsroom"
LOGIN_COOKIE = "xabar_newsroom_login"  # the login form's CSRF token (no session yet)
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"

# What an ordinary form may carry; a page with uploads declares its own ``Limits``.
FORM = Limits(max_bytes=256 * 1024, max_fields=100, max_field_bytes=128 * 1024)


@dataclass(frozen=True, slots=True)
class Access:
    """Who may open a page (``role`` None: anyone) and what its POST may carry."""

    role: Role | None = Role.CONTRIBUTOR
    form: Limits | None = FORM


class PageRouter(Router):
    """The pages of one resource; ``nav`` are its navigation entries."""

    def __init__(self, *, nav: Iterable[NavItem] = (), tags: Iterable[str] = ("newsroom",)):
        super().__init__(tags=tags)
        self.nav = tuple(nav)

    def page(
        self,
        method: str,
        path: str,
        summary: str,
        *,
        role: Role | None = Role.CONTRIBUTOR,
        form: Limits | None = FORM,
    ) -> Callable[[E], E]:
        """A page endpoint (HTML, not in the API's OpenAPI document)."""
        return self.route(
            method,
            path,
            summary,
            responses={200: "text/html"},
            security=Access(role, form),
            include_in_schema=False,
        )

    def mounted(self, base: str) -> list[BaseRoute]:
        """Starlette routes under ``base``, each guarded, named ``newsroom.<endpoint>``."""
        return [
            Route(
                base + op.path,
                page_guard(op, op.endpoint),
                methods=[op.method],
                name=ROUTE_PREFIX + op.name,
            )
            for op in self.operations
        ]


def page_guard(op: Operation, endpoint: Endpoint) -> Endpoint:
    access = op.security
    if not isinstance(access, Access):
        raise TypeError(f"{op.name}: a newsroom page's security is an Access")

    @functools.wraps(endpoint)
    async def checked(request: Request) -> Response:
        if access.form is not None and access.form.max_files:  # an upload: a few at a time
            async with Newsroom.of(request).api.uploads.hold():
                return await guarded(request)
        return await guarded(request)

    async def guarded(request: Request) -> Response:
        newsroom = Newsroom.of(request)
        unsafe = request.method in UNSAFE_METHODS
        if unsafe:
            newsroom.origin.require(request)
        session = await newsroom.sessions.find(request.cookies.get(SESSION_COOKIE))
        request.state.session = session
        if access.role is not None:
            if session is None:
                return to_login(request)
            if not session.role.at_least(access.role):
                raise PageForbidden(access.role)
        if unsafe:
            expected = session.csrf if access.role is not None and session else None
            if expected is None:
                expected = request.cookies.get(LOGIN_COOKIE, "")
            sent = request.headers.get(CSRF_HEADER)
            if access.form is not None:
                form = await read_form(request, access.form)
                request.state.form = form
                sent = form.get(CSRF_FIELD, sent)
            if not expected or not sent or not hmac.compare_digest(sent, expected):
                raise StaleForm()
        return await endpoint(request)

    return checked


def current(request: Request) -> Session:
    """The session of a page that needs one (set by the guard)."""
    session = getattr(request.state, "session", None)
    return of_type(session, Session, "a newsroom page ran without its guard")


def maybe_current(request: Request) -> Session | None:
    session = getattr(request.state, "session", None)
    return session if isinstance(session, Session) else None


def posted(request: Request) -> Form:
    """The form a POST carried (read and checked by the guard)."""
    form = getattr(request.state, "form", None)
    return of_type(form, Form, "no form was read for this page")


def see_other(request: Request, endpoint: str, query: str = "", **params: Any) -> Response:
    """303 to a newsroom page (after a form post, or to log in)."""
    target = path_for(request, endpoint, **params)
    return RedirectResponse(f"{target}?{query}" if query else target, status_code=303)


def to_login(request: Request) -> Response:
    """303 to the login page, remembering where the editor was going."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return see_other(request, "login_page", f"next={quote(here, safe='')}")


def safe_next(base: str, value: str | None) -> str | None:
    """``value`` if it is a path of this newsroom (no other site, no scheme, no ``//``), else
    None: the login never redirects anywhere else."""
    if not value or len(value) > 2000 or "\\" in value or any(ord(c) < 32 for c in value):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        return None
    if parts.path.startswith("//") or not (parts.path + "/").startswith(base + "/"):
        return None
    if parts.path.rstrip("/").endswith(("/login", "/logout")):
        return None
    return value
