"""The schedule index (``schedule``: ``_id`` = article id -> ``publish_at``): every article that
may be scheduled, a superset of the truth, written before the article itself, so that the
scheduler reads this small collection by ``_id`` instead of scanning the articles. The article
document stays the truth: the scheduler checks each entry against it."""

from datetime import datetime

from xabar.publisher.repositories.collections import Collections, upsert


class ScheduleRepository:
    def __init__(self, collections: Collections) -> None:
        self.coll = collections.schedule

    async def put(self, article_id: str, publish_at: datetime) -> None:
        await upsert(
            lambda: self.coll.update_one(
                {"_id": article_id}, {"$set": {"publish_at": publish_at}}, upsert=True
            )
        )

    async def move(self, article_id: str, publish_at: datetime) -> None:
        """A rescheduled article's entry follows it (never re-creates a dropped entry)."""
        await self.coll.update_one({"_id": article_id}, {"$set": {"publish_at": publish_at}})

    async def drop(self, article_id: str, publish_at: datetime | None = None) -> None:
        """Drop the entry (only if it still says ``publish_at``, when given)."""
        query: dict[str, object] = {"_id": article_id}
        if publish_at is not None:
            query["publish_at"] = publish_at
        await self.coll.delete_one(query)

    async def entries(self) -> list[tuple[str, datetime]]:
        return [(str(e["_id"]), e["publish_at"]) for e in await self.coll.find({}).to_list(None)]
