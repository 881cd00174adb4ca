"""Bounded memory for work whose size is known before it starts: a weighted, first-come
first-served semaphore.

``MemoryGate(budget, slots, wait_s)``: a holder states what it will take (``hold(cost)``, bytes)
and waits until that fits in what the others hold, and a slot is free; a cost over the whole
budget waits until it runs alone. Waiting longer than ``wait_s`` raises ``Overloaded`` (answered
503: nothing was stored, send it again). ``run(cost, fn)`` runs ``fn`` in the gate's own worker
threads (``slots`` of them: few threads, few malloc arenas holding freed memory), and a caller
cancelled meanwhile keeps the cost held until the thread ends, since the memory is in use until
then.

Ingest holds two: the request bodies that may carry photos (their declared size, before they are
read) and the photo decodes (their estimate from the header, ``photos.probe_photo``).
"""

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import TypeVar

from xabar.ingest.errors import Overloaded

T = TypeVar("T")


class MemoryGate:
    def __init__(self, budget: int, slots: int, wait_s: float, *, what: str = "requests") -> None:
        self.budget, self.slots, self.wait_s, self.what = budget, slots, wait_s, what
        self.used = 0
        self.running = 0
        self._waiting: deque[tuple[int, asyncio.Future[None]]] = deque()
        self._threads: ThreadPoolExecutor | None = None

    def _fits(self, cost: int) -> bool:
        return self.running < self.slots and self.used + cost <= self.budget

    def _take(self, cost: int) -> None:
        self.used += cost
        self.running += 1

    def _release(self, cost: int) -> None:
        self.used -= cost
        self.running -= 1
        self._wake()

    def _wake(self) -> None:
        while self._waiting and self._fits(self._waiting[0][0]):
            cost, turn = self._waiting.popleft()
            if not turn.done():
                self._take(cost)
                turn.set_result(None)

    @asynccontextmanager
    async def hold(self, cost: int) -> AsyncIterator[None]:
        cost = max(0, min(cost, self.budget))
        if not self._waiting and self._fits(cost):
            self._take(cost)
        else:
            await self._wait(cost)
        try:
            yield
        finally:
            self._release(cost)

    async def _wait(self, cost: int) -> None:
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (cost, turn)
        self._waiting.append(entry)
        try:
            await asyncio.wait_for(asyncio.shield(turn), self.wait_s)
        except BaseException as exc:
            if turn.done() and not turn.cancelled():  # its turn came as it gave up
                self._release(cost)
            else:
                turn.cancel()
                if entry in self._waiting:
                    self._waiting.remove(entry)
                self._wake()
            if isinstance(exc, TimeoutError):
                raise Overloaded(f"too many {self.what} in progress; send it again") from None
            raise

    async def run(self, cost: int, fn: Callable[[], T]) -> T:
        """``fn()`` in one of the gate's threads once ``cost`` fits."""
        if self._threads is None:
            self._threads = ThreadPoolExecutor(self.slots, thread_name_prefix="ingest-gate")
        async with self.hold(cost):
            work = asyncio.get_running_loop().run_in_executor(self._threads, fn)
            try:
                return await asyncio.shield(work)
            except asyncio.CancelledError:
                await asyncio.wait([work])
                raise

    def close(self) -> None:
        if self._threads is not None:
            self._threads.shutdown(wait=True)
            self._threads = None
