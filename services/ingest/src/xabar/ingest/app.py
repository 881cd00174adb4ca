"""Composition root of the ingest service."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import redis.asyncio as aioredis
from pymongo import AsyncMongoClient
from starlette.applications import Starlette
from starlette.routing import Route

from xabar.contracts import GROUP_INGEST, REVIEWS_STREAM, SubmissionReviewed
from xabar.ingest.config import IngestSettings
from xabar.ingest.forms import FormSigner
from xabar.ingest.handlers import review_handler
from xabar.ingest.intake import Intake, Mover
from xabar.ingest.media import AttachmentStore
from xabar.ingest.pages import Pages
from xabar.ingest.relay import SubmissionRelay
from xabar.ingest.repository import SubmissionRepository
from xabar.ingest.routes import RouteDeps, api_routes, declare_standard_routes
from xabar.ingest.service import IngestService
from xabar.runtime.app import service_app, standard_routes
from xabar.runtime.auth import TokenCodec
from xabar.runtime.bus import EventBus
from xabar.runtime.health import mongo_check, redis_check
from xabar.runtime.http import error_handlers
from xabar.runtime.mongo import mongo_client
from xabar.runtime.openapi import OpenAPI
from xabar.runtime.ratelimit import RateLimiter
from xabar.runtime.redispipe import RedisPipe
from xabar.runtime.security import PagePolicy

log = logging.getLogger("xabar.ingest")


def create_app(
    settings: IngestSettings,
    *,
    bus: EventBus | None = None,
    mongo: AsyncMongoClient[dict[str, Any]] | None = None,
) -> Starlette:
    owns_mongo = mongo is None
    mongo = mongo or mongo_client(settings.mongodb_url)
    bus = bus or EventBus(
        settings.redis_url, consumer_name=settings.consumer_name, options=settings.bus_options()
    )
    redis = aioredis.from_url(settings.redis_url)
    pipe = RedisPipe(settings.redis_url)  # the accepts and their rate limit
    db = mongo[settings.mongodb_db]
    secret = settings.address_salt.get_secret_value().encode()

    repository = SubmissionRepository(db)
    relay = SubmissionRelay(
        repository.submissions,
        repository.pending,
        bus.publish,
        sweep_interval=settings.relay_sweep_s,
    )
    intake = Intake(pipe)
    mover = Mover(
        redis,
        intake,
        repository.submissions,
        bus,
        consumer=settings.consumer_name,
        batch=settings.intake_batch,
        interval=settings.intake_interval_s,
        claim_idle_ms=settings.claim_idle_ms,
        max_deliveries=settings.max_deliveries,
    )
    service = IngestService(
        settings,
        repository,
        AttachmentStore(db),
        intake,
        on_stored=relay.kick if settings.relay_enabled else _hold,
    )
    bus.subscribe(
        REVIEWS_STREAM, GROUP_INGEST, review_handler(service), types=[SubmissionReviewed.TYPE]
    )
    deps = RouteDeps(
        settings=settings,
        service=service,
        pages=Pages(),
        signer=FormSigner(
            secret, min_fill_s=settings.form_min_fill_s, max_age_s=settings.form_max_age_s
        ),
        submit_limiter=RateLimiter(
            redis,
            "xabar:ingest:rl:submit",
            settings.submit_rate_limit,
            settings.submit_rate_window_s,
            pipe,
        ),
        lookup_limiter=RateLimiter(
            redis,
            "xabar:ingest:rl:lookup",
            settings.lookup_rate_limit,
            settings.lookup_rate_window_s,
            pipe,
        ),
        codec=TokenCodec(settings.jwt_secret.get_secret_value()),
    )
    api = OpenAPI("Xabar ingest", "1.0.0", "citizen reporters' tips and photos, durably accepted")
    declare_standard_routes(api)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await bus.start()
        if settings.relay_enabled:
            await mover.ensure_group()
            await mover.start()
            await relay.start()
        else:
            log.warning(
                "relay disabled: accepted submissions wait in the intake, and submissions "
                "stored without Redis in their outbox"
            )
        try:
            yield
        finally:
            await mover.stop()
            await relay.stop()
            await bus.stop()
            await pipe.aclose()
            await redis.aclose()
            if owns_mongo:
                await mongo.close()

    routes = [
        *standard_routes({"redis": redis_check(redis), "mongodb": mongo_check(mongo)}),
        Route("/openapi.json", api.endpoint, include_in_schema=False),
        *api_routes(api, deps),
    ]
    app = service_app(
        routes=routes,
        lifespan=lifespan,
        exception_handlers=error_handlers(),
        pages=PagePolicy().with_(style_src="'unsafe-inline'"),
    )
    app.state.service = service
    app.state.relay = relay
    app.state.mover = mover
    app.state.openapi = api
    return app


def _hold(_: str) -> None:
    """With the relay disabled, events stored without Redis wait in their outbox."""
