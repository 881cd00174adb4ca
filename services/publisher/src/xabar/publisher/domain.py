"""The article, its workflow and its rules, free of I/O: statuses, who may do what, revisions.

Workflow (action: from -> to)::

    submit     draft                                       -> in_review
    schedule   draft, in_review, scheduled, unpublished   -> scheduled   (publish_at in the future)
    publish    draft, in_review, scheduled, unpublished   -> published   (also the scheduler, due)
    unpublish  published                                  -> unpublished
    return     in_review, scheduled, unpublished          -> draft
    edit / correct (published: with a public correction note) keep the status

- contributor: create articles, read and edit their own drafts, submit their own drafts for
  review, read what is published;
- editor: everything on any article (edit in any status, return, schedule, publish, unpublish,
  corrections, news of the day), the inbox of tips, media uploads, the audit log;
- chief: everything an editor may, and editors' accounts.

An ``Article`` is a frozen model: a change makes a new one (``Article.with_values``) from plain
values, the form revisions keep them in. Revisions live inside the article (so a change and its
revision are one write): each change appends ``{"version", "at", "by", "action", "changed",
"previous"}``, where ``previous`` holds the values the changed fields had before. Any earlier
version is rebuilt by undoing the later revisions, newest first.
"""

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, WrapSerializer

from xabar.contracts import (
    ArticlePublished,
    ArticleRemoval,
    ArticleState,
    ArticleUnpublished,
    ArticleUpdated,
)
from xabar.publisher.errors import InvalidInput, InvalidTransition, NotAllowed, NotFound
from xabar.runtime.auth import Principal, Role

PRODUCER = "publisher"

Doc = dict[str, Any]  # plain values: what a client sent, what a revision keeps
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list, and how many items the whole list has."""

    items: list[T]
    total: int
    page: int
    per_page: int
    exact: bool = True  # False: ``total`` is how many were found, and there are more

    @property
    def pages(self) -> int:
        """How many pages the whole list has (one, when it is empty)."""
        return max(1, -(-self.total // self.per_page))

    @classmethod
    def of(cls, rows: list[T], page: int, per_page: int) -> "Page[T]":
        """The page ``page`` of ``rows`` (all of them, in order)."""
        start = (page - 1) * per_page
        return cls(rows[start : start + per_page], len(rows), page, per_page)


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
STATUS_LABELS = {
    ArticleStatus.DRAFT: "черновик",
    ArticleStatus.IN_REVIEW: "на проверке",
    ArticleStatus.SCHEDULED: "запланирована",
    ArticleStatus.PUBLISHED: "опубликована",
    ArticleStatus.UNPUBLISHED: "снята с публикации",
}
ACTION_LABELS = {
    "submit": "отправить на проверку",
    "return": "вернуть в черновики",
    "schedule": "запланировать",
    "publish": "опубликовать",
    "unpublish": "снять с публикации",
}
ROLE_LABELS = {Role.CONTRIBUTOR: "автор", Role.EDITOR: "редактор", Role.CHIEF: "главный редактор"}
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
class Period:
    """``since`` (included) to ``until`` (excluded); either end open when None."""

    since: datetime | None = None
    until: datetime | None = None

    def __contains__(self, at: datetime) -> bool:
        return (self.since is None or at >= self.since) and (self.until is None or at < self.until)


@dataclass(frozen=True, slots=True)
class ArticleQuery:
    """Which articles a list shows (each filter None: any), and which page of it."""

    status: str | None = None
    country: str | None = None
    owner_id: str | None = None
    text: str | None = None  # words (or their beginnings) of the title, lead and body
    page: int = 1
    per_page: int = 50


# --- the article --------------------------------------------------------------------------------


def _as_list(value: Any, serialize: Any) -> Any:
    return list(serialize(value))


Listed = WrapSerializer(_as_list)  # tuples in the model, lists in plain values and documents


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class EditorRef(_Value):
    id: str
    name: str

    @classmethod
    def of(cls, who: Principal) -> "EditorRef":
        return cls(id=who.editor_id, name=who.name)


class ImageSize(_Value):
    """One re-encoded size of an uploaded image (``ArticleImage.variants`` in the events)."""

    url: str
    width: int
    height: int
    media_type: str


class Image(_Value):
    url: str  # an uploaded image: its largest JPEG size (the fallback every browser shows)
    media_id: str | None = None
    credit: str | None = None
    alt: str | None = None
    width: int | None = None
    height: int | None = None
    variants: Annotated[tuple[ImageSize, ...], Listed] = ()


class CorrectionNote(_Value):
    note: str  # public: shown under the article
    corrected_at: datetime


class Revision(_Value):
    version: int
    at: datetime
    by: EditorRef
    action: str
    changed: Annotated[tuple[str, ...], Listed] = ()
    previous: dict[str, Any] = {}
    restored_from: int | None = None
    note: str | None = None


class Article(_Value):
    article_id: str
    status: ArticleStatus = ArticleStatus.DRAFT
    version: int = 1
    slug: str
    slug_locked: bool = False
    title: str = ""
    lead: str = ""
    body_html: str = ""
    body_markdown: str | None = None
    countries: Annotated[tuple[str, ...], Listed] = ()
    tags: Annotated[tuple[str, ...], Listed] = ()
    image: Image | None = None
    source: str | None = None
    source_url: str | None = None
    author: str | None = None
    featured: bool = False
    featured_countries: Annotated[tuple[str, ...], Listed] = ()
    corrections: Annotated[tuple[CorrectionNote, ...], Listed] = ()
    comment_count: int = 0
    comments_open: bool = True
    publish_at: datetime | None = None
    published_at: datetime | None = None
    unpublished_at: datetime | None = None
    created_at: datetime
    updated_at: datetime
    created_by: EditorRef
    owner_id: str | None = None
    submission_id: str | None = None
    submission_notified: bool = False
    import_key: str | None = None
    revisions: Annotated[tuple[Revision, ...], Listed] = ()

    @property
    def published(self) -> bool:
        return self.status == ArticleStatus.PUBLISHED

    def values(self, fields: Iterable[str] = TRACKED_FIELDS) -> Doc:
        """Plain values of ``fields`` (lists and dicts, as revisions and documents hold them)."""
        return self.model_dump(mode="python", include=set(fields))

    def with_values(self, changes: Mapping[str, Any]) -> "Article":
        """A new article with ``changes`` (plain values) applied, validated as a whole."""
        if not changes:
            return self
        return Article.model_validate({**self.model_dump(mode="python"), **changes})

    def next_version(self, changes: Mapping[str, Any], rev: Revision) -> "Article":
        """The article as stored by a change: its values, the next version, its revision."""
        new = self.with_values({**changes, "version": self.version + 1})
        return new.model_copy(update={"revisions": (*self.revisions, rev)})


# --- rules --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Transition:
    action: str
    sources: frozenset[ArticleStatus]
    target: ArticleStatus
    minimum: Role
    own_only_below_editor: bool = False


_S = ArticleStatus
_REOPEN = frozenset({_S.DRAFT, _S.IN_REVIEW, _S.SCHEDULED, _S.UNPUBLISHED})
TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in (
        Transition("submit", frozenset({_S.DRAFT}), _S.IN_REVIEW, Role.CONTRIBUTOR, True),
        Transition(
            "return", frozenset({_S.IN_REVIEW, _S.SCHEDULED, _S.UNPUBLISHED}), _S.DRAFT, Role.EDITOR
        ),
        Transition("schedule", _REOPEN, _S.SCHEDULED, Role.EDITOR),
        Transition("publish", _REOPEN, _S.PUBLISHED, Role.EDITOR),
        Transition("unpublish", frozenset({_S.PUBLISHED}), _S.UNPUBLISHED, Role.EDITOR),
    )
}


def is_owner(principal: Principal, article: Article) -> bool:
    return bool(article.owner_id) and article.owner_id == principal.editor_id


def check_can_read(principal: Principal, article: Article, *, history: bool = False) -> None:
    """Editors read any article; a contributor their own, and others' once published (but not
    their ``history``: earlier versions were never public)."""
    if principal.role.at_least(Role.EDITOR) or is_owner(principal, article):
        return
    if history:
        raise NotAllowed("автор видит историю только своих статей")
    if not article.published:
        raise NotAllowed("автор видит только свои статьи и опубликованные")


def check_can_edit(principal: Principal, article: Article) -> None:
    """Editors edit any article; a contributor only their own drafts."""
    if principal.role.at_least(Role.EDITOR):
        return
    if not is_owner(principal, article):
        raise NotAllowed("автор может править только свои статьи")
    if article.status != ArticleStatus.DRAFT:
        raise NotAllowed(
            "автор может править только черновики; статья сейчас: " + STATUS_LABELS[article.status]
        )


def check_transition(principal: Principal, article: Article, action: str) -> Transition:
    """The transition ``action`` if the principal may make it from the article's status."""
    transition = TRANSITIONS[action]
    label = ACTION_LABELS[action]
    if not principal.role.at_least(transition.minimum):
        raise NotAllowed(f"«{label}» может {ROLE_LABELS[transition.minimum]} или выше")
    if (
        transition.own_only_below_editor
        and not principal.role.at_least(Role.EDITOR)
        and not is_owner(principal, article)
    ):
        raise NotAllowed(f"автор может «{label}» только свою статью")
    if article.status not in transition.sources:
        allowed = ", ".join(sorted(STATUS_LABELS[s] for s in transition.sources))
        raise InvalidTransition(
            f"нельзя «{label}»: статья сейчас {STATUS_LABELS[article.status]} "
            f"(можно, когда она: {allowed})"
        )
    return transition


def check_publishable(article: Article) -> None:
    missing = [f for f in ("title", "body_html") if not getattr(article, f).strip()]
    if missing:
        raise InvalidInput("для публикации у статьи должны быть: " + ", ".join(missing))


def utcnow() -> datetime:
    """Now, in UTC, to the millisecond: what BSON stores, so a value read back equals it."""
    return ms(datetime.now(UTC))


def ms(value: datetime) -> datetime:
    value = value.astimezone(UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


# --- revisions ----------------------------------------------------------------------------------


def revision(
    version: int,
    at: datetime,
    by: Principal,
    action: str,
    before: Mapping[str, Any],
    changes: Mapping[str, Any],
    **extra: Any,
) -> Revision:
    """The revision of a change from ``before`` (plain values) by ``changes`` (tracked fields)."""
    changed = [f for f in TRACKED_FIELDS if f in changes]
    return Revision(
        version=version,
        at=at,
        by=EditorRef.of(by),
        action=action,
        changed=tuple(changed),
        previous={f: before.get(f) for f in changed},
        **extra,
    )


def state_at(article: Article, version: int) -> Doc:
    """The tracked fields (plain values) as they were right after ``version`` was stored."""
    if not 1 <= version <= article.version:
        raise NotFound(f"у статьи нет версии {version} (последняя: {article.version})")
    fields = article.values(TRACKED_FIELDS)
    for entry in sorted(article.revisions, key=lambda r: -r.version):
        if entry.version <= version:
            break
        fields.update(entry.previous)
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


# --- public state and events --------------------------------------------------------------------


def public_state(article: Article) -> ArticleState:
    """The whole public state of an article, as article events carry it."""
    if article.published_at is None:
        raise InvalidTransition("у статьи нет даты публикации")
    return ArticleState.model_validate(article.model_dump())  # its public fields only


ArticleEvent = ArticlePublished | ArticleUpdated | ArticleUnpublished


def article_event(
    kind: type[ArticleEvent], article: Article, cid: str | None, at: datetime | None = None
) -> ArticleEvent:
    """An event of the article at its version: ``article.published`` and ``article.updated``
    carry its public state, ``article.unpublished`` its removal (when: its ``unpublished_at``,
    else ``at``)."""
    data: ArticleState | ArticleRemoval
    if kind is ArticleUnpublished:
        when = article.unpublished_at or at or utcnow()
        data = ArticleRemoval(article_id=article.article_id, slug=article.slug, unpublished_at=when)
    else:
        data = public_state(article)
    event: ArticleEvent = kind.create(
        producer=PRODUCER,
        correlation_id=cid,
        aggregate_id=article.article_id,
        version=article.version,
        data=data,
    )
    return event
