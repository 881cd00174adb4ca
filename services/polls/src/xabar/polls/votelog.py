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
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from xabar.polls.counter import VoteEntry
from xabar.polls.metrics import VOTES_LOGGED
from xabar.polls.repository import VoteLog
from xabar.polls.workers import Worker

log = logging.getLogger("xabar.polls.votelog")

GROUP = "votelog"


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
    ) -> None:
        self.redis = redis
        self._r: Any = redis  # redis-py's reply types are unions; we know the shapes
        self.stream = stream
        self.votes = votes
        self.consumer = consumer
        self.batch = batch
        self.claim_idle_ms = claim_idle_ms
        self.block_ms = block_ms
        self._last_claim = 0.0
        self._worker = Worker("votelog-writer", self._work, interval=interval)

    async def ensure_group(self) -> None:
        with contextlib.suppress(ResponseError):  # BUSYGROUP: it exists
            await self.redis.xgroup_create(self.stream, GROUP, id="0", mkstream=True)

    async def start(self) -> None:
        await self.ensure_group()
        self._worker.start()

    async def stop(self) -> None:
        await self._worker.stop()

    async def step(self, *, block_ms: int | None = None) -> int:
        """Write one batch: this consumer's pending entries first, else new ones."""
        rows = await self._read("0", None)
        if not rows:
            rows = await self._read(">", block_ms)
        if not rows:
            return 0
        ids = [entry_id for entry_id, _ in rows]
        entries = [VoteEntry.of(fields) for _, fields in rows if fields]
        await self.votes.write(entries)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xack(self.stream, GROUP, *ids)
            pipe.xdel(self.stream, *ids)
            await pipe.execute()
        VOTES_LOGGED.inc(len(entries))
        return len(ids)

    async def claim_stale(self) -> int:
        """Take over entries another consumer left pending for longer than ``claim_idle_ms``."""
        claimed, start = 0, "0-0"
        while True:
            reply = await self._r.xautoclaim(
                self.stream, GROUP, self.consumer, self.claim_idle_ms, start, count=self.batch
            )
            start, ids = _s(reply[0]), reply[1]
            claimed += len(ids)
            if start == "0-0" or not ids:
                return claimed

    async def drain(self) -> int:
        """Write everything this consumer can read now (CLI and tests)."""
        await self.ensure_group()
        written = 0
        while n := await self.step():
            written += n
        return written

    async def _read(self, entry_id: str, block_ms: int | None) -> list[tuple[bytes, Any]]:
        reply = await self._r.xreadgroup(
            GROUP, self.consumer, {self.stream: entry_id}, count=self.batch, block=block_ms
        )
        if not reply:
            return []
        return list(reply[0][1])

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


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
