"""The read-model projector: applies ``article.*``, ``comment.*`` and ``poll.*`` events to Redis.

Events are applied by the ``APPLY`` script (see ``xabar.feed.scripts``), up to ``script_batch``
events per call. For each event the script checks the aggregate's version and writes everything
the event changes: redelivered and duplicated events change nothing, and an old event arriving
late never rolls state back. Each event succeeds or fails on its own (``apply_events`` answers
one outcome per event), which is what the bus needs to ack a batch but the entry that failed.

A batch (the bus's, up to ``xabar.feed.handlers.BATCH``; a rebuild's page) is applied ``chunk``
events at a time, one chunk in flight: Python prepares the next chunk (sanitizing, serializing,
compressing: most of the cost) while Redis applies the one before, so the two run on two cores.

An article's document lives in its bucket (its own slot, ``scripts.doc_key``), not in the lists'
slot, so an article event is three single-slot steps, each version-gated on its own keys: the
generations to write are read (``GENERATIONS``), the documents of upserts are written
(``PUT_DOCS``, one call per bucket), the lists (``APPLY``), then the tombstones of unpublished
articles (``PUT_DOCS``). An event whose document step failed is not sent to ``APPLY`` (it fails,
stays pending and is delivered again); a crash between two steps leaves each step either done or
not, and the redelivery does what is missing and nothing twice.

``handle_batch`` is the live path (what the bus's batch handlers in ``xabar.feed.handlers``
call; bumps the revision the page caches watch, once per script call that changed something);
``apply_many`` fills a generation in chunks (tests, the memory bench).
"""

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, cast

from pydantic_core import to_json

from xabar.contracts import (
    AggregateEvent,
    ArticlePublished,
    ArticleUnpublished,
    ArticleUpdated,
    CommentPublished,
    CommentRemoved,
    CountryProfilePublished,
    Event,
    PollClosed,
    PollOpened,
    PollTallied,
)
from xabar.feed import scripts
from xabar.feed.documents import (
    article_fields,
    checked_id,
    comment_doc,
    pack_article,
    poll_doc,
    profile_doc,
    tally_doc,
)
from xabar.feed.writes import ProjectionWrites

if TYPE_CHECKING:
    from xabar.runtime.config import RedisClient

log = logging.getLogger("xabar.feed.projector")

# what the projector applies, by the stream it comes on (the handlers' subscriptions)
ArticleEvent = ArticlePublished | ArticleUpdated | ArticleUnpublished | CountryProfilePublished
CommentEvent = CommentPublished | CommentRemoved
PollEvent = PollOpened | PollClosed | PollTallied


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_ms(value: datetime) -> int:
    """Milliseconds since the epoch, exactly (no float rounding)."""
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


US = "\x1f"  # separates the header fields of the APPLY script
RS = "\x1e"  # separates an article's tags in its header
PREPARE_STEP = 50  # events prepared between two looks at the replies of the chunk in flight
MAX_STAMP = 10**13 - 1  # stamps are 13 digits (until the year 2286)


def stamp(value: datetime) -> str:
    """``value`` in ms since the epoch as 13 digits: comments sort by it as text."""
    return f"{min(MAX_STAMP, max(0, epoch_ms(value))):013d}"


def apply_header(kind: str, whose: str, version: int, occurred_ms: int, *fields: str) -> str:
    """A header of the ``APPLY`` script: the kind of change ("A" an article upsert, "U" an
    unpublish, "P" a poll, "T" a tally, "C" a country's profile, "K" a comment, "X" its
    removal), whose it is (an id, a country code), the version it brings and when it happened
    (ms since the epoch), then the fields of its kind."""
    return US.join((kind, whose, str(version), str(occurred_ms), *fields))


def event_header(kind: str, whose: str, event: AggregateEvent, *fields: str) -> str:
    """``apply_header`` of ``event``'s version and time."""
    return apply_header(kind, whose, event.version, epoch_ms(event.occurred_at), *fields)


def article_header(doc: Mapping[str, Any], version: int, occurred_ms: int) -> str:
    """The ``APPLY`` header of an article upsert: the lists ``doc`` (its fields) puts it in."""
    return apply_header(
        "A",
        doc["article_id"],
        version,
        occurred_ms,
        doc["slug"],
        str(epoch_ms(doc["published_at"])),
        ",".join(doc["countries"]),
        "1" if doc["featured"] else "0",
        ",".join(doc["featured_countries"]),
        RS.join(t for t in doc["tags"] if t),
        to_json(doc["updated_at"]).decode().strip('"'),
    )


def script_args(event: Event) -> tuple[str, str | bytes] | None:
    """The ``APPLY`` script's header and document for ``event``; None if not ours."""
    if isinstance(event, ArticlePublished | ArticleUpdated):
        doc = article_fields(event.data, event.version)
        occurred = epoch_ms(event.occurred_at)
        return article_header(doc, event.version, occurred), pack_article(to_json(doc))
    if isinstance(event, ArticleUnpublished):
        return event_header("U", event.data.article_id, event), ""
    if isinstance(event, PollOpened | PollClosed):
        poll = poll_doc(event.data, event.version)
        opens = str(epoch_ms(poll.opens_at))
        header = event_header("P", poll.poll_id, event, opens, ",".join(poll.countries))
        return header, poll.model_dump_json()
    if isinstance(event, CountryProfilePublished):
        profile = profile_doc(event.data, event.version)
        if profile is None:  # not a section of the portal
            return None
        return event_header("C", profile.country, event), profile.model_dump_json()
    if isinstance(event, CommentPublished):
        comment = comment_doc(event.data, event.version)
        header = event_header(
            "K",
            comment.comment_id,
            event,
            comment.article_id,
            comment.parent_id or "",
            stamp(comment.published_at),
        )
        return header, comment.model_dump_json()
    if isinstance(event, CommentRemoved):
        cid = checked_id(event.data.comment_id, "comment id")
        return event_header("X", cid, event), ""
    if isinstance(event, PollTallied):
        tally = tally_doc(event.data, event.version)
        return event_header("T", tally.poll_id, event), tally.model_dump_json()
    return None


def _bytes(value: str | bytes) -> bytes:
    return value.encode() if isinstance(value, str) else value


class ApplyError(Exception):
    """The ``APPLY`` script failed for one event (the others of its call went on)."""


@dataclass(frozen=True, slots=True)
class Applied:
    applied: bool
    revision: int  # the revision after the change (0 when nothing changed)


@dataclass(slots=True)
class Outcomes:
    """What ``apply_events`` did: per event None (done) or the exception it failed with."""

    errors: list[BaseException | None]
    changed: int = 0
    revision: int = 0  # the newest revision the batch caused (0: it changed nothing served)

    def merge(self, offset: int, part: "Outcomes") -> None:
        """Take in the outcomes of a chunk whose first event is event ``offset`` of these."""
        self.errors[offset : offset + len(part.errors)] = part.errors
        self.changed += part.changed
        self.revision = max(self.revision, part.revision)


@dataclass(frozen=True, slots=True)
class DocWrite:
    """An article's document (b"" for an unpublish) for its bucket."""

    event: int  # its index in the batch
    article_id: str
    version: int
    doc: bytes


class Labelled(Protocol):
    """What an outcome's error names: an event, or an article taken over by a rebuild."""

    @property
    def type(self) -> str: ...
    @property
    def event_id(self) -> Any: ...


@dataclass(slots=True)
class Batch:
    """Events turned into script calls (``Projector.prepare``), ready to send."""

    events: Sequence[Labelled]
    errors: list[BaseException | None]  # per event: the failure of its preparation, if any
    generation: str | None = None  # the one a rebuild fills; None: live
    items: list[tuple[int, str, str | bytes]] = field(default_factory=list)  # event, header, doc
    docs: list[DocWrite] = field(default_factory=list)  # upserts: before APPLY
    tombstones: list[DocWrite] = field(default_factory=list)  # unpublishes: after APPLY


class Projector:
    """Writes events into the read model; ``on_revision`` hears every revision it causes."""

    def __init__(
        self,
        redis: "RedisClient",
        on_revision: Callable[[int], None] | None = None,
        *,
        script_batch: int = 100,
        chunk: int = 250,
    ) -> None:
        self.writes = ProjectionWrites(redis)
        self.on_revision = on_revision
        self.script_batch = script_batch
        self.chunk = chunk

    async def apply(self, event: Event) -> Applied:
        """Apply one event to the served generation (and to one being rebuilt)."""
        result = await self.apply_events([event])
        if (error := result.errors[0]) is not None:
            raise error
        return Applied(result.changed == 1, result.revision)

    async def handle(self, event: Event) -> None:
        """The single-event bus handler: raises on failure, so the entry stays pending."""
        result = await self.apply(event)
        if not result.applied:
            log.debug(
                "event changed nothing (duplicate or older version)",
                extra={"event_id": str(event.event_id), "type": event.type},
            )

    async def handle_batch(self, events: Sequence[Event]) -> list[BaseException | None]:
        """The bus's batch handler: one outcome per event (None = applied or a no-op)."""
        return (await self.apply_events(events)).errors

    async def apply_events(
        self, events: Sequence[Event], *, generation: str | None = None
    ) -> Outcomes:
        """Apply ``events``: ``chunk`` events at a time, each chunk one round trip per step
        (``send``), Python preparing the next chunk while Redis applies the one before (one
        chunk in flight at a time, so the chunks are applied in their order). ``generation``
        None is the live path (served generation and one being rebuilt, revision bumped); a
        name fills that generation only (rebuild).

        An event that cannot be turned into script arguments, or that the script fails on, gets
        its exception as its outcome; the others are applied. A failure of a round trip itself
        (Redis unreachable) raises: then nothing is known to be applied.
        """
        result = Outcomes([None] * len(events))
        targets = None if generation is None else [generation]
        sending: tuple[int, asyncio.Task[Outcomes]] | None = None
        try:
            for start in range(0, len(events), self.chunk):
                batch = await self.prepare_stepwise(
                    events[start : start + self.chunk], generation=generation
                )
                if targets is None and (batch.docs or batch.tombstones):
                    targets = await self.generations()
                if sending is not None:
                    result.merge(sending[0], await sending[1])
                sending = (start, asyncio.ensure_future(self.send(batch, targets or [])))
                await asyncio.sleep(0)  # it writes its first step now, Redis runs it meanwhile
            if sending is not None:
                result.merge(sending[0], await sending[1])
                sending = None
        finally:
            if sending is not None and not sending[1].done():
                sending[1].cancel()
        return result

    def prepare(self, events: Sequence[Labelled], *, generation: str | None = None) -> Batch:
        """The Python half of ``apply_events``: the script arguments for ``events``."""
        batch = Batch(events, [None] * len(events), generation)
        self._prepare_into(batch, 0, len(events))
        return batch

    async def prepare_stepwise(
        self, events: Sequence[Labelled], *, generation: str | None = None
    ) -> Batch:
        """``prepare``, yielding to the event loop every ``PREPARE_STEP`` events, so that a
        chunk in flight takes its next step (its reply read, the next step sent) meanwhile."""
        batch = Batch(events, [None] * len(events), generation)
        for start in range(0, len(events), PREPARE_STEP):
            self._prepare_into(batch, start, min(len(events), start + PREPARE_STEP))
            await asyncio.sleep(0)
        return batch

    @staticmethod
    def _prepare_into(batch: Batch, start: int, stop: int) -> None:
        for i in range(start, stop):
            event = batch.events[i]
            try:
                prepared = script_args(cast("Event", event))
            except Exception as exc:  # a bug or an input we cannot render: this event fails
                batch.errors[i] = exc
                continue
            if prepared is None:
                continue
            header, doc = prepared
            kind, article_id, version, _ = header.split(US, 3)
            if kind == "A":  # the document goes to its bucket, the header to the lists
                batch.docs.append(DocWrite(i, article_id, int(version), _bytes(doc)))
                doc = ""
            elif kind == "U":
                batch.tombstones.append(DocWrite(i, article_id, int(version), b""))
            batch.items.append((i, header, doc))

    async def send(self, batch: Batch, targets: list[str] | None = None) -> Outcomes:
        """The Redis half of ``apply_events``: the documents, the lists, the tombstones, each
        one round trip. ``targets``: the generations the documents go to (``generations``;
        read here when None)."""
        result = Outcomes(list(batch.errors))
        if not batch.items:
            return result
        if targets is None:
            targets = await self._targets(batch)
        await self._write_docs(batch.docs, targets, result.errors)
        calls = self._calls(batch, result.errors)
        if calls:
            replies = await self.writes.apply([args for _, args in calls])
            self._settle(batch.events, calls, replies, result)
        tombstones = [t for t in batch.tombstones if result.errors[t.event] is None]
        await self._write_docs(tombstones, targets, result.errors)
        if result.revision and self.on_revision is not None:
            self.on_revision(result.revision)
        return result

    async def generations(self) -> list[str]:
        """The generations a live event's documents go to: the served one and one being rebuilt
        (``APPLY`` reads them again itself: a rebuild that starts in between replays the event
        from its stream, a switch in between serves the one written)."""
        return await self.writes.generations()

    async def _targets(self, batch: Batch) -> list[str]:
        if batch.generation is not None:
            return [batch.generation]
        if not batch.docs and not batch.tombstones:
            return []
        return await self.generations()

    async def _write_docs(
        self, docs: list[DocWrite], generations: list[str], errors: list[BaseException | None]
    ) -> None:
        """``PUT_DOCS`` once per bucket; the events of a bucket whose call failed fail."""
        if not docs:
            return
        by_bucket: dict[int, list[DocWrite]] = {}
        for write in docs:
            by_bucket.setdefault(scripts.doc_bucket(write.article_id), []).append(write)
        todo = []
        for bucket, writes in by_bucket.items():
            keys = [scripts.doc_key(bucket, g) for g in generations]
            args: list[str | bytes | int] = []
            for w in writes:
                args += [w.article_id, w.version, w.doc]
            todo.append((keys, args))
        replies = await self.writes.put_docs(todo)
        for writes, reply in zip(by_bucket.values(), replies, strict=True):
            if isinstance(reply, BaseException):
                for w in writes:
                    errors[w.event] = reply

    def _calls(
        self, batch: Batch, errors: list[BaseException | None]
    ) -> list[tuple[list[int], list[str | bytes]]]:
        """The ``APPLY`` calls, ``script_batch`` events each, of the events not failed yet."""
        calls: list[tuple[list[int], list[str | bytes]]] = []
        index: list[int] = []
        args: list[str | bytes] = [batch.generation or ""]
        for i, header, doc in batch.items:
            if errors[i] is not None:
                continue
            index.append(i)
            args += [header, doc]
            if len(index) >= self.script_batch:
                calls.append((index, args))
                index, args = [], [batch.generation or ""]
        if index:
            calls.append((index, args))
        return calls

    @staticmethod
    def _settle(
        events: Sequence[Labelled],
        calls: list[tuple[list[int], list[str | bytes]]],
        replies: list[Any],
        result: Outcomes,
    ) -> None:
        for (indexes, _), reply in zip(calls, replies, strict=True):
            if isinstance(reply, BaseException):
                for i in indexes:
                    result.errors[i] = reply
                continue
            revision, *outcomes = reply
            result.revision = max(result.revision, int(revision))
            for i, outcome in zip(indexes, outcomes, strict=True):
                if isinstance(outcome, bytes | str):
                    text = outcome.decode() if isinstance(outcome, bytes) else outcome
                    result.errors[i] = ApplyError(f"{events[i].type} {events[i].event_id}: {text}")
                elif outcome == 1:
                    result.changed += 1

    async def apply_many(
        self, events: Iterable[Event], *, generation: str | None = None, chunk: int = 5000
    ) -> int:
        """Apply ``events`` ``chunk`` at a time (``apply_events``, which overlaps preparing and
        applying); returns how many changed something. Raises the first failure of an event (a
        rebuild stops on it)."""
        changed = 0
        batch: list[Event] = []
        for event in events:
            batch.append(event)
            if len(batch) >= chunk:
                changed += raise_first(await self.apply_events(batch, generation=generation))
                batch = []
        if batch:
            changed += raise_first(await self.apply_events(batch, generation=generation))
        return changed


def raise_first(outcome: Outcomes) -> int:
    """Raise the first failure of ``outcome``; else answer how many events changed something."""
    for error in outcome.errors:
        if error is not None:
            raise error
    return outcome.changed
