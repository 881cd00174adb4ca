"""Fixtures of the feed tests: settings against the session's real Redis, the app in-process
behind httpx (its lifespan runs the projector on the real streams), and a publisher-side bus."""

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from tests.support.procs import ServiceProcess, service_process
from tests.support.settings import settings_factory
from tests.support.waiting import eventually
from xabar.contracts import Event
from xabar.feed.app import create_app
from xabar.feed.config import FeedSettings
from xabar.runtime.bus import BusOptions, EventBus

MakeSettings = Callable[..., FeedSettings]
SITE = "http://127.0.0.1:8080"


@pytest.fixture
def make_settings(redis_url: str) -> MakeSettings:
    return settings_factory(
        FeedSettings,
        {
            "redis_url": redis_url,
            "consumer_name": "feed-test",
            "claim_idle_ms": 200,
            "log_json": False,
            "site_url": SITE,
        },
    )


@asynccontextmanager
async def running(
    settings: FeedSettings, **kwargs: Any
) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    """The feed app with its lifespan running (projector, revision watcher) and a client."""
    app = create_app(settings, **kwargs)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=settings.site_url) as client:
            yield app, client


@pytest.fixture
async def client(settings: FeedSettings) -> AsyncIterator[httpx.AsyncClient]:
    async with running(settings) as (_, c):
        yield c


@pytest.fixture
async def publisher(redis_url: str) -> AsyncIterator[EventBus]:
    """A bus as the publisher and the polls service use it: publishing only."""
    bus = EventBus(redis_url, consumer_name="publisher-test", options=BusOptions())
    await bus.start()
    yield bus
    await bus.stop()


async def publish_all(bus: EventBus, events: Iterable[Event]) -> None:
    for event in events:
        await bus.publish(event)


async def drained(redis: Any, *streams: str) -> bool:
    """The feed group has read and acked everything on ``streams``."""
    for stream in streams:
        info = await redis.xinfo_stream(stream)
        last = info["last-generated-id"]
        groups = {g["name"]: g for g in await redis.xinfo_groups(stream)}
        group = groups.get(b"feed") or groups.get("feed")
        if group is None or group["last-delivered-id"] != last or group["pending"] != 0:
            return False
    return True


async def wait_drained(redis: Any, *streams: str, timeout: float = 10.0) -> None:
    async def check() -> bool:
        return await drained(redis, *streams)

    await eventually(check, timeout, what=f"the feed consumed {', '.join(streams)}")


PROCESS_START_S = 90  # interpreters importing the app on a loaded box


@asynccontextmanager
async def feed_process(
    redis_url: str, tmp_path: Path, consumer: str, workers: int = 1, **env: str
) -> AsyncIterator[ServiceProcess]:
    """``python -m xabar.feed`` as its own process (``workers`` of them on one port), with
    ``env`` (``XABAR_FEED_*`` settings) beside the Redis URL and the consumer name."""
    proc = service_process(
        "xabar.feed",
        {
            "XABAR_FEED_REDIS_URL": redis_url,
            "XABAR_FEED_CONSUMER_NAME": consumer,
            "XABAR_FEED_LOG_JSON": "false",
            "XABAR_FEED_WORKERS": str(workers),
            **env,
        },
        tmp_path,
        "XABAR_FEED_PORT",
    )
    try:
        await asyncio.to_thread(proc.start, PROCESS_START_S)
        yield proc
    finally:
        await asyncio.to_thread(proc.terminate)
