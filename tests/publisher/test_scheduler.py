"""Scheduling that never misses and never doubles: real processes, real Redis and FerretDB."""

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from pymongo import AsyncMongoClient

from tests.conftest import TokenKeys
from tests.publisher.conftest import (
    Harness,
    SettingsFactory,
    article_and_url,
    create_article,
    env_of,
    running_in_task,
    stream_events,
)
from tests.support.procs import service_process
from tests.support.waiting import eventually
from xabar.contracts import ArticlePublished
from xabar.runtime.auth import Principal, Role


@pytest.mark.slow
async def test_an_embargo_that_passes_while_the_service_is_down_is_published_once_after_restart(
    make_settings: SettingsFactory,
    tmp_path: Path,
    redis: aioredis.Redis,
    mongo: AsyncMongoClient[dict[str, Any]],
    token_keys: TokenKeys,
) -> None:
    settings = make_settings(scheduler_interval_s=0.5)
    env = env_of(settings)
    first = service_process("xabar.publisher", env, tmp_path, "XABAR_PUBLISHER_PORT")
    token = token_keys.issue(Principal("editor-1", "Редактор", Role.EDITOR))
    auth = {"Authorization": f"Bearer {token}"}
    await asyncio.to_thread(first.start)
    try:
        async with httpx.AsyncClient(base_url=first.url, headers=auth, timeout=10) as client:
            resp = await client.post(
                "/api/v1/articles",
                json={"title": "Эмбарго до утра", "body_html": "<p>Текст под эмбарго</p>"},
            )
            assert resp.status_code == 201, resp.text
            article_id = resp.json()["article_id"]
            # fixed only now, so that a slow start on a busy machine cannot eat the margin
            publish_at = datetime.now(UTC) + timedelta(seconds=3)
            resp = await client.post(
                f"/api/v1/articles/{article_id}/schedule",
                json={"publish_at": publish_at.isoformat()},
            )
            assert resp.status_code == 200, resp.text
            assert resp.json()["status"] == "scheduled"
    finally:
        await asyncio.to_thread(first.kill9)  # down hard, before the embargo ends

    articles = mongo[settings.mongodb_db]["articles"]
    while datetime.now(UTC) < publish_at + timedelta(seconds=1):
        await asyncio.sleep(0.2)  # the embargo passes while nothing runs
    doc = await articles.find_one({"_id": article_id})
    assert doc is not None and doc["status"] == "scheduled"
    assert await stream_events(redis) == []

    # two replicas come back at once: the article is published, by one of them
    second = service_process(
        "xabar.publisher",
        {**env, "XABAR_PUBLISHER_CONSUMER_NAME": "replica-2"},
        tmp_path,
        "XABAR_PUBLISHER_PORT",
    )
    second.log_path = tmp_path / "replica-2.log"
    await asyncio.gather(asyncio.to_thread(first.start), asyncio.to_thread(second.start))
    try:

        async def published() -> bool:
            return any(isinstance(e, ArticlePublished) for e in await stream_events(redis))

        await eventually(published, what="the scheduled article published after the restart")
        # several more scheduler ticks of both replicas: nothing more happens
        settle_until = time.monotonic() + 3 * settings.scheduler_interval_s + 1
        while time.monotonic() < settle_until:
            await asyncio.sleep(0.1)
        events = await stream_events(redis)
        assert [(type(e).__name__, e.aggregate_id) for e in events] == [  # type: ignore[attr-defined]
            ("ArticlePublished", article_id)
        ]
        doc = await articles.find_one({"_id": article_id})
        assert doc is not None
        assert (doc["status"], doc["version"]) == ("published", 3)
        assert [r["action"] for r in doc["revisions"]] == [
            "create",
            "schedule",
            "publish_scheduled",
        ]
        assert doc["outbox"] == []
        assert events[0].version == 3  # type: ignore[attr-defined]
    finally:
        await asyncio.gather(
            asyncio.to_thread(first.terminate), asyncio.to_thread(second.terminate)
        )


async def test_two_schedulers_racing_over_many_due_articles_publish_each_once(
    make_settings: SettingsFactory, redis: aioredis.Redis
) -> None:
    settings = make_settings(scheduler_enabled=False)
    async with running_in_task(settings) as a, running_in_task(settings) as b:
        ids = []
        for n in range(12):
            article = await create_article(a, title=f"Новость номер {n}")
            resp = await a.client.post(
                f"/api/v1/articles/{article['article_id']}/schedule",
                json={"publish_at": (datetime.now(UTC) + timedelta(seconds=1)).isoformat()},
                headers=a.auth(),
            )
            assert resp.status_code == 200, resp.text
            ids.append(article["article_id"])
        await asyncio.sleep(1.2)
        results = await asyncio.gather(*(h.parts.articles.publish_due() for h in (a, b, a, b)))
        published = [aid for r in results for aid in r]
        assert sorted(published) == sorted(ids)  # each by exactly one of the racers

        async def all_sent() -> bool:
            return len(await stream_events(redis)) >= len(ids)

        await eventually(all_sent, what="every scheduled article on the stream")
        await asyncio.sleep(0.5)  # a few relay sweeps of both: nothing more is sent
        events = await stream_events(redis)
        assert sorted(e.aggregate_id for e in events) == sorted(ids)  # type: ignore[attr-defined]
        assert await a.parts.collections.schedule.count_documents({}) == 0


async def test_scheduling_in_the_past_is_refused_and_return_cancels_the_schedule(
    harness: Harness,
) -> None:
    h = harness
    _, url = await article_and_url(h)
    past = await h.client.post(
        f"{url}/schedule",
        json={"publish_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat()},
        headers=h.auth(),
    )
    assert past.status_code == 422
    naive = await h.client.post(
        f"{url}/schedule", json={"publish_at": "2030-01-01T10:00:00"}, headers=h.auth()
    )
    assert naive.status_code == 422
    soon = datetime.now(UTC) + timedelta(seconds=1)
    ok = await h.client.post(
        f"{url}/schedule", json={"publish_at": soon.isoformat()}, headers=h.auth()
    )
    assert ok.status_code == 200
    back = await h.client.post(f"{url}/return", headers=h.auth())
    assert back.status_code == 200 and back.json()["publish_at"] is None
    await asyncio.sleep(1.5)
    assert await h.parts.articles.publish_due() == []
    stored = (await h.client.get(url, headers=h.auth())).json()
    assert stored["status"] == "draft"
