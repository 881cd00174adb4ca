"""A server protocol that answers a cached page's request before any ASGI scope exists.

``FastProtocol`` (the server's HTTP protocol, uvicorn's httptools one with the runtime's header
limits) answers the commonest request itself: a GET or HEAD over a kept-alive HTTP/1.1
connection whose target is the key of a fresh page in the service's cache (``Pages.get``). It
writes the bytes the app would have sent, prebuilt when the page was rendered
(``xabar.runtime.rendered``: status line, headers, the server's Date, body; or the 304), in one
write, and counts the request in the shared request metrics (``Hits``). Everything else -
another method, a miss, a stale page, a request carrying one of the service's private cookies
(its answer is the reader's own), a request pipelined behind one the app is still answering, a
connection whose writes are paused or that is to close - goes to the app as uvicorn would send
it. The feed serves its pages so; the polls service its reader pages.
"""

import asyncio
import re
import time
import urllib.parse
import weakref
from bisect import bisect_left
from typing import Any, ClassVar, Protocol

from prometheus_client.metrics import Counter, Histogram
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE
from uvicorn.server import ServerState

from xabar.runtime.metrics import LATENCY, REQUESTS
from xabar.runtime.protocol import LimitedHttpTools
from xabar.runtime.rendered import Rendered, coding_for, not_modified


class Pages(Protocol):
    """What the protocol answers from: the fresh page cached under a request target's key
    (``cache_key``), or None."""

    def get(self, key: str, /) -> Rendered | None: ...


class Hits:
    """Requests answered from the cache, counted in the shared request metrics (children made
    once per label set). With ``batched``, each request's count and latency are added up here,
    per label set and latency bucket, and passed on to the counter and the histogram at most
    ``FLUSH_S`` later: the same figures as one observation each, for a fraction of the cost (the
    protocol's answers are too cheap for the metric's lock, two increments and a bucket walk
    each, which cost more than the answer itself)."""

    FLUSH_S = 1.0

    def __init__(self, *, batched: bool = False) -> None:
        self.batched = batched
        self._counters: dict[tuple[str, str, int], Counter] = {}
        self._latency: dict[tuple[str, str], Histogram] = {}
        self._pending: dict[tuple[str, str, int], _Batch] = {}
        self._flush: asyncio.TimerHandle | None = None

    def count(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        if not self.batched:
            self._counter(key).inc()
            self._histogram(method, route).observe(seconds)
            return
        batch = self._pending.get(key)
        if batch is None:
            batch = self._pending[key] = _Batch()
            if self._flush is None:
                self._flush = asyncio.get_running_loop().call_later(self.FLUSH_S, self.flush)
        batch.requests += 1
        batch.seconds += seconds
        batch.buckets[bisect_left(BOUNDS, seconds)] += 1

    def flush(self) -> None:
        self._flush = None
        pending, self._pending = self._pending, {}
        for key, batch in pending.items():
            self._counter(key).inc(batch.requests)
            batch.observed_by(self._histogram(key[0], key[1]))

    def _counter(self, key: tuple[str, str, int]) -> Counter:
        counter = self._counters.get(key)
        if counter is None:
            method, route, status = key
            counter = self._counters[key] = REQUESTS.labels(method, route, str(status))
        return counter

    def _histogram(self, method: str, route: str) -> Histogram:
        latency = self._latency.get((method, route))
        if latency is None:
            latency = self._latency[(method, route)] = LATENCY.labels(method, route)
        return latency


# the latency histogram's upper bounds (+Inf last): an observation goes to the first >= it
BOUNDS: tuple[float, ...] = tuple(LATENCY._upper_bounds)


class _Batch:
    """The requests of one label set since the last flush: how many, their latencies' sum and
    how many fell in each of the histogram's buckets."""

    __slots__ = ("buckets", "requests", "seconds")

    def __init__(self) -> None:
        self.requests = 0
        self.seconds = 0.0
        self.buckets = [0] * len(BOUNDS)

    def observed_by(self, histogram: Histogram) -> None:
        """Into ``histogram`` as ``requests`` observations of these latencies would have gone
        (prometheus_client observes one value at a time: its sum and bucket values take more)."""
        histogram._sum.inc(self.seconds)
        for bucket, n in zip(histogram._buckets, self.buckets, strict=True):
            if n:
                bucket.inc(n)


def cache_key(target: bytes) -> str | None:
    """The cache key of a request target in origin form, as FastPath builds it from the scope
    uvicorn makes (the path percent-decoded, the query as it came); None for any other form."""
    if not target.startswith(b"/") or b"#" in target:
        return None
    raw, mark, query = target.partition(b"?")
    try:
        path = raw.decode("ascii")
    except UnicodeDecodeError:
        return None
    if "%" in path:
        path = urllib.parse.unquote(path)
    return f"{path}?{query.decode('latin-1')}" if mark and query else path


_TARGET_BAD = re.compile(rb"[^\x21-\x7e]")  # what a request target may not hold (and non-ASCII)
MAX_HEAD = 8192  # longer heads go to the parser (and its limits)
MEMO_HEAD = 2048  # requests remembered with their answer: at most this long,
MEMO_ENTRIES = 1024  # and this many per process (forgotten all at once when full)


class _Parser(LimitedHttpTools):
    """The protocol everything but a cached page's request goes to; ``between`` says its parser
    is between two requests (no head or body of one half read)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.between = True

    def on_message_begin(self) -> None:
        self.between = False
        super().on_message_begin()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self.between = True


def _header(lower: bytes, data: bytes, name: bytes) -> bytes | None:
    """The value of header ``name`` (given with its CRLF before and colon after) in a request
    head; None when absent. Raises ``LookupError`` when it is there twice."""
    at = lower.find(name)
    if at < 0:
        return None
    if lower.find(name, at + 1) >= 0:
        raise LookupError(name)
    start = at + len(name)
    return data[start : data.index(b"\r\n", start)].strip(b" \t")


class FastProtocol(asyncio.Protocol):
    """The server's HTTP protocol: answers a fresh cached page's request itself and hands every
    other byte to uvicorn's httptools protocol with the runtime's header limits (``_Parser``).

    A request is answered here only when the bytes read are exactly one request head, at most
    ``MAX_HEAD`` bytes, with no body (no Content-Length or Transfer-Encoding anywhere), no
    Upgrade, Expect or obs-fold, no bare CR or LF, nothing after it, an origin-form target of
    printable ASCII, HTTP/1.1 with the connection kept alive, and the parser between requests
    with nothing in flight; anything else the parser reads as it always would. Idle kept-alive
    connections close after uvicorn's keep-alive timeout, as the parser's own do."""

    cache: ClassVar[Pages]
    hits: ClassVar[Hits]
    # lower-cased ``name=`` of cookies whose request is the reader's own: never answered here
    private: ClassVar[tuple[bytes, ...]] = ()
    # request bytes answered before -> (cache key, the page, HEAD, its coding, 304): the same
    # bytes get the same answer while that page is the cache's (browsers repeat theirs); the
    # page is held weakly, so a page the cache dropped is not kept alive here
    memo: ClassVar[dict[bytes, tuple[str, "weakref.ref[Rendered]", bool, int, bool]]]

    @classmethod
    def serving(
        cls, cache: Pages, *, name: str = "FeedProtocol", private_cookies: tuple[str, ...] = ()
    ) -> type["FastProtocol"]:
        """The protocol class serving ``cache``; a request carrying a cookie named in
        ``private_cookies`` always goes to the app."""
        private = tuple(f"{c}=".lower().encode("latin-1") for c in private_cookies)
        hits = Hits(batched=True)
        attrs = {"cache": cache, "hits": hits, "memo": {}, "private": private}
        return type(name, (cls,), attrs)

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.parser = _Parser(config, server_state, app_state, _loop)
        self.loop = self.parser.loop
        self.server_state = server_state
        self.keep_alive_s = float(config.timeout_keep_alive)
        self.transport: asyncio.Transport | None = None
        self._last = 0.0
        self._idle: asyncio.TimerHandle | None = None
        self._dated: tuple[object, bytes] = (None, b"")

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.parser.connection_made(transport)  # type: ignore[arg-type]

    def connection_lost(self, exc: Exception | None) -> None:
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        self.parser.connection_lost(exc)

    def eof_received(self) -> None:
        self.parser.eof_received()

    def pause_writing(self) -> None:
        self.parser.pause_writing()

    def resume_writing(self) -> None:
        self.parser.resume_writing()

    def data_received(self, data: bytes) -> None:
        parser = self.parser
        cycle = parser.cycle
        if (
            parser.between
            and (cycle is None or cycle.response_complete)
            and not parser.pipeline
            and not parser.flow.write_paused
            and parser._refused is None
            and self._answer(data)
        ):
            return
        parser.data_received(data)

    def _answer(self, data: bytes) -> bool:
        start = time.perf_counter()
        known = self.memo.get(data)
        if known is not None:  # these very bytes were answered before
            was, ref, head, coding, unchanged = known
            page = ref()
            if page is not None and self.cache.get(was) is page:  # from the page still cached
                variant = page.variants[coding]
                if unchanged:
                    status, lines, body = 304, variant.not_modified_head, b""
                else:
                    status, lines = page.status, variant.head
                    body = b"" if head else variant.body
                self._send(status, lines, body)
                self._count(head, page.route, status, start)
                return True
            del self.memo[data]
        head_only = data.startswith(b"HEAD /")
        if not (data.startswith(b"GET /") or head_only) or len(data) > MAX_HEAD:
            return False
        if data.find(b"\r\n\r\n") != len(data) - 4 or b"\0" in data:
            return False
        crlf = data.count(b"\r\n")
        if data.count(b"\r") != crlf or data.count(b"\n") != crlf or crlf > 102:
            return False
        if b"\r\n " in data or b"\r\n\t" in data:
            return False
        lower = data.lower()
        if self.private and b"\r\ncookie:" in lower and any(c in lower for c in self.private):
            return False  # a page of the reader's own (a false match only costs the app's way)
        if b"content-length" in lower or b"transfer-encoding" in lower:  # a body, to be safe
            return False
        if b"\r\nupgrade:" in lower or b"\r\nexpect:" in lower:  # more than one answer asked
            return False
        line = data[: data.index(b"\r\n")].split(b" ")
        if len(line) != 3 or line[2] != b"HTTP/1.1" or _TARGET_BAD.search(line[1]):
            return False
        key = cache_key(line[1])
        if key is None:
            return False
        page = self.cache.get(key)
        if page is None:
            return False
        try:
            connection = _header(lower, data, b"\r\nconnection:")
            if connection is not None and connection.lower() != b"keep-alive":
                return False
            accept = _header(lower, data, b"\r\naccept-encoding:")
            inm = _header(lower, data, b"\r\nif-none-match:")
            ims = _header(lower, data, b"\r\nif-modified-since:")
        except LookupError:  # a header this reads given twice: the parser's way
            return False
        coding = coding_for(accept.decode("latin-1") if accept else None)
        variant = page.variants[coding]
        fresh = (inm is not None or ims is not None) and not_modified(
            page,
            inm.decode("latin-1") if inm is not None else None,
            ims.decode("latin-1") if ims is not None else None,
        )
        if fresh:  # the client's copy is still the page: 304, as FastPath answers it
            status, lines, body = 304, variant.not_modified_head, b""
        else:
            status, lines = page.status, variant.head
            body = b"" if head_only else variant.body
        if not lines:  # a header uvicorn would refuse: the app's way
            return False
        if len(data) <= MEMO_HEAD:
            if len(self.memo) >= MEMO_ENTRIES:
                self.memo.clear()
            self.memo[data] = (key, weakref.ref(page), head_only, coding, fresh)
        self._send(status, lines, body)
        self._count(head_only, page.route, status, start)
        return True

    def _send(self, status: int, lines: bytes, body: bytes) -> None:
        dated = self.server_state.default_headers  # uvicorn's Date, a new list every second
        if dated is not self._dated[0]:
            self._dated = (dated, b"".join(n + b": " + v + b"\r\n" for n, v in dated))
        self.transport.write(  # type: ignore[union-attr]
            b"".join((STATUS_LINE[status], self._dated[1], lines, b"\r\n", body))
        )

    def _count(self, head_only: bool, route: str, status: int, start: float) -> None:
        self.hits.count("HEAD" if head_only else "GET", route, status, time.perf_counter() - start)
        self._answered()

    def _answered(self) -> None:
        """A request answered here: counted as the server counts them; the parser's keep-alive
        timer (armed after its last answer) gives way to this connection's idle timer."""
        self.server_state.total_requests += 1
        parser = self.parser
        if parser.timeout_keep_alive_task is not None:
            parser.timeout_keep_alive_task.cancel()
            parser.timeout_keep_alive_task = None
        self._last = self.loop.time()
        if self._idle is None:
            self._idle = self.loop.call_later(self.keep_alive_s, self._expire)

    def _expire(self) -> None:
        """Close the connection when it was idle for the keep-alive timeout since the last
        request answered here, unless the parser has a request of its own (it then keeps time)."""
        self._idle = None
        parser = self.parser
        if not parser.between or parser.timeout_keep_alive_task is not None:
            return
        if parser.cycle is not None and not parser.cycle.response_complete:
            return
        idle = self.loop.time() - self._last
        if idle < self.keep_alive_s:
            self._idle = self.loop.call_later(self.keep_alive_s - idle, self._expire)
        elif self.transport is not None and not self.transport.is_closing():
            self.transport.close()
