"""Work streams: a Redis stream read in a consumer group of its own, outside ``EventBus`` (ingest's
intake, the polls' vote log). ``StreamWorker`` runs the reading, settling and claiming; the
service says what one batch does.

    async def move(rows: list[Row]) -> Outcome:
        ...store what the rows say...
        return Outcome(done=[ids whose effect is durable], failed=[FailedEntry(...)])

    worker = StreamWorker(redis, "polls:votes", "votelog", consumer=name, handle=move,
                          batch=500, interval=0.0, what="a vote-log entry")
    await worker.start()

Each step reads this consumer's own pending entries first (a failed one is read again until it
is settled), else new ones, waiting up to ``block_ms``. ``done`` entries are acknowledged and
deleted in one MULTI/EXEC; an entry deleted meanwhile comes back without fields and is only
acknowledged. A ``failed`` entry stays pending; once delivered ``max_deliveries`` times it goes to
``<stream>.dlq`` in the bus's layout (``xabar-ops dlq list|replay <stream>``), acknowledged and
deleted in the same transaction. ``handle`` raising means a store does not answer (no entry's
fault): nothing is settled, and the worker backs off. Every ``claim_idle_ms / 2`` the worker takes
over entries another consumer left pending longer than ``claim_idle_ms`` (a crashed replica's).
If Redis lost the stream and its group, the group is made again.
"""

import logging
import time
import traceback
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, TypedDict

from prometheus_client import Counter
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from xabar.contracts import dlq_stream
from xabar.runtime.bus import dead_letter_fields, ensure_group
from xabar.runtime.workers import UNAVAILABLE, Worker

log = logging.getLogger("xabar.streams")

Row = tuple[bytes, dict[bytes, bytes]]

DEAD_LETTERS = Counter(
    "xabar_work_stream_dead_letters_total",
    "Work-stream entries moved to their dead-letter stream",
    ["stream"],
)


@dataclass(frozen=True, slots=True)
class FailedEntry:
    """An entry whose effect failed, and why."""

    entry_id: bytes
    fields: Mapping[bytes, bytes]
    error: BaseException


@dataclass
class Outcome:
    """What a batch came to: entries done (durable: acknowledge and delete) and entries failed."""

    done: list[bytes] = field(default_factory=list)
    failed: list[FailedEntry] = field(default_factory=list)


Handler = Callable[[list[Row]], Awaitable[Outcome]]


class Reading(TypedDict, total=False):
    """How a ``StreamWorker`` reads, the settings a service's worker passes on as they came
    (``**reading: Unpack[Reading]``) over defaults of its own: ``Reading(batch=50) | reading``.
    One left out everywhere is the ``StreamWorker``'s default."""

    batch: int
    interval: float
    block_ms: int
    claim_idle_ms: int
    max_deliveries: int


async def read_own_first(
    redis: Redis, stream: str, group: str, consumer: str, count: int, block_ms: int | None
) -> list[Row]:
    """This consumer's pending entries first, else new ones (waiting up to ``block_ms``). A
    deleted pending entry comes back with empty fields: acknowledge it only."""
    r: Any = redis  # redis-py's reply types are unions; we know the shape
    for entry_id, block in (("0", None), (">", block_ms)):
        reply = await r.xreadgroup(group, consumer, {stream: entry_id}, count=count, block=block)
        if reply and reply[0][1]:
            return list(reply[0][1])
    return []


async def claim_idle(
    redis: Redis, stream: str, group: str, consumer: str, min_idle_ms: int, count: int
) -> int:
    """Take over the entries other consumers of ``group`` left pending longer than
    ``min_idle_ms``; returns how many."""
    r: Any = redis
    claimed, start = 0, "0-0"
    while True:
        reply = await r.xautoclaim(stream, group, consumer, min_idle_ms, start, count=count)
        start, ids = _text(reply[0]), reply[1]
        claimed += len(ids)
        if start == "0-0" or not ids:
            return claimed


async def settle_failed(
    redis: Redis,
    stream: str,
    group: str,
    consumer: str,
    failed: Sequence[FailedEntry],
    max_deliveries: int,
) -> tuple[list[tuple[FailedEntry, int]], list[tuple[FailedEntry, int]]]:
    """Failed entries delivered ``max_deliveries`` times go to ``<stream>.dlq`` (written there
    first, then acknowledged and deleted in one MULTI/EXEC); the others stay pending. Returns
    (left pending, dead-lettered), each with its delivery count."""
    r: Any = redis
    kept: list[tuple[FailedEntry, int]] = []
    dead: list[tuple[FailedEntry, int]] = []
    for item in failed:
        rows = await r.xpending_range(stream, group, min=item.entry_id, max=item.entry_id, count=1)
        deliveries = int(rows[0]["times_delivered"]) if rows else 1
        (dead if deliveries >= max_deliveries else kept).append((item, deliveries))
    if dead:
        # two steps, the dead letters first: ``<stream>.dlq`` is another slot than the stream
        # (on a cluster, maybe another node), so one MULTI cannot hold both. A crash between them
        # leaves the entries pending: delivered again, they are dead-lettered again (a dead
        # letter twice, each naming the same entry id; never none)
        async with redis.pipeline(transaction=False) as pipe:
            for item, deliveries in dead:
                error = "".join(traceback.format_exception_only(item.error)).strip()
                pipe.xadd(
                    dlq_stream(stream),
                    dead_letter_fields(
                        stream, group, consumer, item.entry_id, item.fields, error, deliveries
                    ),
                )
            await pipe.execute()
        entry_ids = [item.entry_id for item, _ in dead]
        async with redis.pipeline(transaction=True) as pipe:  # one key: one slot
            pipe.xack(stream, group, *entry_ids)
            pipe.xdel(stream, *entry_ids)
            await pipe.execute()
    return kept, dead


@dataclass(eq=False)
class StreamWorker:
    """``interval``: the pause after each step, full or not (a steady pace); ``what`` names an
    entry in the logs ("a vote-log entry"); ``interval`` and ``unavailable`` go to its ``worker``.
    """

    redis: Redis
    stream: str
    group: str
    _: KW_ONLY
    consumer: str
    handle: Handler
    batch: int
    interval: float = 0.0
    block_ms: int = 200
    claim_idle_ms: int = 30_000
    max_deliveries: int = 5
    what: str = "an entry"
    unavailable: tuple[type[BaseException], ...] = UNAVAILABLE
    worker: Worker = field(init=False)
    _last_claim: float = field(default=0.0, init=False, repr=False)

    def __post_init__(self) -> None:
        self.worker = Worker(
            f"{self.stream}:{self.group}",
            self._work,
            interval=self.interval,
            unavailable=self.unavailable,
        )

    async def ensure_group(self) -> None:
        await ensure_group(self.redis, self.stream, self.group)

    async def start(self) -> None:
        await self.ensure_group()
        self.worker.start()

    async def stop(self) -> None:
        await self.worker.stop()

    async def step(self, *, block_ms: int | None = None) -> int:
        """One batch; returns how many entries were read."""
        rows = await read_own_first(
            self.redis, self.stream, self.group, self.consumer, self.batch, block_ms
        )
        if not rows:
            return 0
        gone = [entry_id for entry_id, fields in rows if not fields]  # deleted: only the ack
        live = [(entry_id, fields) for entry_id, fields in rows if fields]
        outcome = await self.handle(live) if live else Outcome()
        done = [*outcome.done, *gone]
        if done:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.xack(self.stream, self.group, *done)
                pipe.xdel(self.stream, *done)
                await pipe.execute()
        if outcome.failed:
            await self._settle(outcome.failed)
        return len(rows)

    async def claim_stale(self) -> int:
        """Take over entries another consumer left pending longer than ``claim_idle_ms``."""
        return await claim_idle(
            self.redis, self.stream, self.group, self.consumer, self.claim_idle_ms, self.batch
        )

    async def drain(self) -> int:
        """Handle everything this consumer can read now (the CLI, tests)."""
        await self.ensure_group()
        read = 0
        while n := await self.step():
            read += n
        return read

    async def _settle(self, failed: list[FailedEntry]) -> None:
        kept, dead = await settle_failed(
            self.redis, self.stream, self.group, self.consumer, failed, self.max_deliveries
        )
        for item, deliveries in kept:
            log.warning(
                f"{self.what} could not be handled; it stays pending",
                extra=_about(self.stream, item, deliveries),
            )
        for item, deliveries in dead:
            DEAD_LETTERS.labels(self.stream).inc()
            log.error(
                f"{self.what} moved to the dead-letter stream",
                extra=_about(self.stream, item, deliveries),
            )

    async def _work(self) -> bool:
        try:
            if time.monotonic() - self._last_claim > self.claim_idle_ms / 2000:
                self._last_claim = time.monotonic()
                await self.claim_stale()
            await self.step(block_ms=self.block_ms)
            return False  # the next batch after ``interval``, even when this one was full
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            await self.ensure_group()  # Redis lost the stream: start it again
            return True


def _about(stream: str, item: FailedEntry, deliveries: int) -> dict[str, Any]:
    return {
        "stream": stream,
        "entry_id": _text(item.entry_id),
        "deliveries": deliveries,
        "error": repr(item.error),
    }


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


__all__ = [
    "DEAD_LETTERS",
    "FailedEntry",
    "Handler",
    "Outcome",
    "Reading",
    "Row",
    "StreamWorker",
    "claim_idle",
    "read_own_first",
    "settle_failed",
]
