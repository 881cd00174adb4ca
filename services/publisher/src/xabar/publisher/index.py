"""The editors' article list, indexed in Redis (MongoDB stays the truth).

On FerretDB a listing read from the articles themselves is a full scan with every document
decoded: about 3 s for 6,300 articles. Here each article has a small summary in one Redis hash
and its id in sorted sets by last change (all, per status, per country, per owner), so a page is
a ``ZREVRANGE`` and an ``HMGET``.

Every write of an article puts its summary afterwards; the put is one Lua script that keeps the
newer version only (a late or repeated put never rolls the index back) and moves the id between
the sets. A crash between the MongoDB write and the put leaves the index behind until the next
rebuild: every start of the service rebuilds it in the background from a scan of the articles.
"""

import json
import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any, cast

from redis.asyncio import Redis

from xabar.publisher.domain import Doc
from xabar.publisher.repository import Coll

log = logging.getLogger("xabar.publisher.index")

PREFIX = "xabar:publisher:idx"
SUMMARIES = f"{PREFIX}:summaries"
ALL = f"{PREFIX}:all"
SUMMARY_FIELDS = (
    "status",
    "version",
    "slug",
    "title",
    "countries",
    "featured",
    "publish_at",
    "published_at",
    "updated_at",
    "owner_id",
)
PIPELINE_CHUNK = 500

# KEYS: summaries hash; ARGV: id, summary json, version, score, set keys...
_PUT = """
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old then
  local prev = cjson.decode(old)
  if tonumber(prev['version']) > tonumber(ARGV[3]) then return 0 end
  for _, key in ipairs(prev['_sets']) do redis.call('ZREM', key, ARGV[1]) end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
for i = 5, #ARGV do redis.call('ZADD', ARGV[i], ARGV[4], ARGV[1]) end
return 1
"""


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def summary_of(doc: Doc) -> dict[str, Any]:
    out = {f: _iso(doc.get(f)) for f in SUMMARY_FIELDS}
    out["article_id"] = str(doc["_id"])
    out["countries"] = list(doc.get("countries") or [])
    return out


def sets_of(doc: Doc) -> list[str]:
    keys = [ALL, f"{PREFIX}:status:{doc['status']}"]
    keys += [f"{PREFIX}:country:{c}" for c in doc.get("countries") or []]
    if doc.get("owner_id"):
        keys.append(f"{PREFIX}:owner:{doc['owner_id']}")
    return keys


class ArticleIndex:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._put = redis.register_script(_PUT)

    def _args(self, doc: Doc) -> list[Any]:
        summary = summary_of(doc)
        keys = sets_of(doc)
        summary["_sets"] = keys
        score = int(doc["updated_at"].timestamp() * 1000)
        return [
            str(doc["_id"]),
            json.dumps(summary, ensure_ascii=False),
            doc["version"],
            score,
            *keys,
        ]

    async def put(self, doc: Doc) -> None:
        """Index one article as just written; never raises (the next rebuild repairs)."""
        try:
            await self._put(keys=[SUMMARIES], args=self._args(doc))
        except Exception:
            log.exception("article not indexed", extra={"article_id": str(doc["_id"])})

    async def put_many(self, docs: Iterable[Doc]) -> None:
        batch = list(docs)
        for start in range(0, len(batch), PIPELINE_CHUNK):
            async with self.redis.pipeline(transaction=False) as pipe:
                for doc in batch[start : start + PIPELINE_CHUNK]:
                    await self._put(keys=[SUMMARIES], args=self._args(doc), client=pipe)
                await pipe.execute()

    async def rebuild(self, articles: Coll) -> int:
        """Index every article from one scan (puts of older versions are ignored, so writes
        made meanwhile are kept)."""
        projection = {f: 1 for f in SUMMARY_FIELDS}
        rows = await articles.find({}, projection).to_list(None)
        await self.put_many(rows)
        return len(rows)

    async def search(
        self,
        *,
        status: str | None = None,
        country: str | None = None,
        owner_id: str | None = None,
        query: str | None = None,
        page: int = 1,
        per_page: int = 50,
    ) -> tuple[list[dict[str, Any]], int]:
        """Summaries, newest change first, and how many match."""
        sets = [ALL]
        if status:
            sets = [f"{PREFIX}:status:{status}"]
        if country:
            sets.append(f"{PREFIX}:country:{country}")
        if owner_id:
            sets.append(f"{PREFIX}:owner:{owner_id}")
        start = (page - 1) * per_page
        if len(sets) == 1 and not query:
            total = int(await self.redis.zcard(sets[0]))
            ids = cast(
                "list[bytes]", await self.redis.zrevrange(sets[0], start, start + per_page - 1)
            )
            return await self._summaries(ids), total
        ids = cast("list[bytes]", await self.redis.zrevrange(sets[0], 0, -1))
        for other in sets[1:]:
            wanted = set(cast("list[bytes]", await self.redis.zrange(other, 0, -1)))
            ids = [i for i in ids if i in wanted]
        rows = await self._summaries(ids)
        if query:
            needle = query.casefold()
            rows = [r for r in rows if needle in r["title"].casefold()]
        return rows[start : start + per_page], len(rows)

    async def _summaries(self, ids: list[bytes]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for start in range(0, len(ids), 1000):
            chunk = ids[start : start + 1000]
            if not chunk:
                continue
            for raw in await self.redis.hmget(SUMMARIES, chunk):
                if raw is not None:
                    out.append(json.loads(raw))
        return out
