"""Composition root of the feed service."""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
from pymongo import AsyncMongoClient
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from xabar.contracts import ARTICLES_STREAM, GROUP_FEED, POLLS_STREAM
from xabar.feed.api import JsonApi
from xabar.feed.cache import PageCache, RevisionWatcher
from xabar.feed.config import FeedSettings
from xabar.feed.fastpath import FastPath
from xabar.feed.feeds import Feeds
from xabar.feed.pages import Pages, templates
from xabar.feed.projector import ARTICLE_TYPES, POLL_TYPES, Projector
from xabar.feed.repository import ReadModel
from xabar.feed.routes import Site, hot_paths, paged_paths, site_routes
from xabar.runtime.app import standard_routes
from xabar.runtime.bus import EventBus
from xabar.runtime.health import redis_check
from xabar.runtime.http import error_handlers
from xabar.runtime.metrics import MetricsMiddleware
from xabar.runtime.openapi import OpenAPI


def create_app(
    settings: FeedSettings,
    *,
    bus: EventBus | None = None,
    mongo: AsyncMongoClient[dict[str, Any]] | None = None,
    clock: Callable[[], datetime] | None = None,
) -> Starlette:
    """The feed app. Its whole read model lives in Redis (``feed:*``): it uses no MongoDB; a
    ``mongo`` client handed in is only closed at shutdown."""
    bus = bus or EventBus(
        settings.redis_url, consumer_name=settings.consumer_name, options=settings.bus_options()
    )
    now = clock or (lambda: datetime.now(UTC))
    redis = aioredis.from_url(settings.redis_url)
    cache = PageCache(settings.page_cache_entries)
    read_model = ReadModel(redis)
    projector = Projector(redis, on_revision=cache.observe)
    if settings.projector:
        # many events per round trip; each acked only once applied (see EventBus.subscribe_batch)
        bus.subscribe_batch(
            ARTICLES_STREAM, GROUP_FEED, projector.handle_batch, types=ARTICLE_TYPES
        )
        bus.subscribe_batch(POLLS_STREAM, GROUP_FEED, projector.handle_batch, types=POLL_TYPES)
    watcher = RevisionWatcher(redis, cache, interval=settings.revision_poll_ms / 1000)
    env = templates()
    site = Site(
        settings=settings,
        cache=cache,
        pages=Pages(settings, read_model, env, now),
        feeds=Feeds(settings, read_model, env, now),
        api=JsonApi(settings, read_model, now),
    )
    api = OpenAPI(
        "Xabar feed",
        "1.0.0",
        "The readers' site: front page, news list, sections, articles, polls, feeds (RSS, Atom, "
        "JSON Feed) and this JSON API over the same read model.",
    )

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

    routes = [
        *standard_routes({"redis": redis_check(redis)}),
        Route("/openapi.json", api.endpoint, include_in_schema=False),
        *site_routes(site, api),
    ]
    return Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[
            Middleware(
                FastPath, cache=cache, hot=hot_paths(site.feeds), paged=paged_paths(site.feeds)
            ),
            Middleware(MetricsMiddleware),
        ],
        exception_handlers=error_handlers(),
    )
