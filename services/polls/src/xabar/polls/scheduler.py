"""Opens and closes polls when their time comes, and keeps the Redis mirror honest.

Every ``interval`` it advances the polls whose next open/close time (``P:due``) has passed. Every
``resync_interval`` (and once on start, before serving) it checks every poll's Redis mirror
against MongoDB, rebuilding counters Redis lost from the vote log. A poll whose time passed while
the service was down is opened or closed by the first step after start.
"""

from __future__ import annotations

import logging
import time

from xabar.polls.domain import epoch_ms
from xabar.polls.service import PollService
from xabar.runtime.workers import Worker

log = logging.getLogger("xabar.polls.scheduler")


class Scheduler:
    def __init__(
        self, service: PollService, *, interval: float = 1.0, resync_interval: float = 60.0
    ) -> None:
        self.service = service
        self.interval = interval
        self.resync_interval = resync_interval
        self._last_resync = time.monotonic()
        self._worker = Worker("poll-scheduler", self._work, interval=interval)

    async def start(self) -> None:
        self._last_resync = time.monotonic()
        self._worker.start()

    async def stop(self) -> None:
        await self._worker.stop()

    async def step(self) -> int:
        """Advance every due poll; returns how many were looked at."""
        due = await self.service.counter.due(epoch_ms(self.service.clock()))
        for poll_id in due:
            try:
                await self.service.advance(poll_id)
            except Exception:  # the others still get their turn; this one is retried next step
                log.exception("opening or closing a poll failed", extra={"poll_id": poll_id})
        return len(due)

    async def _work(self) -> bool:
        await self.step()
        if time.monotonic() - self._last_resync >= self.resync_interval:
            self._last_resync = time.monotonic()
            await self.service.resync_all()
        return False
