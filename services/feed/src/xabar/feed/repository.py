"""Reads of the read model. Every read is one Lua script call: one round trip, one consistent
snapshot of the served generation, and the revision it belongs to (for the page caches).

Paging is by index in a sorted set (ZREVRANGE start stop): O(log n + page size), so page 1039
costs what page 1 costs.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from xabar.feed import scripts
from xabar.feed.documents import ArticleDoc, PollDoc, TallyDoc
from xabar.feed.errors import ReadModelUnavailable

ALL = "z:all"
FEATURED = "z:f"
POLLS = "z:polls"


def country_list(code: str) -> str:
    return f"z:c:{code}"


def country_featured(code: str) -> str:
    return f"z:f:{code}"


def country_polls(code: str) -> str:
    return f"z:polls:c:{code}"


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
class ListRead:
    snapshot: Snapshot
    total: int
    items: list[ArticleDoc]
    featured: ArticleDoc | None
    poll: PollRead | None


@dataclass(frozen=True, slots=True)
class ArticleRead:
    snapshot: Snapshot
    article: ArticleDoc | None
    poll: PollRead | None


@dataclass(frozen=True, slots=True)
class PollsRead:
    snapshot: Snapshot
    total: int
    items: list[PollRead]


@dataclass(frozen=True, slots=True)
class SlugsRead:
    snapshot: Snapshot
    total: int
    slugs: list[str]


def _str(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


def _snapshot(generation: Any, revision: Any, lm: Any) -> Snapshot:
    ms = int(lm or 0)
    return Snapshot(_str(generation), int(revision or 0), datetime.fromtimestamp(ms / 1000, UTC))


def _article(raw: Any) -> ArticleDoc | None:
    return ArticleDoc.model_validate_json(raw) if raw else None


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


class ReadModel:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._page = redis.register_script(scripts.READ_PAGE)
        self._article = redis.register_script(scripts.READ_ARTICLE)
        self._polls = redis.register_script(scripts.READ_POLLS)
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
    ) -> ListRead:
        """``count`` articles of ``list_key`` from index ``start`` (newest first); with
        ``without_featured``, the featured article is left out of them."""
        raw = await _run(
            self._page,
            [
                list_key,
                start,
                start + count - 1,
                featured_key,
                poll_key,
                "1" if without_featured else "0",
            ],
        )
        gen, rev, total, lm, featured, poll, tally, *docs = raw
        return ListRead(
            snapshot=_snapshot(gen, rev, lm),
            total=int(total),
            items=[d for d in (_article(x) for x in docs) if d is not None],
            featured=_article(featured),
            poll=_poll(poll, tally),
        )

    async def article(self, slug: str, *, poll_key: str = POLLS) -> ArticleRead:
        gen, rev, lm, doc, poll, tally = await _run(self._article, [slug, poll_key])
        return ArticleRead(_snapshot(gen, rev, lm), _article(doc), _poll(poll, tally))

    async def polls(self, start: int, count: int) -> PollsRead:
        gen, rev, total, lm, *rest = await _run(self._polls, [start, start + count - 1])
        items = [p for p in (_poll(rest[i], rest[i + 1]) for i in range(0, len(rest), 2)) if p]
        return PollsRead(_snapshot(gen, rev, lm), int(total), items)

    async def since(self, list_key: str, since: datetime, limit: int) -> ListRead:
        """Articles of ``list_key`` published at or after ``since``, newest first."""
        since_ms = int(since.timestamp() * 1000)
        gen, rev, lm, *docs = await _run(self._since, [list_key, since_ms, limit])
        items = [d for d in (_article(x) for x in docs) if d is not None]
        return ListRead(_snapshot(gen, rev, lm), len(items), items, None, None)

    async def slugs(self, list_key: str, start: int, count: int) -> SlugsRead:
        """Slugs of ``list_key`` by ascending index (oldest first)."""
        gen, rev, total, lm, *slugs = await _run(self._asc, [list_key, start, start + count - 1])
        return SlugsRead(
            _snapshot(gen, rev, lm), int(total), [s for s in (_str(x) for x in slugs) if s]
        )

    async def revision(self) -> tuple[int, str | None]:
        rev, gen = await self.redis.mget([scripts.REV, scripts.CURRENT])
        return int(rev or 0), _str(gen)
