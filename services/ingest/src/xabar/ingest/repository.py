"""Submissions in MongoDB: one document per submission, read and written by ``_id`` only.

A submission document holds what the reporter sent (plain text), the hash of its receipt code,
the salted hash of the client address, its current review status and, until the relay has
published it, its ``submission.received`` event in ``outbox``. The document and its event are one
insert, so a stored submission always has its event and an event never exists without one.

``outbox_pending`` lists the ids of documents whose outbox may still hold events, so the relay's
timer looks at those few documents instead of scanning every submission (FerretDB's SQLite backend
filters only ``_id`` fast). A marker is written before its document and removed once the document's
events are published; a marker whose document never came is removed after a grace period.
"""

import contextlib
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

    async def mark_pending(self, submission_id: str, now: datetime) -> None:
        # an idempotent retry finds the marker there (or its work done): nothing to add
        with contextlib.suppress(DuplicateKeyError):
            await self.pending.insert_one({"_id": submission_id, "created_at": now})

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
