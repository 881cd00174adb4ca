"""Issue 12's defect classes, each tried against every service that could have it, as an attacker
would: over loopback to the four real service processes (``conftest.hostile``).

Every answer is the right 4xx (or 431), in the service's own words: never a 5xx, never Python's
exception text. What a refused body would have stored is counted before and after: nothing is
stored half way. The services' logs are checked for tracebacks when the session ends."""

import contextlib
import io
import re
import socket
from collections.abc import Iterator

import httpx
import pytest
from PIL import Image
from pymongo import MongoClient

from tests.hostile.conftest import Hostile

pytestmark = pytest.mark.infra

# what Python (or pydantic, or a driver) says, never what a service says
PYTHON_TEXT = re.compile(
    r"Traceback|invalid literal|codec can't|Expecting value|object has no attribute|"
    r"ValueError|KeyError|TypeError|OverflowError|out of range|input_value|line \d+ column|"
    r"Errno|UnicodeDecodeError|JSONDecodeError|pymongo|bson"
)
UNICODE_DIGITS = ["²", "٣", "１", "߃"]  # superscript, Arabic-Indic, fullwidth, N'Ko
NUMBERS = [*UNICODE_DIGITS, "1e3", "0x10", " 1", "-1", "99999999999999999999999"]
DATES = ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "9999-12-31", "+10000-01-01"]
BOUNDARY = "hostileboundary"
MULTIPART = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
NESTED = b'{"title":' + b"[" * 1000 + b"]" * 1000 + b"}"


def ours(response: httpx.Response, *statuses: int) -> httpx.Response:
    """The answer is one of ``statuses`` (any 4xx if none), in the service's words."""
    what = f"{response.request.method} {response.request.url} -> {response.status_code}"
    if statuses:
        assert response.status_code in statuses, f"{what}: {response.text[:300]}"
    else:
        assert 400 <= response.status_code < 500, f"{what}: {response.text[:300]}"
    found = PYTHON_TEXT.search(response.text)
    assert found is None, f"{what} says {found.group(0) if found else ''!r}: {response.text[:300]}"
    return response


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(out, "JPEG")
    return out.getvalue()


def multipart(fields: dict[str, bytes], files: list[tuple[str, bytes, bytes]]) -> bytes:
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        + value
        + b"\r\n"
        for name, value in fields.items()
    ]
    parts += [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; filename="'.encode()
        + filename
        + b'"\r\nContent-Type: image/jpeg\r\n\r\n'
        + data
        + b"\r\n"
        for name, filename, data in files
    ]
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def truncated(body: bytes) -> Iterator[bytes]:
    """``body`` without its closing boundary, and cut in the middle of its last part."""
    yield body[: -len(f"--{BOUNDARY}--\r\n")]
    yield body[: len(body) - 200]


TIP = {
    "title": "Сообщение читателя".encode(),
    "text": "Текст сообщения читателя, довольно длинный.".encode(),
    "country": b"KZ",
    "consent": b"on",
    "anonymous": b"on",
}


@pytest.fixture(scope="module")
def article(hostile: Hostile) -> str:
    body = {"title": "Проба", "lead": "Лид", "body_html": "<p>Текст</p>"}
    made = httpx.post(
        f"{hostile.url('publisher')}/api/v1/articles", json=body, headers=hostile.auth
    )
    assert made.status_code == 201, made.text
    article_id: str = made.json()["article_id"]
    return article_id


@pytest.fixture(scope="module")
def poll(hostile: Hostile) -> str:
    body = {"question": "Вопрос корпуса?", "options": ["Да", "Нет"]}
    made = httpx.post(f"{hostile.url('polls')}/api/v1/polls", json=body, headers=hostile.auth)
    assert made.status_code == 201, made.text
    poll_id: str = made.json()["poll_id"]
    return poll_id


FEED_PAGED = ["/news", "/kazakhstan", "/tags/x", "/polls", "/rss.xml", "/atom.xml", "/feed.json"]
FEED_PAGED += ["/kazakhstan/rss.xml", "/api/v1/articles", "/api/v1/polls", "/api/v1/sections/kz"]


def numeric_targets(article: str) -> dict[str, list[str]]:
    """Every numeric parameter of every service, as a URL template with ``{n}``."""
    return {
        "publisher": [
            *(
                f"/api/v1/{r}?{p}={{n}}"
                for r in ("articles", "inbox", "audit", "comments")
                for p in ("page", "per_page")
            ),
            f"/api/v1/articles/{article}/revisions/{{n}}",
            f"/api/v1/articles/{article}/diff?from={{n}}&to=1",
            f"/api/v1/articles/{article}/diff?from=1&to={{n}}",
            # the newsroom's pages
            *(
                f"/{r}?page={{n}}"
                for r in (
                    "articles",
                    "inbox",
                    "audit",
                    "comments",
                    "letters",
                    "polls",
                    "media-library",
                )
            ),
            f"/articles/{article}/diff?from={{n}}&to=1",
        ],
        "polls": ["/api/v1/polls?page={n}", "/api/v1/polls?per_page={n}", "/polls?page={n}"],
        "feed": [
            *(f"{p}?page={{n}}" for p in FEED_PAGED),
            "/sitemaps/articles-{n}.xml",
        ],
        "ingest": ["/api/v1/submissions/{n}", "/api/v1/attachments/{n}"],
    }


@pytest.mark.parametrize("service", ["publisher", "polls", "feed", "ingest"])
def test_unicode_digits_and_odd_numbers_in_every_numeric_parameter_are_4xx(
    hostile: Hostile, article: str, service: str
) -> None:
    with hostile.newsroom() as (newsroom, _), httpx.Client(base_url=hostile.url(service)) as other:
        client = newsroom if service == "publisher" else other
        for template in numeric_targets(article)[service]:
            for n in NUMBERS:
                url = template.format(n=n)
                answer = client.get(url, headers=hostile.auth if "/api/" in url else {})
                if n in UNICODE_DIGITS or n in ("1e3", "0x10", " 1"):
                    ours(answer)  # no number at all: 4xx
                else:
                    ours(answer, 200, 400, 404, 422)  # a number, maybe out of range


def test_out_of_range_dates_in_schedules_polls_and_filters_are_422(
    hostile: Hostile, article: str, poll: str
) -> None:
    pub, polls = hostile.url("publisher"), hostile.url("polls")
    with httpx.Client(headers=hostile.auth) as client, hostile.newsroom() as (newsroom, csrf):
        for moment in DATES:
            ours(
                client.post(
                    f"{pub}/api/v1/articles/{article}/schedule",
                    json={"publish_at": moment},
                    headers={"If-Match": '"1"'},
                ),
                422,
            )
            for api in ("inbox", "audit"):
                for bound in ("from", "to"):
                    ours(client.get(f"{pub}/api/v1/{api}", params={bound: moment}), 422)
                    if api == "inbox":  # the newsroom's journal pages by number only
                        ours(newsroom.get(f"/{api}", params={bound: moment}), 422)
            for field in ("opens_at", "closes_at"):
                body = {"question": "Вопрос?", "options": ["а", "б"], field: moment}
                ours(client.post(f"{polls}/api/v1/polls", json=body), 422)
            ours(client.patch(f"{polls}/api/v1/polls/{poll}", json={"closes_at": moment}))
            form = {"csrf": csrf, "publish_at": moment, "version": "1"}
            # the editor's page comes back saying what went wrong
            back = newsroom.post(f"/articles/{article}/workflow/schedule", data=form)
            ours(back, 303)
            assert "Не получилось" in ours(newsroom.get(back.headers["location"]), 200).text
    assert (
        httpx.get(f"{pub}/api/v1/articles/{article}", headers=hostile.auth).json()["status"]
        == "draft"
    )


@pytest.mark.parametrize("chunk", ["1844674407370955", "99999999999999999999999999", "00001"])
def test_huge_sitemap_numbers_are_404(hostile: Hostile, chunk: str) -> None:
    answer = ours(httpx.get(f"{hostile.url('feed')}/sitemaps/articles-{chunk}.xml"), 404)
    assert "Страница не найдена" in answer.text or answer.headers["content-type"].startswith(
        "application/xml"
    )


def json_endpoints(hostile: Hostile, article: str, poll: str) -> list[tuple[str, dict[str, str]]]:
    pub, polls, ingest = hostile.url("publisher"), hostile.url("polls"), hostile.url("ingest")
    return [
        (f"{pub}/api/v1/auth/login", {}),
        (f"{pub}/api/v1/articles", hostile.auth),
        (f"{pub}/api/v1/articles/{article}/schedule", hostile.auth | {"If-Match": '"1"'}),
        (f"{pub}/api/v1/editors", hostile.auth),
        (f"{pub}/api/v1/comments/bulk-approve", hostile.auth),
        (f"{polls}/api/v1/polls/{poll}/votes", {}),
        (f"{polls}/api/v1/polls", hostile.auth),
        (f"{ingest}/api/v1/submissions", {}),
        (f"{ingest}/api/v1/comments", {}),
        (f"{ingest}/api/v1/letters", {}),
        (f"{hostile.url('feed')}/api/v1/preview", hostile.auth),
    ]


def test_deeply_nested_and_utf16_json_are_refused_everywhere(
    hostile: Hostile, article: str, poll: str
) -> None:
    utf16 = '{"title": "Заголовок"}'.encode("utf-16")
    with httpx.Client() as client:
        for url, headers in json_endpoints(hostile, article, poll):
            json_headers = headers | {"Content-Type": "application/json"}
            deep = ours(client.post(url, content=NESTED, headers=json_headers), 400)
            # the polls' vote is parsed by pydantic-core in one step: its depth limit says so
            assert deep.json()["error"]["code"] in ("too_deep", "malformed_json"), url
            ours(client.post(url, content=utf16, headers=json_headers), 400, 415)
            charset = json_headers | {"Content-Type": "application/json; charset=utf-16"}
            ours(client.post(url, content=utf16, headers=charset), 400, 415)


def _count(hostile: Hostile, db: str, collection: str) -> int:
    with MongoClient(hostile.stack.mongo.url) as client:
        return client[db][collection].count_documents({})


def _report_fields(client: httpx.Client) -> dict[str, bytes]:
    page = client.get("/report").text
    return {k: v.encode() for k, v in re.findall(r'name="([a-z_]+)" value="([^"]*)"', page)}


def test_broken_multipart_is_400_and_stores_nothing(hostile: Hostile) -> None:
    ingest, pub = hostile.url("ingest"), hostile.url("publisher")
    photo = [("photos", b"p.jpg", jpeg())]
    tips_before = _count(hostile, "xabar_ingest", "submissions")
    media_before = _count(hostile, "xabar_publisher", "media")
    with httpx.Client(base_url=ingest, headers={"Origin": ingest}, timeout=30) as reader:
        fields = _report_fields(reader)
        bodies = [
            *truncated(multipart(TIP, photo)),
            multipart(TIP | {"title": b"\xff\xfe\xc3("}, []),
            multipart(TIP, [("photos", b"\xff\xfe.jpg", jpeg())]),
        ]
        for body in bodies:
            ours(reader.post("/api/v1/submissions", content=body, headers=MULTIPART), 400)
        for cut in truncated(multipart(TIP | fields, photo)):
            ours(reader.post("/report", content=cut, headers=MULTIPART), 400)
        bad_title = multipart(TIP | _report_fields(reader) | {"title": b"\xff\xfe"}, [])
        page = ours(reader.post("/report", content=bad_title, headers=MULTIPART), 400)
        assert "<html" in page.text and 'lang="ru"' in page.text
    with httpx.Client(base_url=pub, headers=hostile.auth, timeout=30) as editor:
        media = multipart({}, [("file", b"p.jpg", jpeg())])
        for cut in truncated(media):
            ours(editor.post("/api/v1/media", content=cut, headers=MULTIPART), 400)
        named = multipart({}, [("file", b"\xff\xfe.jpg", jpeg())])
        ours(editor.post("/api/v1/media", content=named, headers=MULTIPART), 400)
    with hostile.newsroom() as (newsroom, csrf):
        upload = multipart({"csrf": csrf.encode()}, [("file", b"p.jpg", jpeg())])
        for cut in truncated(upload):
            ours(newsroom.post("/media-library", content=cut, headers=MULTIPART), 400)
    assert _count(hostile, "xabar_ingest", "submissions") == tips_before
    assert _count(hostile, "xabar_publisher", "media") == media_before


def test_forms_that_are_not_utf8_are_400(hostile: Hostile, poll: str) -> None:
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    ingest, feed = hostile.url("ingest"), hostile.url("feed")
    with httpx.Client(headers={"Origin": ingest}) as client:
        for path in ("/report/status", "/comments", "/letters"):
            ours(client.post(f"{ingest}{path}", content=b"code=\xff\xfe&text=\xc3(", headers=form))
        vote = f"{hostile.url('polls')}/api/v1/polls/{poll}/votes"
        ours(client.post(vote, content=b"options=\xff\xfe", headers=form | {"Origin": feed}), 400)
    with hostile.newsroom() as (newsroom, csrf):
        raw = b"csrf=" + csrf.encode() + b"&title=\xff\xfe&body_html=x"
        ours(newsroom.post("/articles/new", content=raw, headers=form), 400)


def _raw(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        with contextlib.suppress(OSError):  # refused before all was read: the answer is there
            s.sendall(request)
        return s.recv(4096)


@pytest.mark.parametrize("service", ["ingest", "publisher", "polls", "feed"])
def test_a_64_mb_header_and_100_000_headers_are_431(hostile: Hostile, service: str) -> None:
    port = hostile.stack.services[service].port
    big = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (64 * 1024 * 1024) + b"\r\n\r\n"
    many = b"GET / HTTP/1.1\r\nHost: x\r\n"
    many += b"".join(b"X-%d: a\r\n" % i for i in range(100_000)) + b"\r\n"
    for request in (big, many):
        answer = _raw(port, request)
        assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
        assert b"Traceback" not in answer
    assert httpx.get(f"{hostile.url(service)}/healthz").status_code == 200


@pytest.mark.parametrize("service", ["ingest", "publisher", "polls", "feed"])
def test_no_redirect_copies_the_host_header(hostile: Hostile, service: str) -> None:
    with httpx.Client(base_url=hostile.url(service), headers={"Host": "evil.example"}) as c:
        for path in (
            "/api/v1/articles/",
            "/api/v1/polls/",
            "/polls/",
            "/report/",
            "/login/",
            "/kz/",
            "/articles/",
            "/inbox/",
            "//evil.example/",
            "/\\evil.example",
        ):
            answer = c.get(path)
            assert answer.status_code < 500, (path, answer.status_code)
            assert "evil" not in answer.headers.get("location", ""), (path, answer.headers)
