"""Every event Xabar emits, version 1.

``data`` holds the payload; the envelope fields live on the event itself. Article events carry the
article's whole public state (event-carried state transfer), so the feed never calls the publisher.
"""

import json
from enum import StrEnum
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from xabar.contracts.envelope import AggregateEvent, Event
from xabar.contracts.errors import ContractError, UnknownEventType

CountryCode = str  # ISO 3166-1 alpha-2, see countries.COUNTRIES; "other" only for tips


class _Data(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


# --- submissions (ingest -> publisher -> ingest) -------------------------------------------------


class Contact(_Data):
    name: str | None = None
    email: str | None = None
    phone: str | None = None


class AttachmentRef(_Data):
    """A photo stored by ingest; fetched by id from ingest's media endpoint, never embedded."""

    attachment_id: str
    content_type: Literal["image/jpeg", "image/png", "image/webp"]
    size: int = Field(ge=0)
    width: int = Field(ge=1)
    height: int = Field(ge=1)
    sha256: str


class Submission(_Data):
    submission_id: str
    title: str
    text: str  # plain text as the reporter wrote it
    country: str = Field(pattern=r"^([A-Z]{2}|other)$")
    location: str | None = None
    anonymous: bool
    contact: Contact | None = None  # None when the reporter chose to stay anonymous
    attachments: tuple[AttachmentRef, ...] = ()
    received_at: AwareDatetime


class SubmissionReceived(AggregateEvent):
    """Version 1: the reporter's contact in clear. Still read; no longer emitted."""

    TYPE = "submission.received"
    type: Literal["submission.received"]
    data: Submission


class SealedSubmission(_Data):
    """A tip whose contact is sealed to the newsroom's public key (version 2).

    ``contact_sealed`` is a libsodium sealed box (X25519, PyNaCl ``SealedBox``) of the contact as
    JSON (``Contact``), base64 (standard alphabet, padded). Only the holder of the newsroom's
    private key (the publisher) can open it; ingest, the stream and ingest's database hold only
    the ciphertext. None when the reporter chose to stay anonymous."""

    submission_id: str
    title: str
    text: str
    country: str = Field(pattern=r"^([A-Z]{2}|other)$")
    location: str | None = None
    anonymous: bool
    contact_sealed: str | None = None
    attachments: tuple[AttachmentRef, ...] = ()
    received_at: AwareDatetime


class SubmissionReceivedV2(AggregateEvent):
    """Version 2: the contact sealed (``SealedSubmission``). What ingest emits."""

    TYPE = "submission.received"
    SCHEMA_VERSION = 2
    type: Literal["submission.received"]
    data: SealedSubmission


class SubmissionStatus(StrEnum):
    RECEIVED = "received"
    IN_REVIEW = "in_review"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    PUBLISHED = "published"


class SubmissionReview(_Data):
    submission_id: str
    status: SubmissionStatus
    public_reason: str | None = None  # shown to the reporter when rejected
    article_url: str | None = None  # path of the published article, when published
    article_id: str | None = None
    reviewed_at: AwareDatetime


class SubmissionReviewed(AggregateEvent):
    TYPE = "submission.reviewed"
    type: Literal["submission.reviewed"]
    data: SubmissionReview


# --- articles (publisher -> feed) ---------------------------------------------------------------


class ImageVariant(_Data):
    """One re-encoded size of an article's photo, for ``srcset`` and ``<picture>``."""

    url: str
    width: int = Field(ge=1)
    height: int = Field(ge=1)
    media_type: Literal["image/avif", "image/webp", "image/jpeg"]


class ArticleImage(_Data):
    url: str  # the JPEG (or original) fallback
    credit: str | None = None  # "Фото: пресс-служба МИД РТ"
    alt: str | None = None
    width: int | None = None
    height: int | None = None
    variants: tuple[ImageVariant, ...] = ()  # smaller sizes and modern formats, when made


class Correction(_Data):
    note: str
    corrected_at: AwareDatetime


class ArticleState(_Data):
    """The whole public state of a published article."""

    article_id: str
    slug: str
    title: str
    lead: str
    body_html: str  # sanitized by the publisher
    countries: tuple[CountryCode, ...] = ()
    tags: tuple[str, ...] = ()
    image: ArticleImage | None = None
    source: str | None = None
    source_url: str | None = None
    author: str | None = None
    featured: bool = False  # the site-wide "Новость дня"
    featured_countries: tuple[CountryCode, ...] = ()  # news of the day of a country section
    comment_count: int = Field(default=0, ge=0)
    comments_open: bool = True  # False: the newsroom closed the article's comments
    corrections: tuple[Correction, ...] = ()
    published_at: AwareDatetime
    updated_at: AwareDatetime


class ArticlePublished(AggregateEvent):
    TYPE = "article.published"
    type: Literal["article.published"]
    data: ArticleState


class ArticleUpdated(AggregateEvent):
    TYPE = "article.updated"
    type: Literal["article.updated"]
    data: ArticleState


class ArticleRemoval(_Data):
    article_id: str
    slug: str
    unpublished_at: AwareDatetime


class ArticleUnpublished(AggregateEvent):
    TYPE = "article.unpublished"
    type: Literal["article.unpublished"]
    data: ArticleRemoval


# --- readers' comments (ingest -> publisher -> feed) and letters (ingest -> publisher) -----------


class CommentSubmission(_Data):
    """A reader's comment as ingest accepted it: plain text, not yet moderated."""

    comment_id: str
    article_id: str
    parent_id: str | None = None  # the comment it replies to (replies are one level deep)
    name: str  # shown publicly once approved
    text: str  # plain text as the reader wrote it
    client_hash: str  # the reader's address, keyed with ingest's comments key (never in clear)
    submitted_at: AwareDatetime


class CommentSubmitted(AggregateEvent):
    TYPE = "comment.submitted"
    type: Literal["comment.submitted"]
    data: CommentSubmission


class PublicComment(_Data):
    """An approved comment as readers see it (``text`` after any moderator's edit)."""

    comment_id: str
    article_id: str
    parent_id: str | None = None
    name: str
    text: str  # plain text; the feed escapes it and links URLs with rel="nofollow ugc"
    edited: bool = False  # a moderator edited a passage out: shown as "[отредактировано]"
    published_at: AwareDatetime


class CommentPublished(AggregateEvent):
    TYPE = "comment.published"
    type: Literal["comment.published"]
    data: PublicComment


class CommentRemoval(_Data):
    comment_id: str
    article_id: str
    removed_at: AwareDatetime


class CommentRemoved(AggregateEvent):
    TYPE = "comment.removed"
    type: Literal["comment.removed"]
    data: CommentRemoval


class Letter(_Data):
    """A reader's letter to the editors ("Напишите нам"): never published.

    ``reply_to_sealed`` is the way to answer (an e-mail, a phone, ...) sealed to the newsroom's
    public key, as a tip's contact is (see ``SealedSubmission``)."""

    letter_id: str
    name: str
    reply_to_sealed: str | None = None
    subject: str
    text: str
    received_at: AwareDatetime


class LetterReceived(AggregateEvent):
    TYPE = "letter.received"
    type: Literal["letter.received"]
    data: Letter


# --- polls (polls -> feed) ----------------------------------------------------------------------


class PollOption(_Data):
    option_id: str
    text: str


class PollState(_Data):
    poll_id: str
    question: str
    options: tuple[PollOption, ...]
    multiple: bool = False
    results_visibility: Literal["always", "after_vote", "after_close"] = "always"
    opens_at: AwareDatetime
    closes_at: AwareDatetime | None = None
    closed_at: AwareDatetime | None = None
    countries: tuple[CountryCode, ...] = ()  # the country sections that show it
    front_page: bool = True  # shown on the front page (events before placement: always)
    article_ids: tuple[str, ...] = ()  # articles it is embedded in


class PollOpened(AggregateEvent):
    TYPE = "poll.opened"
    type: Literal["poll.opened"]
    data: PollState


class PollClosed(AggregateEvent):
    TYPE = "poll.closed"
    type: Literal["poll.closed"]
    data: PollState


class PollTally(_Data):
    """A snapshot of a poll's counts. ``version`` of the event grows with every counted vote."""

    poll_id: str
    counts: dict[str, int]  # option_id -> votes
    percentages: dict[str, int]  # option_id -> whole percent, adding up to exactly 100
    total_votes: int = Field(ge=0)  # "Всего голосов": voters who voted
    tallied_at: AwareDatetime


class PollTallied(AggregateEvent):
    TYPE = "poll.tallied"
    type: Literal["poll.tallied"]
    data: PollTally


# --- country profiles ("О стране") ---------------------------------------------------------------


class CountryFact(_Data):
    label: str  # "Столица"
    value: str  # "Астана"


class CountryProfile(_Data):
    """A country section's profile by the newsroom ("О стране"); each event replaces the last."""

    country: CountryCode  # one of countries.COUNTRIES
    title: str  # "Казахстан"
    lead: str  # a sentence or two, plain text: the sidebar shows it
    body_html: str = ""  # sanitized by the publisher, like an article's body
    facts: tuple[CountryFact, ...] = ()  # a short table: capital, population, currency...
    updated_at: AwareDatetime


class CountryProfilePublished(AggregateEvent):
    """``aggregate_id`` is the country code; ``version`` grows with every edit."""

    TYPE = "country_profile.published"
    type: Literal["country_profile.published"]
    data: CountryProfile


# --- registry -----------------------------------------------------------------------------------

_ALL: tuple[type[Event], ...] = (
    SubmissionReceived,
    SubmissionReceivedV2,
    SubmissionReviewed,
    CommentSubmitted,
    CommentPublished,
    CommentRemoved,
    LetterReceived,
    ArticlePublished,
    ArticleUpdated,
    ArticleUnpublished,
    CountryProfilePublished,
    PollOpened,
    PollClosed,
    PollTallied,
)

registry: dict[tuple[str, int], type[Event]] = {(c.TYPE, c.SCHEMA_VERSION): c for c in _ALL}
EVENT_TYPES: frozenset[str] = frozenset(c.TYPE for c in _ALL)


class _Head(BaseModel):
    """The two fields that choose an event's class, read from JSON without building the rest."""

    model_config = ConfigDict(extra="ignore")

    type: Any = None
    schema_version: Any = 1


def _event_class(event_type: Any, version: Any) -> type[Event]:
    if not isinstance(event_type, str) or not isinstance(version, int):
        raise ContractError("event has no string 'type' or integer 'schema_version'")
    cls = registry.get((event_type, version))
    if cls is None:
        raise UnknownEventType(event_type, version)
    return cls


def parse_event(raw: bytes | str | dict[str, Any]) -> Event:
    """Read an event of any registered type and version; raise ContractError otherwise.

    JSON is validated by pydantic straight from the bytes (its class chosen first from the
    ``type`` and ``schema_version`` fields): no intermediate Python objects on the hot path."""
    if not isinstance(raw, dict):
        try:
            head = _Head.model_validate_json(raw)
        except ValidationError:
            pass  # not JSON, or not an object: the path below names which
        else:
            cls = _event_class(head.type, head.schema_version)
            try:
                return cls.model_validate_json(raw)
            except ValidationError as exc:
                raise ContractError(f"invalid {cls.TYPE} v{cls.SCHEMA_VERSION}: {exc}") from exc
    try:
        obj = raw if isinstance(raw, dict) else json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ContractError(f"event is not JSON: {exc}") from exc
    if not isinstance(obj, dict):
        raise ContractError("event is not a JSON object")
    cls = _event_class(obj.get("type"), obj.get("schema_version", 1))
    try:
        return cls.model_validate(obj)
    except ValidationError as exc:
        raise ContractError(f"invalid {cls.TYPE} v{cls.SCHEMA_VERSION}: {exc}") from exc
