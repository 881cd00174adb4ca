"""Readers' comments across the services, against the real redis-server and FerretDB: a comment's
202 survives kill -9 of Redis (and of ingest) and reaches moderation once; a thousand concurrent
comments on one article, posted over ingest's real HTTP endpoint and approved through the
moderation API, are counted exactly on the article, the front page and in RSS."""

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import redis.asyncio as aioredis

from tests.conftest import TokenKeys
from tests.publisher.conftest import (
    NEWSROOM_PRIVATE_KEY,
    NEWSROOM_PUBLIC_KEY,
    Harness,
    running_in_task,
)
from tests.support.infra import Infra
from tests.support.procs import ServiceProcess, service_process
from tests.support.waiting import eventually
from xabar.publisher.config import PublisherSettings
from xabar.runtime.localinfra import Server

TOKEN = re.compile(r'name="form_token" value="([^"]+)"')
ARTICLE = "0f3c2a9d8b7e4c6a9d1e2f3a4b5c6d7e"
COMMENTS_INTAKE = "xabar:ingest:comments:intake"


def publisher_settings(
    infra: Infra, redis_url: str, db: str, keys: TokenKeys, **overrides: Any
) -> PublisherSettings:
    values: dict[str, Any] = {
        "redis_url": redis_url,
        "mongodb_url": infra.mongo_url,
        "mongodb_db": db,
        "token_private_key": keys.private,
        "newsroom_private_key": NEWSROOM_PRIVATE_KEY,
        "consumer_name": "publisher-e2e",
        "claim_idle_ms": 200,
        "relay_sweep_s": 0.3,
        "scheduler_interval_s": 0.2,
        "site_url": "http://site.test",
        "public_url": "http://publisher.test",
        "log_json": False,
        **overrides,
    }
    return PublisherSettings(**values)


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
        settings = publisher_settings(infra, redis_url, mongo_db_name, token_keys)
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
