"""The newsroom's shell, in-process against the real Redis and FerretDB: login and logout through
the form, the session cookie, CSRF and Origin checks, no open redirect, timeouts, the base path,
the page guard's roles and the error pages."""

import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
from babel.dates import format_datetime
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from tests.publisher.conftest import SettingsFactory, create_article, publish, running_in_task
from tests.publisher.newsroom.conftest import ORIGIN, PASSWORD, Newsroom, csrf_of
from xabar.publisher.newsroom.render import Dates, asset_version
from xabar.publisher.newsroom.web import SESSION_COOKIE, PageRouter, current, posted, safe_next
from xabar.publisher.repositories.sessions import SessionStore
from xabar.runtime.auth import Principal, Role

ROOT = Path(__file__).resolve().parents[3]


def cookie_header(resp: httpx.Response, name: str) -> str:
    for value in resp.headers.get_list("set-cookie"):
        if value.startswith(f"{name}="):
            return value
    raise AssertionError(f"no Set-Cookie for {name}: {resp.headers.get_list('set-cookie')}")


async def test_an_anonymous_page_request_goes_to_the_login_page_and_comes_back(
    newsroom: Newsroom,
) -> None:
    email = await newsroom.editor()
    resp = await newsroom.client.get("/?from=digest")
    assert resp.status_code == 303
    assert resp.headers["location"] == "/login?next=%2F%3Ffrom%3Ddigest"
    page = await newsroom.client.get(resp.headers["location"])
    assert 'name="next" value="/?from=digest"' in page.text
    assert 'name="email"' in page.text
    assert 'name="password"' in page.text
    done = await newsroom.login(email, next_path="/?from=digest")
    assert done.status_code == 303
    assert done.headers["location"] == "/?from=digest"
    cookie = cookie_header(done, SESSION_COOKIE)
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
    assert "Path=/" in cookie
    assert "Secure" not in cookie  # plain HTTP on loopback
    today = await newsroom.client.get("/")
    assert today.status_code == 200
    assert "Сегодня" in today.text
    assert "Редактор editor" in today.text
    assert today.headers["cache-control"] == "no-store"
    assert "script-src 'self'" in today.headers["content-security-policy"]


async def test_wrong_password_and_empty_fields_are_said_in_russian(newsroom: Newsroom) -> None:
    email = await newsroom.editor()
    wrong = await newsroom.login(email, "не-тот-пароль")
    assert wrong.status_code == 401
    assert "Неверный e-mail или пароль" in wrong.text
    assert SESSION_COOKIE not in newsroom.client.cookies
    empty = await newsroom.login("", "")
    assert empty.status_code == 422
    assert "Введите e-mail и пароль" in empty.text


async def test_login_never_redirects_to_another_site(newsroom: Newsroom) -> None:
    email = await newsroom.editor()
    for hostile in (
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example",
        "javascript:alert(1)",
        "evil.example",
        "/login",
    ):
        newsroom.client.cookies.clear()
        resp = await newsroom.login(email, next_path=hostile)
        assert resp.status_code == 303, hostile
        assert resp.headers["location"] == "/", hostile
    assert safe_next("", "//evil.example/") is None
    assert safe_next("", "https://evil.example/") is None
    assert safe_next("/newsroom", "/other") is None
    assert safe_next("/newsroom", "/newsroom/inbox?x=1") == "/newsroom/inbox?x=1"
    assert safe_next("/newsroom", "/newsroomevil") is None


async def test_a_form_post_needs_the_session_csrf_token(newsroom: Newsroom) -> None:
    email = await newsroom.editor()
    await newsroom.login(email)
    token = await newsroom.csrf()
    missing = await newsroom.client.post("/logout", data={"x": "1"}, headers={"Origin": ORIGIN})
    assert missing.status_code == 403
    assert "Форма устарела" in missing.text
    forged = await newsroom.client.post(
        "/logout", data={"csrf": token[:-2] + "xx"}, headers={"Origin": ORIGIN}
    )
    assert forged.status_code == 403
    assert (await newsroom.client.get("/")).status_code == 200  # still logged in
    out = await newsroom.client.post("/logout", data={"csrf": token}, headers={"Origin": ORIGIN})
    assert out.status_code == 303
    assert out.headers["location"] == "/login?bye=1"


async def test_the_login_form_needs_its_own_csrf_cookie(newsroom: Newsroom) -> None:
    email = await newsroom.editor()
    page = await newsroom.client.get("/login")
    token = csrf_of(page.text)
    newsroom.client.cookies.clear()
    resp = await newsroom.client.post(
        "/login",
        data={"csrf": token, "email": email, "password": PASSWORD},
        headers={"Origin": ORIGIN},
    )
    assert resp.status_code == 403
    assert SESSION_COOKIE not in resp.headers.get("set-cookie", "")


async def test_a_post_from_another_origin_is_refused_before_anything(newsroom: Newsroom) -> None:
    email = await newsroom.editor()
    page = await newsroom.client.get("/login")
    data = {"csrf": csrf_of(page.text), "email": email, "password": PASSWORD}
    for headers in (
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site", "Referer": "http://evil.example/page"},
    ):
        resp = await newsroom.client.post("/login", data=data, headers=headers)
        assert resp.status_code == 403, headers
        assert "только со страниц редакции" in resp.text
        assert resp.headers["content-type"].startswith("text/html")
        assert SESSION_COOKIE not in resp.headers.get("set-cookie", "")
    await newsroom.login(email)
    token = await newsroom.csrf()
    resp = await newsroom.client.post(
        "/logout", data={"csrf": token}, headers={"Origin": "http://evil.example"}
    )
    assert resp.status_code == 403
    assert (await newsroom.client.get("/")).status_code == 200


async def test_logout_ends_the_session_for_good(newsroom: Newsroom) -> None:
    email = await newsroom.editor()
    await newsroom.login(email)
    stolen = newsroom.client.cookies[SESSION_COOKIE]
    token = await newsroom.csrf()
    await newsroom.client.post("/logout", data={"csrf": token}, headers={"Origin": ORIGIN})
    async with newsroom.fresh_client() as thief:
        thief.cookies.set(SESSION_COOKIE, stolen)
        resp = await thief.get("/")
        assert resp.status_code == 303
        assert resp.headers["location"].startswith("/login")


async def test_sessions_end_after_the_idle_and_the_absolute_timeout(redis: object) -> None:
    now = [1_000_000.0]
    store = SessionStore(redis, idle_s=600, absolute_s=3600, clock=lambda: now[0])  # type: ignore[arg-type]
    who = Principal("e1", "Тест", Role.EDITOR)
    token, _ = await store.open(who)
    now[0] += 599
    assert await store.find(token) is not None  # used: the idle time starts again
    now[0] += 599
    assert await store.find(token) is not None
    now[0] += 601
    assert await store.find(token) is None  # idle too long
    token, _ = await store.open(who)
    began = now[0]
    while now[0] + 540 < began + 3600:  # used every 9 minutes...
        now[0] += 540
        assert await store.find(token) is not None
    now[0] = began + 3601  # ...yet an hour after login it ends (last used 6 minutes ago)
    assert await store.find(token) is None
    first, _ = await store.open(who)
    second, _ = await store.open(who)
    assert await store.close_all("e1") >= 2
    assert await store.find(first) is None
    assert await store.find(second) is None


async def test_secure_cookie_behind_https(make_settings: SettingsFactory) -> None:
    settings = make_settings(newsroom_origin="https://news.example", form_origins="")
    async with running_in_task(settings) as h:
        email = await Newsroom(h).editor()
        transport = httpx.ASGITransport(app=h.app)
        async with httpx.AsyncClient(transport=transport, base_url="https://news.example") as c:
            page = await c.get("/login")
            assert "Secure" in cookie_header(page, "xabar_newsroom_login")
            resp = await c.post(
                "/login",
                data={"csrf": csrf_of(page.text), "email": email, "password": PASSWORD},
                headers={"Origin": "https://news.example"},
            )
            assert resp.status_code == 303
            assert "Secure" in cookie_header(resp, SESSION_COOKIE)
        plain = await h.client.post(
            "/login", data={"csrf": "x"}, headers={"Origin": "http://publisher.test"}
        )
        assert plain.status_code == 403  # the newsroom's origin is the https one


async def test_forwarded_https_from_a_trusted_proxy_makes_the_cookie_secure(
    make_settings: SettingsFactory,
) -> None:
    async with running_in_task(make_settings(trusted_proxies="127.0.0.0/8")) as h:
        transport = httpx.ASGITransport(app=h.app, client=("127.0.0.1", 5000))
        async with httpx.AsyncClient(transport=transport, base_url="http://publisher.test") as c:
            proxied = await c.get("/login", headers={"X-Forwarded-Proto": "https"})
            assert "Secure" in cookie_header(proxied, "xabar_newsroom_login")
        transport = httpx.ASGITransport(app=h.app, client=("203.0.113.9", 5000))
        async with httpx.AsyncClient(transport=transport, base_url="http://publisher.test") as c:
            claimed = await c.get("/login", headers={"X-Forwarded-Proto": "https"})
            assert "Secure" not in cookie_header(claimed, "xabar_newsroom_login")


async def test_under_a_base_path_every_link_form_and_redirect_has_it(
    make_settings: SettingsFactory,
) -> None:
    async with running_in_task(make_settings(newsroom_path="/newsroom")) as h:
        newsroom = Newsroom(h, base="/newsroom")
        email = await newsroom.editor()
        bare = await h.client.get("/newsroom")
        assert bare.status_code == 308
        assert bare.headers["location"] == "/newsroom/"
        anon = await h.client.get("/newsroom/")
        assert anon.headers["location"] == "/newsroom/login?next=%2Fnewsroom%2F"
        login = await h.client.get("/newsroom/login")
        assert 'action="/newsroom/login"' in login.text
        assert "/newsroom/static/newsroom.css?v=" in login.text
        assert "Path=/newsroom/" in cookie_header(login, "xabar_newsroom_login")
        done = await newsroom.login(email, next_path="/newsroom/")
        assert done.headers["location"] == "/newsroom/"
        assert "Path=/newsroom/" in cookie_header(done, SESSION_COOKIE)
        today = await h.client.get("/newsroom/")
        assert today.status_code == 200
        hrefs = re.findall(r'(?:href|action|src)="([^"]+)"', today.text)
        assert hrefs
        assert all(href.startswith(("/newsroom/", "#")) for href in hrefs), hrefs
        assert (await h.client.get("/")).status_code == 404  # the root is not the newsroom's
        assert (await h.client.get("/api/v1/auth/me")).status_code == 401  # the API stays put


async def test_unknown_pages_are_russian_pages_and_the_api_stays_json(newsroom: Newsroom) -> None:
    page = await newsroom.client.get("/no-such-page")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "Такой страницы в редакции нет" in page.text
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    api = await newsroom.client.get("/api/v1/no-such")
    assert api.status_code == 404
    assert api.headers["content-type"] == "application/json"


async def test_static_files_are_served_with_their_hash(newsroom: Newsroom) -> None:
    version = asset_version("newsroom.css")
    fresh = await newsroom.client.get(f"/static/newsroom.css?v={version}")
    assert fresh.status_code == 200
    assert fresh.headers["content-type"] == "text/css; charset=utf-8"
    assert "immutable" in fresh.headers["cache-control"]
    quill = await newsroom.client.get("/static/vendor/quill/quill.js")
    assert quill.status_code == 200
    assert quill.headers["content-type"].startswith("text/javascript")
    assert quill.headers["cache-control"] == "no-cache"
    for missing in ("/static/nothing.css", "/static/../config.py", "/static/vendor/quill/LICENSE"):
        assert (await newsroom.client.get(missing)).status_code == 404, missing


# A page module of the tests' own: what another engineer adds is mounted and guarded the same way.
chiefs = PageRouter()


@chiefs.page("GET", "/test-chiefs", "A page for chiefs", role=Role.CHIEF)
async def chiefs_page(request: Request) -> Response:
    return HTMLResponse(f"<p>{current(request).name}</p>")


@chiefs.page("POST", "/test-chiefs", "A form for chiefs", role=Role.CHIEF)
async def chiefs_post(request: Request) -> Response:
    return HTMLResponse(f"<p>{posted(request).get('note')}</p>")


async def test_the_page_guard_checks_the_role_and_hands_over_the_form(
    make_settings: SettingsFactory,
) -> None:
    async with running_in_task(make_settings(), newsroom_pages=(chiefs,)) as h:
        newsroom = Newsroom(h)
        editor = await newsroom.editor(Role.EDITOR)
        chief = await newsroom.editor(Role.CHIEF)
        await newsroom.login(editor)
        refused = await h.client.get("/test-chiefs")
        assert refused.status_code == 403
        assert "главный редактор" in refused.text
        token = await newsroom.csrf()
        post = await h.client.post(
            "/test-chiefs", data={"csrf": token, "note": "x"}, headers={"Origin": ORIGIN}
        )
        assert post.status_code == 403
        async with newsroom.fresh_client() as other:
            await newsroom.login(chief, client=other)
            assert (await other.get("/test-chiefs")).text == "<p>Редактор chief</p>"
            token = await newsroom.csrf(client=other)
            done = await other.post(
                "/test-chiefs", data={"csrf": token, "note": "заметка"}, headers={"Origin": ORIGIN}
            )
            assert done.text == "<p>заметка</p>"


def test_the_vendored_files_are_exactly_what_package_lock_pins() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "vendor_assets.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr


async def test_every_newsroom_page_but_the_login_needs_a_session(newsroom: Newsroom) -> None:
    """Each page route, found in the app (so a page added later is covered): anonymous, a GET is a
    303 to the login page and a POST from our own page one too; from another site, a 403."""
    pages = [
        route
        for route in newsroom.h.app.routes
        if isinstance(route, Route)
        and route.name.startswith("newsroom.")
        and route.name not in ("newsroom.static", "newsroom.bare")
    ]
    public = {  # the login form, and a one-time password link (the link is the proof)
        "newsroom.login_page",
        "newsroom.login_submit",
        "newsroom.reset_form",
        "newsroom.reset_submit",
    }
    checked = 0
    for route in pages:
        path = re.sub(r"{[^}]+}", "0" * 32, route.path)
        for method in sorted((route.methods or set()) - {"HEAD"}):
            foreign = await newsroom.client.request(
                method, path, headers={"Origin": "http://evil.example"}, data={"x": "1"}
            )
            if method != "GET":
                assert foreign.status_code == 403, (method, path)
            if route.name in public:
                continue
            anon = await newsroom.client.request(
                method, path, headers={"Origin": ORIGIN}, data={"x": "1"}
            )
            assert anon.status_code == 303, (method, path, anon.status_code)
            assert anon.headers["location"].startswith("/login?next="), (method, path)
            checked += 1
    assert checked >= 2


async def test_today_lists_what_waits_for_review_is_scheduled_and_was_published(
    newsroom: Newsroom,
) -> None:
    h = newsroom.h
    published = await create_article(h, title="Опубликованная новость", countries=["KZ"])
    await publish(h, published["article_id"])
    waiting = await create_article(h, Role.CONTRIBUTOR, title="Черновик автора")
    submitted = await h.client.post(
        f"/api/v1/articles/{waiting['article_id']}/submit",
        headers=h.auth(Role.CONTRIBUTOR, "contributor-1"),
    )
    assert submitted.status_code == 200, submitted.text
    email = await newsroom.editor(Role.EDITOR)
    await newsroom.login(email)
    today = await newsroom.client.get("/")
    assert today.status_code == 200
    assert "Опубликованная новость" in today.text
    assert "Черновик автора" in today.text
    assert "KZ" in today.text


def test_times_are_russian_in_the_newsrooms_zone_as_babel_writes_them() -> None:
    zone = ZoneInfo("Asia/Almaty")
    dates = Dates(zone)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for hours in range(0, 24 * 366, 37):
        moment = start + timedelta(hours=hours)
        assert dates.when(moment) == format_datetime(
            moment, "d\xa0MMMM\xa0y, HH:mm", tzinfo=zone, locale="ru"
        )
    assert dates.when(datetime(2026, 3, 7, 9, 5, tzinfo=UTC)) == "7\xa0марта\xa02026, 14:05"
    assert dates.day(datetime(2026, 12, 31, 20, 0, tzinfo=UTC)) == "1\xa0января\xa02027"
    assert dates.when(None) == "—"
