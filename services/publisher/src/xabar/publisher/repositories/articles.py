"""The articles repository: the one place that reads and writes the ``articles`` collection.

An article is stored as one document (``_id`` = article id) holding its fields, its revisions and
its ``outbox`` of events to publish. ``to_document`` / ``from_document`` are the one conversion
between the typed ``Article`` and that document.

FerretDB's quirks are kept here:

- every change is made holding the article's lock (``xabar.runtime.locks``: FerretDB does not
  apply concurrent updates of one document atomically), on the article as read under that lock
  (``locked``), as ONE single-document update by ``_id`` alone (FerretDB pushes a filter down
  only when it is exactly that; the lock makes it a compare-and-set)::

      {"_id": id}  ->  $set the changed fields and "version": v + 1,
                       $push its revision (and the events it causes, to the outbox)

  so the change, its revision and its events are stored together or not at all;
- a write with events marks the article for the relay first (``MarkedRelay.mark``), publishes
  them right after the write, still under the lock, and kicks the relay (which removes them);
- after each write the editors' list index (``index``) is given the new summary.
"""

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from pymongo.errors import DuplicateKeyError

from xabar.contracts import Event
from xabar.publisher.domain import Article, ArticleStatus, Doc
from xabar.publisher.errors import NotFound
from xabar.publisher.relay import MarkedRelay
from xabar.publisher.repositories.collections import Collections, insert_many_ignoring_duplicates
from xabar.publisher.repositories.index import ArticleIndex, projection, summary_of, summary_row
from xabar.publisher.repositories.relayed import RelayedRepository
from xabar.runtime.outbox import OUTBOX_FIELD, outbox_entry

Entry = dict[str, str]
REBUILD_BATCH = 1000


def to_document(article: Article, outbox: Sequence[Entry] = ()) -> Doc:
    doc = article.model_dump(mode="python")
    doc["_id"] = doc.pop("article_id")
    doc[OUTBOX_FIELD] = list(outbox)
    return doc


def from_document(doc: Doc) -> Article:
    data = {k: v for k, v in doc.items() if k not in ("_id", OUTBOX_FIELD)}
    return Article.model_validate({**data, "article_id": str(doc["_id"])})


class HeldArticle:
    """An article read under its lock; ``write`` stores its next version (only while held)."""

    def __init__(self, repo: "ArticleRepository", article: Article, outbox: list[Entry]) -> None:
        self._repo = repo
        self.article = article
        self._outbox = outbox

    async def write(self, new: Article, events: Sequence[Event] = ()) -> Article:
        """Store ``new`` (the next version of the held article, with its revision appended) and
        ``events`` in one update; then publish the events and index the article."""
        old = self.article
        await self._repo.store(old, new, events)
        entries = [outbox_entry(e) for e in events]
        if entries:
            await self._repo.relay_now([*self._outbox, *entries])
            self._repo.relay.kick(old.article_id)  # removes the sent entries from the document
            self._outbox = [*self._outbox, *entries]
        self.article = new
        await self._repo.index.put(new)
        return new


class ArticleRepository(RelayedRepository):
    def __init__(self, collections: Collections, relay: MarkedRelay, index: ArticleIndex) -> None:
        super().__init__(collections.articles, relay)
        self.index = index

    # --- reads ------------------------------------------------------------------------------------

    async def find(self, article_id: str) -> Article | None:
        doc = await self.coll.find_one({"_id": article_id}, {OUTBOX_FIELD: 0})
        return None if doc is None else from_document(doc)

    async def get(self, article_id: str) -> Article:
        article = await self.find(article_id)
        if article is None:
            raise NotFound("такой статьи нет")
        return article

    async def slug_of(self, article_id: str) -> str | None:
        doc = await self.coll.find_one({"_id": article_id}, {"slug": 1})
        return None if doc is None else doc.get("slug")

    async def ids(self) -> set[str]:
        return {str(d["_id"]) for d in await self.coll.find({}, {"_id": 1}).to_list(None)}

    async def scheduled(self) -> list[tuple[str, datetime]]:
        """Every scheduled article and its time (a full scan: run once at start)."""
        rows = await self.coll.find(
            {"status": ArticleStatus.SCHEDULED.value}, {"publish_at": 1}
        ).to_list(None)
        return [(str(r["_id"]), r["publish_at"]) for r in rows]

    async def published(self) -> list[Article]:
        rows = await self.coll.find(
            {"status": ArticleStatus.PUBLISHED.value}, {OUTBOX_FIELD: 0}
        ).to_list(None)
        return [from_document(r) for r in rows]

    # --- writes -----------------------------------------------------------------------------------

    @asynccontextmanager
    async def locked(self, article_id: str) -> AsyncIterator[HeldArticle]:
        """The article as read while holding its lock; every change happens inside this."""
        async with self.locks.hold(self.relay.lock_key(article_id)):
            doc = await self.coll.find_one({"_id": article_id})
            if doc is None:
                raise NotFound("такой статьи нет")
            yield HeldArticle(self, from_document(doc), list(doc.get(OUTBOX_FIELD) or []))

    async def insert(self, article: Article) -> Article | None:
        """Store a new article (no events); None if one with its id exists already."""
        try:
            await self.coll.insert_one(to_document(article))
        except DuplicateKeyError:
            return None
        await self.index.put(article)
        return article

    async def store(self, old: Article, new: Article, events: Sequence[Event]) -> None:
        """The one update of a change; the caller holds the article's lock (``HeldArticle``)."""
        before, after = to_document(old), to_document(new)
        changes: dict[str, Any] = {
            k: v
            for k, v in after.items()
            if k not in ("revisions", OUTBOX_FIELD) and before[k] != v
        }
        push: Doc = {"revisions": {"$each": after["revisions"][len(before["revisions"]) :]}}
        if events:
            push[OUTBOX_FIELD] = {"$each": [outbox_entry(e) for e in events]}
            await self.relay.mark(old.article_id)
        result = await self.coll.update_one(
            {"_id": old.article_id}, {"$set": changes, "$push": push}
        )
        if result.matched_count != 1:
            raise NotFound("такой статьи нет")

    async def relay_now(self, outbox: list[Entry]) -> None:
        """Publish the article's unsent events right after its write, still under its lock.

        The outbox is exactly what was read under the lock plus the entries just pushed (every
        writer and the relay hold the lock), so this is the relay's own pass, oldest first,
        without reading the document again or waiting for the lock: the event is on its stream
        before the response. If it fails, the relay (kicked) and its sweeps send it."""
        await self.relay.publish_now(outbox)

    async def publish_events(self, events: Sequence[Event]) -> int:
        """Publish events that change nothing stored (re-emitting state; see ``republish_all``)."""
        return await self.relay.publish_entries([outbox_entry(e) for e in events])

    # --- bulk (imports) ---------------------------------------------------------------------------

    async def insert_published(
        self, items: Sequence[tuple[Article, Event]]
    ) -> tuple[list[Article], int]:
        """Insert new published articles, each with its event in its outbox, and relay them; the
        documents are not rewritten (their entries are recorded as sent and removed by each
        article's next write). Returns those inserted now (the others existed already) and how
        many events were published."""
        docs = [to_document(a, [outbox_entry(e)]) for a, e in items]
        marked_at = await self.relay.mark_many([d["_id"] for d in docs])
        there = await insert_many_ignoring_duplicates(self.coll, docs)
        inserted = [d for d in docs if d["_id"] not in there]
        sent = await self.relay.relay_docs(inserted, marked_at)
        articles = [a for a, _ in items if a.article_id not in there]
        await self.index.put_many(summary_of(a) for a in articles)
        return articles, sent

    async def rebuild_index(self) -> int:
        """Index every article from one scan, a batch at a time (puts of versions the index
        holds already are ignored, so writes made meanwhile are kept)."""
        batch: list[Doc] = []
        await self.index.drop_legacy()
        count = 0
        async for row in self.coll.find({}, projection(), batch_size=REBUILD_BATCH):
            batch.append(summary_row(row))
            if len(batch) >= REBUILD_BATCH:
                await self.index.put_many(batch)
                count, batch = count + len(batch), []
        await self.index.put_many(batch)
        return count + len(batch)
