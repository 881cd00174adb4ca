"""The durable accept of a submission in Redis, and the mover that takes it on to MongoDB.

A submission is accepted by one Lua script: its MongoDB document and its ``submission.received``
event are appended to the intake stream (with a receipt look-up note and, for an
Idempotency-Key, the key's record) in one atomic step. Redis runs with AOF on and writes the
script's effects to the AOF before it answers, so once the script has answered the submission
survives kill -9 of any process, Redis included; the 202 comes after it. (With ``appendfsync
everysec`` - the votes' guarantee too - a disk whose fsync stalls can hold that write back for
up to 2 s, and a power cut can take the last second.)

The mover reads the stream in a consumer group, inserts the documents into MongoDB (an ``_id``
already there is a redelivery: skipped), then publishes their events and only then acknowledges
and deletes the entries. A crash anywhere leaves the entries pending; the restarted mover (same
consumer name) reads its own pending entries first, and entries another replica left pending
longer than ``claim_idle_ms`` are claimed. An event may so be published twice, with one event id:
consumers dedupe by it. The event goes out only after its document is in MongoDB, so a review
coming back always finds the submission.

Keys (``P`` = ``xabar:ingest``; ``T`` = ``{P:intake}``, the stream's name as a hash tag, so that
every note shares the stream's slot and one ``ACCEPT`` stays single-slot on Redis Cluster):

- ``P:intake`` stream: ``id``, ``doc`` (the document as JSON), ``event`` (JSON); never trimmed:
  an entry leaves only once MongoDB has the document and the event is published.
- ``T:pending:{id}`` what a receipt look-up needs until the document is in MongoDB.
- ``T:receipt:{hash}`` the id of the submission whose receipt code has this hash (a receipt
  code alone finds its tip), until the document and its receipt are in MongoDB.
- ``T:idem:{id}`` for a submission sent with an Idempotency-Key: the request's fingerprint and
  sealed receipt code, kept (from the accept) for as long as its key can be replayed: a form's
  token lives ``form_max_age_s``, an API key is remembered ``idempotency_retention_s``. A replay
  is so answered from Redis alone, MongoDB down or not (see ``service``).
- ``P:intake.dlq`` the dead letters of the intake: an entry that cannot be moved (its document
  or event does not decode, MongoDB refuses it for good, or MongoDB holds another submission
  under its id) is delivered again up to ``max_deliveries`` times, then moved here with the
  error and acknowledged, so it stops no other tip. Same layout as the bus's ``<stream>.dlq``:
  ``xabar-ops dlq list xabar:ingest:intake`` lists them, ``dlq replay`` puts them back.
  Unreachable Redis or MongoDB is no entry's fault: the whole step waits and retries instead.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Unpack

from pydantic_core import to_json

from xabar.contracts import STREAM_OF_TYPE, Event, parse_event
from xabar.ingest.errors import IntakeUnavailable
from xabar.ingest.repository import insert_moved
from xabar.runtime.bus import EventBus, Outgoing
from xabar.runtime.config import RedisClient
from xabar.runtime.errors import REDIS_ERRORS, STORAGE_ERRORS
from xabar.runtime.mongo import Collection, deadline
from xabar.runtime.redispipe import RedisPipe
from xabar.runtime.streams import FailedEntry, Outcome, Reading, Row, StreamWorker

log = logging.getLogger("xabar.ingest.intake")

PREFIX = "xabar:ingest"
GROUP = "mover"
DATETIME_FIELDS = ("received_at", "updated_at", "submitted_at")

Doc = dict[str, Any]

# KEYS: 1 the key's record (unused without a key), 2 intake stream, 3.. notes
# ARGV: 1 the key's record ("" = no key), 2 how long to keep it (ms), 3 how many notes,
#       4.. the notes' values, then the stream entry's fields and values
ACCEPT = """
if ARGV[1] ~= '' then
  local known = redis.call('GET', KEYS[1])
  if known then return {'known', known} end
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
local notes = tonumber(ARGV[3])
for i = 1, notes do redis.call('SET', KEYS[2 + i], ARGV[3 + i]) end
redis.call('XADD', KEYS[2], '*', unpack(ARGV, 4 + notes))
return {'ok'}
"""


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as the intake keeps it: its JSON and what publishing it needs."""

    body: bytes
    type: str
    event_id: str
    correlation_id: str

    def event(self) -> Event:
        return parse_event(self.body)


def doc_to_json(doc: Doc) -> str:
    """``doc`` as compact JSON (datetimes as ISO 8601, UTC as ``Z``), by pydantic-core's
    serializer: on the accept's hot path, a hundred times faster than ``json.dumps`` with a
    ``default``."""
    return to_json(doc).decode()


def doc_from_json(raw: str | bytes) -> Doc:
    doc: Doc = json.loads(raw)
    for name in DATETIME_FIELDS:
        if isinstance(doc.get(name), str):
            doc[name] = datetime.fromisoformat(doc[name])
    return doc


class Intake:
    def __init__(self, pipe: RedisPipe, prefix: str = PREFIX) -> None:
        self.p = prefix
        self._accept = pipe.script(ACCEPT)
        self._pipe = pipe

    @property
    def stream(self) -> str:
        return f"{self.p}:intake"

    @property
    def tag(self) -> str:
        """The hash tag of the notes: the stream's own name, so they share its slot (one
        ``ACCEPT`` writes both, on Redis Cluster too)."""
        return f"{{{self.stream}}}"

    def pending_key(self, submission_id: str) -> str:
        return f"{self.tag}:pending:{submission_id}"

    def key_record(self, submission_id: str) -> str:
        return f"{self.tag}:idem:{submission_id}"

    def receipt_key(self, receipt_hash: str) -> str:
        return f"{self.tag}:receipt:{receipt_hash}"

    def notes(self, doc: Doc) -> dict[str, str]:
        """What the accept of ``doc`` notes beside the stream (dropped once it is moved): for a
        tip (a document with a receipt), its receipt look-up note and its receipt's pointer."""
        receipt = doc.get("receipt_hash")
        if not isinstance(receipt, str):
            return {}
        submission_id = str(doc["_id"])
        note = {"receipt_hash": receipt, "received_at": doc["received_at"]}
        return {
            self.pending_key(submission_id): doc_to_json(note),
            self.receipt_key(receipt): submission_id,
        }

    def note_keys(self, doc: Doc) -> list[str]:
        return list(self.notes(doc))

    async def accept(self, doc: Doc, event: Event, *, keep_key_ms: int = 0) -> Doc | None:
        """Store ``doc`` and its event durably. With an Idempotency-Key (``doc["idempotency"]``)
        whose record is in Redis, nothing is stored and that record (its ``fingerprint`` and,
        for a tip, its ``sealed_code``) is returned instead; else the record is kept
        ``keep_key_ms``. ``IntakeUnavailable``: Redis did not answer (the script may or may not
        have run), or fewer replicas than the deployment asks for confirmed it in time
        (``runtime.replication``: the accept is then not acknowledged, and a retry with the same
        key finds it)."""
        doc_id = str(doc["_id"])
        idem = doc.get("idempotency")
        if idem and keep_key_ms <= 0:
            raise ValueError("a document with a key needs keep_key_ms")
        notes = self.notes(doc)
        entry = {
            "id": doc_id,
            "doc": doc_to_json(doc),
            "event": event.model_dump_json(),
            "type": event.type,
            "event_id": str(event.event_id),
            "correlation_id": event.correlation_id or "",
        }
        try:
            reply = await self._accept(
                [self.key_record(doc_id), self.stream, *notes],
                [
                    doc_to_json(idem) if idem else "",
                    str(keep_key_ms),
                    str(len(notes)),
                    *notes.values(),
                    *(part for pair in entry.items() for part in pair),
                ],
                durable=True,
            )
        except REDIS_ERRORS as exc:
            raise IntakeUnavailable("the intake did not answer") from exc
        if reply[0] == b"known":
            known: Doc = json.loads(reply[1])
            return known
        return None

    async def known(self, submission_id: str) -> Doc | None:
        """The key record of ``submission_id`` (``fingerprint``, ``sealed_code``), or None. Read
        durably: a replay is acknowledged only once the replicas have what this connection wrote
        (the accept of the key, when it ran here and was not confirmed then)."""
        raw = await self._get(self.key_record(submission_id), durable=True)
        if raw is None:
            return None
        record: Doc = json.loads(raw)
        return record

    async def pending(self, submission_id: str) -> Doc | None:
        """The look-up note of a submission still in the intake (``receipt_hash``,
        ``received_at``), or None."""
        raw = await self._get(self.pending_key(submission_id))
        return None if raw is None else doc_from_json(raw)

    async def by_receipt(self, receipt_hash: str) -> str | None:
        """The id of the submission in the intake whose receipt code has ``receipt_hash``."""
        raw = await self._get(self.receipt_key(receipt_hash))
        return None if raw is None else _s(raw)

    async def _get(self, key: str, *, durable: bool = False) -> Any:
        try:
            return await self._pipe.execute("GET", key, durable=durable)
        except REDIS_ERRORS as exc:
            raise IntakeUnavailable("the intake did not answer") from exc


class Mover(StreamWorker):
    """Moves accepted submissions from the intake stream to MongoDB and publishes their events,
    at most ``batch`` every ``interval`` seconds: a burst of accepts is levelled out (it waits,
    durable, in the intake) instead of being passed on at once to MongoDB and the consumers.
    The reading, settling and claiming are the runtime's ``StreamWorker``; ``move`` is what a
    batch does."""

    def __init__(
        self,
        redis: RedisClient,
        intake: Intake,
        submissions: Collection,
        bus: EventBus,
        *,
        consumer: str,
        storage_timeout_s: float = 30.0,
        on_moved: Callable[[list[Doc]], Awaitable[None]] | None = None,
        identity: str = "receipt_hash",
        **reading: Unpack[Reading],
    ) -> None:
        """``on_moved``: what else MongoDB must hold of the moved documents (their receipts),
        awaited after the insert and before the events go out; idempotent (it runs again for
        a batch a crash interrupted). ``identity``: the field that tells a redelivery (the same
        value under the ``_id`` already stored) from another document under a reused id.
        ``reading``: 50 entries every 0.5 s unless told otherwise."""
        super().__init__(
            redis,
            intake.stream,
            GROUP,
            consumer=consumer,
            handle=self.move,
            what="an accepted submission",
            unavailable=(*STORAGE_ERRORS, OSError),
            **(Reading(batch=50, interval=0.5) | reading),
        )
        self.intake = intake
        self.submissions = submissions
        self.bus = bus
        self.storage_timeout_s = storage_timeout_s
        self.on_moved = on_moved
        self.identity = identity

    async def move(self, rows: list[Row]) -> Outcome:
        """Store the submissions of a batch, then publish their events. An entry that cannot be
        moved fails (it stays pending and, once delivered ``max_deliveries`` times, goes to the
        dead-letter stream); the others move on. Redis or MongoDB unreachable: raises, and every
        entry stays pending as it was."""
        ready: list[_Entry] = []
        failed: list[FailedEntry] = []
        for entry_id, fields in rows:
            try:
                ready.append(_Entry.of(entry_id, fields))
            except Exception as exc:  # the entry itself is damaged
                failed.append(FailedEntry(entry_id, fields, exc))
        moved: list[_Entry] = []
        with deadline(self.storage_timeout_s):
            docs = [entry.doc for entry in ready]
            outcomes = await insert_moved(self.submissions, docs, self.identity)
            for entry, error in zip(ready, outcomes, strict=True):
                if error is None:
                    moved.append(entry)
                else:
                    failed.append(FailedEntry(entry.entry_id, entry.fields, error))
            if moved and self.on_moved is not None:
                await self.on_moved([entry.doc for entry in moved])
        notes = [key for entry in moved for key in self.intake.note_keys(entry.doc)]
        if notes:
            await self.redis.delete(*notes)
        await self.publish([entry.event for entry in moved])  # after the move
        return Outcome(done=[entry.entry_id for entry in moved], failed=failed)

    async def publish(self, events: list[StoredEvent]) -> None:
        """The events of a batch, as they were stored, in one round trip."""
        await self.bus.publish_many(
            Outgoing(e.type, e.event_id, e.correlation_id, e.body) for e in events
        )


@dataclass(frozen=True, slots=True)
class _Entry:
    """An intake entry, decoded."""

    entry_id: bytes
    fields: dict[bytes, bytes]
    doc: Doc
    event: StoredEvent

    @property
    def submission_id(self) -> str:
        return str(self.doc["_id"])

    @classmethod
    def of(cls, entry_id: bytes, fields: dict[bytes, bytes]) -> _Entry:
        doc = doc_from_json(fields[b"doc"])
        event = _stored_event(fields)
        if event.type not in STREAM_OF_TYPE:
            raise ValueError(f"no stream for event type {event.type!r}")
        return cls(entry_id, fields, doc, event)


def _stored_event(fields: dict[bytes, bytes]) -> StoredEvent:
    if b"type" not in fields:  # written by an older version: the event JSON only
        event = parse_event(fields[b"event"])
        return StoredEvent(
            fields[b"event"], event.type, str(event.event_id), event.correlation_id or ""
        )
    return StoredEvent(
        fields[b"event"],
        fields[b"type"].decode(),
        fields[b"event_id"].decode(),
        fields[b"correlation_id"].decode(),
    )


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
