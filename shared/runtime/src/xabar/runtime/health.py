"""Liveness and readiness endpoints that check the real dependencies."""

import asyncio
from collections.abc import Awaitable, Callable

from pymongo import AsyncMongoClient
from redis.asyncio import Redis
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

Check = Callable[[], Awaitable[None]]


def redis_check(redis: Redis) -> Check:
    async def check() -> None:
        await redis.ping()

    return check


def mongo_check(client: AsyncMongoClient[dict[str, object]]) -> Check:
    async def check() -> None:
        await client.admin.command("ping")

    return check


def health_routes(checks: dict[str, Check], timeout: float = 2.0) -> list[Route]:
    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        results: dict[str, str] = {}
        for name, check in checks.items():
            try:
                await asyncio.wait_for(check(), timeout)
                results[name] = "ok"
            except Exception as exc:
                results[name] = f"error: {type(exc).__name__}"
        ok = all(v == "ok" for v in results.values())
        return JSONResponse(
            {"status": "ok" if ok else "unavailable", "checks": results},
            status_code=200 if ok else 503,
        )

    return [Route("/healthz", healthz), Route("/readyz", readyz)]
