"""The inbox repository: citizen reporters' tips (``inbox``: ``_id`` = submission id), each with
its review state and the ``outbox`` of its ``submission.reviewed`` events.

A tip lands once (a redelivered event finds its ``_id`` taken). A review is one update of the
tip's document, made under its lock (``xabar.runtime.locks``) as a compare-and-set on the version
and status the reviewer read, with its event in the tip's outbox: the relay publishes it.
"""

from typing import Any

from pymongo.errors import DuplicateKeyError

from xabar.contracts import Event
from xabar.publisher.domain import Doc
from xabar.publisher.errors import VersionConflict
from xabar.publisher.relay import MarkedRelay
from xabar.publisher.repositories.collections import Collections
from xabar.publisher.repositories.relayed import RelayedRepository
from xabar.publisher.repositories.tips import TipIndex
from xabar.runtime.outbox import OUTBOX_FIELD, outbox_entry

CHANGED_MEANWHILE = "сообщение изменили, пока вы его читали; обновите страницу и повторите"


class InboxRepository(RelayedRepository):
    def __init__(
        self, collections: Collections, relay: MarkedRelay, tips: TipIndex | None = None
    ) -> None:
        super().__init__(collections.inbox, relay)
        self.tips = tips  # the newsroom's list in Redis, put after each write

    async def _indexed(self, doc: Doc) -> None:
        if self.tips is not None:
            await self.tips.put(doc)

    async def rebuild_tips(self) -> int:
        """Index every tip from one scan (older versions never overwrite newer ones)."""
        if self.tips is None:
            return 0
        return await self.tips.put_many(await self.all())

    async def add(self, doc: Doc) -> bool:
        """Store a new tip; False if it is there already (a redelivery or a duplicate)."""
        try:
            await self.coll.insert_one({**doc, OUTBOX_FIELD: []})
        except DuplicateKeyError:
            return False
        await self._indexed(doc)
        return True

    async def get(self, submission_id: str) -> Doc:
        return await self.get_doc(submission_id, "такого сообщения во входящих нет")

    async def all(self) -> list[Doc]:
        """Every tip (inboxes are modest; FerretDB pushes down only ``_id`` filters, so lists are
        filtered and ordered by the caller)."""
        return await self.coll.find({}, {OUTBOX_FIELD: 0}).to_list(None)

    async def version_of(self, submission_id: str) -> int | None:
        doc = await self.coll.find_one({"_id": submission_id}, {"version": 1})
        return None if doc is None else int(doc["version"])

    async def review(self, doc: Doc, changes: dict[str, Any], event: Event) -> Doc:
        """Store a review of ``doc`` (as the reviewer read it) with its event; 409 if the tip
        changed meanwhile."""
        version = int(doc["version"])
        async with self.locks.hold(self.relay.lock_key(doc["_id"])):
            current = await self.coll.find_one({"_id": doc["_id"]}, {"version": 1, "status": 1})
            if current is None or (current["version"], current["status"]) != (
                version,
                doc["status"],
            ):
                raise VersionConflict(CHANGED_MEANWHILE, version)
            await self.relay.mark(doc["_id"])
            result = await self.coll.update_one(
                {"_id": doc["_id"]},
                {"$set": changes, "$push": {OUTBOX_FIELD: outbox_entry(event)}},
            )
            if result.matched_count != 1:
                raise VersionConflict(CHANGED_MEANWHILE, version)
        self.relay.kick(doc["_id"])
        await self._indexed({**doc, **changes})
        return {**doc, **changes}

    async def note_published(self, submission_id: str, tip_version: int, changes: Doc) -> None:
        """The inbox's own copy of a publication's review (the event itself is stored with the
        article): applied only if the tip is still at ``tip_version``."""
        async with self.locks.hold(self.relay.lock_key(submission_id)):
            current = await self.version_of(submission_id)
            if current != tip_version:
                return  # the tip moved on meanwhile; the event is stored regardless
            await self.coll.update_one({"_id": submission_id}, {"$set": changes})
        await self._indexed(await self.get(submission_id))
