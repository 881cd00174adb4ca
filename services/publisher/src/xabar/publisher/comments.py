"""Moderation of readers' comments (``comment.submitted``, from ingest).

A comment lands once in the moderation store (``repositories.comments``). By default it waits in
the queue ``pending`` until a moderator (an editor or above) approves it; with the site setting
``COMMENTS_MODERATION=after`` it is published at once and stays in ``pending`` for a moderator to
look at (and remove) afterwards. A comment from a blocked address, or on an article whose
comments are closed, is rejected on arrival.

Statuses and what readers see::

    pending   (before: nothing; after: published)     approve -> approved (published)
    approved  published                               reject  -> rejected (removed if it was out)
    rejected  nothing                                 spam    -> spam     (removed if it was out)
    spam      nothing                                 edit    -> a passage replaced by
                                                                 "[отредактировано]" (published
                                                                 again if it is out)

Public events go through the comment document's outbox: ``comment.published`` (the comment as
readers see it) when it comes out or changes while out, ``comment.removed`` when it goes back.
The comment's ``version`` continues the version of ``comment.submitted`` and grows with every
change, so the feed applies them in order (a removal after an approval, a new approval after a
removal). A comment that never came out is never in any event.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from xabar.contracts import (
    CommentPublished,
    CommentRemoval,
    CommentRemoved,
    CommentSubmitted,
    Event,
    PublicComment,
)
from xabar.publisher.articles import ArticleService
from xabar.publisher.domain import PRODUCER, Doc, EditorRef, Page, utcnow
from xabar.publisher.errors import InvalidInput, NotFound, PublisherError
from xabar.publisher.repositories.audit import AuditLog
from xabar.publisher.repositories.comments import CommentRepository
from xabar.runtime.auth import Principal
from xabar.runtime.logs import correlation_id_var

log = logging.getLogger("xabar.publisher.comments")

EDITED = "[отредактировано]"
MAX_BULK = 200
MAX_BLOCK_HOURS = 24 * 365
Moderation = Literal["before", "after"]


class CommentStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    SPAM = "spam"


STATUS_LABELS = {
    CommentStatus.PENDING: "ждут модерации",
    CommentStatus.APPROVED: "одобрены",
    CommentStatus.REJECTED: "отклонены",
    CommentStatus.SPAM: "спам",
}
REASONS = {
    "blocked": "адрес автора заблокирован",
    "closed": "комментарии к статье закрыты",
}


def edit_out(text: str, passage: str) -> str:
    """``text`` with every occurrence of ``passage`` replaced by "[отредактировано]": a
    moderator takes words out, and never puts any in."""
    passage = passage.strip()
    if not passage:
        raise InvalidInput("укажите отрывок, который нужно убрать")
    if passage == EDITED or passage not in text:
        raise InvalidInput("такого отрывка в тексте комментария нет")
    return text.replace(passage, EDITED)


def comment_fields(doc: Doc) -> Doc:
    """What readers see of a comment, as its event and the API both show it."""
    return {
        "comment_id": str(doc["_id"]),
        "article_id": doc["article_id"],
        "parent_id": doc.get("parent_id"),
        "name": doc["name"],
        "text": doc["text"],
        "edited": bool(doc.get("edited")),
    }


def public_comment(doc: Doc) -> PublicComment:
    return PublicComment(**comment_fields(doc), published_at=doc["published_at"])


def comment_event(doc: Doc, at: datetime) -> Event:
    """The event of ``doc`` (as just changed) at its version: published while it is out,
    removed once it is not."""
    common: dict[str, Any] = {
        "producer": PRODUCER,
        "correlation_id": correlation_id_var.get(),
        "aggregate_id": str(doc["_id"]),
        "version": int(doc["version"]),
    }
    if doc["public"]:
        event: Event = CommentPublished.create(**common, data=public_comment(doc))
    else:
        removal = CommentRemoval(
            comment_id=str(doc["_id"]), article_id=doc["article_id"], removed_at=at
        )
        event = CommentRemoved.create(**common, data=removal)
    return event


@dataclass(frozen=True, slots=True)
class BulkOutcome:
    comment_id: str
    status: str | None  # the comment's status after the action; None if it failed
    error: str | None = None


class CommentService:
    def __init__(
        self,
        repo: CommentRepository,
        articles: ArticleService,
        audit: AuditLog,
        moderation: Moderation = "before",
    ) -> None:
        self.repo = repo
        self.articles = articles
        self.audit = audit
        self.moderation = moderation

    # --- arrival ----------------------------------------------------------------------------------

    async def receive(self, event: CommentSubmitted) -> bool:
        """Store a comment as it arrives; False if it is there already (a redelivery or a
        duplicate changes nothing)."""
        c = event.data
        reason = None
        if await self.repo.blocked_until(c.client_hash) is not None:
            reason = "blocked"
        elif await self.repo.is_closed(c.article_id):
            reason = "closed"
        now = utcnow()
        at_once = reason is None and self.moderation == "after"
        doc: Doc = {
            "_id": c.comment_id,
            "article_id": c.article_id,
            "parent_id": c.parent_id,
            "name": c.name,
            "original_text": c.text,
            "text": c.text,  # as readers see it: after any passage is edited out
            "edited": False,
            "client_hash": c.client_hash,
            "submitted_at": c.submitted_at,
            "received_at": now,
            "received_event_id": str(event.event_id),
            "status": (CommentStatus.REJECTED if reason else CommentStatus.PENDING).value,
            "reason": reason,
            "public": at_once,
            "published_at": now if at_once else None,
            "version": event.version + (1 if at_once else 0),
            "moderated_at": now if reason else None,
            "moderated_by": None,
        }
        return await self.repo.add(doc, [comment_event(doc, now)] if at_once else [])

    # --- reads ------------------------------------------------------------------------------------

    async def get(self, comment_id: str) -> Doc:
        return await self.repo.get(comment_id)

    async def queue(
        self,
        status: CommentStatus,
        article_id: str | None = None,
        page: int = 1,
        per_page: int = 50,
    ) -> Page[dict[str, Any]]:
        return await self.repo.page(status.value, article_id, page, per_page)

    async def counts(self, article_id: str | None = None) -> dict[str, int]:
        return await self.repo.counts(article_id)

    async def pending_count(self) -> int:
        return (await self.repo.counts())[CommentStatus.PENDING.value]

    # --- moderation -------------------------------------------------------------------------------

    async def approve(self, by: Principal, comment_id: str) -> Doc:
        return await self._set_status(by, comment_id, CommentStatus.APPROVED)

    async def reject(self, by: Principal, comment_id: str) -> Doc:
        return await self._set_status(by, comment_id, CommentStatus.REJECTED)

    async def mark_spam(self, by: Principal, comment_id: str) -> Doc:
        return await self._set_status(by, comment_id, CommentStatus.SPAM)

    async def approve_many(self, by: Principal, comment_ids: Sequence[str]) -> list[BulkOutcome]:
        """Approve each comment (one at a time, each under its own lock); what failed is said
        per comment and does not stop the others."""
        ids = list(dict.fromkeys(comment_ids))
        if not ids or len(ids) > MAX_BULK:
            raise InvalidInput(f"отметьте от 1 до {MAX_BULK} комментариев")
        out = []
        for comment_id in ids:
            try:
                doc = await self.approve(by, comment_id)
            except PublisherError as exc:
                out.append(BulkOutcome(comment_id, None, exc.message))
            else:
                out.append(BulkOutcome(comment_id, str(doc["status"])))
        return out

    async def _set_status(self, by: Principal, comment_id: str, status: CommentStatus) -> Doc:
        public = status == CommentStatus.APPROVED
        async with self.repo.locked(comment_id) as doc:
            if doc["status"] == status.value and doc["public"] == public:
                return doc  # already so: nothing changes, nothing is sent
            now = utcnow()
            changes: Doc = {
                "status": status.value,
                "public": public,
                "version": int(doc["version"]) + 1,
                "moderated_at": now,
                "moderated_by": EditorRef.of(by).model_dump(),
                "reason": None,
            }
            if public and doc.get("published_at") is None:
                changes["published_at"] = now
            new = {**doc, **changes}
            events = [comment_event(new, now)] if public != doc["public"] else []
            new = await self.repo.write(doc, changes, events)
        await self.audit.record(by, f"comment.{status.value}", "comment", comment_id)
        return new

    async def edit(self, by: Principal, comment_id: str, passage: str) -> Doc:
        """Take ``passage`` out of the comment's text, visibly; published again if it is out."""
        async with self.repo.locked(comment_id) as doc:
            now = utcnow()
            changes: Doc = {
                "text": edit_out(doc["text"], passage),
                "edited": True,
                "version": int(doc["version"]) + 1,
                "moderated_at": now,
                "moderated_by": EditorRef.of(by).model_dump(),
            }
            new = {**doc, **changes}
            events = [comment_event(new, now)] if doc["public"] else []
            new = await self.repo.write(doc, changes, events)
        await self.audit.record(by, "comment.edit", "comment", comment_id, passage=passage)
        return new

    # --- blocks and closed articles ---------------------------------------------------------------

    async def block_author(self, by: Principal, comment_id: str, hours: int) -> datetime:
        """Block the address the comment came from (its hash) for ``hours``: later comments
        from it are rejected on arrival. Returns when the block ends."""
        if not 1 <= hours <= MAX_BLOCK_HOURS:
            raise InvalidInput(f"срок блокировки: от 1 до {MAX_BLOCK_HOURS} часов")
        doc = await self.repo.get(comment_id)
        now = utcnow()
        until = now + timedelta(hours=hours)
        detail = {
            "by": EditorRef.of(by).model_dump(),
            "at": now.isoformat(),
            "comment_id": comment_id,
            "name": doc["name"],
        }
        await self.repo.block(doc["client_hash"], until, detail)
        await self.audit.record(by, "comment.block", "comment", comment_id, hours=hours)
        return until

    async def unblock(self, by: Principal, client_hash: str) -> None:
        if not await self.repo.unblock(client_hash):
            raise NotFound("этот адрес не заблокирован")
        await self.audit.record(by, "comment.unblock", "address", client_hash)

    async def blocks(self) -> list[Doc]:
        return await self.repo.blocks()

    async def set_open(self, by: Principal, article_id: str, is_open: bool) -> bool:
        """Open or close the comments of an article: the article's own next version (its
        ``comments_open``, re-emitted when published), and the set arrivals are checked against
        (closed before the article says so, opened after it does)."""
        if not is_open:
            await self.repo.set_closed(article_id, True)
        try:
            article = await self.articles.set_comments_open(by, article_id, is_open)
        except NotFound:
            await self.repo.set_closed(article_id, False)
            raise
        if is_open:
            await self.repo.set_closed(article_id, False)
        return article.comments_open

    async def rebuild(self) -> int:
        return await self.repo.rebuild_queues()
