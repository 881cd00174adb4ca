"""Country profiles ("О стране"), in ``country_profiles`` (``_id`` = the country code): the
profile the newsroom edits, its ``version`` and its ``outbox``.

A change is made holding the country's lock, on the document as read under it, as ONE update by
``_id`` that sets the profile with ``version`` + 1 and pushes its ``country_profile.published``
into the outbox; the country is marked for the relay first, the event is published right after
the write (still under the lock) and the relay is kicked to remove it, as for articles. The
relay is its own ``MarkedRelay`` over this collection (markers in ``country_profiles_pending``),
publishing on the articles stream, where the feed reads profiles. Six documents at most: reading
them all is cheap.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from xabar.contracts import CountryProfilePublished
from xabar.publisher.domain import Doc
from xabar.publisher.relay import MarkedRelay
from xabar.publisher.repositories.collections import Collections, upsert
from xabar.runtime.outbox import OUTBOX_FIELD, outbox_entry


class HeldProfile:
    """A country's profile document as read under its lock (None: no profile yet)."""

    def __init__(self, repo: "ProfileRepository", code: str, doc: Doc | None) -> None:
        self._repo = repo
        self.code = code
        self.doc = doc

    @property
    def version(self) -> int:
        return 0 if self.doc is None else int(self.doc["version"])

    async def write(self, fields: Doc, event: CountryProfilePublished) -> Doc:
        """Store ``fields`` as the next version with ``event`` in the outbox; then publish it."""
        entry = outbox_entry(event)
        outbox = list((self.doc or {}).get(OUTBOX_FIELD) or [])
        changes: Doc = {**fields, "version": event.version}
        await self._repo.relay.mark(self.code)
        await upsert(
            lambda: self._repo.coll.update_one(
                {"_id": self.code},
                {"$set": changes, "$push": {OUTBOX_FIELD: entry}},
                upsert=True,
            )
        )
        # before the editor is answered (as articles do); a failure is left to the kicked relay
        await self._repo.relay.publish_now([*outbox, entry])
        self._repo.relay.kick(self.code)
        self.doc = {**changes, "_id": self.code}
        return self.doc


class ProfileRepository:
    def __init__(self, collections: Collections, relay: MarkedRelay) -> None:
        self.coll = collections.country_profiles
        self.relay = relay

    async def get(self, code: str) -> Doc | None:
        return await self.coll.find_one({"_id": code}, {OUTBOX_FIELD: 0})

    async def all(self) -> dict[str, Doc]:
        rows = await self.coll.find({}, {OUTBOX_FIELD: 0}).to_list(None)
        return {str(r["_id"]): r for r in rows}

    @asynccontextmanager
    async def locked(self, code: str) -> AsyncIterator[HeldProfile]:
        async with self.relay.hold(code):
            yield HeldProfile(self, code, await self.coll.find_one({"_id": code}))
