"""The ``comments`` drill: readers' comments under load on one article, ingest SIGKILLed and
restarted. Careful clients retry each comment with one Idempotency-Key until a 202. Lost: a
comment answered 202 that never reached ingest's MongoDB or the ``xabar.submissions`` stream
(``comment.submitted``, what the newsroom's moderation consumes). Applied twice: one key that
made two comments, or one comment sent under two event ids. When the publisher's moderation
queue answers (``GET /api/v1/comments``), every accepted comment must be in it once too."""

import asyncio
import itertools
import uuid
from typing import Any

import httpx
import redis.asyncio as aioredis
from faststream.redis.parser import BinaryMessageFormatV1
from pymongo import AsyncMongoClient
from xabar.devstack.clients import chief_token, ensure_chief, publisher_api
from xabar.devstack.drills import DrillResult, killed_and_restarted, wait_until
from xabar.devstack.stack import Stack, say

from xabar.contracts import SUBMISSIONS_STREAM, CommentSubmitted, parse_event

CLIENTS = 16
AT_LEAST = 400


async def _article(stack: Stack) -> str:
    """A published article to comment on (its id is what the feed's frame carries)."""
    token = await chief_token(stack)
    async with publisher_api(stack, token) as pub:
        created = await pub.post(
            "/api/v1/articles",
            json={"title": "Статья для комментариев", "lead": "Лид.", "body_html": "<p>Т.</p>"},
        )
        created.raise_for_status()
        article_id = str(created.json()["article_id"])
        published = await pub.post(f"/api/v1/articles/{article_id}/publish")
        published.raise_for_status()
        return article_id


async def _comment_until_accepted(
    client: httpx.AsyncClient, article_id: str, n: int, deadline_s: float = 180
) -> tuple[str, str, int]:
    key = str(uuid.uuid4())
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline_s
    attempts = 0
    body = {"article_id": article_id, "name": f"Читатель {n % 50}", "text": f"Мнение номер {n}."}
    while True:
        attempts += 1
        try:
            resp = await client.post(
                "/api/v1/comments", json=body, headers={"Idempotency-Key": key}
            )
            if resp.status_code == 202:
                return key, str(resp.json()["comment_id"]), attempts
        except httpx.HTTPError:
            pass
        if loop.time() > end:
            raise TimeoutError(f"comment {n} not accepted within {deadline_s}s")
        await asyncio.sleep(0.2)


async def _events_by_comment(redis_url: str) -> dict[str, set[str]]:
    redis = aioredis.from_url(redis_url)
    try:
        out: dict[str, set[str]] = {}
        for _, fields in await redis.xrange(SUBMISSIONS_STREAM) or []:
            raw = (fields or {}).get(b"__data__")
            if not isinstance(raw, bytes):
                continue
            body, _ = BinaryMessageFormatV1.parse(raw)
            event = parse_event(body)
            if isinstance(event, CommentSubmitted):
                out.setdefault(event.aggregate_id, set()).add(str(event.event_id))
        return out
    finally:
        await redis.aclose()


async def _moderation_queue(stack: Stack, article_id: str) -> list[str] | None:
    """The comment ids in the publisher's moderation queue, or None if it has none (yet)."""
    token = await chief_token(stack)
    ids: list[str] = []
    async with publisher_api(stack, token) as pub:
        page = 0
        while True:
            page += 1
            resp = await pub.get(
                "/api/v1/comments",
                params={"status": "pending", "article_id": article_id, "page": page},
            )
            if resp.status_code != 200:
                return None if page == 1 else ids
            items = resp.json().get("items", [])
            if any("comment_id" not in i for i in items):
                return None  # a queue of another shape: not checked here
            ids += [str(i["comment_id"]) for i in items]
            if len(items) < int(resp.json().get("per_page", 50)):
                return ids


async def drill_comments(stack: Stack) -> DrillResult:
    ensure_chief(stack)
    article_id = await _article(stack)
    ingest = stack.services["ingest"]
    accepted: list[tuple[str, str]] = []  # (key, comment id) for every 202
    retried = 0
    fault_over = asyncio.Event()
    numbers = itertools.count()

    async def client_loop(client: httpx.AsyncClient) -> None:
        nonlocal retried
        while not fault_over.is_set() or len(accepted) < AT_LEAST:
            key, comment_id, attempts = await _comment_until_accepted(
                client, article_id, next(numbers)
            )
            accepted.append((key, comment_id))
            retried += attempts > 1
            await asyncio.sleep(0.2)

    async def fault() -> None:
        while len(accepted) < AT_LEAST // 4:
            await asyncio.sleep(0.05)
        await killed_and_restarted(
            ingest, f"ingest SIGKILLed under comments ({len(accepted)} accepted)"
        )
        say("drill", "ingest restarted")
        await asyncio.sleep(1.0)
        fault_over.set()

    limits = httpx.Limits(max_connections=CLIENTS)
    async with httpx.AsyncClient(base_url=ingest.url, timeout=10, limits=limits) as client:
        await asyncio.gather(fault(), *(client_loop(client) for _ in range(CLIENTS)))
    wanted = {comment_id for _, comment_id in accepted}

    async def all_sent() -> bool:
        return wanted <= set(await _events_by_comment(stack.redis.url))

    await wait_until(all_sent, 300, 2)
    events = await _events_by_comment(stack.redis.url)
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongo.url)
    try:
        docs = await mongo["xabar_ingest"]["comments"].find({}, {"_id": 1}).to_list(None)
    finally:
        await mongo.close()
    stored = [str(d["_id"]) for d in docs]
    by_key: dict[str, set[str]] = {}
    for key, comment_id in accepted:
        by_key.setdefault(key, set()).add(comment_id)
    lost = len(wanted - set(stored)) + len(wanted - set(events))
    twice = sum(len(ids) - 1 for ids in by_key.values())
    twice += sum(len(ids) - 1 for ids in events.values()) + (len(stored) - len(set(stored)))
    details: dict[str, Any] = {
        "accepted": len(wanted),
        "retried_across_the_kill": retried,
        "stored": len(set(stored)),
        "events": len(events),
    }
    queue = await _moderation_queue(stack, article_id)
    if queue is not None:
        lost += len(wanted - set(queue))
        twice += len(queue) - len(set(queue))
        details["in_moderation_queue"] = len(set(queue) & wanted)
    return DrillResult("comments", lost, twice, details)
