"""The letters box: readers' letters to the editors ("Напишите нам", ``letter.received``), in
``letters`` (``_id`` = letter id), never published.

A letter lands once (a redelivered event finds its ``_id`` taken, and only queues it again).
Marking it handled (or new again) is one update of its document holding its lock. The box's
lists by status (``new``, ``handled``) are Redis sorted sets under the hash tag ``{letters}``
(``queues.StatusQueues``), put after every write and rebuilt at every start. The way to answer
stays sealed here (``reply_to_sealed``); it is opened only where an editor reads the letter.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from pymongo.errors import DuplicateKeyError
from redis.asyncio import Redis

from xabar.publisher.domain import Doc, Page
from xabar.publisher.errors import NotFound
from xabar.publisher.repositories.collections import Collections
from xabar.publisher.repositories.queues import Entry, StatusQueues
from xabar.runtime.locks import DocLocks

STATUSES = ("new", "handled")
EXCERPT = 200
NO_SUCH_LETTER = "такого письма нет"


def entry_of(doc: Doc) -> Entry:
    text = " ".join(str(doc.get("text") or "").split())
    summary = {
        "letter_id": str(doc["_id"]),
        "name": doc["name"],
        "subject": doc["subject"],
        "excerpt": text[:EXCERPT] + ("…" if len(text) > EXCERPT else ""),
        "answerable": bool(doc.get("reply_to_sealed")),
        "received_at": doc["received_at"].isoformat(),
        "handled_by": doc.get("handled_by"),
        "handled_at": doc["handled_at"].isoformat() if doc.get("handled_at") else None,
    }
    return Entry.of(doc, "received_at", summary)


class LetterRepository:
    def __init__(self, collections: Collections, locks: DocLocks, redis: Redis) -> None:
        self.coll = collections.letters
        self.locks = locks
        self.queues = StatusQueues(redis, "letters", STATUSES)

    async def add(self, doc: Doc) -> bool:
        """Store a new letter; False if it is there already (then it is only queued again)."""
        try:
            await self.coll.insert_one(doc)
        except DuplicateKeyError:
            await self.queues.put(entry_of(await self.get(str(doc["_id"]))))
            return False
        await self.queues.put(entry_of(doc))
        return True

    async def get(self, letter_id: str) -> Doc:
        doc = await self.coll.find_one({"_id": letter_id})
        if doc is None:
            raise NotFound(NO_SUCH_LETTER)
        return doc

    async def page(self, status: str, page: int, per_page: int) -> Page[dict[str, Any]]:
        """Newest first."""
        return await self.queues.page(status, page=page, per_page=per_page)

    async def counts(self) -> dict[str, int]:
        return await self.queues.counts()

    @asynccontextmanager
    async def locked(self, letter_id: str) -> AsyncIterator[Doc]:
        async with self.locks.hold(f"{self.coll.name}:{letter_id}"):
            yield await self.get(letter_id)

    async def write(self, doc: Doc, changes: Doc) -> Doc:
        """Store ``changes`` of ``doc`` (read under its lock, which the caller holds)."""
        result = await self.coll.update_one({"_id": doc["_id"]}, {"$set": changes})
        if result.matched_count != 1:
            raise NotFound(NO_SUCH_LETTER)
        new = {**doc, **changes}
        await self.queues.put(entry_of(new))
        return new

    async def rebuild_queues(self) -> int:
        rows = await self.coll.find({}).to_list(None)
        return await self.queues.put_many(entry_of(r) for r in rows)
