"""Articles: create, edit, the workflow, corrections, revisions, news of the day, scheduling.

Every change is made holding the article's lock (``xabar.runtime.locks``: FerretDB does not apply
concurrent updates of one document atomically), on the article as read under that lock, and is
ONE single-document update::

    {"_id": id}  ->  $set the change and "version": v + 1,
                     $push its revision (and the events it causes, to the outbox)

so the change, its revision and its events are stored together or not at all, and a change based
on a version the client no longer has is refused (409). The filter is ``_id`` alone because
FerretDB pushes a filter down only when it is exactly that; the lock makes it a compare-and-set.
Events are published by the relay; an article is public once ``article.published`` is stored
with it. After each write the editors' list index is updated (``index``).
"""

import logging
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo.errors import DuplicateKeyError

from xabar.contracts import (
    COUNTRIES,
    Event,
    SubmissionReview,
    SubmissionReviewed,
    SubmissionStatus,
)
from xabar.publisher.audit import AuditLog
from xabar.publisher.config import PublisherSettings
from xabar.publisher.content import base_slug, render_markdown, sanitize_html, text_to_html
from xabar.publisher.domain import (
    CONTENT_FIELDS,
    PRODUCER,
    ArticleStatus,
    Doc,
    check_can_edit,
    check_publishable,
    check_transition,
    diff_states,
    ms,
    published_event,
    revision,
    state_at,
    unpublished_event,
    updated_event,
    utcnow,
)
from xabar.publisher.errors import (
    InvalidInput,
    InvalidTransition,
    NotFound,
    VersionConflict,
)
from xabar.publisher.index import ArticleIndex
from xabar.publisher.media import MediaStore, StoredMedia
from xabar.publisher.relay import MarkedRelay
from xabar.publisher.repository import Collections, upsert
from xabar.publisher.slugs import SlugRegistry
from xabar.runtime.auth import Principal, Role
from xabar.runtime.logs import correlation_id_var
from xabar.runtime.outbox import outbox_entry

log = logging.getLogger("xabar.publisher.articles")

ARTICLE_NAMESPACE = uuid.UUID("2b0f6c1e-8f7a-4c43-9a55-0d6f2a1e9b37")
SCHEDULER = Principal("system:scheduler", "Планировщик публикаций", Role.CHIEF)
SYSTEM = Principal("system", "Xabar", Role.CHIEF)
IMPORTER = Principal("system:import", "Импорт", Role.CHIEF)
REPORTER_SOURCE = "Народный репортер"


def article_id_for(key: str) -> str:
    """A stable article id (accepted tips, imports): a retry never makes a second article."""
    return uuid.uuid5(ARTICLE_NAMESPACE, key).hex


def featured_key(country: str | None) -> str:
    return "site" if country is None else f"country:{country}"


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Doc]
    total: int
    page: int
    per_page: int


@dataclass(frozen=True, slots=True)
class Published:
    """A publication as stored, and what is left to do once the article's lock is released."""

    doc: Doc
    was_scheduled: bool
    tip_version: int | None  # the tip's version the publication's review event followed


class ArticleService:
    def __init__(
        self,
        collections: Collections,
        relay: MarkedRelay,
        media: MediaStore,
        audit: AuditLog,
        settings: PublisherSettings,
        index: ArticleIndex,
    ) -> None:
        self.cols = collections
        self.articles = collections.articles
        self.relay = relay
        self.media = media
        self.audit = audit
        self.settings = settings
        self.index = index
        self.locks = relay.doc_locks
        self.slugs = SlugRegistry(collections)

    # --- reads ------------------------------------------------------------------------------------

    async def get(self, article_id: str) -> Doc:
        doc = await self.articles.find_one({"_id": article_id})
        if doc is None:
            raise NotFound("no such article")
        return doc

    @asynccontextmanager
    async def _locked(self, article_id: str) -> AsyncIterator[Doc]:
        """The article as read while holding its lock; every write happens inside this."""
        async with self.locks.hold(self.relay.lock_key(article_id)):
            yield await self.get(article_id)

    async def search(
        self,
        *,
        status: str | None = None,
        country: str | None = None,
        owner_id: str | None = None,
        query: str | None = None,
        page: int = 1,
        per_page: int = 50,
    ) -> Page:
        """Newest change first, from the Redis index (see ``index``)."""
        items, total = await self.index.search(
            status=status,
            country=country,
            owner_id=owner_id,
            query=query,
            page=page,
            per_page=per_page,
        )
        return Page(items, total, page, per_page)

    async def revisions(self, article_id: str) -> list[Doc]:
        doc = await self.get(article_id)
        return sorted(doc.get("revisions") or [], key=lambda r: int(r["version"]))

    async def version(self, article_id: str, version: int) -> Doc:
        return state_at(await self.get(article_id), version)

    async def diff(self, article_id: str, from_version: int, to_version: int) -> list[Doc]:
        doc = await self.get(article_id)
        return diff_states(state_at(doc, from_version), state_at(doc, to_version))

    async def featured(self) -> dict[str, str | None]:
        rows = await self.cols.featured.find({}).to_list(None)
        return {r["_id"]: r.get("article_id") for r in rows}

    # --- content ----------------------------------------------------------------------------------

    async def content_changes(self, doc: Doc, given: Doc, *, full: bool = False) -> Doc:
        """The stored fields a create/edit body changes. ``given``: the fields sent (for a PATCH,
        only those present); ``full``: every content field is set (absent ones to defaults)."""
        out: Doc = {}
        if "title" in given:
            out["title"] = given["title"].strip()
        if "lead" in given or full:
            out["lead"] = (given.get("lead") or "").strip()
        if given.get("body_markdown") is not None:
            out["body_markdown"] = given["body_markdown"]
            out["body_html"] = render_markdown(given["body_markdown"])
        elif "body_html" in given or full:
            out["body_html"] = sanitize_html(given.get("body_html") or "")
            out["body_markdown"] = None
        elif "body_markdown" in given:
            out["body_markdown"] = None  # keep the HTML, forget its Markdown source
        for name in ("countries", "tags"):
            if name in given or full:
                out[name] = list(given.get(name) or [])
        if "image" in given or full:
            out["image"] = await self.resolve_image(given.get("image"))
        for name in ("source", "source_url", "author"):
            if name in given or full:
                out[name] = (given.get(name) or "").strip() or None
        return {k: v for k, v in out.items() if doc.get(k) != v}

    async def resolve_image(self, image: Doc | None) -> Doc | None:
        if not image:
            return None
        out: Doc = {"credit": image.get("credit") or None, "alt": image.get("alt") or None}
        media_id = image.get("media_id")
        if media_id:
            stored = await self.media.get_meta(media_id)
            if stored is None:
                raise InvalidInput(f"no uploaded media with the id {media_id}")
            out |= self.image_of(stored)
        else:
            out |= {"url": image["url"], "media_id": None, "width": None, "height": None}
        return out

    def image_of(self, stored: StoredMedia) -> Doc:
        return {
            "url": self.settings.media_url(stored.media_id),
            "media_id": stored.media_id,
            "width": stored.width,
            "height": stored.height,
        }

    # --- create and edit --------------------------------------------------------------------------

    def new_document(
        self,
        *,
        article_id: str,
        slug: str,
        by: Principal,
        content: Doc,
        now: datetime,
        owner_id: str | None,
        submission_id: str | None = None,
        import_key: str | None = None,
    ) -> Doc:
        doc: Doc = {
            "_id": article_id,
            "status": ArticleStatus.DRAFT.value,
            "version": 1,
            "slug": slug,
            "slug_locked": False,
            "title": "",
            "lead": "",
            "body_html": "",
            "body_markdown": None,
            "countries": [],
            "tags": [],
            "image": None,
            "source": None,
            "source_url": None,
            "author": None,
            "featured": False,
            "featured_countries": [],
            "corrections": [],
            "comment_count": 0,
            "publish_at": None,
            "published_at": None,
            "unpublished_at": None,
            "created_at": now,
            "updated_at": now,
            "created_by": {"id": by.editor_id, "name": by.name},
            "owner_id": owner_id,
            "submission_id": submission_id,
            "submission_notified": False,
            "import_key": import_key,
            "revisions": [],
            "outbox": [],
        }
        doc.update(content)
        return doc

    async def imported_document(
        self,
        *,
        article_id: str,
        slug: str,
        given: Doc,
        published_at: datetime,
        import_key: str,
        image: Doc | None = None,
    ) -> Doc:
        """A published article as an import creates it: version 1, its revision, and
        ``article.published`` in its outbox (the caller inserts it; the relay sends it)."""
        content = await self.content_changes({}, given, full=True)
        if image is not None:
            content["image"] = image
        now = utcnow()
        published_at = ms(published_at)
        doc = self.new_document(
            article_id=article_id,
            slug=slug,
            by=IMPORTER,
            content=content,
            now=now,
            owner_id=None,
            import_key=import_key,
        )
        doc |= {
            "status": ArticleStatus.PUBLISHED.value,
            "slug_locked": True,
            "published_at": published_at,
            "updated_at": published_at,
        }
        check_publishable(doc)
        tracked = {f: doc[f] for f in (*CONTENT_FIELDS, "status", "slug")}
        doc["revisions"] = [revision(1, now, IMPORTER, "import", {}, tracked)]
        doc["outbox"] = [outbox_entry(published_event(doc, correlation_id_var.get()))]
        return doc

    async def create(
        self,
        by: Principal,
        given: Doc,
        *,
        article_id: str | None = None,
        submission_id: str | None = None,
    ) -> Doc:
        article_id = article_id or uuid.uuid4().hex
        content = await self.content_changes({}, given, full=True)
        slug = await self.slugs.claim(base_slug(content["title"]), article_id)
        now = utcnow()
        doc = self.new_document(
            article_id=article_id,
            slug=slug,
            by=by,
            content=content,
            now=now,
            owner_id=by.editor_id,
            submission_id=submission_id,
        )
        doc["revisions"] = [
            revision(1, now, by, "create", {}, {f: doc[f] for f in (*CONTENT_FIELDS, "status")})
        ]
        try:
            await self.articles.insert_one(doc)
        except DuplicateKeyError:
            existing = await self.get(article_id)
            if submission_id is None or existing.get("submission_id") != submission_id:
                raise
            return existing
        await self.index.put(doc)
        await self.audit.record(by, "article.create", "article", article_id, title=doc["title"])
        return doc

    async def edit(
        self,
        by: Principal,
        article_id: str,
        given: Doc,
        expected_version: int,
        *,
        full: bool = False,
    ) -> Doc:
        async with self._locked(article_id) as doc:
            check_can_edit(by, doc)
            self._check_version(doc, expected_version)
            changes = await self.content_changes(doc, given, full=full)
            return await self._apply_edit(by, doc, changes, action="edit")

    async def restore(
        self, by: Principal, article_id: str, version: int, expected_version: int
    ) -> Doc:
        async with self._locked(article_id) as doc:
            check_can_edit(by, doc)
            self._check_version(doc, expected_version)
            old = state_at(doc, version)
            changes = {f: old.get(f) for f in CONTENT_FIELDS if doc.get(f) != old.get(f)}
            return await self._apply_edit(by, doc, changes, action="restore", restored_from=version)

    async def correct(
        self, by: Principal, article_id: str, note: str, given: Doc, expected_version: int
    ) -> Doc:
        async with self._locked(article_id) as doc:
            self._check_version(doc, expected_version)
            if doc["status"] != ArticleStatus.PUBLISHED:
                raise InvalidTransition("a correction is made to a published article")
            changes = await self.content_changes(doc, given)
            correction = {"note": note, "corrected_at": utcnow()}
            changes["corrections"] = [*doc.get("corrections", []), correction]
            return await self._apply_edit(by, doc, changes, action="correct", note=note)

    async def _apply_edit(
        self, by: Principal, doc: Doc, changes: Doc, action: str, **extra: Any
    ) -> Doc:
        if not changes:
            return doc
        new_slug: str | None = None
        if "title" in changes and not doc.get("slug_locked"):
            base = base_slug(changes["title"])
            if base != base_slug(doc["title"]):
                new_slug = await self.slugs.claim(base, doc["_id"])
                changes["slug"] = new_slug
        changes["updated_at"] = utcnow()
        published = doc["status"] == ArticleStatus.PUBLISHED
        try:
            new = await self._write(
                by, doc, changes, action=action, event="updated" if published else None, **extra
            )
        except Exception:
            if new_slug is not None:
                await self.slugs.release(new_slug, doc["_id"])
            raise
        if new_slug is not None and new_slug != doc["slug"]:
            await self.slugs.release(doc["slug"], doc["_id"])
        await self.audit.record(
            by, f"article.{action}", "article", doc["_id"], version=new["version"],
            changed=sorted(k for k in changes if k != "updated_at"), **extra,
        )  # fmt: skip
        return new

    # --- workflow ---------------------------------------------------------------------------------

    async def transition(
        self,
        by: Principal,
        article_id: str,
        action: str,
        *,
        expected_version: int | None = None,
        publish_at: datetime | None = None,
    ) -> Doc:
        published: Published | None = None
        async with self._locked(article_id) as doc:
            transition = check_transition(by, doc, action)
            if expected_version is not None:
                self._check_version(doc, expected_version)
            if action == "publish":
                published = await self._publish(by, doc)
                new = published.doc
            elif action == "schedule":
                new = await self._schedule(by, doc, publish_at)
            elif action == "unpublish":
                new = await self._unpublish(by, doc)
            else:
                changes: Doc = {"status": transition.target.value}
                if doc.get("publish_at") is not None:
                    changes["publish_at"] = None
                new = await self._write(by, doc, changes, action=action)
        # what touches other documents, once the article's lock is released
        if published is not None:
            await self._after_publish(published)
        elif doc["status"] == ArticleStatus.SCHEDULED and new["status"] != doc["status"]:
            await self.cols.schedule.delete_one({"_id": doc["_id"]})
        if action == "unpublish":
            for row in await self.cols.featured.find({}).to_list(None):
                if row.get("article_id") == doc["_id"]:
                    await self._choose_featured(row["_id"], None, by)
        detail: Doc = {"version": new["version"], "status": new["status"]}
        if publish_at is not None:
            detail["publish_at"] = publish_at.isoformat()
        await self.audit.record(by, f"article.{action}", "article", article_id, **detail)
        return new

    async def _schedule(self, by: Principal, doc: Doc, publish_at: datetime | None) -> Doc:
        if publish_at is None:
            raise InvalidInput("publish_at is required to schedule")
        publish_at = ms(publish_at)
        if publish_at <= utcnow():
            raise InvalidInput("publish_at is in the past; publish the article now instead")
        check_publishable(doc)
        # The index entry first: the scheduler reads it, then checks the article itself.
        await upsert(
            lambda: self.cols.schedule.update_one(
                {"_id": doc["_id"]}, {"$set": {"publish_at": publish_at}}, upsert=True
            )
        )
        changes = {"status": ArticleStatus.SCHEDULED.value, "publish_at": publish_at}
        return await self._write(by, doc, changes, action="schedule")

    async def _publish(self, by: Principal, doc: Doc, *, action: str = "publish") -> Published:
        """Publish ``doc`` (held under its lock). For an accepted tip's article, the first
        publication also carries ``submission.reviewed`` (published, with the article's URL)."""
        check_publishable(doc)
        now = utcnow()
        changes: Doc = {
            "status": ArticleStatus.PUBLISHED.value,
            "publish_at": None,
            "published_at": doc.get("published_at") or now,
            "updated_at": now,
            "unpublished_at": None,
            "slug_locked": True,
        }
        review: SubmissionReviewed | None = None
        tip_version: int | None = None
        if doc.get("submission_id") and not doc.get("submission_notified"):
            tip = await self.cols.inbox.find_one({"_id": doc["submission_id"]}, {"version": 1})
            if tip is not None:
                tip_version = int(tip["version"])
                review = SubmissionReviewed.create(
                    producer=PRODUCER,
                    correlation_id=correlation_id_var.get(),
                    aggregate_id=doc["submission_id"],
                    version=tip_version + 1,
                    data=SubmissionReview(
                        submission_id=doc["submission_id"],
                        status=SubmissionStatus.PUBLISHED,
                        article_url=self.settings.article_url(doc["slug"]),
                        article_id=str(doc["_id"]),
                        reviewed_at=now,
                    ),
                )
            changes["submission_notified"] = True
        new = await self._write(
            by,
            doc,
            changes,
            action=action,
            event="published",
            extra_events=[review] if review else [],
        )
        return Published(new, doc["status"] == ArticleStatus.SCHEDULED, tip_version)

    async def _after_publish(self, published: Published) -> None:
        doc = published.doc
        if published.was_scheduled:
            await self.cols.schedule.delete_one({"_id": doc["_id"]})
        if published.tip_version is None:
            return
        # The inbox's own copy of the status (the event itself is stored with the article).
        sid = doc["submission_id"]
        async with self.locks.hold(f"{self.cols.inbox.name}:{sid}"):
            tip = await self.cols.inbox.find_one({"_id": sid}, {"version": 1})
            if tip is None or tip["version"] != published.tip_version:
                return  # the tip moved on meanwhile; the event is stored regardless
            await self.cols.inbox.update_one(
                {"_id": sid},
                {
                    "$set": {
                        "status": SubmissionStatus.PUBLISHED.value,
                        "version": published.tip_version + 1,
                        "article_url": self.settings.article_url(doc["slug"]),
                        "updated_at": doc["updated_at"],
                    }
                },
            )

    async def _unpublish(self, by: Principal, doc: Doc) -> Doc:
        changes: Doc = {
            "status": ArticleStatus.UNPUBLISHED.value,
            "unpublished_at": utcnow(),
            "featured": False,
            "featured_countries": [],
        }
        return await self._write(by, doc, changes, action="unpublish", event="unpublished")

    # --- news of the day --------------------------------------------------------------------------

    async def feature(self, by: Principal, article_id: str, country: str | None = None) -> Doc:
        """Make a published article the news of the day (site-wide, or of a country section).
        The old one gets ``article.updated`` with the flag off, the new one with it on."""
        if country is not None and country not in COUNTRIES:
            raise InvalidInput(f"unknown country {country!r}")
        doc = await self.get(article_id)
        if doc["status"] != ArticleStatus.PUBLISHED:
            raise InvalidTransition("only a published article can be the news of the day")
        await self._choose_featured(featured_key(country), article_id, by)
        await self.audit.record(
            by, "article.feature", "article", article_id, scope=country or "site"
        )
        return await self.get(article_id)

    async def unfeature(self, by: Principal, article_id: str, country: str | None = None) -> Doc:
        key = featured_key(country)
        reg = await self.cols.featured.find_one({"_id": key})
        if reg is None or reg.get("article_id") != article_id:
            raise InvalidTransition("this article is not the news of the day here")
        await self._choose_featured(key, None, by, only_if=article_id)
        await self.audit.record(
            by, "article.unfeature", "article", article_id, scope=country or "site"
        )
        return await self.get(article_id)

    async def _choose_featured(
        self, key: str, article_id: str | None, by: Principal, only_if: str | None = None
    ) -> None:
        """Record the choice in the registry (``pending``), then bring the articles in line.
        Under the registry entry's lock, so choices are made one at a time (lock order: the
        registry entry, then an article; never the other way round)."""
        async with self.locks.hold(f"featured:{key}"):
            reg = await self.cols.featured.find_one({"_id": key}) or {}
            if only_if is not None and reg.get("article_id") != only_if:
                raise InvalidTransition("this article is not the news of the day here")
            if reg.get("article_id") != article_id or reg.get("pending"):
                previous = list(reg.get("previous_ids") or []) if reg.get("pending") else []
                if reg.get("article_id") and reg["article_id"] != article_id:
                    previous.append(reg["article_id"])
                entry = {"_id": key, "article_id": article_id, "previous_ids": previous,
                         "pending": True, "version": int(reg.get("version", 0)) + 1}  # fmt: skip
                await upsert(
                    lambda: self.cols.featured.replace_one({"_id": key}, entry, upsert=True)
                )
            elif article_id is not None:
                country = None if key == "site" else key.split(":", 1)[1]
                await self._set_flag(by, article_id, country, True)  # already chosen: make sure
                return
            await self._apply_featured_held(key, by)

    async def apply_featured(self, key: str, by: Principal = SYSTEM) -> None:
        """Bring the articles in line with the registry entry ``key`` (idempotent; also run by
        the scheduler for entries a crash left half-applied)."""
        reg = await self.cols.featured.find_one({"_id": key})
        if reg is None or not reg.get("pending"):
            return
        async with self.locks.hold(f"featured:{key}"):
            await self._apply_featured_held(key, by)

    async def _apply_featured_held(self, key: str, by: Principal) -> None:
        reg = await self.cols.featured.find_one({"_id": key})
        if reg is None or not reg.get("pending"):
            return
        country = None if key == "site" else key.split(":", 1)[1]
        current = reg.get("article_id")
        for old in reg.get("previous_ids") or []:
            if old != current:
                await self._set_flag(by, old, country, False)
        if current:
            await self._set_flag(by, current, country, True)
        await self.cols.featured.update_one(
            {"_id": key}, {"$set": {"pending": False, "previous_ids": []}, "$inc": {"version": 1}}
        )

    async def reconcile_featured(self) -> None:
        for reg in await self.cols.featured.find({}).to_list(None):
            try:
                await self.apply_featured(reg["_id"])
            except Exception:
                log.exception("news of the day not reconciled", extra={"key": reg["_id"]})

    async def _set_flag(
        self, by: Principal, article_id: str, country: str | None, on: bool
    ) -> None:
        try:
            async with self._locked(article_id) as doc:
                if country is None:
                    if bool(doc.get("featured")) == on:
                        return
                    changes: Doc = {"featured": on}
                else:
                    have = list(doc.get("featured_countries") or [])
                    if (country in have) == on:
                        return
                    changes = {
                        "featured_countries": [*have, country]
                        if on
                        else [c for c in have if c != country]
                    }
                if on and doc["status"] != ArticleStatus.PUBLISHED:
                    return  # unpublished meanwhile: it cannot be featured
                published = doc["status"] == ArticleStatus.PUBLISHED
                await self._write(
                    by, doc, changes, action="feature" if on else "unfeature",
                    event="updated" if published else None,
                )  # fmt: skip
        except NotFound:
            return

    # --- scheduling -------------------------------------------------------------------------------

    async def rebuild_schedule(self) -> int:
        """Put every scheduled article in the schedule index (a full scan: run once at start)."""
        rows = await self.articles.find(
            {"status": ArticleStatus.SCHEDULED.value}, {"publish_at": 1, "status": 1}
        ).to_list(None)
        for row in rows:
            await upsert(
                lambda row=row: self.cols.schedule.update_one(  # type: ignore[misc]
                    {"_id": row["_id"]}, {"$set": {"publish_at": row["publish_at"]}}, upsert=True
                )
            )
        return len(rows)

    async def publish_due(self, now: datetime | None = None) -> list[str]:
        """Publish every scheduled article whose time has come. Each one is checked and
        published holding its lock (status still ``scheduled``, time passed), so of any number
        of replicas running this, one publishes it and the others find it published."""
        now = now or utcnow()
        published: list[str] = []
        for entry in await self.cols.schedule.find({}).to_list(None):
            if entry["publish_at"] > now:
                continue
            done: Published | None = None
            try:
                async with self._locked(entry["_id"]) as doc:
                    if doc["status"] == ArticleStatus.SCHEDULED and doc["publish_at"] <= now:
                        done = await self._publish(SCHEDULER, doc, action="publish_scheduled")
                    elif doc["status"] == ArticleStatus.SCHEDULED:  # rescheduled later
                        await self.cols.schedule.update_one(
                            {"_id": entry["_id"]}, {"$set": {"publish_at": doc["publish_at"]}}
                        )
                        continue
            except NotFound:
                pass
            except InvalidInput as exc:
                log.error(
                    "a scheduled article cannot be published",
                    extra={"article_id": entry["_id"], "error": exc.message},
                )
                continue
            if done is None:  # not scheduled any more: a stale index entry
                await self.cols.schedule.delete_one(
                    {"_id": entry["_id"], "publish_at": entry["publish_at"]}
                )
                continue
            await self._after_publish(done)
            published.append(str(entry["_id"]))
            await self.audit.record(
                SCHEDULER, "article.publish_scheduled", "article", str(entry["_id"]),
                publish_at=entry["publish_at"].isoformat(),
            )  # fmt: skip
        return published

    # --- republish --------------------------------------------------------------------------------

    async def republish_all(
        self, batch_size: int = 500, progress: Callable[[int], None] | None = None
    ) -> int:
        """Re-emit every published article's current state as ``article.updated`` with its
        current version (to rebuild a read model whose stream history is gone). Nothing is
        changed, so nothing is stored: the events are built from the articles as read and
        published a batch at a time. An article changed meanwhile also emits its own, newer
        event, which a version-gated consumer keeps."""
        rows = await self.articles.find({"status": ArticleStatus.PUBLISHED.value}).to_list(None)
        count = 0
        cid = correlation_id_var.get()
        for start in range(0, len(rows), batch_size):
            batch = rows[start : start + batch_size]
            count += await self.relay.publish_entries(
                [outbox_entry(updated_event(doc, cid)) for doc in batch]
            )
            if progress is not None:
                progress(len(batch))
        return count

    # --- the one write ----------------------------------------------------------------------------

    def _check_version(self, doc: Doc, expected: int) -> None:
        if int(doc["version"]) != expected:
            raise VersionConflict(
                f"the article is at version {doc['version']}, not {expected}; reload and retry",
                int(doc["version"]),
            )

    async def _write(
        self,
        by: Principal,
        doc: Doc,
        changes: Doc,
        *,
        action: str,
        event: str | None = None,
        extra_events: Sequence[Event] = (),
        **revision_extra: Any,
    ) -> Doc:
        """Store ``changes`` as the next version, with its revision and events. The caller
        holds the article's lock and read ``doc`` under it (``_locked``)."""
        version = int(doc["version"])
        now = utcnow()
        new = {**doc, **changes, "version": version + 1}
        cid = correlation_id_var.get()
        events: list[Event] = []
        if event == "published":
            events.append(published_event(new, cid))
        elif event == "updated":
            events.append(updated_event(new, cid))
        elif event == "unpublished":
            events.append(unpublished_event(new, new.get("unpublished_at") or now, cid))
        events.extend(extra_events)
        rev = revision(version + 1, now, by, action, doc, changes, **revision_extra)
        push: Doc = {"revisions": rev}
        entries = [outbox_entry(e) for e in events]
        if events:
            push["outbox"] = {"$each": entries}
            await self.relay.mark(doc["_id"])
        result = await self.articles.update_one(
            {"_id": doc["_id"]}, {"$set": {**changes, "version": version + 1}, "$push": push}
        )
        if result.matched_count != 1:
            raise NotFound("no such article")
        if events:
            await self._relay_now([*(doc.get("outbox") or []), *entries])
            self.relay.kick(doc["_id"])  # removes the sent entries from the document
        new["revisions"] = [*(doc.get("revisions") or []), rev]
        await self.index.put(new)
        return new

    async def _relay_now(self, outbox: list[dict[str, str]]) -> None:
        """Publish the article's unsent events right after its write, still under its lock.

        The outbox is exactly what was read under the lock plus the entries just pushed (every
        writer and the relay hold the lock), so this is the relay's own pass, oldest first,
        without reading the document again or waiting for the lock: the event is on its stream
        before the response. If it fails, the relay (kicked) and its sweeps send it."""
        if not self.relay.enabled:
            return
        try:
            await self.relay.publish_entries(outbox)
        except Exception as exc:  # the write is durable; the relay will publish
            log.warning("publishing right after the write failed", extra={"error": repr(exc)})

    # --- tips -------------------------------------------------------------------------------------

    async def create_from_tip(
        self, by: Principal, submission: Doc, photos: Sequence[StoredMedia]
    ) -> Doc:
        """The draft of an accepted tip: its title, its text as escaped paragraphs, its country,
        its first photo as the article's image and the others at the end of the body."""
        sid = submission["submission_id"]
        contact = submission.get("contact") or {}
        who = None if submission.get("anonymous") else (contact.get("name") or None)
        credit = f"Фото: {who}" if who else f"Фото: {REPORTER_SOURCE.lower()}"
        body = text_to_html(submission.get("text") or "")
        for extra in photos[1:]:
            body += (
                f'<figure><img src="{self.settings.media_url(extra.media_id)}" alt="" '
                f'width="{extra.width}" height="{extra.height}">'
                f"<figcaption>{credit}</figcaption></figure>"
            )
        country = submission.get("country")
        given: Doc = {
            "title": (submission.get("title") or "Без заголовка").strip()[:300],
            "body_html": body,
            "countries": [country] if country in COUNTRIES else [],
            "source": REPORTER_SOURCE,
        }
        if photos:
            given["image"] = {"media_id": photos[0].media_id, "credit": credit,
                              "alt": given["title"]}  # fmt: skip
        return await self.create(
            by, given, article_id=article_id_for(f"submission:{sid}"), submission_id=sid
        )
