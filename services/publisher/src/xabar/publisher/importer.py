"""``import-articles FILE.jsonl``: create and publish articles in bulk, idempotent by import key.

Each line is a JSON object::

    {"import_key": "site:123",            # required, unique: a second run skips it
     "title": "...", "lead": "...",
     "body_html": "<p>...</p>"            # or "body_markdown": "..." (one of them, not empty)
     "countries": ["KZ"], "tags": ["..."],
     "published_at": "2013-09-24T16:37:00+06:00",   # ISO 8601 with offset
     "featured": false,                    # the latest featured line becomes the news of the day
     "image": {"url": "https://...", "credit": "Фото: ...", "alt": "..."} or null,
     "image_path": "/path/photo.jpg",      # optional: stored in our media store, used as the image
     "source": "...", "source_url": "https://...", "author": "..."}

Articles are built by ``ArticleService.imported`` (the same content rules, version, revision and
``article.published`` event as the API) and inserted a batch at a time, each with its event in its
own outbox (``ArticleRepository.insert_published``); the events are relayed right after each
batch. The article id is
derived from the import key, so a line imported before (or by a run that crashed) is skipped.
"""

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from xabar.contracts import Event
from xabar.publisher.app import Publisher
from xabar.publisher.articles import IMPORTER, article_id_for
from xabar.publisher.content import allocate, base_slug
from xabar.publisher.domain import Article, Doc
from xabar.publisher.errors import ImportFailed, PublisherError
from xabar.publisher.media import media_id_for
from xabar.publisher.schemas import ArticleChecks, Moment, check_http_url, invalid

log = logging.getLogger("xabar.publisher.importer")

Progress = Callable[[int], None]


class ImportImage(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    url: str | None = None
    credit: str | None = Field(default=None, max_length=300)
    alt: str | None = Field(default=None, max_length=500)

    @field_validator("url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        return check_http_url(v)


class ImportLine(ArticleChecks):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    import_key: str = Field(min_length=1, max_length=300)
    title: str = Field(min_length=1, max_length=300)
    lead: str = Field(default="", max_length=2000)
    body_html: str | None = Field(default=None, max_length=1_000_000)
    body_markdown: str | None = Field(default=None, max_length=1_000_000)
    countries: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    published_at: Moment
    featured: bool = False
    image: ImportImage | None = None
    image_path: str | None = None
    source: str | None = Field(default=None, max_length=300)
    source_url: str | None = Field(default=None, max_length=2000)
    author: str | None = Field(default=None, max_length=300)

    @model_validator(mode="after")
    def _body(self) -> "ImportLine":
        if self.body_html and self.body_markdown:
            raise invalid("нужен body_html или body_markdown, не оба")
        if not (self.body_html or self.body_markdown):
            raise invalid("у опубликованной статьи должен быть body_html или body_markdown")
        return self

    def given(self) -> Doc:
        out: Doc = {
            "title": self.title,
            "lead": self.lead,
            "countries": self.countries,
            "tags": self.tags,
            "source": self.source,
            "source_url": self.source_url,
            "author": self.author,
        }
        if self.body_markdown:
            out["body_markdown"] = self.body_markdown
        else:
            out["body_html"] = self.body_html
        if self.image is not None and self.image.url:
            out["image"] = self.image.model_dump()
        return out


@dataclass
class ImportReport:
    lines: int = 0
    created: int = 0
    existing: int = 0
    events: int = 0
    invalid: list[tuple[int, str]] = field(default_factory=list)
    featured: str | None = None


def read_lines(path: Path, report: ImportReport) -> list[ImportLine]:
    """The valid lines of ``path``; invalid ones are listed in the report with their number."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportFailed(f"cannot read {path}: {exc}") from exc
    out: list[ImportLine] = []
    seen: set[str] = set()
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        report.lines += 1
        try:
            line = ImportLine.model_validate(json.loads(raw))
        except json.JSONDecodeError as exc:
            report.invalid.append((number, f"not JSON: {exc.msg}"))
            continue
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'line'}: {e['msg']}"
                for e in exc.errors(include_url=False)
            )
            report.invalid.append((number, problems))
            continue
        if line.import_key in seen:
            report.invalid.append((number, f"import_key {line.import_key!r} repeats in the file"))
            continue
        seen.add(line.import_key)
        out.append(line)
    return out


async def import_articles(
    parts: Publisher,
    path: Path,
    *,
    batch_size: int = 500,
    progress: Progress | None = None,
) -> ImportReport:
    report = ImportReport()
    lines = read_lines(path, report)
    # Events a previous run stored but did not get to relay (it was stopped midway).
    report.events += await parts.article_relay.sweep_markers()
    existing_ids = await parts.repos.articles.ids()
    todo: list[tuple[str, ImportLine]] = []
    for line in lines:
        article_id = article_id_for(f"import:{line.import_key}")
        if article_id in existing_ids:
            report.existing += 1
        else:
            todo.append((article_id, line))
    if progress is not None and report.existing:
        progress(report.existing)
    claims, counters = await parts.articles.slugs.snapshot()
    owned = {article_id: slug for slug, article_id in claims.items()}
    touched: dict[str, int] = {}
    newest_featured: tuple[Any, str] | None = None
    for start in range(0, len(todo), batch_size):
        batch = todo[start : start + batch_size]
        created = await _import_batch(parts, batch, claims, counters, owned, touched, report)
        for article_id, line in batch:
            if (
                line.featured
                and article_id in created
                and (newest_featured is None or line.published_at > newest_featured[0])
            ):
                newest_featured = (line.published_at, article_id)
        if progress is not None:
            progress(len(batch))
    await parts.articles.slugs.raise_counters(touched)
    if newest_featured is not None:
        await parts.articles.feature(IMPORTER, newest_featured[1])
        report.featured = newest_featured[1]
        report.events += await parts.article_relay.sweep_markers()  # its article.updated
    await parts.repos.audit.record(
        IMPORTER,
        "article.import",
        "file",
        path.name,
        lines=report.lines,
        created=report.created,
        existing=report.existing,
        invalid=len(report.invalid),
    )
    return report


async def _import_batch(
    parts: Publisher,
    batch: list[tuple[str, ImportLine]],
    claims: dict[str, str],
    counters: dict[str, int],
    owned: dict[str, str],
    touched: dict[str, int],
    report: ImportReport,
) -> set[str]:
    slugs = parts.articles.slugs
    wanted: dict[str, str] = {}
    slug_of: dict[str, str] = {}
    for article_id, line in batch:
        if article_id in owned:
            slug_of[article_id] = owned[article_id]  # claimed by a run that stopped midway
            continue
        base = base_slug(line.title)
        slug = allocate(base, article_id, claims, counters)
        if base in counters:
            touched[base] = counters[base]
        wanted[slug] = article_id
        slug_of[article_id] = slug
    for lost in await slugs.claim_many(wanted):
        line = next(line for a, line in batch if a == lost)
        slug_of[lost] = await slugs.claim(base_slug(line.title), lost)
    items: list[tuple[Article, Event]] = []
    for article_id, line in batch:
        try:
            image = await _stored_image(parts, line)
            item = await parts.articles.imported(
                article_id=article_id,
                slug=slug_of[article_id],
                given=line.given(),
                published_at=line.published_at,
                import_key=line.import_key,
                image=image,
            )
        except PublisherError as exc:
            report.invalid.append((0, f"{line.import_key}: {exc.message}"))
            continue
        items.append(item)
    inserted, sent = await parts.repos.articles.insert_published(items)
    report.created += len(inserted)
    report.existing += len(items) - len(inserted)
    report.events += sent
    return {a.article_id for a in inserted}


async def _stored_image(parts: Publisher, line: ImportLine) -> Doc | None:
    if not line.image_path:
        return None
    path = Path(line.image_path)
    try:
        data = await asyncio.to_thread(path.read_bytes)
    except OSError as exc:
        raise ImportFailed(f"cannot read image_path {path}: {exc.strerror}") from exc
    stored = await parts.repos.media.put(
        data,
        media_id=media_id_for(f"import:{line.import_key}"),
        filename=path.name,
        source="import",
        import_key=line.import_key,
    )
    credit = line.image.credit if line.image else None
    alt = line.image.alt if line.image else None
    return {"credit": credit, "alt": alt, **parts.articles.image_of(stored)}
