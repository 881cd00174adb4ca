"""The outbox relay of the publisher: the shared ``OutboxRelay``, swept from pending markers.

The shared relay's sweep asks MongoDB for every document with a non-empty outbox: a full scan on
FerretDB's SQLite backend (about a second for 7,000 articles). Here a writer first upserts a marker
``{"_id": doc_id, "at": now}`` into a small ``*_pending`` collection, then makes its change with
the event in the document's outbox, then kicks the relay. The periodic sweep reads the markers
only; the full scan runs once, at start, as insurance. A marker is removed only when its document's
outbox is empty and the marker is older than ``marker_grace`` (a write that marked just now may
still be on its way), and only if nobody marked it again meanwhile.

Publishing and the removal of what was sent (``$pullAll`` of the exact entries) are the shared
relay's: a crash between the two re-sends the same events (same ``event_id`` and ``version``) on
the next pass, which consumers dedupe.
"""

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from xabar.publisher.repository import Coll, insert_many_ignoring_duplicates
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


class MarkedRelay(OutboxRelay):
    def __init__(
        self,
        collection: Coll,
        pending: Coll,
        publish: Publish,
        *,
        sweep_interval: float = 5.0,
        marker_grace: timedelta = timedelta(seconds=30),
        enabled: bool = True,
    ) -> None:
        super().__init__(collection, publish, sweep_interval=sweep_interval)
        self.pending = pending
        self.marker_grace = marker_grace
        self.enabled = enabled
        self._scanned = False

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
        """Record that ``doc_id`` is about to get events; call BEFORE the write."""
        await self.pending.update_one(
            {"_id": doc_id}, {"$set": {"at": datetime.now(UTC)}}, upsert=True
        )

    async def mark_many(self, doc_ids: list[Any]) -> datetime:
        """Mark many documents at once; returns the marking time (for ``unmark_many``)."""
        now = datetime.now(UTC)
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)  # as BSON stores it
        existing = await insert_many_ignoring_duplicates(
            self.pending, [{"_id": i, "at": now} for i in doc_ids]
        )
        for doc_id in existing:
            await self.mark(doc_id)
        return now

    async def unmark_many(self, doc_ids: list[Any], at: datetime) -> None:
        """Remove the markers set by ``mark_many`` at ``at`` once their events are relayed; a
        marker set again since (another write on its way) stays."""
        if doc_ids:
            await self.pending.delete_many({"_id": {"$in": doc_ids}, "at": at})

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
            if now - marker["at"] < self.marker_grace:
                continue
            doc = await self.collection.find_one({"_id": doc_id}, {OUTBOX_FIELD: 1})
            if doc is None or not doc.get(OUTBOX_FIELD):
                await self.pending.delete_one({"_id": doc_id, "at": marker["at"]})
        if sent:
            log.info("outbox sweep published events", extra={"sent": sent})
        return sent

    async def relay_docs(self, docs: list[dict[str, Any]], concurrency: int = 8) -> int:
        """Publish the outboxes of documents the caller has just written (bulk imports):
        ``docs`` as inserted, so their outbox entries match the stored ones exactly."""
        gate = asyncio.Semaphore(concurrency)

        async def one(doc: dict[str, Any]) -> int:
            async with gate:
                return await self._relay(doc)

        counts = await asyncio.gather(*(one(d) for d in docs if d.get(OUTBOX_FIELD)))
        return sum(counts)
