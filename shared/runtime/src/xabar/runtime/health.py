"""Liveness and readiness endpoints that check the real dependencies.

``/healthz`` says the process answers. ``/readyz`` says whether every dependency answered in
time: ``{"status": "ok"}`` (200) or ``{"status": "unavailable"}`` (503). Which one failed, and
how, goes to the log, not to whoever asked.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable

from pymongo import AsyncMongoClient
from redis.asyncio import Redis
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

Check = Callable[[], Awaitable[None]]

log = logging.getLogger("xabar.health")


def redis_check(redis: Redis) -> Check:
    async def check() -> None:
        await redis.ping()

    return check


def mongo_check(client: AsyncMongoClient[dict[str, object]]) -> Check:
    async def check() -> None:
        await client.admin.command("ping")

    return check


async def ready(checks: dict[str, Check], within_s: float = 2.0) -> bool:
    """Whether every check passes within ``within_s``; failures are logged by name."""
    ok = True
    for name, check in checks.items():
        try:
            await asyncio.wait_for(check(), within_s)
        except Exception as exc:
            ok = False
            log.warning("not ready: %s does not answer", name, extra={"error": repr(exc)})
    return ok


def health_routes(checks: dict[str, Check], timeout: float = 2.0) -> list[Route]:
    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        if await ready(checks, timeout):
            return JSONResponse({"status": "ok"})
        return JSONResponse({"status": "unavailable"}, status_code=503)

    return [Route("/healthz", healthz), Route("/readyz", readyz)]
