"""Rebuild the read model from scratch by replaying the event streams.

How it works (``python -m xabar.feed rebuild``):

1. A new generation ``gN`` is named and claimed as ``{feed}:building`` (a lock that expires unless
   the rebuild keeps refreshing it, so a crashed rebuild does not block the next one).
2. ``xabar.articles``, ``xabar.polls`` and ``xabar.comments`` are read from their first entry
   with XRANGE in pages of ``batch`` entries (``BATCH``, 5,000: a page's documents take one call
   per bucket they fall in); each page is parsed with ``xabar.contracts.parse_event`` and
   applied (``Projector.apply_events``, ``CHUNK`` events a step) into ``{feed}:gN:*`` only. Redis
   applies one chunk while Python prepares the next or decodes the next page, and the page after
   is fetched. The slugs of the served generation are copied by a script, 500 a call.
   Meanwhile the live projector keeps serving ``{feed}:current`` and applies every new event to
   both generations, so nothing that arrives during the rebuild is missed. Version gating makes
   the overlap harmless.
3. One script switches ``{feed}:current`` to ``gN`` (and bumps the revision, so every replica drops
   its cached pages); after a short grace period the old generation's keys are deleted. Nothing
   reads them after the switch: every read is one script that resolves ``{feed}:current`` itself
   (``xabar.feed.repository``), and cached pages are in memory; the grace is only a margin.

History older than the stream (between steps 2 and 3): ``xabar.articles`` keeps a window, not the
   whole history (``xabar.runtime.bus.STREAM_WINDOWS``: 100,000 entries; every article event
   carries the whole article, so a million of them would be 5 GB on one node). After the
   replay, every article the new generation does not hold yet
   (its events were older than the window) is taken over from the served generation
   (``take_over``): listed again from its stored document through the same version-gated steps,
   its tombstone kept if it was unpublished, and every slug the served generation knows copied
   (old slugs redirect, unpublished ones answer 410). The polls' and comments' streams keep
   ``stream_maxlen`` entries (default 1,000,000). A rebuild that must build every article's
   document anew from its event (a new document shape) needs every article's newest event in
   the window: raise the window above the articles' count, have the publisher re-emit every
   article's current state (``republish-all``), then rebuild.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tqdm import tqdm  # type: ignore[import-untyped]

from xabar.contracts import ARTICLES_STREAM, COMMENTS_STREAM, POLLS_STREAM, ContractError, Event
from xabar.feed import scripts
from xabar.feed.documents import ArticleDoc, unpack_article
from xabar.feed.errors import RebuildError
from xabar.feed.generations import Generations, prefix
from xabar.feed.projector import Batch, DocWrite, Outcomes, Projector, apply_header, article_header
from xabar.feed.repository import Documents
from xabar.runtime.bus import entry_event

if TYPE_CHECKING:
    from xabar.runtime.config import RedisClient

log = logging.getLogger("xabar.feed.rebuild")

STREAMS = (ARTICLES_STREAM, POLLS_STREAM, COMMENTS_STREAM)
LOCK_TTL_S = 60
BATCH = 5000  # stream entries per XRANGE page: a page's documents take one call per bucket
DECODE_STEP = 100  # entries decoded between two looks at the page being applied
CHUNK = 1000  # events per step of a page (``Projector.apply_events``)


@dataclass
class RebuildReport:
    generation: str
    previous: str | None
    entries: int = 0
    applied: int = 0
    skipped: int = 0
    per_stream: dict[str, int] = field(default_factory=dict)
    deleted_keys: int = 0
    taken_over: int = 0  # articles older than the stream's window, from the served generation


async def rebuild(
    redis: "RedisClient",
    *,
    batch: int = BATCH,
    progress: bool = True,
    grace_s: float = 0.5,
    streams: tuple[str, ...] = STREAMS,
    before_switch: Callable[[], Awaitable[None]] | None = None,
) -> RebuildReport:
    """Replay ``streams`` into a fresh generation and serve it; returns what was done.

    ``before_switch`` runs after the replay reached the streams' ends and before the switch:
    the window in which only the live projector's double writes keep new events (tests use it).
    """
    store = Generations(redis)
    generation, other = await store.claim(LOCK_TTL_S)
    if other is not None:
        raise RebuildError(
            f"another rebuild is running ({scripts.BUILDING} = {other!r}); "
            f"it expires {LOCK_TTL_S}s after that rebuild stops"
        )
    report = RebuildReport(generation, await store.current())
    projector = Projector(redis, chunk=CHUNK)
    documents = Documents(redis)
    try:
        total = 0
        for stream in streams:
            total += await store.stream_length(stream)
        with tqdm(
            total=total,
            unit="ev",
            desc=f"rebuild {generation}",
            disable=not progress,
            dynamic_ncols=True,
        ) as bar:
            for stream in streams:
                count = await _replay(store, projector, stream, generation, batch, report, bar)
                report.per_stream[stream] = count
        report.taken_over = await take_over(
            store, documents, projector, report.previous, generation
        )
        if before_switch is not None:
            await before_switch()
        try:
            report.previous = await store.switch(generation)
        except Exception as exc:
            raise RebuildError(f"could not switch to {generation}: {exc}") from exc
    except BaseException:
        await store.release(generation)
        await store.delete_all_but({await store.current()})
        raise
    if grace_s > 0:
        await asyncio.sleep(grace_s)  # a margin: no read resolves the old generation any more
    report.deleted_keys = await store.delete_all_but({generation})
    log.info(
        "read model rebuilt",
        extra={"generation": generation, "entries": report.entries, "applied": report.applied},
    )
    return report


async def _replay(
    store: Generations,
    projector: Projector,
    stream: str,
    generation: str,
    batch: int,
    report: RebuildReport,
    bar: Any,
) -> int:
    """Read ``stream`` in XRANGE pages of ``batch`` entries and apply them. Three things overlap:
    Redis applies page N while Python decodes and prepares page N+1 and page N+2 is fetched."""

    def fetch(after: str) -> asyncio.Task[Any]:
        return asyncio.ensure_future(store.stream_page(stream, after, batch))

    def settle(done: Outcomes) -> None:
        report.applied += done.changed
        for error in done.errors:
            if error is not None:
                raise error

    seen = 0
    fetching = fetch("-")
    applying: asyncio.Task[Outcomes] | None = None
    try:
        while True:
            rows = await fetching
            if rows:
                last = rows[-1][0]
                fetching = fetch("(" + (last.decode() if isinstance(last, bytes) else str(last)))
            events = await _decode(rows, stream, report)
            if applying is not None:
                settle(await applying)
                applying = None
                if not await store.refresh(generation, LOCK_TTL_S):
                    raise RebuildError(f"the build lock of {generation} expired or was taken")
            if not rows:
                return seen
            applying = asyncio.ensure_future(projector.apply_events(events, generation=generation))
            await asyncio.sleep(0)  # it writes its first chunk now, and Redis runs it meanwhile
            seen += len(rows)
            report.entries += len(rows)
            bar.update(len(rows))
    finally:
        for task in (fetching, applying):
            if task is not None and not task.done():
                task.cancel()


async def _decode(rows: list[Any], stream: str, report: RebuildReport) -> list[Event]:
    """The events of a page of entries, yielding to the page being applied now and then (so
    that its next chunk is sent while this one is decoded)."""
    events: list[Event] = []
    for n, (entry_id, fields) in enumerate(rows):
        if n % DECODE_STEP == DECODE_STEP - 1:
            await asyncio.sleep(0)
        try:
            events.append(entry_event(fields or {}))
        except ContractError as exc:  # poison or unknown type: the live path skips it too
            report.skipped += 1
            log.warning(
                "skipping unreadable entry",
                extra={"stream": stream, "entry_id": entry_id, "error": str(exc)},
            )
    return events


@dataclass(frozen=True, slots=True)
class _TakenOver:
    """An article taken over from the served generation (what an outcome's error names)."""

    event_id: str
    type: str = "article (taken over)"


async def take_over(
    store: Generations,
    documents: Documents,
    projector: Projector,
    served: str | None,
    generation: str,
    chunk: int = 500,
) -> int:
    """Give ``generation`` the articles whose events are no longer in ``xabar.articles`` (the
    stream is trimmed to a window, ``xabar.runtime.bus.STREAM_WINDOWS``) from the served
    generation: each article ``generation`` does not hold after the replay is listed again from
    its stored document (a tombstone stays a tombstone), through the same version-gated steps,
    and every slug it knows that ``generation`` does not (old slugs redirect, unpublished ones
    answer 410) is copied. Returns how many articles it took over.

    What comes from the served generation is its documents as they were built, not the events:
    a rebuild that must build every document anew needs the whole history (the publisher's
    ``republish-all`` while the rebuild runs, or a window above the articles' count)."""
    if served is None or served == generation:
        return 0
    await store.copy_slugs(served, generation, chunk)
    taken = 0
    async for pairs in store.hash_chunks(prefix(served) + "v", chunk):
        ids = [k.decode() for k, _ in pairs]
        held, listed = await store.held_and_listed(served, generation, ids)
        missing = [(n, i) for n, i in enumerate(ids) if held[n] is None]
        if not missing:
            continue
        docs = await documents.read(served, [i for n, i in missing if listed[n]])
        labels = [_TakenOver(article_id) for _, article_id in missing]
        batch = Batch(labels, [None] * len(labels), generation)
        for at, (n, article_id) in enumerate(missing):
            version = int(pairs[n][1])
            doc = docs.get(article_id)
            if doc is None:  # unpublished (or its document lost): a tombstone
                header = apply_header("U", article_id, version, 0)
                batch.tombstones.append(DocWrite(at, article_id, version, b""))
            else:
                fields = ArticleDoc.model_validate_json(unpack_article(doc)).model_dump()
                header = article_header(fields, version, 0)
                batch.docs.append(DocWrite(at, article_id, version, doc))
            batch.items.append((at, header, ""))
        outcome = await projector.send(batch)
        for error in outcome.errors:
            if error is not None:
                raise error
        taken += len(missing)
    await store.keep_last_modified(served, generation)
    return taken
