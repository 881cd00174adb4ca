"""Moves the vote log from Redis to MongoDB: a consumer group on the script's stream.

The counting script appends one entry per counted vote to ``P:votes``. This writer reads them in
a consumer group, upserts them into MongoDB by ``poll_id:voter_id``, and only then acknowledges
and deletes them: an entry leaves Redis only once MongoDB has it. The entries are durable in
Redis (AOF) meanwhile, and recounts and rebuilds read them there too, so the writer takes them
at a steady pace: at most ``batch`` every ``interval`` seconds. Under a burst of votes that
means one MongoDB round trip per ``batch`` votes, and MongoDB's share of the machine stays
bounded while votes are being answered; the backlog is written after the burst. A crash leaves
entries pending; on restart the same consumer reads its own pending entries first, and entries
left pending by another consumer for longer than ``claim_idle_ms`` are claimed.

An entry that cannot be written (it does not decode, or MongoDB refuses it for good) does not
hold the others back: a batch MongoDB refuses is written again one entry at a time, the entries
that fail stay pending, and one delivered ``max_deliveries`` times moves to ``<stream>.dlq`` with
the error (the bus's layout: ``xabar-ops dlq list|replay polls:votes``) and is acknowledged.
Unreachable Redis or MongoDB is no entry's fault: the step raises and everything waits.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from prometheus_client import Counter
from pymongo.errors import ExecutionTimeout, PyMongoError, WTimeoutError
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from xabar.polls.counter import VoteEntry
from xabar.polls.errors import UNAVAILABLE
from xabar.polls.metrics import VOTES_LOGGED
from xabar.polls.repository import VoteLog
from xabar.polls.workers import Worker
from xabar.runtime.bus import FailedEntry, claim_idle, ensure_group, read_own_first, settle_failed

log = logging.getLogger("xabar.polls.votelog")

GROUP = "votelog"
DEAD_LETTERED = Counter(
    "xabar_polls_votelog_dead_letters_total", "Vote-log entries moved to the dead-letter stream"
)


class VoteLogWriter:
    def __init__(
        self,
        redis: Redis,
        stream: str,
        votes: VoteLog,
        *,
        consumer: str,
        batch: int = 500,
        claim_idle_ms: int = 30_000,
        block_ms: int = 200,
        interval: float = 0.0,
        max_deliveries: int = 5,
    ) -> None:
        self.redis = redis
        self.stream = stream
        self.votes = votes
        self.consumer = consumer
        self.batch = batch
        self.claim_idle_ms = claim_idle_ms
        self.max_deliveries = max_deliveries
        self.block_ms = block_ms
        self._last_claim = 0.0
        self._worker = Worker("votelog-writer", self._work, interval=interval)

    async def ensure_group(self) -> None:
        await ensure_group(self.redis, self.stream, GROUP)

    async def start(self) -> None:
        await self.ensure_group()
        self._worker.start()

    async def stop(self) -> None:
        await self._worker.stop()

    async def step(self, *, block_ms: int | None = None) -> int:
        """Write one batch: this consumer's pending entries first, else new ones. Entries that
        cannot be written stay pending, or past ``max_deliveries`` go to the dead letters."""
        rows = await read_own_first(
            self.redis, self.stream, GROUP, self.consumer, self.batch, block_ms
        )
        if not rows:
            return 0
        gone = [entry_id for entry_id, fields in rows if not fields]  # deleted: only the ack
        ready: list[tuple[bytes, dict[bytes, bytes], VoteEntry]] = []
        failed: list[FailedEntry] = []
        for entry_id, fields in rows:
            if fields:
                try:
                    ready.append((entry_id, fields, VoteEntry.of(fields)))
                except Exception as exc:  # the entry itself is damaged
                    failed.append(FailedEntry(entry_id, fields, exc))
        try:
            await self.votes.write([entry for _, _, entry in ready])
            written = ready
        except Exception as exc:  # the batch refused: find the entries at fault
            if _unavailable(exc):
                raise
            written = []
            for item in ready:
                try:
                    await self.votes.write([item[2]])
                except Exception as one:
                    if _unavailable(one):
                        raise
                    failed.append(FailedEntry(item[0], item[1], one))
                    continue
                written.append(item)
        done = [entry_id for entry_id, _, _ in written] + gone
        if done:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.xack(self.stream, GROUP, *done)
                pipe.xdel(self.stream, *done)
                await pipe.execute()
        VOTES_LOGGED.inc(len(written))
        if failed:
            await self._fail(failed)
        return len(rows)

    async def _fail(self, failed: list[FailedEntry]) -> None:
        """Entries delivered ``max_deliveries`` times go to the dead-letter stream (acked and
        deleted, in one transaction); the others stay pending."""
        kept, dead = await settle_failed(
            self.redis, self.stream, GROUP, self.consumer, failed, self.max_deliveries
        )
        for item, deliveries in kept:
            log.warning(
                "a vote-log entry could not be written; it stays pending",
                extra={
                    "entry_id": _s(item.entry_id),
                    "deliveries": deliveries,
                    "error": repr(item.error),
                },
            )
        for item, deliveries in dead:
            DEAD_LETTERED.inc()
            log.error(
                "a vote-log entry moved to the dead-letter stream",
                extra={
                    "entry_id": _s(item.entry_id),
                    "deliveries": deliveries,
                    "error": repr(item.error),
                },
            )

    async def claim_stale(self) -> int:
        """Take over entries another consumer left pending longer than ``claim_idle_ms``."""
        return await claim_idle(
            self.redis, self.stream, GROUP, self.consumer, self.claim_idle_ms, self.batch
        )

    async def drain(self) -> int:
        """Write everything this consumer can read now (CLI and tests)."""
        await self.ensure_group()
        written = 0
        while n := await self.step():
            written += n
        return written

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


def _unavailable(exc: BaseException) -> bool:
    """Redis or MongoDB unreachable or too slow: no entry's fault."""
    return isinstance(exc, (*UNAVAILABLE, ExecutionTimeout, WTimeoutError)) or (
        isinstance(exc, PyMongoError) and bool(getattr(exc, "timeout", False))
    )


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
