"""Composition root of the feed service."""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from starlette.applications import Starlette
from starlette.middleware import Middleware

from xabar.feed.api import JsonApi
from xabar.feed.cache import PageCache, RevisionWatcher
from xabar.feed.config import FeedSettings
from xabar.feed.fastpath import FastPath
from xabar.feed.feeds import Feeds
from xabar.feed.handlers import wire
from xabar.feed.pages import Pages, page_policy, templates
from xabar.feed.projector import Projector
from xabar.feed.repository import ReadModel, Revisions
from xabar.feed.routes import ROUTERS as FEED_ROUTERS
from xabar.feed.routes import Deps, exception_handlers, routes
from xabar.feed.routes.assets import load_assets, robots
from xabar.runtime.app import service_app, service_routes
from xabar.runtime.bus import EventBus
from xabar.runtime.mongo import MongoClient
from xabar.runtime.openapi import OpenAPI


def create_app(
    settings: FeedSettings,
    *,
    bus: EventBus | None = None,
    mongo: MongoClient | None = None,
    clock: Callable[[], datetime] | None = None,
) -> Starlette:
    """The feed app. Its whole read model lives in Redis (``feed:*``): it uses no MongoDB; a
    ``mongo`` client handed in is only closed at shutdown."""
    bus = bus or settings.event_bus("feed")
    now = clock or (lambda: datetime.now(UTC))
    redis = settings.redis_client()
    cache = PageCache(
        settings.page_cache_entries,
        max_bytes=settings.page_cache_mb << 20,
        variant_entries=settings.vote_variants,
        variant_bytes=settings.vote_variants_mb << 20,
    )
    read_model = ReadModel(redis)
    projector = Projector(redis, on_revision=cache.observe)
    if settings.projector:
        wire(bus, projector)
    watcher = RevisionWatcher(Revisions(redis), cache, interval=settings.revision_poll_ms / 1000)
    policy = page_policy(settings)
    env = templates()
    feeds = Feeds(settings, read_model, now, env=env)
    deps = Deps(
        settings=settings,
        cache=cache,
        pages=Pages(settings, read_model, now, env=env, policy=policy, revisions=cache),
        feeds=feeds,
        api=JsonApi(settings, read_model, now),
        assets=load_assets(),
        robots=robots(feeds),
    )
    api = OpenAPI(
        "Xabar feed",
        "1.0.0",
        "The readers' site: front page, news list, sections, articles, polls, feeds (RSS, Atom, "
        "JSON Feed) and this JSON API over the same read model.",
    )
    api.include(*FEED_ROUTERS)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.projector = projector
        app.state.cache = cache
        await watcher.start()
        await bus.start()
        try:
            yield
        finally:
            await bus.stop()
            await watcher.stop()
            await redis.aclose()
            if mongo is not None:
                await mongo.close()

    app = service_app(
        # first: the site's catch-all routes (sections) would take them; readiness asks Redis
        # only, the feed keeps nothing in MongoDB
        routes=[*service_routes(api, bus, redis=redis, mongo=None), *routes()],
        lifespan=lifespan,
        # cached pages carry the policy's headers already (Pages renders them in)
        outermost=[Middleware(FastPath, cache=cache)],
        exception_handlers=exception_handlers(),
        pages=policy,
    )
    app.state.deps = deps
    return app
