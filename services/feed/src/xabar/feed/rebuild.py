"""Rebuild the read model from scratch by replaying the event streams.

How it works (``python -m xabar.feed rebuild``):

1. A new generation ``gN`` is named and claimed as ``{feed}:building`` (a lock that expires unless
   the rebuild keeps refreshing it, so a crashed rebuild does not block the next one).
2. ``xabar.articles``, ``xabar.polls`` and ``xabar.comments`` are read from their first entry
   with XRANGE in pages of ``batch`` entries; each page is parsed with
   ``xabar.contracts.parse_event`` and applied by ``APPLY`` script calls of 100 events,
   pipelined, into ``{feed}:gN:*`` only. Redis applies one page while Python decodes the next
   and the one after is fetched. Meanwhile the live
   projector keeps serving ``{feed}:current`` and applies every new event to both generations, so
   nothing that arrives during the rebuild is missed. Version gating makes the overlap harmless.
3. One script switches ``{feed}:current`` to ``gN`` (and bumps the revision, so every replica drops
   its cached pages); after a short grace period the old generation's keys are deleted. Nothing
   reads them after the switch: every read is one script that resolves ``{feed}:current`` itself
   (``xabar.feed.repository``), and cached pages are in memory; the grace is only a margin.

History: the streams keep their entries: producers trim them only to ``stream_maxlen`` (setting
``XABAR_<SERVICE>_STREAM_MAXLEN``, default 1,000,000 entries per stream, approximate MAXLEN),
far above what the portal produces. If history was trimmed or lost anyway, have the publisher
re-emit every article's current state (its ``republish-all`` command; the polls service likewise
for its polls), then rebuild: re-emitted events carry the current versions and win over anything
older, and a replay needs no more than the newest event of each aggregate.
"""

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from tqdm import tqdm  # type: ignore[import-untyped]

from xabar.contracts import ARTICLES_STREAM, COMMENTS_STREAM, POLLS_STREAM, ContractError, Event
from xabar.feed import scripts
from xabar.feed.errors import RebuildError
from xabar.feed.projector import Outcomes, Projector
from xabar.runtime.bus import entry_event

log = logging.getLogger("xabar.feed.rebuild")

STREAMS = (ARTICLES_STREAM, POLLS_STREAM, COMMENTS_STREAM)
LOCK_TTL_S = 60
_GENERATION_KEY = re.compile(rb"^\{feed(?:\.d\d+)?\}:(g\d+):")

_REFRESH = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return 0
"""


@dataclass
class RebuildReport:
    generation: str
    previous: str | None
    entries: int = 0
    applied: int = 0
    skipped: int = 0
    per_stream: dict[str, int] = field(default_factory=dict)
    deleted_keys: int = 0


async def rebuild(
    redis: Redis,
    *,
    batch: int = 1000,
    progress: bool = True,
    grace_s: float = 0.5,
    streams: tuple[str, ...] = STREAMS,
    before_switch: Callable[[], Awaitable[None]] | None = None,
) -> RebuildReport:
    """Replay ``streams`` into a fresh generation and serve it; returns what was done.

    ``before_switch`` runs after the replay reached the streams' ends and before the switch:
    the window in which only the live projector's double writes keep new events (tests use it).
    """
    generation = f"g{await redis.incr(scripts.GENSEQ)}"
    if not await redis.set(scripts.BUILDING, generation, nx=True, ex=LOCK_TTL_S):
        other = await redis.get(scripts.BUILDING)
        raise RebuildError(
            f"another rebuild is running ({scripts.BUILDING} = {other!r}); "
            f"it expires {LOCK_TTL_S}s after that rebuild stops"
        )
    report = RebuildReport(generation, None)
    refresh = redis.register_script(_REFRESH)
    projector = Projector(redis)
    try:
        total = 0
        for stream in streams:
            total += int(await redis.xlen(stream))
        with tqdm(
            total=total,
            unit="ev",
            desc=f"rebuild {generation}",
            disable=not progress,
            dynamic_ncols=True,
        ) as bar:
            for stream in streams:
                count = await _replay(
                    redis,
                    projector,
                    stream,
                    generation,
                    batch,
                    report,
                    bar,
                    lambda: refresh(keys=[scripts.BUILDING], args=[generation, LOCK_TTL_S]),
                )
                report.per_stream[stream] = count
        if before_switch is not None:
            await before_switch()
        switch = redis.register_script(scripts.SWITCH)
        try:
            previous, _rev = await switch(keys=scripts.SWITCH_KEYS, args=[generation])
        except Exception as exc:
            raise RebuildError(f"could not switch to {generation}: {exc}") from exc
        report.previous = previous.decode() if isinstance(previous, bytes) else previous
    except BaseException:
        await _release(redis, generation)
        await _delete_generations(redis, keep={await _current(redis)})
        raise
    if grace_s > 0:
        await asyncio.sleep(grace_s)  # a margin: no read resolves the old generation any more
    report.deleted_keys = await _delete_generations(redis, keep={generation})
    log.info(
        "read model rebuilt",
        extra={"generation": generation, "entries": report.entries, "applied": report.applied},
    )
    return report


async def _replay(
    redis: Redis,
    projector: Projector,
    stream: str,
    generation: str,
    batch: int,
    report: RebuildReport,
    bar: Any,
    refresh: Any,
) -> int:
    """Read ``stream`` in XRANGE pages of ``batch`` entries and apply them. Three things overlap:
    Redis applies page N while Python decodes and prepares page N+1 and page N+2 is fetched."""

    def fetch(after: str) -> asyncio.Task[Any]:
        return asyncio.ensure_future(redis.xrange(stream, min=after, max="+", count=batch))

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
            events: list[Event] = []
            for entry_id, fields in rows:
                try:
                    events.append(entry_event(fields or {}))
                except ContractError as exc:  # poison or unknown type: the live path skips it too
                    report.skipped += 1
                    log.warning(
                        "skipping unreadable entry",
                        extra={"stream": stream, "entry_id": entry_id, "error": str(exc)},
                    )
            prepared = projector.prepare(events, generation=generation)
            if applying is not None:
                settle(await applying)
                applying = None
                if not await refresh():
                    raise RebuildError(f"the build lock of {generation} expired or was taken")
            if not rows:
                return seen
            applying = asyncio.ensure_future(projector.send(prepared))
            await asyncio.sleep(0)  # it writes its calls now, and Redis runs them meanwhile
            seen += len(rows)
            report.entries += len(rows)
            bar.update(len(rows))
    finally:
        for task in (fetching, applying):
            if task is not None and not task.done():
                task.cancel()


async def _current(redis: Redis) -> str | None:
    value = await redis.get(scripts.CURRENT)
    return value.decode() if isinstance(value, bytes) else value


async def _release(redis: Redis, generation: str) -> None:
    if await redis.get(scripts.BUILDING) == generation.encode():
        await redis.delete(scripts.BUILDING)


async def _delete_generations(redis: Redis, keep: set[str | None]) -> int:
    """Delete the keys of every generation but ``keep``, the current and one being built."""
    current, building = await redis.mget([scripts.CURRENT, scripts.BUILDING])
    protected = {g for g in keep if g} | {
        g.decode() for g in (current, building) if isinstance(g, bytes)
    }
    deleted = 0
    doomed: list[bytes] = []
    for pattern in (f"{scripts.BASE}g*:*", scripts.DOC_PATTERN):
        async for key in scan_keys(redis, pattern):
            m = _GENERATION_KEY.match(key)
            if m and m.group(1).decode() not in protected:
                doomed.append(key)
                if len(doomed) >= 500:
                    deleted += await redis.unlink(*doomed)
                    doomed.clear()
    if doomed:
        deleted += await redis.unlink(*doomed)
    return deleted


async def scan_keys(redis: Redis, pattern: str) -> AsyncIterator[bytes]:
    """Every key matching ``pattern``: on a cluster, of every master (KEYS, and a SCAN sent as
    one command, answer for one node; redis-py's cluster ``scan_iter`` scans each master to its
    end)."""
    async for key in redis.scan_iter(match=pattern, count=1000):
        yield key
