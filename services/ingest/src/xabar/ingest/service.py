"""What ingest does: accept a submission durably, answer receipt look-ups, follow reviews.

Accepting, in order: photos are judged and re-encoded (nothing is written for a bad one), stored
by ``_id``, then the submission document is inserted together with its ``submission.received``
event in its outbox, one single-document write. Only then is the receipt returned, and the relay
is asked to publish. With an ``Idempotency-Key`` the document ``_id`` is derived from the key, so
of racing or retried requests exactly one insert wins and the others answer with its receipt.
"""

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pymongo
from prometheus_client import Counter
from pymongo.errors import PyMongoError

from xabar.contracts import (
    AttachmentRef,
    Contact,
    Submission,
    SubmissionReceived,
    SubmissionReviewed,
    SubmissionStatus,
)
from xabar.ingest.config import IngestSettings
from xabar.ingest.domain import (
    NewSubmission,
    Receipt,
    SubmissionStatusView,
    fingerprint,
    hash_receipt_code,
    idempotent_id,
    is_id,
    new_id,
    new_receipt_code,
    open_code,
    receipt_code_matches,
    seal_code,
    status_url,
)
from xabar.ingest.errors import (
    DuplicateSubmission,
    IdempotencyConflict,
    NotFound,
    StorageUnavailable,
)
from xabar.ingest.media import AttachmentStore, StoredPhoto
from xabar.ingest.photos import CleanPhoto, clean_photo
from xabar.ingest.repository import Doc, SubmissionRepository
from xabar.runtime.outbox import outbox_entry

log = logging.getLogger("xabar.ingest")

PRODUCER = "ingest"
SUBMISSIONS = Counter("xabar_ingest_submissions_total", "Submissions accepted", ["kind"])
REVIEWS = Counter("xabar_ingest_reviews_total", "submission.reviewed events", ["outcome"])


@dataclass(frozen=True, slots=True)
class Accepted:
    receipt: Receipt
    replayed: bool


class IngestService:
    def __init__(
        self,
        settings: IngestSettings,
        submissions: SubmissionRepository,
        media: AttachmentStore,
        on_stored: Callable[[str], None],
    ) -> None:
        self.settings = settings
        self.submissions = submissions
        self.media = media
        self.on_stored = on_stored
        self._secret = settings.address_salt.get_secret_value().encode()

    # --- accepting ----------------------------------------------------------------------------

    async def submit(
        self,
        draft: NewSubmission,
        photos: list[bytes],
        *,
        client_hash: str,
        idempotency_key: str | None,
        correlation_id: str | None,
    ) -> Accepted:
        """Store a submission, or, for an ``Idempotency-Key`` already used, answer with the
        receipt of the submission it stands for (``IdempotencyConflict`` if the request differs).

        No read comes first: the insert decides, since the key fixes the document ``_id`` (a read
        before every insert would cost a collection scan on FerretDB: see ``repository``)."""
        print_ = fingerprint(draft, [hashlib.sha256(p).hexdigest() for p in photos])
        if idempotency_key is not None:
            submission_id = idempotent_id(self._secret, idempotency_key)
        else:
            submission_id = new_id()
        cleaned = [
            await asyncio.to_thread(
                clean_photo, raw, index=i, max_pixels=self.settings.max_photo_pixels
            )
            for i, raw in enumerate(photos)
        ]
        now = datetime.now(UTC)
        code = new_receipt_code()
        stored: list[tuple[str, CleanPhoto]] = []
        refs: list[AttachmentRef] = []
        marked = False
        try:
            # each photo gets the time budget of a submission again
            budget = self.settings.storage_timeout_s * (1 + len(cleaned))
            with pymongo.timeout(budget):
                for photo in cleaned:
                    attachment_id = new_id()
                    await self.media.put(attachment_id, submission_id, photo, now)
                    stored.append((attachment_id, photo))
                    refs.append(_ref(attachment_id, photo))
                doc = self._document(
                    submission_id, draft, refs, now, code, client_hash, correlation_id
                )
                if idempotency_key is not None:
                    doc["idempotency"] = {
                        "fingerprint": print_,
                        "sealed_code": seal_code(self._secret, idempotency_key, print_, code),
                    }
                marked = await self.submissions.mark_pending(submission_id, now)
                await self.submissions.insert(doc)
        except DuplicateSubmission:
            assert idempotency_key is not None  # random ids do not collide
            await self._discard(stored)
            if marked:  # the first request's marker was gone: its event is published
                with contextlib.suppress(PyMongoError):  # else the sweep drops it later
                    await self.submissions.unmark_pending(submission_id)
            existing = await self._read(submission_id)
            if existing is None:  # pragma: no cover - the winner's insert is durable
                raise StorageUnavailable("the submission could not be read back") from None
            return self._replay(existing, idempotency_key, print_)
        except PyMongoError as exc:
            # not discarding the photos: after a network error the insert may have happened
            log.exception("storing a submission failed")
            raise StorageUnavailable("the submission could not be stored; send it again") from exc
        SUBMISSIONS.labels("photos" if refs else "text").inc()
        self.on_stored(submission_id)
        return Accepted(
            Receipt(
                submission_id=submission_id, receipt_code=code, status_url=status_url(submission_id)
            ),
            replayed=False,
        )

    def _document(
        self,
        submission_id: str,
        draft: NewSubmission,
        refs: list[AttachmentRef],
        now: datetime,
        code: str,
        client_hash: str,
        correlation_id: str | None,
    ) -> Doc:
        contact = None
        if draft.contact is not None and not draft.anonymous:
            contact = Contact(
                name=draft.contact.name, email=draft.contact.email, phone=draft.contact.phone
            )
        event = SubmissionReceived.create(
            producer=PRODUCER,
            correlation_id=correlation_id or submission_id,
            aggregate_id=submission_id,
            version=1,
            data=Submission(
                submission_id=submission_id,
                title=draft.title,
                text=draft.text,
                country=draft.country,
                location=draft.location,
                anonymous=draft.anonymous,
                contact=contact,
                attachments=tuple(refs),
                received_at=now,
            ),
        )
        return {
            "_id": submission_id,
            "version": 1,
            "received_at": now,
            "updated_at": now,
            "title": draft.title,
            "text": draft.text,
            "country": draft.country,
            "location": draft.location,
            "anonymous": draft.anonymous,
            "contact": contact.model_dump() if contact is not None else None,
            "attachments": [r.model_dump() for r in refs],
            "receipt_hash": hash_receipt_code(code),
            "client_hash": client_hash,
            "status": SubmissionStatus.RECEIVED.value,
            "review_version": 0,
            "outbox": [outbox_entry(event)],
        }

    def _replay(self, doc: Doc, idempotency_key: str, print_: str) -> Accepted:
        idem = doc.get("idempotency") or {}
        if idem.get("fingerprint") != print_:
            raise IdempotencyConflict(
                "this Idempotency-Key was already used for a different request"
            )
        code = open_code(self._secret, idempotency_key, print_, idem["sealed_code"])
        submission_id = str(doc["_id"])
        return Accepted(
            Receipt(
                submission_id=submission_id, receipt_code=code, status_url=status_url(submission_id)
            ),
            replayed=True,
        )

    async def _discard(self, stored: list[tuple[str, CleanPhoto]]) -> None:
        for attachment_id, photo in stored:
            try:
                await self.media.delete(attachment_id, AttachmentStore.chunk_count(photo))
            except PyMongoError:
                log.warning(
                    "could not remove an unused attachment", extra={"attachment_id": attachment_id}
                )

    async def _read(self, submission_id: str) -> Doc | None:
        try:
            with pymongo.timeout(self.settings.storage_timeout_s):
                return await self.submissions.get(submission_id)
        except PyMongoError as exc:
            raise StorageUnavailable("submissions cannot be read right now") from exc

    # --- receipts -------------------------------------------------------------------------------

    async def status(self, submission_id: str, code: str | None) -> SubmissionStatusView:
        """The status of a submission for the holder of its receipt code. An unknown id and a
        wrong code raise the same ``NotFound``."""
        doc = await self._read(submission_id) if is_id(submission_id) else None
        stored_hash = doc.get("receipt_hash", "") if doc is not None else "0" * 64
        if doc is None or not code or not receipt_code_matches(code, stored_hash):
            raise NotFound("no submission with this id and receipt code")
        status = SubmissionStatus(doc.get("status", SubmissionStatus.RECEIVED.value))
        return SubmissionStatusView(
            submission_id=str(doc["_id"]),
            status=status,
            received_at=doc["received_at"],
            updated_at=doc.get("updated_at") or doc["received_at"],
            public_reason=doc.get("public_reason") if status == SubmissionStatus.REJECTED else None,
            article_url=doc.get("article_url") if status == SubmissionStatus.PUBLISHED else None,
        )

    async def attachment(self, attachment_id: str) -> StoredPhoto:
        if not is_id(attachment_id):
            raise NotFound("no attachment with this id")
        try:
            photo = await self.media.get(attachment_id)
        except PyMongoError as exc:
            raise StorageUnavailable("photos cannot be read right now") from exc
        if photo is None:
            raise NotFound("no attachment with this id")
        return photo

    # --- reviews --------------------------------------------------------------------------------

    async def apply_review(self, event: SubmissionReviewed) -> bool:
        """Apply a review if it is newer than the one held. Errors propagate (the entry stays
        pending and is delivered again)."""
        review = event.data
        fields: dict[str, Any] = {
            "status": review.status.value,
            "public_reason": review.public_reason,
            "article_url": review.article_url,
            "article_id": review.article_id,
            "reviewed_at": review.reviewed_at,
            "updated_at": review.reviewed_at,
        }
        applied = await self.submissions.apply_review(review.submission_id, event.version, fields)
        if applied:
            REVIEWS.labels("applied").inc()
            return True
        known = await self.submissions.get(review.submission_id)
        if known is None:
            REVIEWS.labels("unknown").inc()
            log.warning(
                "review of an unknown submission ignored",
                extra={"submission_id": review.submission_id},
            )
        else:
            REVIEWS.labels("stale").inc()
        return False


def _ref(attachment_id: str, photo: CleanPhoto) -> AttachmentRef:
    return AttachmentRef(
        attachment_id=attachment_id,
        content_type=photo.content_type,
        size=len(photo.data),
        width=photo.width,
        height=photo.height,
        sha256=photo.sha256,
    )
