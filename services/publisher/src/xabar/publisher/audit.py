"""The audit log of editorial actions: who did what to which item, and when.

Written after the action it records succeeded (an article's own revisions, written in the same
update as each change, are the exact per-article history; this log is the newsroom-wide view).
``_id`` is time-ordered; listing filters and sorts in the process (FerretDB pushes down only
``_id`` filters, and the log of a newsroom is modest).
"""

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from pymongo.errors import PyMongoError

from xabar.publisher.repository import Collections
from xabar.runtime.auth import Principal

log = logging.getLogger("xabar.publisher.audit")


class AuditLog:
    def __init__(self, collections: Collections) -> None:
        self.coll = collections.audit

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
        except PyMongoError:
            # The action itself is stored (with its revision); losing its log line must not
            # turn a done action into an error the editor would retry.
            log.exception("audit entry not written", extra={"action": action, "target": target_id})

    async def search(
        self,
        *,
        editor_id: str | None = None,
        action: str | None = None,
        target_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        page: int = 1,
        per_page: int = 50,
    ) -> tuple[list[dict[str, Any]], int]:
        rows = await self.coll.find({}).to_list(None)
        rows = [
            r
            for r in rows
            if (editor_id is None or r["editor"]["id"] == editor_id)
            and (action is None or r["action"] == action)
            and (target_id is None or r["target_id"] == target_id)
            and (since is None or r["at"] >= since)
            and (until is None or r["at"] < until)
        ]
        rows.sort(key=lambda r: r["_id"], reverse=True)
        start = (page - 1) * per_page
        return rows[start : start + per_page], len(rows)
