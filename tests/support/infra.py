"""Handles on the real servers a test session runs against."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import redis.asyncio as aioredis

from xabar.runtime.deployment import parse_redis_url
from xabar.runtime.localinfra import Server


@dataclass
class Infra:
    redis_base: str  # redis://127.0.0.1:PORT (no database number)
    mongo_url: str
    redis_server: Server | None  # None when the servers were given by REDIS_URL/MONGODB_URL
    mongo_server: Server | None
    databases: int


@asynccontextmanager
async def redis_client(url: str) -> AsyncIterator[aioredis.Redis]:
    """A client of the deployment ``url`` names (one server, a cluster or Sentinel), closed
    afterwards."""
    client = parse_redis_url(url).client()
    try:
        yield client
    finally:
        await client.aclose()
