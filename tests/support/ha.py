"""Session fixtures of the cluster tier (``pytest -m cluster``): a real 3-master, 3-replica Redis
Cluster and a real Sentinel setup (a primary, two replicas, three sentinels) on loopback, each
started once per session by the runtime's own ``localinfra``.

Tests share them one after the other: ``cluster_url`` and ``sentinel_url`` wait until the
deployment is healthy again (a test before may have failed a node over) and empty it, so every
test starts from an empty keyspace on a healthy deployment. A test that kills a node restarts
it before it ends (``restarted``).
"""

import asyncio
import contextlib
import gc
import time
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Protocol, TypeVar

import pytest
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from tests.support.infra import redis_client
from xabar.runtime.localinfra import (
    LocalRedisCluster,
    LocalSentinel,
    Server,
    start_redis_cluster,
    start_sentinel,
)


class _Deployment(Protocol):
    def stop(self) -> None: ...


D = TypeVar("D", bound=_Deployment)


def _for_the_session(deployment: D) -> Iterator[D]:
    """Yield a started deployment; at the session's end collect the leaks and stop it."""
    try:
        yield deployment
    finally:
        collect_leaks()
        deployment.stop()


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRedisCluster]:
    yield from _for_the_session(start_redis_cluster(tmp_path_factory.mktemp("redis-cluster")))


@pytest.fixture(scope="session")
def redis_sentinel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSentinel]:
    yield from _for_the_session(start_sentinel(tmp_path_factory.mktemp("redis-sentinel")))


async def _flush(port: int) -> None:
    client = aioredis.Redis(port=port)
    try:
        await client.flushall()
    finally:
        await client.aclose()


@pytest.fixture
async def cluster_url(redis_cluster: LocalRedisCluster) -> str:
    """The cluster's deployment URL, the cluster healthy and empty."""
    await asyncio.to_thread(redis_cluster.wait_ok)
    for master in redis_cluster.masters():
        await _flush(master.port)
    return redis_cluster.url


@pytest.fixture
async def sentinel_url(redis_sentinel: LocalSentinel) -> str:
    """The Sentinel deployment's URL, its primary agreed on, healthy and empty."""
    await asyncio.to_thread(redis_sentinel.wait_healthy)
    await _flush(redis_sentinel.primary_port())
    return redis_sentinel.url


DEPLOYMENTS = ("cluster", "sentinel")

# The marks of a module that runs a service's tests again on the deployments. redis-py's
# RedisCluster leaves the socket of a cancelled blocking command (FastStream's XREADGROUP at a
# broker's stop, the COMMAND GETKEYS it sends first) to the garbage collector: a ResourceWarning
# on close, not a lost or repeated write (each test asserts what it stored and delivered). On one
# node the suite keeps that check strict.
# ``collect_cluster_leaks`` collects them at each test's end, under the filter, so that none is
# left for a later test to report.
ON_DEPLOYMENTS = [
    pytest.mark.cluster,
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.usefixtures("collect_cluster_leaks"),
]


@pytest.fixture
def collect_cluster_leaks() -> Iterator[None]:
    yield
    collect_leaks()


def collect_leaks() -> None:
    """Collect what redis-py's cluster client left to the garbage collector (see above), its
    ResourceWarnings ignored."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


def deployment_url(request: pytest.FixtureRequest) -> str:
    """For a module of the cluster tier that runs a service's tests again on each deployment:
    its ``redis_url`` fixture, parametrized over ``DEPLOYMENTS``, returns this (the deployment
    healthy and empty, as ``cluster_url`` and ``sentinel_url`` leave it)."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


@pytest.fixture(name="redis_url", params=DEPLOYMENTS)
def redis_url_on_each_deployment(request: pytest.FixtureRequest) -> str:
    """That ``redis_url`` fixture, for a module to import: its tests then run once on each of
    ``DEPLOYMENTS``."""
    return deployment_url(request)


@pytest.fixture
async def cluster_redis(cluster_url: str) -> AsyncIterator[aioredis.Redis]:
    async with redis_client(cluster_url) as client:
        yield client


@contextlib.asynccontextmanager
async def restarted(server: Server) -> AsyncIterator[Server]:
    """Yield ``server``; afterwards start it again if it is not running (a test killed it)."""
    try:
        yield server
    finally:
        if server.proc.poll() is not None:
            await asyncio.to_thread(server.restart)


async def until(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    """Wait until ``check`` holds (its errors count as not yet), failing with ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(RedisError, OSError):
            if await check():
                return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not within {timeout}s: {what}")
