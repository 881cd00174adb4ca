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

The reading, settling and claiming are the runtime's ``StreamWorker``; ``write`` is what a batch
does here.
"""

from __future__ import annotations

from pymongo.errors import ExecutionTimeout, PyMongoError, WTimeoutError
from redis.asyncio import Redis

from xabar.polls.counter import VoteEntry
from xabar.polls.errors import UNAVAILABLE
from xabar.polls.metrics import VOTES_LOGGED
from xabar.polls.repository import VoteLog
from xabar.runtime.streams import FailedEntry, Outcome, Row, StreamWorker

GROUP = "votelog"


class VoteLogWriter(StreamWorker):
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
        super().__init__(
            redis,
            stream,
            GROUP,
            consumer=consumer,
            handle=self.write,
            batch=batch,
            interval=interval,
            block_ms=block_ms,
            claim_idle_ms=claim_idle_ms,
            max_deliveries=max_deliveries,
            what="a vote-log entry",
            unavailable=(*UNAVAILABLE, ExecutionTimeout, WTimeoutError),
        )
        self.votes = votes

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
    return isinstance(exc, (*UNAVAILABLE, ExecutionTimeout, WTimeoutError)) or (
        isinstance(exc, PyMongoError) and bool(getattr(exc, "timeout", False))
    )
