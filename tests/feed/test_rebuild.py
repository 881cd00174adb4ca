"""The read model can be thrown away: replaying the streams (articles, polls, comments) into an
empty generation gives the same pages byte for byte, events arriving meanwhile are not lost,
and one rebuild runs at a time."""

import asyncio
import os
import sys
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as aioredis

from tests.feed.conftest import publish_all, running, wait_drained
from tests.feed.factory import (
    article_state,
    comment,
    comment_published,
    comment_removed,
    poll_closed,
    poll_opened,
    poll_state,
    poll_tallied,
    published,
    unpublished,
    updated,
)
from tests.support.waiting import eventually
from xabar.contracts import ARTICLES_STREAM, COMMENTS_STREAM, POLLS_STREAM, ArticleState, Event
from xabar.feed import scripts
from xabar.feed.config import FeedSettings
from xabar.feed.errors import RebuildError
from xabar.feed.generations import scan_keys
from xabar.feed.rebuild import rebuild
from xabar.feed.routes.keys import FRONT as FRONT_KEY
from xabar.runtime.bus import EventBus

NOW = datetime.now(UTC).replace(second=0, microsecond=0)
COUNTRIES = (("KZ",), ("TJ", "KZ"), ("UZ",), ("KG",), ("CN",), ("TM",), ())


def _history() -> tuple[list[Event], list[str]]:
    """A realistic stream history: articles, corrections, a slug change, a removal, late old
    versions, featured changes, polls with tallies; and the slugs of the surviving articles."""
    states = [
        article_state(
            3000 + n,
            title=f"Событие дня {n}",
            countries=COUNTRIES[n % len(COUNTRIES)],
            published_at=NOW - timedelta(hours=5 * n),
            updated_at=NOW - timedelta(hours=5 * n),
            featured=n in (3, 8),
            featured_countries=("TJ",) if n == 1 else (),
        )
        for n in range(40)
    ]
    events: list[Event] = [published(s, 1) for s in states]
    fixed = states[5].model_copy(update={"title": "Событие дня 5 (исправлено)", "comment_count": 7})
    moved = states[6].model_copy(update={"slug": "novyj-adres-6"})
    events += [
        updated(fixed, 3),
        updated(states[5], 2),  # late and old
        updated(moved, 2),
        unpublished(states[7], 2),
        updated(states[8].model_copy(update={"featured": False}), 2),
    ]
    open_poll = poll_state("poll-open", "Открытый опрос?", ["Да", "Нет", "Не знаю"])
    hidden = poll_state(
        "poll-hidden", "Опрос со скрытыми итогами?", ["А", "Б"], results_visibility="after_close"
    )
    closed = poll_state(
        "poll-closed",
        "Закрытый опрос?",
        ["Один", "Два"],
        opens_at=NOW - timedelta(days=30),
        closed_at=NOW - timedelta(days=2),
    )
    events += [
        poll_opened(closed.model_copy(update={"closed_at": None}), 1),
        poll_tallied("poll-closed", [10, 30], 41),
        poll_closed(closed, 42),
        poll_opened(hidden, 1),
        poll_tallied("poll-hidden", [3, 1], 5),
        poll_opened(open_poll, 1),
        poll_tallied("poll-open", [5, 3, 2], 11),
        poll_tallied("poll-open", [1, 1, 1], 4),  # late
    ]
    talk = [comment(states[0], f"t{n:02d}", f"Мнение {n}", minutes=n) for n in range(60)]
    reply = comment(states[0], "t-reply", "Ответ", parent_id="t03", minutes=90)
    removed = comment(states[1], "t-removed", "Снятый комментарий")
    events += [comment_published(reply)]  # before the comment it answers
    events += [comment_published(c) for c in talk]
    events += [
        comment_published(removed),
        comment_removed(removed, 3),
        comment_published(removed, 2),  # late and old
        comment_published(talk[5].model_copy(update={"text": "Правка модератора"}), 1),  # old
        comment_published(comment(states[1], "t-kept", "Остался"), 2),
    ]
    slugs = [s.slug for n, s in enumerate(states) if n not in (6, 7)] + ["novyj-adres-6"]
    return events, slugs


def _paths(slugs: list[str]) -> list[str]:
    return [
        "/",
        "/news",
        "/news?page=2",
        "/news?page=7",
        "/kazakhstan",
        "/tajikistan",
        "/kazakhstan?page=2",
        "/polls",
        "/rss.xml",
        "/atom.xml",
        "/feed.json",
        "/rss.xml?page=2",
        "/kazakhstan/rss.xml",
        "/china/feed.json",
        "/tajikistan/atom.xml",
        "/sitemap-news.xml",
        "/sitemap.xml",
        "/sitemaps/articles-1.xml",
        "/api/v1/front",
        "/api/v1/articles?page=2",
        "/api/v1/sections/TJ",
        "/api/v1/polls",
        *(f"/news/{s}" for s in slugs[::4]),
        f"/news/{slugs[0]}?comments=2",
        f"/news/{slugs[1]}",
        f"/api/v1/articles/{slugs[5]}",
    ]


async def _keys(redis: aioredis.Redis, pattern: str) -> list[bytes]:
    """The keys matching ``pattern`` on every node (on a cluster, KEYS asks one)."""
    return [key async for key in scan_keys(redis, pattern)]


def _env(settings: FeedSettings) -> dict[str, str]:
    return {
        **os.environ,
        "XABAR_FEED_REDIS_URL": settings.redis_url,
        "XABAR_FEED_LOG_JSON": "false",
    }


async def _rebuild_process(settings: FeedSettings, *args: str) -> asyncio.subprocess.Process:
    """``python -m xabar.feed rebuild ARGS`` against the test's Redis, its output piped."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "xabar.feed", "rebuild", *args),
        env=_env(settings),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_a_rebuild_reproduces_every_page_byte_for_byte(
    settings: FeedSettings, publisher: EventBus, redis: aioredis.Redis
) -> None:
    events, slugs = _history()
    async with running(settings) as (app, client):
        await publish_all(publisher, events)
        await wait_drained(redis, ARTICLES_STREAM, POLLS_STREAM, COMMENTS_STREAM)
        paths = _paths(slugs)
        before = {}
        for path in paths:
            response = await client.get(path)
            assert response.status_code == 200, path
            before[path] = response.content
        assert "Комментарии [61]" in before[f"/news/{slugs[0]}"].decode()
        second = before[f"/news/{slugs[0]}?comments=2"].decode()
        assert "Мнение 59" in second and "Мнение 5<" not in second
        assert "Снятый" not in before[f"/news/{slugs[1]}"].decode()
        old = (await redis.get("{feed}:current") or b"").decode()
        assert await _keys(redis, f"{{feed}}:{old}:*")
        assert await _keys(redis, f"{{feed.d*}}:{old}:*")  # the documents' buckets

        proc = await _rebuild_process(settings, "--grace", "0", "--batch", "7")
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, err.decode()
        new = (await redis.get("{feed}:current") or b"").decode()
        assert new != old
        assert f"rebuilt read model {new} (was {old}): {len(events)} entries" in out.decode()
        assert f"rebuild {new}" in err.decode() and "ev/s" in err.decode()  # the progress bar
        assert await _keys(redis, f"{{feed}}:{old}:*") == []  # the old generation is gone
        assert await _keys(redis, f"{{feed.d*}}:{old}:*") == []  # its documents too
        assert await redis.get("{feed}:building") is None

        revision = int(await redis.get("{feed}:rev") or 0)
        cache = app.state.cache

        async def switched() -> bool:
            return bool(cache.revision >= revision)

        await eventually(switched, what="the app hearing of the switch")
        for path in paths:
            response = await client.get(path)
            assert response.status_code == 200, path
            assert response.content == before[path], path
        front = cache.get(FRONT_KEY)
        assert front is not None and front.revision >= revision  # rendered anew from the rebuild


async def test_a_rebuild_over_a_trimmed_stream_takes_the_older_articles_over(
    settings: FeedSettings, publisher: EventBus, redis: aioredis.Redis
) -> None:
    """``xabar.articles`` keeps a window (``STREAM_WINDOWS``): what is older than it comes from
    the served generation, so the pages stay the same byte for byte (tombstones, old slugs and
    Last-Modified included)."""
    events, slugs = _history()
    async with running(settings) as (app, client):
        await publish_all(publisher, events)
        await wait_drained(redis, ARTICLES_STREAM, POLLS_STREAM, COMMENTS_STREAM)
        moved_from, gone = (f"/news/{events[n].data.slug}" for n in (6, 7))
        paths = [*_paths(slugs), moved_from, gone]
        before = {path: await client.get(path) for path in paths}
        assert before[moved_from].status_code == 301 and before[gone].status_code == 410
        # the window holds the last 3 article events: articles 6 (its slug moved), 7 (gone), 8
        await redis.xtrim(ARTICLES_STREAM, maxlen=3, approximate=False)
        report = await rebuild(redis, progress=False, grace_s=0)
        assert report.per_stream[ARTICLES_STREAM] == 3
        assert report.taken_over == 37  # every other article, from the served generation
        revision = int(await redis.get("{feed}:rev") or 0)

        async def switched() -> bool:
            return bool(app.state.cache.revision >= revision)

        await eventually(switched, what="the app hearing of the switch")
        for path in paths:
            response = await client.get(path)
            want = before[path]
            assert response.status_code == want.status_code, path
            assert response.content == want.content, path
            assert response.headers.get("last-modified") == want.headers.get("last-modified")


async def test_a_generation_written_before_the_buckets_is_served_then_rebuilt_into_them(
    settings: FeedSettings, publisher: EventBus, redis: aioredis.Redis
) -> None:
    """An upgrade: the served generation holds its documents in one hash (``{feed}:G:a``, as
    before the buckets); pages read them there until a rebuild moves them into the buckets, even
    with the stream's history gone."""
    states = [article_state(5000 + n, published_at=NOW - timedelta(hours=n)) for n in range(12)]
    async with running(settings) as (app, client):
        await publish_all(publisher, [published(s) for s in states])
        await wait_drained(redis, ARTICLES_STREAM)
        before = (await client.get("/news")).content
        current = (await redis.get("{feed}:current") or b"").decode()
        for state in states:  # the layout before the buckets
            bucket = scripts.doc_key(scripts.doc_bucket(state.article_id), current)
            raw = await redis.hget(bucket, state.article_id) or b""
            await redis.hset(f"{{feed}}:{current}:a", state.article_id, raw.partition(b":")[2])
            await redis.hdel(bucket, state.article_id)
        await redis.incr("{feed}:rev")  # the pages cached before are dropped
        revision = int(await redis.get("{feed}:rev") or 0)

        async def heard() -> bool:
            return bool(app.state.cache.revision >= revision)

        await eventually(heard, what="the app hearing of the new revision")
        assert (await client.get("/news")).content == before
        await redis.xtrim(ARTICLES_STREAM, maxlen=0, approximate=False)
        report = await rebuild(redis, progress=False, grace_s=0)
        assert report.taken_over == len(states)
        assert await _keys(redis, "{feed}:*:a") == []
        revision = int(await redis.get("{feed}:rev") or 0)  # the switch's
        await eventually(heard, what="the app hearing of the switch")
        assert (await client.get(f"/news/{states[3].slug}")).status_code == 200
        assert (await client.get("/news")).content == before


async def test_events_published_during_a_rebuild_are_not_lost(
    client: object, publisher: EventBus, redis: aioredis.Redis
) -> None:
    base = [article_state(4000 + n, published_at=NOW - timedelta(minutes=n)) for n in range(1500)]
    await publish_all(publisher, [published(s) for s in base])
    await wait_drained(redis, ARTICLES_STREAM, timeout=30)
    late: list[ArticleState] = []

    async def publish_one() -> None:
        n = len(late)
        state = article_state(6000 + n, title=f"Во время перестройки {n}")
        late.append(state)
        await publisher.publish(published(state))
        await publisher.publish(updated(base[n].model_copy(update={"title": f"Правка {n}"}), 2))

    async def in_the_window() -> None:
        """After the replay read the streams' ends, before the switch: only the live projector
        sees these, and it must write them into the generation being built as well."""
        for _ in range(5):
            await publish_one()
        await wait_drained(redis, ARTICLES_STREAM)

    task = asyncio.create_task(
        rebuild(redis, batch=50, progress=False, grace_s=0, before_switch=in_the_window)
    )
    while len(late) < 20:  # and some while the replay runs
        await publish_one()
        await asyncio.sleep(0.002)
    report = await task
    assert report.entries >= len(base)
    await wait_drained(redis, ARTICLES_STREAM, timeout=30)
    current = (await redis.get("{feed}:current") or b"").decode()
    assert current == report.generation
    assert await redis.zcard(f"{{feed}}:{current}:z:all") == len(base) + len(late)
    for i, state in enumerate(late):
        assert await redis.hget(f"{{feed}}:{current}:s", state.slug) == state.article_id.encode()
        assert await redis.hget(f"{{feed}}:{current}:v", base[i].article_id) == b"2"


async def test_only_one_rebuild_runs_at_a_time(
    settings: FeedSettings, redis: aioredis.Redis
) -> None:
    await redis.set("{feed}:building", "g999", ex=60)
    with pytest.raises(RebuildError, match="another rebuild is running"):
        await rebuild(redis, progress=False, grace_s=0)
    proc = await _rebuild_process(settings, "--no-progress")
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 1
    assert "rebuild failed: another rebuild is running" in err.decode()
    assert await redis.get("{feed}:building") == b"g999"  # the other one's lock is left alone
