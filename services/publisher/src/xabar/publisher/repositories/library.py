"""The media library's list, in Redis (the images stay in MongoDB's ``media`` bucket, the truth):
each image's summary (size, caption, credit, who uploaded it, when) under its id, and the ids in a
sorted set by upload time, so a page of the library is a ``ZREVRANGE`` and an ``HMGET`` however
many images there are. Every store of an image puts its summary (``MediaStore.put``); every start
rebuilds it from the bucket's file documents (their metadata only) in the background.

Both keys share the hash tag ``{media}`` (one slot on Redis Cluster).
"""

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, cast

from redis.asyncio import Redis

from xabar.publisher.domain import Page

PREFIX = "xabar:publisher:{media}"
ITEMS = f"{PREFIX}:items"
ALL = f"{PREFIX}:all"
CHUNK = 500


def _score(at: datetime) -> int:
    return int(at.timestamp() * 1000)


class LibraryIndex:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def put_many(self, items: Iterable[Mapping[str, Any]]) -> None:
        """Summaries (``media_id``, ``uploaded_at`` and the rest, plain values) as stored."""
        batch = list(items)
        for start in range(0, len(batch), CHUNK):
            async with self.redis.pipeline(transaction=False) as pipe:
                for item in batch[start : start + CHUNK]:
                    at = item["uploaded_at"]
                    row = {**item, "uploaded_at": at.isoformat()}
                    pipe.hset(ITEMS, item["media_id"], json.dumps(row, ensure_ascii=False))
                    pipe.zadd(ALL, {item["media_id"]: _score(at)})
                await pipe.execute()

    async def get(self, media_id: str) -> dict[str, Any] | None:
        raw = await self.redis.hget(ITEMS, media_id)
        return None if raw is None else cast("dict[str, Any]", json.loads(raw))

    async def page(self, page: int, per_page: int) -> Page[dict[str, Any]]:
        """The newest images first."""
        start = (page - 1) * per_page
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zrevrange(ALL, start, start + per_page - 1)
            pipe.zcard(ALL)
            ids, total = await pipe.execute()
        rows = await self.redis.hmget(ITEMS, ids) if ids else []
        items = [json.loads(r) for r in rows if r is not None]
        return Page(items, int(total), page, per_page)
