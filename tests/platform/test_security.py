"""Security headers on HTML responses, and the Origin check of state-changing posts."""

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from xabar.runtime.app import service_app
from xabar.runtime.http import error_handlers
from xabar.runtime.security import (
    ForeignOrigin,
    OriginCheck,
    PagePolicy,
    SecurityHeaders,
    origin_of,
)

OURS = OriginCheck(["https://news.example/", "http://127.0.0.1:8080"])


def test_origins_are_normalised() -> None:
    assert origin_of("HTTPS://News.Example:443/path?q") == "https://news.example"
    assert origin_of("http://127.0.0.1:8080/x") == "http://127.0.0.1:8080"
    assert origin_of("http://[::1]:80/") == "http://[::1]"
    for url in ("null", "file:///etc/passwd", "javascript:alert(1)", "http://", "http://a:99999"):
        assert origin_of(url) is None, url
    assert OURS.origins == {"https://news.example", "http://127.0.0.1:8080"}
    with pytest.raises(ValueError, match="at least one"):
        OriginCheck(["", "null"])


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "https://news.example"},
        {"origin": "http://127.0.0.1:8080"},
        {"sec-fetch-site": "same-origin"},
        {"sec-fetch-site": "none"},  # typed by the person, or a bookmark
        {"sec-fetch-site": "same-site", "referer": "https://news.example/news/1"},
        {"referer": "https://news.example/polls/1"},
        {},  # no browser: an API client or a script
    ],
)
def test_posts_from_our_pages_pass(headers: dict[str, str]) -> None:
    assert OURS.refusal("POST", headers) is None


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "https://evil.example"},
        {"origin": "null"},  # a sandboxed frame, a data: page
        {"origin": "https://news.example.evil.example"},
        {"origin": "http://news.example"},  # another scheme is another origin
        {"origin": "https://evil.example", "sec-fetch-site": "same-origin"},  # Origin decides
        {"sec-fetch-site": "cross-site"},
        {"sec-fetch-site": "same-site"},  # a sibling host, with no Referer to show it is ours
        {"sec-fetch-site": "cross-site", "referer": "https://evil.example/"},
        {"referer": "https://evil.example/page"},
    ],
)
def test_posts_from_other_pages_are_refused(headers: dict[str, str]) -> None:
    for method in ("POST", "PUT", "PATCH", "DELETE", "post"):
        assert OURS.refusal(method, headers) is not None


def test_safe_methods_are_never_refused() -> None:
    for method in ("GET", "HEAD", "OPTIONS"):
        assert OURS.refusal(method, {"origin": "https://evil.example"}) is None


async def _vote(request: Request) -> Response:
    OURS.require(request)
    return JSONResponse({"counted": True})


async def test_require_answers_403_in_the_services_words() -> None:
    async def in_russian(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, ForeignOrigin)
        return HTMLResponse("<p>Голос не принят: форма отправлена с чужого сайта.</p>", 403)

    app = Starlette(
        routes=[Route("/votes", _vote, methods=["POST"])],
        exception_handlers={**error_handlers(), ForeignOrigin: in_russian},
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        foreign = await c.post("/votes", headers={"origin": "https://evil.example"})
        assert foreign.status_code == 403
        assert "чужого сайта" in foreign.text
        assert (
            await c.post("/votes", headers={"origin": "https://news.example"})
        ).status_code == 200
    plain = Starlette(
        routes=[Route("/votes", _vote, methods=["POST"])], exception_handlers=error_handlers()
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=plain), base_url="http://t"
    ) as c:
        foreign = await c.post("/votes", headers={"origin": "https://evil.example"})
        assert foreign.status_code == 403
        assert foreign.json()["error"]["code"] == "foreign_origin"


def test_policy_directives_are_changed_one_by_one() -> None:
    policy = PagePolicy().with_(connect_src="'self'", frame_ancestors="https://news.example")
    assert policy.content_security_policy == (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors https://news.example; base-uri 'none'; connect-src 'self'"
    )
    assert "img-src" not in PagePolicy().with_(img_src="").content_security_policy
    assert PagePolicy().headers()["X-Content-Type-Options"] == "nosniff"


def test_headers_are_added_only_where_missing() -> None:
    async def nothing(scope: Scope, receive: Receive, send: Send) -> None:
        return None

    middleware = SecurityHeaders(nothing, PagePolicy().with_(style_src="'unsafe-inline'"))
    html = dict(middleware.completed([(b"content-type", b"text/html; charset=utf-8")]))
    assert html[b"content-security-policy"].startswith(
        b"default-src 'none'; style-src 'unsafe-inline'"
    )
    assert html[b"referrer-policy"] == b"strict-origin-when-cross-origin"
    assert html[b"x-content-type-options"] == b"nosniff"
    own = dict(
        middleware.completed(
            [(b"content-type", b"text/html"), (b"content-security-policy", b"default-src 'self'")]
        )
    )
    assert own[b"content-security-policy"] == b"default-src 'self'"
    data = dict(middleware.completed([(b"content-type", b"application/json")]))
    assert data == {b"content-type": b"application/json", b"x-content-type-options": b"nosniff"}


async def test_every_html_response_of_a_service_app_carries_the_headers() -> None:
    async def page(_: Request) -> Response:
        return HTMLResponse("<p>Привет</p>")

    async def broken(_: Request) -> Response:
        raise RuntimeError("boom")

    async def error_page(_: Request, exc: Exception) -> Response:
        return HTMLResponse("<p>Ошибка</p>", getattr(exc, "status_code", 500))

    app = service_app(
        routes=[Route("/page", page), Route("/broken", broken)],
        lifespan=None,
        exception_handlers={**error_handlers(), 404: error_page, RuntimeError: error_page},
        pages=PagePolicy().with_(connect_src="'self'"),
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        for path, status in (("/page", 200), ("/nowhere", 404), ("/broken", 500)):
            resp = await c.get(path)
            assert resp.status_code == status
            assert "connect-src 'self'" in resp.headers["content-security-policy"]
            assert "frame-ancestors 'none'" in resp.headers["content-security-policy"]
            assert resp.headers["x-content-type-options"] == "nosniff"
            assert resp.headers["referrer-policy"] == "strict-origin-when-cross-origin"


async def test_trailing_slash_redirects_are_off() -> None:
    async def news(_: Request) -> Response:
        return JSONResponse({"ok": True})

    app = service_app(
        routes=[Route("/news", news)], lifespan=None, exception_handlers=error_handlers()
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        resp = await c.get("/news/", headers={"host": "evil.example"})
        assert resp.status_code == 404
        assert "location" not in resp.headers
        assert (await c.get("/news")).status_code == 200
