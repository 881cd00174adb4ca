"""The erasure of reporters' sealed contacts a retention period after their tip is closed, run
every ``XABAR_INGEST_ERASE_INTERVAL_S`` (and once at start) by every replica: an erasure is
idempotent, so replicas need not agree on who runs it.

(The loop has the shape of the runtime's coming ``Worker``: start, a step at a time, stop by
being asked, the step in progress finishing first; it becomes one when that lands on main.)
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("xabar.ingest.retention")


class Eraser:
    def __init__(self, erase: Callable[[], Awaitable[int]], interval_s: float) -> None:
        self.erase = erase
        self.interval_s = interval_s
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name="ingest-contact-erasure")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping.set()
        done, _ = await asyncio.wait([task], timeout=10)
        while not done:
            task.cancel()
            done, _ = await asyncio.wait([task], timeout=1)

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.erase()
            except Exception:  # a store not answering, say: the next round tries again
                log.warning("erasing expired contacts failed; will retry", exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval_s)
