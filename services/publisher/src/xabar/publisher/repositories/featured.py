"""The news of the day (``featured``: ``_id`` = ``"site"`` or ``"country:KZ"``): which article is
chosen, and while a change is being applied to the articles (``pending``), which ones it takes
the flag from (``previous_ids``). Choices of one key are made one at a time, under the key's
lock (lock order: the key, then an article; never the other way round)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from xabar.publisher.repositories.collections import Collections, upsert
from xabar.runtime.locks import DocLocks


@dataclass(frozen=True, slots=True)
class Choice:
    key: str
    article_id: str | None = None
    previous_ids: tuple[str, ...] = field(default=())
    pending: bool = False
    version: int = 0

    @property
    def country(self) -> str | None:
        return None if self.key == "site" else self.key.split(":", 1)[1]


def _choice(doc: dict[str, Any]) -> Choice:
    return Choice(
        str(doc["_id"]),
        doc.get("article_id"),
        tuple(doc.get("previous_ids") or ()),
        bool(doc.get("pending")),
        int(doc.get("version", 0)),
    )


def key_of(country: str | None) -> str:
    return "site" if country is None else f"country:{country}"


class FeaturedRepository:
    def __init__(self, collections: Collections, locks: DocLocks) -> None:
        self.coll = collections.featured
        self.locks = locks

    @asynccontextmanager
    async def locked(self, key: str) -> AsyncIterator[None]:
        async with self.locks.hold(f"featured:{key}"):
            yield

    async def get(self, key: str) -> Choice:
        doc = await self.coll.find_one({"_id": key})
        return Choice(key) if doc is None else _choice(doc)

    async def all(self) -> list[Choice]:
        return [_choice(d) for d in await self.coll.find({}).to_list(None)]

    async def choose(self, choice: Choice) -> None:
        """Record a choice as pending (under the key's lock)."""
        entry = {
            "_id": choice.key,
            "article_id": choice.article_id,
            "previous_ids": list(choice.previous_ids),
            "pending": True,
            "version": choice.version,
        }
        await upsert(lambda: self.coll.replace_one({"_id": choice.key}, entry, upsert=True))

    async def settle(self, key: str) -> None:
        """The articles are in line with the choice: it is no longer pending."""
        await self.coll.update_one(
            {"_id": key}, {"$set": {"pending": False, "previous_ids": []}, "$inc": {"version": 1}}
        )
