"""What every service's HTTP app has: health and readiness, security headers, no redirects that
echo the Host header, metrics for operators only, and a server that bounds request headers and
stops cleanly.

``service_app`` builds a service's Starlette app (use it instead of ``Starlette(...)``);
``serve`` runs it. Metrics are not routes of the app: ``serve`` exposes them on a listener of
their own (``metrics_host``:``metrics_port``, loopback by default) that only operators reach.
"""

import asyncio
import logging
import socket
from collections.abc import Mapping, Sequence
from typing import Any

import uvicorn
from prometheus_client import start_http_server
from pymongo import AsyncMongoClient
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Route
from starlette.types import Lifespan

from xabar.runtime.asyncapi import asyncapi_routes
from xabar.runtime.auth import RevokedTokens, TokenVerifier
from xabar.runtime.bus import EventBus
from xabar.runtime.config import ServiceSettings
from xabar.runtime.health import Check, health_routes, mongo_check, redis_check
from xabar.runtime.metrics import MetricsMiddleware
from xabar.runtime.openapi import OpenAPI
from xabar.runtime.protocol import LimitedHttpTools
from xabar.runtime.security import PagePolicy, SecurityHeaders

log = logging.getLogger("xabar.app")


def standard_routes(checks: dict[str, Check]) -> list[BaseRoute]:
    """/healthz (process alive) and /readyz (dependencies answer; no detail in the answer)."""
    return [*health_routes(checks)]


def service_routes(
    api: OpenAPI, bus: EventBus, *, redis: Redis, mongo: AsyncMongoClient[Any] | None
) -> list[BaseRoute]:
    """What every service serves beside its own routes: ``/healthz``, ``/readyz`` (Redis and
    MongoDB answer; ``mongo`` None: a service that keeps nothing in MongoDB, the feed),
    ``/openapi.json`` (``api``) and ``/asyncapi.json`` (``bus``'s channels)."""
    checks = {"redis": redis_check(redis)}
    if mongo is not None:
        checks["mongodb"] = mongo_check(mongo)
    return [
        *standard_routes(checks),
        Route("/openapi.json", api.endpoint, include_in_schema=False),
        *asyncapi_routes(bus, api),
    ]


def service_app(
    *,
    routes: Sequence[BaseRoute],
    lifespan: Lifespan[Starlette] | None,
    exception_handlers: Mapping[Any, Any],
    middleware: Sequence[Middleware] = (),
    pages: PagePolicy | None = None,
    outermost: Sequence[Middleware] = (),
    tokens: TokenVerifier | None = None,
) -> Starlette:
    """A service's Starlette app: security headers outermost (``pages`` is its HTML policy),
    then ``middleware``, then (given ``tokens``, the verifier of a service that takes editors'
    tokens) ``RevokedTokens``, then request metrics. Starlette's trailing-slash redirect is
    off: it builds its ``Location`` from the request's Host header.

    ``outermost`` goes before the security headers: only for a middleware whose own answers
    already carry them (the feed's fast path sends pages rendered with ``pages.headers()``),
    so that the hottest answers skip a wrapper that would find nothing to add."""
    app = Starlette(
        routes=list(routes),
        lifespan=lifespan,
        middleware=[
            *outermost,
            Middleware(SecurityHeaders, policy=pages),
            *middleware,
            *([Middleware(RevokedTokens, verifier=tokens)] if tokens is not None else []),
            Middleware(MetricsMiddleware),
        ],
        exception_handlers=dict(exception_handlers),
    )
    app.router.redirect_slashes = False
    return app


def serve(
    app: object,
    settings: ServiceSettings,
    *,
    workers_note: Sequence[str] = (),
    sockets: list[socket.socket] | None = None,
    protocol: type[asyncio.Protocol] = LimitedHttpTools,
) -> None:
    """Run ``app`` with uvicorn; SIGTERM and SIGINT drain requests and run the lifespan shutdown.
    Request headers past ``protocol.HeaderLimits`` are answered 431 before the app sees them.
    ``sockets``: listen on these (already bound, e.g. with SO_REUSEPORT by one of several
    worker processes) instead of binding ``settings.host:port``. ``protocol``: the HTTP protocol
    class: ``LimitedHttpTools``, or one that hands what it does not answer itself to it (the
    feed's answers its cached pages before any ASGI scope exists)."""
    config = uvicorn.Config(
        app,  # type: ignore[arg-type]
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        lifespan="on",
        loop="uvloop",
        http=protocol,
        timeout_graceful_shutdown=10,
        proxy_headers=False,  # client addresses are resolved by our own trusted-proxy rule
        server_header=False,
    )
    server = uvicorn.Server(config)
    metrics = settings.metrics_address()
    listener = None
    if metrics is not None:
        listener, _ = start_http_server(metrics[1], addr=metrics[0])
        log.info("metrics for operators on http://%s:%d/metrics", *metrics)
    for note in workers_note:
        log.info(note)
    try:
        server.run(sockets=sockets)  # on the configured loop (uvloop); asyncio.run() would not
    finally:
        if listener is not None:
            listener.shutdown()
            listener.server_close()


__all__ = ["serve", "service_app", "standard_routes"]
