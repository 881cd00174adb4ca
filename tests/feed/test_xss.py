"""A corpus of XSS payloads in every reader-visible field runs no script: not in the pages, not in
the feeds, not in the JSON-LD, and the text still reads as what the editor typed. Readers'
comments get the same corpus in their names and texts."""

import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from typing import Any

import feedparser
import httpx
import pytest
import redis.asyncio as aioredis

from tests.feed.conftest import publish_all, wait_drained
from tests.feed.factory import (
    article_state,
    comment,
    comment_published,
    image,
    poll_opened,
    poll_state,
    poll_tallied,
    published,
)
from xabar.contracts import (
    ARTICLES_STREAM,
    COMMENTS_STREAM,
    POLLS_STREAM,
    ArticleState,
    PublicComment,
)
from xabar.feed.sanitize import clean_text
from xabar.runtime.bus import EventBus

PAYLOADS = [
    "<script>alert(1)</script>",
    '"><script>alert(1)</script>',
    "'><img src=x onerror=alert(1)>",
    "<svg/onload=alert(1)>",
    "</title><script>alert(1)</script>",
    "</script><script>alert(1)</script>",
    '<iframe src="javascript:alert(1)"></iframe>',
    '<a href="javascript:alert(1)">клик</a>',
    "javascript:alert(1)",
    "{{ 7*7 }} {% raw %}",
    "]]><script>alert(1)</script><![CDATA[",
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    "<style>body{display:none}</style>",
    "\u2028\u2029</script>",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "<<script>script>alert(1)<</script>/script>",
    "\x00\x08\x1b<b>управляющие</b>",
]
BODY = (
    "<p>Нормальный абзац.</p><script>alert(1)</script><img src=x onerror=alert(1)>"
    '<a href="javascript:alert(1)">ссылка</a><p onclick="alert(1)">абзац</p>'
    '<iframe src="https://evil.example"></iframe><svg onload="alert(1)"></svg>'
    '<form action="https://evil.example"><input name="x"></form>'
)
URL_ATTRS = {"href", "src", "action", "formaction", "data", "xlink:href"}
URL_METAS = {"og:url", "og:image"}
BAD_SCHEME = re.compile(r"^\s*(javascript|vbscript|data):", re.IGNORECASE)
FORBIDDEN_TAGS = {"iframe", "svg", "object", "embed", "style", "base", "frame", "math", "link"}


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, attrs))
        self._in_script = tag == "script"
        if self._in_script:
            self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts[-1] += data


COMMENT_FORM = "http://127.0.0.1:8081/comments/form?article_id="  # ingest's, as settings say


def _our_comment_form(tag: str, attrs: list[tuple[str, str | None]]) -> bool:
    """The one frame a page may have: ingest's comment form for its article."""
    a = dict(attrs)
    return (
        tag == "iframe"
        and a.get("name") == "comment-form"
        and (a.get("src") or "").startswith(COMMENT_FORM)
        and set(a) == {"class", "name", "title", "src"}
    )


def assert_runs_no_script(html: str, where: str) -> None:
    doc = _Collector()
    doc.feed(html)
    doc.close()
    frames = [e for e in doc.elements if e[0] == "iframe"]
    assert len(frames) <= 1 and all(_our_comment_form(*f) for f in frames), (where, frames)
    for tag, attrs in doc.elements:
        if _our_comment_form(tag, attrs):
            continue
        names = {k for k, _ in attrs}
        assert not any(k.startswith("on") for k in names), (where, tag, attrs)
        if tag == "script":
            assert dict(attrs).get("type") == "application/ld+json", (where, attrs)
        if tag == "link":
            assert dict(attrs).get("rel") in {
                "canonical",
                "alternate",
                "icon",
                "stylesheet",
                "prev",
                "next",
            }, (where, attrs)
        else:
            assert tag not in FORBIDDEN_TAGS, (where, tag)
        if tag == "meta":
            assert "http-equiv" not in names, (where, attrs)
            if dict(attrs).get("property") in URL_METAS:
                assert not BAD_SCHEME.match(dict(attrs).get("content") or ""), (where, attrs)
        for name, value in attrs:
            if name in URL_ATTRS and value and not (tag == "link" and value == "data:,"):
                assert not BAD_SCHEME.match(value), (where, tag, name, value)
    for script in doc.scripts:
        assert "<" not in script, where
        json.loads(script)


LINK_PAYLOADS = [
    'https://evil.example/"><script>alert(1)</script>',
    "https://evil.example/x'onmouseover='alert(1)",
    "javascript:alert(1)//https://ok.example/",
    "https://ok.example/<img src=x onerror=alert(1)>",
]


def hostile_comments(state: ArticleState, n: int, payload: str) -> list[PublicComment]:
    """A comment with the payload as its author's name and in its text, one with links that
    try to break out of their attribute, and a reply."""
    first = comment(
        state, f"x{n}", f"Текст {payload} конец", name=payload, minutes=1, edited=n % 2 == 0
    )
    links = comment(state, f"x{n}-links", " ".join(LINK_PAYLOADS) + f" {payload}", minutes=2)
    reply = comment(state, f"x{n}-re", payload, name=f"Ответ {payload}", parent_id=f"x{n}")
    return [first, links, reply.model_copy(update={"published_at": links.published_at})]


def _hostile_article(n: int, payload: str) -> ArticleState:
    return article_state(
        900 + n,
        title=f"Заголовок {n} {payload}",
        lead=f"Лид {payload}",
        tags=(payload, f"тег {n}"),
        countries=("KZ",),
        author=payload,
        source=payload,
        source_url="javascript:alert(1)" if n % 2 else f"https://ok.example/{n}",
        image=image(
            "javascript:alert(1)" if n == 1 else f"https://img.example/{n}.jpg?a=1&b=<x>",
            credit=f"Фото: {payload}",
            alt=payload,
        ),
        body_html=BODY + f"<p>{n}</p>",
    )


@pytest.fixture
async def hostile(
    client: httpx.AsyncClient, publisher: EventBus, redis: aioredis.Redis
) -> list[ArticleState]:
    states = [_hostile_article(n, p) for n, p in enumerate(PAYLOADS)]
    states[0] = states[0].model_copy(update={"featured": True})
    await publish_all(publisher, [published(s) for s in states])
    poll = poll_state(
        "poll-xss",
        f"Вопрос {PAYLOADS[1]}",
        [PAYLOADS[0], PAYLOADS[2], PAYLOADS[7], PAYLOADS[10]],
    )
    await publish_all(publisher, [poll_opened(poll), poll_tallied("poll-xss", [1, 2, 3, 4], 11)])
    comments = [c for n, p in enumerate(PAYLOADS) for c in hostile_comments(states[n], n, p)]
    await publish_all(publisher, [comment_published(c) for c in comments])
    await wait_drained(redis, ARTICLES_STREAM, POLLS_STREAM, COMMENTS_STREAM)
    return states


async def test_pages_escape_every_payload_and_run_no_script(
    client: httpx.AsyncClient, hostile: list[ArticleState]
) -> None:
    paths = ["/", "/news", "/news?page=2", "/news?page=3", "/kazakhstan", "/polls"]
    paths += [f"/news/{s.slug}" for s in hostile]
    for path in paths:
        response = await client.get(path)
        assert response.status_code == 200, path
        assert_runs_no_script(response.text, path)
        assert "49" not in response.text.split("{{ 7*7 }}")[0][-10:], path  # no template injection
    article = (await client.get(f"/news/{hostile[0].slug}")).text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in article  # shown as text, not markup
    assert '<b class="comment-author">&lt;script&gt;alert(1)&lt;/script&gt;</b>' in article
    assert "Комментарии [3]" in article
    for state in hostile:
        links = _Collector()
        links.feed((await client.get(f"/news/{state.slug}")).text)
        ugc = [
            dict(a)
            for tag, a in links.elements
            if tag == "a" and "ugc" in (dict(a).get("rel") or "")
        ]
        assert [a["href"] for a in ugc] == [
            "https://evil.example/",
            "https://evil.example/x",
            "https://ok.example/",
            "https://ok.example/",
        ], state.slug  # each URL ends where the text breaks out of it, and links nothing else
        assert all(a["rel"] == "nofollow ugc noopener" for a in ugc)
    polls = (await client.get("/polls")).text
    assert "Вопрос &#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in polls


async def test_the_json_ld_carries_the_payload_as_data(
    client: httpx.AsyncClient, hostile: list[ArticleState]
) -> None:
    for n, state in enumerate(hostile):
        html = (await client.get(f"/news/{state.slug}")).text
        doc = _Collector()
        doc.feed(html)
        (script,) = doc.scripts
        data = json.loads(script)
        assert data["@type"] == "NewsArticle"
        assert data["headline"] == clean_text(state.title)
        assert data["commentCount"] == 3
        comments = hostile_comments(state, n, PAYLOADS[n])
        assert [(c["@type"], c["author"]["name"], c["text"]) for c in data["comment"]] == [
            ("Comment", clean_text(c.name).strip() or "Читатель", clean_text(c.text).strip())
            for c in (comments[0], comments[2], comments[1])  # the reply under its comment
        ]
        assert "image" not in data or not BAD_SCHEME.match(data["image"][0]["url"])
        assert "isBasedOn" not in data or data["isBasedOn"].startswith("https://")


def _feed_html_fields(parsed: Any) -> list[str]:
    out = []
    for entry in parsed.entries:
        out += [c.value for c in entry.get("content", [])]
    return out


async def test_feeds_stay_well_formed_and_their_html_runs_no_script(
    client: httpx.AsyncClient, hostile: list[ArticleState]
) -> None:
    expected = [clean_text(s.title) for s in reversed(hostile)]
    for path in ("/rss.xml", "/atom.xml", "/kazakhstan/rss.xml", "/kazakhstan/atom.xml"):
        response = await client.get(path)
        ET.fromstring(response.content)  # well-formed XML, whatever the titles held
        parsed = feedparser.parse(
            response.content, response_headers={"content-type": response.headers["content-type"]}
        )
        assert parsed.bozo == 0, (path, parsed.get("bozo_exception"))
        root = ET.fromstring(response.content)
        raw_titles = [
            t.text
            for t in root.iter()
            if t.tag in ("title", "{http://www.w3.org/2005/Atom}title") and t.text
        ][1:]
        assert sorted(raw_titles) == sorted(expected), path  # the exact text, escaped once
        for html in _feed_html_fields(parsed):
            assert_runs_no_script(html, path)
        if path.endswith("rss.xml"):
            counts = [c.text for c in root.iter("{http://purl.org/rss/1.0/modules/slash/}comments")]
            assert counts == ["3"] * len(expected), path
    doc = (await client.get("/feed.json")).json()
    assert sorted(i["title"] for i in doc["items"]) == sorted(expected)
    for item in doc["items"]:
        assert_runs_no_script(item["content_html"], "/feed.json")
        assert not BAD_SCHEME.match(item.get("image", ""))


async def test_the_api_returns_the_sanitized_body_and_the_text_as_text(
    client: httpx.AsyncClient, hostile: list[ArticleState]
) -> None:
    data = (await client.get(f"/api/v1/articles/{hostile[1].slug}")).json()
    assert data["title"] == clean_text(hostile[1].title)
    assert_runs_no_script(data["body_html"], "api")
    assert data["source_url"] is None  # javascript: dropped on the way in
    assert data["image"] is None  # so was its image's javascript: URL
    other = (await client.get(f"/api/v1/articles/{hostile[2].slug}")).json()
    assert other["source_url"] == "https://ok.example/2"
    assert other["image"]["url"] == "https://img.example/2.jpg?a=1&b=%3Cx%3E"  # a usable URL
