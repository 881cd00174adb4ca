"""Request and response bodies of the publisher's HTTP API (pydantic; they feed the OpenAPI)."""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from xabar.contracts import COUNTRIES, Contact, SubmissionStatus
from xabar.publisher.domain import ArticleStatus, CorrectionNote, EditorRef, Image, Page
from xabar.runtime.auth import Role

MAX_TAGS = 30


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class _Out(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _Paged(_Out):
    """A page of a list (each subclass declares what its ``items`` are)."""

    items: list[Any]
    total: int
    page: int
    per_page: int

    @classmethod
    def of(cls, found: Page[Any], items: Sequence[Any], **more: Any) -> Self:
        """The API's page of ``found``, with ``items`` (its rows as the API shows them)."""
        return cls(items=items, total=found.total, page=found.page, per_page=found.per_page, **more)


def invalid(message: str) -> PydanticCustomError:
    """A validation error whose message is ours alone (pydantic adds nothing to it)."""
    return PydanticCustomError("invalid", message)


def check_countries(values: list[str]) -> list[str]:
    out: list[str] = []
    for code in values:
        code = code.strip().upper()
        if code not in COUNTRIES:
            raise invalid(f"неизвестная страна {code!r}; можно: {', '.join(COUNTRIES)}")
        if code not in out:
            out.append(code)
    return out


def check_tags(values: list[str]) -> list[str]:
    out: list[str] = []
    for tag in values:
        tag = " ".join(tag.split())
        if not tag:
            continue
        if len(tag) > 60:
            raise invalid("метка — не длиннее 60 символов")
        if tag.casefold() not in {t.casefold() for t in out}:
            out.append(tag)
    if len(out) > MAX_TAGS:
        raise invalid(f"не больше {MAX_TAGS} меток")
    return out


def check_http_url(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise invalid("нужен адрес http(s)")
    return value


def check_moment(value: datetime) -> datetime:
    """A date-time with an offset, from 1900 to 2199, in UTC (a year like 9999 with a negative
    offset is past what a datetime holds once in UTC)."""
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not 1900 <= utc.year <= 2199:
        raise invalid("дата и время — с 1900 по 2199 год")
    return utc


Moment = Annotated[AwareDatetime, AfterValidator(check_moment)]


# --- auth and editors --------------------------------------------------------------------------


class LoginIn(_In):
    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=1024)


class EditorOut(_Out):
    editor_id: str
    email: str
    name: str
    role: Role
    active: bool
    created_at: datetime


class TokenOut(_Out):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the token scheme
    expires_in: int
    editor: EditorOut


class MeOut(_Out):
    editor_id: str
    name: str
    role: Role


class EditorIn(_In):
    email: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    name: str = Field(min_length=1, max_length=200)
    role: Role
    password: str = Field(min_length=10, max_length=1024)


class EditorList(_Out):
    items: list[EditorOut]


# --- articles -----------------------------------------------------------------------------------


class ImageIn(_In):
    """An image: ``url`` (http(s)) or ``media_id`` of an uploaded image (its URL is filled in)."""

    url: str | None = Field(default=None, max_length=2000)
    media_id: str | None = Field(default=None, max_length=64)
    credit: str | None = Field(default=None, max_length=300)  # "Фото: пресс-служба МИД РТ"
    alt: str | None = Field(default=None, max_length=500)

    @field_validator("url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        return check_http_url(v)

    @model_validator(mode="after")
    def _url_or_media(self) -> "ImageIn":
        if not self.url and not self.media_id:
            raise invalid("у изображения должен быть url или media_id")
        return self


class ArticleChecks(BaseModel):
    """The checks of an article's countries, tags and source link, wherever they come from (the
    API's bodies, an import's lines); each model declares those fields itself."""

    @field_validator("countries", check_fields=False)
    @classmethod
    def _countries(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else check_countries(v)

    @field_validator("tags", check_fields=False)
    @classmethod
    def _tags(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else check_tags(v)

    @field_validator("source_url", check_fields=False)
    @classmethod
    def _source_url(cls, v: str | None) -> str | None:
        return check_http_url(v)


class ArticleFields(_In, ArticleChecks):
    """Fields shared by create (all given) and patch (only those given change)."""

    lead: str | None = Field(default=None, max_length=2000)
    body_html: str | None = Field(default=None, max_length=1_000_000)
    body_markdown: str | None = Field(default=None, max_length=1_000_000)
    countries: list[str] | None = None
    tags: list[str] | None = None
    image: ImageIn | None = None
    source: str | None = Field(default=None, max_length=300)
    source_url: str | None = Field(default=None, max_length=2000)
    author: str | None = Field(default=None, max_length=300)

    @model_validator(mode="after")
    def _one_body(self) -> "ArticleFields":
        if self.body_html is not None and self.body_markdown is not None:
            raise invalid("пришлите body_html или body_markdown, не оба")
        return self


class ArticleIn(ArticleFields):
    """A new article, or the full content of one (PUT)."""

    title: str = Field(min_length=1, max_length=300)


class ArticlePatch(ArticleFields):
    """A partial edit: only the fields present change; ``null`` clears a nullable field."""

    title: str | None = Field(default=None, min_length=1, max_length=300)

    @model_validator(mode="after")
    def _something(self) -> "ArticlePatch":
        if not self.model_fields_set:
            raise invalid("пришлите хотя бы одно поле, которое меняется")
        if "title" in self.model_fields_set and self.title is None:
            raise invalid("заголовок не может быть пустым (null)")
        return self


class ScheduleIn(_In):
    publish_at: Moment


class CorrectionIn(_In):
    note: str = Field(min_length=1, max_length=2000)  # public: shown under the article
    changes: ArticlePatch | None = None


class FeatureIn(_In):
    """``country`` null: the site-wide news of the day; a code: that country section's."""

    country: str | None = None

    @field_validator("country")
    @classmethod
    def _country(cls, v: str | None) -> str | None:
        return None if v is None else check_countries([v])[0]


class ImageOut(Image):
    """An article's image: its URL (our own ``/media/...`` for an uploaded one) and caption."""


class CorrectionOut(CorrectionNote):
    """A public correction note under the article."""


class _ArticleHead(_Out):
    """What an article's list entry and its full view both begin with."""

    article_id: str
    status: ArticleStatus
    version: int
    slug: str


class ArticleOut(_ArticleHead):
    url: str | None = None  # the public address, once published
    title: str
    lead: str
    body_html: str
    body_markdown: str | None = None
    countries: list[str]
    tags: list[str]
    image: ImageOut | None = None
    source: str | None = None
    source_url: str | None = None
    author: str | None = None
    featured: bool = False
    featured_countries: list[str] = []
    corrections: list[CorrectionOut] = []
    publish_at: datetime | None = None
    published_at: datetime | None = None
    unpublished_at: datetime | None = None
    created_at: datetime
    updated_at: datetime
    created_by: EditorRef
    owner_id: str | None = None
    submission_id: str | None = None


class ArticleSummary(_ArticleHead):
    title: str
    countries: list[str]
    featured: bool = False
    publish_at: datetime | None = None
    published_at: datetime | None = None
    updated_at: datetime
    owner_id: str | None = None


class ArticleList(_Paged):
    items: list[ArticleSummary]  # total, when not exact: how many were found, and there are more
    exact: bool = True


class RevisionOut(_Out):
    version: int
    at: datetime
    by: EditorRef
    action: str
    changed: list[str]
    restored_from: int | None = None


class RevisionList(_Out):
    article_id: str
    items: list[RevisionOut]


class VersionState(_Out):
    article_id: str
    version: int
    fields: dict[str, Any]


class FieldDiffOut(_Out):
    field: str
    before: Any = None
    after: Any = None
    unified: str | None = None


class DiffOut(_Out):
    article_id: str
    from_version: int
    to_version: int
    fields: list[FieldDiffOut]


class FeaturedOut(_Out):
    site: str | None = None
    countries: dict[str, str] = {}


# --- inbox --------------------------------------------------------------------------------------


class ContactOut(Contact):  # the reporter's contact as the event carried it, opened for editors
    pass


class AttachmentOut(_Out):
    attachment_id: str
    content_type: str
    size: int
    width: int
    height: int


class _TipOut(_Out):
    """What a tip's list entry and its full view both begin with."""

    submission_id: str
    status: SubmissionStatus
    version: int
    title: str


class InboxItemOut(_TipOut):
    text: str
    country: str
    location: str | None = None
    anonymous: bool
    contact: ContactOut | None = None
    attachments: list[AttachmentOut] = []
    received_at: datetime
    reviewed_at: datetime | None = None
    reviewed_by: EditorRef | None = None
    public_reason: str | None = None
    article_id: str | None = None


class InboxSummary(_TipOut):
    excerpt: str
    country: str
    attachments: int
    received_at: datetime
    article_id: str | None = None


class InboxList(_Paged):
    items: list[InboxSummary]


class RejectIn(_In):
    public_reason: str = Field(min_length=1, max_length=1000)  # shown to the reporter


class AcceptOut(_Out):
    submission: InboxItemOut
    article: ArticleOut


# --- media and audit ------------------------------------------------------------------------------


class MediaSizeOut(_Out):
    """One re-encoded size of an image, for ``srcset``."""

    url: str
    width: int
    height: int
    media_type: str


class MediaOut(_Out):
    media_id: str
    url: str  # the whole image, re-encoded without its metadata
    width: int
    height: int
    content_type: str
    size: int
    variants: list[MediaSizeOut] = []


class MediaUpload(BaseModel):
    """multipart/form-data with the image in the field ``file`` (or send the raw bytes with
    ``Content-Type: image/jpeg``, ``image/png`` or ``image/webp``)."""

    file: bytes


class AuditEntryOut(_Out):
    audit_id: str
    at: datetime
    editor: EditorRef
    role: str
    action: str
    target_type: str
    target_id: str
    detail: dict[str, Any] = {}


class AuditList(_Paged):
    items: list[AuditEntryOut]


# --- readers' comments (moderation) ---------------------------------------------------------------

CommentStatusName = Literal["pending", "approved", "rejected", "spam"]


class CommentSummary(_Out):
    comment_id: str
    article_id: str
    parent_id: str | None = None
    name: str  # plain text, as the reader typed it
    text: str  # plain text as readers see it (after any passage edited out)
    edited: bool
    status: CommentStatusName
    public: bool = Field(description="readers see it now")
    reason: str | None = Field(None, description="why it was rejected on arrival, if it was")
    version: int
    client_tag: str = Field(description="the start of the author's address hash")
    submitted_at: datetime
    moderated_at: datetime | None = None
    moderated_by: EditorRef | None = None


class CommentOut(CommentSummary):
    original_text: str  # as the reader wrote it (editors only; never published)
    published_at: datetime | None = None


class CommentList(_Paged):
    items: list[CommentSummary]
    counts: dict[str, int] = Field(description="comments in each status (of the article)")


class EditOutIn(_In):
    passage: str = Field(min_length=1, max_length=5000, description="the text to take out")


class BulkApproveIn(_In):
    comment_ids: list[str] = Field(min_length=1, max_length=200)


class BulkOutcomeOut(_Out):
    comment_id: str
    status: CommentStatusName | None
    error: str | None = None


class BulkApproveOut(_Out):
    items: list[BulkOutcomeOut]


class BlockIn(_In):
    hours: int = Field(ge=1, le=24 * 365, description="how long later comments are rejected")


class BlockOut(_Out):
    client_hash: str
    until: datetime
    comment_id: str | None = None
    name: str | None = None
    by: EditorRef | None = None


class BlockList(_Out):
    items: list[BlockOut]


class CommentsOpenOut(_Out):
    article_id: str
    comments_open: bool
