"""Fixtures of the publisher's tests: the app in-process against the real Redis and FerretDB,
tokens of every role, a fake ingest photo endpoint on a local port, stream readers."""

import asyncio
import base64
import hashlib
import io
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
import pytest
import redis.asyncio as aioredis
import uvicorn
from nacl.public import PrivateKey
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.conftest import TokenKeys
from tests.support.infra import Infra
from tests.support.serving import in_own_task
from tests.support.waiting import eventually
from xabar.contracts import (
    ARTICLES_STREAM,
    AggregateEvent,
    AttachmentRef,
    Contact,
    Event,
    Submission,
    SubmissionReceived,
)
from xabar.publisher.app import Publisher, create_app
from xabar.publisher.config import PublisherSettings
from xabar.runtime.auth import Principal, Role, TokenIssuer, TokenVerifier
from xabar.runtime.bus import EventBus, entry_event
from xabar.runtime.localinfra import free_port

SettingsFactory = Callable[..., PublisherSettings]
# the newsroom's key pair: ingest seals reporters' contacts to the public key, the publisher
# opens them with the private one
NEWSROOM_KEY = PrivateKey.generate()
NEWSROOM_PRIVATE_KEY = base64.b64encode(bytes(NEWSROOM_KEY)).decode()
NEWSROOM_PUBLIC_KEY = base64.b64encode(bytes(NEWSROOM_KEY.public_key)).decode()


async def stream_events(redis: aioredis.Redis, stream: str = ARTICLES_STREAM) -> list[Event]:
    """Every event on ``stream``, in order, read straight from Redis as the bus reads them."""
    return [entry_event(fields) for _, fields in await redis.xrange(stream)]


def attachment_ref(attachment_id: str, data: bytes) -> AttachmentRef:
    """The reference a tip carries to its photo ``data`` (a 64×48 JPEG) stored in ingest."""
    return AttachmentRef(
        attachment_id=attachment_id,
        content_type="image/jpeg",
        size=len(data),
        width=64,
        height=48,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def jpeg(width: int = 64, height: int = 48, color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "JPEG", quality=80)
    return out.getvalue()


def env_of(settings: PublisherSettings) -> dict[str, str]:
    """The settings as the environment of a subprocess."""
    values = {
        "REDIS_URL": settings.redis_url,
        "MONGODB_URL": settings.mongodb_url,
        "MONGODB_DB": settings.mongodb_db,
        "TOKEN_PRIVATE_KEY": settings.token_private_key.get_secret_value(),
        "NEWSROOM_PRIVATE_KEY": settings.newsroom_private_key.get_secret_value(),
        "CONSUMER_NAME": settings.consumer_name,
        "CLAIM_IDLE_MS": str(settings.claim_idle_ms),
        "SCHEDULER_INTERVAL_S": str(settings.scheduler_interval_s),
        "RELAY_SWEEP_S": str(settings.relay_sweep_s),
        "LOCK_STALE_S": str(settings.lock_stale_s),
        "INGEST_URL": settings.ingest_url,
        "SITE_URL": settings.site_url,
        "PUBLIC_URL": settings.public_url,
        "LOG_JSON": "false",
        "LOG_LEVEL": "INFO",
    }
    return {f"XABAR_PUBLISHER_{k}": v for k, v in values.items()}


async def publisher_cli(
    settings: PublisherSettings, *args: str
) -> subprocess.CompletedProcess[str]:
    """``python -m xabar.publisher`` with ``args`` as a subprocess on ``settings`` (``env_of``),
    run off the event loop: its output and its exit code."""
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "xabar.publisher", *args],
        env={**os.environ, **env_of(settings)},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def publisher_settings(
    infra: Infra,
    redis_url: str,
    db: str,
    keys: TokenKeys,
    consumer_name: str = "publisher-test",
    **overrides: Any,
) -> PublisherSettings:
    """A publisher's settings for tests on ``infra`` (database ``db``), quick to sweep and claim;
    ``overrides``: any of them."""
    values: dict[str, Any] = {
        "redis_url": redis_url,
        "mongodb_url": infra.mongo_url,
        "mongodb_db": db,
        "token_private_key": keys.private,
        "newsroom_private_key": NEWSROOM_PRIVATE_KEY,
        "consumer_name": consumer_name,
        "claim_idle_ms": 200,
        "relay_sweep_s": 0.3,
        "scheduler_interval_s": 0.2,
        "site_url": "http://site.test",
        "public_url": "http://publisher.test",
        "log_json": False,
        **overrides,
    }
    return PublisherSettings(**values)


@pytest.fixture
def make_settings(
    infra: Infra, redis_url: str, mongo_db_name: str, token_keys: TokenKeys
) -> SettingsFactory:
    def make(**overrides: Any) -> PublisherSettings:
        return publisher_settings(infra, redis_url, mongo_db_name, token_keys, **overrides)

    return make


@dataclass
class Harness:
    app: Starlette
    client: httpx.AsyncClient
    parts: Publisher
    settings: PublisherSettings
    codec: TokenIssuer

    def token(
        self, role: Role = Role.EDITOR, editor_id: str | None = None, name: str = "Тест"
    ) -> str:
        return self.codec.issue(Principal(editor_id or f"{role.value}-1", name, role))

    def auth(self, role: Role = Role.EDITOR, editor_id: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role, editor_id)}"}


@asynccontextmanager
async def running(settings: PublisherSettings, **app_kw: Any) -> AsyncIterator[Harness]:
    app = create_app(settings, **app_kw)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://publisher.test"
        ) as client,
    ):
        yield Harness(
            app,
            client,
            app.state.publisher,
            settings,
            TokenIssuer(settings.token_private_key.get_secret_value(), None),
        )


def running_in_task(
    settings: PublisherSettings, **app_kw: Any
) -> AbstractAsyncContextManager[Harness]:
    """``running`` entered and left by one task of its own (``tests.support.serving``)."""
    return in_own_task(running(settings, **app_kw))


@pytest.fixture
async def harness(make_settings: SettingsFactory) -> AsyncIterator[Harness]:
    async with running_in_task(make_settings()) as h:
        yield h


# --- articles through the API ---------------------------------------------------------------------


async def create_article(h: Harness, role: Role = Role.EDITOR, **fields: Any) -> dict[str, Any]:
    body = {"title": "Новость", "lead": "Лид", "body_html": "<p>Текст</p>", **fields}
    resp = await h.client.post("/api/v1/articles", json=body, headers=h.auth(role))
    assert resp.status_code == 201, resp.text
    data: dict[str, Any] = resp.json()
    return data


async def article_and_url(h: Harness, **fields: Any) -> tuple[dict[str, Any], str]:
    """A new article (``create_article``) and its URL in the API."""
    article = await create_article(h, **fields)
    return article, f"/api/v1/articles/{article['article_id']}"


async def publish(h: Harness, article_id: str) -> dict[str, Any]:
    resp = await h.client.post(f"/api/v1/articles/{article_id}/publish", headers=h.auth())
    assert resp.status_code == 200, resp.text
    data: dict[str, Any] = resp.json()
    return data


# --- tips and a fake ingest ---------------------------------------------------------------------


E = TypeVar("E", bound=AggregateEvent)


def from_ingest(kind: type[E], aggregate_id: str, data: Any) -> E:
    """An event of ``kind`` as ingest sends it: the first version of its aggregate."""
    event: E = kind.create(producer="ingest", aggregate_id=aggregate_id, version=1, data=data)
    return event


def tip(
    submission_id: str | None = None,
    *,
    attachments: tuple[AttachmentRef, ...] = (),
    country: str = "TJ",
    text: str = "Третий день без света на улице Ленина.\n\nЖители жалуются <b>всерьёз</b>.",
    received_at: datetime | None = None,
) -> SubmissionReceived:
    sid = submission_id or f"sub-{uuid.uuid4().hex[:10]}"
    return from_ingest(
        SubmissionReceived,
        sid,
        Submission(
            submission_id=sid,
            title="Отключили свет в Худжанде",
            text=text,
            country=country,
            location="Худжанд",
            anonymous=False,
            contact=Contact(name="Фарход", email="farhod@example.org"),
            attachments=attachments,
            received_at=received_at or datetime.now(UTC) - timedelta(minutes=5),
        ),
    )


async def send_tip(redis_url: str, event: Event) -> None:
    bus = EventBus(redis_url, consumer_name="ingest-test")
    await bus.broker.connect()
    try:
        await bus.publish(event)
    finally:
        await bus.stop()


@dataclass
class FakeIngest:
    url: str
    photos: dict[str, bytes]
    requests: list[tuple[str, str]]  # (attachment id, Authorization header)


@pytest.fixture
async def fake_ingest(token_keys: TokenKeys) -> AsyncIterator[FakeIngest]:
    """Only ingest's photo endpoint, on a real local port; it checks the bearer token as ingest
    does (role contributor or up, same shared secret)."""
    codec = TokenVerifier(token_keys.public, None)
    state = FakeIngest("", {}, [])

    async def attachment(request: Request) -> Response:
        attachment_id = request.path_params["attachment_id"]
        state.requests.append((attachment_id, request.headers.get("authorization", "")))
        try:
            codec.authenticate(request, Role.CONTRIBUTOR)
        except Exception:
            return Response(status_code=401)
        data = state.photos.get(attachment_id)
        if data is None:
            return Response(status_code=404)
        return Response(data, media_type="image/jpeg")

    app = Starlette(routes=[Route("/api/v1/attachments/{attachment_id}", attachment)])
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off", ws="none")
    )
    task = asyncio.create_task(server.serve())
    state.url = f"http://127.0.0.1:{port}"

    async def started() -> bool:
        return server.started

    await eventually(started, 10, "fake ingest started")
    yield state
    server.should_exit = True
    await task
