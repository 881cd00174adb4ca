"""Session fixtures: real redis-server and FerretDB, started once per test session.

Set REDIS_URL and MONGODB_URL to use servers you already run instead. Every test gets its own
Redis logical database and its own MongoDB database, so tests never see each other's streams.
"""

import itertools
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from pymongo import AsyncMongoClient

from tests.support.ha import (  # noqa: F401  (the cluster tier's fixtures)
    cluster_redis,
    cluster_url,
    redis_cluster,
    redis_sentinel,
    sentinel_redis,
    sentinel_url,
)
from tests.support.infra import Infra
from xabar.runtime.localinfra import local_infra

REDIS_DATABASES = 4000
_db_numbers = itertools.count(1)

JWT_SECRET = "test-secret-0123456789abcdef0123456789abcdef"


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
    client = aioredis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def mongo_db_name() -> str:
    return f"t_{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def mongo(infra: Infra) -> AsyncIterator[AsyncMongoClient[dict[str, object]]]:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(infra.mongo_url, tz_aware=True)
    yield client
    await client.close()


@pytest.fixture
def jwt_secret() -> str:
    return JWT_SECRET
