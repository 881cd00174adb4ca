"""The hot path: cached pages of the busiest URLs, served before routing.

An ASGI middleware placed outermost: for GET/HEAD of a hot path (without a query string, or a
paged list with just ``?page=N``) it looks the page up in the page cache (a dict look-up and a
revision check) and answers it, or a 304, with headers built when the page was rendered.
Anything else - a miss, a stale page, another URL - goes down the normal stack, which renders,
caches and answers. Requests answered here are still counted in the shared request metrics.
"""

import re
import time
from collections.abc import Callable, Hashable, Mapping

from prometheus_client.metrics import Counter, Histogram
from starlette.types import ASGIApp, Receive, Scope, Send

from xabar.feed.cache import PageCache, Rendered, not_modified
from xabar.runtime.metrics import LATENCY, REQUESTS

_PAGE_QUERY = re.compile(rb"page=([0-9]{1,9})")


class FastPath:
    def __init__(
        self,
        app: ASGIApp,
        cache: PageCache,
        hot: Mapping[str, Hashable],
        paged: Mapping[str, Callable[[int], Hashable]] | None = None,
    ) -> None:
        self.app = app
        self.cache = cache
        self.hot = dict(hot)  # path -> cache key
        self.paged = dict(paged or {})  # path -> cache key of page N
        self._counters: dict[tuple[str, str, int], Counter] = {}
        self._latency: dict[tuple[str, str], Histogram] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            query = scope["query_string"]
            key: Hashable | None = None
            if not query:
                key = self.hot.get(path)
            elif (of_page := self.paged.get(path)) is not None and (
                m := _PAGE_QUERY.fullmatch(query)
            ):
                key = of_page(int(m.group(1)))
            method = scope["method"]
            if key is not None and (method == "GET" or method == "HEAD"):
                page = self.cache.get(key)
                if page is not None:
                    start = time.perf_counter()
                    status = await self._send(page, scope, send)
                    self._count(method, path, status, time.perf_counter() - start)
                    return
        await self.app(scope, receive, send)

    async def _send(self, page: Rendered, scope: Scope, send: Send) -> int:
        inm = ims = None
        for name, value in scope["headers"]:
            if name == b"if-none-match":
                inm = value.decode("latin-1")
            elif name == b"if-modified-since":
                ims = value.decode("latin-1")
        if (inm is not None or ims is not None) and not_modified(page, inm, ims):
            await send(
                {"type": "http.response.start", "status": 304, "headers": page.not_modified_headers}
            )
            await send({"type": "http.response.body", "body": b""})
            return 304
        await send(
            {"type": "http.response.start", "status": page.status, "headers": page.raw_headers}
        )
        await send({"type": "http.response.body", "body": page.body})
        return page.status

    def _count(self, method: str, path: str, status: int, seconds: float) -> None:
        counter = self._counters.get((method, path, status))
        if counter is None:
            counter = self._counters[(method, path, status)] = REQUESTS.labels(
                method, path, str(status)
            )
        counter.inc()
        latency = self._latency.get((method, path))
        if latency is None:
            latency = self._latency[(method, path)] = LATENCY.labels(method, path)
        latency.observe(seconds)
