"""Ingest's MongoDB side: submissions (one document each, read and written by ``_id`` only) and
their photos. These repositories give MongoDB the time a request allows and turn its driver's
errors into ``DatabaseUnavailable``; the service decides what that means for the request.

A submission document holds what the reporter sent (plain text), the hash of its receipt code,
the salted hash of the client address, its current review status and, until the relay has
published it, its ``submission.received`` event in ``outbox``. The document and its event are one
insert, so a stored submission always has its event and an event never exists without one.

FerretDB v1.24.2 (SQLite backend), measured: an ``_id`` equality filter is pushed down to SQLite
as ``_ferretdb_sjson->'$._id' = ?``, but the unique index is on ``_ferretdb_sjson->"_id"``, a
different expression, so SQLite scans the table (in C, far faster than the in-Go filtering of
every other filter, but linear): with 5,000 documents of 2 KB a lookup takes ~28 ms, an insert
~1 ms. So ingest reads as little as it can: no read before an insert (the unique ``_id`` decides
idempotency), and the relay's timer reads the small marker collection below. On mongo:7 these
are index lookups.

``receipts`` maps the hash of each receipt code (its ``_id``) to its submission, so that a
receipt code alone finds its tip by ``_id``; the mover writes it with the submission.

``outbox_pending`` lists the ids of documents whose outbox may still hold events, so the relay's
timer looks at those few documents instead of scanning every submission (FerretDB's SQLite backend
filters only ``_id`` fast). A marker is written before its document and removed once the document's
events are published; a marker whose document never came is removed after a grace period.
"""

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import pymongo
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import (
    BulkWriteError,
    ConnectionFailure,
    DuplicateKeyError,
    ExecutionTimeout,
    PyMongoError,
    WTimeoutError,
)

from xabar.ingest.errors import (
    AttachmentDamaged,
    DatabaseUnavailable,
    DuplicateSubmission,
)
from xabar.ingest.media import AttachmentStore, CorruptAttachment, StoredPhoto
from xabar.ingest.photos import CleanPhoto
from xabar.runtime.mongo import is_duplicate

Doc = dict[str, Any]
DUPLICATE_KEY = 11000
log = logging.getLogger(__name__)


@asynccontextmanager
async def bounded(timeout_s: float | None, what: str) -> AsyncIterator[None]:
    """MongoDB gets ``timeout_s`` (None: the driver's own); a driver error becomes
    ``DatabaseUnavailable`` (the callers decide what it means for the request)."""
    try:
        if timeout_s is None:
            yield
        else:
            with pymongo.timeout(timeout_s):
                yield
    except PyMongoError as exc:
        raise DatabaseUnavailable(f"{what}: MongoDB did not answer") from exc


class SubmissionRepository:
    def __init__(self, db: AsyncDatabase[Doc], timeout_s: float | None = None) -> None:
        """``timeout_s``: what MongoDB gets to answer a look-up or to store a submission."""
        self.submissions = db["submissions"]
        self.pending = db["outbox_pending"]
        self.receipts = db["receipts"]
        self.erasures = db["erasures"]
        self.timeout_s = timeout_s

    async def store_with_outbox(self, doc: Doc, now: datetime) -> None:
        """Store a new submission whose events are in its outbox (the path without Redis): a
        marker first, so the relay's timer finds it, then the document, one single-document
        write. ``DuplicateSubmission`` if the id exists; ``DatabaseUnavailable``."""
        async with bounded(self.timeout_s, "storing a submission"):
            await self.mark_pending(str(doc["_id"]), now)
            await self.index_receipts([doc])
            await self.insert(doc)

    async def index_receipts(self, docs: list[Doc]) -> None:
        """Note each document's receipt (``_id``: the hash of its code), so that the code alone
        finds its submission; a receipt noted already is left as it is. Driver errors
        propagate (the mover retries the batch)."""
        rows = [
            {"_id": d["receipt_hash"], "submission_id": d["_id"]}
            for d in docs
            if isinstance(d.get("receipt_hash"), str)
        ]
        if not rows:
            return
        try:
            await self.receipts.insert_many(rows, ordered=False)
        except BulkWriteError as exc:
            if any(e.get("code") != DUPLICATE_KEY for e in exc.details.get("writeErrors", [])):
                raise

    async def by_receipt(self, receipt_hash: str) -> str | None:
        """The id of the stored submission whose receipt code has ``receipt_hash``."""
        async with bounded(self.timeout_s, "reading a receipt"):
            row = await self.receipts.find_one({"_id": receipt_hash})
        return None if row is None else str(row["submission_id"])

    async def mark_pending(self, submission_id: str, now: datetime) -> bool:
        """Note that ``submission_id`` may have unpublished events; False if the note exists
        (an idempotent retry while the first request's event is still pending)."""
        try:
            await self.pending.insert_one({"_id": submission_id, "created_at": now})
        except DuplicateKeyError:
            return False
        return True

    async def unmark_pending(self, submission_id: str) -> None:
        await self.pending.delete_one({"_id": submission_id})

    async def insert(self, doc: Doc) -> None:
        """Store a new submission with its outbox; ``DuplicateSubmission`` if the id exists."""
        try:
            await self.submissions.insert_one(doc)
        except DuplicateKeyError as exc:
            raise DuplicateSubmission(f"submission {doc['_id']} exists") from exc

    async def get(self, submission_id: str) -> Doc | None:
        """The stored submission (without its outbox), or None; ``DatabaseUnavailable`` if
        MongoDB does not answer within ``timeout_s``."""
        async with bounded(self.timeout_s, "reading a submission"):
            return await self.submissions.find_one({"_id": submission_id}, {"outbox": 0})

    async def apply_review(self, submission_id: str, version: int, fields: Doc) -> bool:
        """Set the review state if ``version`` is newer than the one applied; False otherwise
        (an old or duplicated event, or an unknown submission)."""
        async with bounded(None, "applying a review"):
            result = await self.submissions.update_one(
                {"_id": submission_id, "review_version": {"$lt": version}},
                {"$set": {**fields, "review_version": version}},
            )
        return result.matched_count == 1

    # erasure of contacts, a retention period after a tip is closed: ``erasures`` holds one
    # marker per closed tip (``_id``: its id, ``erase_after``), few next to the submissions

    async def schedule_erasure(self, submission_id: str, erase_after: datetime) -> None:
        await self.erasures.update_one(
            {"_id": submission_id}, {"$set": {"erase_after": erase_after}}, upsert=True
        )

    async def drop_erasure(self, submission_id: str) -> None:
        await self.erasures.delete_one({"_id": submission_id})

    async def due_erasures(self, now: datetime) -> list[str]:
        """The ids whose erasure is due (the markers are read whole: a small collection)."""
        markers = await self.erasures.find({}).to_list(None)
        return [str(m["_id"]) for m in markers if m["erase_after"] <= now]

    async def erase_contact(self, submission_id: str, now: datetime) -> None:
        await self.submissions.update_one(
            {"_id": submission_id},
            {"$set": {"contact_sealed": None, "contact_erased_at": now}},
        )


class Lapse:
    """A fallback look-up in MongoDB that gives way: after one fails, MongoDB is passed for
    ``window_s`` (a key's replay check must not make every request wait out a MongoDB that is
    down; Redis answers meanwhile)."""

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self.failed_at = -1e9  # when a look-up last failed (monotonic seconds)

    @property
    def passing(self) -> bool:
        return time.monotonic() - self.failed_at < self.window_s

    async def get(
        self,
        read: Callable[[str], Awaitable[Doc | None]],
        doc_id: str,
        *,
        warning: str | None = None,
    ) -> Doc | None:
        """``read(doc_id)``; None while MongoDB is passed, or when the read fails (which starts
        the window, and logs ``warning`` if given)."""
        if self.passing:
            return None
        try:
            return await read(doc_id)
        except DatabaseUnavailable:
            self.failed_at = time.monotonic()
            if warning is not None:
                log.warning(warning)
            return None


class DocumentRepository:
    """Readers' comments or letters: one document each, written by their intake's mover, read
    by ``_id`` (an idempotent retry after its record left Redis)."""

    def __init__(self, collection: AsyncCollection[Doc], timeout_s: float | None = None) -> None:
        self.collection = collection
        self.timeout_s = timeout_s

    async def get(self, doc_id: str) -> Doc | None:
        async with bounded(self.timeout_s, "reading a document"):
            return await self.collection.find_one({"_id": doc_id})


class AttachmentRepository:
    """Photos of submissions (``AttachmentStore`` keeps their bytes), with the time MongoDB gets
    and its errors as ``DatabaseUnavailable``."""

    def __init__(self, store: AttachmentStore, timeout_s: float | None = None) -> None:
        self.store = store
        self.timeout_s = timeout_s

    async def put_all(
        self, submission_id: str, photos: list[tuple[str, CleanPhoto]], now: datetime
    ) -> None:
        """Store ``(attachment_id, photo)`` pairs; each photo gets the time of a submission
        again."""
        budget = None if self.timeout_s is None else self.timeout_s * (1 + len(photos))
        async with bounded(budget, "storing photos"):
            for attachment_id, photo in photos:
                await self.store.put(attachment_id, submission_id, photo, now)

    async def get(self, attachment_id: str) -> StoredPhoto | None:
        try:
            async with bounded(None, "reading a photo"):
                return await self.store.get(attachment_id)
        except CorruptAttachment as exc:
            raise AttachmentDamaged("the stored photo is damaged") from exc

    async def delete(self, attachment_id: str, photo: CleanPhoto) -> None:
        """Remove an attachment that lost an idempotency race."""
        async with bounded(None, "removing a photo"):
            await self.store.delete(attachment_id, AttachmentStore.chunk_count(photo))


async def insert_moved(
    collection: AsyncCollection[Doc], docs: list[Doc], identity: str
) -> list[Exception | None]:
    """Insert ``docs`` (their ``_id`` chosen by their writer), in one bulk write when it goes
    through: one outcome a document, None once MongoDB holds it (inserted now, or by an earlier
    delivery of the same document: the same ``identity`` under its ``_id``), else what refuses
    it for good (another document under that ``_id``, a document MongoDB will not take).
    MongoDB unreachable or too slow is no document's fault: it raises."""
    if not docs:
        return []
    try:
        await collection.insert_many(docs, ordered=False)
    except BulkWriteError as exc:
        indexes = [e.get("index") for e in exc.details.get("writeErrors", [])]
        if is_duplicate(exc) and all(isinstance(i, int) and 0 <= i < len(docs) for i in indexes):
            held = {i for i in indexes if isinstance(i, int)}
            return await _conflicts(collection, docs, held, identity)
        return await _insert_one_by_one(collection, docs, identity)
    except Exception as exc:  # the whole batch refused: find the documents at fault
        if isinstance(exc, PyMongoError) and _unavailable(exc):
            raise
        return await _insert_one_by_one(collection, docs, identity)
    return [None] * len(docs)


async def _insert_one_by_one(
    collection: AsyncCollection[Doc], docs: list[Doc], identity: str
) -> list[Exception | None]:
    outcomes: list[Exception | None] = []
    held: set[int] = set()
    for n, doc in enumerate(docs):
        outcome: Exception | None = None
        try:
            await collection.insert_one(doc)
        except DuplicateKeyError:
            held.add(n)
        except Exception as exc:
            if isinstance(exc, PyMongoError) and _unavailable(exc):
                raise
            outcome = exc
        outcomes.append(outcome)
    conflicts = await _conflicts(collection, docs, held, identity)
    return [outcome or conflict for outcome, conflict in zip(outcomes, conflicts, strict=True)]


async def _conflicts(
    collection: AsyncCollection[Doc], docs: list[Doc], held: set[int], identity: str
) -> list[Exception | None]:
    """For each of ``docs`` whose ``_id`` MongoDB already ``held``: a conflict when the stored
    document is another (its ``identity`` differs); None for the others."""
    out: list[Exception | None] = []
    for n, doc in enumerate(docs):
        conflict: Exception | None = None
        if n in held:
            stored = await collection.find_one({"_id": doc["_id"]}, {identity: 1})
            if stored is not None and stored.get(identity) != doc.get(identity):
                conflict = ValueError(
                    f"MongoDB holds another submission under {doc['_id']} (its key used again "
                    "after its record left Redis)"
                )
        out.append(conflict)
    return out


def _unavailable(exc: PyMongoError) -> bool:
    """MongoDB unreachable or too slow: no document's fault."""
    return isinstance(exc, ConnectionFailure | ExecutionTimeout | WTimeoutError) or bool(
        getattr(exc, "timeout", False)
    )
