"""Helpers of the moderation tests: readers' comments and letters as ingest sends them, and what
the publisher sent on ``xabar.comments``."""

import uuid
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis

from tests.publisher.conftest import Harness, eventually, from_ingest, send_tip, stream_events
from xabar.contracts import (
    COMMENTS_STREAM,
    SUBMISSIONS_STREAM,
    CommentSubmission,
    CommentSubmitted,
    Event,
    Letter,
    LetterReceived,
)


def comment(
    article_id: str = "art-1",
    *,
    text: str = "Спасибо за новость!",
    name: str = "Алишер",
    client_hash: str = "c1f0d2a9e8b7c6d5",
    parent_id: str | None = None,
    comment_id: str | None = None,
) -> CommentSubmitted:
    cid = comment_id or f"cmt-{uuid.uuid4().hex[:12]}"
    return from_ingest(
        CommentSubmitted,
        cid,
        CommentSubmission(
            comment_id=cid,
            article_id=article_id,
            parent_id=parent_id,
            name=name,
            text=text,
            client_hash=client_hash,
            submitted_at=datetime.now(UTC),
        ),
    )


def letter(
    *,
    subject: str = "Опечатка в статье",
    text: str = "В статье о ЕАЭС перепутаны даты.",
    name: str = "Гульнара",
    reply_to_sealed: str | None = None,
) -> LetterReceived:
    lid = f"let-{uuid.uuid4().hex[:12]}"
    return from_ingest(
        LetterReceived,
        lid,
        Letter(
            letter_id=lid,
            name=name,
            reply_to_sealed=reply_to_sealed,
            subject=subject,
            text=text,
            received_at=datetime.now(UTC),
        ),
    )


async def public_events(redis: aioredis.Redis) -> list[Event]:
    """What the publisher sent the feed about comments, in stream order."""
    return await stream_events(redis, COMMENTS_STREAM)


async def queued(h: Harness, comment_id: str, status: str = "pending") -> dict[str, Any]:
    """The comment's entry in the queue ``status``, once it is there."""
    found: dict[str, Any] = {}

    async def there() -> bool:
        resp = await h.client.get(
            f"/api/v1/comments?status={status}&per_page=200", headers=h.auth()
        )
        assert resp.status_code == 200, resp.text
        for item in resp.json()["items"]:
            if item["comment_id"] == comment_id:
                found.update(item)
                return True
        return False

    await eventually(there, what=f"comment {comment_id} in the queue {status}")
    return found


async def arrived(
    h: Harness, redis_url: str, event: CommentSubmitted, status: str = "pending"
) -> dict[str, Any]:
    """``event`` sent as ingest sends it; its comment's entry in the queue ``status``, once it is
    there."""
    await send_tip(redis_url, event)
    return await queued(h, event.data.comment_id, status)


async def drained(redis: aioredis.Redis, group: str) -> None:
    """The consumer group has read every entry of the submissions stream and acked them."""

    async def done() -> bool:
        for info in await redis.xinfo_groups(SUBMISSIONS_STREAM):
            if info["name"].decode() == group:
                return bool(info["lag"] == 0 and info["pending"] == 0)
        return False

    await eventually(done, what=f"group {group} drained")
