"""The polls' storage: one repository per aggregate, and ``Storage``, which opens them on the
service's clients and closes those clients.

MongoDB: polls (with their outbox), the durable vote log, the tally versions, the polls' locks.
Redis: ``counter.VoteCounter`` (the counting script, counters, voter sets, the vote-log stream,
the poll mirror and the anomalies; every key under one hash tag). Nothing else in the service
calls a driver: the rest gets these repositories (and the runtime's relay, locks and stream
worker their collection or client from here).

Only ``_id`` lookups on hot paths (FerretDB pushes down nothing else). Scans by ``poll_id`` are
for recounts and rebuilds, which are rare and off the request path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError
from redis.asyncio import Redis

from xabar.contracts import Event
from xabar.polls.counter import AddressPolicy, VoteCounter, VoteEntry
from xabar.polls.domain import Poll, from_epoch_ms
from xabar.polls.errors import ConcurrentChange
from xabar.runtime.outbox import OUTBOX_FIELD, outbox_entry
from xabar.runtime.redispipe import RedisPipe

DUPLICATE_KEY = 11000


class PollRepository:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.collection = db["polls"]

    async def insert(self, poll: Poll, events: Sequence[Event]) -> bool:
        """Store a new poll and the events it causes in one write; False if the id exists."""
        doc = poll.to_doc()
        doc[OUTBOX_FIELD] = [outbox_entry(e) for e in events]
        try:
            await self.collection.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    async def get(self, poll_id: str) -> Poll | None:
        doc = await self.collection.find_one({"_id": poll_id}, {OUTBOX_FIELD: 0})
        return None if doc is None else Poll.from_doc(doc)

    async def any(self) -> bool:
        """Whether any poll is stored (the collection's metadata, no scan)."""
        return bool(await self.collection.estimated_document_count())

    async def all(self) -> list[Poll]:
        docs = await self.collection.find({}, {OUTBOX_FIELD: 0}).to_list(None)
        return [Poll.from_doc(d) for d in docs]

    async def update(self, poll: Poll, expected_version: int, events: Sequence[Event]) -> None:
        """Replace the poll's fields if nobody changed it since ``expected_version``, and queue
        ``events`` in its outbox in the same single-document update."""
        fields = poll.to_doc()
        del fields["_id"]
        change: dict[str, Any] = {"$set": fields}
        if events:
            change["$push"] = {OUTBOX_FIELD: {"$each": [outbox_entry(e) for e in events]}}
        result = await self.collection.update_one(
            {"_id": poll.poll_id, "version": expected_version}, change
        )
        if result.matched_count != 1:
            raise ConcurrentChange


class TallyVersions:
    """The newest ``poll.tallied`` version sent per poll, in its own collection (never written
    together with the poll's document), so a rebuilt counter can continue above it."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.collection = db["tally_versions"]

    async def record(self, poll_id: str, version: int) -> None:
        await self.collection.update_one(
            {"_id": poll_id}, {"$max": {"version": version}}, upsert=True
        )

    async def get(self, poll_id: str) -> int:
        doc = await self.collection.find_one({"_id": poll_id})
        return int(doc["version"]) if doc else 0


class VoteLog:
    """Every counted vote, ``_id`` = ``poll_id:voter_id``: written more than once, stored once."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.collection = db["votes"]

    async def ensure_indexes(self) -> None:
        await self.collection.create_index("poll_id")

    @staticmethod
    def doc_of(entry: VoteEntry) -> dict[str, Any]:
        return {
            "_id": f"{entry.poll_id}:{entry.voter_id}",
            "poll_id": entry.poll_id,
            "voter_id": entry.voter_id,
            "options": list(entry.options),
            "address_hash": entry.address,
            "subnet_hash": entry.subnet,
            "at": from_epoch_ms(entry.at_ms),
            "seq": entry.seq,
            "flags": list(entry.flags),
        }

    async def write(self, entries: Sequence[VoteEntry]) -> None:
        """Upsert ``entries`` by ``_id``. Fast path: one unordered insert; the ids that exist
        already (a redelivery after a crash) are then replaced one by one."""
        if not entries:
            return
        docs = {d["_id"]: d for d in (self.doc_of(e) for e in entries)}
        try:
            await self.collection.insert_many(list(docs.values()), ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            others = [e for e in errors if e.get("code") != DUPLICATE_KEY]
            if others:
                raise
            ordered = list(docs.values())
            for err in errors:
                doc = ordered[err["index"]]
                await self.collection.replace_one({"_id": doc["_id"]}, doc, upsert=True)

    async def for_poll(self, poll_id: str) -> list[VoteEntry]:
        docs = await self.collection.find({"poll_id": poll_id}).to_list(None)
        return [entry_of(d) for d in docs]

    async def poll_ids(self) -> set[str]:
        return {str(p) for p in await self.collection.distinct("poll_id")}


@dataclass
class Storage:
    """Every repository of the service, on the clients it was opened with."""

    polls: PollRepository
    votes: VoteLog
    tallies: TallyVersions
    counter: VoteCounter
    locks: AsyncCollection[dict[str, Any]]  # the polls' document locks (``runtime.locks``)
    clients: tuple[Redis, AsyncMongoClient[dict[str, Any]], RedisPipe | None]

    @classmethod
    def open(
        cls,
        *,
        redis: Redis,
        mongo: AsyncMongoClient[dict[str, Any]],
        db_name: str,
        prefix: str,
        policy: AddressPolicy,
        pipe: RedisPipe | None = None,
    ) -> Storage:
        """``pipe``: the connection votes are counted on (the HTTP app's; none: redis-py)."""
        db = mongo[db_name]
        return cls(
            polls=PollRepository(db),
            votes=VoteLog(db),
            tallies=TallyVersions(db),
            counter=VoteCounter(redis, prefix, policy, pipe),
            locks=db["locks"],
            clients=(redis, mongo, pipe),
        )

    async def close(self) -> None:
        redis, mongo, pipe = self.clients
        if pipe is not None:
            await pipe.aclose()
        await redis.aclose()
        await mongo.close()


def entry_of(doc: dict[str, Any]) -> VoteEntry:
    at = doc.get("at")
    return VoteEntry(
        poll_id=str(doc["poll_id"]),
        voter_id=str(doc["voter_id"]),
        options=tuple(doc.get("options") or ()),
        address=str(doc.get("address_hash", "")),
        subnet=str(doc.get("subnet_hash", "")),
        at_ms=0 if at is None else int(at.timestamp() * 1000),
        seq=int(doc.get("seq", 0)),
        flags=tuple(doc.get("flags") or ()),
    )
