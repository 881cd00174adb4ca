"""The read model follows the events on the real streams: published articles appear everywhere,
unpublished ones disappear everywhere, and nothing old or repeated rolls anything back."""

from typing import Any

import httpx
import redis.asyncio as aioredis

from tests.feed.conftest import publish_all, running, wait_drained
from tests.feed.factory import (
    article_state,
    poll_opened,
    poll_state,
    poll_tallied,
    published,
    unpublished,
    updated,
)
from tests.support.waiting import eventually
from xabar.contracts import ARTICLES_STREAM, POLLS_STREAM, dlq_stream
from xabar.feed.projector import ApplyError, Projector
from xabar.runtime.bus import EventBus, list_dead_letters

SECTIONS_OF_TEST_ARTICLE = ("kazakhstan", "uzbekistan")
EVERYWHERE = [
    "/",
    "/news",
    "/kazakhstan",
    "/uzbekistan",
    "/rss.xml",
    "/atom.xml",
    "/feed.json",
    *(f"/{s}/{f}" for s in SECTIONS_OF_TEST_ARTICLE for f in ("rss.xml", "atom.xml", "feed.json")),
    "/sitemap-news.xml",
    "/api/v1/front",
    "/api/v1/articles",
    "/api/v1/sections/kazakhstan",
    "/api/v1/sections/UZ",
]
ELSEWHERE = ["/kyrgyzstan", "/china", "/kyrgyzstan/rss.xml", "/china/atom.xml"]


async def _texts(client: httpx.AsyncClient, paths: list[str]) -> dict[str, str]:
    out = {}
    for path in paths:
        response = await client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        out[path] = response.text
    return out


async def test_a_published_article_appears_on_the_front_page_in_its_sections_and_every_feed(
    client: httpx.AsyncClient, publisher: EventBus
) -> None:
    state = article_state(title="Кабар о запуске ленты", countries=("KZ", "UZ"))
    await publisher.publish(published(state))

    async def everywhere() -> bool:
        texts = await _texts(client, EVERYWHERE)
        return all(state.title in text for text in texts.values())

    await eventually(everywhere, what="the article on every page and feed")
    page = await client.get(f"/news/{state.slug}")
    assert page.status_code == 200 and state.title in page.text
    assert (await client.get(f"/api/v1/articles/{state.slug}")).json()["title"] == state.title
    for path, text in (await _texts(client, ELSEWHERE)).items():
        assert state.title not in text, path


async def test_an_unpublished_article_disappears_everywhere(
    client: httpx.AsyncClient, publisher: EventBus
) -> None:
    kept = article_state(title="Остается на сайте", countries=("KZ", "UZ"))
    gone = article_state(title="Снято с публикации", countries=("KZ", "UZ"))
    await publish_all(publisher, [published(kept), published(gone)])

    async def shown() -> bool:
        return all(gone.title in t for t in (await _texts(client, EVERYWHERE)).values())

    await eventually(shown, what="the article shown")
    await publisher.publish(unpublished(gone, 2))

    async def removed() -> bool:
        texts = await _texts(client, EVERYWHERE)
        return all(gone.title not in t and kept.title in t for t in texts.values())

    await eventually(removed, what="the article removed everywhere")
    page = await client.get(f"/news/{gone.slug}")  # it was there: Gone, in the site's words
    assert page.status_code == 410 and "Материал снят с публикации" in page.text
    assert (await client.get(f"/api/v1/articles/{gone.slug}")).status_code == 404


async def test_an_older_version_arriving_late_never_rolls_back(
    client: httpx.AsyncClient, publisher: EventBus, redis: aioredis.Redis
) -> None:
    v1 = article_state(title="Версия первая")
    v3 = v1.model_copy(update={"title": "Версия третья", "lead": "Исправленный лид"})
    v2 = v1.model_copy(update={"title": "Версия вторая"})
    removed = article_state(title="Снята и не вернется")
    await publish_all(
        publisher,
        [
            published(v1, 1),
            updated(v3, 3),
            updated(v2, 2),  # late: older than what the feed holds
            published(removed, 1),
            unpublished(removed, 5),
            published(removed, 4),  # late: must not bring it back
            updated(removed, 3),
        ],
    )
    await wait_drained(redis, ARTICLES_STREAM)
    article = await client.get(f"/news/{v1.slug}")
    assert "Версия третья" in article.text and "Исправленный лид" in article.text
    assert "Версия вторая" not in article.text
    front = (await client.get("/")).text
    assert "Версия третья" in front and "Версия вторая" not in front
    assert removed.title not in front
    assert (await client.get(f"/news/{removed.slug}")).status_code == 410


async def test_a_redelivered_event_changes_nothing(
    client: httpx.AsyncClient, publisher: EventBus, redis: aioredis.Redis
) -> None:
    state = article_state(title="Один раз")
    event = published(state, 1)
    await publisher.publish(event)
    await wait_drained(redis, ARTICLES_STREAM)
    revision = await redis.get("{feed}:rev")
    etag = (await client.get("/")).headers["etag"]
    await publisher.publish(event)  # the same event again, as a redelivery would bring it
    await publisher.publish(published(state, 1))  # or a duplicate with another event id
    await wait_drained(redis, ARTICLES_STREAM)
    assert await redis.get("{feed}:rev") == revision
    assert (await client.get("/")).headers["etag"] == etag


async def test_poll_tallies_are_version_gated_apart_from_the_poll_state(
    client: httpx.AsyncClient, publisher: EventBus, redis: aioredis.Redis
) -> None:
    poll = poll_state("poll-x", "Нравится ли вам новая лента?", ["Да", "Нет"])
    await publish_all(
        publisher,
        [
            poll_tallied("poll-x", [75, 25], 101),  # a tally may overtake the poll's opening
            poll_opened(poll, 1),
            poll_tallied("poll-x", [1, 1], 3),  # late and old
        ],
    )
    await wait_drained(redis, POLLS_STREAM)
    front = (await client.get("/")).text
    assert "Нравится ли вам новая лента?" in front
    assert "Всего голосов: 100" in front and "75%" in front and "25%" in front
    polls = (await client.get("/api/v1/polls")).json()
    assert polls["items"][0]["total_votes"] == 100
    assert [o["percent"] for o in polls["items"][0]["options"]] == [75, 25]


async def test_an_event_the_script_fails_on_changes_nothing_for_the_rest_of_its_batch(
    redis: aioredis.Redis,
) -> None:
    """One script call applies many events: one failing midway (here: its section's list is
    not a sorted set) neither stops the others nor records its version, so its redelivery
    applies it whole once the cause is gone."""
    projector = Projector(redis)
    await projector.apply(published(article_state(countries=("KZ",))))  # the read model exists
    generation = (await redis.get("{feed}:current")).decode()
    broken = f"{{feed}}:{generation}:z:c:TM"
    await redis.set(broken, "not a sorted set")
    good = [article_state(countries=("KZ",)) for _ in range(2)]
    bad = article_state(countries=("TM",))
    events = [published(good[0]), published(bad), published(good[1])]

    result = await projector.apply_events(events)

    assert result.errors[0] is None and result.errors[2] is None
    assert isinstance(result.errors[1], ApplyError) and "WRONGTYPE" in str(result.errors[1])
    assert result.changed == 2
    versions = f"{{feed}}:{generation}:v"
    assert await redis.hget(versions, bad.article_id) is None  # not recorded: not applied
    assert await redis.hget(versions, good[1].article_id) == b"1"

    await redis.delete(broken)
    again = await projector.apply_events([events[1]])  # the redelivery
    assert again.errors == [None] and again.changed == 1
    assert await redis.zscore(broken, bad.article_id) is not None
    assert await redis.hget(versions, bad.article_id) == b"1"


async def test_the_live_projector_dead_letters_only_the_event_it_cannot_apply(
    client: httpx.AsyncClient, publisher: EventBus, redis: aioredis.Redis
) -> None:
    first = article_state(title="Первая в пачке", countries=("KZ",))
    await publisher.publish(published(first))
    await wait_drained(redis, ARTICLES_STREAM)
    generation = (await redis.get("{feed}:current")).decode()
    await redis.set(f"{{feed}}:{generation}:z:c:TM", "not a sorted set")
    before = article_state(title="Соседка до", countries=("KZ",))
    bad = article_state(title="Несчастная", countries=("TM",))
    after = article_state(title="Соседка после", countries=("UZ",))
    await publish_all(publisher, [published(before), published(bad), published(after)])

    async def dead_lettered() -> bool:
        return await redis.xlen(dlq_stream(ARTICLES_STREAM)) == 1

    await eventually(dead_lettered, timeout=15, what="the bad event in the DLQ")
    await wait_drained(redis, ARTICLES_STREAM)
    for neighbour in (before, after):
        assert (await client.get(f"/news/{neighbour.slug}")).status_code == 200
    letters = await list_dead_letters(redis, ARTICLES_STREAM)
    assert len(letters) == 1 and "WRONGTYPE" in letters[0].error
    assert bad.article_id.encode() in letters[0].payload[b"__data__"]


async def test_a_replica_without_a_projector_hears_each_new_revision_pushed(
    client: httpx.AsyncClient,
    publisher: EventBus,
    redis: aioredis.Redis,
    make_settings: Any,
) -> None:
    """The projector publishes every new revision; a render-only replica whose poll of the
    revision is an hour apart still drops its cached page: only the push can have told it."""
    state = article_state(title="Первая редакция заметки")
    await publisher.publish(published(state, 1))
    await wait_drained(redis, ARTICLES_STREAM)
    quiet = make_settings(projector=False, consumer_name="feed-2", revision_poll_ms=3_600_000)
    async with running(quiet) as (_, replica):
        assert "Первая редакция заметки" in (await replica.get("/")).text  # cached now
        changed = state.model_copy(update={"title": "Правка пришла сама"})
        await publisher.publish(updated(changed, 2))

        async def seen() -> bool:
            return "Правка пришла сама" in (await replica.get("/")).text

        await eventually(seen, timeout=10, what="the replica re-rendering after the push")
