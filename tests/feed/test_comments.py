"""Readers' comments from the real stream (``xabar.comments`` on a real Redis, as the publisher
emits them) into the readers' site: the article shows the approved ones oldest first with
replies one level deep, the count shows on the front page, lists, sections, the article, RSS,
Atom and the API; a removed comment disappears everywhere; redeliveries, late old versions and
1,000 concurrent comments of one article give exact counts."""

import asyncio
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from typing import Any

import feedparser
import httpx
import redis.asyncio as aioredis

from tests.feed.conftest import (
    SITE,
    MakeSettings,
    eventually,
    publish_all,
    running,
    wait_drained,
)
from tests.feed.factory import (
    article_state,
    comment,
    comment_published,
    comment_removed,
    published,
)
from xabar.contracts import ARTICLES_STREAM, COMMENTS_STREAM, ArticleState
from xabar.runtime.bus import EventBus

SLASH = "{http://purl.org/rss/1.0/modules/slash/}comments"
THR = "{http://purl.org/syndication/thread/1.0}count"
ATOM = "{http://www.w3.org/2005/Atom}"


class _Comments(HTMLParser):
    """The comments of an article page as the reader sees them: (id, name, text, is_reply),
    in page order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[dict[str, Any]] = []
        self.links: list[dict[str, str | None]] = []
        self._field: str | None = None
        self._depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag == "div" and "comment" in classes:
            reply = "reply" in classes
            self.found.append({"id": a["id"], "name": "", "text": "", "reply": reply})
        elif self.found and tag == "b" and "comment-author" in classes:
            self._field = "name"
        elif self.found and tag == "div" and "comment-text" in classes:
            self._field, self._depth = "text", 1
        elif self._field == "text" and tag == "div":
            self._depth += 1
        if tag == "a" and self._field == "text":
            self.links.append(a)

    def handle_endtag(self, tag: str) -> None:
        if self._field == "name" and tag == "b":
            self._field = None
        elif self._field == "text" and tag == "div":
            self._depth -= 1
            if self._depth == 0:
                self._field = None
        elif self._field == "text" and tag == "p":
            self.found[-1]["text"] += "\n"

    def handle_data(self, data: str) -> None:
        if self._field is not None:
            self.found[-1][self._field] += data


def shown(html: str) -> _Comments:
    parser = _Comments()
    parser.feed(html)
    parser.close()
    return parser


def count_on(html: str) -> list[int]:
    return [int(n) for n in re.findall(r"Комментарии \[(\d+)\]", html)]


async def _article(client: httpx.AsyncClient, bus: EventBus, **fields: Any) -> ArticleState:
    state = article_state(**fields)
    await bus.publish(published(state))

    async def there() -> bool:
        return (await client.get(f"/news/{state.slug}")).status_code == 200

    await eventually(there, what="the article")
    return state


async def test_the_article_shows_approved_comments_oldest_first_replies_one_level_deep(
    client: httpx.AsyncClient, publisher: EventBus, redis: aioredis.Redis
) -> None:
    art = await _article(client, publisher, title="Новость с обсуждением")
    first = comment(art, "c-first", "Первый!\nВторая строка", name="Алишер", minutes=1)
    second = comment(art, "c-second", "Подробнее: https://example.org/a?b=1&c=2.", minutes=2)
    reply = comment(art, "c-reply", "Согласен", name="Дина", parent_id="c-first", minutes=3)
    deeper = comment(art, "c-deeper", "И я", parent_id="c-reply", minutes=4)
    edited = comment(art, "c-edited", "Хорошо [отредактировано] сказано", minutes=5, edited=True)
    # newest first on the stream, a reply before the comment it answers
    await publish_all(
        publisher, [comment_published(c) for c in (edited, deeper, reply, second, first)]
    )
    await wait_drained(redis, COMMENTS_STREAM)
    page = (await client.get(f"/news/{art.slug}")).text
    found = shown(page)
    assert [(c["id"], c["reply"]) for c in found.found] == [
        ("comment-c-first", False),
        ("comment-c-reply", True),  # under the comment it answers
        ("comment-c-deeper", True),  # a reply to a reply: one level deep, in the same thread
        ("comment-c-second", False),
        ("comment-c-edited", False),
    ]
    assert found.found[0]["name"] == "Алишер" and found.found[0]["text"] == "Первый!Вторая строка\n"
    assert "<p>Первый!<br>Вторая строка</p>" in page
    assert found.links == [
        {"href": "https://example.org/a?b=1&c=2", "rel": "nofollow ugc noopener"}
    ]  # the sentence's full stop is not part of the link
    assert '<span class="edited">[отредактировано]</span>' in page
    assert count_on(page) == [5, 5]  # the meta row and the section's heading
    assert "Комментариев пока нет" not in page


async def test_the_count_shows_on_the_front_page_lists_sections_feeds_and_the_api(
    client: httpx.AsyncClient, publisher: EventBus, redis: aioredis.Redis
) -> None:
    art = await _article(client, publisher, countries=("KZ",), featured=True)
    other = await _article(client, publisher, countries=("KZ",))
    await publish_all(publisher, [comment_published(comment(art, f"k{n}")) for n in range(3)])
    await publisher.publish(comment_published(comment(other, "o1")))
    await wait_drained(redis, COMMENTS_STREAM)
    front = (await client.get("/")).text
    featured = front[front.index('class="featured"') : front.index("</article>")]
    assert count_on(featured) == [3]  # the news of the day, as on the reference page
    assert f'href="/news/{art.slug}#comments">Комментарии [3]' in featured
    for path in ("/", "/news", "/kazakhstan"):
        html = (await client.get(path)).text
        assert f'href="/news/{other.slug}#comments">Комментарии [1]</a>' in html, path
    for path in ("/rss.xml", "/kazakhstan/rss.xml"):
        rss = ET.fromstring((await client.get(path)).content)
        items = {i.findtext("link"): i for i in rss.iter("item")}
        item = items[f"{SITE}/news/{art.slug}"]
        assert item.findtext(SLASH) == "3", path
        assert item.findtext("comments") == f"{SITE}/news/{art.slug}#comments"
        assert items[f"{SITE}/news/{other.slug}"].findtext(SLASH) == "1"
    parsed = feedparser.parse((await client.get("/rss.xml")).content)
    assert parsed.bozo == 0
    atom = ET.fromstring((await client.get("/atom.xml")).content)
    replies = [
        link
        for link in atom.iter(f"{ATOM}link")
        if link.get("rel") == "replies" and art.slug in (link.get("href") or "")
    ]
    assert [r.get(THR) for r in replies] == ["3"]
    api = (await client.get(f"/api/v1/articles/{art.slug}")).json()
    assert api["comment_count"] == 3
    items = (await client.get("/api/v1/articles")).json()["items"]
    assert {i["slug"]: i["comment_count"] for i in items}[other.slug] == 1


async def test_a_removed_comment_disappears_everywhere_and_a_late_approval_never_brings_it_back(
    client: httpx.AsyncClient, publisher: EventBus, redis: aioredis.Redis
) -> None:
    art = await _article(client, publisher, countries=("KZ",))
    kept = comment(art, "kept", "Остаётся", minutes=1)
    gone = comment(art, "gone", "Удалённый текст", name="Удалённый автор", minutes=2)
    answer = comment(art, "answer", "Ответ на удалённый", parent_id="gone", minutes=3)
    await publish_all(publisher, [comment_published(c) for c in (kept, gone, answer)])
    await wait_drained(redis, COMMENTS_STREAM)
    page = (await client.get(f"/news/{art.slug}")).text
    assert "Удалённый текст" in page and count_on(page) == [3, 3]
    await publisher.publish(comment_removed(gone, 3))
    await publisher.publish(comment_published(gone, 2))  # late: older than the removal
    await wait_drained(redis, COMMENTS_STREAM)
    page = (await client.get(f"/news/{art.slug}")).text
    assert "Удалённый текст" not in page and "Удалённый автор" not in page
    found = shown(page).found
    # the reply to it stays, as a thread of its own
    assert [(c["id"], c["reply"]) for c in found] == [
        ("comment-kept", False),
        ("comment-answer", False),
    ]
    for path in ("/", "/news", "/kazakhstan", f"/news/{art.slug}"):
        html = (await client.get(path)).text
        assert "Удалённый текст" not in html, path
        assert "Комментарии [3]" not in html and "Комментарии [2]" in html, path
    rss = ET.fromstring((await client.get("/rss.xml")).content)
    (item,) = [i for i in rss.iter("item") if i.findtext("link", "").endswith(art.slug)]
    assert item.findtext(SLASH) == "2"
    assert (await client.get(f"/api/v1/articles/{art.slug}")).json()["comment_count"] == 2
    await publisher.publish(comment_published(gone, 4))  # approved again, a newer version
    await wait_drained(redis, COMMENTS_STREAM)
    found = shown((await client.get(f"/news/{art.slug}")).text).found
    assert [(c["id"], c["reply"]) for c in found] == [
        ("comment-kept", False),
        ("comment-gone", False),
        ("comment-answer", True),  # back under the comment it answers
    ]


async def test_a_thousand_concurrent_comments_on_one_article_give_an_exact_count(
    client: httpx.AsyncClient, publisher: EventBus, redis: aioredis.Redis
) -> None:
    art = await _article(client, publisher, countries=("KZ",))
    comments = [comment(art, f"n{n:04d}", f"Комментарий {n}", minutes=n % 300) for n in range(1000)]
    events = [comment_published(c) for c in comments]
    redelivered = events[::7]  # the same events again, as a redelivery would bring them
    lanes = asyncio.Semaphore(100)  # as many in flight as the bus's connection pool allows

    async def publish(event: Any) -> None:
        async with lanes:
            await publisher.publish(event)

    await asyncio.gather(*(publish(e) for e in [*events, *redelivered]))
    await wait_drained(redis, COMMENTS_STREAM, timeout=60)
    page = (await client.get(f"/news/{art.slug}")).text
    assert count_on(page) == [1000, 1000]
    assert len(shown(page).found) == 50  # one page of them
    front = (await client.get("/")).text
    assert f'href="/news/{art.slug}#comments">Комментарии [1000]</a>' in front
    rss = ET.fromstring((await client.get("/rss.xml")).content)
    (item,) = [i for i in rss.iter("item") if i.findtext("link", "").endswith(art.slug)]
    assert item.findtext(SLASH) == "1000"
    seen = set()
    for n in range(1, 21):
        found = shown((await client.get(f"/news/{art.slug}?comments={n}")).text).found
        seen |= {c["id"] for c in found}
    assert len(seen) == 1000  # every one on exactly one of the 20 pages
    assert (await client.get(f"/news/{art.slug}?comments=21")).status_code == 404


async def test_comments_past_fifty_are_paged_by_plain_links_each_page_cached(
    make_settings: MakeSettings, publisher: EventBus, redis: aioredis.Redis
) -> None:
    async with running(make_settings()) as (app, client):
        art = await _article(client, publisher)
        comments = [comment(art, f"p{n:03d}", f"Текст {n}", minutes=n) for n in range(120)]
        # a reply on page 2 to a comment on page 1
        comments.append(comment(art, "late-reply", "Ответ", parent_id="p049", minutes=500))
        await publish_all(publisher, [comment_published(c) for c in comments])
        await wait_drained(redis, COMMENTS_STREAM)
        first = (await client.get(f"/news/{art.slug}")).text
        ids = [c["id"] for c in shown(first).found]
        assert ids[0] == "comment-p000" and ids[-1] == "comment-p049" and len(ids) == 50
        pager = first[first.index('aria-label="Страницы комментариев"') :]
        pager = pager[: pager.index("</nav>")]
        assert re.findall(r'href="([^"]+)"', pager) == [
            f"/news/{art.slug}?comments=2#comments",
            f"/news/{art.slug}?comments=3#comments",
        ]
        second = (await client.get(f"/news/{art.slug}?comments=2")).text
        found = shown(second).found
        # the thread p049 continues at the top of page 2, under a line naming it
        assert found[0]["id"] == "comment-late-reply" and found[0]["reply"]
        assert "Продолжение ветки: ответы на комментарий" in second
        assert f'href="/news/{art.slug}#comment-p049"' in second
        assert [c["id"] for c in found[1:]][:2] == ["comment-p050", "comment-p051"]
        third = (await client.get(f"/news/{art.slug}?comments=3")).text
        assert [c["id"] for c in shown(third).found][-1] == "comment-p119"
        for bad in ("0", "x", "4", "-1"):
            response = await client.get(f"/news/{art.slug}?comments={bad}")
            assert response.status_code == 404, bad
            assert "Страница не найдена" in response.text
        cache = app.state.cache
        assert cache.get(f"/news/{art.slug}?comments=2") is not None  # the fast path's key
        assert cache.get(f"/news/{art.slug}") is not None


async def test_the_form_is_ingests_page_framed_and_closed_articles_say_so(
    make_settings: MakeSettings, publisher: EventBus, redis: aioredis.Redis
) -> None:
    ingest = "https://ingest.xabar.example"
    async with running(make_settings(ingest_public_url=ingest)) as (_, client):
        art = await _article(client, publisher)
        closed = await _article(client, publisher, comments_open=False)
        first = comment(art, "f1", "Текст")
        await publish_all(
            publisher, [comment_published(first), comment_published(comment(closed, "z1"))]
        )
        await wait_drained(redis, COMMENTS_STREAM, ARTICLES_STREAM)
        response = await client.get(f"/news/{art.slug}")
        page = response.text
        form = f"{ingest}/comments/form?article_id={art.article_id}"
        assert (
            f'<iframe class="comment-form" name="comment-form" title="Форма комментария" '
            f'src="{form}"></iframe>'
        ) in page
        assert (
            f'href="{form}&amp;reply_to=f1" target="comment-form"' in page
        )  # "Ответить" opens the form in the frame, as a reply
        csp = response.headers["content-security-policy"]
        assert f"frame-src {ingest};" in csp + ";" and "frame-ancestors 'none'" in csp
        closed_page = (await client.get(f"/news/{closed.slug}")).text
        assert "Комментарии закрыты" in closed_page
        assert "<iframe" not in closed_page and "Ответить" not in closed_page
        assert count_on(closed_page) == [1, 1]  # what was approved before stays shown
        assert "Комментарии закрыты" not in page


async def test_a_comment_refreshes_the_cached_pages_through_the_revision(
    make_settings: MakeSettings, publisher: EventBus, redis: aioredis.Redis
) -> None:
    async with running(make_settings()) as (app, client):
        art = await _article(client, publisher)
        before = await client.get(f"/news/{art.slug}")
        revision = app.state.cache.revision
        assert app.state.cache.get(f"/news/{art.slug}") is not None
        await publisher.publish(comment_published(comment(art, "r1", "Новый комментарий")))

        async def refreshed() -> bool:
            page = await client.get(
                f"/news/{art.slug}", headers={"If-None-Match": before.headers["etag"]}
            )
            return page.status_code == 200 and "Новый комментарий" in page.text

        await eventually(refreshed, what="the article with its new comment")
        assert app.state.cache.revision > revision
