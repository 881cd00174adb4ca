"""The JSON API and the pages around the lists: article page markup, polls, 404s, redirects."""

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from tests.feed import demo
from tests.feed.conftest import SITE, publish_all, running, wait_drained
from tests.feed.factory import (
    article_state,
    poll_opened,
    poll_state,
    poll_tallied,
    published,
    updated,
)
from tests.support.waiting import eventually
from xabar.contracts import ARTICLES_STREAM, POLLS_STREAM
from xabar.runtime.bus import EventBus
from xabar.runtime.localinfra import start_redis


@pytest.fixture
async def reference(client: httpx.AsyncClient, publisher: EventBus, redis: aioredis.Redis) -> None:
    await publish_all(publisher, demo.events())
    await wait_drained(redis, ARTICLES_STREAM, POLLS_STREAM)


async def test_the_front_api_gives_the_news_of_the_day_the_latest_and_the_poll(
    client: httpx.AsyncClient, reference: None
) -> None:
    front = (await client.get("/api/v1/front")).json()
    assert front["featured"]["title"] == demo.TITLE
    assert front["featured"]["image"]["credit"] == demo.CREDIT
    assert front["featured"]["url"] == f"{SITE}/news/{demo.SLUG}"
    assert [i["title"] for i in front["latest"]["items"]] == [t for _, t, _ in demo.OLDER]
    assert front["latest"]["pages"] == 2 and front["latest"]["total"] == 7
    poll = front["poll"]
    assert poll["question"] == demo.POLL_QUESTION and poll["total_votes"] == 1492
    assert [o["percent"] for o in poll["options"]] == [31, 23, 13, 12, 12, 9]
    assert poll["vote_url"] == "http://127.0.0.1:8083/api/v1/polls/poll-eaeu/votes"
    assert poll["open"] is True and poll["results_visible"] is True


async def test_sections_answer_by_slug_or_code_and_404_otherwise(
    client: httpx.AsyncClient, reference: None
) -> None:
    by_slug = (await client.get("/api/v1/sections/tajikistan")).json()
    by_code = (await client.get("/api/v1/sections/TJ")).json()
    assert by_slug == by_code
    assert by_slug["country"] == {"code": "TJ", "slug": "tajikistan", "name": "Таджикистан"}
    titles = [i["title"] for i in by_slug["latest"]["items"]]
    assert titles == [demo.TITLE, demo.OLDER[5][1]]
    assert by_slug["poll"]["poll_id"] == "poll-eaeu"  # the poll asked in Tajikistan
    missing = await client.get("/api/v1/sections/atlantis")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


async def test_hidden_results_stay_hidden_until_the_poll_closes(
    client: httpx.AsyncClient, publisher: EventBus, redis: aioredis.Redis
) -> None:
    poll = poll_state("poll-h", "Скрытые итоги?", ["Да", "Нет"], results_visibility="after_close")
    await publish_all(publisher, [poll_opened(poll), poll_tallied("poll-h", [9, 1], 11)])
    await wait_drained(redis, POLLS_STREAM)
    (item,) = (await client.get("/api/v1/polls")).json()["items"]
    assert item["results_visible"] is False and item["total_votes"] is None
    assert [o["percent"] for o in item["options"]] == [None, None]
    page = (await client.get("/polls")).text
    assert "90%" not in page and "Результаты будут опубликованы после окончания опроса" in page
    assert 'name="option" value="o1"' in page


async def test_the_article_page_has_open_graph_and_news_article_json_ld(
    client: httpx.AsyncClient, reference: None
) -> None:
    html = (await client.get(f"/news/{demo.SLUG}")).text
    og = dict(re.findall(r'<meta property="([^"]+)" content="([^"]*)">', html))
    assert og["og:type"] == "article" and og["og:title"] == demo.TITLE
    assert og["og:url"] == f"{SITE}/news/{demo.SLUG}"
    assert og["og:image"] == "http://127.0.0.1:8082/media/m-1"
    assert og["og:locale"] == "ru_RU" and og["article:section"] in {"Таджикистан", "Казахстан"}
    (raw,) = re.findall(r'<script type="application/ld\+json">(.*?)</script>', html)
    data = json.loads(raw)
    assert data["@type"] == "NewsArticle" and data["headline"] == demo.TITLE
    assert data["mainEntityOfPage"]["@id"] == f"{SITE}/news/{demo.SLUG}"
    assert data["image"][0]["url"] == "http://127.0.0.1:8082/media/m-1"
    assert data["articleSection"] == ["Таджикистан", "Казахстан"]
    assert data["inLanguage"] == "ru" and data["datePublished"].endswith("Z")
    assert f'<link rel="canonical" href="{SITE}/news/{demo.SLUG}">' in html
    assert "Политический диалог: акцент на координацию и доверие" in html
    assert "Программа сотрудничества на три года" in html  # the whole body, not the excerpt


async def test_an_old_slug_redirects_to_the_current_one(
    client: httpx.AsyncClient, publisher: EventBus, redis: aioredis.Redis
) -> None:
    state = article_state(title="Переименованная")
    await publish_all(
        publisher, [published(state), updated(state.model_copy(update={"slug": "novyj"}), 2)]
    )
    await wait_drained(redis, ARTICLES_STREAM)
    old = await client.get(f"/news/{state.slug}")
    assert old.status_code == 301 and old.headers["location"] == f"{SITE}/news/novyj"
    assert (await client.get("/news/novyj")).status_code == 200


async def test_missing_things_answer_404_in_russian(client: httpx.AsyncClient) -> None:
    for path in (
        "/news/net-takoj",
        "/news?page=2",
        "/polls?page=2",
        "/rss.xml?page=2",
        "/sitemaps/articles-2.xml",
        "/static/nope.css",
        "/x" * 200,
    ):
        response = await client.get(path)
        assert response.status_code == 404, path
        if response.headers["content-type"].startswith("text/html"):
            assert "Страница не найдена" in response.text, path
    api = await client.get("/api/v1/articles/net-takoj")
    assert api.status_code == 404 and api.json()["error"]["code"] == "not_found"
    assert (await client.get("/api/v1/polls?page=0")).status_code == 404


async def test_pages_carry_a_strict_content_security_policy(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp
    assert "form-action 'self' http://127.0.0.1:8083" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    head = await client.head("/")
    assert head.status_code == 200 and head.headers["etag"] == response.headers["etag"]


async def test_openapi_declares_the_json_api(client: httpx.AsyncClient) -> None:
    doc = (await client.get("/openapi.json")).json()
    assert doc["openapi"].startswith("3.1")
    for path in (
        "/api/v1/front",
        "/api/v1/articles",
        "/api/v1/articles/{slug}",
        "/api/v1/sections/{country}",
        "/api/v1/polls",
    ):
        assert "get" in doc["paths"][path], path
    ok = doc["paths"]["/api/v1/articles"]["get"]["responses"]["200"]
    assert ok["content"]["application/json"]["schema"]["$ref"].endswith("PageOut")
    assert {"ArticleOut", "PageOut", "PollOut", "FrontOut", "SectionOut"} <= set(
        doc["components"]["schemas"]
    )


async def test_with_redis_down_cached_pages_stay_up_and_the_rest_answers_503(
    tmp_path: Path, make_settings: Any
) -> None:
    server = start_redis(tmp_path / "redis")
    url = f"redis://127.0.0.1:{server.port}/0"
    publisher = EventBus(url, consumer_name="publisher-test")
    await publisher.start()
    try:
        async with running(make_settings(redis_url=url)) as (app, client):
            first = article_state(title="Успели опубликовать")
            await publisher.publish(published(first))

            async def shown() -> bool:
                return first.title in (await client.get("/")).text

            await eventually(shown, what="the first article")
            revision = app.state.cache.revision
            await publisher.publish(published(article_state(title="Не успели показать")))

            async def applied() -> bool:
                return bool(app.state.cache.revision > revision)

            await eventually(applied, what="the second article applied")
            server.kill()  # Redis dies before anyone asked for the new front page
            front = await client.get("/")
            assert front.status_code == 200 and first.title in front.text  # the last good page
            assert "Не успели показать" not in front.text
            down = await client.get("/news?page=1")  # never rendered: nothing to fall back on
            assert down.status_code == 503 and "Сайт временно недоступен" in down.text
            assert down.headers["retry-after"] == "5"
            api = await client.get("/api/v1/articles")
            assert api.status_code == 503 and api.json()["error"]["code"] == "unavailable"
    finally:
        await publisher.stop()
        server.stop()


async def test_every_bad_parameter_gets_a_clear_4xx_never_a_5xx(
    client: httpx.AsyncClient,
) -> None:
    """Issue 12: numbers Redis cannot take, Unicode digits, zero, leading zeros, overlong slugs
    and unknown URLs are the feed's own 404 page (or the API's 400/404), never the 503 page."""
    pages = (
        "/sitemaps/articles-1844674407370955.xml",
        "/sitemaps/articles-99999999999999999999999.xml",
        "/sitemaps/articles-0.xml",
        "/sitemaps/articles-01.xml",
        "/sitemaps/articles-x.xml",
        "/news?page=²",
        "/news?page=0",
        "/news?page=-1",
        "/news?page=1e3",
        "/news?page=99999999999",
        "/kazakhstan?page=%D9%A3",
        "/rss.xml?page=²",
        "/atlantis",
        "/atlantis/rss.xml",
        "/news/" + "a" * 400,
        "/news/",
        "/nowhere/at/all",
    )
    for path in pages:
        response = await client.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("text/html"), path
        assert "Страница не найдена" in response.text, path
        assert "Traceback" not in response.text and "Error" not in response.text, path
    for path, status, code in (
        ("/api/v1/articles?page=²", 400, "bad_parameter"),
        ("/api/v1/articles?page=abc", 400, "bad_parameter"),
        ("/api/v1/sections/kazakhstan?page=%EF%BC%91", 400, "bad_parameter"),
        ("/api/v1/polls?page=99999999999", 400, "bad_parameter"),
        ("/api/v1/sections/atlantis", 404, "not_found"),
        ("/api/v1/articles/" + "a" * 400, 404, "not_found"),
        ("/api/v1/nothing", 404, "not_found"),
    ):
        response = await client.get(path)
        assert response.status_code == status, path
        assert response.json()["error"]["code"] == code, path
