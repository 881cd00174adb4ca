"""Composition root of the ingest service."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette

from xabar.ingest import routes
from xabar.ingest.addresses import binding_hasher, comments_hasher, tips_hasher
from xabar.ingest.config import IngestSettings
from xabar.ingest.deps import Deps, Throttle
from xabar.ingest.forms import FormSigner
from xabar.ingest.gates import MemoryGate
from xabar.ingest.handlers import wire
from xabar.ingest.intake import PREFIX, Intake, Mover
from xabar.ingest.media import AttachmentStore
from xabar.ingest.pages import Pages
from xabar.ingest.readers import Kind, ReadersService
from xabar.ingest.relay import SubmissionRelay
from xabar.ingest.repository import (
    AttachmentRepository,
    DocumentRepository,
    SubmissionRepository,
)
from xabar.ingest.routes.html import PAGES
from xabar.ingest.sealing import Sealer, public_key
from xabar.ingest.service import IngestService
from xabar.runtime.app import service_app, service_routes
from xabar.runtime.bus import EventBus
from xabar.runtime.config import RedisClient
from xabar.runtime.mongo import Collection, Database, MongoClient
from xabar.runtime.openapi import OpenAPI
from xabar.runtime.ratelimit import RateLimiter
from xabar.runtime.redispipe import RedisPipe
from xabar.runtime.security import OriginCheck
from xabar.runtime.workers import Step, Worker

log = logging.getLogger("xabar.ingest")


def create_app(
    settings: IngestSettings,
    *,
    bus: EventBus | None = None,
    mongo: MongoClient | None = None,
) -> Starlette:
    owns_mongo = mongo is None
    mongo = mongo or settings.mongo_client()
    bus = bus or settings.event_bus("ingest")
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
    mover = _mover(
        settings, redis, intake, repository.submissions, bus, on_moved=repository.index_receipts
    )
    service = IngestService(
        settings,
        repository,
        AttachmentRepository(AttachmentStore(db), settings.storage_timeout_s),
        intake,
        Sealer(public_key(settings.newsroom_public_key)),
        on_stored=relay.kick if settings.relay_enabled else _hold,
    )
    wire(bus, service)
    # every replica erases due contacts (and once at start): an erasure is idempotent
    eraser = Worker("ingest-contact-erasure", _erase(service), interval=settings.erase_interval_s)
    readers, reader_movers = _readers(settings, redis, pipe, db, bus)
    movers = [mover, *reader_movers]
    deps = _deps(settings, service, readers, redis, pipe)
    api = OpenAPI(
        "Xabar ingest",
        "1.0.0",
        "what readers send, durably accepted: citizen reporters' tips and photos, comments, "
        "letters to the editors",
    )
    routes.document(api)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await bus.start()
        if settings.relay_enabled:
            for each in movers:
                await each.ensure_group()
                await each.start()
            await relay.start()
            eraser.start()
        else:
            log.warning(
                "relay disabled: accepted submissions wait in the intake, and submissions "
                "stored without Redis in their outbox"
            )
        try:
            yield
        finally:
            for each in movers:
                await each.stop()
            await eraser.stop()
            await relay.stop()
            await bus.stop()
            service.decodes.close()
            await pipe.aclose()
            await redis.aclose()
            if owns_mongo:
                await mongo.close()

    served = [
        *service_routes(api, bus, redis=redis, mongo=mongo),
        *routes.routes(),
    ]
    app = service_app(
        routes=served,
        lifespan=lifespan,
        exception_handlers=routes.exception_handlers(),
        tokens=deps.codec,
        pages=PAGES,
    )
    app.state.deps = deps
    app.state.service = service
    app.state.relay = relay
    app.state.mover = mover
    app.state.readers = readers
    app.state.comments_mover, app.state.letters_mover = reader_movers
    app.state.openapi = api
    return app


def _mover(
    settings: IngestSettings,
    redis: RedisClient,
    intake: Intake,
    collection: Collection,
    bus: EventBus,
    **kw: Any,
) -> Mover:
    return Mover(
        redis,
        intake,
        collection,
        bus,
        consumer=settings.consumer_name,
        batch=settings.intake_batch,
        interval=settings.intake_interval_s,
        claim_idle_ms=settings.claim_idle_ms,
        max_deliveries=settings.max_deliveries,
        **kw,
    )


def _readers(
    settings: IngestSettings,
    redis: RedisClient,
    pipe: RedisPipe,
    db: Database,
    bus: EventBus,
) -> tuple[ReadersService, list[Mover]]:
    """Comments and letters: an intake and a mover each (see ``readers``)."""
    kinds, movers = [], []
    for name, collection in (("comment", "comments"), ("letter", "letters")):
        intake = Intake(pipe, f"{PREFIX}:{collection}")
        kinds.append(
            Kind(name, intake, DocumentRepository(db[collection], settings.storage_timeout_s))
        )
        movers.append(_mover(settings, redis, intake, db[collection], bus, identity="event_id"))
    sealer = Sealer(public_key(settings.newsroom_public_key))
    return ReadersService(settings, kinds[0], kinds[1], sealer), movers


def _deps(
    settings: IngestSettings,
    service: IngestService,
    readers: ReadersService,
    redis: RedisClient,
    pipe: RedisPipe,
) -> Deps:
    def throttle(name: str, limit: int, window_s: int, what: str) -> Throttle:
        return Throttle(RateLimiter(redis, f"xabar:ingest:rl:{name}", limit, window_s, pipe), what)

    secret = settings.address_salt.get_secret_value().encode()
    return Deps(
        settings=settings,
        service=service,
        readers=readers,
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
        comment_limit=throttle(
            "comment", settings.comment_rate_limit, settings.comment_rate_window_s, "comments"
        ),
        letter_limit=throttle(
            "letter", settings.letter_rate_limit, settings.letter_rate_window_s, "letters"
        ),
        codec=settings.token_verifier(redis),
        trusted=settings.trusted_networks(),
        tips_hash=tips_hasher(secret),
        comments_hash=comments_hasher(secret),
        binding_hash=binding_hasher(secret),
        uploads=MemoryGate(
            settings.max_upload_bytes, 10_000, settings.memory_wait_s, what="uploads"
        ),
        origins=OriginCheck(settings.our_origins()),
    )


def _hold(_: str) -> None:
    """With the relay disabled, events stored without Redis wait in their outbox."""


def _erase(service: IngestService) -> Step:
    async def step() -> None:
        await service.erase_contacts()

    return step
