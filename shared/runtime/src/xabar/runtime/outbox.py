"""The outbox: a state change and the events it causes, written in one single-document update,
and the one relay that publishes them.

FerretDB has no multi-document transactions, so a producer never writes "the change" and "the
event" separately. It writes both into the aggregate's own document::

    await coll.update_one({"_id": id, "version": v},
                          {"$set": {...change..., "version": v + 1},
                           "$push": {"outbox": outbox_entry(event)}})

and ``OutboxRelay`` publishes what is pending, then removes it from the document with
``$pullAll`` of exactly the entries it read (FerretDB's ``$pull`` matches whole elements only;
entries pushed meanwhile stay). A crash between publish and pull re-sends the same events (same
``event_id`` and ``version``) on the next pass; consumers dedupe. The relay runs on start, right
after each write (``kick``), and every ``sweep_interval`` seconds. It passes over one document
at a time: a kick for a document being relayed makes that pass read it once more.

What differs between services is plugged in; the FerretDB workarounds are the relay's:

- ``sender``: ``Direct(bus.publish)`` publishes each entry; ``SentSet(bus, key)`` records the
  entries it publishes in a Redis set, in the same MULTI/EXEC as their XADDs, and never
  publishes an entry in that set again: removing sent entries from the document is then
  housekeeping, and a bulk import publishes thousands of events without rewriting thousands of
  documents (``relay_docs``).
- ``markers``: the sweep has to find the documents with pending events. Without markers it asks
  for every document with a non-empty outbox (fine for a small collection; on FerretDB's SQLite
  backend a full scan). With ``Markers``, a writer records the document's ``_id`` in a small
  collection before its write, and the sweep reads only those; a marker is dropped once its
  document has nothing unsent (see ``Markers``).
- ``locks``: on FerretDB a single-document update is not atomic (see ``xabar.runtime.locks``), so
  a relay's ``$pullAll`` racing a writer's ``$set`` + ``$push`` can erase both. A service whose
  documents are written again after their first write gives the relay the ``DocLocks`` its
  writers hold (``relay.hold(doc_id)``); each pass then runs under the document's lock.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import KW_ONLY, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from pymongo.asynchronous.collection import AsyncCollection

from xabar.contracts import Event, parse_event
from xabar.runtime.bus import EventBus, Outgoing
from xabar.runtime.locks import DocLocks
from xabar.runtime.mongo import insert_many_ignoring_duplicates, upsert
from xabar.runtime.workers import Worker

log = logging.getLogger("xabar.outbox")

OUTBOX_FIELD = "outbox"
PIPELINE_CHUNK = 200
Entry = dict[str, str]
Doc = dict[str, Any]
Publish = Callable[[Event], Awaitable[Any]]


def outbox_entry(event: Event) -> Entry:
    """The form an event takes inside a document's outbox."""
    return {"event_id": str(event.event_id), "event": event.model_dump_json()}


def ms_now() -> datetime:
    """Now, at the millisecond precision BSON stores (so a stored time compares equal)."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


# --- senders ------------------------------------------------------------------------------------


class Sender(Protocol):
    async def unsent(self, entries: list[Entry]) -> list[Entry]:
        """The entries not published yet."""
        ...

    async def send(self, entries: list[Entry]) -> int:
        """Publish the entries not published yet, oldest first; how many were published."""
        ...


@dataclass(frozen=True, slots=True)
class Direct:
    """Publishes every entry it is given; what was sent is known by its leaving the outbox."""

    publish: Publish

    async def unsent(self, entries: list[Entry]) -> list[Entry]:
        return entries

    async def send(self, entries: list[Entry]) -> int:
        for entry in entries:
            await self.publish(parse_event(entry["event"]))
        return len(entries)


@dataclass(frozen=True, slots=True)
class SentSet:
    """Publishes entries not in the Redis set ``key``, adding them to it in the same MULTI/EXEC
    as their XADDs (``PIPELINE_CHUNK`` at a time)."""

    bus: EventBus
    key: str

    async def unsent(self, entries: list[Entry]) -> list[Entry]:
        if not entries:
            return []
        flags = await self.bus.redis.smismember(self.key, [e["event_id"] for e in entries])
        return [e for e, sent in zip(entries, flags, strict=True) if not sent]

    async def send(self, entries: list[Entry]) -> int:
        todo = await self.unsent(entries)
        for start in range(0, len(todo), PIPELINE_CHUNK):
            chunk = todo[start : start + PIPELINE_CHUNK]
            # two steps, the events first: the streams and the sent set are in other slots (on
            # a cluster, other nodes), so no MULTI holds them all. A crash between the steps
            # sends the chunk again: consumers dedupe by event id; the other order could lose it
            await self.bus.publish_many([Outgoing.of_json(entry["event"]) for entry in chunk])
            await self.bus.redis.sadd(self.key, *[e["event_id"] for e in chunk])
        return len(todo)


# --- markers ------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Markers:
    """Which documents may have pending events: ``{"_id": doc_id, at_field: when}`` in a small
    collection, written before the document's write.

    A sweep relays every marked document (after its first pass, only markers older than
    ``settle``: younger ones are a kick's). A marker is dropped when its document has nothing
    unsent and the marker is older than ``grace`` and unchanged; with ``grace`` zero, also right
    after a pass that published the document's events. A marker whose document does not exist
    is dropped once older than ``orphan_after`` (a request that marked and then failed)."""

    collection: AsyncCollection[Doc]
    _: KW_ONLY
    at_field: str = "at"
    grace: timedelta = timedelta(seconds=30)
    settle: timedelta = timedelta(0)
    orphan_after: timedelta = timedelta(minutes=2)

    async def mark(self, doc_id: Any) -> None:
        """Record that ``doc_id`` is about to get events (before the write)."""
        update = {"$set": {self.at_field: ms_now()}}
        await upsert(lambda: self.collection.update_one({"_id": doc_id}, update, upsert=True))

    async def mark_many(self, doc_ids: Sequence[Any]) -> datetime:
        """Mark many documents at once; returns the marking time (for ``relay_docs``)."""
        now = ms_now()
        marked = [{"_id": i, self.at_field: now} for i in doc_ids]
        for doc_id in await insert_many_ignoring_duplicates(self.collection, marked):
            await self.collection.update_one({"_id": doc_id}, {"$set": {self.at_field: now}})
        return now

    async def listed(self) -> list[Doc]:
        return await self.collection.find({}).to_list(None)

    def at(self, marker: Doc) -> datetime:
        value: datetime = marker[self.at_field]
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    async def drop(self, doc_id: Any, seen_at: datetime | None = None) -> None:
        """Drop the marker of ``doc_id`` (only if still the one seen at ``seen_at``)."""
        query: Doc = {"_id": doc_id}
        if seen_at is not None:
            query[self.at_field] = seen_at
        await self.collection.delete_one(query)

    async def drop_many(self, doc_ids: Sequence[Any], marked_at: datetime) -> None:
        if doc_ids:
            await self.collection.delete_many(
                {"_id": {"$in": list(doc_ids)}, self.at_field: marked_at}
            )


# --- the relay ----------------------------------------------------------------------------------


class OutboxRelay:
    def __init__(
        self,
        collection: AsyncCollection[Doc],
        sender: Sender | Publish,
        *,
        markers: Markers | None = None,
        locks: DocLocks | None = None,
        lock_key: Callable[[Any], str] | None = None,
        sweep_interval: float = 5.0,
        workers: int = 4,
        scan_at_start: bool = False,
        enabled: bool = True,
        name: str = "",
    ) -> None:
        """``sender``: a ``Sender``, or a publish function (``Direct``). ``lock_key``: the
        key of a document's lock, ``"<collection>:<_id>"`` by default. ``workers``: how many
        kicked documents are relayed at once. ``scan_at_start``: with markers, read every
        outbox once at start as well (insurance for events marked nowhere). ``enabled``: off,
        nothing runs and kicks are ignored (events wait in their outboxes)."""
        self.collection = collection
        self.sender: Sender = Direct(sender) if callable(sender) else sender
        self.markers = markers
        self.doc_locks = locks
        self._lock_key = lock_key or (lambda doc_id: f"{collection.name}:{doc_id}")
        self.sweep_interval = sweep_interval
        self.enabled = enabled
        self.scan_at_start = scan_at_start
        name = name or collection.name
        self._sweeper = Worker(f"{name}-outbox-sweep", self._sweep_step, interval=sweep_interval)
        self._kickers = [
            Worker(f"{name}-outbox-kick-{n}", self._kick_step, interval=sweep_interval)
            for n in range(workers)
        ]
        self._kicks: dict[Any, None] = {}  # kicked documents, oldest first, each once
        self._inflight: set[Any] = set()
        self._again: set[Any] = set()
        self._swept = False

    # --- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        if not self.enabled:
            return
        self._swept = False
        self._sweeper.start()
        for kicker in self._kickers:
            kicker.start()

    async def stop(self) -> None:
        """The passes in progress finish first (a cancelled PyMongo call leaks its socket)."""
        for worker in [*self._kickers, self._sweeper]:
            await worker.stop()

    def kick(self, doc_id: Any) -> None:
        """Relay the pending events of one document now (in the background)."""
        if not self.enabled:
            return
        self._kicks[doc_id] = None
        for kicker in self._kickers:
            kicker.wake()

    # --- what writers use -----------------------------------------------------------------------

    def lock_key(self, doc_id: Any) -> str:
        return self._lock_key(doc_id)

    @asynccontextmanager
    async def hold(self, doc_id: Any) -> AsyncIterator[None]:
        """The document's write lock, the one the relay's passes take (none without locks)."""
        if self.doc_locks is None:
            yield
            return
        async with self.doc_locks.hold(self.lock_key(doc_id)):
            yield

    async def mark(self, doc_id: Any) -> None:
        """Before a write that adds events (holding the document's lock): mark the document."""
        if self.markers is not None:
            await self.markers.mark(doc_id)

    async def mark_many(self, doc_ids: Sequence[Any]) -> datetime:
        if self.markers is None:
            return ms_now()
        return await self.markers.mark_many(doc_ids)

    async def unsent(self, entries: list[Entry]) -> list[Entry]:
        return await self.sender.unsent(entries)

    async def publish_entries(self, entries: list[Entry]) -> int:
        """Publish the entries not sent yet (a writer may call it right after its write, still
        holding the lock, to have the event out before it answers)."""
        return await self.sender.send(entries)

    async def publish_now(self, entries: list[Entry]) -> None:
        """``publish_entries`` right after a durable write, before the writer answers; a
        failure is logged, not raised: the write is durable, and the relay (kicked) and its
        sweeps publish the entries. Nothing when the relay is disabled."""
        if not self.enabled:
            return
        try:
            await self.publish_entries(entries)
        except Exception as exc:
            log.warning("publishing right after the write failed", extra={"error": repr(exc)})

    # --- passes ---------------------------------------------------------------------------------

    async def relay_doc(self, doc_id: Any) -> int:
        """Publish one document's unsent events and remove them from it; how many were sent."""
        if doc_id in self._inflight:
            self._again.add(doc_id)
            return 0
        self._inflight.add(doc_id)
        try:
            sent = 0
            while True:
                sent += await self._pass(doc_id)
                if doc_id not in self._again:
                    break
                self._again.discard(doc_id)
        finally:
            self._inflight.discard(doc_id)
        if sent and self.markers is not None and not self.markers.grace:
            await self.markers.drop(doc_id)
        return sent

    async def _pass(self, doc_id: Any) -> int:
        async with self.hold(doc_id):
            doc = await self.collection.find_one({"_id": doc_id}, {OUTBOX_FIELD: 1})
            entries = (doc or {}).get(OUTBOX_FIELD) or []
            if not entries:
                return 0
            sent = await self.publish_entries(entries)
            await self.collection.update_one({"_id": doc_id}, {"$pullAll": {OUTBOX_FIELD: entries}})
            return sent

    async def sweep(self, settle: timedelta = timedelta(0)) -> int:
        """Publish what is pending: the marked documents whose marker is older than ``settle``
        (with ``scan_at_start``, on the first sweep every outbox too), or without markers every
        document with a non-empty outbox."""
        first, self._swept = not self._swept, True
        if self.markers is None:
            return await self.scan()
        sent = await self.scan(only_unsent=True) if first and self.scan_at_start else 0
        return sent + await self.sweep_markers(settle)

    async def scan(self, *, only_unsent: bool = False) -> int:
        """Every document with a non-empty outbox; with ``only_unsent``, read in one query and
        relayed only if something in it is unsent."""
        if not only_unsent:
            cursor = self.collection.find({f"{OUTBOX_FIELD}.0": {"$exists": True}}, {"_id": 1})
            pending = [doc["_id"] async for doc in cursor]
        else:
            docs = await self.collection.find(
                {f"{OUTBOX_FIELD}.0": {"$exists": True}}, {OUTBOX_FIELD: 1}
            ).to_list(None)
            unsent = {
                e["event_id"] for e in await self.unsent([e for d in docs for e in d[OUTBOX_FIELD]])
            }
            pending = [
                d["_id"] for d in docs if any(e["event_id"] in unsent for e in d[OUTBOX_FIELD])
            ]
        sent = 0
        for doc_id in pending:
            sent += await self.relay_doc(doc_id)
        return sent

    async def sweep_markers(self, settle: timedelta = timedelta(0)) -> int:
        """Relay every marked document whose marker is older than ``settle``, and drop the
        markers whose documents are done."""
        markers = self.markers
        if markers is None:
            return 0
        sent = 0
        now = datetime.now(UTC)
        for marker in await markers.listed():
            at = markers.at(marker)
            if now - at < settle:
                continue
            sent += await self.relay_doc(marker["_id"])
            await self._drop_if_done(marker["_id"], at, now)
        if sent:
            log.info(
                "outbox sweep published events",
                extra={"collection": self.collection.name, "sent": sent},
            )
        return sent

    async def _drop_if_done(self, doc_id: Any, seen_at: datetime, now: datetime) -> None:
        markers = self.markers
        assert markers is not None
        async with self.hold(doc_id):
            doc = await self.collection.find_one({"_id": doc_id}, {OUTBOX_FIELD: 1})
            if doc is None:
                if now - seen_at > markers.orphan_after:
                    log.warning(
                        "dropping the outbox marker of a document never stored",
                        extra={"collection": self.collection.name, "doc_id": str(doc_id)},
                    )
                    await markers.drop(doc_id, seen_at)
                return
            if now - seen_at < markers.grace:
                return
            if not await self.unsent(doc.get(OUTBOX_FIELD) or []):
                await markers.drop(doc_id, seen_at)

    async def relay_docs(self, docs: list[Doc], marked_at: datetime) -> int:
        """Publish the outboxes of documents the caller has just inserted (bulk imports) and drop
        their markers. Needs a ``SentSet``: the documents are not rewritten, their entries are
        recorded as sent and removed by each document's next pass."""
        entries = [e for d in docs for e in d.get(OUTBOX_FIELD) or []]
        sent = await self.publish_entries(entries)
        if self.markers is not None:
            await self.markers.drop_many([d["_id"] for d in docs], marked_at)
        return sent

    # --- the loops ------------------------------------------------------------------------------

    async def _sweep_step(self) -> None:
        settle = self.markers.settle if self._swept and self.markers else timedelta(0)
        await self.sweep(settle)  # the first pass takes every marker

    async def _kick_step(self) -> bool:
        if not self._kicks:
            return False
        doc_id = next(iter(self._kicks))
        del self._kicks[doc_id]
        try:
            await self.relay_doc(doc_id)
        except Exception:
            log.exception(
                "outbox relay of one document failed; the sweep will retry",
                extra={"collection": self.collection.name, "doc_id": str(doc_id)},
            )
        return bool(self._kicks)


__all__ = [
    "OUTBOX_FIELD",
    "Direct",
    "Entry",
    "Markers",
    "OutboxRelay",
    "Publish",
    "Sender",
    "SentSet",
    "ms_now",
    "outbox_entry",
]
