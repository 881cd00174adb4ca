"""What the read model stores: sanitized copies of the public state the events carry.

The documents are built from events (``*_doc`` functions) on the way in, stored as JSON in Redis,
and read back with ``model_validate_json``. They are the feed's own shapes: a new contract version
changes the builders here, and a ``rebuild`` re-projects everything.
"""

import zlib
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from xabar.contracts import (
    COUNTRIES,
    ArticleState,
    CountryProfile,
    PollState,
    PollTally,
    PublicComment,
)
from xabar.feed.sanitize import clean_html, clean_text, safe_url

# An article's document is stored zlib-compressed in the read model (``a``): its body is most of
# its bytes, and the read model is one slot of a cluster (``docs/redis-keys.md``). The scripts
# never look inside it (what they need rides in the event's header); readers unpack it. A
# document stored before (plain JSON, which begins with "{", as no zlib stream does) reads as is.
ARTICLE_ZLIB_LEVEL = 6


def pack_article(doc_json: bytes) -> bytes:
    return zlib.compress(doc_json, ARTICLE_ZLIB_LEVEL)


def unpack_article(raw: bytes | str) -> bytes | str:
    if isinstance(raw, str) or raw[:1] == b"{":
        return raw
    return zlib.decompress(raw)


class _Doc(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class VariantDoc(_Doc):
    url: str
    width: int
    height: int
    media_type: str


class ImageDoc(_Doc):
    url: str
    credit: str | None = None
    alt: str | None = None
    width: int | None = None
    height: int | None = None
    variants: tuple[VariantDoc, ...] = ()


class CorrectionDoc(_Doc):
    note: str
    corrected_at: datetime


class ArticleDoc(_Doc):
    article_id: str
    version: int
    slug: str
    title: str
    lead: str
    body_html: str
    countries: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    image: ImageDoc | None = None
    source: str | None = None
    source_url: str | None = None
    author: str | None = None
    featured: bool = False
    featured_countries: tuple[str, ...] = ()
    comment_count: int = 0  # on reads: the approved comments the read model holds
    comments_open: bool = True
    corrections: tuple[CorrectionDoc, ...] = ()
    published_at: datetime
    updated_at: datetime


class PollOptionDoc(_Doc):
    option_id: str
    text: str


class PollDoc(_Doc):
    poll_id: str
    version: int
    question: str
    options: tuple[PollOptionDoc, ...]
    multiple: bool = False
    results_visibility: Literal["always", "after_vote", "after_close"] = "always"
    opens_at: datetime
    closes_at: datetime | None = None
    closed_at: datetime | None = None
    countries: tuple[str, ...] = ()
    front_page: bool = True
    article_ids: tuple[str, ...] = ()


class FactDoc(_Doc):
    label: str
    value: str


class CountryProfileDoc(_Doc):
    country: str
    version: int
    title: str
    lead: str
    body_html: str = ""
    facts: tuple[FactDoc, ...] = ()
    updated_at: datetime


class CommentDoc(_Doc):
    """An approved comment as readers see it: plain text (the pages escape it)."""

    comment_id: str
    version: int
    article_id: str
    parent_id: str | None = None
    name: str
    text: str
    edited: bool = False
    published_at: datetime


class TallyDoc(_Doc):
    poll_id: str
    version: int
    counts: dict[str, int]
    percentages: dict[str, int]
    total_votes: int
    tallied_at: datetime


def _opt(value: str | None) -> str | None:
    if value is None:
        return None
    cleaned = clean_text(value).strip()
    return cleaned or None


def known_countries(codes: tuple[str, ...]) -> tuple[str, ...]:
    """The codes that name a section of the portal, in order, without repeats."""
    if len(codes) == 1:  # the usual case
        return codes if codes[0] in COUNTRIES else ()
    return tuple(dict.fromkeys(c for c in codes if c in COUNTRIES))


def article_fields(state: ArticleState, version: int) -> dict[str, Any]:
    """The ``ArticleDoc`` of ``state`` as plain values, in the model's field order: what the
    projector serializes with ``pydantic_core.to_json`` (the same JSON as the model's, without
    building and re-validating a model per event on the hot path; a test keeps them equal)."""
    image: dict[str, Any] | None = None
    if state.image is not None and (url := safe_url(state.image.url)) is not None:
        image = {
            "url": url,
            "credit": _opt(state.image.credit),
            "alt": _opt(state.image.alt),
            "width": state.image.width,
            "height": state.image.height,
            "variants": tuple(
                {"url": v_url, "width": v.width, "height": v.height, "media_type": v.media_type}
                for v in state.image.variants
                if (v_url := safe_url(v.url)) is not None
            ),
        }
    return {
        "article_id": state.article_id,
        "version": version,
        "slug": clean_text(state.slug),
        "title": clean_text(state.title),
        "lead": clean_text(state.lead),
        "body_html": clean_html(state.body_html),
        "countries": known_countries(state.countries),
        "tags": tuple(t for t in (clean_text(t).strip() for t in state.tags) if t),
        "image": image,
        "source": _opt(state.source),
        "source_url": safe_url(state.source_url),
        "author": _opt(state.author),
        "featured": state.featured,
        "featured_countries": known_countries(state.featured_countries),
        "comment_count": state.comment_count,
        "comments_open": state.comments_open,
        "corrections": tuple(
            {"note": clean_text(c.note), "corrected_at": c.corrected_at} for c in state.corrections
        ),
        "published_at": state.published_at,
        "updated_at": state.updated_at,
    }


def article_doc(state: ArticleState, version: int) -> ArticleDoc:
    return ArticleDoc.model_validate(article_fields(state, version))


def poll_doc(state: PollState, version: int) -> PollDoc:
    return PollDoc(
        poll_id=state.poll_id,
        version=version,
        question=clean_text(state.question),
        options=tuple(
            PollOptionDoc(option_id=clean_text(o.option_id), text=clean_text(o.text))
            for o in state.options
        ),
        multiple=state.multiple,
        results_visibility=state.results_visibility,
        opens_at=state.opens_at,
        closes_at=state.closes_at,
        closed_at=state.closed_at,
        countries=known_countries(state.countries),
        front_page=state.front_page,
        article_ids=tuple(dict.fromkeys(clean_text(a) for a in state.article_ids if a)),
    )


def tally_doc(tally: PollTally, version: int) -> TallyDoc:
    return TallyDoc(
        poll_id=tally.poll_id,
        version=version,
        counts=dict(tally.counts),
        percentages=dict(tally.percentages),
        total_votes=tally.total_votes,
        tallied_at=tally.tallied_at,
    )


def profile_doc(profile: CountryProfile, version: int) -> CountryProfileDoc | None:
    """The profile of a section of the portal; None for a country the portal has no section of."""
    if profile.country not in COUNTRIES:
        return None
    return CountryProfileDoc(
        country=profile.country,
        version=version,
        title=clean_text(profile.title),
        lead=clean_text(profile.lead),
        body_html=clean_html(profile.body_html),
        facts=tuple(
            FactDoc(label=clean_text(f.label), value=clean_text(f.value)) for f in profile.facts
        ),
        updated_at=profile.updated_at,
    )


MAX_ID = 200
MAX_NAME = 200  # ingest takes 60: the read model's own bound, in case another producer comes
MAX_TEXT = 20_000  # ingest takes 3,000


def checked_id(value: str, what: str) -> str:
    """An id the read model can key on: 1 to 200 printable characters (so none of the APPLY
    script's separators). Anything else is no producer's id: the event fails and goes to the
    dead letters, rather than being stored under an id it did not have."""
    if not 0 < len(value) <= MAX_ID or not value.isprintable():
        raise ValueError(f"unusable {what} {value[:40]!r}")
    return value


def comment_doc(comment: PublicComment, version: int) -> CommentDoc:
    parent = comment.parent_id or None
    return CommentDoc(
        comment_id=checked_id(comment.comment_id, "comment id"),
        version=version,
        article_id=checked_id(comment.article_id, "article id"),
        parent_id=checked_id(parent, "parent id") if parent else None,
        name=clean_text(comment.name).strip()[:MAX_NAME] or "Читатель",
        text=clean_text(comment.text).strip()[:MAX_TEXT],
        edited=comment.edited,
        published_at=comment.published_at,
    )
