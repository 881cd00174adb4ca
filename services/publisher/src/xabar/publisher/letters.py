"""The letters box: readers' letters to the editors ("Напишите нам", ``letter.received``).

A letter lands once in the box (``repositories.letters``), as ``new``; an editor reads it and
marks it ``handled`` (or new again). Letters are never published: nothing here emits an event.
The way to answer arrives sealed to the newsroom's public key (as a tip's contact) and is kept
sealed; ``reply_to`` opens it with the newsroom's private key for an editor reading the letter.
"""

import logging
from enum import StrEnum
from typing import Any

from nacl.public import PrivateKey

from xabar.contracts import LetterReceived
from xabar.publisher.domain import Doc, EditorRef, Page, utcnow
from xabar.publisher.repositories.audit import AuditLog
from xabar.publisher.repositories.letters import LetterRepository
from xabar.publisher.sealing import unseal_text
from xabar.runtime.auth import Principal

log = logging.getLogger("xabar.publisher.letters")


class LetterStatus(StrEnum):
    NEW = "new"
    HANDLED = "handled"


STATUS_LABELS = {LetterStatus.NEW: "новые", LetterStatus.HANDLED: "обработаны"}


class LetterService:
    def __init__(
        self, repo: LetterRepository, audit: AuditLog, key: PrivateKey | None = None
    ) -> None:
        self.repo = repo
        self.audit = audit
        self.key = key

    async def receive(self, event: LetterReceived) -> bool:
        """Store a letter; False if it is there already (a redelivery or a duplicate)."""
        letter = event.data
        doc: Doc = {
            "_id": letter.letter_id,
            "name": letter.name,
            "reply_to_sealed": letter.reply_to_sealed,
            "subject": letter.subject,
            "text": letter.text,
            "received_at": letter.received_at,
            "received_event_id": str(event.event_id),
            "status": LetterStatus.NEW.value,
            "version": event.version,
            "handled_at": None,
            "handled_by": None,
        }
        return await self.repo.add(doc)

    async def get(self, letter_id: str) -> Doc:
        return await self.repo.get(letter_id)

    def reply_to(self, doc: Doc) -> str | None:
        """The letter's way to answer, opened for an editor (never stored opened); None if it
        has none or its box does not open with the newsroom's key (logged)."""
        sealed = doc.get("reply_to_sealed")
        if not sealed:
            return None
        opened = unseal_text(sealed, self.key)
        if opened is None:
            log.error(
                "a letter's way to answer does not open with the newsroom's key",
                extra={"letter_id": str(doc["_id"])},
            )
        return opened

    async def box(
        self, status: LetterStatus, page: int = 1, per_page: int = 30
    ) -> Page[dict[str, Any]]:
        return await self.repo.page(status.value, page, per_page)

    async def counts(self) -> dict[str, int]:
        return await self.repo.counts()

    async def mark(self, by: Principal, letter_id: str, handled: bool) -> Doc:
        """Mark the letter handled (or new again); nothing changes if it is so already."""
        status = LetterStatus.HANDLED if handled else LetterStatus.NEW
        async with self.repo.locked(letter_id) as doc:
            if doc["status"] == status.value:
                return doc
            changes: Doc = {
                "status": status.value,
                "version": int(doc["version"]) + 1,
                "handled_at": utcnow() if handled else None,
                "handled_by": EditorRef.of(by).model_dump() if handled else None,
            }
            new = await self.repo.write(doc, changes)
        await self.audit.record(by, f"letter.{status.value}", "letter", letter_id)
        return new

    async def rebuild(self) -> int:
        return await self.repo.rebuild_queues()
