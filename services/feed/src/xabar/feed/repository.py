"""Reads of the read model. Every read is one Lua script call (one consistent snapshot of the
served generation's lists, and the revision it belongs to, for the page caches), then, when it
names articles, one pipeline that reads their documents from their buckets (``DOC_BUCKETS``
keys of their own hash tag, spread over a cluster's nodes; in parallel per node). A document is
written before any list names it and removed after no list does (``xabar.feed.projector``), so
the documents read for a snapshot are that snapshot's or newer: a page may show a newer version
of an article than its revision says, and is dropped from the caches when that revision moves.

Paging is by index in a sorted set (ZREVRANGE start stop): O(log n + page size), so page 1039
costs what page 1 costs.
"""

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from xabar.feed import scripts
from xabar.feed.documents import (
    ArticleDoc,
    CommentDoc,
    CountryProfileDoc,
    PollDoc,
    TallyDoc,
    unpack_article,
)
from xabar.feed.errors import ReadModelUnavailable

ALL = "z:all"
FEATURED = "z:f"
POLLS = "z:polls"
FRONT_POLLS = "z:polls:front"


def country_list(code: str) -> str:
    return f"z:c:{code}"


def country_featured(code: str) -> str:
    return f"z:f:{code}"


def country_polls(code: str) -> str:
    return f"z:polls:c:{code}"


def tag_list(tag: str) -> str:
    return f"z:t:{tag}"


@dataclass(frozen=True, slots=True)
class PollRead:
    poll: PollDoc
    tally: TallyDoc | None


@dataclass(frozen=True, slots=True)
class Snapshot:
    generation: str | None
    revision: int
    last_modified: datetime


@dataclass(frozen=True, slots=True)
class Read:
    """What a read answers: always the snapshot it was read from (the page caches keep the
    page under its revision), then what it read."""

    snapshot: Snapshot


@dataclass(frozen=True, slots=True)
class ListRead(Read):
    total: int
    items: list[ArticleDoc]
    featured: ArticleDoc | None
    poll: PollRead | None
    profile: CountryProfileDoc | None = None


@dataclass(frozen=True, slots=True)
class CommentRead:
    comment: CommentDoc
    thread: str  # the id of its thread's first comment; "" when it is one


@dataclass(frozen=True, slots=True)
class ArticleRead(Read):
    article: ArticleDoc | None  # its comment_count: the approved comments
    poll: PollRead | None
    gone: bool = False  # the slug was an article's that is unpublished now
    comments: list[CommentRead] = field(default_factory=list)  # the page asked for, in order
    continued: CommentDoc | None = None  # the thread the page's first comment continues


@dataclass(frozen=True, slots=True)
class OnePollRead(Read):
    poll: PollRead | None


@dataclass(frozen=True, slots=True)
class PollsRead(Read):
    total: int
    items: list[PollRead]


@dataclass(frozen=True, slots=True)
class SlugsRead(Read):
    total: int
    slugs: list[str]
    updated: list[datetime | None]  # per slug: its article's updated_at


def _str(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


def _snapshot(generation: Any, revision: Any, lm: Any) -> Snapshot:
    ms = int(lm or 0)
    return Snapshot(_str(generation), int(revision or 0), datetime.fromtimestamp(ms / 1000, UTC))


def _updated_of(listed: str | None) -> str | None:
    """The updated_at of an article's list entry ("countries|featured|fcountries|updated|tags")."""
    parts = (listed or "").split("|", 4)
    return parts[3] if len(parts) > 3 else None


def _when(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _unversioned(raw: Any) -> bytes | None:
    """The document of a bucket's entry ("VERSION:" then the packed document); None for a
    tombstone or no entry."""
    if not raw:
        return None
    data = raw if isinstance(raw, bytes) else str(raw).encode()
    _, _, doc = data.partition(b":")
    return doc or None


def _article(raw: Any, comments: Any = None) -> ArticleDoc | None:
    """The stored document, with the count of its approved comments when it was read."""
    if not raw:
        return None
    doc = ArticleDoc.model_validate_json(unpack_article(raw))
    if comments is None:
        return doc
    return doc.model_copy(update={"comment_count": int(comments)})


def _comment(raw: Any) -> CommentDoc | None:
    return CommentDoc.model_validate_json(raw) if raw else None


def _poll(poll: Any, tally: Any) -> PollRead | None:
    if not poll:
        return None
    return PollRead(
        PollDoc.model_validate_json(poll), TallyDoc.model_validate_json(tally) if tally else None
    )


async def _run(script: AsyncScript, args: list[Any]) -> Any:
    try:
        return await script(keys=scripts.READ_KEYS, args=args)
    except (RedisError, OSError) as exc:
        raise ReadModelUnavailable(f"the read model cannot be read: {exc!r}") from exc


class Documents:
    """The articles' documents of a generation, read from their buckets in one pipeline."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def read(self, generation: Any, ids: list[str]) -> dict[str, bytes]:
        """Article id -> its packed document, for those of ``ids`` still published."""
        gen = _str(generation)
        wanted = list(dict.fromkeys(i for i in ids if i))
        if gen is None or not wanted:
            return {}
        by_bucket: dict[int, list[str]] = {}
        for article_id in wanted:
            by_bucket.setdefault(scripts.doc_bucket(article_id), []).append(article_id)
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for bucket, members in by_bucket.items():
                    pipe.hmget(scripts.doc_key(bucket, gen), members)
                replies = await pipe.execute()
        except (RedisError, OSError) as exc:
            raise ReadModelUnavailable(f"the read model cannot be read: {exc!r}") from exc
        out: dict[str, bytes] = {}
        held: set[str] = set()
        for members, values in zip(by_bucket.values(), replies, strict=True):
            for article_id, raw in zip(members, values, strict=True):
                if raw:
                    held.add(article_id)
                if (doc := _unversioned(raw)) is not None:
                    out[article_id] = doc
        if len(held) < len(wanted):  # rare: a generation written before the buckets
            out |= await self._legacy(gen, [i for i in wanted if i not in held])
        return out

    async def _legacy(self, generation: str, ids: list[str]) -> dict[str, bytes]:
        """Documents of a generation written before the documents had buckets (one hash in the
        lists' slot, ``{feed}:G:a``), until a rebuild replaces it."""
        try:
            values = await self.redis.hmget(f"{scripts.BASE}{generation}:a", ids)
        except (RedisError, OSError) as exc:
            raise ReadModelUnavailable(f"the read model cannot be read: {exc!r}") from exc
        return {i: cast("bytes", raw) for i, raw in zip(ids, values, strict=True) if raw}


class ReadModel:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._docs = Documents(redis)
        self._page = redis.register_script(scripts.READ_PAGE)
        self._article = redis.register_script(scripts.READ_ARTICLE)
        self._polls = redis.register_script(scripts.READ_POLLS)
        self._poll = redis.register_script(scripts.READ_POLL)
        self._since = redis.register_script(scripts.READ_SINCE)
        self._asc = redis.register_script(scripts.READ_RANGE_ASC)

    async def list_page(
        self,
        list_key: str,
        start: int,
        count: int,
        *,
        featured_key: str = "",
        poll_key: str = "",
        without_featured: bool = False,
        profile: str = "",
    ) -> ListRead:
        """``count`` articles of ``list_key`` from index ``start`` (newest first); with
        ``without_featured``, the featured article is left out of them; with ``profile`` (a
        country code), that country's profile too."""
        raw = await _run(
            self._page,
            [
                list_key,
                start,
                start + count - 1,
                featured_key,
                poll_key,
                "1" if without_featured else "0",
                profile,
            ],
        )
        gen, rev, total, lm, fid, poll, tally, profile_doc, featured_comments, *pairs = raw
        ids = [_str(pairs[i]) or "" for i in range(0, len(pairs), 2)]
        docs = await self._docs.read(gen, [*ids, *([_str(fid) or ""] if fid else [])])
        items = [_article(docs.get(i), pairs[2 * n + 1]) for n, i in enumerate(ids)]
        return ListRead(
            snapshot=_snapshot(gen, rev, lm),
            total=int(total),
            items=[d for d in items if d is not None],
            featured=_article(docs.get(_str(fid) or ""), featured_comments) if fid else None,
            poll=_poll(poll, tally),
            profile=CountryProfileDoc.model_validate_json(profile_doc) if profile_doc else None,
        )

    async def article(self, slug: str, comments_from: int = 0, comments: int = 0) -> ArticleRead:
        """The article at ``slug`` (an old slug finds it too), with the poll embedded in it and
        ``comments`` of its approved comments from index ``comments_from`` in reading order
        (threads oldest first, each followed by its replies)."""
        stop = comments_from + comments - 1
        raw = await _run(self._article, [slug, comments_from, stop])
        gen, rev, lm, article_id, poll, tally, gone, count, head, *rest = raw
        key = _str(article_id) or ""
        doc = (await self._docs.read(gen, [key])).get(key) if key and not gone else None
        shown = [
            CommentRead(c, _str(rest[i]) or "")
            for i in range(0, len(rest), 2)
            if (c := _comment(rest[i + 1])) is not None
        ]
        return ArticleRead(
            _snapshot(gen, rev, lm),
            _article(doc, count),
            _poll(poll, tally),
            gone=bool(gone),
            comments=shown,
            continued=_comment(head),
        )

    async def poll(self, poll_id: str) -> OnePollRead:
        gen, rev, lm, poll, tally = await _run(self._poll, [poll_id])
        return OnePollRead(_snapshot(gen, rev, lm), _poll(poll, tally))

    async def polls(self, start: int, count: int) -> PollsRead:
        gen, rev, total, lm, *rest = await _run(self._polls, [start, start + count - 1])
        items = [p for p in (_poll(rest[i], rest[i + 1]) for i in range(0, len(rest), 2)) if p]
        return PollsRead(_snapshot(gen, rev, lm), int(total), items)

    async def since(self, list_key: str, since: datetime, limit: int) -> ListRead:
        """Articles of ``list_key`` published at or after ``since``, newest first."""
        since_ms = int(since.timestamp() * 1000)
        gen, rev, lm, *found = await _run(self._since, [list_key, since_ms, limit])
        ids = [_str(i) or "" for i in found]
        docs = await self._docs.read(gen, ids)
        items = [d for d in (_article(docs.get(i)) for i in ids) if d is not None]
        return ListRead(_snapshot(gen, rev, lm), len(items), items, None, None)

    async def slugs(self, list_key: str, start: int, count: int) -> SlugsRead:
        """Slugs of ``list_key`` by ascending index (oldest first), with their updated_at."""
        gen, rev, total, lm, *rest = await _run(self._asc, [list_key, start, start + count - 1])
        pairs = [(_str(rest[i]), _updated_of(_str(rest[i + 1]))) for i in range(0, len(rest), 2)]
        kept = [(slug, updated) for slug, updated in pairs if slug]
        return SlugsRead(
            _snapshot(gen, rev, lm),
            int(total),
            [slug for slug, _ in kept if slug],
            [_when(updated) for _, updated in kept],
        )

    async def revision(self) -> tuple[int, str | None]:
        rev, gen = await self.redis.mget([scripts.REV, scripts.CURRENT])
        return int(rev or 0), _str(gen)


UNAVAILABLE = (RedisError, OSError, ValueError)  # what a read of the revision may fail with


class Revisions:
    """The read model's revision (``{feed}:rev``): read, or heard as the projectors push it."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def read(self) -> int:
        return int(await self.redis.get(scripts.REV) or 0)

    async def pushed(self, stopping: Callable[[], bool], wait_s: float) -> AsyncIterator[int]:
        """Every revision published on ``{feed}:rev`` from now on, until ``stopping()`` (looked
        at every ``wait_s`` at least) or the connection fails (it raises then)."""
        pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(scripts.REV)
            while not stopping():
                message = await pubsub.get_message(timeout=wait_s)
                if message is not None and message.get("type") == "message":
                    yield int(message["data"])
        finally:
            with contextlib.suppress(RedisError, OSError):
                await pubsub.aclose()  # type: ignore[no-untyped-call]
