"""Readers' comments across the services, against the real redis-server and FerretDB: a comment's
202 survives kill -9 of Redis (and of ingest) and reaches moderation once; a thousand concurrent
comments on one article, posted over ingest's real HTTP endpoint and approved through the
moderation API, are counted exactly on the article, the front page and in RSS."""

import asyncio
import random
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from tests.conftest import TokenKeys
from tests.feed.conftest import running as feed_running
from tests.feed.test_comments import SLASH, count_on, shown
from tests.publisher.conftest import (
    NEWSROOM_PUBLIC_KEY,
    Harness,
    create_article,
    publish,
    publisher_settings,
    running_in_task,
)
from tests.support.infra import Infra
from tests.support.procs import ServiceProcess, service_process
from tests.support.waiting import eventually
from xabar.feed.config import FeedSettings
from xabar.runtime.localinfra import Server

TOKEN = re.compile(r'name="form_token" value="([^"]+)"')
ARTICLE = "0f3c2a9d8b7e4c6a9d1e2f3a4b5c6d7e"
COMMENTS_INTAKE = "xabar:ingest:comments:intake"


def ingest_process(
    infra: Infra, redis_url: str, db: str, keys: TokenKeys, tmp: Path, **env: str
) -> ServiceProcess:
    """An ingest as a real process (to kill -9); ``env``: more settings, ``XABAR_INGEST_`` left
    out."""
    return service_process(
        "xabar.ingest",
        {
            "XABAR_INGEST_REDIS_URL": redis_url,
            "XABAR_INGEST_MONGODB_URL": infra.mongo_url,
            "XABAR_INGEST_MONGODB_DB": db + "_ingest",
            "XABAR_INGEST_TOKEN_PUBLIC_KEY": keys.public,
            "XABAR_INGEST_NEWSROOM_PUBLIC_KEY": NEWSROOM_PUBLIC_KEY,
            "XABAR_INGEST_ADDRESS_SALT": "e2e-address-salt-0123456789abcdef0123456789",
            "XABAR_INGEST_CONSUMER_NAME": "ingest-e2e",
            "XABAR_INGEST_CLAIM_IDLE_MS": "300",
            "XABAR_INGEST_LOG_JSON": "false",
            **{f"XABAR_INGEST_{k}": v for k, v in env.items()},
        },
        tmp,
        "XABAR_INGEST_PORT",
    )


@asynccontextmanager
async def started(proc: ServiceProcess) -> AsyncIterator[ServiceProcess]:
    await asyncio.to_thread(proc.start)
    try:
        yield proc
    finally:
        if proc.proc is not None and proc.proc.poll() is None:
            await asyncio.to_thread(proc.terminate)


@dataclass
class Site:
    """Ingest (a process), the publisher and the feed (in-process) on one Redis and FerretDB,
    and an article published in the newsroom."""

    ingest: ServiceProcess
    newsroom: Harness
    readers: httpx.AsyncClient
    article_id: str
    slug: str


@asynccontextmanager
async def services(
    infra: Infra, redis_url: str, db: str, keys: TokenKeys, tmp: Path, **ingest_env: str
) -> AsyncIterator[Site]:
    proc = ingest_process(infra, redis_url, db, keys, tmp, **ingest_env)
    publisher = publisher_settings(infra, redis_url, db, keys, consumer_name="publisher-e2e")
    feed = FeedSettings(
        redis_url=redis_url, consumer_name="feed-e2e", claim_idle_ms=200, log_json=False
    )
    async with (
        started(proc),
        running_in_task(publisher) as h,
        feed_running(feed) as (_, site),
    ):
        article_id = (await create_article(h, countries=["KZ"]))["article_id"]
        slug = (await publish(h, article_id))["slug"]

        async def on_site() -> bool:
            return (await site.get(f"/news/{slug}")).status_code == 200

        await eventually(on_site, what="the article on the readers' site")
        yield Site(proc, h, site, article_id, slug)


def comment(**overrides: Any) -> dict[str, Any]:
    return {"article_id": ARTICLE, "name": "Алишер", "text": "Спасибо за новость!", **overrides}


async def pending_ids(h: Harness, article_id: str = ARTICLE) -> list[str]:
    """The ids in the pending queue of the article, every page of it."""
    out: list[str] = []
    page = 1
    while True:
        resp = await h.client.get(
            "/api/v1/comments",
            params={"status": "pending", "article_id": article_id, "page": page, "per_page": 200},
            headers=h.auth(),
        )
        assert resp.status_code == 200, resp.text
        items = resp.json()["items"]
        out += [item["comment_id"] for item in items]
        if len(items) < 200:
            return out
        page += 1


async def test_a_comments_202_survives_kill9_of_redis_and_ingest_and_reaches_moderation_once(
    infra: Infra, private_redis: Server, mongo_db_name: str, token_keys: TokenKeys, tmp_path: Path
) -> None:
    """Accepted with nothing moving it on (ingest's relay off), Redis and ingest are killed with
    SIGKILL right after the answer; Redis restarted on its data dir still holds both comments
    (one from the form, one from the API) and their keys; a new ingest moves them, the publisher
    queues each once, and the retries of the same token and key add nothing."""
    redis_url = private_redis.url
    args = (infra, redis_url, mongo_db_name, token_keys, tmp_path)
    first = ingest_process(*args, RELAY_ENABLED="false", FORM_MIN_FILL_S="0")
    key = {"Idempotency-Key": "kill9-redis-comment"}
    async with started(first), httpx.AsyncClient(base_url=first.url, timeout=30) as client:
        page = await client.get("/comments/form", params={"article_id": ARTICLE})
        match = TOKEN.search(page.text)
        assert page.status_code == 200 and match, page.text
        form = {**comment(text="Из формы, до падения Redis."), "form_token": match.group(1)}
        sent = await client.post("/comments", data=form)
        assert sent.status_code == 200 and "Комментарий отправлен на модерацию" in sent.text
        api = await client.post("/api/v1/comments", json=comment(), headers=key)
        assert api.status_code == 202, api.text
        private_redis.kill()  # SIGKILL, right after the answers
        first.kill9()
    api_id = api.json()["comment_id"]

    await asyncio.to_thread(private_redis.restart)  # the same data dir: its AOF
    redis = aioredis.from_url(redis_url)
    try:
        entries = await redis.xrange(COMMENTS_INTAKE)
        assert len(entries) == 2  # both accepted comments are there, nothing else
        ids = {fields[b"id"].decode() for _, fields in entries}
        assert api_id in ids

        second = ingest_process(*args, FORM_MIN_FILL_S="0", RELAY_SWEEP_S="0.3")
        settings = publisher_settings(
            infra, redis_url, mongo_db_name, token_keys, consumer_name="publisher-e2e"
        )
        async with (
            started(second),
            httpx.AsyncClient(base_url=second.url, timeout=30) as client,
            running_in_task(settings) as h,
        ):
            again = await client.post("/api/v1/comments", json=comment(), headers=key)
            assert again.status_code == 202 and again.json() == api.json()  # the key survived
            assert again.headers["Idempotent-Replayed"] == "true"
            replay = await client.post("/comments", data=form)  # so did the form's token
            assert replay.status_code == 200 and "на модерацию" in replay.text

            async def queued() -> bool:
                return set(await pending_ids(h)) == ids

            await eventually(queued, timeout=60, what="both comments in the pending queue")
            await eventually(
                lambda: _empty(redis, COMMENTS_INTAKE), timeout=30, what="the intake moved"
            )
            await asyncio.sleep(1.0)  # time for a redelivery to show, if there were one
            assert sorted(await pending_ids(h)) == sorted(ids)  # once each
            assert await h.parts.collections.comments.count_documents({}) == 2
    finally:
        await redis.aclose()


async def _empty(redis: aioredis.Redis, stream: str) -> bool:
    return int(await redis.xlen(stream)) == 0


async def _post_all(
    url: str, bodies: list[dict[str, Any]], lanes: int
) -> list[tuple[str, httpx.Response]]:
    """Every body posted to ingest's comments API at once, ``lanes`` in flight, each under a key
    of its own: (key, answer)."""
    gate = asyncio.Semaphore(lanes)
    limits = httpx.Limits(max_connections=lanes, max_keepalive_connections=lanes)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:

        async def send(n: int, body: dict[str, Any]) -> tuple[str, httpx.Response]:
            key = f"e2e-{body['article_id']}-{len(bodies)}-{n}"
            async with gate:
                return key, await client.post(
                    "/api/v1/comments", json=body, headers={"Idempotency-Key": key}
                )

        return await asyncio.gather(*(send(n, body) for n, body in enumerate(bodies)))


async def _approve_all(h: Harness, article_id: str, expected: int) -> None:
    """Every pending comment of the article approved through the bulk API, 200 a request."""

    async def all_queued() -> bool:
        resp = await h.client.get(
            "/api/v1/comments",
            params={"status": "pending", "article_id": article_id, "per_page": 1},
            headers=h.auth(),
        )
        return int(resp.json()["total"]) >= expected

    # polled slowly: the moderation queue's reads must not crowd out its writes
    await eventually(
        all_queued, timeout=180, every=0.5, what=f"{expected} comments in the pending queue"
    )
    ids = await pending_ids(h, article_id)
    for start in range(0, len(ids), 200):
        resp = await h.client.post(
            "/api/v1/comments/bulk-approve",
            json={"comment_ids": ids[start : start + 200]},
            headers=h.auth(),
        )
        assert resp.status_code == 200, resp.text
        assert {i["status"] for i in resp.json()["items"]} == {"approved"}


@pytest.mark.timeout(600)  # about 60 s on an idle box; over 3 min while five share its 2 cores
async def test_a_thousand_concurrent_comments_through_ingest_and_moderation_count_exactly(
    infra: Infra, redis_url: str, mongo_db_name: str, token_keys: TokenKeys, tmp_path: Path
) -> None:
    """An article published in the newsroom; 1,000 comments on it (a third of them replies)
    posted at once over ingest's real HTTP endpoint, under its per-address rate limit set to
    1,000 for the test (the 1,001st is refused); all approved through the moderation API. The
    article, its comment pages, the front page and RSS then say 1000, each comment shown once."""
    began = time.monotonic()
    phases: dict[str, float] = {}

    def phase(name: str) -> None:
        phases[name] = round(time.monotonic() - began - sum(phases.values()), 1)
        print(f"{name}: {phases[name]} s", flush=True)

    async with services(
        infra,
        redis_url,
        mongo_db_name,
        token_keys,
        tmp_path,
        COMMENT_RATE_LIMIT="1000",
        COMMENT_RATE_WINDOW_S="3600",
        INTAKE_BATCH="250",
        INTAKE_INTERVAL_S="0.1",
    ) as up:
        proc, h, site = up.ingest, up.newsroom, up.readers
        article_id, slug = up.article_id, up.slug
        phase("services and the article up")
        threads = [comment(article_id=article_id, name=f"Первый {n}") for n in range(100)]
        first = await _post_all(proc.url, threads, 100)  # the threads answered below
        assert {r.status_code for _, r in first} == {202}
        parents = [r.json()["comment_id"] for _, r in first]
        pick = random.Random(5).choice
        rest = [
            comment(
                article_id=article_id,
                name=f"Читатель {n}",
                text=f"Мнение читателя номер {n}.",
                reply_to=pick(parents) if n % 3 == 0 else None,
            )
            for n in range(900)
        ]
        second = await _post_all(proc.url, [{k: v for k, v in b.items() if v} for b in rest], 100)
        assert {r.status_code for _, r in second} == {202}
        async with httpx.AsyncClient(base_url=proc.url) as client:
            over = await client.post("/api/v1/comments", json=comment(article_id=article_id))
            assert over.status_code == 429  # the limit held: the 1,001st from one address
        ids = {r.json()["comment_id"] for _, r in [*first, *second]}
        assert len(ids) == 1000
        replies = {
            r.json()["comment_id"] for (_, r), b in zip(second, rest, strict=True) if b["reply_to"]
        }

        phase("1000 posted")
        await _approve_all(h, article_id, 1000)
        phase("queued and approved")

        async def counted() -> bool:
            return count_on((await site.get(f"/news/{slug}")).text) == [1000, 1000]

        await eventually(counted, timeout=180, every=0.5, what="the article to count 1000 comments")
        phase("counted on the article")
        front = (await site.get("/")).text
        assert f'href="/news/{slug}#comments">Комментарии [1000]</a>' in front
        rss = ET.fromstring((await site.get("/rss.xml")).content)
        (item,) = [i for i in rss.iter("item") if i.findtext("link", "").endswith(slug)]
        assert item.findtext(SLASH) == "1000"
        seen: list[str] = []
        shown_replies: set[str] = set()
        page_number = 1
        while True:
            page = await site.get(f"/news/{slug}", params={"comments": page_number})
            if page.status_code == 404:
                break
            found = shown(page.text).found
            assert found and (page_number > 1 or len(found) == 50), page_number
            seen += [c["id"].removeprefix("comment-") for c in found]
            shown_replies |= {c["id"].removeprefix("comment-") for c in found if c["reply"]}
            page_number += 1
        assert page_number > 20  # paged past 50, by plain links
        assert len(seen) == len(set(seen)) == 1000 and set(seen) == ids  # each shown once
        assert shown_replies == replies  # one level deep, under the comment answered
        phase("every page read")
    print(f"1000 comments end to end in {time.monotonic() - began:.1f} s: {phases}")


async def _moderate(h: Harness, comment_id: str, action: str) -> None:
    resp = await h.client.post(f"/api/v1/comments/{comment_id}/{action}", headers=h.auth())
    assert resp.status_code == 200, resp.text


async def test_a_rejected_comment_is_never_visible_anywhere_readers_look(
    infra: Infra, redis_url: str, mongo_db_name: str, token_keys: TokenKeys, tmp_path: Path
) -> None:
    """Four comments through ingest: one approved, one rejected, one marked spam, one approved
    and then rejected. Readers see only the first: on the article (and its JSON-LD), the front
    page, the section, RSS, Atom, JSON Feed and the feed's API, each counting 1."""
    async with (
        services(infra, redis_url, mongo_db_name, token_keys, tmp_path) as up,
        httpx.AsyncClient(base_url=up.ingest.url, timeout=30) as client,
    ):
        h, site, article_id, slug = up.newsroom, up.readers, up.article_id, up.slug
        hidden = {"rejected": "Отклонённый", "spam": "Спамовый", "later": "Снятый"}
        ids: dict[str, str] = {}
        for which, word in {"kept": "Одобренный", **hidden}.items():
            body = comment(article_id=article_id, name=f"{word} автор", text=f"{word} текст.")
            resp = await client.post("/api/v1/comments", json=body)
            assert resp.status_code == 202, resp.text
            ids[which] = resp.json()["comment_id"]

        async def all_queued() -> bool:
            return set(await pending_ids(h, article_id)) == set(ids.values())

        await eventually(all_queued, timeout=60, every=0.2, what="the comments in the queue")
        await _moderate(h, ids["kept"], "approve")
        await _moderate(h, ids["later"], "approve")

        async def page_counts(n: int) -> bool:
            return count_on((await site.get(f"/news/{slug}")).text) == [n, n]

        await eventually(lambda: page_counts(2), every=0.2, what="two approved on the article")
        assert "Снятый текст" in (await site.get(f"/news/{slug}")).text  # it was visible
        await _moderate(h, ids["rejected"], "reject")
        await _moderate(h, ids["spam"], "spam")
        await _moderate(h, ids["later"], "reject")
        await eventually(lambda: page_counts(1), every=0.2, what="one left on the article")

        paths = [f"/news/{slug}", "/", "/news", "/kazakhstan", "/rss.xml", "/atom.xml"]
        paths += ["/feed.json", "/kazakhstan/rss.xml", f"/api/v1/articles/{slug}"]
        paths += ["/api/v1/articles", "/api/v1/front", "/api/v1/sections/KZ"]
        for path in paths:
            resp = await site.get(path)
            assert resp.status_code == 200, path
            for word in hidden.values():
                assert word not in resp.text, (path, word)
        page = (await site.get(f"/news/{slug}")).text
        assert "Одобренный текст" in page and [c["id"] for c in shown(page).found] == [
            f"comment-{ids['kept']}"
        ]
        jsonld = re.findall(r'<script type="application/ld\+json">(.*?)</script>', page, re.S)
        assert jsonld and all(word not in "".join(jsonld) for word in hidden.values())
        rss = ET.fromstring((await site.get("/rss.xml")).content)
        (item,) = [i for i in rss.iter("item") if i.findtext("link", "").endswith(slug)]
        assert item.findtext(SLASH) == "1"
        front = (await site.get("/")).text
        assert f'href="/news/{slug}#comments">Комментарии [1]</a>' in front
        api = (await site.get(f"/api/v1/articles/{slug}")).json()
        assert api["comment_count"] == 1
        feed_json = (await site.get("/feed.json")).json()
        assert any(slug in str(i.get("url", "")) for i in feed_json["items"])
