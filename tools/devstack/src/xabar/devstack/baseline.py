"""The benchmark baselines: a bare Starlette app on the services' own server settings.

``/bare`` answers a constant; ``/xadd`` does one XADD (what a durable accept needs at the least);
``/hincrby`` does one HINCRBY (what a vote needs at the least). ``python -m xabar.devstack.baseline
PORT REDIS_URL``.
"""

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as aioredis
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route


def create_app(redis_url: str) -> Starlette:
    redis = aioredis.from_url(redis_url)

    async def bare(_: Request) -> Response:
        return PlainTextResponse("ok")

    async def xadd(_: Request) -> Response:
        await redis.xadd("bench.baseline", {"v": b"x" * 200}, maxlen=100_000)
        return PlainTextResponse("ok", status_code=202)

    async def hincrby(_: Request) -> Response:
        await redis.hincrby("bench.baseline.counts", "option", 1)
        return PlainTextResponse("ok")

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        await redis.aclose()

    return Starlette(
        routes=[
            Route("/bare", bare),
            Route("/xadd", xadd, methods=["POST"]),
            Route("/hincrby", hincrby, methods=["POST"]),
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
