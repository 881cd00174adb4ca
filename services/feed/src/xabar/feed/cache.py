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
wins over If-Modified-Since (RFC 9110 13.2.2). The rendered pages themselves (``Rendered``, its
variants per coding, ``respond``) are the runtime's: ``xabar.runtime.rendered``.
"""

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable

from xabar.feed.repository import UNAVAILABLE, Revisions
from xabar.runtime.rendered import Rendered
from xabar.runtime.workers import Worker

LISTEN_S = 0.5  # how long one wait for a pushed revision lasts

log = logging.getLogger("xabar.feed.cache")

__all__ = ["PageCache", "RevisionWatcher"]


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

    def __init__(self, revisions: Revisions, cache: PageCache, interval: float = 0.1) -> None:
        self.revisions = revisions
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
            unavailable=UNAVAILABLE,
            min_backoff=self.interval,
            max_backoff=self.interval,
        )

    async def refresh(self) -> None:
        """Read the revision. It went back (Redis was emptied) only when it is lower than the
        one read before on this same connection: a read that was in flight while the projector
        or the pub/sub told a newer one is not a step back."""
        revision = await self.revisions.read()
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
        async for revision in self.revisions.pushed(lambda: self._listener.stopping, LISTEN_S):
            self.cache.observe(revision)
