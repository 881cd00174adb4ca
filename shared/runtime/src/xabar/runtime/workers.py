"""Background loops: one ``Worker`` runs one step at a time, pauses between steps, backs off
after a failure, and stops by being asked.

    worker = Worker("poll-scheduler", scheduler.step, interval=1.0)
    worker.start()          # in the lifespan, once the loop runs
    worker.wake()           # run the next step now (work was just queued)
    await worker.stop()     # the step in progress finishes first

``step`` returns True when there is more to do at once (the next step runs without a pause),
anything else to wait ``interval`` seconds (or until ``wake``). A step that raises is logged and
retried after a pause that doubles from ``min_backoff`` to ``max_backoff``; an error in
``unavailable`` (a store that does not answer: no one's bug) is logged as a warning without a
traceback, once per run of failures, and its recovery is logged too.

Stopping sets a flag that the pauses wait on, and lets the step in progress finish: cancelling
a PyMongo call midway leaks its socket, and on Python 3.11 a cancellation that lands while a
driver's ``wait_for`` completes can be lost (CPython gh-86296), so a loop that was "cancelled"
runs on. Only past ``grace_s`` is the task cancelled, again until it ends. A long step (one that
listens, say) looks at ``stopping`` or waits with ``pause``.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import KW_ONLY, dataclass, field

from xabar.runtime.errors import UNAVAILABLE

log = logging.getLogger("xabar.workers")

Step = Callable[[], Awaitable[bool | None]]


@dataclass(eq=False)
class Worker:
    name: str
    step: Step
    _: KW_ONLY
    interval: float
    unavailable: tuple[type[BaseException], ...] = UNAVAILABLE
    min_backoff: float = 0.2
    max_backoff: float = 5.0
    grace_s: float = 10.0
    failures: int = field(default=0, init=False)  # steps failed in a row
    _stopping: asyncio.Event = field(default_factory=asyncio.Event, init=False, repr=False)
    _woken: asyncio.Event = field(default_factory=asyncio.Event, init=False, repr=False)
    _task: asyncio.Task[None] | None = field(default=None, init=False, repr=False)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def start(self) -> None:
        if self.running:
            return
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name=self.name)

    def wake(self) -> None:
        """Run the next step now instead of after the pause."""
        self._woken.set()

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping.set()
        done, _ = await asyncio.wait([task], timeout=self.grace_s)
        if not done:
            log.warning("worker did not stop in time; cancelling", extra={"worker": self.name})
        await cancel_and_wait([task])

    async def pause(self, seconds: float) -> bool:
        """Wait ``seconds``, or less if stopped or woken; True when stopping."""
        if not self._woken.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wait_woken_or_stopping(), timeout=seconds)
        self._woken.clear()
        return self.stopping

    async def _wait_woken_or_stopping(self) -> None:
        woken = asyncio.ensure_future(self._woken.wait())
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({woken, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            woken.cancel()
            stopping.cancel()

    async def _run(self) -> None:
        backoff = self.min_backoff
        while not self.stopping:
            try:
                more = await self.step()
            except Exception as exc:
                self._failed(exc)
                if await self.pause(backoff):
                    return
                backoff = min(backoff * 2, self.max_backoff)
                continue
            if self.failures:
                log.info("background step works again", extra={"worker": self.name})
                self.failures = 0
            backoff = self.min_backoff
            if more is not True and await self.pause(self.interval):
                return

    def _failed(self, exc: Exception) -> None:
        self.failures += 1
        if isinstance(exc, self.unavailable):
            if self.failures == 1:
                log.warning(
                    "a store does not answer; will retry",
                    extra={"worker": self.name, "error": f"{type(exc).__name__}: {exc}"},
                )
        else:
            log.exception("background step failed; will retry", extra={"worker": self.name})


async def cancel_and_wait(tasks: list[asyncio.Task[None]], retry_s: float = 1.0) -> None:
    """Cancel ``tasks`` and wait for them, cancelling again those that swallowed it (see the
    module's docstring); a task that had failed is logged."""
    for task in tasks:
        task.cancel()
    while pending := [t for t in tasks if not t.done()]:
        await asyncio.wait(pending, timeout=retry_s)
        for task in pending:
            if not task.done():
                task.cancel()
    for task in tasks:
        if not task.cancelled() and task.exception() is not None:
            log.error("a background task had failed", exc_info=task.exception())


__all__ = ["UNAVAILABLE", "Step", "Worker", "cancel_and_wait"]
