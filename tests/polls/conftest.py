"""Fixtures of the polls tests: settings on the session's real Redis and FerretDB, the app driven
in-process, an editor's token, and a consumer that collects what polls publishes."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from faststream.redis.parser import BinaryMessageFormatV1
from redis.asyncio import Redis
from starlette.applications import Starlette

from tests.conftest import TokenKeys
from tests.support.settings import settings_factory
from xabar.contracts import POLLS_STREAM, Event, parse_event
from xabar.polls.app import create_app
from xabar.polls.config import PollsSettings
from xabar.runtime.auth import Principal, Role
from xabar.runtime.bus import BusOptions, EventBus

COOKIE_SECRET = "cookie-secret-for-tests-0123456789abcdef"
ADDRESS_SALT = "address-salt-for-tests-0123456789abcdef"

SettingsFactory = Callable[..., PollsSettings]


@pytest.fixture
def make_settings(common_settings: dict[str, Any]) -> SettingsFactory:
    return settings_factory(
        PollsSettings,
        {
            **common_settings,
            "cookie_secret": COOKIE_SECRET,
            "address_salt": ADDRESS_SALT,
            "consumer_name": "polls-test",
            "claim_idle_ms": 200,
            "tally_interval_s": 0.1,
            "scheduler_interval_s": 0.1,
            "outbox_sweep_s": 0.5,
            "address_cooldown_s": 0,
        },
    )


@pytest.fixture
def editor_token(token_keys: TokenKeys) -> str:
    return token_keys.issue(Principal("ed-1", "Редактор", Role.EDITOR))


@pytest.fixture
def auth(editor_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {editor_token}"}


def client_for(app: Starlette, peer: str = "203.0.113.7") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(peer, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://polls.test")


@asynccontextmanager
async def running(settings: PollsSettings) -> AsyncIterator[Starlette]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def app(settings: PollsSettings) -> AsyncIterator[Starlette]:
    async with running(settings) as started:
        yield started


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app) as c:
        yield c


class EventSink:
    """A consumer group of its own on ``xabar.polls``: what the feed would receive."""

    def __init__(self, redis_url: str) -> None:
        self.events: list[Event] = []
        self.bus = EventBus(
            redis_url,
            consumer_name="sink",
            options=BusOptions(claim_idle_ms=200, polling_interval_ms=20),
        )
        self.bus.subscribe(POLLS_STREAM, "test-sink", self._on)

    async def _on(self, event: Event) -> None:
        self.events.append(event)

    def of(self, event_type: str, poll_id: str | None = None) -> list[Any]:
        return [
            e
            for e in self.events
            if e.type == event_type
            and (poll_id is None or getattr(e, "aggregate_id", None) == poll_id)
        ]

    async def wait_for(
        self, condition: Callable[[], bool] | Callable[[], Awaitable[bool]], timeout: float = 15.0
    ) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            result = condition()
            if not isinstance(result, bool):
                result = await result
            if result:
                return
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"condition not met within {timeout}s; got {self.events!r}")
            await asyncio.sleep(0.05)


@pytest.fixture
async def sink(redis_url: str) -> AsyncIterator[EventSink]:
    s = EventSink(redis_url)
    await s.bus.start()
    yield s
    await s.bus.stop()


async def create_poll(
    client: httpx.AsyncClient, auth: dict[str, str], **fields: Any
) -> dict[str, Any]:
    body = {"question": "Как вы относитесь к вступлению в ЕАЭС?", "options": ["За", "Против"]}
    body.update(fields)
    response = await client.post("/api/v1/polls", json=body, headers=auth)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


async def poll_on(app: Starlette, auth: dict[str, str], **fields: Any) -> str:
    """The id of a poll an editor creates on ``app`` from a client of their own (``create_poll``
    with ``fields``)."""
    async with client_for(app) as editor:
        return str((await create_poll(editor, auth, **fields))["poll_id"])


def polls_env(settings: PollsSettings) -> dict[str, str]:
    """The environment that gives a subprocess (service or CLI) the same settings."""
    return {
        "XABAR_POLLS_REDIS_URL": settings.redis_url,
        "XABAR_POLLS_MONGODB_URL": settings.mongodb_url,
        "XABAR_POLLS_MONGODB_DB": settings.mongodb_db,
        "XABAR_POLLS_TOKEN_PUBLIC_KEY": settings.token_public_key,
        "XABAR_POLLS_COOKIE_SECRET": settings.cookie_secret.get_secret_value(),
        "XABAR_POLLS_ADDRESS_SALT": settings.address_salt.get_secret_value(),
        "XABAR_POLLS_CONSUMER_NAME": settings.consumer_name,
        "XABAR_POLLS_CLAIM_IDLE_MS": str(settings.claim_idle_ms),
        "XABAR_POLLS_LOG_JSON": "false",
        "XABAR_POLLS_LOG_LEVEL": "WARNING",
    }


async def run_cli(settings: PollsSettings, *args: str) -> tuple[int, str, str]:
    """``python -m xabar.polls ARGS`` as a real process; returns (exit code, stdout, stderr)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "xabar.polls",
        *args,
        env={**os.environ, **polls_env(settings)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def stream_events(redis: Redis, stream: str = POLLS_STREAM) -> list[Event]:
    """Every event on ``stream``, oldest first, read straight from Redis."""
    out = []
    for _, fields in await redis.xrange(stream):
        body, _headers = BinaryMessageFormatV1.parse(fields[b"__data__"])
        out.append(parse_event(body))
    return out
