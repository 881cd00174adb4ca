"""The outbox relay of the publisher: the shared ``OutboxRelay``, swept from pending markers, and
removing sent events under the document's lock.

- Markers: the shared relay's sweep asks MongoDB for every document with a non-empty outbox, a
  full scan on FerretDB's SQLite backend (about a second for 7,000 articles). Here a writer first
  upserts a marker ``{"_id": doc_id, "at": now}`` into a small ``*_pending`` collection, then makes
  its change with the event in the document's outbox, then kicks the relay. The periodic sweep
  reads the markers only; the full scan runs once, at start, as insurance. A marker is removed,
  under the document's lock, only when the outbox is empty and the marker is older than
  ``marker_grace`` and unchanged.
- Locks: the removal of sent events (``$pullAll``) is a write like any other, and FerretDB does not
  apply concurrent writes of one document atomically (see ``locks``), so it is done while holding
  the document's lock, on the outbox as read under that lock.

Publishing and ``$pullAll`` of exactly the entries sent are the shared relay's: a crash between the
two re-sends the same events (same ``event_id`` and ``version``), which consumers dedupe.
"""

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from xabar.publisher.locks import DocLocks
from xabar.publisher.repository import Coll, insert_many_ignoring_duplicates, upsert
from xabar.runtime.outbox import OUTBOX_FIELD, OutboxRelay, Publish

log = logging.getLogger("xabar.publisher.relay")


async def stop_tasks(tasks: list[asyncio.Task[None]], retry_s: float = 0.5) -> None:
    """Cancel ``tasks`` and wait for them, cancelling again those that swallowed it.

    A cancellation can be lost inside PyMongo on Python 3.11 (its ``wait_for`` on a pool
    condition returns the result when the cancel lands as the condition is notified), and a loop
    that survives it would keep a shutdown waiting forever."""
    for task in tasks:
        task.cancel()
    while pending := [t for t in tasks if not t.done()]:
        await asyncio.wait(pending, timeout=retry_s)
        for task in pending:
            if not task.done():
                task.cancel()
    for task in tasks:
        if not task.cancelled() and task.exception() is not None:
            log.error("a background task had failed", exc_info=task.exception())


def ms_now() -> datetime:
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)  # as BSON stores it


class MarkedRelay(OutboxRelay):
    def __init__(
        self,
        collection: Coll,
        pending: Coll,
        publish: Publish,
        locks: DocLocks,
        *,
        sweep_interval: float = 5.0,
        marker_grace: timedelta = timedelta(seconds=30),
        enabled: bool = True,
    ) -> None:
        super().__init__(collection, publish, sweep_interval=sweep_interval)
        self.pending = pending
        self.locks = locks
        self.marker_grace = marker_grace
        self.enabled = enabled
        self._scanned = False

    def lock_key(self, doc_id: Any) -> str:
        return f"{self.collection.name}:{doc_id}"

    async def start(self) -> None:
        if self.enabled:
            await super().start()

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        await stop_tasks(tasks)

    def kick(self, doc_id: Any) -> None:
        if self.enabled:
            super().kick(doc_id)

    async def mark(self, doc_id: Any) -> None:
        """Record that ``doc_id`` is about to get events; call BEFORE the write, holding the
        document's lock."""
        at = ms_now()
        await upsert(
            lambda: self.pending.update_one({"_id": doc_id}, {"$set": {"at": at}}, upsert=True)
        )

    async def mark_many(self, doc_ids: list[Any]) -> datetime:
        """Mark many documents at once; returns the marking time (for ``unmark_many``)."""
        now = ms_now()
        existing = await insert_many_ignoring_duplicates(
            self.pending, [{"_id": i, "at": now} for i in doc_ids]
        )
        for doc_id in existing:
            await self.mark(doc_id)
        return now

    async def _relay(self, doc: dict[str, Any]) -> int:
        """Publish and remove the outbox as read while holding the document's lock."""
        async with self.locks.hold(self.lock_key(doc["_id"])):
            fresh = await self.collection.find_one({"_id": doc["_id"]}, {OUTBOX_FIELD: 1})
            return await super()._relay(fresh) if fresh else 0

    async def sweep(self) -> int:
        sent = 0
        if not self._scanned:
            sent += await self.full_sweep()
            self._scanned = True
        return sent + await self.sweep_markers()

    async def full_sweep(self) -> int:
        """The shared relay's scan of the whole collection for non-empty outboxes."""
        return await super().sweep()

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
        async with self.locks.hold(self.lock_key(doc_id)):
            doc = await self.collection.find_one({"_id": doc_id}, {OUTBOX_FIELD: 1})
            marker = await self.pending.find_one({"_id": doc_id})
            if (doc is None or not doc.get(OUTBOX_FIELD)) and marker and marker["at"] == seen_at:
                await self.pending.delete_one({"_id": doc_id})

    async def relay_docs(
        self, docs: list[dict[str, Any]], marked_at: datetime, concurrency: int = 8
    ) -> int:
        """Publish the outboxes of documents the caller has just written (bulk imports and
        re-emits), and drop their markers: ``docs`` as written, so their outbox entries match
        the stored ones. Documents whose lock is taken now are left to the sweep."""
        keys = {self.lock_key(d["_id"]): d for d in docs if d.get(OUTBOX_FIELD)}
        token, taken = await self.locks.try_many(list(keys))
        try:
            gate = asyncio.Semaphore(concurrency)

            async def one(doc: dict[str, Any]) -> int:
                async with gate:
                    return await OutboxRelay._relay(self, doc)

            counts = await asyncio.gather(*(one(keys[k]) for k in sorted(taken)))
            ids = [keys[k]["_id"] for k in taken]
            if ids:
                await self.pending.delete_many({"_id": {"$in": ids}, "at": marked_at})
        finally:
            await self.locks.release_many(token, taken)
        return sum(counts)
