"""Session fixtures: real redis-server and FerretDB, started once per test session, and a real
browser.

Set REDIS_URL and MONGODB_URL to use servers you already run instead. Every test gets its own
Redis logical database and its own MongoDB database, so tests never see each other's streams.

Tiers: a test is marked by the fixtures it requests (directly or through other fixtures), so no
one marks by hand what a test needs: ``infra`` when it needs redis-server or FerretDB (the
``infra`` or ``private_redis`` fixture), ``browser`` when it drives chromium (the ``browser``
fixture, or ``tests.support.browser.chromium`` in its module). ``make test-fast`` runs what is
neither (nor ``slow``); ``make test`` runs everything. A test that starts a server of its own
asks for it through a fixture here, so it is marked.
"""

import asyncio
import itertools
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from playwright.async_api import Browser
from pymongo import AsyncMongoClient

from tests.support.browser import chromium
from tests.support.ha import (  # noqa: F401  (the cluster tier's fixtures)
    cluster_redis,
    cluster_url,
    collect_cluster_leaks,
    redis_cluster,
    redis_sentinel,
    sentinel_url,
)
from tests.support.infra import Infra, redis_client
from xabar.runtime.auth import Principal, TokenIssuer, generate_keys
from xabar.runtime.config import ServiceSettings
from xabar.runtime.localinfra import Server, local_infra, start_redis

REDIS_DATABASES = 4000
_db_numbers = itertools.count(1)


@dataclass(frozen=True)
class TokenKeys:
    """An Ed25519 pair for editors' tokens: the publisher signs with ``private``, the others
    verify with ``public``."""

    private: str
    public: str

    @classmethod
    def new(cls) -> "TokenKeys":
        return cls(*generate_keys())

    def issue(self, principal: Principal, **kw: Any) -> str:
        return TokenIssuer(self.private, None).issue(principal, **kw)


TOKEN_KEYS = TokenKeys.new()  # one pair per test process


TIER_FIXTURES = {"infra": "infra", "private_redis": "infra", "browser": "browser"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        needs = set(getattr(item, "fixturenames", ()))
        for fixture, marker in TIER_FIXTURES.items():
            if fixture in needs:
                item.add_marker(marker)
        if getattr(getattr(item, "module", None), "chromium", None) is chromium:
            item.add_marker("browser")  # drives the shared browser helper itself


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Debian's chromium under Playwright (see ``tests.support.browser``)."""
    async with chromium() as launched:
        yield launched


@pytest.fixture(scope="session")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infra]:
    redis_url, mongo_url = os.environ.get("REDIS_URL"), os.environ.get("MONGODB_URL")
    if redis_url and mongo_url:
        yield Infra(redis_url.rsplit("/", 1)[0], mongo_url, None, None, databases=16)
        return
    state: Path = tmp_path_factory.mktemp("infra")
    with local_infra(state, redis_databases=REDIS_DATABASES) as (redis, mongo):
        yield Infra(f"redis://127.0.0.1:{redis.port}", mongo.url, redis, mongo, REDIS_DATABASES)


@pytest.fixture
async def redis_url(infra: Infra) -> str:
    """A Redis URL of a logical database no other test uses (flushed first when shared)."""
    number = next(_db_numbers) % infra.databases
    url = f"{infra.redis_base}/{number}"
    if infra.redis_server is None or number == 0:
        client = aioredis.from_url(url)
        await client.flushdb()
        await client.aclose()
    return url


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    """A client of the deployment ``redis_url`` names (a cluster tier module names a cluster)."""
    async with redis_client(redis_url) as client:
        yield client


@pytest.fixture
async def private_redis(tmp_path: Path) -> AsyncIterator[Server]:
    """A redis-server of this test's own (to kill and restart), with AOF on."""
    server = await asyncio.to_thread(start_redis, tmp_path / "redis")
    try:
        yield server
    finally:
        await asyncio.to_thread(server.stop)


@pytest.fixture
def mongo_db_name() -> str:
    return f"t_{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def mongo(infra: Infra) -> AsyncIterator[AsyncMongoClient[dict[str, object]]]:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(infra.mongo_url, tz_aware=True)
    yield client
    await client.close()


@pytest.fixture
def token_keys() -> TokenKeys:
    return TOKEN_KEYS


@pytest.fixture
def common_settings(
    infra: Infra, redis_url: str, mongo_db_name: str, token_keys: TokenKeys
) -> dict[str, Any]:
    """The settings of a service that checks editors' tokens (ingest, polls) on the session's
    servers: the test's own Redis and MongoDB databases, the session's token key, plain logs."""
    return {
        "redis_url": redis_url,
        "mongodb_url": infra.mongo_url,
        "mongodb_db": mongo_db_name,
        "token_public_key": token_keys.public,
        "log_json": False,
    }


@pytest.fixture
def settings(make_settings: Callable[..., ServiceSettings]) -> ServiceSettings:
    """A service's settings as its tests' ``make_settings`` fixture makes them, none overridden."""
    return make_settings()
