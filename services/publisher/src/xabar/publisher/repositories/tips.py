"""The newsroom's inbox list, indexed in Redis (MongoDB's ``inbox`` stays the truth): a summary of
each tip in one hash and its id in sorted sets by the time it was received (all, per status, per
country), so a page of the inbox is a ``ZREVRANGEBYSCORE`` and an ``HMGET``, never a scan of
FerretDB.

The inbox repository puts a tip's summary after every write of it (the same "newer version wins"
script as the article index, so a late or repeated put never rolls it back); every start of the
service rebuilds the index in the background from a scan of the tips, which repairs what a crash
between a write and its put left behind.
"""

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from redis.asyncio import Redis

from xabar.contracts import SubmissionStatus
from xabar.publisher.domain import Doc, Page, Period
from xabar.publisher.repositories.queues import ms, now_ms
from xabar.runtime.luascripts import run_many

log = logging.getLogger("xabar.publisher.tips")

PREFIX = "xabar:publisher:{tips}"  # one hash tag: every script is single-slot
SUMMARIES = f"{PREFIX}:summaries"
ALL = f"{PREFIX}:all"
ARRIVED = f"{PREFIX}:arrived"  # by when the publisher stored each tip: what "new" means live
STATUS_SETS = tuple(f"{PREFIX}:status:{s.value}" for s in SubmissionStatus)  # one may be left
EXCERPT = 280
CHUNK = 500

# A tip's summary, unless the one held is newer: KEYS 1 the summaries hash, 2.. the sorted sets
# to add it to (ARGV 5 of them), then sets the caller knows it may have to leave; ARGV 1 the
# tip's id, 2 its summary (JSON, with ``_sets``: the sorted sets it is in), 3 its version, 4 its
# score, 5 how many sets to add it to. Every key it touches is in KEYS: when the summary held is
# in a set the caller did not pass, nothing is written and the reply is {'sets', that summary's
# sets as JSON}, to be called again with them. Returns 1 (put) or 0 (the held one is newer).
PUT_NEWER = """
local passed = {}
for i = 2, #KEYS do passed[KEYS[i]] = i end
local old = redis.call('HGET', KEYS[1], ARGV[1])
local leave = {}
if old then
  local prev = cjson.decode(old)
  if tonumber(prev['version']) > tonumber(ARGV[3]) then return 0 end
  for _, key in ipairs(prev['_sets']) do
    if not passed[key] then return {'sets', cjson.encode(prev['_sets'])} end
    leave[#leave + 1] = passed[key]
  end
end
for _, i in ipairs(leave) do redis.call('ZREM', KEYS[i], ARGV[1]) end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
for i = 2, 1 + tonumber(ARGV[5]) do redis.call('ZADD', KEYS[i], ARGV[4], ARGV[1]) end
return 1
"""


@dataclass(frozen=True, slots=True)
class TipQuery:
    """Which tips the inbox shows (each filter None: any), and which page."""

    status: str | None = None
    country: str | None = None
    received: Period = field(default_factory=Period)
    page: int = 1
    per_page: int = 30

    def matches(self, doc: Doc) -> bool:
        return (
            (self.status is None or doc["status"] == self.status)
            and (self.country is None or doc["submission"]["country"] == self.country)
            and doc["received_at"] in self.received
        )


def summary_of(doc: Doc) -> dict[str, Any]:
    tip = doc["submission"]
    text = " ".join(str(tip.get("text") or "").split())
    return {
        "submission_id": str(doc["_id"]),
        "version": int(doc["version"]),
        "status": str(doc["status"]),
        "title": str(tip.get("title") or ""),
        "excerpt": text[:EXCERPT] + ("…" if len(text) > EXCERPT else ""),
        "country": str(tip.get("country") or ""),
        "location": tip.get("location"),
        "photos": len(tip.get("attachments") or []),
        "received_at": doc["received_at"].isoformat(),
        "article_id": doc.get("article_id"),
    }


def detail_of(doc: Doc) -> dict[str, Any]:
    """What a tip's page shows besides its summary (so the page reads Redis, not FerretDB)."""
    tip = doc["submission"]
    reviewed_at = doc.get("reviewed_at")
    return {
        "text": str(tip.get("text") or ""),
        "anonymous": bool(tip.get("anonymous")),
        # the reporter's contact stays sealed here (opened for the editor on each showing); only
        # tips from before submission.received v2 came with it open
        "contact_sealed": tip.get("contact_sealed"),
        "contact": tip.get("contact"),
        "attachments": list(tip.get("attachments") or []),
        "reviewed_at": reviewed_at.isoformat() if isinstance(reviewed_at, datetime) else None,
        "reviewed_by": doc.get("reviewed_by"),
        "public_reason": doc.get("public_reason"),
    }


def sets_of(summary: dict[str, Any]) -> list[str]:
    keys = [ALL, f"{PREFIX}:status:{summary['status']}"]
    if summary["country"]:
        keys.append(f"{PREFIX}:country:{summary['country']}")
    return keys


class TipIndex:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._put = redis.register_script(PUT_NEWER)

    def _call(self, doc: Doc, leave: Iterable[str] = ()) -> tuple[list[str], list[Any]]:
        summary = summary_of(doc) | {"detail": detail_of(doc)}
        keys = sets_of(summary)
        summary["_sets"] = keys
        score = ms(doc["received_at"])
        extra = [k for k in dict.fromkeys([*STATUS_SETS, *leave]) if k not in keys]
        args = [
            summary["submission_id"],
            json.dumps(summary, ensure_ascii=False),
            summary["version"],
            score,
            len(keys),
        ]
        return [SUMMARIES, *keys, *extra], args

    async def _put_one(self, doc: Doc, reply: Any = None) -> None:
        """Put ``doc`` (``reply``: that of a first call made already), with the sets its held
        summary is in when the first call did not know them."""
        keys, args = self._call(doc)
        if reply is None:
            reply = await self._put(keys=keys, args=args)
        if isinstance(reply, list):  # held in sets we did not pass: once more with them
            keys, args = self._call(doc, json.loads(reply[1]))
            await self._put(keys=keys, args=args)

    async def put(self, doc: Doc) -> None:
        """Index a tip as just written; never raises (the next rebuild repairs)."""
        try:
            await self._put_one(doc)
            await self.redis.zadd(ARRIVED, {str(doc["_id"]): now_ms()}, nx=True)
        except Exception:
            log.exception("tip not indexed", extra={"submission_id": str(doc.get("_id"))})

    async def put_many(self, docs: Iterable[Doc]) -> int:
        batch = list(docs)
        for start in range(0, len(batch), CHUNK):
            chunk = batch[start : start + CHUNK]
            replies = await run_many(self.redis, [(self._put, *self._call(d)) for d in chunk])
            arrived = {str(d["_id"]): ms(d["received_at"]) for d in chunk}
            await self.redis.zadd(ARRIVED, arrived, nx=True)
            for doc, reply in zip(chunk, replies, strict=True):
                if isinstance(reply, list):
                    await self._put_one(doc, reply)
        return len(batch)

    async def search(self, query: TipQuery) -> Page[dict[str, Any]]:
        """Summaries, newest first, and how many match."""
        key = f"{PREFIX}:status:{query.status}" if query.status else ALL
        if query.country and not query.status:
            key = f"{PREFIX}:country:{query.country}"
        since, until = query.received.since, query.received.until
        low = ms(since) if since else "-inf"
        high = f"({ms(until)}" if until else "+inf"  # until is excluded
        start = (query.page - 1) * query.per_page
        if not (query.status and query.country):
            total = int(await self.redis.zcount(key, low, high))
            ids = await self.redis.zrevrangebyscore(key, high, low, start=start, num=query.per_page)
            return Page(await self._summaries(ids), total, query.page, query.per_page)
        ids = await self.redis.zrevrangebyscore(key, high, low)
        rows = [r for r in await self._summaries(ids) if r["country"] == query.country]
        return Page.of(rows, query.page, query.per_page)

    async def get(self, submission_id: str) -> dict[str, Any] | None:
        """One tip's summary with its ``detail``; None if it is not indexed."""
        found = await self._summaries([submission_id])
        return found[0] if found else None

    async def count(self, status: str) -> int:
        return int(await self.redis.zcard(f"{PREFIX}:status:{status}"))

    async def arrived_since(
        self, after_ms: int, limit: int = 50
    ) -> tuple[list[dict[str, Any]], int]:
        """Tips stored after ``after_ms`` (epoch milliseconds, the publisher's clock), newest
        first, and the latest of their arrival times (``after_ms`` if none)."""
        found = cast(
            "list[tuple[bytes, float]]",
            await self.redis.zrevrangebyscore(
                ARRIVED, "+inf", f"({after_ms}", start=0, num=limit, withscores=True
            ),
        )
        newest = max([int(score) for _, score in found] or [after_ms])
        return await self._summaries([member for member, _ in found]), newest

    async def _summaries(self, ids: list[Any]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for start in range(0, len(ids), 1000):
            chunk = ids[start : start + 1000]
            for raw in cast("list[bytes | None]", await self.redis.hmget(SUMMARIES, chunk)):
                if raw is not None:
                    row = json.loads(raw)
                    row["received_at"] = datetime.fromisoformat(row["received_at"])
                    detail = row.get("detail") or {}
                    if detail.get("reviewed_at"):
                        detail["reviewed_at"] = datetime.fromisoformat(detail["reviewed_at"])
                    out.append(row)
        return out
