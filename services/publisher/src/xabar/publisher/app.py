"""Composition root of the publisher service."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import redis.asyncio as aioredis
from pymongo import AsyncMongoClient
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from xabar.publisher.config import PublisherSettings
from xabar.publisher.routes import api_routes
from xabar.runtime.app import standard_routes
from xabar.runtime.bus import EventBus
from xabar.runtime.health import mongo_check, redis_check
from xabar.runtime.http import error_handlers
from xabar.runtime.metrics import MetricsMiddleware
from xabar.runtime.mongo import mongo_client
from xabar.runtime.openapi import OpenAPI


def create_app(
    settings: PublisherSettings,
    *,
    bus: EventBus | None = None,
    mongo: AsyncMongoClient[dict[str, Any]] | None = None,
) -> Starlette:
    mongo = mongo or mongo_client(settings.mongodb_url)
    bus = bus or EventBus(
        settings.redis_url, consumer_name=settings.consumer_name, options=settings.bus_options()
    )
    redis = aioredis.from_url(settings.redis_url)
    api = OpenAPI("Xabar publisher", "1.0.0", "the editorial inbox, articles, workflow and publishing")

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await bus.start()
        try:
            yield
        finally:
            await bus.stop()
            await redis.aclose()
            await mongo.close()

    routes = [
        *standard_routes({"redis": redis_check(redis), "mongodb": mongo_check(mongo)}),
        Route("/openapi.json", api.endpoint, include_in_schema=False),
        *api_routes(api),
    ]
    return Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(MetricsMiddleware)],
        exception_handlers=error_handlers(),
    )
