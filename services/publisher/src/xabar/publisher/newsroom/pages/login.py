"""Logging in and out of the newsroom.

The login form posts ``email`` and ``password`` (and ``next``, where the editor was going: only
a path of this newsroom is followed). It is limited like the API's login (per e-mail and
address, per address, per account) and shares its accounts. A session is opened in Redis and
its token set as an HttpOnly, SameSite=Strict cookie on the newsroom's path, Secure when the
newsroom is served over HTTPS. The login form's own CSRF token sits in a cookie of its own
until a session exists. Logging out ends the session and clears the cookie.
"""

import secrets
from ipaddress import ip_address

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from xabar.publisher.errors import InvalidCredentials, TooManyAttempts
from xabar.publisher.newsroom.deps import Newsroom
from xabar.publisher.newsroom.render import path_for
from xabar.publisher.newsroom.web import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    PageRouter,
    current,
    maybe_current,
    posted,
    safe_next,
)
from xabar.publisher.routes.auth import login_address_key
from xabar.runtime.auth import Principal, Role

router = PageRouter()

LOGIN_FORM_TTL_S = 3600


def secure_cookies(request: Request) -> bool:
    """Whether the newsroom is reached over HTTPS: its configured origin says so, or the request
    came over HTTPS (to us, or to a trusted proxy that says so in ``X-Forwarded-Proto``)."""
    settings = Newsroom.of(request).settings
    if settings.newsroom_home().startswith("https://") or request.url.scheme == "https":
        return True
    peer = (request.scope.get("client") or ("", 0))[0]
    try:
        via_proxy = any(ip_address(peer) in net for net in settings.trusted_networks())
    except ValueError:
        return False
    proto = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return via_proxy and proto == "https"


def cookie_path(request: Request) -> str:
    return Newsroom.of(request).base + "/"


async def login_form(
    request: Request,
    *,
    email: str = "",
    next_path: str | None = None,
    error: str = "",
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """The login page, with the login form's CSRF token (a new one if the cookie has none)."""
    anonymous_csrf(request)
    page = await Newsroom.of(request).pages.render(
        request,
        "login.html",
        "Вход в редакцию",
        {
            "email": email,
            "next": next_path or "",
            "error": error,
            "bye": request.query_params.get("bye") == "1",
            "changed": request.query_params.get("changed") == "1",
        },
        status=status,
        headers=headers,
    )
    return keep_anonymous_csrf(request, page)


def anonymous_csrf(request: Request) -> str:
    """The CSRF token of a form posted without a session (login, a password link): its own
    cookie's, or a new one; the page's ``csrf_field()`` writes it."""
    token = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(32)
    request.state.login_csrf = token
    return token


def keep_anonymous_csrf(request: Request, response: Response) -> Response:
    """Set the cookie of ``anonymous_csrf`` on the page that carries its form."""
    response.set_cookie(
        LOGIN_COOKIE,
        str(request.state.login_csrf),
        max_age=LOGIN_FORM_TTL_S,
        path=cookie_path(request),
        secure=secure_cookies(request),
        httponly=True,
        samesite="strict",
    )
    return response


@router.page("GET", "/login", "The login form", role=None)
async def login_page(request: Request) -> Response:
    newsroom = Newsroom.of(request)
    wanted = safe_next(newsroom.base, request.query_params.get("next"))
    if maybe_current(request) is not None:
        return RedirectResponse(wanted or path_for(request, "today"), status_code=303)
    return await login_form(request, next_path=wanted)


@router.page("POST", "/login", "Log in: a session", role=None)
async def login_submit(request: Request) -> Response:
    newsroom = Newsroom.of(request)
    form = posted(request)
    email = (form.get("email") or "").strip()[:320]
    password = form.get("password") or ""
    wanted = safe_next(newsroom.base, form.get("next"))
    if not email or not password:
        return await login_form(
            request, email=email, next_path=wanted, error="Введите e-mail и пароль.", status=422
        )
    address = login_address_key(request, newsroom.settings)
    try:
        _, doc = await newsroom.api.editors.login(email, password[:1024], address)
    except InvalidCredentials:
        return await login_form(
            request, email=email, next_path=wanted, error="Неверный e-mail или пароль.", status=401
        )
    except TooManyAttempts as exc:
        return await login_form(
            request,
            email=email,
            next_path=wanted,
            error="Слишком много попыток входа. Подождите несколько минут и попробуйте снова.",
            status=429,
            headers={"Retry-After": str(exc.retry_after_s)},
        )
    who = Principal(str(doc["_id"]), str(doc["name"]), Role(doc["role"]))
    token, _session = await newsroom.sessions.open(who)
    response = RedirectResponse(wanted or path_for(request, "today"), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        path=cookie_path(request),
        secure=secure_cookies(request),
        httponly=True,
        samesite="strict",
    )
    response.delete_cookie(LOGIN_COOKIE, path=cookie_path(request))
    return response


@router.page("POST", "/logout", "Log out: the session ends")
async def logout(request: Request) -> Response:
    newsroom = Newsroom.of(request)
    session = current(request)
    await newsroom.api.accounts.end_everything(session.editor_id)  # every session, every token
    await newsroom.sessions.close_all(session.editor_id)
    response = RedirectResponse(path_for(request, "login_page") + "?bye=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=cookie_path(request))
    return response
