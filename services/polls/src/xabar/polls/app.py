"""Composition root of the polls service."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware

from xabar.polls import routes
from xabar.polls.bootstrap import build, redis_client
from xabar.polls.config import PollsSettings
from xabar.polls.deps import Deps
from xabar.polls.handlers import declare_channels
from xabar.polls.pagecache import ReaderPages
from xabar.polls.pages import Pages
from xabar.polls.routes.errors import exception_handlers
from xabar.polls.routes.fastlane import FastLane
from xabar.polls.service import PollService
from xabar.polls.views import Receipts
from xabar.polls.voters import Identities, VoterCookies
from xabar.runtime.app import service_app, service_routes
from xabar.runtime.bus import EventBus
from xabar.runtime.config import RedisClient
from xabar.runtime.mongo import MongoClient
from xabar.runtime.openapi import OpenAPI
from xabar.runtime.security import OriginCheck, PagePolicy
from xabar.runtime.workers import Worker


def deps_of(
    settings: PollsSettings, polls_service: PollService, redis: RedisClient, policy: PagePolicy
) -> Deps:
    cookies = VoterCookies(
        settings.cookie_secret.get_secret_value(),
        name=settings.cookie_name,
        max_age_s=settings.cookie_max_age_s,
        secure=settings.cookie_secure,
    )
    pages = Pages(
        timezone=settings.display_timezone,
        public_url=settings.public_url,
        site_url=settings.site_url,
    )
    return Deps(
        service=polls_service,
        identities=Identities(
            cookies, settings.proxy_networks(), settings.address_salt.get_secret_value()
        ),
        tokens=settings.token_verifier(redis),
        pages=pages,
        receipts=Receipts(),
        reader_pages=ReaderPages(pages, polls_service, headers=policy.headers()),
        origins=OriginCheck(settings.vote_origins()),
        site_url=settings.site_url,
        page_size_max=settings.page_size_max,
    )


def create_app(
    settings: PollsSettings,
    *,
    bus: EventBus | None = None,
    mongo: MongoClient | None = None,
    redis: RedisClient | None = None,
) -> Starlette:
    mongo = mongo or settings.mongo_client()
    bus = bus or settings.event_bus("polls")
    declare_channels(bus)
    redis = redis or redis_client(settings)
    pipe = settings.redis_pipe()  # votes are counted on it
    polls = build(settings, redis=redis, mongo=mongo, publish=bus.publish, pipe=pipe)
    api = OpenAPI("Xabar polls", "1.0.0", "Reader polls and an exact vote counter")
    api.include(*routes.ROUTERS)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await bus.start()
        try:
            await polls.start()
            app.state.polls = polls
            refresher.start()
            yield
        finally:
            await refresher.stop()
            await polls.stop()
            await bus.stop()
            await polls.close()

    handlers = exception_handlers()
    # a vote from the feed's page is redirected back to it: form-action must allow the site
    pages = PagePolicy().with_(
        style_src="'unsafe-inline'", form_action=f"'self' {settings.site_url}"
    )
    deps = deps_of(settings, polls.service, redis, pages)
    refresher = Worker(
        "polls-pages-refresh",
        deps.reader_pages.refresh,
        interval=settings.pages_refresh_ms / 1000,
        max_backoff=1.0,
    )
    app = service_app(
        routes=[
            *routes.routes(),
            *service_routes(api, bus, redis=redis, mongo=mongo),
        ],
        lifespan=lifespan,
        middleware=[
            # the vote takes no token (FastLane refuses a secured operation), so it goes before
            # the revocation check, which would only look for a bearer token it never reads
            Middleware(FastLane, operation=routes.HOT_PATH, handlers=handlers),
        ],
        tokens=deps.tokens,
        exception_handlers=handlers,
        pages=pages,
    )
    app.state.deps = deps
    return app
