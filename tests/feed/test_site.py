"""The readers' site against the reference, on the real streams and Redis: polls where their
placement says, tag pages, "О стране" from the newsroom's profiles, 410 for what was taken down,
pages compressed as the browser asks, RSS descriptions a feed reader shows as text."""

import gzip
import re
from datetime import timedelta

import brotli  # type: ignore[import-untyped]
import feedparser
import httpx
import redis.asyncio as aioredis

from tests.feed.conftest import publish_all, wait_drained
from tests.feed.factory import (
    article_state,
    now,
    poll_closed,
    poll_opened,
    poll_state,
    published,
    unpublished,
    updated,
)
from xabar.contracts import ARTICLES_STREAM, POLLS_STREAM, CountryProfilePublished
from xabar.runtime.bus import EventBus


def profile(version: int, lead: str, code: str = "KZ") -> CountryProfilePublished:
    return CountryProfilePublished.create(  # type: ignore[no-any-return]
        producer="publisher",
        aggregate_id=code,
        version=version,
        data={
            "country": code,
            "title": "Казахстан",
            "lead": lead,
            "body_html": "<p>Текст <script>alert(1)</script>профиля.</p>",
            "facts": [{"label": "Столица", "value": "Астана"}],
            "updated_at": now(),
        },
    )


async def test_a_poll_is_shown_where_its_placement_says(
    client: httpx.AsyncClient, publisher: EventBus, redis: aioredis.Redis
) -> None:
    story = article_state(title="Статья с опросом", countries=("UZ",))
    other = article_state(title="Статья без опроса", countries=("UZ",))
    poll = poll_state(
        "poll-placed",
        "Где показан этот опрос?",
        ["Здесь", "Там"],
        front_page=False,
        countries=("KZ",),
        article_ids=(story.article_id,),
    )
    await publish_all(publisher, [published(story), published(other), poll_opened(poll)])
    await wait_drained(redis, ARTICLES_STREAM, POLLS_STREAM)
    question = "Где показан этот опрос?"
    assert question not in (await client.get("/")).text
    assert question in (await client.get("/kazakhstan")).text
    assert question not in (await client.get("/uzbekistan")).text
    assert question in (await client.get(f"/news/{story.slug}")).text
    assert question not in (await client.get(f"/news/{other.slug}")).text
    page = await client.get("/polls/poll-placed")  # the title links to the poll's own page
    assert page.status_code == 200 and question in page.text
    assert (
        '<a href="/polls/poll-placed">Где показан этот опрос?</a>'
        in (await client.get("/kazakhstan")).text
    )

    moved = poll.model_copy(update={"front_page": True, "countries": (), "article_ids": ()})
    await publish_all(publisher, [poll_closed(moved, 2)])
    await wait_drained(redis, POLLS_STREAM)
    assert question in (await client.get("/")).text
    assert question not in (await client.get("/kazakhstan")).text
    assert question not in (await client.get(f"/news/{story.slug}")).text
    assert (await client.get("/polls/net-takogo")).status_code == 404


async def test_tag_pages_list_the_articles_of_a_tag_and_follow_their_edits(
    client: httpx.AsyncClient, publisher: EventBus, redis: aioredis.Redis
) -> None:
    a = article_state(title="Первая об экономике", tags=("экономика", "газ"))
    b = article_state(title="Вторая об экономике", tags=("экономика",))
    await publish_all(publisher, [published(a), published(b)])
    await wait_drained(redis, ARTICLES_STREAM)
    page = await client.get("/tags/экономика")
    assert page.status_code == 200 and "Тег «экономика»" in page.text
    assert a.title in page.text and b.title in page.text
    article = (await client.get(f"/news/{a.slug}")).text
    assert '<a class="tag" href="/tags/%D0%B3%D0%B0%D0%B7" rel="tag">газ</a>' in article

    await publish_all(publisher, [updated(a.model_copy(update={"tags": ("газ",)}), 2)])
    await wait_drained(redis, ARTICLES_STREAM)
    page = await client.get("/tags/экономика")
    assert a.title not in page.text and b.title in page.text
    assert a.title in (await client.get("/tags/газ")).text
    for missing in ("/tags/net-takogo-tega", "/tags/экономика?page=2", "/tags/" + "т" * 200):
        response = await client.get(missing)
        assert response.status_code == 404 and "Страница не найдена" in response.text


async def test_the_country_page_shows_the_newsrooms_newest_profile(
    client: httpx.AsyncClient, publisher: EventBus, redis: aioredis.Redis
) -> None:
    assert (await client.get("/kazakhstan/about")).status_code == 404  # no profile yet
    await publish_all(
        publisher,
        [
            published(article_state(title="Новость Казахстана", countries=("KZ",))),
            profile(2, "Крупнейшая страна региона."),
            profile(1, "Старая версия профиля."),  # late: changes nothing
        ],
    )
    await wait_drained(redis, ARTICLES_STREAM)
    about = await client.get("/kazakhstan/about")
    assert about.status_code == 200
    assert "О стране: Казахстан" in about.text and "Крупнейшая страна региона." in about.text
    assert '<th scope="row">Столица</th><td>Астана</td>' in about.text
    assert "Новость Казахстана" in about.text and "<script>alert" not in about.text
    assert "Старая версия" not in about.text
    section = (await client.get("/kazakhstan")).text
    assert "Крупнейшая страна региона." in section and 'href="/kazakhstan/about"' in section
    front = (await client.get("/")).text  # "О стране", linked as on the reference page
    assert re.search(r'<h2 id="about-title" class="about-title">О стране</h2>', front)
    assert front.count('/about">') == 6


async def test_pages_come_compressed_as_the_browser_asks_and_once_per_revision(
    client: httpx.AsyncClient, publisher: EventBus, redis: aioredis.Redis
) -> None:
    await publish_all(publisher, [published(article_state(title=f"Новость {n}")) for n in range(8)])
    await wait_drained(redis, ARTICLES_STREAM)
    plain = await client.get("/", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.headers["vary"] == "Accept-Encoding"
    for coding, decode in (("br", brotli.decompress), ("gzip", gzip.decompress)):
        async with client.stream("GET", "/", headers={"Accept-Encoding": coding}) as response:
            raw = b"".join([chunk async for chunk in response.aiter_raw()])
        assert response.headers["content-encoding"] == coding
        assert response.headers["vary"] == "Accept-Encoding"
        assert decode(raw) == plain.content and len(raw) < len(plain.content) / 3
        again = await client.get(
            "/", headers={"Accept-Encoding": coding, "If-None-Match": response.headers["etag"]}
        )
        assert again.status_code == 304
    for path in ("/rss.xml", "/feed.json", "/api/v1/front", "/news?page=1", "/kazakhstan"):
        response = await client.get(path, headers={"Accept-Encoding": "gzip, deflate, br"})
        assert response.headers.get("content-encoding") == "br", path


async def test_an_rss_description_is_text_to_a_feed_reader(
    client: httpx.AsyncClient, publisher: EventBus, redis: aioredis.Redis
) -> None:
    state = article_state(lead="Лид с <b>разметкой</b> & амперсандом", published_at=now())
    await publish_all(publisher, [published(state)])
    await wait_drained(redis, ARTICLES_STREAM)
    rss = await client.get("/rss.xml")
    assert b"<description>\xd0\x9b\xd0\xb8\xd0\xb4 \xd1\x81 &amp;lt;b&amp;gt;" in rss.content
    parsed = feedparser.parse(rss.content)
    entry = next(e for e in parsed.entries if e.link.endswith(state.slug))
    assert "<b>" not in entry.description and "&lt;b&gt;разметкой" in entry.description


async def test_an_article_taken_down_is_gone_and_one_that_never_was_is_not_found(
    client: httpx.AsyncClient, publisher: EventBus, redis: aioredis.Redis
) -> None:
    state = article_state(title="Будет снята", published_at=now() - timedelta(hours=1))
    await publish_all(publisher, [published(state), unpublished(state, 2)])
    await wait_drained(redis, ARTICLES_STREAM)
    gone = await client.get(f"/news/{state.slug}")
    assert gone.status_code == 410 and "Материал снят с публикации" in gone.text
    assert gone.headers["content-type"].startswith("text/html")
    never = await client.get("/news/nikogda-ne-bylo")
    assert never.status_code == 404 and "Страница не найдена" in never.text
    await publish_all(publisher, [published(state, 3)])  # published again: back
    await wait_drained(redis, ARTICLES_STREAM)
    assert (await client.get(f"/news/{state.slug}")).status_code == 200
