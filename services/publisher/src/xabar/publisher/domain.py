"""The article workflow and its rules, free of I/O: statuses, who may do what, revisions.

Workflow (action: from -> to)::

    submit     draft                                       -> in_review
    schedule   draft, in_review, scheduled, unpublished   -> scheduled   (publish_at in the future)
    publish    draft, in_review, scheduled, unpublished   -> published   (also the scheduler, due)
    unpublish  published                                  -> unpublished
    return     in_review, scheduled, unpublished          -> draft
    edit / correct (published: with a public correction note) keep the status

- contributor: create articles, edit their own drafts, submit their own drafts for review;
- editor: everything on any article (edit in any status, return, schedule, publish, unpublish,
  corrections, news of the day), the inbox of tips, media uploads, the audit log;
- chief: everything an editor may, and editors' accounts.

Revisions are kept inside the article document (so a change and its revision are one write): each
change appends ``{"version", "at", "by", "action", "changed", "previous"}``, where ``previous``
holds the values the changed fields had before. Any earlier version is rebuilt by undoing the later
revisions, newest first.
"""

import difflib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from xabar.contracts import (
    ArticleImage,
    ArticlePublished,
    ArticleRemoval,
    ArticleState,
    ArticleUnpublished,
    ArticleUpdated,
    Correction,
)
from xabar.publisher.errors import InvalidInput, InvalidTransition, NotAllowed, NotFound
from xabar.runtime.auth import Principal, Role

PRODUCER = "publisher"

Doc = dict[str, Any]


class ArticleStatus(StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    SCHEDULED = "scheduled"
    PUBLISHED = "published"
    UNPUBLISHED = "unpublished"


CONTENT_FIELDS: tuple[str, ...] = (
    "title",
    "lead",
    "body_html",
    "body_markdown",
    "countries",
    "tags",
    "image",
    "source",
    "source_url",
    "author",
)
TRACKED_FIELDS: tuple[str, ...] = (
    *CONTENT_FIELDS,
    "status",
    "publish_at",
    "slug",
    "featured",
    "featured_countries",
    "corrections",
)


@dataclass(frozen=True, slots=True)
class Transition:
    action: str
    sources: frozenset[ArticleStatus]
    target: ArticleStatus
    minimum: Role
    own_only_below_editor: bool = False


_S = ArticleStatus
TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in (
        Transition("submit", frozenset({_S.DRAFT}), _S.IN_REVIEW, Role.CONTRIBUTOR, True),
        Transition(
            "return", frozenset({_S.IN_REVIEW, _S.SCHEDULED, _S.UNPUBLISHED}), _S.DRAFT, Role.EDITOR
        ),
        Transition(
            "schedule",
            frozenset({_S.DRAFT, _S.IN_REVIEW, _S.SCHEDULED, _S.UNPUBLISHED}),
            _S.SCHEDULED,
            Role.EDITOR,
        ),
        Transition(
            "publish",
            frozenset({_S.DRAFT, _S.IN_REVIEW, _S.SCHEDULED, _S.UNPUBLISHED}),
            _S.PUBLISHED,
            Role.EDITOR,
        ),
        Transition("unpublish", frozenset({_S.PUBLISHED}), _S.UNPUBLISHED, Role.EDITOR),
    )
}


def is_owner(principal: Principal, doc: Doc) -> bool:
    return bool(doc.get("owner_id")) and doc.get("owner_id") == principal.editor_id


def check_can_edit(principal: Principal, doc: Doc) -> None:
    """Editors edit any article; a contributor only their own drafts."""
    if principal.role.at_least(Role.EDITOR):
        return
    if not is_owner(principal, doc):
        raise NotAllowed("a contributor may edit only their own articles")
    if doc["status"] != ArticleStatus.DRAFT:
        raise NotAllowed("a contributor may edit only drafts; this article is " + doc["status"])


def check_transition(principal: Principal, doc: Doc, action: str) -> Transition:
    """The transition ``action`` if the principal may make it from the article's status."""
    transition = TRANSITIONS[action]
    if not principal.role.at_least(transition.minimum):
        raise NotAllowed(f"{action} needs the role {transition.minimum.value} or higher")
    if (
        transition.own_only_below_editor
        and not principal.role.at_least(Role.EDITOR)
        and not is_owner(principal, doc)
    ):
        raise NotAllowed(f"a contributor may {action} only their own articles")
    status = ArticleStatus(doc["status"])
    if status not in transition.sources:
        allowed = ", ".join(sorted(s.value for s in transition.sources))
        raise InvalidTransition(
            f"cannot {action} an article that is {status.value} (allowed from: {allowed})"
        )
    return transition


def check_publishable(doc: Doc) -> None:
    missing = [f for f in ("title", "body_html") if not (doc.get(f) or "").strip()]
    if missing:
        raise InvalidInput("an article needs " + " and ".join(missing) + " to be published")


def utcnow() -> datetime:
    """Now, in UTC, to the millisecond: what BSON stores, so a value read back equals it."""
    return ms(datetime.now(UTC))


def ms(value: datetime) -> datetime:
    value = value.astimezone(UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


# --- revisions -------------------------------------------------------------------------------


def revision(
    version: int,
    at: datetime,
    by: Principal,
    action: str,
    before: Doc,
    changes: Doc,
    **extra: Any,
) -> Doc:
    """The revision entry of a change from ``before`` by ``changes`` (tracked fields only)."""
    changed = [f for f in TRACKED_FIELDS if f in changes]
    entry: Doc = {
        "version": version,
        "at": at,
        "by": {"id": by.editor_id, "name": by.name},
        "action": action,
        "changed": changed,
        "previous": {f: before.get(f) for f in changed},
    }
    entry.update(extra)
    return entry


def state_at(doc: Doc, version: int) -> Doc:
    """The tracked fields as they were right after ``version`` was stored."""
    if not 1 <= version <= int(doc["version"]):
        raise NotFound(f"the article has no version {version} (it is at {doc['version']})")
    fields = {f: doc.get(f) for f in TRACKED_FIELDS}
    for entry in sorted(doc.get("revisions") or [], key=lambda r: -int(r["version"])):
        if int(entry["version"]) <= version:
            break
        fields.update(entry.get("previous") or {})
    return fields


def field_diff(field: str, before: Any, after: Any) -> Doc:
    out: Doc = {"field": field, "before": before, "after": after}
    if isinstance(before, str) or isinstance(after, str):
        old, new = _lines(before or ""), _lines(after or "")
        out["unified"] = "".join(
            difflib.unified_diff(old, new, fromfile="before", tofile="after", lineterm="\n")
        )
    return out


def diff_states(before: Doc, after: Doc) -> list[Doc]:
    return [
        field_diff(f, before.get(f), after.get(f))
        for f in TRACKED_FIELDS
        if before.get(f) != after.get(f)
    ]


def _lines(text: str) -> list[str]:
    # HTML bodies have few newlines: break after block ends so a diff reads by paragraph.
    spaced = re.sub(r"(</(?:p|h[1-6]|li|blockquote|figure|table|pre)>)", r"\1\n", text)
    return [line + "\n" for line in spaced.split("\n") if line != ""]


# --- public state and events -------------------------------------------------------------------


def public_state(doc: Doc) -> ArticleState:
    """The whole public state of an article, as article events carry it."""
    image = doc.get("image")
    return ArticleState(
        article_id=str(doc["_id"]),
        slug=doc["slug"],
        title=doc["title"],
        lead=doc.get("lead") or "",
        body_html=doc.get("body_html") or "",
        countries=tuple(doc.get("countries") or ()),
        tags=tuple(doc.get("tags") or ()),
        image=ArticleImage.model_validate(image) if image and image.get("url") else None,
        source=doc.get("source"),
        source_url=doc.get("source_url"),
        author=doc.get("author"),
        featured=bool(doc.get("featured")),
        featured_countries=tuple(doc.get("featured_countries") or ()),
        comment_count=int(doc.get("comment_count") or 0),
        corrections=tuple(Correction.model_validate(c) for c in doc.get("corrections") or ()),
        published_at=doc["published_at"],
        updated_at=doc["updated_at"],
    )


def published_event(doc: Doc, correlation_id: str | None) -> ArticlePublished:
    event: ArticlePublished = ArticlePublished.create(
        producer=PRODUCER,
        correlation_id=correlation_id,
        aggregate_id=str(doc["_id"]),
        version=int(doc["version"]),
        data=public_state(doc),
    )
    return event


def updated_event(doc: Doc, correlation_id: str | None) -> ArticleUpdated:
    event: ArticleUpdated = ArticleUpdated.create(
        producer=PRODUCER,
        correlation_id=correlation_id,
        aggregate_id=str(doc["_id"]),
        version=int(doc["version"]),
        data=public_state(doc),
    )
    return event


def unpublished_event(doc: Doc, at: datetime, correlation_id: str | None) -> ArticleUnpublished:
    event: ArticleUnpublished = ArticleUnpublished.create(
        producer=PRODUCER,
        correlation_id=correlation_id,
        aggregate_id=str(doc["_id"]),
        version=int(doc["version"]),
        data=ArticleRemoval(article_id=str(doc["_id"]), slug=doc["slug"], unpublished_at=at),
    )
    return event
