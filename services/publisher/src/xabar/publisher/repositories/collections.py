"""The publisher's MongoDB collections (each read and written by its repository in this package),
and the small helpers the repositories share. Every hot read and every write goes by ``_id``.

FerretDB's SQLite backend pushes down only ``_id`` filters, so:

- ``articles``: ``_id`` = article id; the article, its revisions and its ``outbox``.
- ``slugs``: ``_id`` = slug -> the article that holds it (unique by construction);
  ``slug_counters``: ``_id`` = base slug -> the last numeric suffix handed out.
- ``schedule``: ``_id`` = article id of every article that may be scheduled (a superset of the
  truth, written before the article; the scheduler checks each article by ``_id``). Small.
- ``featured``: ``_id`` = ``"site"`` or ``"country:KZ"`` -> the news of the day.
- ``inbox``: ``_id`` = submission id; the tip and its ``outbox``.
- ``comments``: ``_id`` = comment id; a reader's comment, its moderation and its ``outbox``.
- ``letters``: ``_id`` = letter id; a reader's letter to the editors and whether it is handled.
- ``articles_pending`` / ``inbox_pending`` / ``comments_pending``: ``_id`` = a document with
  events to relay (markers).
- ``editors`` (``_id`` = editor id) and ``editor_emails`` (``_id`` = e-mail -> editor id).
- ``audit``: ``_id`` = time-ordered id of an editorial action.
- ``locks``: ``_id`` = ``"<collection>:<doc id>"`` while a writer changes that document
  (``xabar.runtime.locks``: FerretDB does not apply single-document updates atomically).
- ``media.files`` / ``media.chunks``: a GridFS bucket named ``media``; chunk ``_id`` is
  ``"<media_id>:<n>"`` so reads go by ``_id`` (see ``media``).
"""

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError

T = TypeVar("T")
Coll = AsyncCollection[dict[str, Any]]
DUPLICATE_KEY = 11000


class Collections:
    def __init__(self, client: AsyncMongoClient[dict[str, Any]], db_name: str) -> None:
        db = client[db_name]
        self.db = db
        self.articles: Coll = db["articles"]
        self.slugs: Coll = db["slugs"]
        self.slug_counters: Coll = db["slug_counters"]
        self.schedule: Coll = db["schedule"]
        self.featured: Coll = db["featured"]
        self.inbox: Coll = db["inbox"]
        self.articles_pending: Coll = db["articles_pending"]
        self.inbox_pending: Coll = db["inbox_pending"]
        self.comments: Coll = db["comments"]
        self.comments_pending: Coll = db["comments_pending"]
        self.letters: Coll = db["letters"]
        self.editors: Coll = db["editors"]
        self.editor_emails: Coll = db["editor_emails"]
        self.audit: Coll = db["audit"]
        self.locks: Coll = db["locks"]
        self.media_files: Coll = db["media.files"]
        self.media_chunks: Coll = db["media.chunks"]


def is_duplicate(exc: Exception) -> bool:
    if isinstance(exc, DuplicateKeyError):
        return True
    if isinstance(exc, BulkWriteError):
        errors = exc.details.get("writeErrors", [])
        return bool(errors) and all(e.get("code") == DUPLICATE_KEY for e in errors)
    return False


async def upsert(op: Callable[[], Awaitable[T]], attempts: int = 3) -> T:
    """Run an upsert, again if a concurrent upsert of the same ``_id`` won the insert (both
    MongoDB and FerretDB answer the loser with a duplicate key error; the retry updates)."""
    for attempt in range(attempts):
        try:
            return await op()
        except DuplicateKeyError:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


async def insert_many_ignoring_duplicates(coll: Coll, docs: list[dict[str, Any]]) -> set[Any]:
    """Insert ``docs`` (unordered); returns the ``_id`` of those that existed already."""
    if not docs:
        return set()
    try:
        await coll.insert_many(docs, ordered=False)
    except BulkWriteError as exc:
        if not is_duplicate(exc):
            raise
        return {docs[e["index"]]["_id"] for e in exc.details.get("writeErrors", [])}
    return set()
