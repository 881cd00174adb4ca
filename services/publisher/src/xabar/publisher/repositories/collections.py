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
- ``country_profiles``: ``_id`` = country code; its «О стране» profile and its ``outbox``.
- ``articles_pending`` / ``inbox_pending`` / ``comments_pending`` /
  ``country_profiles_pending``: ``_id`` = a document with
  events to relay (markers).
- ``editors`` (``_id`` = editor id) and ``editor_emails`` (``_id`` = e-mail -> editor id).
- ``audit``: ``_id`` = time-ordered id of an editorial action.
- ``locks``: ``_id`` = ``"<collection>:<doc id>"`` while a writer changes that document
  (``xabar.runtime.locks``: FerretDB does not apply single-document updates atomically).
- ``media.files`` / ``media.chunks``: a GridFS bucket named ``media``; chunk ``_id`` is
  ``"<media_id>:<n>"`` so reads go by ``_id`` (see ``media``).
"""

from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection

# the write helpers every repository shares are the runtime's
from xabar.runtime.mongo import insert_many_ignoring_duplicates, is_duplicate, upsert

Coll = AsyncCollection[dict[str, Any]]


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
        self.country_profiles: Coll = db["country_profiles"]
        self.country_profiles_pending: Coll = db["country_profiles_pending"]
        self.editors: Coll = db["editors"]
        self.editor_emails: Coll = db["editor_emails"]
        self.audit: Coll = db["audit"]
        self.locks: Coll = db["locks"]
        self.media_files: Coll = db["media.files"]
        self.media_chunks: Coll = db["media.chunks"]


__all__ = ["Coll", "Collections", "insert_many_ignoring_duplicates", "is_duplicate", "upsert"]
