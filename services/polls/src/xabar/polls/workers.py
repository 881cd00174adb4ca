"""Background loops that stop by being asked, not by being cancelled mid-I/O.

PyMongo's async client and FastStream's publish can swallow a ``CancelledError`` that lands
during a network call, so a loop cancelled there may never end. These loops check a stop flag
between steps and only ever wait on that flag; cancelling is the last resort after a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from xabar.polls.errors import UNAVAILABLE

log = logging.getLogger("xabar.polls.workers")


class Worker:
    """Runs ``step`` again and again: right away when it returns True (more to do), after
    ``interval`` seconds otherwise, and with a growing pause after a failure."""

    def __init__(self, name: str, step: Callable[[], Awaitable[bool]], *, interval: float) -> None:
        self.name = name
        self.step = step
        self.interval = interval
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self, grace_s: float = 10.0) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping.set()
        done, _ = await asyncio.wait([task], timeout=grace_s)
        if not done:
            log.warning("worker did not stop in time; cancelling", extra={"worker": self.name})
            task.cancel()
            await asyncio.wait([task], timeout=2.0)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    async def _run(self) -> None:
        backoff = 0.2
        while not self._stopping.is_set():
            try:
                more = await self.step()
                backoff = 0.2
            except UNAVAILABLE as exc:
                log.warning(
                    "Redis or MongoDB unavailable; will retry",
                    extra={"worker": self.name, "error": repr(exc)},
                )
                await self._pause(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            except Exception:
                log.exception("background step failed; will retry", extra={"worker": self.name})
                await self._pause(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            if not more:
                await self._pause(self.interval)


class OutboxPump:
    """Relays outbox events from stoppable loops: a kicked poll's events go out within
    ``kick_interval``, everything pending at least every ``sweep_interval`` (and on start).
    ``relay_one`` and ``sweep`` wrap the runtime's ``OutboxRelay`` (see ``PollService``); its own
    ``start()`` loops are not used: they stop by cancellation, which a publish or a MongoDB call
    in flight can swallow, and they would write a poll's document without its lock."""

    def __init__(
        self,
        relay_one: Callable[[str], Awaitable[int]],
        sweep: Callable[[], Awaitable[int]],
        *,
        sweep_interval: float,
        kick_interval: float = 0.02,
    ) -> None:
        self.relay_one = relay_one
        self.sweep = sweep
        self._kicks: set[str] = set()
        self._sweeper = Worker("outbox-sweep", self._sweep, interval=sweep_interval)
        self._kicker = Worker("outbox-kick", self._relay_kicked, interval=kick_interval)

    def kick(self, doc_id: str) -> None:
        self._kicks.add(doc_id)

    def start(self) -> None:
        self._sweeper.start()
        self._kicker.start()

    async def stop(self) -> None:
        await self._kicker.stop()
        await self._sweeper.stop()

    async def _sweep(self) -> bool:
        await self.sweep()
        return False

    async def _relay_kicked(self) -> bool:
        if not self._kicks:
            return False
        doc_id = self._kicks.pop()
        try:
            await self.relay_one(doc_id)
        except Exception:
            self._kicks.add(doc_id)
            raise
        return True
