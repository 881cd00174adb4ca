"""Readers' comments and letters, accepted with a tip's promise.

Each kind has an intake of its own in Redis (``xabar:ingest:comments:intake``,
``xabar:ingest:letters:intake``): the document and its event (``comment.submitted``,
``letter.received``) enter it in one Lua script, with AOF on, before the 202; a mover of its
own stores the document in MongoDB (``comments``, ``letters``) and only then publishes the
event on ``xabar.submissions``. So an accepted comment survives kill -9 of ingest and of Redis.

Once: a form's token (its nonce) or an API's ``Idempotency-Key`` gives the document its id, and
the key's record in Redis (the request's fingerprint) answers a double click or a retry with the
first id (a key used for another request is refused). Without Redis nothing can be accepted
durably: 503, send it again (the same token or key applies it once).

The commenter's address is kept only as a hash under ingest's comments key (``addresses``);
no e-mail is asked. A letter's way to answer is sealed to the newsroom's key, as a tip's contact.
"""

import hashlib
import json
import logging
from dataclasses import dataclass

from prometheus_client import Counter
from pydantic import BaseModel

from xabar.contracts import CommentSubmission, CommentSubmitted, Event, Letter, LetterReceived
from xabar.ingest.comments import NewComment, NewLetter
from xabar.ingest.config import IngestSettings
from xabar.ingest.domain import idempotent_id, new_id
from xabar.ingest.errors import (
    IdempotencyConflict,
    IntakeUnavailable,
    StorageUnavailable,
)
from xabar.ingest.intake import Doc, Intake
from xabar.ingest.repository import DocumentRepository, Lapse
from xabar.ingest.sealing import Sealer
from xabar.runtime.outbox import ms_now

log = logging.getLogger("xabar.ingest.readers")

PRODUCER = "ingest"
ACCEPTED = Counter("xabar_ingest_readers_accepted_total", "Comments and letters accepted", ["kind"])


@dataclass(frozen=True, slots=True)
class Taken:
    """The id a comment or letter was accepted under, and whether this was a replay."""

    doc_id: str
    replayed: bool


@dataclass(frozen=True, slots=True)
class Via:
    """How a comment or letter came: its idempotency key (``form:`` and a form token's nonce,
    an API's ``Idempotency-Key``, or None), its correlation id, and whether by the form."""

    idempotency_key: str | None
    correlation_id: str | None
    form: bool = False


@dataclass(frozen=True, slots=True)
class Kind:
    """One kind of what readers send: its intake and its stored documents."""

    name: str  # "comment", "letter"
    intake: Intake
    stored: DocumentRepository


class ReadersService:
    def __init__(
        self, settings: IngestSettings, comments: Kind, letters: Kind, sealer: Sealer
    ) -> None:
        self.settings = settings
        self.comments = comments
        self.letters = letters
        self.sealer = sealer
        self._secret = settings.address_salt.get_secret_value().encode()
        self._fallback = Lapse(settings.storage_timeout_s)  # a key's look-up in MongoDB
        self._accepted = {k.name: ACCEPTED.labels(k.name) for k in (comments, letters)}

    async def comment(self, draft: NewComment, *, client_hash: str, via: Via) -> Taken:
        """Accept a comment durably (or answer a replay of its key with the first id)."""
        kind = self.comments
        comment_id, print_ = self._identity(kind, draft, via.idempotency_key)
        data = CommentSubmission(
            comment_id=comment_id,
            article_id=draft.article_id,
            parent_id=draft.reply_to,
            name=draft.name,
            text=draft.text,
            client_hash=client_hash,
            submitted_at=ms_now(),
        )
        doc, event = _stored(comment_id, CommentSubmitted, data, via.correlation_id)
        return await self._accept(kind, doc, event, via, print_)

    async def letter(self, draft: NewLetter, *, via: Via) -> Taken:
        """Accept a letter durably; its way to answer is sealed before it is written."""
        kind = self.letters
        letter_id, print_ = self._identity(kind, draft, via.idempotency_key)
        sealed = self.sealer.seal_text(draft.reply_to) if draft.reply_to else None
        data = Letter(
            letter_id=letter_id,
            name=draft.name,
            reply_to_sealed=sealed,
            subject=draft.subject,
            text=draft.text,
            received_at=ms_now(),
        )
        doc, event = _stored(letter_id, LetterReceived, data, via.correlation_id)
        return await self._accept(kind, doc, event, via, print_)

    def _identity(self, kind: Kind, draft: BaseModel, key: str | None) -> tuple[str, str]:
        """The document's id (derived from the key: every request with it maps to one id) and
        the request's fingerprint."""
        if key is None:
            return new_id(), ""
        body = json.dumps(draft.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
        print_ = hashlib.sha256(body.encode()).hexdigest()
        return idempotent_id(self._secret, f"{kind.name}:{key}"), print_

    async def _accept(self, kind: Kind, doc: Doc, event: Event, via: Via, print_: str) -> Taken:
        key, form = via.idempotency_key, via.form
        doc_id = str(doc["_id"])
        doc["event_id"] = str(event.event_id)  # what tells a redelivery from a reused id
        if key is not None:
            # a form token's record is only ever in Redis, and the accept's script answers from
            # it: no look-up first. An API key's record may have left Redis for MongoDB.
            known = None if form else await self._known(kind, doc_id)
            if known is not None:
                return self._replay(doc_id, known, print_)
            doc["idempotency"] = {"fingerprint": print_}
        keep_s = self.settings.form_max_age_s if form else self.settings.idempotency_retention_s
        try:
            known = await kind.intake.accept(doc, event, keep_key_ms=int(keep_s * 1000))
        except IntakeUnavailable as exc:
            log.warning("Redis unavailable; a %s is refused", kind.name)
            raise StorageUnavailable(f"the {kind.name} could not be stored; send it again") from exc
        if known is not None:  # a request with this key got there first
            return self._replay(doc_id, known, print_)
        self._accepted[kind.name].inc()
        return Taken(doc_id, replayed=False)

    def _replay(self, doc_id: str, known: Doc, print_: str) -> Taken:
        idem = known.get("idempotency", known)
        if idem.get("fingerprint") != print_:
            raise IdempotencyConflict("this key was already used for a different request")
        return Taken(doc_id, replayed=True)

    async def _known(self, kind: Kind, doc_id: str) -> Doc | None:
        """An API key's record: Redis first (it lives as long as the key can be replayed),
        then, while MongoDB answers, the stored document."""
        try:
            record = await kind.intake.known(doc_id)
        except IntakeUnavailable as exc:
            raise StorageUnavailable(f"the {kind.name} could not be stored; send it again") from exc
        if record is not None:
            return record
        return await self._fallback.get(kind.stored.get, doc_id)


def _stored(
    doc_id: str,
    kind: type[CommentSubmitted | LetterReceived],
    data: CommentSubmission | Letter,
    correlation_id: str | None,
) -> tuple[Doc, Event]:
    """The document to store (``data``'s fields, its id as ``_id``) and its event."""
    event: Event = kind.create(
        producer=PRODUCER,
        correlation_id=correlation_id or doc_id,
        aggregate_id=doc_id,
        version=1,
        data=data,
    )
    id_field = "comment_id" if isinstance(data, CommentSubmission) else "letter_id"
    return {"_id": doc_id, **data.model_dump(exclude={id_field})}, event
