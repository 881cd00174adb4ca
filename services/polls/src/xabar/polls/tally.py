"""``poll.tallied``: coalesced snapshots of a poll's counts for the feed.

The counting script adds the poll to the dirty set with each vote. Every ``interval`` this loop
pops the dirty polls and publishes one snapshot each, so a poll gets at most one snapshot per
interval and always one after its last vote. ``version`` is the poll's counted-vote sequence, so
the feed keeps the newest and ignores late older ones.

Snapshots are published straight to the bus, not through the outbox: they are derived from the
counters and each one supersedes the last, so a lost one is repaired by the next (and on start
every open poll is marked dirty, which covers a crash between pop and publish). The outbox would
add a MongoDB write per snapshot and buy nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from xabar.contracts import Event, PollTallied, PollTally
from xabar.polls.counter import VoteCounter
from xabar.polls.domain import utc_now
from xabar.polls.metrics import TALLIES
from xabar.polls.service import PRODUCER, PollService
from xabar.runtime.workers import Worker

log = logging.getLogger("xabar.polls.tally")


class Tallier:
    def __init__(
        self,
        service: PollService,
        publish: Callable[[Event], Awaitable[Any]],
        *,
        interval: float = 1.0,
    ) -> None:
        self.service = service
        self.counter: VoteCounter = service.counter
        self.publish = publish
        self.interval = interval
        self._worker = Worker("tallier", self._work, interval=interval)

    async def start(self) -> None:
        self._worker.start()

    async def stop(self) -> None:
        await self._worker.stop()

    async def tick(self) -> int:
        """One snapshot for each dirty poll; returns how many were published. A poll whose
        snapshot failed is marked dirty again for the next tick, and so is one that a vote made
        dirty again while this tick ran (at most one snapshot a poll a tick: under a stream of
        votes the set never empties, so popping until it is empty would publish without end)."""
        sent = 0
        again: list[str] = []
        done: set[str] = set()
        while poll_ids := await self.counter.pop_dirty(100):
            fresh = [p for p in poll_ids if p not in done]
            again += [p for p in poll_ids if p in done]
            for poll_id in fresh:
                done.add(poll_id)
                try:
                    if await self.publish_one(poll_id) is not None:
                        sent += 1
                except Exception:
                    log.exception("poll.tallied not published", extra={"poll_id": poll_id})
                    again.append(poll_id)
            if not fresh:
                break
        if again:
            await self.counter.mark_dirty(*again)
        return sent

    async def publish_one(self, poll_id: str) -> PollTallied | None:
        found = await self.counter.view(poll_id, None)
        if found is None:
            return None
        poll, counts, _ = found
        if counts.seq < 1:
            return None  # nothing counted yet: there is no snapshot to send
        rows, total = self.service.results(poll, counts)
        event: PollTallied = PollTallied.create(
            producer=PRODUCER,
            aggregate_id=poll_id,
            version=counts.seq,
            data=PollTally(
                poll_id=poll_id,
                counts={option_id: votes for option_id, _, votes, _ in rows},
                percentages={option_id: pct for option_id, _, _, pct in rows},
                total_votes=total,
                tallied_at=utc_now(),
            ),
        )
        await self.publish(event)
        await self.service.tallies.record(poll_id, counts.seq)
        TALLIES.inc()
        return event

    async def _work(self) -> bool:
        await self.tick()
        return False
