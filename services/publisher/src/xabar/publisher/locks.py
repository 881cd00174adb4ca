"""Per-document write locks, made of unique inserts: every change of an article or a tip, and the
relay's removal of sent events, happens while holding the document's lock.

Why: FerretDB v1.24 on SQLite does not apply single-document updates atomically. Measured here:
50 concurrent ``$inc`` of one field left it at 3; four concurrent ``update_one({"_id": x,
"version": 1}, ...)`` all reported ``matched=1, modified=1`` while only the last write survived;
an ``$pullAll`` by the outbox relay racing a writer's ``$set`` + ``$push`` erased both the change
and its event, each reporting success. A conditional update is therefore no compare-and-set
there. An insert of an existing ``_id`` is refused atomically (the SQLite primary key), so a lock
is ``insert_one({"_id": key, ...})`` and its release a delete. On MongoDB the conditional updates
are atomic anyway; the locks cost two round trips per write and keep both servers correct.

A lock left by a crashed holder is taken over once older than ``stale_after``.
"""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from pymongo.errors import DuplicateKeyError

from xabar.publisher.errors import Busy
from xabar.publisher.repository import Coll, insert_many_ignoring_duplicates


class DocLocks:
    def __init__(
        self,
        coll: Coll,
        *,
        stale_after: timedelta = timedelta(seconds=20),
        wait_s: float = 10.0,
    ) -> None:
        self.coll = coll
        self.stale_after = stale_after
        self.wait_s = wait_s

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        token = await self.acquire(key)
        try:
            yield
        finally:
            await self.coll.delete_one({"_id": key, "token": token})

    async def acquire(self, key: str) -> str:
        token = uuid.uuid4().hex
        deadline = time.monotonic() + self.wait_s
        pause = 0.002
        while True:
            try:
                await self.coll.insert_one({"_id": key, "token": token, "at": datetime.now(UTC)})
                return token
            except DuplicateKeyError:
                pass
            if await self._took_over_stale(key):
                continue
            if time.monotonic() > deadline:
                raise Busy(f"{key} is being changed by someone else; try again")
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.05)

    async def try_many(self, keys: list[str]) -> tuple[str, set[str]]:
        """Take the free ones of ``keys`` at once (no waiting); returns the token and the keys
        taken. Release them with ``release_many``."""
        token = uuid.uuid4().hex
        now = datetime.now(UTC)
        busy = await insert_many_ignoring_duplicates(
            self.coll, [{"_id": k, "token": token, "at": now} for k in keys]
        )
        return token, set(keys) - busy

    async def release_many(self, token: str, keys: set[str]) -> None:
        if keys:
            await self.coll.delete_many({"_id": {"$in": sorted(keys)}, "token": token})

    async def _took_over_stale(self, key: str) -> bool:
        held = await self.coll.find_one({"_id": key})
        if held is None:
            return True  # released meanwhile: try again at once
        if datetime.now(UTC) - held["at"] < self.stale_after:
            return False
        await self.coll.delete_one({"_id": key, "token": held["token"]})
        return True
