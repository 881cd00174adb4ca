"""Queues by status in Redis, for items MongoDB keeps by ``_id`` (readers' comments, letters):
FerretDB pushes down only ``_id`` filters, so "the pending comments of this article, oldest
first" is never a query of the database.

Each item has a summary (one hash, ``summaries``: id -> JSON with its ``version``) and its id in
one sorted set per status (scored by when it arrived), and, if it belongs to a group (the article
of a comment), in that group's set of its status too. A page is one ``ZRANGE`` and one ``HMGET``;
a count is one ``ZCARD``.

A put is one Lua script that keeps the newer version only (a late or repeated put never rolls
the queue back) and moves the id out of every other status set: the caller passes every set the
item could be in (all statuses, and its group's), so each key the script touches is in ``KEYS``.
Every key of a queue shares its hash tag (``{comments}``): the script is single-slot and runs on
Redis Cluster unchanged.

The repository that owns the items writes MongoDB first and puts the summary after; a crash
between the two leaves the queue behind until its ``rebuild`` (every start of the service).
"""

import json
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from redis.asyncio import Redis

from xabar.publisher.domain import Doc, Page
from xabar.runtime.luascripts import run_many

log = logging.getLogger("xabar.publisher.queues")

CHUNK = 500
Summary = Mapping[str, Any]  # plain JSON values, with "version"

# KEYS: the summaries hash, then every status set, then (if any) the group's status sets, in the
# same order. ARGV: id, summary json, version, score, the status's position (1-based), statuses.
_PUT = """
local held = redis.call('HGET', KEYS[1], ARGV[1])
if held and tonumber(cjson.decode(held)['version']) >= tonumber(ARGV[3]) then return 0 end
for i = 2, #KEYS do redis.call('ZREM', KEYS[i], ARGV[1]) end
local at, n = tonumber(ARGV[5]), tonumber(ARGV[6])
redis.call('ZADD', KEYS[1 + at], ARGV[4], ARGV[1])
if #KEYS > 1 + n then redis.call('ZADD', KEYS[1 + n + at], ARGV[4], ARGV[1]) end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
"""


def ms(value: datetime) -> int:
    """A time as a queue's score: epoch milliseconds."""
    return int(value.timestamp() * 1000)


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True, slots=True)
class Entry:
    """What a queue holds of one item."""

    item_id: str
    status: str
    version: int
    score_ms: int  # its place: when it arrived
    summary: Summary
    group: str | None = None

    @classmethod
    def of(cls, doc: Doc, arrived: str, summary: Summary, group: str | None = None) -> "Entry":
        """The entry of an item's document, placed by when it arrived (its field ``arrived``)."""
        return cls(
            item_id=str(doc["_id"]),
            status=str(doc["status"]),
            version=int(doc["version"]),
            score_ms=ms(doc[arrived]),
            summary=summary,
            group=group,
        )


class StatusQueues:
    def __init__(self, redis: Redis, name: str, statuses: Sequence[str]) -> None:
        self.redis = redis
        self.prefix = f"xabar:publisher:{{{name}}}"
        self.statuses = tuple(statuses)
        self.summaries = f"{self.prefix}:summaries"
        self._put = redis.register_script(_PUT)

    def key(self, status: str, group: str | None = None) -> str:
        if status not in self.statuses:
            raise ValueError(f"unknown status {status!r}")
        return f"{self.prefix}:group:{group}:{status}" if group else f"{self.prefix}:{status}"

    def _call(self, entry: Entry) -> tuple[list[str], list[Any]]:
        keys = [self.summaries, *(self.key(s) for s in self.statuses)]
        if entry.group:
            keys += [self.key(s, entry.group) for s in self.statuses]
        summary = {**entry.summary, "version": entry.version, "status": entry.status}
        args = [
            entry.item_id,
            json.dumps(summary, ensure_ascii=False, default=str),
            entry.version,
            entry.score_ms,
            self.statuses.index(entry.status) + 1,
            len(self.statuses),
        ]
        return keys, args

    async def put(self, entry: Entry) -> None:
        """Queue one item as just written; never raises (the next rebuild repairs)."""
        try:
            keys, args = self._call(entry)
            await self._put(keys=keys, args=args)
        except Exception:
            log.exception("not queued", extra={"queue": self.prefix, "item": entry.item_id})

    async def put_many(self, entries: Iterable[Entry]) -> int:
        batch = list(entries)
        for start in range(0, len(batch), CHUNK):
            calls = [(self._put, *self._call(entry)) for entry in batch[start : start + CHUNK]]
            await run_many(self.redis, calls)
        return len(batch)

    async def page(
        self,
        status: str,
        *,
        group: str | None = None,
        page: int = 1,
        per_page: int = 50,
        oldest_first: bool = False,
    ) -> Page[dict[str, Any]]:
        """One page of the summaries in ``status`` (of ``group``), and how many there are."""
        key = self.key(status, group)
        start = (page - 1) * per_page
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zcard(key)
            if oldest_first:
                pipe.zrange(key, start, start + per_page - 1)
            else:
                pipe.zrevrange(key, start, start + per_page - 1)
            total, ids = await pipe.execute()
        return Page(await self.read(cast("list[bytes]", ids)), int(total), page, per_page)

    async def count(self, status: str, group: str | None = None) -> int:
        return int(await self.redis.zcard(self.key(status, group)))

    async def counts(self, group: str | None = None) -> dict[str, int]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for status in self.statuses:
                pipe.zcard(self.key(status, group))
            found = await pipe.execute()
        return {s: int(n) for s, n in zip(self.statuses, found, strict=True)}

    async def read(self, ids: Sequence[bytes | str]) -> list[dict[str, Any]]:
        """The summaries of these items (those queued), in that order."""
        out: list[dict[str, Any]] = []
        for start in range(0, len(ids), CHUNK):
            chunk = list(ids[start : start + CHUNK])
            if not chunk:
                continue
            raws = cast("list[bytes | None]", await self.redis.hmget(self.summaries, chunk))
            out.extend(json.loads(raw) for raw in raws if raw is not None)
        return out
