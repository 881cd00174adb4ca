"""Rendered pages, cached per process and invalidated by events.

Every rendered page is tagged with the read model's revision it was built from (read atomically
with the data). The projector bumps ``{feed}:rev`` with every change (once per script call) and
publishes the new value on the pub/sub channel ``{feed}:rev``; the projector's own process learns it
at once, every other replica through its ``RevisionWatcher``, which listens to that channel and
also reads the key every 100 ms (``XABAR_FEED_REVISION_POLL_MS``) in case a message was lost
while it reconnected. So a cached page is served only while no change happened since it was
rendered, give or take the pub/sub delivery (about a millisecond) and at most one poll interval.
Invalidation is by events, never by timers; pages with relative dates ("Сегодня") also expire at
the next local midnight.

Besides the pages under their URLs, the cache keeps variants of them (``get_variant``): a page as
a reader sees it right after voting in its poll (``xabar.feed.votes.split_vote``), one per
page, poll and choice, in a store of its own with its own bounds, so that variants never push
pages out. They follow the same revision.

Serving a cached page costs a dict look-up, an integer comparison and a clock read: no I/O.
Each page is compressed once, when it is rendered (gzip and brotli), and sent in the coding the
request's ``Accept-Encoding`` prefers, with ``Vary: Accept-Encoding``. Conditional GET: a
strong ETag per variant (hash of the body, plus the coding) and Last-Modified; If-None-Match
wins over If-Modified-Since (RFC 9110 13.2.2).
"""

import asyncio
import contextlib
import gzip
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from hashlib import blake2b

import brotli  # type: ignore[import-untyped]
from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.background import BackgroundTask
from starlette.datastructures import Headers
from starlette.responses import Response
from uvicorn.protocols.http.httptools_impl import HEADER_RE, HEADER_VALUE_RE

from xabar.feed import scripts
from xabar.feed.dates import http_date
from xabar.runtime.workers import Worker

LISTEN_S = 0.5  # how long one wait for a pushed revision lasts

log = logging.getLogger("xabar.feed.cache")

NO_CACHE = "public, no-cache"


IDENTITY, GZIP, BR = 0, 1, 2
CODINGS = ("", "gzip", "br")
COMPRESSIBLE = ("text/", "application/")
MIN_COMPRESS = 256  # smaller bodies are sent as they are
GZIP_LEVEL = 6
BROTLI_QUALITY = 6  # ~1 ms for a 50 KB page; 11 would cost ~30 ms per render for 3 % less


@dataclass(slots=True, eq=False)
class Variant:
    """One representation of a page: the body in one content coding, its headers prebuilt (as
    ASGI headers, and as the bytes of the response head after the status line, for the fast
    protocol: ``xabar.feed.fastpath.FastProtocol``)."""

    body: bytes
    etag: str
    headers: list[tuple[bytes, bytes]]
    not_modified_headers: list[tuple[bytes, bytes]]
    head: bytes = b""
    not_modified_head: bytes = b""

    def __post_init__(self) -> None:
        self.head = _header_lines(self.headers)
        self.not_modified_head = _header_lines(self.not_modified_headers)


def _header_lines(headers: list[tuple[bytes, bytes]]) -> bytes:
    """The header lines, or b"" when one would not pass uvicorn's own checks (the page then
    goes out through uvicorn, which refuses it as it would any such header)."""
    if any(HEADER_RE.search(name) or HEADER_VALUE_RE.search(value) for name, value in headers):
        return b""
    return b"".join(name + b": " + value + b"\r\n" for name, value in headers)


@dataclass(slots=True, eq=False, weakref_slot=True)
class Rendered:
    """A response body with what conditional GET and the cache need, and its compressed
    variants (gzip and brotli, made once, when the page is rendered)."""

    body: bytes
    media_type: str
    revision: int
    last_modified: datetime
    expires_at: float | None = None  # epoch seconds; None = until the revision changes
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    cache_control: str = NO_CACHE
    etag: str = ""
    lm_seconds: int = 0
    variants: tuple[Variant, ...] = ()
    size: int = 0  # bytes held by every variant
    route: str = "unmatched"  # the route template it was rendered for (metrics' label)
    # a page after a vote: the version of the voted poll's tally it shows (0: none yet);
    # None: the vote is not one this page shows (it was rendered as the page itself)
    vote_tally: int | None = None

    def __post_init__(self) -> None:
        self.etag = blake2b(self.body, digest_size=16).hexdigest()
        self.lm_seconds = int(self.last_modified.timestamp())
        compress = len(self.body) >= MIN_COMPRESS and self.media_type.startswith(COMPRESSIBLE)
        if compress:
            bodies = (
                self.body,
                gzip.compress(self.body, GZIP_LEVEL, mtime=0),
                brotli.compress(self.body, quality=BROTLI_QUALITY),
            )
        else:
            bodies = (self.body,) * 3
        self.variants = tuple(self._variant(b, c, compress) for c, b in enumerate(bodies))
        self.size = sum(len(b) for b in set(bodies)) + 1024
        self.etag = self.variants[IDENTITY].etag

    def _variant(self, body: bytes, coding: int, compressed: bool) -> Variant:
        suffix = f"-{CODINGS[coding]}" if compressed and coding else ""
        etag = f'"{self.etag}{suffix}"'
        validators = [
            (b"etag", etag.encode()),
            (b"last-modified", http_date(self.last_modified).encode()),
            (b"cache-control", self.cache_control.encode()),
        ]
        if compressed:
            validators.append((b"vary", b"Accept-Encoding"))
        extra = [(k.lower().encode(), v.encode("latin-1")) for k, v in self.headers.items()]
        if not any(name == b"x-content-type-options" for name, _ in extra):
            extra.append((b"x-content-type-options", b"nosniff"))
        headers = [
            (b"content-type", self.media_type.encode()),
            (b"content-length", str(len(body)).encode()),
            *validators,
            *extra,
        ]
        if compressed and coding:
            headers.append((b"content-encoding", CODINGS[coding].encode()))
        return Variant(body, etag, headers, validators)

    @property
    def raw_headers(self) -> list[tuple[bytes, bytes]]:
        return self.variants[IDENTITY].headers

    def fresh(self, revision: int, now: float) -> bool:
        return self.revision >= revision and (self.expires_at is None or now < self.expires_at)


class CachedResponse(Response):
    """A response whose headers were built once, when the page was rendered."""

    def __init__(self, status: int, body: bytes, raw_headers: list[tuple[bytes, bytes]]) -> None:
        self.status_code = status
        self.body = body
        self.raw_headers = raw_headers
        self.background: BackgroundTask | None = None


_CHOICES: dict[str, int] = {}
_MAX_CHOICES = 512  # distinct Accept-Encoding values remembered (browsers send a handful)


def coding_for(accept_encoding: str | None) -> int:
    """The content coding to send for an ``Accept-Encoding`` (RFC 9110 12.5.3): brotli where
    it is accepted at least as much as gzip, else gzip, else the body as it is."""
    if not accept_encoding:
        return IDENTITY
    choice = _CHOICES.get(accept_encoding)
    if choice is None:
        choice = _parse_accept_encoding(accept_encoding)
        if len(_CHOICES) < _MAX_CHOICES:
            _CHOICES[accept_encoding] = choice
    return choice


def _parse_accept_encoding(value: str) -> int:
    weights: dict[str, float] = {}
    for part in value[:1000].lower().split(","):
        name, _, params = part.partition(";")
        weight = 1.0
        for param in params.split(";"):
            key, _, number = param.strip().partition("=")
            if key == "q":
                try:
                    weight = min(1.0, max(0.0, float(number)))
                except ValueError:
                    weight = 0.0
        weights[name.strip()] = weight
    star = weights.get("*", 0.0)
    br = weights.get("br", star)
    gz = max(weights.get("gzip", star), weights.get("x-gzip", 0.0))
    if br > 0 and br >= gz:
        return BR
    return GZIP if gz > 0 else IDENTITY


def _etags(header: str) -> set[str]:
    return {t.strip().removeprefix("W/") for t in header.split(",") if t.strip()}


def not_modified(page: Rendered, if_none_match: str | None, if_modified_since: str | None) -> bool:
    """The validators still match ``page``. An ETag of any of its variants matches (a cache
    may hold the gzip variant and ask with its tag while accepting brotli now)."""
    if page.status != 200:
        return False
    if if_none_match is not None:
        tags = _etags(if_none_match)
        return "*" in tags or any(v.etag in tags for v in page.variants)
    if if_modified_since:
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError, IndexError):
            return False
        if since.tzinfo is None:
            return False
        return page.lm_seconds <= int(since.timestamp())
    return False


def respond(page: Rendered, headers: Headers) -> Response:
    """``page`` in the coding the request accepts, or a 304 if its validators still match."""
    variant = page.variants[coding_for(headers.get("accept-encoding"))]
    if not_modified(page, headers.get("if-none-match"), headers.get("if-modified-since")):
        return CachedResponse(304, b"", variant.not_modified_headers)
    return CachedResponse(page.status, variant.body, variant.headers)


class _Store:
    """Pages by key, bounded by entries and by bytes, least recently stored first out."""

    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.bytes = 0
        self.entries: OrderedDict[Hashable, Rendered] = OrderedDict()

    def put(self, key: Hashable, page: Rendered) -> None:
        old = self.entries.pop(key, None)
        if old is not None:
            self.bytes -= old.size
        self.entries[key] = page
        self.bytes += page.size
        while len(self.entries) > 1 and (
            len(self.entries) > self.max_entries or self.bytes > self.max_bytes
        ):
            _, dropped = self.entries.popitem(last=False)
            self.bytes -= dropped.size

    def clear(self) -> None:
        self.entries.clear()
        self.bytes = 0


class PageCache:
    """Rendered pages by key (the canonical URL); one render at a time per key (concurrent
    misses share it). Bounded by entries and by the bytes its pages hold, least recently
    rendered first out; the variants of pages after a vote are bounded apart."""

    def __init__(
        self,
        max_entries: int = 4096,
        clock: Callable[[], float] = time.time,
        *,
        max_bytes: int = 32 << 20,
        variant_entries: int = 512,
        variant_bytes: int = 8 << 20,
    ) -> None:
        self.clock = clock
        self.revision = 0
        self._pages = _Store(max_entries, max_bytes)
        self._variants = _Store(variant_entries, variant_bytes)
        self._inflight: dict[Hashable, asyncio.Future[Rendered]] = {}
        self._moved: asyncio.Event | None = None  # set when the revision moves

    @property
    def max_entries(self) -> int:
        return self._pages.max_entries

    @property
    def bytes(self) -> int:
        return self._pages.bytes

    @property
    def variant_count(self) -> int:
        return len(self._variants.entries)

    def observe(self, revision: int) -> None:
        """The served read model reached ``revision``: older pages are stale from now on."""
        if revision > self.revision:
            self.revision = revision
            self._wake()

    def reset(self, revision: int) -> None:
        """The revision went back (Redis was emptied): forget everything."""
        self._pages.clear()
        self._variants.clear()
        self.revision = revision
        self._wake()

    def _wake(self) -> None:
        if self._moved is not None:
            self._moved.set()
            self._moved = None

    async def moved_past(self, revision: int, within: float) -> bool:
        """Wait until the revision is past ``revision``, at most ``within`` seconds; whether
        it is."""
        if self.revision <= revision and within > 0:
            if self._moved is None:
                self._moved = asyncio.Event()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._moved.wait(), within)
        return self.revision > revision

    def _fresh(self, page: Rendered | None) -> Rendered | None:
        if page is None or not page.fresh(self.revision, self.clock()):
            return None
        return page

    def get(self, key: Hashable) -> Rendered | None:
        return self._fresh(self._pages.entries.get(key))

    def get_variant(self, key: Hashable) -> Rendered | None:
        return self._fresh(self._variants.entries.get(key))

    def stale(self, key: Hashable) -> Rendered | None:
        """The page last rendered under ``key``, fresh or not (for when rendering fails)."""
        return self._pages.entries.get(key)

    def put(self, key: Hashable, page: Rendered) -> None:
        self.observe(page.revision)
        self._pages.put(key, page)

    def put_variant(self, key: Hashable, page: Rendered) -> None:
        self.observe(page.revision)
        self._variants.put(key, page)

    async def get_or_render(
        self, key: Hashable, render: Callable[[], Awaitable[Rendered]]
    ) -> Rendered:
        page = self.get(key)
        if page is not None:
            return page
        future = self._inflight.get(key)
        if future is None:
            future = asyncio.ensure_future(self._render(key, render))
            self._inflight[key] = future
        return await asyncio.shield(future)

    async def _render(self, key: Hashable, render: Callable[[], Awaitable[Rendered]]) -> Rendered:
        try:
            page = await render()
            if page.status in (200, 301):
                self.put(key, page)
            return page
        finally:
            self._inflight.pop(key, None)

    def __len__(self) -> int:
        return len(self._pages.entries)


class RevisionWatcher:
    """Keeps ``cache.revision`` up with ``{feed}:rev``: pushed (pub/sub), and read every
    ``interval`` seconds as the fallback.

    The projectors publish every new revision on the channel ``{feed}:rev``, so a replica that
    runs no projector sees a change as soon as the message arrives; the poll (one GET per
    interval per process) bounds the staleness to ``interval`` when a message is lost, e.g. while
    the subscription reconnects, and notices a revision that went back (Redis emptied). Both are
    runtime ``Worker`` loops: a failure is logged once, retried every ``interval``.
    """

    def __init__(self, redis: Redis, cache: PageCache, interval: float = 0.1) -> None:
        self.redis = redis
        self.cache = cache
        self.interval = interval
        self._polled: int | None = None
        self._poller = self._worker("feed-revision-poll", self.refresh, interval)
        self._listener = self._worker("feed-revision-listen", self._listen, 0)

    def _worker(self, name: str, step: Callable[[], Awaitable[None]], interval: float) -> Worker:
        """A loop that retries every ``interval`` of the watcher after a failure."""
        return Worker(
            name,
            step,
            interval=interval,
            unavailable=(RedisError, OSError, ValueError),
            min_backoff=self.interval,
            max_backoff=self.interval,
        )

    async def refresh(self) -> None:
        """Read the revision. It went back (Redis was emptied) only when it is lower than the
        one read before on this same connection: a read that was in flight while the projector
        or the pub/sub told a newer one is not a step back."""
        value = await self.redis.get(scripts.REV)
        revision = int(value or 0)
        previous, self._polled = self._polled, revision
        if previous is not None and revision < previous:
            log.warning("read-model revision went back; clearing the page cache")
            self.cache.reset(revision)
        else:
            self.cache.observe(revision)

    async def start(self) -> None:
        await self.refresh()
        self._poller.start()
        self._listener.start()

    async def stop(self) -> None:
        """Stop polling and listening; a listen in progress ends within ``LISTEN_S``."""
        await self._listener.stop()
        await self._poller.stop()

    async def _listen(self) -> None:
        """Subscribe and apply every revision pushed, until stopped (or the connection fails:
        the worker then subscribes again)."""
        pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(scripts.REV)
            while not self._listener.stopping:
                message = await pubsub.get_message(timeout=LISTEN_S)
                if message is not None and message.get("type") == "message":
                    self.cache.observe(int(message["data"]))
        finally:
            with contextlib.suppress(RedisError, OSError):
                await pubsub.aclose()  # type: ignore[no-untyped-call]
