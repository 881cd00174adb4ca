"""Submissions in MongoDB: one document per submission, read and written by ``_id`` only.

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

``outbox_pending`` lists the ids of documents whose outbox may still hold events, so the relay's
timer looks at those few documents instead of scanning every submission (FerretDB's SQLite backend
filters only ``_id`` fast). A marker is written before its document and removed once the document's
events are published; a marker whose document never came is removed after a grace period.
"""

from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from xabar.ingest.errors import DuplicateSubmission

Doc = dict[str, Any]


class SubmissionRepository:
    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self.submissions = db["submissions"]
        self.pending = db["outbox_pending"]

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
        return await self.submissions.find_one({"_id": submission_id}, {"outbox": 0})

    async def apply_review(self, submission_id: str, version: int, fields: Doc) -> bool:
        """Set the review state if ``version`` is newer than the one applied; False otherwise
        (an old or duplicated event, or an unknown submission)."""
        result = await self.submissions.update_one(
            {"_id": submission_id, "review_version": {"$lt": version}},
            {"$set": {**fields, "review_version": version}},
        )
        return result.matched_count == 1
