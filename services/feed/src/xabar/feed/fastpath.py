"""The hot path: every cached page served before routing.

An ASGI middleware placed outermost. Pages are cached under their canonical URL (the path, and
``?query`` when it has one: ``xabar.feed.routes.keys``), so for a GET or HEAD the request target
is the cache key: a dict look-up and a revision check, and the page, or a 304, goes out in the
coding the request accepts with headers built when the page was rendered. Anything else - a
miss, a stale page, a URL written another way - goes down the normal stack, which renders,
caches and answers; the next request for that URL is answered here. Requests answered here are
still counted in the shared request metrics, under the route the page was rendered for.

In front of that, ``FastProtocol`` (the runtime's: ``xabar.runtime.fastprotocol``, the server's HTTP
protocol, uvicorn's httptools one with the runtime's header limits) answers the commonest request
before any ASGI scope exists: a GET or HEAD over a kept-alive HTTP/1.1 connection whose target is a
fresh cached page's key. It writes the bytes FastPath would have sent, prebuilt when the page was
rendered (status line, headers, the server's Date, body; or the 304), in one write, and counts the
request as FastPath does. Everything else - another method, a miss, a stale page, a vote's variant,
a request pipelined behind one the app is still answering, a connection whose writes are paused or
that is to close - goes to the app as uvicorn would send it.

A page after a vote (``?voted=...&tally=N``, ``xabar.feed.votes.split_vote``) is looked up
among the cache's variants when its URL is not a page's: answered here when the variant shows a
tally at least ``N``, else routed (the endpoint waits for that tally, a bounded while).
"""

import time

from starlette.types import ASGIApp, Receive, Scope, Send

from xabar.feed.cache import PageCache
from xabar.feed.votes import split_vote
from xabar.runtime.fastprotocol import Hits
from xabar.runtime.rendered import Rendered, coding_for, not_modified

__all__ = ["FastPath"]


class FastPath:
    def __init__(self, app: ASGIApp, cache: PageCache) -> None:
        self.app = app
        self.cache = cache
        self._hits = Hits()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            query = scope["query_string"]
            key = scope["path"] if not query else f"{scope['path']}?{query.decode('latin-1')}"
            page = self.cache.get(key)
            if page is None and b"voted=" in query:
                page = self._variant(scope["path"], query.decode("latin-1"))
            if page is not None:
                start = time.perf_counter()
                status = await self._send(page, scope, send)
                self._hits.count(scope["method"], page.route, status, time.perf_counter() - start)
                return
        await self.app(scope, receive, send)

    def _variant(self, path: str, query: str) -> Rendered | None:
        found = split_vote(path, query)
        if found is None:
            return None
        key, vote = found
        page = self.cache.get_variant(key)
        if page is None or page.vote_tally is None or page.vote_tally < vote.tally:
            return None
        return page

    async def _send(self, page: Rendered, scope: Scope, send: Send) -> int:
        inm = ims = accept = None
        for name, value in scope["headers"]:
            if name == b"accept-encoding":
                accept = value.decode("latin-1")
            elif name == b"if-none-match":
                inm = value.decode("latin-1")
            elif name == b"if-modified-since":
                ims = value.decode("latin-1")
        variant = page.variants[coding_for(accept)]
        if (inm is not None or ims is not None) and not_modified(page, inm, ims):
            await send(
                {
                    "type": "http.response.start",
                    "status": 304,
                    "headers": variant.not_modified_headers,
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return 304
        await send(
            {"type": "http.response.start", "status": page.status, "headers": variant.headers}
        )
        await send({"type": "http.response.body", "body": variant.body})
        return page.status
