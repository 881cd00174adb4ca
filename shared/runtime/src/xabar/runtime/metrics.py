"""Prometheus metrics of HTTP requests: a pure-ASGI middleware (``serve`` exposes the registry on
the operators' listener, see ``xabar.runtime.app``)."""

import time
from typing import Any

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUESTS = Counter("xabar_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "xabar_http_request_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)


class MetricsMiddleware:
    """Counts requests by route template (not raw path, to bound cardinality)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # labelled children, made once each: ``labels()`` costs a lock and a tuple per call
        self._counts: dict[tuple[str, str, int], Any] = {}
        self._latencies: dict[tuple[str, str], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            method, route = scope["method"], _route_of(scope)
            count = self._counts.get((method, route, status))
            if count is None:
                count = self._counts[(method, route, status)] = REQUESTS.labels(
                    method, route, str(status)
                )
            count.inc()
            latency = self._latencies.get((method, route))
            if latency is None:
                latency = self._latencies[(method, route)] = LATENCY.labels(method, route)
            latency.observe(time.perf_counter() - start)


def _route_of(scope: Scope) -> str:
    route: Any = scope.get("route")  # set by Starlette's router on a match
    return str(getattr(route, "path", "unmatched"))
