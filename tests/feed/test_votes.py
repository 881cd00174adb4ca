"""The page a reader comes back to after a vote (the polls service's 303 adds
``voted=POLL.OPTIONS&tally=N``): it says "Ваш голос учтён" with their choice and waits, a
bounded while, until the read model holds the poll's tally N, so the total shown includes the
vote; it is a variant of the page, cached per page, poll and choice and answered by the fast
path. Driven through the real streams on a real Redis."""

import asyncio
import time

import redis.asyncio as aioredis

from tests.feed.conftest import SITE, MakeSettings, eventually, publish_all, running, wait_drained
from tests.feed.factory import (
    article_state,
    poll_opened,
    poll_state,
    poll_tallied,
    published,
)
from xabar.contracts import ARTICLES_STREAM, POLLS_STREAM
from xabar.feed.votes import split_vote
from xabar.runtime.bus import EventBus

POLL = "poll-v"
QUESTION = "Будет ли весна ранней?"


async def _poll(
    publisher: EventBus, redis: aioredis.Redis, counts: list[int], **placement: object
) -> None:
    state = poll_state(POLL, QUESTION, ["Да", "Нет", "Не знаю"], **placement)
    await publish_all(publisher, [poll_opened(state), poll_tallied(POLL, counts, sum(counts))])
    await wait_drained(redis, POLLS_STREAM)


async def test_the_page_after_a_vote_says_it_and_waits_for_the_tally_that_includes_it(
    make_settings: MakeSettings, publisher: EventBus, redis: aioredis.Redis
) -> None:
    async with running(make_settings(vote_wait_ms=5000)) as (app, client):
        await _poll(publisher, redis, [6, 3, 1])
        plain = (await client.get("/")).text
        assert "Всего голосов: 10" in plain and "Голосовать" in plain
        assert f'name="return_to" value="{SITE}/#poll-{POLL}"' in plain
        url = f"/?voted={POLL}.o2&tally=11"
        started = time.monotonic()
        asking = asyncio.create_task(client.get(url))
        await asyncio.sleep(0.3)
        assert not asking.done()  # the page waits: its tally is not in the read model yet
        await publisher.publish(poll_tallied(POLL, [6, 4, 1], 11))
        response = await asking
        waited = time.monotonic() - started
        assert response.status_code == 200 and 0.3 <= waited < 5
        page = response.text
        assert "Ваш голос учтён: «Нет»" in page
        assert "Всего голосов: 11" in page  # the total includes the vote
        assert "Голосовать" not in page and 'name="option"' not in page  # voted: no form
        assert "Итоги обновляются" not in page
        found = split_vote("/", url.partition("?")[2])
        assert found is not None
        variant = app.state.cache.get_variant(found[0])
        assert variant is not None and variant.vote_tally == 11
        again = await client.get(url, headers={"If-None-Match": response.headers["etag"]})
        assert again.status_code == 304  # the same variant, from the fast path
        later = await client.get(f"/?voted={POLL}.o2&tally=10")  # an older vote: the same one
        assert later.status_code == 200 and later.headers["etag"] == response.headers["etag"]
        after = (await client.get("/")).text
        assert "Ваш голос учтён" not in after and "Всего голосов: 11" in after


async def test_a_tally_that_does_not_come_is_waited_for_a_bounded_while_and_said(
    make_settings: MakeSettings, publisher: EventBus, redis: aioredis.Redis
) -> None:
    async with running(make_settings(vote_wait_ms=300)) as (_, client):
        await _poll(publisher, redis, [6, 3, 1])
        started = time.monotonic()
        response = await client.get(f"/?voted={POLL}.o3&tally=999")
        assert 0.3 <= time.monotonic() - started < 3
        page = response.text
        assert response.status_code == 200 and "Ваш голос учтён: «Не знаю»" in page
        assert "Всего голосов: 10" in page
        assert "Итоги обновляются: ваш голос появится в них через несколько секунд." in page


async def test_a_vote_the_page_does_not_show_gets_the_page_itself(
    make_settings: MakeSettings, publisher: EventBus, redis: aioredis.Redis
) -> None:
    async with running(make_settings(vote_wait_ms=2000)) as (app, client):
        await _poll(publisher, redis, [6, 3, 1])
        plain = await client.get("/")
        for query in (
            "voted=other-poll.o1&tally=3",  # a poll this page does not show
            f"voted={POLL}.o9&tally=11",  # an option it does not have
            f"voted={POLL}.o1-o2&tally=11",  # two options of a single-choice poll
            f"voted={POLL}.o1-o1&tally=11",
            f"voted={POLL}.o1",  # no tally
            f"voted={POLL}.o1&tally=x",
            "voted=%3Cscript%3E.o1&tally=1",
            f"voted={POLL}.o1&tally=11111111111111111111",
        ):
            started = time.monotonic()
            response = await client.get(f"/?{query}")
            assert time.monotonic() - started < 1.5, query  # nothing to wait for
            assert response.status_code == 200, query
            assert "Ваш голос учтён" not in response.text, query
            assert response.headers["etag"] == plain.headers["etag"], query
        assert app.state.cache.variant_count == 0


async def test_polls_in_sections_articles_and_on_their_own_pages_say_the_vote_too(
    make_settings: MakeSettings, publisher: EventBus, redis: aioredis.Redis
) -> None:
    art = article_state(countries=("KZ",))
    async with running(make_settings(vote_wait_ms=5000)) as (_, client):
        await publisher.publish(published(art))
        await wait_drained(redis, ARTICLES_STREAM)
        await _poll(
            publisher,
            redis,
            [1, 1, 1],
            front_page=False,
            countries=("KZ",),
            article_ids=(art.article_id,),
            results_visibility="after_vote",
        )
        for path in ("/kazakhstan", f"/news/{art.slug}", f"/polls/{POLL}", "/polls"):
            plain = (await client.get(path)).text
            assert "Результаты видны проголосовавшим." in plain, path
        await publisher.publish(poll_tallied(POLL, [2, 1, 1], 4))
        for path in ("/kazakhstan", f"/news/{art.slug}", f"/polls/{POLL}", "/polls"):
            response = await client.get(f"{path}?voted={POLL}.o1&tally=4")
            page = response.text
            assert response.status_code == 200, path
            assert "Ваш голос учтён: «Да»" in page, path
            # results shown to voters: the reader voted, so they see them, with the vote
            assert "Всего голосов: 4" in page and "<b>50%</b>" in page, path
        page2 = await client.get(f"/kazakhstan?page=1&voted={POLL}.o1&tally=4")
        assert "Ваш голос учтён" in page2.text


async def test_the_pages_after_votes_are_kept_within_their_own_bound(
    make_settings: MakeSettings, publisher: EventBus, redis: aioredis.Redis
) -> None:
    async with running(make_settings(vote_variants=16)) as (app, client):
        articles = [article_state(countries=("KZ",)) for _ in range(20)]
        await publish_all(publisher, [published(a) for a in articles])
        await _poll(publisher, redis, [6, 3, 1])
        # every article applied before the front page's ETag is taken: one applied after it
        # moves the revision, and the page's ETag with it (what failed under load)
        await wait_drained(redis, ARTICLES_STREAM)
        front = await client.get("/")
        for art in articles:
            response = await client.get(f"/news/{art.slug}?voted={POLL}.o1&tally=10")
            assert response.status_code == 200
        for n in range(1, 4):
            assert "Ваш голос учтён" in (await client.get(f"/?voted={POLL}.o{n}&tally=10")).text
        cache = app.state.cache
        assert cache.variant_count == 3  # the article pages show no poll: they are not variants
        for n in range(40):
            await client.get(f"/?x={n}&voted={POLL}.o1&tally=10")
        assert cache.variant_count == 16

        async def front_kept() -> bool:
            return cache.get("/") is not None

        await eventually(front_kept, what="the front page still cached")
        assert (await client.get("/")).headers["etag"] == front.headers["etag"]
