"""The runtime's StreamWorker against a real redis-server: done entries leave, failed ones stay
and end in the dead letters, a crashed consumer's entries are claimed, a lost group is remade."""

import asyncio

import redis.asyncio as aioredis

from tests.support.waiting import eventually
from xabar.runtime.bus import list_dead_letters
from xabar.runtime.streams import FailedEntry, Outcome, Row, StreamWorker

STREAM, GROUP = "t:work", "writer"


class Sink:
    """Stores what entries say; an entry whose ``v`` is ``bad`` fails; ``down`` fails all."""

    def __init__(self) -> None:
        self.stored: list[str] = []
        self.down = False

    async def handle(self, rows: list[Row]) -> Outcome:
        if self.down:
            raise ConnectionError("the store does not answer")
        out = Outcome()
        for entry_id, fields in rows:
            if fields[b"v"] == b"bad":
                out.failed.append(FailedEntry(entry_id, fields, ValueError("damaged")))
            else:
                self.stored.append(fields[b"v"].decode())
                out.done.append(entry_id)
        return out


def worker(
    redis: aioredis.Redis,
    sink: Sink,
    consumer: str = "c1",
    *,
    interval: float = 0.0,
    block_ms: int = 200,
    claim_idle_ms: int = 30_000,
) -> StreamWorker:
    return StreamWorker(
        redis,
        STREAM,
        GROUP,
        consumer=consumer,
        handle=sink.handle,
        batch=10,
        max_deliveries=3,
        interval=interval,
        block_ms=block_ms,
        claim_idle_ms=claim_idle_ms,
    )


async def test_done_entries_leave_the_stream_and_failed_ones_go_to_the_dead_letters(
    redis: aioredis.Redis,
) -> None:
    sink = Sink()
    w = worker(redis, sink)
    await w.ensure_group()
    for v in ("a", "bad", "b"):
        await redis.xadd(STREAM, {"v": v})
    assert await w.step() == 3
    assert sink.stored == ["a", "b"]
    assert await redis.xlen(STREAM) == 1  # the failed one, pending
    await redis.xadd(STREAM, {"v": "c"})
    assert await w.step() == 1  # its own pending entry first, alone
    assert sink.stored == ["a", "b"]
    assert await w.step() == 1  # third delivery: dead-lettered
    [letter] = await list_dead_letters(redis, STREAM)
    assert (letter.group, letter.deliveries, letter.payload) == (GROUP, 3, {b"v": b"bad"})
    assert "damaged" in letter.error
    assert await w.step() == 1 and sink.stored == ["a", "b", "c"]
    assert await redis.xlen(STREAM) == 0
    assert (await redis.xpending(STREAM, GROUP))["pending"] == 0


async def test_a_store_that_does_not_answer_leaves_every_entry_pending(
    redis: aioredis.Redis,
) -> None:
    sink = Sink()
    w = worker(redis, sink, interval=0.01)
    await w.ensure_group()
    for v in ("a", "b"):
        await redis.xadd(STREAM, {"v": v})
    sink.down = True
    await w.start()
    try:
        await eventually(lambda: w.worker.failures >= 2)
        assert (await redis.xpending(STREAM, GROUP))["pending"] == 2
        sink.down = False
        await eventually(lambda: sink.stored == ["a", "b"])
        await eventually(lambda: _pending_is(redis, 0))
    finally:
        await w.stop()
    assert await list_dead_letters(redis, STREAM) == []


async def test_a_deleted_pending_entry_is_only_acknowledged(redis: aioredis.Redis) -> None:
    sink = Sink()
    w = worker(redis, sink)
    await w.ensure_group()
    entry = await redis.xadd(STREAM, {"v": "bad"})
    await w.step()
    await redis.xdel(STREAM, entry)  # an operator removed it meanwhile
    assert await w.step() == 1
    assert (await redis.xpending(STREAM, GROUP))["pending"] == 0


async def test_entries_a_crashed_consumer_left_pending_are_claimed_once(
    redis: aioredis.Redis,
) -> None:
    crashed = Sink()
    crashed.down = True
    first = worker(redis, crashed, consumer="crashed")
    await first.ensure_group()
    for v in ("a", "b", "c"):
        await redis.xadd(STREAM, {"v": v})
    await redis.xreadgroup(GROUP, "crashed", {STREAM: ">"}, count=10)  # read, never settled
    survivor = Sink()
    second = worker(redis, survivor, consumer="survivor", claim_idle_ms=50, interval=0.01)
    await asyncio.sleep(0.1)
    await second.start()
    try:
        await eventually(lambda: sorted(survivor.stored) == ["a", "b", "c"])
        await eventually(lambda: _pending_is(redis, 0))
    finally:
        await second.stop()
    assert survivor.stored.count("a") == 1


async def test_a_stream_redis_lost_under_a_running_worker_is_made_again(
    redis: aioredis.Redis,
) -> None:
    sink = Sink()
    w = worker(redis, sink, interval=0.01, block_ms=20)
    await w.start()
    try:
        await redis.xadd(STREAM, {"v": "a"})
        await eventually(lambda: sink.stored == ["a"])
        await redis.delete(STREAM)  # the stream and its group are gone
        await asyncio.sleep(0.1)
        await redis.xadd(STREAM, {"v": "b"})
        await eventually(lambda: sink.stored == ["a", "b"])
    finally:
        await w.stop()


async def _pending_is(redis: aioredis.Redis, count: int) -> bool:
    return int((await redis.xpending(STREAM, GROUP))["pending"]) == count
