"""Unique slugs: ``slugs`` (``_id`` = slug -> article id) makes a slug unique by construction.

A title's slug is its transliteration (``content.base_slug``); if taken, ``-2``, ``-3`` ... from a
per-base counter (``slug_counters``, one ``$inc``), so a title used a hundred times costs one round
trip, not a hundred. A claim is written before the article that uses it; a claim whose article
never took it (a crash or a lost race in between) is taken over after ``orphan_after``.
"""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from xabar.publisher.content import numbered_slug
from xabar.publisher.errors import StorageUnavailable
from xabar.publisher.repositories.collections import (
    Collections,
    insert_many_ignoring_duplicates,
    upsert,
)

MAX_ATTEMPTS = 50
SlugOf = Callable[[str], Awaitable[str | None]]  # the slug an article holds now (None: no such)


class SlugRegistry:
    def __init__(
        self,
        collections: Collections,
        slug_of: SlugOf,
        orphan_after: timedelta = timedelta(minutes=10),
    ) -> None:
        self.slugs = collections.slugs
        self.counters = collections.slug_counters
        self.slug_of = slug_of
        self.orphan_after = orphan_after

    async def claim(self, base: str, article_id: str) -> str:
        candidate = base
        for _ in range(MAX_ATTEMPTS):
            if await self._try(candidate, article_id):
                return candidate
            counter = await upsert(
                lambda: self.counters.find_one_and_update(
                    {"_id": base},
                    {"$inc": {"n": 1}},
                    upsert=True,
                    return_document=ReturnDocument.AFTER,
                )
            )
            candidate = numbered_slug(base, int(counter["n"] if counter else 1) + 1)
        raise StorageUnavailable(f"не удалось подобрать свободный адрес статьи для «{base}»")

    async def release(self, slug: str, article_id: str) -> None:
        await self.slugs.delete_one({"_id": slug, "article_id": article_id})

    async def _try(self, slug: str, article_id: str) -> bool:
        now = datetime.now(UTC)
        try:
            await self.slugs.insert_one({"_id": slug, "article_id": article_id, "at": now})
            return True
        except DuplicateKeyError:
            pass
        claim = await self.slugs.find_one({"_id": slug})
        if claim is None:
            return False  # released meanwhile; the next candidate is as good
        if claim["article_id"] == article_id:
            return True
        if now - claim["at"] < self.orphan_after:
            return False
        if await self.slug_of(claim["article_id"]) == slug:
            return False
        taken = await self.slugs.update_one(
            {"_id": slug, "article_id": claim["article_id"]},
            {"$set": {"article_id": article_id, "at": now}},
        )
        return taken.matched_count == 1

    # --- bulk (imports) --------------------------------------------------------------------------

    async def snapshot(self) -> tuple[dict[str, str], dict[str, int]]:
        """Every claim (slug -> article id) and counter (base -> n): small documents, read once
        per import."""
        claims = {d["_id"]: d["article_id"] for d in await self.slugs.find({}).to_list(None)}
        counters = {d["_id"]: int(d["n"]) for d in await self.counters.find({}).to_list(None)}
        return claims, counters

    async def claim_many(self, wanted: dict[str, str]) -> set[str]:
        """Claim ``slug -> article id`` pairs at once; returns the article ids whose slug was
        taken by somebody else meanwhile (claim those one by one)."""
        now = datetime.now(UTC)
        docs = [{"_id": s, "article_id": a, "at": now} for s, a in wanted.items()]
        existing = await insert_many_ignoring_duplicates(self.slugs, docs)
        lost: set[str] = set()
        for slug in existing:
            claim = await self.slugs.find_one({"_id": slug})
            if claim is None or claim["article_id"] != wanted[slug]:
                lost.add(wanted[slug])
        return lost

    async def raise_counters(self, counters: dict[str, int]) -> None:
        for base, n in counters.items():
            await upsert(
                lambda base=base, n=n: self.counters.update_one(  # type: ignore[misc]
                    {"_id": base}, {"$max": {"n": n}}, upsert=True
                )
            )
