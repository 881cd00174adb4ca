"""The read-model projector: applies ``article.*`` and ``poll.*`` events to Redis.

Each event becomes one call of the ``APPLY`` script (see ``xabar.feed.scripts``), which checks the
aggregate's version and writes everything the event changes atomically: redelivered and
duplicated events change nothing, and an old event arriving late never rolls state back.

``apply`` is the live path (one event, bumps the revision the page caches watch); ``apply_many``
sends a batch of events in one pipeline round trip (the ``rebuild`` path and bulk loads).
"""

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis

from xabar.contracts import (
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


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_ms(value: datetime) -> int:
    """Milliseconds since the epoch, exactly (no float rounding)."""
    return (value - _EPOCH) // timedelta(milliseconds=1)


US = "\x1f"  # separates the header fields of the APPLY script


def script_args(event: Event) -> tuple[str, str] | None:
    """The ``APPLY`` script's header and document for ``event``; None if not ours."""
    if isinstance(event, ArticlePublished | ArticleUpdated):
        doc = article_doc(event.data, event.version)
        header: tuple[str, ...] = (
            "A",
            doc.article_id,
            str(event.version),
            str(epoch_ms(event.occurred_at)),
            doc.slug,
            str(epoch_ms(doc.published_at)),
            ",".join(doc.countries),
            "1" if doc.featured else "0",
            ",".join(doc.featured_countries),
        )
        return US.join(header), doc.model_dump_json()
    if isinstance(event, ArticleUnpublished):
        header = ("U", event.data.article_id, str(event.version), str(epoch_ms(event.occurred_at)))
        return US.join(header), ""
    if isinstance(event, PollOpened | PollClosed):
        poll = poll_doc(event.data, event.version)
        header = (
            "P",
            poll.poll_id,
            str(event.version),
            str(epoch_ms(event.occurred_at)),
            str(epoch_ms(poll.opens_at)),
            ",".join(poll.countries),
        )
        return US.join(header), poll.model_dump_json()
    if isinstance(event, PollTallied):
        tally = tally_doc(event.data, event.version)
        header = ("T", tally.poll_id, str(event.version), str(epoch_ms(event.occurred_at)))
        return US.join(header), tally.model_dump_json()
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
        applied, revision = await self._apply(keys=scripts.APPLY_KEYS, args=["", *args])
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

    async def apply_many(
        self, events: Iterable[Event], *, generation: str | None = None, chunk: int = 250
    ) -> int:
        """Apply ``events`` in pipelines of ``chunk`` scripts; returns how many changed something.

        ``generation`` None is the live path (served generation, revision bumped per change);
        a name fills that generation only (rebuild), without touching what is served.

        Two pipelines are in flight at a time, so Python prepares one chunk while Redis runs the
        other. That may apply two events of one aggregate out of order, which changes nothing:
        every write is version-gated per aggregate, so the outcome is the newest version whatever
        the order (the same property that makes redelivery and late events harmless).
        """
        target = generation or ""
        changed = 0
        top = 0
        in_flight: set[asyncio.Task[Sequence[list[int]]]] = set()

        async def run(batch: list[tuple[str, str]]) -> Sequence[list[int]]:
            async with self.redis.pipeline(transaction=False) as pipe:
                for header, doc in batch:
                    await self._apply(
                        keys=scripts.APPLY_KEYS, args=[target, header, doc], client=pipe
                    )
                result: Sequence[list[int]] = await pipe.execute()
                return result

        def settle(done: set[asyncio.Task[Sequence[list[int]]]]) -> None:
            nonlocal changed, top
            for task in done:
                for applied, rev in task.result():
                    changed += 1 if applied else 0
                    top = max(top, int(rev))

        batch: list[tuple[str, str]] = []
        try:
            for event in events:
                args = script_args(event)
                if args is not None:
                    batch.append(args)
                if len(batch) >= chunk:
                    if len(in_flight) >= 2:
                        done, in_flight = await asyncio.wait(
                            in_flight, return_when=asyncio.FIRST_COMPLETED
                        )
                        settle(done)
                    in_flight.add(asyncio.create_task(run(batch)))
                    batch = []
                    await asyncio.sleep(0)  # let it write before the next chunk is prepared
            if batch:
                in_flight.add(asyncio.create_task(run(batch)))
            if in_flight:
                done, in_flight = await asyncio.wait(in_flight)
                settle(done)
        finally:
            for task in in_flight:
                task.cancel()
        if top and self.on_revision is not None:
            self.on_revision(top)
        return changed
