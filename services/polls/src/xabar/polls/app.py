"""Composition root of the polls service."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from pymongo import AsyncMongoClient
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from xabar.polls.apidoc import PollsOpenAPI
from xabar.polls.bootstrap import build, redis_client
from xabar.polls.config import PollsSettings
from xabar.polls.fastvote import FastVotes
from xabar.polls.handlers import declare_channels
from xabar.polls.pages import Pages
from xabar.polls.routes import Context, api_routes
from xabar.polls.voters import Identities, VoterCookies
from xabar.runtime.app import service_app, standard_routes
from xabar.runtime.asyncapi import asyncapi_routes
from xabar.runtime.auth import TokenCodec
from xabar.runtime.bus import EventBus
from xabar.runtime.health import mongo_check, redis_check
from xabar.runtime.http import error_handlers
from xabar.runtime.mongo import mongo_client
from xabar.runtime.redispipe import RedisPipe
from xabar.runtime.security import PagePolicy


def create_app(
    settings: PollsSettings,
    *,
    bus: EventBus | None = None,
    mongo: AsyncMongoClient[dict[str, Any]] | None = None,
    redis: Redis | None = None,
) -> Starlette:
    mongo = mongo or mongo_client(settings.mongodb_url)
    bus = bus or EventBus(
        settings.redis_url,
        consumer_name=settings.consumer_name,
        options=settings.bus_options(),
        name="polls",
    )
    declare_channels(bus)
    redis = redis or redis_client(settings)
    pipe = RedisPipe(settings.redis_url)  # votes are counted on it
    polls = build(settings, redis=redis, mongo=mongo, publish=bus.publish, pipe=pipe)
    api = PollsOpenAPI("Xabar polls", "1.0.0", "Reader polls and an exact vote counter")
    cookies = VoterCookies(
        settings.cookie_secret.get_secret_value(),
        name=settings.cookie_name,
        max_age_s=settings.cookie_max_age_s,
        secure=settings.cookie_secure,
    )
    context = Context(
        service=polls.service,
        identities=Identities(
            cookies, settings.proxy_networks(), settings.address_salt.get_secret_value()
        ),
        tokens=TokenCodec(settings.jwt_secret.get_secret_value()),
        pages=Pages(
            timezone=settings.display_timezone,
            public_url=settings.public_url,
            site_url=settings.site_url,
        ),
        site_url=settings.site_url,
        page_size_max=settings.page_size_max,
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await bus.start()
        try:
            await polls.start()
            app.state.polls = polls
            yield
        finally:
            await polls.stop()
            await bus.stop()
            await pipe.aclose()
            await redis.aclose()
            await mongo.close()

    routes = [
        *standard_routes({"redis": redis_check(redis), "mongodb": mongo_check(mongo)}),
        Route("/openapi.json", api.endpoint, include_in_schema=False),
        *asyncapi_routes(bus, api),
        *api_routes(api, context),
    ]
    # a vote from the feed's page is redirected back to it: form-action must allow the site
    pages = PagePolicy().with_(
        style_src="'unsafe-inline'", form_action=f"'self' {settings.site_url}"
    )
    return service_app(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(FastVotes, ctx=context)],
        exception_handlers=error_handlers(),
        pages=pages,
    )
