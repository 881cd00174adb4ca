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

How fast it goes (``Pacer``, one ``XINFO STREAM`` per look): while votes come in faster than
``yield_above`` a second, it steps aside, since MongoDB's writes would take the CPU the votes
are being answered with and could not keep up with such a burst anyway; the burst waits in the
stream (durable in Redis, read by recounts and rebuilds). That wait is bounded: once the stream
holds ``max_backlog`` entries, or its oldest entry is ``max_lag_ms`` older than its newest, the
writer writes at its pace under any load. Once no vote came in since its last look, it writes
batch after batch without a pause until the backlog is gone; with votes coming in slower than
``yield_above``, one batch every ``interval``.

The reading, settling and claiming are the runtime's ``StreamWorker``; ``write`` is what a batch
does here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import Enum
from typing import Unpack

from xabar.polls.counter import Backlog, VoteCounter, VoteEntry
from xabar.polls.metrics import VOTES_LOGGED
from xabar.polls.repository import VoteLog
from xabar.runtime.errors import MONGO_ERRORS, UNAVAILABLE
from xabar.runtime.streams import FailedEntry, Outcome, Reading, Row, StreamWorker

GROUP = "votelog"


class Pace(Enum):
    YIELD = "yield"  # a burst: write nothing now
    PACED = "paced"  # one batch, then ``interval``
    FREE = "free"  # nothing coming in: the next batch at once


class Pacer:
    """Decides, from two looks at the stream, how the writer goes on (pure: tested alone)."""

    def __init__(
        self,
        *,
        yield_above: float,
        max_backlog: int,
        max_lag_ms: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``yield_above``: votes a second above which the writer steps aside (0: never)."""
        self.yield_above = yield_above
        self.max_backlog = max_backlog
        self.max_lag_ms = max_lag_ms
        self.clock = clock
        self._last: tuple[int, float] | None = None

    def decide(self, backlog: Backlog) -> Pace:
        now, last = self.clock(), self._last
        self._last = (backlog.added, now)
        if last is None or backlog.added < 0 or backlog.added < last[0]:
            return Pace.PACED  # a first look, an old server, or a stream made anew
        arrived, elapsed = backlog.added - last[0], max(now - last[1], 1e-3)
        if arrived == 0:
            return Pace.FREE
        bounded = backlog.length < self.max_backlog and backlog.span_ms < self.max_lag_ms
        if self.yield_above > 0 and arrived / elapsed > self.yield_above and bounded:
            return Pace.YIELD
        return Pace.PACED


class VoteLogWriter(StreamWorker):
    def __init__(
        self,
        counter: VoteCounter,
        votes: VoteLog,
        *,
        consumer: str,
        pacer: Pacer | None = None,
        **reading: Unpack[Reading],
    ) -> None:
        """``pacer``: how fast to go under load (none: one batch every ``interval``).
        ``reading``: 500 entries a batch unless told otherwise."""
        super().__init__(
            counter.redis,
            counter.log_stream,
            GROUP,
            consumer=consumer,
            handle=self.write,
            what="a vote-log entry",
            unavailable=UNAVAILABLE,
            **(Reading(batch=500) | reading),
        )
        self.votes = votes
        self.counter = counter
        self.pacer = pacer
        self._read = 0

    async def step(self, *, block_ms: int | None = None) -> int:
        self._read = await super().step(block_ms=block_ms)
        return self._read

    async def _work(self) -> bool:
        pace = Pace.PACED
        if self.pacer is not None:
            pace = self.pacer.decide(await self.counter.log_backlog())
            if pace is Pace.YIELD:
                return False  # look again after ``interval``
        self._read = 0
        more = await super()._work()
        return more or (pace is Pace.FREE and self._read >= self.batch)

    async def write(self, rows: list[Row]) -> Outcome:
        """Upsert a batch into MongoDB; a batch MongoDB refuses is written again one entry at a
        time, so that only the entries at fault fail. Unreachable stores raise."""
        ready: list[tuple[bytes, dict[bytes, bytes], VoteEntry]] = []
        out = Outcome()
        for entry_id, fields in rows:
            try:
                ready.append((entry_id, fields, VoteEntry.of(fields)))
            except Exception as exc:  # the entry itself is damaged
                out.failed.append(FailedEntry(entry_id, fields, exc))
        try:
            await self.votes.write([entry for _, _, entry in ready])
            out.done += [entry_id for entry_id, _, _ in ready]
        except Exception as exc:  # the batch refused: find the entries at fault
            if _unavailable(exc):
                raise
            for entry_id, fields, entry in ready:
                try:
                    await self.votes.write([entry])
                except Exception as one:
                    if _unavailable(one):
                        raise
                    out.failed.append(FailedEntry(entry_id, fields, one))
                    continue
                out.done.append(entry_id)
        VOTES_LOGGED.inc(len(out.done))
        return out


def _unavailable(exc: BaseException) -> bool:
    """Redis or MongoDB unreachable or too slow: no entry's fault."""
    return isinstance(exc, UNAVAILABLE) or (
        isinstance(exc, MONGO_ERRORS) and bool(getattr(exc, "timeout", False))
    )
