"""The audit log of editorial actions (``audit``): who did what to which item, and when.

Written after the action it records succeeded (an article's own revisions, written in the same
update as each change, are the exact per-article history; this log is the newsroom-wide view).
``_id`` is time-ordered; listing filters and sorts in the process (FerretDB pushes down only
``_id`` filters, and the log of a newsroom is modest).
"""

import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pymongo.errors import PyMongoError
from redis.asyncio import Redis
from redis.exceptions import RedisError

from xabar.publisher.domain import Page, Period
from xabar.publisher.repositories.collections import Collections
from xabar.runtime.auth import Principal

log = logging.getLogger("xabar.publisher.repositories.audit")


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Which entries of the log to list (each filter None: any), and which page."""

    editor_id: str | None = None
    action: str | None = None
    target_id: str | None = None
    at: Period = field(default_factory=Period)
    page: int = 1
    per_page: int = 50

    def matches(self, entry: dict[str, Any]) -> bool:
        return (
            (self.editor_id is None or entry["editor"]["id"] == self.editor_id)
            and (self.action is None or entry["action"] == self.action)
            and (self.target_id is None or entry["target_id"] == self.target_id)
            and entry["at"] in self.at
        )


LATEST = "publisher:audit:latest"
LATEST_KEPT = 10_000


class AuditLog:
    def __init__(self, collections: Collections, redis: Redis | None = None) -> None:
        self.coll = collections.audit
        self.redis = redis  # the newest entries, for the newsroom's page (``latest``)

    async def record(
        self,
        who: Principal,
        action: str,
        target_type: str,
        target_id: str,
        **detail: Any,
    ) -> None:
        now = datetime.now(UTC)
        entry = {
            "_id": f"{int(now.timestamp() * 1000):013d}-{uuid.uuid4().hex[:12]}",
            "at": now,
            "editor": {"id": who.editor_id, "name": who.name},
            "role": who.role.value,
            "action": action,
            "target_type": target_type,
            "target_id": target_id,
            "detail": detail,
        }
        try:
            await self.coll.insert_one(entry)
            if self.redis is not None:
                async with self.redis.pipeline(transaction=False) as pipe:
                    pipe.lpush(LATEST, json.dumps(entry, default=str, ensure_ascii=False))
                    pipe.ltrim(LATEST, 0, LATEST_KEPT - 1)
                    await pipe.execute()
        except (PyMongoError, RedisError):
            # The action itself is stored (with its revision); losing its log line must not
            # turn a done action into an error the editor would retry.
            log.exception("audit entry not written", extra={"action": action, "target": target_id})

    async def latest(self, page: int, per_page: int) -> Page[dict[str, Any]]:
        """The newest entries, newest first, from Redis (the last ``LATEST_KEPT``): a page is one
        ``LRANGE``, whatever the size of the log in MongoDB."""
        if self.redis is None:
            return Page([], 0, page, per_page)
        start = (page - 1) * per_page
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.llen(LATEST)
            pipe.lrange(LATEST, start, start + per_page - 1)
            total, rows = await pipe.execute()
        items = []
        for raw in rows:
            entry = json.loads(raw)
            entry["at"] = datetime.fromisoformat(entry["at"])
            items.append(entry)
        return Page(items, int(total), page, per_page)

    async def search(self, query: AuditQuery) -> Page[dict[str, Any]]:
        rows = [r for r in await self.coll.find({}).to_list(None) if query.matches(r)]
        rows.sort(key=lambda r: r["_id"], reverse=True)
        return Page.of(rows, query.page, query.per_page)
