"""What every service's HTTP app has: health, readiness, metrics, a server that stops cleanly."""

import logging
from collections.abc import Sequence

import uvicorn
from starlette.routing import BaseRoute, Route

from xabar.runtime.config import ServiceSettings
from xabar.runtime.health import Check, health_routes
from xabar.runtime.metrics import metrics_endpoint

log = logging.getLogger("xabar.app")


def standard_routes(checks: dict[str, Check]) -> list[BaseRoute]:
    """/healthz (process alive), /readyz (dependencies answer), /metrics (Prometheus)."""
    return [*health_routes(checks), Route("/metrics", metrics_endpoint, include_in_schema=False)]


def serve(app: object, settings: ServiceSettings, *, workers_note: Sequence[str] = ()) -> None:
    """Run ``app`` with uvicorn; SIGTERM and SIGINT drain requests and run the lifespan shutdown."""
    config = uvicorn.Config(
        app,  # type: ignore[arg-type]
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        lifespan="on",
        loop="uvloop",
        http="httptools",
        timeout_graceful_shutdown=10,
        proxy_headers=False,  # client addresses are resolved by our own trusted-proxy rule
        server_header=False,
    )
    server = uvicorn.Server(config)
    for note in workers_note:
        log.info(note)
    server.run()  # on the configured loop (uvloop); asyncio.run() would ignore config.loop


__all__ = ["serve", "standard_routes"]
