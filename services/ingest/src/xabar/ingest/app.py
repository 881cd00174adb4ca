"""Composition root of the ingest service."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import redis.asyncio as aioredis
from pymongo import AsyncMongoClient
from starlette.applications import Starlette
from starlette.routing import Route

from xabar.ingest import routes
from xabar.ingest.config import IngestSettings
from xabar.ingest.deps import Deps, Throttle
from xabar.ingest.forms import FormSigner
from xabar.ingest.handlers import wire
from xabar.ingest.intake import Intake, Mover
from xabar.ingest.media import AttachmentStore
from xabar.ingest.pages import Pages
from xabar.ingest.relay import SubmissionRelay
from xabar.ingest.repository import AttachmentRepository, SubmissionRepository
from xabar.ingest.routes.html import PAGES
from xabar.ingest.service import IngestService
from xabar.runtime.app import service_app, standard_routes
from xabar.runtime.asyncapi import asyncapi_routes
from xabar.runtime.auth import TokenCodec
from xabar.runtime.bus import EventBus
from xabar.runtime.health import mongo_check, redis_check
from xabar.runtime.mongo import mongo_client
from xabar.runtime.openapi import OpenAPI
from xabar.runtime.ratelimit import RateLimiter
from xabar.runtime.redispipe import RedisPipe

log = logging.getLogger("xabar.ingest")


def create_app(
    settings: IngestSettings,
    *,
    bus: EventBus | None = None,
    mongo: AsyncMongoClient[dict[str, Any]] | None = None,
) -> Starlette:
    owns_mongo = mongo is None
    mongo = mongo or mongo_client(settings.mongodb_url, settings.mongo_durability())
    bus = bus or EventBus(
        settings.redis,
        consumer_name=settings.consumer_name,
        options=settings.bus_options(),
        name="ingest",
    )
    redis = settings.redis_client()
    pipe = settings.redis_pipe()  # the accepts and their rate limit
    db = mongo[settings.mongodb_db]

    repository = SubmissionRepository(db, settings.storage_timeout_s)
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
        AttachmentRepository(AttachmentStore(db), settings.storage_timeout_s),
        intake,
        on_stored=relay.kick if settings.relay_enabled else _hold,
    )
    wire(bus, service)
    deps = _deps(settings, service, redis, pipe)
    api = OpenAPI("Xabar ingest", "1.0.0", "citizen reporters' tips and photos, durably accepted")
    routes.document(api)

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

    served = [
        *standard_routes({"redis": redis_check(redis), "mongodb": mongo_check(mongo)}),
        Route("/openapi.json", api.endpoint, include_in_schema=False),
        *asyncapi_routes(bus, api),
        *routes.routes(),
    ]
    app = service_app(
        routes=served,
        lifespan=lifespan,
        exception_handlers=routes.exception_handlers(),
        pages=PAGES,
    )
    app.state.deps = deps
    app.state.service = service
    app.state.relay = relay
    app.state.mover = mover
    app.state.openapi = api
    return app


def _deps(
    settings: IngestSettings, service: IngestService, redis: aioredis.Redis, pipe: RedisPipe
) -> Deps:
    def throttle(name: str, limit: int, window_s: int, what: str) -> Throttle:
        return Throttle(RateLimiter(redis, f"xabar:ingest:rl:{name}", limit, window_s, pipe), what)

    secret = settings.address_salt.get_secret_value().encode()
    return Deps(
        settings=settings,
        service=service,
        pages=Pages(),
        signer=FormSigner(
            secret, min_fill_s=settings.form_min_fill_s, max_age_s=settings.form_max_age_s
        ),
        submit_limit=throttle(
            "submit", settings.submit_rate_limit, settings.submit_rate_window_s, "submissions"
        ),
        lookup_limit=throttle(
            "lookup", settings.lookup_rate_limit, settings.lookup_rate_window_s, "look-ups"
        ),
        codec=TokenCodec(settings.jwt_secret.get_secret_value()),
        trusted=settings.trusted_networks(),
    )


def _hold(_: str) -> None:
    """With the relay disabled, events stored without Redis wait in their outbox."""
