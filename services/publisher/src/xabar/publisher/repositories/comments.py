"""The moderation store: readers' comments (``comments``: ``_id`` = comment id), each with its
moderation state and the ``outbox`` of its public events (``comment.published``,
``comment.removed``), and what moderation keeps in Redis beside them.

- A comment lands once: its insert carries the comment and, when it is published at once, its
  event (a redelivered ``comment.submitted`` finds the ``_id`` taken and only re-queues it).
- A moderation action is one update of the comment's document, made holding its lock
  (``xabar.runtime.locks``; FerretDB does not apply concurrent updates of one document
  atomically) on the comment as read under that lock (``locked``), with its event in the
  document's outbox: the relay publishes it (marked before the write, kicked after).
- The queues by status, overall and per article, are Redis sorted sets (``queues.StatusQueues``
  under the hash tag ``{comments}``), put after every write and rebuilt at every start.
- Blocked address hashes (``{comments}:blocked``: hash -> until, epoch ms; their details in
  ``{comments}:blocked:info``) and the articles whose comments are closed
  (``{comments}:closed``) are Redis keys under the same tag, read on every arrival.
"""

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, cast

from pymongo.errors import DuplicateKeyError
from redis.asyncio import Redis

from xabar.contracts import Event
from xabar.publisher.domain import Doc, Page
from xabar.publisher.errors import NotFound
from xabar.publisher.relay import MarkedRelay
from xabar.publisher.repositories.collections import Collections
from xabar.publisher.repositories.queues import Entry, StatusQueues, ms, now_ms
from xabar.publisher.repositories.relayed import RelayedRepository
from xabar.runtime.outbox import OUTBOX_FIELD, outbox_entry

STATUSES = ("pending", "approved", "rejected", "spam")
PREFIX = "xabar:publisher:{comments}"
BLOCKED = f"{PREFIX}:blocked"
BLOCKED_INFO = f"{PREFIX}:blocked:info"
CLOSED = f"{PREFIX}:closed"
SUMMARY = (
    "article_id",
    "parent_id",
    "name",
    "text",
    "edited",
    "public",
    "reason",
    "moderated_by",
)
CLIENT_TAG = 8  # characters of the address hash a moderator sees (to tell authors apart)
NO_SUCH_COMMENT = "такого комментария нет"


def entry_of(doc: Doc) -> Entry:
    """What the queues hold of a comment."""
    summary: dict[str, Any] = {k: doc.get(k) for k in SUMMARY}
    summary |= {
        "comment_id": str(doc["_id"]),
        "client_tag": str(doc.get("client_hash") or "")[:CLIENT_TAG],
        "submitted_at": doc["submitted_at"].isoformat(),
        "moderated_at": doc["moderated_at"].isoformat() if doc.get("moderated_at") else None,
    }
    return Entry.of(doc, "submitted_at", summary, group=str(doc["article_id"]))


class CommentRepository(RelayedRepository):
    def __init__(self, collections: Collections, relay: MarkedRelay, redis: Redis) -> None:
        super().__init__(collections.comments, relay)
        self.redis = redis
        self.queues = StatusQueues(redis, "comments", STATUSES)

    # --- reads ------------------------------------------------------------------------------------

    async def get(self, comment_id: str) -> Doc:
        return await self.get_doc(comment_id, NO_SUCH_COMMENT)

    async def page(
        self, status: str, article_id: str | None, page: int, per_page: int
    ) -> Page[dict[str, Any]]:
        """A queue: pending ones oldest first (the order they are answered in), the others
        newest first."""
        return await self.queues.page(
            status,
            group=article_id,
            page=page,
            per_page=per_page,
            oldest_first=status == "pending",
        )

    async def counts(self, article_id: str | None = None) -> dict[str, int]:
        return await self.queues.counts(article_id)

    # --- writes -----------------------------------------------------------------------------------

    async def add(self, doc: Doc, events: Sequence[Event] = ()) -> bool:
        """Store a new comment with the events its arrival causes; False if it is there
        already (a redelivery or a duplicate: then it is only queued again, which repairs a
        crash between the insert and the queue)."""
        comment_id = str(doc["_id"])
        if events:
            await self.relay.mark(comment_id)
        try:
            await self.coll.insert_one({**doc, OUTBOX_FIELD: [outbox_entry(e) for e in events]})
        except DuplicateKeyError:
            await self.queues.put(entry_of(await self.get(comment_id)))
            return False
        await self.queues.put(entry_of(doc))
        if events:
            self.relay.kick(comment_id)
        return True

    @asynccontextmanager
    async def locked(self, comment_id: str) -> AsyncIterator[Doc]:
        """The comment as read holding its lock; ``write`` its change inside this."""
        async with self.locks.hold(self.relay.lock_key(comment_id)):
            yield await self.get(comment_id)

    async def write(self, doc: Doc, changes: Doc, events: Sequence[Event] = ()) -> Doc:
        """Store ``changes`` of ``doc`` (read under its lock, which the caller holds) and the
        events they cause, in one update; then queue it and kick the relay."""
        comment_id = str(doc["_id"])
        update: dict[str, Any] = {"$set": changes}
        if events:
            await self.relay.mark(comment_id)
            update["$push"] = {OUTBOX_FIELD: {"$each": [outbox_entry(e) for e in events]}}
        result = await self.coll.update_one({"_id": comment_id}, update)
        if result.matched_count != 1:
            raise NotFound(NO_SUCH_COMMENT)
        new = {**doc, **changes}
        await self.queues.put(entry_of(new))
        if events:
            self.relay.kick(comment_id)
        return new

    async def rebuild_queues(self) -> int:
        """Queue every comment from one scan (older versions never overwrite newer ones)."""
        rows = await self.coll.find({}, {OUTBOX_FIELD: 0}).to_list(None)
        return await self.queues.put_many(entry_of(r) for r in rows)

    # --- blocked addresses ------------------------------------------------------------------------

    async def block(self, client_hash: str, until: datetime, detail: Doc) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(BLOCKED, {client_hash: ms(until)})
            pipe.hset(BLOCKED_INFO, client_hash, json.dumps(detail, ensure_ascii=False))
            await pipe.execute()

    async def unblock(self, client_hash: str) -> bool:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zrem(BLOCKED, client_hash)
            pipe.hdel(BLOCKED_INFO, client_hash)
            removed, _ = await pipe.execute()
        return bool(removed)

    async def blocked_until(self, client_hash: str) -> datetime | None:
        """When the block of this address ends, if it is blocked now."""
        until = await self.redis.zscore(BLOCKED, client_hash)
        if until is None or until <= now_ms():
            return None
        return datetime.fromtimestamp(until / 1000, UTC)

    async def blocks(self) -> list[Doc]:
        """The blocks in force, the soonest to end first (ended ones are dropped here)."""
        now = now_ms()
        ended = cast("list[bytes]", await self.redis.zrangebyscore(BLOCKED, "-inf", now))
        if ended:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.zremrangebyscore(BLOCKED, "-inf", now)
                pipe.hdel(BLOCKED_INFO, *ended)
                await pipe.execute()
        rows = cast(
            "list[tuple[bytes, float]]",
            await self.redis.zrangebyscore(BLOCKED, f"({now}", "+inf", withscores=True),
        )
        if not rows:
            return []
        infos = cast(
            "list[bytes | None]", await self.redis.hmget(BLOCKED_INFO, [h for h, _ in rows])
        )
        return [
            {
                **(json.loads(info) if info else {}),
                "client_hash": member.decode(),
                "until": datetime.fromtimestamp(score / 1000, UTC),
            }
            for (member, score), info in zip(rows, infos, strict=True)
        ]

    # --- articles whose comments are closed -------------------------------------------------------

    async def set_closed(self, article_id: str, closed: bool) -> None:
        if closed:
            await self.redis.sadd(CLOSED, article_id)
        else:
            await self.redis.srem(CLOSED, article_id)

    async def is_closed(self, article_id: str) -> bool:
        return bool(await self.redis.sismember(CLOSED, article_id))
