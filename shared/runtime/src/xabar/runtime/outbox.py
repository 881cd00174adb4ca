"""The outbox: a state change and the events it causes, written in one single-document update.

FerretDB has no multi-document transactions, so a producer never writes "the change" and "the
event" separately. It writes both into the aggregate's own document::

    await coll.update_one({"_id": id, "version": v},
                          {"$set": {...change..., "version": v + 1},
                           "$push": {"outbox": outbox_entry(event)}})

and the relay publishes what is pending, then pulls it from the document. A crash between publish
and pull re-sends the event on the next pass; consumers dedupe by event id or aggregate version.
The relay runs on start, right after each write (``kick``), and on a timer (``sweep_interval``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from xabar.contracts import Event, parse_event

log = logging.getLogger("xabar.outbox")

OUTBOX_FIELD = "outbox"
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
    ) -> None:
        self.collection = collection
        self.publish = publish
        self.sweep_interval = sweep_interval
        self._kicks: asyncio.Queue[Any] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._sweep_loop(), name="outbox-sweep"),
            asyncio.create_task(self._kick_loop(), name="outbox-kick"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    def kick(self, doc_id: Any) -> None:
        """Ask the relay to publish the pending events of one document now."""
        self._kicks.put_nowait(doc_id)

    async def sweep(self) -> int:
        """Publish every pending event of the collection; returns how many were sent."""
        sent = 0
        cursor = self.collection.find(
            {f"{OUTBOX_FIELD}.0": {"$exists": True}}, {OUTBOX_FIELD: 1}
        )
        async for doc in cursor:
            sent += await self._relay(doc)
        return sent

    async def relay_doc(self, doc_id: Any) -> int:
        doc = await self.collection.find_one({"_id": doc_id}, {OUTBOX_FIELD: 1})
        return await self._relay(doc) if doc else 0

    async def _relay(self, doc: dict[str, Any]) -> int:
        entries = doc.get(OUTBOX_FIELD) or []
        sent_ids = []
        for entry in entries:
            await self.publish(parse_event(entry["event"]))
            sent_ids.append(entry["event_id"])
        if sent_ids:
            await self.collection.update_one(
                {"_id": doc["_id"]},
                {"$pull": {OUTBOX_FIELD: {"event_id": {"$in": sent_ids}}}},
            )
        return len(sent_ids)

    async def _sweep_loop(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception:
                log.exception("outbox sweep failed; retrying")
            await asyncio.sleep(self.sweep_interval)

    async def _kick_loop(self) -> None:
        while True:
            doc_id = await self._kicks.get()
            try:
                await self.relay_doc(doc_id)
            except Exception:
                log.exception("outbox relay of one document failed; the sweep will retry")
