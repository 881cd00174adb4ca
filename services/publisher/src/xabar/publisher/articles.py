"""Articles: create, edit, the workflow, corrections, revisions, news of the day, scheduling.

The rules are in ``domain``; storage is behind the repositories (``repositories``). Every change
is made on the article as read under its lock (``ArticleRepository.locked``) and stored as its
next version with its revision and the events it causes, in one write (``HeldArticle.write``);
a change based on a version the client no longer has is refused (409). Events are published by
the relay; an article is public once ``article.published`` is stored with it.
"""

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from xabar.contracts import (
    COUNTRIES,
    ArticlePublished,
    ArticleState,
    ArticleUnpublished,
    ArticleUpdated,
    Event,
    SubmissionReview,
    SubmissionReviewed,
    SubmissionStatus,
)
from xabar.publisher.config import PublisherSettings
from xabar.publisher.content import (
    InlineSize,
    base_slug,
    inline_media_ids,
    render_markdown,
    responsive_images,
    sanitize_html,
    text_to_html,
)
from xabar.publisher.domain import (
    CONTENT_FIELDS,
    PRODUCER,
    Article,
    ArticleEvent,
    ArticleQuery,
    ArticleStatus,
    Doc,
    EditorRef,
    Page,
    Revision,
    article_event,
    check_can_edit,
    check_can_read,
    check_publishable,
    check_transition,
    diff_states,
    ms,
    public_state,
    revision,
    state_at,
    utcnow,
)
from xabar.publisher.errors import InvalidInput, InvalidTransition, NotFound, VersionConflict
from xabar.publisher.media import StoredMedia
from xabar.publisher.merge import Merged, merge
from xabar.publisher.repositories.articles import HeldArticle
from xabar.publisher.repositories.bundle import Repositories
from xabar.publisher.repositories.featured import Choice, key_of
from xabar.runtime.auth import Principal, Role
from xabar.runtime.logs import correlation_id_var

log = logging.getLogger("xabar.publisher.articles")

ARTICLE_NAMESPACE = uuid.UUID("2b0f6c1e-8f7a-4c43-9a55-0d6f2a1e9b37")
SCHEDULER = Principal("system:scheduler", "Планировщик публикаций", Role.CHIEF)
SYSTEM = Principal("system", "Xabar", Role.CHIEF)
IMPORTER = Principal("system:import", "Импорт", Role.CHIEF)
REPORTER_SOURCE = "Народный репортер"
NOT_FEATURED_HERE = "эта статья здесь не новость дня"
MAX_INLINE_PHOTOS = 100  # inline photos looked up per body (the rest keep their plain src)


def article_id_for(key: str) -> str:
    """A stable article id (accepted tips, imports): a retry never makes a second article."""
    return uuid.uuid5(ARTICLE_NAMESPACE, key).hex


@dataclass(frozen=True, slots=True)
class Published:
    """A publication as stored, and what is left to do once the article's lock is released."""

    article: Article
    was_scheduled: bool
    tip_version: int | None  # the tip's version the publication's review event followed


class ArticleService:
    def __init__(self, repos: Repositories, settings: PublisherSettings) -> None:
        self.repo = repos.articles
        self.index = repos.index
        self.slugs = repos.slugs
        self.schedule = repos.schedule
        self.choices = repos.featured
        self.tips = repos.inbox
        self.media = repos.media
        self.audit = repos.audit
        self.settings = settings

    # --- reads ------------------------------------------------------------------------------------

    async def get(self, article_id: str) -> Article:
        return await self.repo.get(article_id)

    async def read(self, by: Principal, article_id: str, *, history: bool = False) -> Article:
        """The article, if ``by`` may read it (its ``history`` too, when asked)."""
        article = await self.repo.get(article_id)
        check_can_read(by, article, history=history)
        return article

    async def search(self, by: Principal, query: ArticleQuery) -> Page[dict[str, Any]]:
        """Summaries, newest change first, from the Redis index (see ``repositories.index``):
        for a contributor, only their own articles and published ones."""
        viewer = None if by.role.at_least(Role.EDITOR) else by.editor_id
        return await self.index.search(query, viewer=viewer)

    async def revisions(self, by: Principal, article_id: str) -> list[Revision]:
        article = await self.read(by, article_id, history=True)
        return sorted(article.revisions, key=lambda r: r.version)

    async def version(self, by: Principal, article_id: str, version: int) -> Doc:
        return state_at(await self.read(by, article_id, history=True), version)

    async def diff(
        self, by: Principal, article_id: str, older: int | None, newer: int | None
    ) -> tuple[int, int, list[Doc]]:
        """What changed from version ``older`` (default: the one before the current) to
        ``newer`` (default: the current): both versions, and the changed fields."""
        article = await self.read(by, article_id, history=True)
        a = max(article.version - 1, 1) if older is None else older
        b = article.version if newer is None else newer
        return a, b, diff_states(state_at(article, a), state_at(article, b))

    async def featured(self) -> dict[str, str | None]:
        return {c.key: c.article_id for c in await self.choices.all()}

    # --- content ----------------------------------------------------------------------------------

    async def content_changes(self, current: Doc, given: Doc, *, full: bool = False) -> Doc:
        """The fields (plain values) a create/edit body changes. ``current``: the article's
        content values (empty for a new one); ``given``: the fields sent (for a PATCH, only those
        present); ``full``: every content field is set (absent ones to defaults)."""
        out: Doc = {}
        if "title" in given:
            out["title"] = given["title"].strip()
        if "lead" in given or full:
            out["lead"] = (given.get("lead") or "").strip()
        if given.get("body_markdown") is not None:
            out["body_markdown"] = given["body_markdown"]
            out["body_html"] = await self.responsive(render_markdown(given["body_markdown"]))
        elif "body_html" in given or full:
            out["body_html"] = await self.responsive(sanitize_html(given.get("body_html") or ""))
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
        return {k: v for k, v in out.items() if current.get(k) != v}

    async def responsive(self, body_html: str) -> str:
        """A sanitized body whose inline photos from our library point at their sizes."""
        base = self.settings.media_url("")
        sizes: dict[str, list[InlineSize]] = {}
        for media_id in inline_media_ids(body_html, base)[:MAX_INLINE_PHOTOS]:
            stored = await self.media.get_meta(media_id)
            if stored is not None:
                sizes[media_id] = [
                    (f"{base}{media_id}/{v.name}", v.width, v.height)
                    for v in stored.variants
                    if v.media_type == "image/jpeg"
                ]
        return responsive_images(body_html, base, sizes)

    async def resolve_image(self, image: Doc | None) -> Doc | None:
        if not image:
            return None
        out: Doc = {"credit": image.get("credit") or None, "alt": image.get("alt") or None}
        media_id = image.get("media_id")
        if media_id:
            stored = await self.media.get_meta(media_id)
            if stored is None:
                raise InvalidInput(f"загруженного изображения {media_id} нет")
            out |= self.image_of(stored)
        else:
            out |= {
                "url": image["url"],
                "media_id": None,
                "width": None,
                "height": None,
                "variants": [],
            }
        return out

    def image_of(self, stored: StoredMedia) -> Doc:
        """An uploaded image as an article shows it: its largest JPEG size (or the image itself,
        stored before sizes were made) and every size, for ``srcset``."""
        base = self.settings.media_url(stored.media_id)
        variants = [
            {
                "url": f"{base}/{v.name}",
                "width": v.width,
                "height": v.height,
                "media_type": v.media_type,
            }
            for v in stored.variants
        ]
        fallback = stored.largest("image/jpeg")
        url, width, height = (
            (base, stored.width, stored.height)
            if fallback is None
            else (f"{base}/{fallback.name}", fallback.width, fallback.height)
        )
        return {
            "url": url,
            "media_id": stored.media_id,
            "width": width,
            "height": height,
            "variants": variants,
        }

    # --- create and edit --------------------------------------------------------------------------

    def new_article(
        self, article_id: str, slug: str, by: Principal, now: datetime, content: Doc, **ids: Any
    ) -> Article:
        """A draft made by ``by``; ``ids``: its ``owner_id``, ``submission_id``, ``import_key``."""
        article = Article(
            article_id=article_id,
            slug=slug,
            created_at=now,
            updated_at=now,
            created_by=EditorRef.of(by),
            **ids,
        )
        return article.with_values(content)

    async def imported(
        self,
        *,
        article_id: str,
        slug: str,
        given: Doc,
        published_at: datetime,
        import_key: str,
        image: Doc | None = None,
    ) -> tuple[Article, Event]:
        """A published article as an import creates it: version 1, its revision, and its
        ``article.published`` (the caller stores both; the relay sends the event)."""
        content = await self.content_changes({}, given, full=True)
        if image is not None:
            content["image"] = image
        now = utcnow()
        published_at = ms(published_at)
        article = self.new_article(
            article_id, slug, IMPORTER, now, content, import_key=import_key
        ).with_values(
            {
                "status": ArticleStatus.PUBLISHED.value,
                "slug_locked": True,
                "published_at": published_at,
                "updated_at": published_at,
            }
        )
        check_publishable(article)
        tracked = article.values((*CONTENT_FIELDS, "status", "slug"))
        article = article.model_copy(
            update={"revisions": (revision(1, now, IMPORTER, "import", {}, tracked),)}
        )
        return article, article_event(ArticlePublished, article, correlation_id_var.get())

    async def create(
        self,
        by: Principal,
        given: Doc,
        *,
        article_id: str | None = None,
        submission_id: str | None = None,
    ) -> Article:
        article_id = article_id or uuid.uuid4().hex
        content = await self.content_changes({}, given, full=True)
        slug = await self.slugs.claim(base_slug(content["title"]), article_id)
        now = utcnow()
        article = self.new_article(
            article_id, slug, by, now, content, owner_id=by.editor_id, submission_id=submission_id
        )
        first = revision(1, now, by, "create", {}, article.values((*CONTENT_FIELDS, "status")))
        article = article.model_copy(update={"revisions": (first,)})
        if await self.repo.insert(article) is None:
            existing = await self.get(article_id)
            if submission_id is None or existing.submission_id != submission_id:
                raise InvalidTransition("статья с таким идентификатором уже есть")
            return existing
        await self.audit.record(by, "article.create", "article", article_id, title=article.title)
        return article

    async def edit(
        self,
        by: Principal,
        article_id: str,
        given: Doc,
        expected_version: int,
        *,
        full: bool = False,
        action: str = "edit",
    ) -> Article:
        async with self.repo.locked(article_id) as held:
            check_can_edit(by, held.article)
            self._check_version(held.article, expected_version)
            current = held.article.values(CONTENT_FIELDS)
            changes = await self.content_changes(current, given, full=full)
            return await self._apply_edit(by, held, changes, action=action)

    async def edit_merging(
        self, by: Principal, article_id: str, given: Doc, base_version: int, *, action: str = "edit"
    ) -> tuple[Article, Merged | None]:
        """The whole content ``given`` as an edit of version ``base_version``. If someone saved
        since, both edits are merged against that version (``merge``): a clean merge is saved
        (the article and the merge are returned); a merge with conflicts is NOT saved, and is
        returned with the current article for the editor to settle (both texts are in it)."""
        try:
            return await self.edit(
                by, article_id, given, base_version, full=True, action=action
            ), None
        except VersionConflict:
            current = await self.read(by, article_id)
            if base_version > current.version:
                raise
        base = state_at(current, base_version)
        mine = await self.content_changes({}, given, full=True)
        theirs = current.values(CONTENT_FIELDS)
        merged = merge(base, mine, theirs, CONTENT_FIELDS)
        if not merged.clean:
            return current, merged
        article = await self.edit(
            by, article_id, merged.values, current.version, full=True, action="merge"
        )
        return article, merged

    def changed_since(self, article: Article, version: int) -> list[Revision]:
        """The revisions stored after ``version`` (who changed what meanwhile)."""
        return [r for r in article.revisions if r.version > version]

    async def preview_state(
        self, by: Principal, article_id: str | None, given: Doc
    ) -> ArticleState:
        """The public state the readers' site would show for ``given`` (the whole content of an
        article, saved or not): nothing is stored."""
        now = utcnow()
        if article_id is None:
            base = self.new_article("preview", "predprosmotr", by, now, {})
        else:
            base = await self.read(by, article_id)
        content = await self.content_changes({}, given, full=True)
        article = base.with_values(
            {**content, "published_at": base.published_at or now, "updated_at": now}
        )
        return public_state(article)

    async def restore(
        self, by: Principal, article_id: str, version: int, expected_version: int
    ) -> Article:
        async with self.repo.locked(article_id) as held:
            check_can_edit(by, held.article)
            self._check_version(held.article, expected_version)
            old, now = state_at(held.article, version), held.article.values(CONTENT_FIELDS)
            changes = {f: old.get(f) for f in CONTENT_FIELDS if now.get(f) != old.get(f)}
            return await self._apply_edit(
                by, held, changes, action="restore", restored_from=version
            )

    async def correct(
        self, by: Principal, article_id: str, note: str, given: Doc, expected_version: int
    ) -> Article:
        async with self.repo.locked(article_id) as held:
            article = held.article
            self._check_version(article, expected_version)
            if not article.published:
                raise InvalidTransition("исправление вносят в опубликованную статью")
            changes = await self.content_changes(article.values(CONTENT_FIELDS), given)
            corrections = article.values(["corrections"])["corrections"]
            changes["corrections"] = [*corrections, {"note": note, "corrected_at": utcnow()}]
            return await self._apply_edit(by, held, changes, action="correct", note=note)

    async def _apply_edit(
        self, by: Principal, held: HeldArticle, changes: Doc, action: str, **extra: Any
    ) -> Article:
        old = held.article
        if not changes:
            return old
        new_slug: str | None = None
        if "title" in changes and not old.slug_locked:
            base = base_slug(changes["title"])
            if base != base_slug(old.title):
                new_slug = await self.slugs.claim(base, old.article_id)
                changes["slug"] = new_slug
        changes["updated_at"] = utcnow()
        event = ArticleUpdated if old.published else None
        try:
            new = await self._write(by, held, changes, action=action, event=event, **extra)
        except Exception:
            if new_slug is not None:
                await self.slugs.release(new_slug, old.article_id)
            raise
        if new_slug is not None and new_slug != old.slug:
            await self.slugs.release(old.slug, old.article_id)
        changed = sorted(k for k in changes if k != "updated_at")
        await self.audit.record(
            by,
            f"article.{action}",
            "article",
            old.article_id,
            version=new.version,
            changed=changed,
            **extra,
        )
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
    ) -> Article:
        published: Published | None = None
        taken_back: int | None = None  # unpublished: the tip's version its review followed
        async with self.repo.locked(article_id) as held:
            old = held.article
            transition = check_transition(by, old, action)
            if expected_version is not None:
                self._check_version(old, expected_version)
            if action == "publish":
                published = await self._publish(by, held)
                new = published.article
            elif action == "schedule":
                new = await self._schedule(by, held, publish_at)
            elif action == "unpublish":
                new, taken_back = await self._unpublish(by, held)
            else:
                changes: Doc = {"status": transition.target.value}
                if old.publish_at is not None:
                    changes["publish_at"] = None
                new = await self._write(by, held, changes, action=action)
        # what touches other documents, once the article's lock is released
        if published is not None:
            await self._after_publish(published)
        elif old.status == ArticleStatus.SCHEDULED and new.status != old.status:
            await self.schedule.drop(article_id)
        if action == "unpublish":
            await self._after_unpublish(new, taken_back)
            for choice in await self.choices.all():
                if choice.article_id == article_id:
                    await self._choose_featured(choice.key, None, by)
        detail: Doc = {"version": new.version, "status": new.status.value}
        if publish_at is not None:
            detail["publish_at"] = publish_at.isoformat()
        await self.audit.record(by, f"article.{action}", "article", article_id, **detail)
        return new

    async def _schedule(
        self, by: Principal, held: HeldArticle, publish_at: datetime | None
    ) -> Article:
        if publish_at is None:
            raise InvalidInput("чтобы запланировать, нужно время публикации (publish_at)")
        publish_at = ms(publish_at)
        if publish_at <= utcnow():
            raise InvalidInput("время публикации уже прошло; опубликуйте статью сейчас")
        check_publishable(held.article)
        # The index entry first: the scheduler reads it, then checks the article itself.
        await self.schedule.put(held.article.article_id, publish_at)
        changes = {"status": ArticleStatus.SCHEDULED.value, "publish_at": publish_at}
        return await self._write(by, held, changes, action="schedule")

    async def _publish(
        self, by: Principal, held: HeldArticle, *, action: str = "publish"
    ) -> Published:
        """Publish the held article. For an accepted tip's article, the first publication also
        carries ``submission.reviewed`` (published, with the article's URL)."""
        old = held.article
        check_publishable(old)
        now = utcnow()
        changes: Doc = {
            "status": ArticleStatus.PUBLISHED.value,
            "publish_at": None,
            "published_at": old.published_at or now,
            "updated_at": now,
            "unpublished_at": None,
            "slug_locked": True,
        }
        review: list[Event] = []
        tip_version: int | None = None
        if old.submission_id and not old.submission_notified:
            tip_version = await self.tips.version_of(old.submission_id)
            if tip_version is not None:
                review.append(self._tip_review(old, tip_version + 1, now))
            changes["submission_notified"] = True
        new = await self._write(
            by, held, changes, action=action, event=ArticlePublished, extra_events=review
        )
        return Published(new, old.status == ArticleStatus.SCHEDULED, tip_version)

    def _tip_review(
        self,
        article: Article,
        version: int,
        at: datetime,
        status: SubmissionStatus = SubmissionStatus.PUBLISHED,
    ) -> Event:
        """What the tip's reporter is told of its article: published (with its URL), or, once
        it is taken back, accepted again (with no URL: the link would be dead)."""
        assert article.submission_id is not None
        published = status == SubmissionStatus.PUBLISHED
        event: Event = SubmissionReviewed.create(
            producer=PRODUCER,
            correlation_id=correlation_id_var.get(),
            aggregate_id=article.submission_id,
            version=version,
            data=SubmissionReview(
                submission_id=article.submission_id,
                status=status,
                article_url=self.settings.article_url(article.slug) if published else None,
                article_id=article.article_id,
                reviewed_at=at,
            ),
        )
        return event

    async def _after_publish(self, published: Published) -> None:
        article = published.article
        if published.was_scheduled:
            await self.schedule.drop(article.article_id)
        if published.tip_version is None or article.submission_id is None:
            return
        await self.tips.note_published(
            article.submission_id,
            published.tip_version,
            {
                "status": SubmissionStatus.PUBLISHED.value,
                "version": published.tip_version + 1,
                "article_url": self.settings.article_url(article.slug),
                "updated_at": article.updated_at,
            },
        )

    async def _unpublish(self, by: Principal, held: HeldArticle) -> tuple[Article, int | None]:
        """Unpublish the held article. For a tip's article whose reporter was told it is
        published, ``submission.reviewed`` (accepted, no URL) goes with it, and a later
        publication tells them again; the tip's version that review followed is returned."""
        old = held.article
        now = utcnow()
        changes: Doc = {
            "status": ArticleStatus.UNPUBLISHED.value,
            "unpublished_at": now,
            "featured": False,
            "featured_countries": [],
        }
        review: list[Event] = []
        tip_version: int | None = None
        if old.submission_id and old.submission_notified:
            tip_version = await self.tips.version_of(old.submission_id)
            if tip_version is not None:
                review.append(
                    self._tip_review(old, tip_version + 1, now, SubmissionStatus.ACCEPTED)
                )
            changes["submission_notified"] = False
        new = await self._write(
            by, held, changes, action="unpublish", event=ArticleUnpublished, extra_events=review
        )
        return new, tip_version

    async def _after_unpublish(self, article: Article, tip_version: int | None) -> None:
        if tip_version is None or article.submission_id is None:
            return
        await self.tips.note_published(
            article.submission_id,
            tip_version,
            {
                "status": SubmissionStatus.ACCEPTED.value,
                "version": tip_version + 1,
                "article_url": None,
                "updated_at": article.updated_at,
            },
        )

    # --- news of the day --------------------------------------------------------------------------

    async def feature(self, by: Principal, article_id: str, country: str | None = None) -> Article:
        """Make a published article the news of the day (site-wide, or of a country section).
        The old one gets ``article.updated`` with the flag off, the new one with it on."""
        if country is not None and country not in COUNTRIES:
            raise InvalidInput(f"неизвестная страна {country!r}")
        article = await self.get(article_id)
        if not article.published:
            raise InvalidTransition("новостью дня может быть только опубликованная статья")
        await self._choose_featured(key_of(country), article_id, by)
        await self.audit.record(
            by, "article.feature", "article", article_id, scope=country or "site"
        )
        return await self.get(article_id)

    async def unfeature(
        self, by: Principal, article_id: str, country: str | None = None
    ) -> Article:
        key = key_of(country)
        if (await self.choices.get(key)).article_id != article_id:
            raise InvalidTransition(NOT_FEATURED_HERE)
        await self._choose_featured(key, None, by, only_if=article_id)
        await self.audit.record(
            by, "article.unfeature", "article", article_id, scope=country or "site"
        )
        return await self.get(article_id)

    async def _choose_featured(
        self, key: str, article_id: str | None, by: Principal, only_if: str | None = None
    ) -> None:
        """Record the choice (``pending``), then bring the articles in line, under the key's
        lock, so choices are made one at a time."""
        async with self.choices.locked(key):
            choice = await self.choices.get(key)
            if only_if is not None and choice.article_id != only_if:
                raise InvalidTransition(NOT_FEATURED_HERE)
            if choice.article_id != article_id or choice.pending:
                previous = list(choice.previous_ids) if choice.pending else []
                if choice.article_id and choice.article_id != article_id:
                    previous.append(choice.article_id)
                await self.choices.choose(
                    Choice(key, article_id, tuple(previous), True, choice.version + 1)
                )
            elif article_id is not None:
                await self._set_flag(by, article_id, choice.country, True)  # chosen: make sure
                return
            await self._apply_featured_held(key, by)

    async def apply_featured(self, key: str, by: Principal = SYSTEM) -> None:
        """Bring the articles in line with the choice ``key`` (idempotent; also run by the
        scheduler for choices a crash left half-applied)."""
        if not (await self.choices.get(key)).pending:
            return
        async with self.choices.locked(key):
            await self._apply_featured_held(key, by)

    async def _apply_featured_held(self, key: str, by: Principal) -> None:
        choice = await self.choices.get(key)
        if not choice.pending:
            return
        for old in choice.previous_ids:
            if old != choice.article_id:
                await self._set_flag(by, old, choice.country, False)
        if choice.article_id:
            await self._set_flag(by, choice.article_id, choice.country, True)
        await self.choices.settle(key)

    async def reconcile_featured(self) -> None:
        for choice in await self.choices.all():
            try:
                await self.apply_featured(choice.key)
            except Exception:
                log.exception("news of the day not reconciled", extra={"key": choice.key})

    async def _set_flag(
        self, by: Principal, article_id: str, country: str | None, on: bool
    ) -> None:
        try:
            async with self.repo.locked(article_id) as held:
                article = held.article
                if country is None:
                    if article.featured == on:
                        return
                    changes: Doc = {"featured": on}
                else:
                    have = list(article.featured_countries)
                    if (country in have) == on:
                        return
                    kept = [c for c in have if c != country]
                    changes = {"featured_countries": [*have, country] if on else kept}
                if on and not article.published:
                    return  # unpublished meanwhile: it cannot be featured
                event = ArticleUpdated if article.published else None
                action = "feature" if on else "unfeature"
                await self._write(by, held, changes, action=action, event=event)
        except NotFound:
            return

    # --- readers' comments ------------------------------------------------------------------------

    async def set_comments_open(self, by: Principal, article_id: str, is_open: bool) -> Article:
        """Open or close the readers' comments of an article, under its lock, as its next
        version; a published article re-emits its state (``article.updated``, ``comments_open``)."""
        async with self.repo.locked(article_id) as held:
            article = held.article
            if article.comments_open == is_open:
                return article
            action = "comments_open" if is_open else "comments_close"
            event = ArticleUpdated if article.published else None
            new = await self._write(
                by, held, {"comments_open": is_open}, action=action, event=event
            )
        await self.audit.record(by, f"article.{action}", "article", article_id)
        return new

    # --- scheduling -------------------------------------------------------------------------------

    async def rebuild_schedule(self) -> int:
        """Put every scheduled article in the schedule index (a full scan: run once at start)."""
        rows = await self.repo.scheduled()
        for article_id, publish_at in rows:
            await self.schedule.put(article_id, publish_at)
        return len(rows)

    async def publish_due(self, now: datetime | None = None) -> list[str]:
        """Publish every scheduled article whose time has come. Each one is checked and
        published holding its lock (status still ``scheduled``, time passed), so of any number
        of replicas running this, one publishes it and the others find it published."""
        now = now or utcnow()
        published: list[str] = []
        for article_id, publish_at in await self.schedule.entries():
            if publish_at > now:
                continue
            try:
                done = await self._publish_if_due(article_id, now)
            except InvalidInput as exc:
                log.error(
                    "a scheduled article cannot be published",
                    extra={"article_id": article_id, "error": exc.message},
                )
                continue
            if done is None:  # not due: a stale entry is dropped (a moved one is left alone)
                await self.schedule.drop(article_id, publish_at)
                continue
            await self._after_publish(done)
            published.append(article_id)
            await self.audit.record(
                SCHEDULER,
                "article.publish_scheduled",
                "article",
                article_id,
                publish_at=publish_at.isoformat(),
            )
        return published

    async def _publish_if_due(self, article_id: str, now: datetime) -> Published | None:
        """The publication if the article is due; None if it is not scheduled any more (or is
        gone), or was rescheduled later (its entry then follows it)."""
        try:
            async with self.repo.locked(article_id) as held:
                article = held.article
                if article.status != ArticleStatus.SCHEDULED or article.publish_at is None:
                    return None
                if article.publish_at > now:
                    await self.schedule.move(article_id, article.publish_at)
                    return None
                return await self._publish(SCHEDULER, held, action="publish_scheduled")
        except NotFound:
            return None

    # --- republish --------------------------------------------------------------------------------

    async def republish_all(
        self, batch_size: int = 500, progress: Callable[[int], None] | None = None
    ) -> int:
        """Re-emit every published article's current state as ``article.updated`` with its
        current version (to rebuild a read model whose stream history is gone). Nothing is
        changed, so nothing is stored: the events are built from the articles as read and
        published a batch at a time. An article changed meanwhile also emits its own, newer
        event, which a version-gated consumer keeps."""
        rows = await self.repo.published()
        count = 0
        cid = correlation_id_var.get()
        for start in range(0, len(rows), batch_size):
            batch = rows[start : start + batch_size]
            count += await self.repo.publish_events(
                [article_event(ArticleUpdated, a, cid) for a in batch]
            )
            if progress is not None:
                progress(len(batch))
        return count

    # --- the one write ----------------------------------------------------------------------------

    def _check_version(self, article: Article, expected: int) -> None:
        if article.version != expected:
            raise VersionConflict(
                f"статья уже в версии {article.version}, а не {expected}; "
                "обновите страницу и повторите",
                article.version,
            )

    async def _write(
        self,
        by: Principal,
        held: HeldArticle,
        changes: Doc,
        *,
        action: str,
        event: type[ArticleEvent] | None = None,
        extra_events: Sequence[Event] = (),
        **revision_extra: Any,
    ) -> Article:
        """Store ``changes`` as the next version of the held article, with its revision and
        events (``event``: the article event the change emits, if any)."""
        old = held.article
        now = utcnow()
        rev = revision(old.version + 1, now, by, action, old.values(), changes, **revision_extra)
        new = old.next_version(changes, rev)
        events: list[Event] = list(extra_events)
        if event is not None:
            events.insert(0, article_event(event, new, correlation_id_var.get(), now))
        return await held.write(new, events)

    # --- tips -------------------------------------------------------------------------------------

    async def create_from_tip(
        self, by: Principal, submission: Doc, photos: Sequence[StoredMedia]
    ) -> Article:
        """The draft of an accepted tip: its title, its text as escaped paragraphs, its country,
        its first photo as the article's image and the others at the end of the body.

        Nothing of the reporter's contact is copied: the draft is what gets published if an
        editor changes nothing, and the contact is promised to stay with the newsroom. Photos
        are credited to "народный репортер"; a name in the credit is one an editor typed."""
        sid = submission["submission_id"]
        credit = f"Фото: {REPORTER_SOURCE.lower()}"
        body = text_to_html(submission.get("text") or "")
        for extra in photos[1:]:
            body += (
                f'<figure><img src="{self.settings.media_url(extra.media_id)}" alt="" '
                f'width="{extra.width}" height="{extra.height}">'
                f"<figcaption>{credit}</figcaption></figure>"
            )
        country = submission.get("country")
        title = (submission.get("title") or "Без заголовка").strip()[:300]
        given: Doc = {
            "title": title,
            "body_html": body,
            "countries": [country] if country in COUNTRIES else [],
            "source": REPORTER_SOURCE,
        }
        if photos:
            given["image"] = {"media_id": photos[0].media_id, "credit": credit, "alt": title}
        return await self.create(
            by, given, article_id=article_id_for(f"submission:{sid}"), submission_id=sid
        )
