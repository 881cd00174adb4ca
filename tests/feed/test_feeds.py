"""Feeds a real feed client reads without complaint, with the right items in the right order, and
conditional GET on every page and feed."""

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any

import feedparser
import httpx
import jsonschema
import pytest
import redis.asyncio as aioredis

from tests.feed.conftest import SITE, publish_all, wait_drained
from tests.feed.factory import article_state, image, published, updated
from xabar.contracts import ARTICLES_STREAM, ArticleState
from xabar.runtime.bus import EventBus

BASE = datetime(2026, 2, 17, 5, 0, tzinfo=UTC)
COUNT = 25  # feed_items is 20: two pages

# JSON Feed 1.1 (https://www.jsonfeed.org/version/1.1/), the parts a reader relies on.
# feedparser 6.0 reads RSS and Atom only, so JSON Feed is checked against this schema.
JSON_FEED_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["version", "title", "items"],
    "properties": {
        "version": {"const": "https://jsonfeed.org/version/1.1"},
        "title": {"type": "string"},
        "home_page_url": {"type": "string", "format": "uri"},
        "feed_url": {"type": "string", "format": "uri"},
        "next_url": {"type": "string", "format": "uri"},
        "description": {"type": "string"},
        "language": {"type": "string"},
        "authors": {"type": "array", "items": {"type": "object"}},
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id"],
                "anyOf": [{"required": ["content_html"]}, {"required": ["content_text"]}],
                "properties": {
                    "id": {"type": "string"},
                    "url": {"type": "string"},
                    "title": {"type": "string"},
                    "content_html": {"type": "string"},
                    "summary": {"type": "string"},
                    "image": {"type": "string"},
                    "date_published": {"type": "string", "format": "date-time"},
                    "date_modified": {"type": "string", "format": "date-time"},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "authors": {"type": "array", "items": {"type": "object"}},
                },
            },
        },
    },
}


def _states() -> list[ArticleState]:
    """COUNT articles an hour apart; the even ones in Kazakhstan, the odd ones in China."""
    out = []
    for n in range(COUNT):
        at = BASE - timedelta(hours=n)
        out.append(
            article_state(
                500 + n,
                title=f"Новость ленты {n:02d}",
                countries=("KZ",) if n % 2 == 0 else ("CN",),
                tags=("экономика", f"тег {n}"),
                image=image(f"https://img.example/{n}.jpg", credit="Фото: агентство")
                if n == 0
                else None,
                body_html=f"<p>Текст <b>новости</b> {n}</p>",
                published_at=at,
                updated_at=at,
            )
        )
    return out


@pytest.fixture
async def loaded(
    client: httpx.AsyncClient, publisher: EventBus, redis: aioredis.Redis
) -> list[ArticleState]:
    states = _states()
    await publish_all(publisher, [published(s) for s in reversed(states)])
    await wait_drained(redis, ARTICLES_STREAM)
    return states


def _parsed(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.status_code
    parsed = feedparser.parse(
        response.content, response_headers={"content-type": response.headers["content-type"]}
    )
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    return parsed


def _links(parsed: Any) -> dict[str, str]:
    return {link["rel"]: link["href"] for link in parsed.feed.links}


async def _first_page(
    client: httpx.AsyncClient, path: str, media: str, version: str, loaded: list[ArticleState]
) -> tuple[httpx.Response, Any]:
    """The first page of the feed at ``path``: served as ``media``, valid as feedparser's
    ``version``, the 20 newest articles in order; its response and the parsed feed."""
    response = await client.get(path)
    assert response.headers["content-type"].startswith(media)
    parsed = _parsed(response)
    assert parsed.version == version
    assert [e.title for e in parsed.entries] == [s.title for s in loaded[:20]]
    return response, parsed


async def test_rss_is_valid_ordered_and_carries_every_required_element(
    client: httpx.AsyncClient, loaded: list[ArticleState]
) -> None:
    response, parsed = await _first_page(client, "/rss.xml", "application/rss+xml", "rss20", loaded)
    first = parsed.entries[0]
    assert first.link == f"{SITE}/news/{loaded[0].slug}"
    assert first.id.startswith("urn:uuid:") and first.guidislink is False
    assert datetime(*first.published_parsed[:6], tzinfo=UTC) == loaded[0].published_at
    assert {t.term for t in first.tags} == {"Казахстан", "экономика", "тег 0"}
    assert first.content[0].value == "<p>Текст <b>новости</b> 0</p>"
    # the photo as Media RSS (an RSS enclosure must give its length in bytes, unknown here)
    assert first.media_content[0]["url"] == "https://img.example/0.jpg"
    assert first.media_content[0]["type"] == "image/jpeg"
    assert first.media_content[0]["medium"] == "image"
    assert b"<enclosure" not in response.content
    links = _links(parsed)
    assert links["self"] == f"{SITE}/rss.xml"
    assert links["next"] == f"{SITE}/rss.xml?page=2"
    assert links["last"] == f"{SITE}/rss.xml?page=2"
    assert links["first"] == f"{SITE}/rss.xml"
    raw = ET.fromstring(response.content)
    assert raw.find("channel/item/pubDate").text == "Tue, 17 Feb 2026 05:00:00 GMT"  # type: ignore[union-attr]
    guid = raw.find("channel/item/guid")
    assert guid is not None and guid.get("isPermaLink") == "false"


async def test_feeds_page_with_rfc5005_links_and_end_with_a_404(
    client: httpx.AsyncClient, loaded: list[ArticleState]
) -> None:
    for path in ("/rss.xml", "/atom.xml"):
        parsed = _parsed(await client.get(f"{path}?page=2"))
        assert [e.title for e in parsed.entries] == [s.title for s in loaded[20:]]
        links = _links(parsed)
        assert links["previous"] == f"{SITE}{path}" and links["first"] == f"{SITE}{path}"
        assert links["last"] == f"{SITE}{path}?page=2" and "next" not in links
        assert (await client.get(f"{path}?page=3")).status_code == 404
    page2 = (await client.get("/feed.json?page=2")).json()
    assert [i["title"] for i in page2["items"]] == [s.title for s in loaded[20:]]
    assert "next_url" not in page2
    assert (await client.get("/feed.json")).json()["next_url"] == f"{SITE}/feed.json?page=2"


async def test_atom_is_valid_rfc4287_with_ids_dates_and_content(
    client: httpx.AsyncClient, loaded: list[ArticleState]
) -> None:
    response, parsed = await _first_page(
        client, "/atom.xml", "application/atom+xml", "atom10", loaded
    )
    first = parsed.entries[0]
    assert first.id.startswith("urn:uuid:")
    assert first.updated == "2026-02-17T05:00:00Z"
    assert first.content[0].value == "<p>Текст <b>новости</b> 0</p>"
    assert first.summary == loaded[0].lead
    assert _links(parsed)["self"] == f"{SITE}/atom.xml"
    ns = {"a": "http://www.w3.org/2005/Atom"}
    root = ET.fromstring(response.content)
    assert root.find("a:id", ns) is not None and root.find("a:updated", ns) is not None
    assert root.find("a:author/a:name", ns) is not None


async def test_the_json_feed_follows_version_1_1(
    client: httpx.AsyncClient, loaded: list[ArticleState]
) -> None:
    response = await client.get("/feed.json")
    assert response.headers["content-type"].startswith("application/feed+json")
    doc = response.json()
    jsonschema.validate(doc, JSON_FEED_SCHEMA, format_checker=jsonschema.FormatChecker())
    assert [i["title"] for i in doc["items"]] == [s.title for s in loaded[:20]]
    assert doc["items"][0]["image"] == "https://img.example/0.jpg"
    assert doc["items"][0]["date_published"] == "2026-02-17T05:00:00Z"


async def test_section_feeds_carry_only_their_countrys_items(
    client: httpx.AsyncClient, loaded: list[ArticleState]
) -> None:
    kazakh = [s.title for s in loaded if "KZ" in s.countries]
    for path in ("/kazakhstan/rss.xml", "/kazakhstan/atom.xml"):
        parsed = _parsed(await client.get(path))
        assert [e.title for e in parsed.entries] == kazakh
        assert _links(parsed)["self"] == f"{SITE}{path}"
    doc = (await client.get("/kazakhstan/feed.json")).json()
    jsonschema.validate(doc, JSON_FEED_SCHEMA)
    assert [i["title"] for i in doc["items"]] == kazakh
    assert _parsed(await client.get("/turkmenistan/rss.xml")).entries == []


async def test_the_news_sitemap_lists_the_last_two_days_only(
    client: httpx.AsyncClient, publisher: EventBus, redis: aioredis.Redis
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    fresh = article_state(title="Свежая", published_at=now - timedelta(hours=3))
    older = article_state(title="Вчерашняя", published_at=now - timedelta(hours=40))
    stale = article_state(title="Старая", published_at=now - timedelta(days=3))
    await publish_all(publisher, [published(s) for s in (stale, older, fresh)])
    await wait_drained(redis, ARTICLES_STREAM)
    response = await client.get("/sitemap-news.xml")
    ns = {
        "s": "http://www.sitemaps.org/schemas/sitemap/0.9",
        "n": "http://www.google.com/schemas/sitemap-news/0.9",
    }
    root = ET.fromstring(response.content)
    titles = [t.text for t in root.findall("s:url/n:news/n:title", ns)]
    assert titles == ["Свежая", "Вчерашняя"]
    assert root.find("s:url/n:news/n:publication/n:language", ns).text == "ru"  # type: ignore[union-attr]
    index = ET.fromstring((await client.get("/sitemap.xml")).content)
    locs = [loc.text for loc in index.findall("s:sitemap/s:loc", ns)]
    assert f"{SITE}/sitemap-news.xml" in locs and f"{SITE}/sitemaps/articles-1.xml" in locs
    chunk = ET.fromstring((await client.get("/sitemaps/articles-1.xml")).content)
    assert {u.text for u in chunk.findall("s:url/s:loc", ns)} == {
        f"{SITE}/news/{s.slug}" for s in (fresh, older, stale)
    }
    robots = (await client.get("/robots.txt")).text
    assert f"Sitemap: {SITE}/sitemap.xml" in robots


CONDITIONAL = [
    "/",
    "/news",
    "/news?page=2",
    "/kazakhstan",
    "/polls",
    "/rss.xml",
    "/atom.xml",
    "/feed.json",
    "/china/rss.xml",
    "/sitemap-news.xml",
    "/sitemap.xml",
    "/robots.txt",
    "/static/site.css",
    "/api/v1/front",
    "/api/v1/articles",
    "/api/v1/sections/china",
    "/api/v1/polls",
]


async def test_every_page_and_feed_answers_304_to_its_validators(
    client: httpx.AsyncClient, loaded: list[ArticleState]
) -> None:
    for path in [*CONDITIONAL, f"/news/{loaded[3].slug}", f"/api/v1/articles/{loaded[3].slug}"]:
        first = await client.get(path)
        assert first.status_code == 200, path
        etag, modified = first.headers["etag"], first.headers["last-modified"]
        again = await client.get(path, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b"", path
        assert again.headers["etag"] == etag
        weak = await client.get(path, headers={"If-None-Match": f'"nope", W/{etag}'})
        assert weak.status_code == 304, path
        since = await client.get(path, headers={"If-Modified-Since": modified})
        assert since.status_code == 304, path
        other = await client.get(path, headers={"If-None-Match": '"nope"'})
        assert other.status_code == 200 and other.content == first.content, path


async def test_an_event_invalidates_cached_pages_at_once(
    client: httpx.AsyncClient,
    loaded: list[ArticleState],
    publisher: EventBus,
    redis: aioredis.Redis,
) -> None:
    paths = ["/", "/rss.xml", "/kazakhstan/atom.xml", "/api/v1/front"]
    etags = {p: (await client.get(p)).headers["etag"] for p in paths}
    changed = loaded[0].model_copy(update={"title": "Заголовок исправлен редакцией"})
    await publisher.publish(updated(changed, 2))
    await wait_drained(redis, ARTICLES_STREAM)
    for path in paths:
        response = await client.get(path, headers={"If-None-Match": etags[path]})
        assert response.status_code == 200, path
        assert "Заголовок исправлен редакцией" in response.text, path
        assert response.headers["etag"] != etags[path]


async def test_another_replica_sees_the_change_through_redis(
    client: httpx.AsyncClient,
    loaded: list[ArticleState],
    publisher: EventBus,
    redis: aioredis.Redis,
    make_settings: Any,
) -> None:
    from tests.feed.conftest import running
    from tests.support.waiting import eventually

    # a render-only replica: it runs no projector and learns revisions from Redis
    async with running(make_settings(projector=False, consumer_name="feed-2")) as (_, replica):
        before = (await replica.get("/")).text
        assert loaded[1].title in before
        changed = loaded[1].model_copy(update={"title": "Правка видна всем репликам"})
        await publisher.publish(updated(changed, 2))

        async def seen() -> bool:
            return "Правка видна всем репликам" in (await replica.get("/")).text

        await eventually(seen, what="the replica re-rendering after the event")
    assert json.loads((await client.get("/api/v1/front")).text)["latest"]["items"][1]["title"] == (
        "Правка видна всем репликам"
    )
