"""The editorial inbox of citizen reporters' tips (``submission.received``).

A tip lands once (``_id`` = submission id; a redelivered event finds it there). Reviewing it
(``in_review``), accepting it (a draft article pre-filled from it, photos copied from ingest into
our own media) or rejecting it (with a reason shown to the reporter) is one conditional update of
the tip's document that carries ``submission.reviewed`` in its outbox (``InboxRepository``). The
tip's version continues the version of ``submission.received``, so ingest applies reviews in
order.
"""

import base64
import binascii
import logging
from dataclasses import dataclass
from typing import Any

from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, SealedBox
from pydantic import ValidationError

from xabar.contracts import (
    Contact,
    SubmissionReceived,
    SubmissionReceivedV2,
    SubmissionReview,
    SubmissionReviewed,
    SubmissionStatus,
)
from xabar.publisher.articles import ArticleService
from xabar.publisher.domain import PRODUCER, Article, Doc, Page, utcnow
from xabar.publisher.errors import InvalidTransition
from xabar.publisher.media import IngestClient, StoredMedia, media_id_for
from xabar.publisher.repositories.bundle import Repositories
from xabar.publisher.repositories.tips import TipQuery
from xabar.runtime.auth import Principal
from xabar.runtime.logs import correlation_id_var

log = logging.getLogger("xabar.publisher.inbox")

STATUS_LABELS = {
    SubmissionStatus.RECEIVED.value: "новое",
    SubmissionStatus.IN_REVIEW.value: "на проверке",
    SubmissionStatus.ACCEPTED.value: "принято",
    SubmissionStatus.REJECTED.value: "отклонено",
    SubmissionStatus.PUBLISHED.value: "опубликовано",
}
OPEN = frozenset({SubmissionStatus.RECEIVED.value, SubmissionStatus.IN_REVIEW.value})


def reporter_contact(tip: Doc, key: PrivateKey) -> Contact | None:
    """The reporter's contact as an editor sees it: opened from its sealed box (tips since
    ``submission.received`` v2 keep only the box, ``contact_sealed``) or, for an older tip, as it
    came. Opened on each showing, never stored opened. A box this key cannot open is logged and
    shown as no contact."""
    sealed = tip.get("contact_sealed")
    if sealed:
        try:
            return Contact.model_validate_json(SealedBox(key).decrypt(base64.b64decode(sealed)))
        except (CryptoError, binascii.Error, ValueError, ValidationError):
            log.error(
                "a reporter's sealed contact does not open with the newsroom's key",
                extra={"submission_id": tip.get("submission_id")},
            )
            return None
    contact = tip.get("contact")
    return Contact.model_validate(contact) if contact else None


@dataclass(frozen=True, slots=True)
class Accepted:
    submission: Doc
    article: Article
    photos_missing: list[str]


class InboxService:
    def __init__(self, repos: Repositories, articles: ArticleService, ingest: IngestClient) -> None:
        self.tips = repos.inbox
        self.media = repos.media
        self.audit = repos.audit
        self.articles = articles
        self.ingest = ingest

    async def receive(self, event: SubmissionReceived | SubmissionReceivedV2) -> bool:
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
        }
        return await self.tips.add(doc)

    async def get(self, submission_id: str) -> Doc:
        return await self.tips.get(submission_id)

    async def search(self, query: TipQuery) -> Page[Doc]:
        """Newest first; filtered and ordered here (inboxes are modest; FerretDB pushes down only
        ``_id`` filters)."""
        rows = [r for r in await self.tips.all() if query.matches(r)]
        rows.sort(key=lambda r: (r["received_at"], r["_id"]), reverse=True)
        return Page.of(rows, query.page, query.per_page)

    async def start_review(self, by: Principal, submission_id: str) -> Doc:
        doc = await self.get(submission_id)
        if doc["status"] != SubmissionStatus.RECEIVED.value:
            raise InvalidTransition(
                f"сообщение уже {STATUS_LABELS.get(doc['status'], doc['status'])}"
            )
        new = await self._review(by, doc, SubmissionStatus.IN_REVIEW)
        await self.audit.record(by, "inbox.review", "submission", submission_id)
        return new

    async def accept(self, by: Principal, submission_id: str) -> Accepted:
        doc = await self.get(submission_id)
        if doc["status"] not in OPEN:
            raise InvalidTransition(
                f"принять можно только новое сообщение или на проверке; это уже "
                f"{STATUS_LABELS.get(doc['status'], doc['status'])}"
            )
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
        new = await self._review(by, doc, SubmissionStatus.ACCEPTED, article_id=article.article_id)
        await self.audit.record(
            by,
            "inbox.accept",
            "submission",
            submission_id,
            article_id=article.article_id,
            photos=len(photos),
            photos_missing=missing,
        )
        return Accepted(new, article, missing)

    async def reject(self, by: Principal, submission_id: str, public_reason: str) -> Doc:
        doc = await self.get(submission_id)
        if doc["status"] not in OPEN:
            raise InvalidTransition(
                f"отклонить можно только новое сообщение или на проверке; это уже "
                f"{STATUS_LABELS.get(doc['status'], doc['status'])}"
            )
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
        return await self.tips.review(doc, changes, event)
