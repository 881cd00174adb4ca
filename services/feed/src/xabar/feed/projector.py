"""The read-model projector: applies ``article.*`` and ``poll.*`` events to Redis.

Each event becomes one call of the ``APPLY`` script (see ``xabar.feed.scripts``), which checks the
aggregate's version and writes everything the event changes atomically: redelivered and
duplicated events change nothing, and an old event arriving late never rolls state back.

``apply`` is the live path (one event, bumps the revision the page caches watch); ``apply_many``
sends a batch of events in one pipeline round trip (the ``rebuild`` path and bulk loads).
"""

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis

from xabar.contracts import (
    COUNTRIES,
    ArticlePublished,
    ArticleUnpublished,
    ArticleUpdated,
    Event,
    PollClosed,
    PollOpened,
    PollTallied,
)
from xabar.feed import scripts
from xabar.feed.documents import article_doc, poll_doc, tally_doc

log = logging.getLogger("xabar.feed.projector")

ARTICLE_TYPES = (ArticlePublished.TYPE, ArticleUpdated.TYPE, ArticleUnpublished.TYPE)
POLL_TYPES = (PollOpened.TYPE, PollClosed.TYPE, PollTallied.TYPE)
_ALL_CODES = ",".join(COUNTRIES)

Args = list[str | int]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_ms(value: datetime) -> int:
    """Milliseconds since the epoch, exactly (no float rounding)."""
    return (value - _EPOCH) // timedelta(milliseconds=1)


def script_args(event: Event) -> Args | None:
    """The ``APPLY`` script's kind-specific arguments for ``event``; None if not ours."""
    if isinstance(event, ArticlePublished | ArticleUpdated):
        doc = article_doc(event.data, event.version)
        return [
            "A",
            doc.article_id,
            event.version,
            epoch_ms(event.occurred_at),
            doc.model_dump_json(),
            doc.slug,
            epoch_ms(doc.published_at),
            ",".join(doc.countries),
            "1" if doc.featured else "0",
            ",".join(doc.featured_countries),
        ]
    if isinstance(event, ArticleUnpublished):
        return ["U", event.data.article_id, event.version, epoch_ms(event.occurred_at)]
    if isinstance(event, PollOpened | PollClosed):
        poll = poll_doc(event.data, event.version)
        return [
            "P",
            poll.poll_id,
            event.version,
            epoch_ms(event.occurred_at),
            poll.model_dump_json(),
            epoch_ms(poll.opens_at),
            ",".join(poll.countries),
        ]
    if isinstance(event, PollTallied):
        tally = tally_doc(event.data, event.version)
        return [
            "T",
            tally.poll_id,
            event.version,
            epoch_ms(event.occurred_at),
            tally.model_dump_json(),
        ]
    return None


@dataclass(frozen=True, slots=True)
class Applied:
    applied: bool
    revision: int  # the revision after the change (0 when nothing changed)


class Projector:
    """Writes events into the read model; ``on_revision`` hears every revision it causes."""

    def __init__(self, redis: Redis, on_revision: Callable[[int], None] | None = None) -> None:
        self.redis = redis
        self.on_revision = on_revision
        self._apply = redis.register_script(scripts.APPLY)

    async def apply(self, event: Event) -> Applied:
        """Apply one event to the served generation (and to one being rebuilt)."""
        args = script_args(event)
        if args is None:
            return Applied(False, 0)
        applied, revision = await self._apply(keys=scripts.APPLY_KEYS, args=["", _ALL_CODES, *args])
        if applied and self.on_revision is not None:
            self.on_revision(int(revision))
        return Applied(bool(applied), int(revision))

    async def handle(self, event: Event) -> None:
        """The bus handler: raises on failure so the entry stays pending and is redelivered."""
        result = await self.apply(event)
        if not result.applied:
            log.debug(
                "event changed nothing (duplicate or older version)",
                extra={"event_id": str(event.event_id), "type": event.type},
            )

    async def apply_many(self, events: Iterable[Event], *, generation: str | None = None) -> int:
        """Apply ``events`` in order, in one pipeline; returns how many changed something.

        ``generation`` None is the live path (served generation, revision bumped per change);
        a name fills that generation only (rebuild), without touching what is served.
        """
        target = generation or ""
        batch: list[Args] = [a for a in (script_args(e) for e in events) if a is not None]
        if not batch:
            return 0
        async with self.redis.pipeline(transaction=False) as pipe:
            for args in batch:
                await self._apply(
                    keys=scripts.APPLY_KEYS, args=[target, _ALL_CODES, *args], client=pipe
                )
            results: Sequence[list[int]] = await pipe.execute()
        changed = sum(1 for applied, _ in results if applied)
        top = max((int(rev) for _, rev in results), default=0)
        if top and self.on_revision is not None:
            self.on_revision(top)
        return changed
