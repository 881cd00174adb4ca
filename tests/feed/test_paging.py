"""Deep paging: 1,039 pages of news, page 1039 served by the same Redis commands as page 1, and
404 past the last page."""

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from tests.feed.factory import article_state, published
from xabar.contracts import ArticleState
from xabar.feed.projector import Projector

PAGES = 1039
TOTAL = PAGES * 6 - 1  # 6,233 articles: 1,038 full pages of 6 and a last one of 5
START = datetime(2025, 1, 1, tzinfo=UTC)
COUNTRY_CYCLE = ("KZ", "KG", "UZ", "TJ", "TM", "CN")


def _state(n: int) -> ArticleState:
    at = START - timedelta(minutes=n)  # n = 0 is the newest
    return article_state(
        20_000 + n,
        title=f"Глубокая новость {n}",
        lead="Проверка глубоких страниц.",
        body_html="<p>Текст.</p>",
        countries=(COUNTRY_CYCLE[n % 6],),
        published_at=at,
        updated_at=at,
    )


@pytest.fixture
async def deep(client: httpx.AsyncClient, redis: aioredis.Redis) -> list[ArticleState]:
    """TOTAL articles applied through the projector's batch path, as a replay applies them."""
    states = [_state(n) for n in range(TOTAL)]
    projector = Projector(redis)
    for offset in range(0, TOTAL, 1000):
        await projector.apply_many([published(s) for s in states[offset : offset + 1000]])
    return states


def _titles(html: str) -> list[str]:
    return re.findall(r"<h[23] class=\"item-title\"><a href=\"/news/[^\"]+\">([^<]+)</a>", html)


async def test_page_1039_is_served_and_page_1040_is_not(
    client: httpx.AsyncClient, deep: list[ArticleState]
) -> None:
    last = await client.get(f"/news?page={PAGES}")
    assert last.status_code == 200
    assert _titles(last.text) == [s.title for s in deep[(PAGES - 1) * 6 :]]
    assert len(_titles(last.text)) == 5
    page750 = await client.get("/news?page=750")
    assert _titles(page750.text) == [s.title for s in deep[749 * 6 : 750 * 6]]
    assert re.search(r'<span class="current" aria-current="page">750</span>', page750.text)
    for bad in (str(PAGES + 1), "5000", "0", "-1", "abc", "1e3", "٣"):
        assert (await client.get(f"/news?page={bad}")).status_code == 404, bad
    api = await client.get(f"/api/v1/articles?page={PAGES}")
    assert api.status_code == 200 and api.json()["pages"] == PAGES
    assert api.json()["total"] == TOTAL
    assert (await client.get(f"/api/v1/articles?page={PAGES + 1}")).status_code == 404
    bad = await client.get("/api/v1/articles?page=abc")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_parameter"


async def test_the_front_page_pager_reaches_the_last_page(
    client: httpx.AsyncClient, deep: list[ArticleState]
) -> None:
    front = (await client.get("/")).text
    pager = front[front.index('<nav class="pager"') :]
    pager = pager[: pager.index("</nav>")]
    numbers = re.findall(r">(\d+|…)<", pager)
    assert numbers == ["1", "2", "3", "4", "5", "…", str(PAGES)]
    assert f'href="/news?page={PAGES}"' in pager
    assert _titles(front) == [s.title for s in deep[:6]]


async def test_country_sections_page_on_their_own(
    client: httpx.AsyncClient, deep: list[ArticleState]
) -> None:
    kazakh = [s for s in deep if s.countries == ("KZ",)]
    last = -(-len(kazakh) // 6)
    page = await client.get(f"/kazakhstan?page={last}")
    assert page.status_code == 200
    assert _titles(page.text) == [s.title for s in kazakh[(last - 1) * 6 :]]
    assert (await client.get(f"/kazakhstan?page={last + 1}")).status_code == 404
    section = (await client.get("/api/v1/sections/KZ?page=2")).json()
    assert [i["title"] for i in section["latest"]["items"]] == [s.title for s in kazakh[6:12]]


async def _command_calls(redis: aioredis.Redis) -> dict[str, int]:
    stats: dict[str, Any] = await redis.info("commandstats")
    return {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in stats.items()}


# (GET is left out: the revision watcher polls with it in the background)
READ_COMMANDS = (
    "evalsha",
    "zrevrange",
    "zrange",
    "zcard",
    "hmget",
    "hget",
    "hgetall",
    "zscan",
    "sort",
    "scan",
    "zrangebyscore",
    "zrevrangebyscore",
    "lrange",
)


async def test_a_deep_page_costs_the_same_redis_commands_as_page_one(
    client: httpx.AsyncClient, deep: list[ArticleState], make_settings: Any, redis_url: str
) -> None:
    """Constant cost, shown structurally: rendering page 1039 sends Redis exactly the commands
    rendering page 2 does (one script: ZCARD, ZREVRANGE by index and a ZCARD of each article's
    comments; then one HMGET per bucket of the 6 documents, in one pipeline: as many as the
    buckets the page's ids fall in, 6 at most), so no work grows with the page number. ZREVRANGE
    by index is O(log n + page size). (The last page holds fewer articles, so the page before it
    is asked.)"""
    counter = aioredis.from_url(redis_url)
    try:
        deltas = []
        for page in (2, PAGES - 1, 500):
            # a cache miss each time: render a page nobody has asked for yet
            before = await _command_calls(counter)
            response = await client.get(f"/news?page={page}")
            after = await _command_calls(counter)
            assert response.status_code == 200
            deltas.append({c: after.get(c, 0) - before.get(c, 0) for c in READ_COMMANDS})
        buckets = [d.pop("hmget") for d in deltas]
        assert all(1 <= n <= 6 for n in buckets), buckets
        assert deltas[0] == deltas[1] == deltas[2]
        assert deltas[0]["evalsha"] == 1
        assert deltas[0]["zcard"] == 1 + 6  # the list's length, each article's comments
        assert deltas[0]["zrange"] == deltas[0]["scan"] == deltas[0]["sort"] == 0
        # asked again, with nothing changed: served from the page cache, no Redis at all
        before = await _command_calls(counter)
        for page in (2, PAGES - 1, 500):
            assert (await client.get(f"/news?page={page}")).status_code == 200
        assert (await client.get("/")).status_code == 200
        assert (await client.get("/")).status_code == 200
        after = await _command_calls(counter)
        assert after.get("evalsha", 0) - before.get("evalsha", 0) == 1  # the front page, once
    finally:
        await counter.aclose()
