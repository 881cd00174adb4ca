"""Composition root of the publisher service (the HTTP app and the CLI build the same parts)."""

import asyncio
import functools
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from starlette.applications import Starlette

from xabar.publisher.accounts import Accounts
from xabar.publisher.articles import ArticleService
from xabar.publisher.comments import CommentService
from xabar.publisher.config import PublisherSettings
from xabar.publisher.editors import EditorService
from xabar.publisher.handlers import wire
from xabar.publisher.images import ImageWork, UploadSlots
from xabar.publisher.inbox import InboxService
from xabar.publisher.letters import LetterService
from xabar.publisher.library import MediaLibrary
from xabar.publisher.mail import Mailer
from xabar.publisher.media import IngestClient, MediaStore
from xabar.publisher.newsroom import site as newsroom_site
from xabar.publisher.newsroom.errors import pages_first
from xabar.publisher.newsroom.web import PageRouter
from xabar.publisher.passwords import Passwords
from xabar.publisher.polls import PollsClient
from xabar.publisher.previews import FeedPreview
from xabar.publisher.profiles import ProfileService
from xabar.publisher.relay import MarkedRelay
from xabar.publisher.repositories.bundle import Repositories
from xabar.publisher.repositories.collections import Collections
from xabar.publisher.repositories.index import ArticleIndex
from xabar.publisher.repositories.library import LibraryIndex
from xabar.publisher.repositories.logins import LoginThrottle
from xabar.publisher.repositories.resets import ResetLinks
from xabar.publisher.repositories.sessions import SessionStore
from xabar.publisher.repositories.tips import TipIndex
from xabar.publisher.routes import ROUTERS, api_routes
from xabar.publisher.routes.deps import Deps
from xabar.publisher.routes.errors import exception_handlers
from xabar.publisher.scheduler import Scheduler
from xabar.runtime.app import service_app, service_routes
from xabar.runtime.auth import Revocations, TokenIssuer
from xabar.runtime.bus import EventBus
from xabar.runtime.config import RedisClient
from xabar.runtime.lifecycle import start_each, stop_each
from xabar.runtime.locks import DocLocks
from xabar.runtime.mongo import MongoClient
from xabar.runtime.openapi import OpenAPI
from xabar.runtime.ops import streams_report
from xabar.runtime.security import PagePolicy
from xabar.runtime.workers import cancel_and_wait

log = logging.getLogger("xabar.publisher.app")
REBUILD_GRACE_S = 15.0  # how long a shutdown waits for the start's rebuilds to finish

# The newsroom's pages run their own scripts (and the vendored editor) and poll for news.
NEWSROOM_POLICY = PagePolicy().with_(script_src="'self'", connect_src="'self'")


@dataclass
class Publisher:
    """The publisher's parts, wired once (by ``create_app`` and by the CLI)."""

    settings: PublisherSettings
    collections: Collections
    codec: TokenIssuer
    repos: Repositories
    article_relay: MarkedRelay
    inbox_relay: MarkedRelay
    comment_relay: MarkedRelay
    profile_relay: MarkedRelay
    articles: ArticleService
    inbox: InboxService
    comments: CommentService
    letters: LetterService
    profiles: ProfileService
    editors: EditorService
    accounts: Accounts
    library: MediaLibrary
    ingest: IngestClient
    preview: FeedPreview
    polls: PollsClient

    def deps(self) -> Deps:
        """What the routes get (``Deps.of(request)``)."""
        return Deps(
            settings=self.settings,
            codec=self.codec,
            editors=self.editors,
            accounts=self.accounts,
            articles=self.articles,
            inbox=self.inbox,
            library=self.library,
            audit=self.repos.audit,
            preview=self.preview,
            comments=self.comments,
            letters=self.letters,
            polls=self.polls,
            uploads=UploadSlots(
                self.settings.media_upload_concurrency, self.settings.media_upload_wait_s
            ),
            profiles=self.profiles,
        )

    def relays(self) -> list[MarkedRelay]:
        return [self.article_relay, self.inbox_relay, self.comment_relay, self.profile_relay]

    async def start_relays(self) -> None:
        await start_each(self.relays())

    async def stop_relays(self) -> None:
        await stop_each(self.relays())

    async def rebuild_queues(self) -> None:
        """The comments' and letters' queues in Redis, from their documents (a crash between
        a write and its queue put is repaired here; newer entries are never overwritten)."""
        for name, rebuild in (
            ("comments", self.comments.rebuild),
            ("letters", self.letters.rebuild),
        ):
            try:
                count = await rebuild()
                log.info("queues rebuilt", extra={"queue": name, "items": count})
            except Exception:
                log.exception("queues not rebuilt; they repair on the next start")


def build(
    settings: PublisherSettings,
    mongo: MongoClient,
    bus: EventBus,
    redis: RedisClient,
    *,
    login_limits: bool = True,
) -> Publisher:
    collections = Collections(mongo, settings.mongodb_db)
    revocations = Revocations(redis)
    codec = TokenIssuer(
        settings.token_private_key.get_secret_value(),
        revocations,
        ttl=timedelta(seconds=settings.token_ttl_s),
    )
    work = ImageWork(
        max_bytes=settings.max_media_bytes,
        max_pixels=settings.max_media_pixels,
        concurrency=settings.media_encode_concurrency,
    )
    media = MediaStore(collections, work, library=LibraryIndex(redis))
    relay_opts: dict[str, Any] = {
        "sweep_interval": settings.relay_sweep_s,
        "enabled": settings.relay_enabled,
    }
    locks = DocLocks(collections.locks, stale_after=timedelta(seconds=settings.lock_stale_s))
    article_relay = MarkedRelay(
        collections.articles, collections.articles_pending, bus, locks, **relay_opts
    )
    inbox_relay = MarkedRelay(
        collections.inbox, collections.inbox_pending, bus, locks, **relay_opts
    )
    comment_relay = MarkedRelay(
        collections.comments, collections.comments_pending, bus, locks, **relay_opts
    )
    profile_relay = MarkedRelay(
        collections.country_profiles, collections.country_profiles_pending, bus, locks, **relay_opts
    )
    repos = Repositories.build(
        collections,
        article_relay=article_relay,
        inbox_relay=inbox_relay,
        index=ArticleIndex(redis),
        media=media,
        comment_relay=comment_relay,
        profile_relay=profile_relay,
        redis=redis,
    )
    articles = ArticleService(repos, settings)
    ingest = IngestClient(
        settings.ingest_url,
        codec,
        timeout_s=settings.ingest_timeout_s,
        max_bytes=settings.max_media_bytes,
    )
    editors = editor_service(settings, repos, codec, redis if login_limits else None)
    return Publisher(
        settings=settings,
        collections=collections,
        codec=codec,
        repos=repos,
        article_relay=article_relay,
        inbox_relay=inbox_relay,
        comment_relay=comment_relay,
        profile_relay=profile_relay,
        articles=articles,
        inbox=InboxService(repos, articles, ingest),
        comments=CommentService(
            repos.comments, articles, repos.audit, settings.comments_moderation
        ),
        letters=LetterService(repos.letters, repos.audit),
        profiles=ProfileService(repos.profiles, repos.audit),
        editors=editors,
        accounts=Accounts(
            editors,
            revocations,
            ResetLinks(redis),
            mailer(settings),
            reset_url=lambda token: f"{settings.newsroom_home()}password/{token}",
            reset_ttl_s=settings.reset_link_ttl_s,
        ),
        library=MediaLibrary(media, repos.audit),
        ingest=ingest,
        polls=PollsClient(settings.polls_url, codec.issue),
        preview=FeedPreview(
            settings.feed_url or settings.site_url,
            settings.token_private_key.get_secret_value(),
            timeout_s=settings.ingest_timeout_s,
        ),
    )


def mailer(settings: PublisherSettings) -> Mailer:
    return Mailer(
        host=settings.smtp_host,
        port=settings.smtp_port,
        sender=settings.smtp_from,
        user=settings.smtp_user,
        password=settings.smtp_password,
        starttls=settings.smtp_starttls,
    )


def editor_service(
    settings: PublisherSettings,
    repos: Repositories,
    codec: TokenIssuer,
    redis: RedisClient | None,
) -> EditorService:
    """Editors' accounts; logins limited in Redis (none without ``redis``: the CLI)."""
    passwords = Passwords(
        memory_kib=settings.password_memory_kib,
        time_cost=settings.password_time_cost,
        parallelism=settings.password_parallelism,
        concurrency=settings.password_hash_concurrency or None,
    )
    throttle = None
    if redis is not None:
        throttle = LoginThrottle(
            redis,
            per_email_address=settings.login_rate_limit,
            per_address=settings.login_address_rate_limit,
            per_account=settings.login_account_rate_limit,
            window_s=settings.login_rate_window_s,
            known_for_s=settings.login_known_address_days * 86_400,
        )
    return EditorService(repos.editors, repos.audit, codec, passwords, throttle)


def create_app(
    settings: PublisherSettings,
    *,
    bus: EventBus | None = None,
    mongo: MongoClient | None = None,
    newsroom_pages: tuple[PageRouter, ...] = (),
) -> Starlette:
    """The publisher's app: the API, and the newsroom under ``settings.newsroom_path``
    (``newsroom_pages``: routers of more pages, for tests)."""
    mongo = mongo or settings.mongo_client()
    bus = bus or settings.event_bus("publisher")
    redis = settings.redis_client()
    parts = build(settings, mongo, bus, redis)
    scheduler = Scheduler(parts.articles, settings.scheduler_interval_s)
    wire(bus, parts.inbox, parts.comments, parts.letters)
    api = OpenAPI(
        "Xabar publisher", "1.0.0", "the editorial inbox, articles, workflow and publishing"
    )

    async def rebuild_index() -> None:
        try:
            count = await parts.repos.articles.rebuild_index()
            log.info("article list index rebuilt", extra={"articles": count})
        except Exception:
            log.exception("article list index not rebuilt; it repairs on the next start")
        try:
            count = await parts.repos.inbox.rebuild_tips()
            log.info("inbox index rebuilt", extra={"tips": count})
        except Exception:
            log.exception("inbox index not rebuilt; it repairs on the next start")
        try:
            count = await parts.repos.media.rebuild_library()
            log.info("media library list rebuilt", extra={"images": count})
        except Exception:
            log.exception("media library list not rebuilt; it repairs on the next start")

    deps = parts.deps()
    newsroom = newsroom_site.build(
        settings,
        deps,
        sessions=SessionStore(
            redis,
            idle_s=settings.session_idle_s,
            absolute_s=settings.session_absolute_s,
            revocations=deps.accounts.revocations,
        ),
        tips=TipIndex(redis),
        streams=functools.partial(streams_report, redis),
        extra=newsroom_pages,
    )

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await bus.start()
        indexing: list[asyncio.Task[None]] = []
        try:
            await parts.start_relays()
            if settings.scheduler_enabled:
                await scheduler.start()
            indexing.append(asyncio.create_task(rebuild_index(), name="publisher-index-rebuild"))
            indexing.append(asyncio.create_task(parts.rebuild_queues(), name="publisher-queues"))
            yield
        finally:
            # a rebuild is a bounded scan: let it finish (cancelling PyMongo mid-call can break
            # its client's locks, and then closing the client hangs); cancel only past a bound
            if indexing:
                await asyncio.wait(indexing, timeout=REBUILD_GRACE_S)
            await cancel_and_wait(indexing)
            await scheduler.stop()
            await parts.stop_relays()
            await bus.stop()
            await newsroom.aclose()
            await parts.ingest.aclose()
            await parts.preview.aclose()
            await parts.polls.aclose()
            await redis.aclose()
            await mongo.close()

    api.include(*ROUTERS)
    routes = [
        *service_routes(api, bus, redis=redis, mongo=mongo),
        *api_routes(),
        *newsroom_site.routes(settings, newsroom_pages),
    ]
    app = service_app(
        routes=routes,
        lifespan=lifespan,
        exception_handlers=pages_first(exception_handlers()),
        pages=NEWSROOM_POLICY,
    )
    app.state.publisher = parts
    app.state.deps = deps
    app.state.newsroom = newsroom
    app.state.scheduler = scheduler
    return app
