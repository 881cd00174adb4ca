"""The outbox relay of the publisher, shaped by how FerretDB v1.24 (SQLite) really behaves.

Measured on the FerretDB the tests and ``make run`` use:

- an ``_id`` lookup is a table scan (SQLite cannot use FerretDB's ``_id`` index for the
  expression FerretDB queries with): about 20-40 ms with 7,000 articles, and an update does it
  twice, so any "one update per document" pass over thousands of articles takes many minutes;
- concurrent updates of one document are not atomic (see ``xabar.runtime.locks``).

So, on top of the shared ``OutboxRelay`` (its kick queue, loops and one-pass-per-document rule):

- Sent events are recorded in a Redis set (``SENT_KEY``), in the same MULTI/EXEC as the XADDs
  that publish them. An entry already in that set is never published again. Removing sent entries
  from the document (``$pullAll``, under the document's lock) is then housekeeping, not what makes
  an event "sent": bulk imports publish thousands of events without rewriting thousands of
  documents, and their entries are removed by the next write of each article.
- Markers: a writer upserts ``{"_id": doc_id, "at": now}`` into a small ``*_pending`` collection
  before its change, and kicks the relay after it; the periodic sweep reads the markers only. The
  full scan (one read of every outbox, checked against the sent set in one round trip) runs once,
  at start, as insurance. A marker is dropped, under the document's lock, when the outbox holds
  nothing unsent and the marker is older than ``marker_grace`` and unchanged.

A crash between the XADD and anything after it re-sends the same events (same ``event_id`` and
``version``) on the next pass; consumers dedupe.
"""

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from xabar.publisher.repositories.collections import Coll, insert_many_ignoring_duplicates, upsert
from xabar.runtime.bus import EventBus, Outgoing
from xabar.runtime.locks import DocLocks
from xabar.runtime.outbox import OUTBOX_FIELD, OutboxRelay

log = logging.getLogger("xabar.publisher.relay")

SENT_KEY = "xabar:publisher:outbox:sent"
PIPELINE_CHUNK = 200
Entry = dict[str, str]


def ms_now() -> datetime:
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)  # as BSON stores it


class MarkedRelay(OutboxRelay):
    def __init__(
        self,
        collection: Coll,
        pending: Coll,
        bus: EventBus,
        locks: DocLocks,
        *,
        sweep_interval: float = 5.0,
        marker_grace: timedelta = timedelta(seconds=30),
        enabled: bool = True,
        sent_key: str = SENT_KEY,
    ) -> None:
        super().__init__(collection, bus.publish, sweep_interval=sweep_interval, locks=locks)
        self.bus = bus
        self.pending = pending
        self.doc_locks = locks
        self.marker_grace = marker_grace
        self.enabled = enabled
        self.sent_key = sent_key
        self._scanned = False

    def lock_key(self, doc_id: Any) -> str:
        return f"{self.collection.name}:{doc_id}"

    # --- lifecycle --------------------------------------------------------------------------------

    async def start(self) -> None:
        if self.enabled:
            await super().start()

    def kick(self, doc_id: Any) -> None:
        if self.enabled:
            super().kick(doc_id)

    # --- markers ----------------------------------------------------------------------------------

    async def mark(self, doc_id: Any) -> None:
        """Record that ``doc_id`` is about to get events; call BEFORE the write, holding the
        document's lock."""
        at = ms_now()
        await upsert(
            lambda: self.pending.update_one({"_id": doc_id}, {"$set": {"at": at}}, upsert=True)
        )

    async def mark_many(self, doc_ids: list[Any]) -> datetime:
        """Mark many documents at once; returns the marking time (for ``relay_docs``)."""
        now = ms_now()
        existing = await insert_many_ignoring_duplicates(
            self.pending, [{"_id": i, "at": now} for i in doc_ids]
        )
        for doc_id in existing:
            await self.mark(doc_id)
        return now

    # --- publishing -------------------------------------------------------------------------------

    async def unsent(self, entries: list[Entry]) -> list[Entry]:
        if not entries:
            return []
        flags = await self.bus.redis.smismember(self.sent_key, [e["event_id"] for e in entries])
        return [e for e, sent in zip(entries, flags, strict=True) if not sent]

    async def publish_entries(self, entries: list[Entry]) -> int:
        """Publish the entries not sent yet: XADDs and their SADD to the sent set in one
        MULTI/EXEC per chunk. Returns how many were published now."""
        todo = await self.unsent(entries)
        for start in range(0, len(todo), PIPELINE_CHUNK):
            chunk = todo[start : start + PIPELINE_CHUNK]
            async with self.bus.redis.pipeline(transaction=True) as pipe:
                await self.bus.publish_many(
                    [Outgoing.of_json(entry["event"]) for entry in chunk], pipeline=pipe
                )
                pipe.sadd(self.sent_key, *[e["event_id"] for e in chunk])
                await pipe.execute()
        return len(todo)

    async def relay_doc(self, doc_id: Any) -> int:
        """Publish one document's unsent events and remove its sent ones, under its lock. One
        pass per document at a time (a request meanwhile makes that pass run once more)."""
        if doc_id in self._inflight:
            self._again.add(doc_id)
            return 0
        self._inflight.add(doc_id)
        try:
            sent = 0
            while True:
                sent += await self._relay_locked(doc_id)
                if doc_id not in self._again:
                    return sent
                self._again.discard(doc_id)
        finally:
            self._inflight.discard(doc_id)

    async def _relay_locked(self, doc_id: Any) -> int:
        async with self.doc_locks.hold(self.lock_key(doc_id)):
            doc = await self.collection.find_one({"_id": doc_id}, {OUTBOX_FIELD: 1})
            entries = (doc or {}).get(OUTBOX_FIELD) or []
            if not entries:
                return 0
            sent = await self.publish_entries(entries)
            # $pullAll of exactly the entries read: FerretDB's $pull matches whole elements.
            await self.collection.update_one({"_id": doc_id}, {"$pullAll": {OUTBOX_FIELD: entries}})
            return sent

    async def _relay(self, doc: dict[str, Any]) -> int:  # the shared sweep's per-document step
        return await self.relay_doc(doc["_id"])

    # --- sweeps -----------------------------------------------------------------------------------

    async def sweep(self) -> int:
        sent = 0
        if not self._scanned:
            sent += await self.full_sweep()
            self._scanned = True
        return sent + await self.sweep_markers()

    async def full_sweep(self) -> int:
        """Every outbox of the collection in one read; only documents with unsent entries are
        relayed (entries already sent wait for their document's next write to be removed)."""
        docs = await self.collection.find(
            {f"{OUTBOX_FIELD}.0": {"$exists": True}}, {OUTBOX_FIELD: 1}
        ).to_list(None)
        entries = [e for d in docs for e in d[OUTBOX_FIELD]]
        unsent = {e["event_id"] for e in await self.unsent(entries)}
        sent = 0
        for doc in docs:
            if any(e["event_id"] in unsent for e in doc[OUTBOX_FIELD]):
                sent += await self.relay_doc(doc["_id"])
        return sent

    async def sweep_markers(self) -> int:
        sent = 0
        now = datetime.now(UTC)
        for marker in await self.pending.find({}).to_list(None):
            doc_id = marker["_id"]
            sent += await self.relay_doc(doc_id)
            if now - marker["at"] >= self.marker_grace:
                await self._drop_marker_if_done(doc_id, marker["at"])
        if sent:
            log.info("outbox sweep published events", extra={"sent": sent})
        return sent

    async def _drop_marker_if_done(self, doc_id: Any, seen_at: datetime) -> None:
        async with self.doc_locks.hold(self.lock_key(doc_id)):
            doc = await self.collection.find_one({"_id": doc_id}, {OUTBOX_FIELD: 1})
            left = await self.unsent((doc or {}).get(OUTBOX_FIELD) or [])
            marker = await self.pending.find_one({"_id": doc_id})
            if not left and marker and marker["at"] == seen_at:
                await self.pending.delete_one({"_id": doc_id})

    # --- bulk -------------------------------------------------------------------------------------

    async def relay_docs(self, docs: list[dict[str, Any]], marked_at: datetime) -> int:
        """Publish the outboxes of documents the caller has just inserted (bulk imports), and
        drop their markers. The documents are not rewritten: their entries are recorded as sent
        and removed by each document's next write."""
        entries = [e for d in docs for e in d.get(OUTBOX_FIELD) or []]
        sent = await self.publish_entries(entries)
        ids = [d["_id"] for d in docs]
        if ids:
            await self.pending.delete_many({"_id": {"$in": ids}, "at": marked_at})
        return sent
