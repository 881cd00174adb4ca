"""The editorial inbox of citizen reporters' tips (``submission.received``).

A tip lands once (``_id`` = submission id; a redelivered event finds it there). Reviewing it
(``in_review``), accepting it (a draft article pre-filled from it, photos copied from ingest into
our own media) or rejecting it (with a reason shown to the reporter) is one conditional update of
the tip's document that carries ``submission.reviewed`` in its outbox. The tip's version continues
the version of ``submission.received``, so ingest applies reviews in order.
"""

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo.errors import DuplicateKeyError

from xabar.contracts import (
    SubmissionReceived,
    SubmissionReview,
    SubmissionReviewed,
    SubmissionStatus,
)
from xabar.publisher.articles import ArticleService
from xabar.publisher.audit import AuditLog
from xabar.publisher.domain import PRODUCER, Doc, utcnow
from xabar.publisher.errors import InvalidTransition, NotFound, VersionConflict
from xabar.publisher.media import IngestClient, MediaStore, StoredMedia, media_id_for
from xabar.publisher.relay import MarkedRelay
from xabar.publisher.repository import Collections
from xabar.runtime.auth import Principal
from xabar.runtime.logs import correlation_id_var
from xabar.runtime.outbox import outbox_entry

log = logging.getLogger("xabar.publisher.inbox")

OPEN = frozenset({SubmissionStatus.RECEIVED.value, SubmissionStatus.IN_REVIEW.value})
EXCERPT = 200


@dataclass(frozen=True, slots=True)
class InboxPage:
    items: list[Doc]
    total: int
    page: int
    per_page: int


@dataclass(frozen=True, slots=True)
class Accepted:
    submission: Doc
    article: Doc
    photos_missing: list[str]


class InboxService:
    def __init__(
        self,
        collections: Collections,
        relay: MarkedRelay,
        articles: ArticleService,
        media: MediaStore,
        ingest: IngestClient,
        audit: AuditLog,
    ) -> None:
        self.inbox = collections.inbox
        self.relay = relay
        self.articles = articles
        self.media = media
        self.ingest = ingest
        self.audit = audit

    async def receive(self, event: SubmissionReceived) -> bool:
        """Store a tip; False if it is there already (a redelivery or a duplicate)."""
        tip = event.data
        doc = {
            "_id": tip.submission_id,
            "version": event.version,
            "status": SubmissionStatus.RECEIVED.value,
            "submission": tip.model_dump(mode="python"),
            "received_at": tip.received_at,
            "received_event_id": str(event.event_id),
            "updated_at": utcnow(),
            "article_id": None,
            "public_reason": None,
            "reviewed_at": None,
            "reviewed_by": None,
            "outbox": [],
        }
        try:
            await self.inbox.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    async def get(self, submission_id: str) -> Doc:
        doc = await self.inbox.find_one({"_id": submission_id})
        if doc is None:
            raise NotFound("no such tip in the inbox")
        return doc

    async def search(
        self,
        *,
        status: str | None = None,
        country: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        page: int = 1,
        per_page: int = 50,
    ) -> InboxPage:
        """Newest first; filtered and ordered here (inboxes are modest; FerretDB pushes down only
        ``_id`` filters)."""
        rows = await self.inbox.find({}, {"outbox": 0}).to_list(None)
        rows = [
            r
            for r in rows
            if (status is None or r["status"] == status)
            and (country is None or r["submission"]["country"] == country)
            and (since is None or r["received_at"] >= since)
            and (until is None or r["received_at"] < until)
        ]
        rows.sort(key=lambda r: (r["received_at"], r["_id"]), reverse=True)
        start = (page - 1) * per_page
        return InboxPage(rows[start : start + per_page], len(rows), page, per_page)

    async def start_review(self, by: Principal, submission_id: str) -> Doc:
        doc = await self.get(submission_id)
        if doc["status"] != SubmissionStatus.RECEIVED.value:
            raise InvalidTransition(f"the tip is {doc['status']}, not received")
        new = await self._review(by, doc, SubmissionStatus.IN_REVIEW)
        await self.audit.record(by, "inbox.review", "submission", submission_id)
        return new

    async def accept(self, by: Principal, submission_id: str) -> Accepted:
        doc = await self.get(submission_id)
        if doc["status"] not in OPEN:
            raise InvalidTransition(f"the tip is {doc['status']}; only an open tip is accepted")
        tip = doc["submission"]
        photos: list[StoredMedia] = []
        missing: list[str] = []
        for ref in tip.get("attachments") or []:
            stored = await self._copy_photo(submission_id, ref["attachment_id"])
            if stored is None:
                missing.append(ref["attachment_id"])
            else:
                photos.append(stored)
        article = await self.articles.create_from_tip(by, tip, photos)
        new = await self._review(by, doc, SubmissionStatus.ACCEPTED, article_id=str(article["_id"]))
        await self.audit.record(
            by, "inbox.accept", "submission", submission_id,
            article_id=str(article["_id"]), photos=len(photos), photos_missing=missing,
        )  # fmt: skip
        return Accepted(new, article, missing)

    async def reject(self, by: Principal, submission_id: str, public_reason: str) -> Doc:
        doc = await self.get(submission_id)
        if doc["status"] not in OPEN:
            raise InvalidTransition(f"the tip is {doc['status']}; only an open tip is rejected")
        new = await self._review(by, doc, SubmissionStatus.REJECTED, public_reason=public_reason)
        await self.audit.record(
            by, "inbox.reject", "submission", submission_id, reason=public_reason
        )
        return new

    async def _copy_photo(self, submission_id: str, attachment_id: str) -> StoredMedia | None:
        media_id = media_id_for(f"submission:{submission_id}:{attachment_id}")
        stored = await self.media.get_meta(media_id)
        if stored is not None:
            return stored
        data = await self.ingest.attachment(attachment_id)
        if data is None:
            log.warning(
                "a tip's photo is gone from ingest; accepted without it",
                extra={"submission_id": submission_id, "attachment_id": attachment_id},
            )
            return None
        return await self.media.put(
            data,
            media_id=media_id,
            filename=attachment_id,
            source="submission",
            submission_id=submission_id,
            attachment_id=attachment_id,
        )

    async def _review(
        self,
        by: Principal,
        doc: Doc,
        status: SubmissionStatus,
        *,
        public_reason: str | None = None,
        article_id: str | None = None,
    ) -> Doc:
        version = int(doc["version"])
        now = utcnow()
        event = SubmissionReviewed.create(
            producer=PRODUCER,
            correlation_id=correlation_id_var.get(),
            aggregate_id=str(doc["_id"]),
            version=version + 1,
            data=SubmissionReview(
                submission_id=str(doc["_id"]),
                status=status,
                public_reason=public_reason,
                article_id=article_id,
                reviewed_at=now,
            ),
        )
        changes: dict[str, Any] = {
            "status": status.value,
            "version": version + 1,
            "reviewed_at": now,
            "reviewed_by": {"id": by.editor_id, "name": by.name},
            "updated_at": now,
            "public_reason": public_reason,
        }
        if article_id is not None:
            changes["article_id"] = article_id
        async with self.relay.doc_locks.hold(self.relay.lock_key(doc["_id"])):
            current = await self.inbox.find_one({"_id": doc["_id"]}, {"version": 1, "status": 1})
            if current is None or (current["version"], current["status"]) != (
                version,
                doc["status"],
            ):
                raise VersionConflict("the tip changed meanwhile; reload and retry", version)
            await self.relay.mark(doc["_id"])
            result = await self.inbox.update_one(
                {"_id": doc["_id"]}, {"$set": changes, "$push": {"outbox": outbox_entry(event)}}
            )
            if result.matched_count != 1:
                raise VersionConflict("the tip changed meanwhile; reload and retry", version)
        self.relay.kick(doc["_id"])
        return {**doc, **changes}
