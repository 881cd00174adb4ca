"""What ingest does: accept a submission durably, answer receipt look-ups, follow reviews.

Accepting, in order: photos are judged and re-encoded (nothing is written for a bad one) and
stored in MongoDB by ``_id``; then the submission document and its ``submission.received`` event
are accepted by one Lua script into the Redis intake (AOF on: durable once the script answered,
see ``intake``), and the receipt is returned; the intake's mover puts the document into MongoDB
and then publishes the event. With an ``Idempotency-Key`` the submission id is derived from the
key: its record in Redis (kept by the intake script for as long as the key can be replayed: a
form's token lives ``form_max_age_s``, an API key is remembered ``idempotency_retention_s``)
answers a replay with the first receipt (of racing requests exactly one is accepted), MongoDB up
or down. Only when Redis has no record is MongoDB asked (an API key used before its retention, a
record Redis lost), and a MongoDB that does not answer then does not hold the tip back: the
record's retention is the promise (a form's token is younger than its record, so a form's key is
never looked up there). A tip with photos needs MongoDB (for its photos) first: else 503. When
Redis cannot be reached, a submission without a key is stored the way it was before the intake:
the document with its event in its outbox, one single-document write in MongoDB, published by
the relay; one with a key is refused (503), since a first request of its key may be waiting in
the unreachable intake.
"""

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import Counter

from xabar.contracts import (
    AttachmentRef,
    Contact,
    SealedSubmission,
    SubmissionReceivedV2,
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
    is_receipt_code,
    new_id,
    new_receipt_code,
    open_code,
    receipt_code_matches,
    seal_code,
    status_url,
)
from xabar.ingest.errors import (
    AttachmentDamaged,
    DatabaseUnavailable,
    DuplicateSubmission,
    IdempotencyConflict,
    IntakeUnavailable,
    NotFound,
    StorageUnavailable,
)
from xabar.ingest.gates import MemoryGate
from xabar.ingest.intake import Intake
from xabar.ingest.media import StoredPhoto
from xabar.ingest.photos import CleanPhoto, clean_photo, probe_photo
from xabar.ingest.repository import AttachmentRepository, Doc, Lapse, SubmissionRepository
from xabar.ingest.sealing import Sealer
from xabar.runtime.outbox import ms_now, outbox_entry

log = logging.getLogger("xabar.ingest")

PRODUCER = "ingest"
SUBMISSIONS = Counter("xabar_ingest_submissions_total", "Submissions accepted", ["kind"])
REVIEWS = Counter("xabar_ingest_reviews_total", "submission.reviewed events", ["outcome"])
ERASED = Counter("xabar_ingest_contacts_erased_total", "Sealed contacts erased after retention")
CLOSED = frozenset({SubmissionStatus.REJECTED, SubmissionStatus.PUBLISHED})


@dataclass(frozen=True, slots=True)
class Accepted:
    receipt: Receipt
    replayed: bool


@dataclass(eq=False)
class IngestService:
    """``on_stored``: asks the relay to publish a document stored with its outbox (the path
    without Redis)."""

    settings: IngestSettings
    submissions: SubmissionRepository
    media: AttachmentRepository
    intake: Intake
    sealer: Sealer
    on_stored: Callable[[str], None]
    decodes: MemoryGate = field(init=False)
    _secret: bytes = field(init=False, repr=False)
    # a key's fallback look-up in MongoDB, passed for a while after it fails
    _fallback: Lapse = field(init=False)

    def __post_init__(self) -> None:
        self._secret = self.settings.address_salt.get_secret_value().encode()
        self._fallback = Lapse(self.settings.storage_timeout_s)
        self.decodes = MemoryGate(
            self.settings.max_decode_bytes,
            self.settings.decode_slots,
            self.settings.memory_wait_s,
            what="photos being processed",
        )

    # --- accepting ----------------------------------------------------------------------------

    async def submit(
        self,
        draft: NewSubmission,
        photos: list[bytes],
        *,
        client_hash: str,
        idempotency_key: str | None,
        correlation_id: str | None,
        form: bool = False,
    ) -> Accepted:
        """Accept a submission durably, or, for an ``Idempotency-Key`` already used, answer with
        the receipt of the submission it stands for (``IdempotencyConflict`` if the request
        differs). ``form``: the key is a form's (its token was checked, it is younger than
        ``form_max_age_s``). ``StorageUnavailable``: nothing was accepted, send it again."""
        print_ = ""
        if idempotency_key is not None:
            print_ = fingerprint(draft, [hashlib.sha256(p).hexdigest() for p in photos])
            submission_id = idempotent_id(self._secret, idempotency_key)
        else:
            submission_id = new_id()
        if idempotency_key is not None:
            existing = await self._known(submission_id, form=form)
            if existing is not None:  # a replay: its photos were cleaned the first time
                return self._replay(existing, idempotency_key, print_)
        cleaned = [await self._clean(raw, i) for i, raw in enumerate(photos)]
        now = ms_now()
        code = new_receipt_code()
        stored = [(new_id(), photo) for photo in cleaned]
        refs = [_ref(attachment_id, photo) for attachment_id, photo in stored]
        try:
            await self.media.put_all(submission_id, stored, now)
        except DatabaseUnavailable as exc:
            log.exception("storing the photos of a submission failed")
            raise StorageUnavailable("the submission could not be stored; send it again") from exc
        doc, event = self._document(
            submission_id, draft, refs, now, code, client_hash, correlation_id
        )
        if idempotency_key is not None:
            doc["idempotency"] = {
                "fingerprint": print_,
                "sealed_code": seal_code(self._secret, idempotency_key, print_, code),
            }
        keep_s = self.settings.form_max_age_s if form else self.settings.idempotency_retention_s
        try:
            known = await self.intake.accept(doc, event, keep_key_ms=int(keep_s * 1000))
        except IntakeUnavailable as exc:
            if idempotency_key is not None:  # its first request may be in the intake
                log.warning("Redis unavailable; a submission with a key is refused")
                raise StorageUnavailable(
                    "the submission could not be stored; send it again"
                ) from exc
            log.warning("Redis unavailable; storing a submission in MongoDB directly")
            await self._store_directly(doc, event, now)
        else:
            if known is not None:  # a request with this key is in the intake: its receipt
                assert idempotency_key is not None
                await self._discard(stored)
                return self._replay(
                    {"_id": submission_id, "idempotency": known}, idempotency_key, print_
                )
        SUBMISSIONS.labels("photos" if refs else "text").inc()
        return Accepted(
            Receipt(
                submission_id=submission_id, receipt_code=code, status_url=status_url(submission_id)
            ),
            replayed=False,
        )

    async def _clean(self, raw: bytes, index: int) -> CleanPhoto:
        """A photo re-encoded, once its decoding fits in the process's budget (``photos``)."""
        limits = {
            "index": index,
            "max_pixels": self.settings.max_photo_pixels,
            "max_decode_bytes": self.settings.max_decode_bytes,
        }
        probe = probe_photo(raw, **limits)  # the header only: quick
        return await self.decodes.run(probe.cost, lambda: clean_photo(raw, **limits, probe=probe))

    async def _store_directly(self, doc: Doc, event: SubmissionReceivedV2, now: datetime) -> None:
        """Without Redis: the document with its event in its outbox, one single-document write
        (a marker first, so the relay's timer finds it), published by the relay."""
        submission_id = str(doc["_id"])
        doc = {**doc, "outbox": [outbox_entry(event)]}
        try:
            await self.submissions.store_with_outbox(doc, now)
        except DuplicateSubmission:
            # random ids do not collide: the same submission, its script answered after all
            # and the mover stored it (the event goes out once per event id)
            return
        except DatabaseUnavailable as exc:
            log.exception("storing a submission failed")
            raise StorageUnavailable("the submission could not be stored; send it again") from exc
        self.on_stored(submission_id)

    def _document(
        self,
        submission_id: str,
        draft: NewSubmission,
        refs: list[AttachmentRef],
        now: datetime,
        code: str,
        client_hash: str,
        correlation_id: str | None,
    ) -> tuple[Doc, SubmissionReceivedV2]:
        """The submission's MongoDB document and its ``submission.received`` event (v2: the
        contact sealed to the newsroom's key here, before it is written anywhere)."""
        sealed = None
        if draft.contact is not None and not draft.anonymous:
            contact = Contact(
                name=draft.contact.name, email=draft.contact.email, phone=draft.contact.phone
            )
            sealed = self.sealer.seal_contact(contact)
        event: SubmissionReceivedV2 = SubmissionReceivedV2.create(
            producer=PRODUCER,
            correlation_id=correlation_id or submission_id,
            aggregate_id=submission_id,
            version=1,
            data=SealedSubmission(
                submission_id=submission_id,
                title=draft.title,
                text=draft.text,
                country=draft.country,
                location=draft.location,
                anonymous=draft.anonymous,
                contact_sealed=sealed,
                attachments=tuple(refs),
                received_at=now,
            ),
        )
        doc: Doc = {
            "_id": submission_id,
            "version": 1,
            "received_at": now,
            "updated_at": now,
            "title": draft.title,
            "text": draft.text,
            "country": draft.country,
            "location": draft.location,
            "anonymous": draft.anonymous,
            "contact_sealed": sealed,
            "attachments": [r.model_dump() for r in refs],
            "receipt_hash": hash_receipt_code(code),
            "client_hash": client_hash,
            "status": SubmissionStatus.RECEIVED.value,
            "review_version": 0,
        }
        return doc, event

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
                await self.media.delete(attachment_id, photo)
            except DatabaseUnavailable:
                log.warning(
                    "could not remove an unused attachment", extra={"attachment_id": attachment_id}
                )

    async def _known(self, submission_id: str, *, form: bool) -> Doc | None:
        """What a replay of a key needs (``_id``, ``idempotency``), or None for a new key.
        Redis first: its record lives as long as the key can be replayed. MongoDB only without
        one, and not for a form's key (its token is younger than its record); a MongoDB that
        cannot answer (or failed such a look-up in the last ``storage_timeout_s``) is passed."""
        try:
            record = await self.intake.known(submission_id)
        except IntakeUnavailable:
            # the tip will be refused (its first request may be in the intake we cannot
            # reach), unless MongoDB has it: answer that replay
            return await self._read(submission_id)
        if record is not None:
            return {"_id": submission_id, "idempotency": record}
        if form:
            return None
        return await self._fallback.get(
            self.submissions.get,
            submission_id,
            warning="MongoDB unavailable; a key without a record in Redis is taken as new",
        )

    async def _read(self, submission_id: str) -> Doc | None:
        try:
            return await self.submissions.get(submission_id)
        except DatabaseUnavailable as exc:
            raise StorageUnavailable("submissions cannot be read right now") from exc

    async def _lookup(self, submission_id: str) -> Doc | None:
        try:
            note = await self.intake.pending(submission_id)
        except IntakeUnavailable:
            doc = await self._read(submission_id)
            if doc is None:  # it may be in the intake we cannot reach
                raise StorageUnavailable("submissions cannot be read right now") from None
            return doc
        if note is None:
            return await self._read(submission_id)
        # Still in the intake; but the mover may already have stored it (the note goes only
        # after the insert), or it was stored directly when the intake's reply was lost, and a
        # review may have reached MongoDB: a stored document decides. A MongoDB that cannot
        # answer (or failed in the last ``storage_timeout_s``) is passed: the note answers.
        stored = await self._fallback.get(self.submissions.get, submission_id)
        if stored is not None:
            return stored
        return {"_id": submission_id, **note, "status": SubmissionStatus.RECEIVED.value}

    # --- receipts -------------------------------------------------------------------------------

    async def status(self, submission_id: str, code: str | None) -> SubmissionStatusView:
        """The status of a submission for the holder of its receipt code. An unknown id and a
        wrong code raise the same ``NotFound``. A submission still in the intake and not yet in
        MongoDB is answered from the intake ("received": its event goes out after the move)."""
        doc = await self._lookup(submission_id) if is_id(submission_id) else None
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

    async def receipt_status(self, code: str | None) -> SubmissionStatusView:
        """The status of the submission whose receipt code is ``code``: the code alone finds
        it. A code that is not one, or that no tip has, raises ``NotFound``."""
        submission_id = await self._by_receipt(code) if code and is_receipt_code(code) else None
        if submission_id is None:
            raise NotFound("no submission with this receipt code")
        return await self.status(submission_id, code)

    async def _by_receipt(self, code: str) -> str | None:
        """The id of the tip with receipt ``code``: the intake's pointer while the tip is on its
        way to MongoDB, else MongoDB's receipts."""
        receipt_hash = hash_receipt_code(code)
        try:
            pointer = await self.intake.by_receipt(receipt_hash)
        except IntakeUnavailable:
            pointer, intake_down = None, True
        else:
            intake_down = False
        if pointer is not None:
            return pointer
        try:
            found = await self.submissions.by_receipt(receipt_hash)
        except DatabaseUnavailable as exc:
            raise StorageUnavailable("submissions cannot be read right now") from exc
        if found is None and intake_down:  # it may be in the intake we cannot reach
            raise StorageUnavailable("submissions cannot be read right now")
        return found

    async def attachment(self, attachment_id: str) -> StoredPhoto:
        if not is_id(attachment_id):
            raise NotFound("no attachment with this id")
        try:
            photo = await self.media.get(attachment_id)
        except DatabaseUnavailable as exc:
            raise StorageUnavailable("photos cannot be read right now") from exc
        except AttachmentDamaged:
            log.exception("a stored attachment is damaged")
            raise
        if photo is None:
            raise NotFound("no attachment with this id")
        return photo

    # --- reviews --------------------------------------------------------------------------------

    async def apply_review(self, event: SubmissionReviewed) -> bool:
        """Apply a review if it is newer than the one held. Errors propagate (the entry stays
        pending and is delivered again)."""
        review = event.data
        closed = review.status in CLOSED
        fields: dict[str, Any] = {
            "status": review.status.value,
            "public_reason": review.public_reason,
            "article_url": review.article_url,
            "article_id": review.article_id,
            "reviewed_at": review.reviewed_at,
            "updated_at": review.reviewed_at,
            "closed_at": review.reviewed_at if closed else None,
        }
        if closed:  # noted first: the erasure checks the document before it erases
            await self.submissions.schedule_erasure(
                review.submission_id, review.reviewed_at + self.retention
            )
        applied = await self.submissions.apply_review(review.submission_id, event.version, fields)
        if applied:
            REVIEWS.labels("applied").inc()
            return True
        known = await self.submissions.get(review.submission_id)
        if known is None and await self.intake.pending(review.submission_id) is not None:
            # accepted, still on its way to MongoDB (its event is published only after the
            # move: a review that overtook it). Delivered again later. The note leaves the
            # intake only after the document is stored, so a MongoDB that has the submission
            # (moved, or stored directly) is asked first and decides.
            REVIEWS.labels("early").inc()
            raise StorageUnavailable("the submission is not in MongoDB yet; retry the review")
        if known is None:
            REVIEWS.labels("unknown").inc()
            log.warning(
                "review of an unknown submission ignored",
                extra={"submission_id": review.submission_id},
            )
        else:
            REVIEWS.labels("stale").inc()
        return False

    # --- retention ------------------------------------------------------------------------------

    @property
    def retention(self) -> timedelta:
        return timedelta(days=self.settings.contact_retention_days)

    async def erase_contacts(self, now: datetime | None = None) -> int:
        """Erase the sealed contact of every tip closed (rejected or published) longer than the
        retention ago; returns how many were erased. A tip reopened since (an article taken
        back: accepted again) keeps its contact until it is closed again."""
        now = now or datetime.now(UTC)
        erased = 0
        for submission_id in await self.submissions.due_erasures(now):
            doc = await self.submissions.get(submission_id)
            closed_at = doc.get("closed_at") if doc is not None else None
            if closed_at is None:  # unknown, or open again
                await self.submissions.drop_erasure(submission_id)
            elif closed_at + self.retention > now:  # closed again since
                await self.submissions.schedule_erasure(submission_id, closed_at + self.retention)
            else:
                await self.submissions.erase_contact(submission_id, now)
                await self.submissions.drop_erasure(submission_id)
                erased += 1
        if erased:
            ERASED.inc(erased)
            log.info("sealed contacts erased after their retention", extra={"erased": erased})
        return erased


def _ref(attachment_id: str, photo: CleanPhoto) -> AttachmentRef:
    return AttachmentRef(
        attachment_id=attachment_id,
        content_type=photo.content_type,
        size=len(photo.data),
        width=photo.width,
        height=photo.height,
        sha256=photo.sha256,
    )
