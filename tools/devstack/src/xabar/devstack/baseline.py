"""The benchmark baselines: a bare Starlette app on the services' own server settings.

``/bare`` answers a constant; ``/xadd`` does one XADD (what a durable accept needs at the least);
``/hincrby`` does one HINCRBY (what a vote needs at the least); ``/hincrby-wait`` one HINCRBY and
``WAIT 1 1000`` in one pipelined round trip on one connection, 503 unless a replica confirmed it
(what any write acknowledged only once replicated costs at the least; on a deployment with
replicas). ``python -m xabar.devstack.baseline
PORT REDIS_URL``; the URL is a deployment setting as the services read it (one node, Sentinel or
a cluster: ``xabar.runtime.deployment``), so that a baseline runs on the services' own Redis.
"""

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from redis.asyncio import Redis, RedisCluster
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from xabar.runtime.deployment import parse_redis_url

STREAM, COUNTS = "{bench.baseline}", "{bench.baseline}:counts"  # one slot on a cluster


async def _connect(redis_url: str) -> Redis:
    """A client of the deployment; on a cluster, a plain one of the master of the baseline's
    slot, as a client that knows the slot map talks to it (one hop, no routing per command)."""
    client = parse_redis_url(redis_url).client()
    if not isinstance(client, RedisCluster):
        return client
    try:
        await client.initialize()
        node = client.get_node_from_key(STREAM)
        if node is None:
            raise RuntimeError(f"no cluster node serves {STREAM}")
        return Redis(host=node.host, port=node.port)
    finally:
        await client.aclose()


def create_app(redis_url: str) -> Starlette:
    clients: list[Redis] = []

    async def bare(_: Request) -> Response:
        return PlainTextResponse("ok")

    async def xadd(_: Request) -> Response:
        await clients[0].xadd(STREAM, {"v": b"x" * 200}, maxlen=100_000)
        return PlainTextResponse("ok", status_code=202)

    async def hincrby(_: Request) -> Response:
        await clients[0].hincrby(COUNTS, "option", 1)
        return PlainTextResponse("ok")

    async def hincrby_wait(_: Request) -> Response:
        async with clients[0].pipeline(transaction=False) as pipe:
            pipe.hincrby(COUNTS, "option", 1)
            pipe.execute_command("WAIT", 1, 1000)
            _, confirmed = await pipe.execute()
        return PlainTextResponse("ok", status_code=200 if int(confirmed) >= 1 else 503)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        clients.append(await _connect(redis_url))
        yield
        await clients[0].aclose()

    return Starlette(
        routes=[
            Route("/bare", bare),
            Route("/xadd", xadd, methods=["POST"]),
            Route("/hincrby", hincrby, methods=["POST"]),
            Route("/hincrby-wait", hincrby_wait, methods=["POST"]),
        ],
        lifespan=lifespan,
    )


def main() -> None:
    port, redis_url = int(sys.argv[1]), sys.argv[2]
    uvicorn.run(
        create_app(redis_url),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
        server_header=False,
    )


if __name__ == "__main__":
    main()
