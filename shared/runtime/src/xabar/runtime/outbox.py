"""The outbox: a state change and the events it causes, written in one single-document update.

FerretDB has no multi-document transactions, so a producer never writes "the change" and "the
event" separately. It writes both into the aggregate's own document::

    await coll.update_one({"_id": id, "version": v},
                          {"$set": {...change..., "version": v + 1},
                           "$push": {"outbox": outbox_entry(event)}})

and the relay publishes what is pending, then pulls it from the document. A crash between publish
and pull re-sends the event on the next pass; consumers dedupe by event id or aggregate version.
The relay runs on start, right after each write (``kick``), and on a timer (``sweep_interval``).

On FerretDB an update is not atomic (see ``xabar.runtime.locks``): a producer that changes a
document again after its first write must hold the document's lock (``DocLocks.hold``) while it
writes, and give the relay the same ``locks``, so that the relay's removal of sent events never
races the change.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from xabar.contracts import Event, parse_event
from xabar.runtime.locks import DocLocks

log = logging.getLogger("xabar.outbox")

OUTBOX_FIELD = "outbox"
_STOP = object()
Publish = Callable[[Event], Awaitable[Any]]


def outbox_entry(event: Event) -> dict[str, str]:
    """The form an event takes inside a document's outbox."""
    return {"event_id": str(event.event_id), "event": event.model_dump_json()}


class OutboxRelay:
    def __init__(
        self,
        collection: AsyncCollection[dict[str, Any]],
        publish: Publish,
        *,
        sweep_interval: float = 5.0,
        workers: int = 4,
        locks: DocLocks | None = None,
    ) -> None:
        self.collection = collection
        self.publish = publish
        self.sweep_interval = sweep_interval
        self.workers = workers
        self.locks = locks
        self._stopping = asyncio.Event()
        self._kicks: asyncio.Queue[Any] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._inflight: set[Any] = set()
        self._again: set[Any] = set()

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._sweep_loop(), name="outbox-sweep")]
        self._tasks += [
            asyncio.create_task(self._kick_loop(), name=f"outbox-kick-{n}")
            for n in range(self.workers)
        ]

    async def stop(self) -> None:
        """Let the loops finish what they are doing (a cancelled PyMongo call can leak its
        socket), then cancel - repeatedly, since Python 3.11 may lose a cancellation."""
        self._stopping.set()
        for _ in range(self.workers):
            self._kicks.put_nowait(_STOP)
        _done, pending = await asyncio.wait(self._tasks, timeout=5) if self._tasks else ((), ())
        while pending:
            for task in pending:
                task.cancel()
            _done, pending = await asyncio.wait(pending, timeout=1)
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                task.result()
        self._tasks = []

    def kick(self, doc_id: Any) -> None:
        """Ask the relay to publish the pending events of one document now."""
        self._kicks.put_nowait(doc_id)

    async def sweep(self) -> int:
        """Publish every pending event of the collection; returns how many were sent."""
        cursor = self.collection.find({f"{OUTBOX_FIELD}.0": {"$exists": True}}, {"_id": 1})
        pending = [doc["_id"] async for doc in cursor]
        sent = 0
        for doc_id in pending:
            sent += await self.relay_doc(doc_id)
        return sent

    async def relay_doc(self, doc_id: Any) -> int:
        """Publish one document's pending events. One pass per document at a time: a request
        for a document already being relayed makes that pass read it once more when done."""
        if doc_id in self._inflight:
            self._again.add(doc_id)
            return 0
        self._inflight.add(doc_id)
        try:
            sent = 0
            while True:
                doc = await self.collection.find_one({"_id": doc_id}, {OUTBOX_FIELD: 1})
                if doc and doc.get(OUTBOX_FIELD):
                    sent += await self._relay(doc)
                if doc_id not in self._again:
                    return sent
                self._again.discard(doc_id)
        finally:
            self._inflight.discard(doc_id)

    async def _relay(self, doc: dict[str, Any]) -> int:
        entries = doc.get(OUTBOX_FIELD) or []
        for entry in entries:
            await self.publish(parse_event(entry["event"]))
        if entries:
            # $pullAll of the exact entries sent: FerretDB's $pull matches whole elements only,
            # and entries pushed meanwhile (not yet sent) stay.
            pull = {"$pullAll": {OUTBOX_FIELD: entries}}
            if self.locks is None:
                await self.collection.update_one({"_id": doc["_id"]}, pull)
            else:
                async with self.locks.hold(doc["_id"]):
                    await self.collection.update_one({"_id": doc["_id"]}, pull)
        return len(entries)

    async def _sweep_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.sweep()
            except Exception:
                log.exception("outbox sweep failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.sweep_interval)

    async def _kick_loop(self) -> None:
        while not self._stopping.is_set():
            doc_id = await self._kicks.get()
            if doc_id is _STOP:
                return
            try:
                await self.relay_doc(doc_id)
            except Exception:
                log.exception("outbox relay of one document failed; the sweep will retry")
