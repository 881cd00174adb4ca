"""The outbox relay of ingest: the shared ``OutboxRelay`` publishes, this module schedules it.

Publishing one document's events (one pass per document at a time, ``$pullAll`` of what was
sent) is ``OutboxRelay.relay_doc``. Two things differ from the shared relay's own loops:

- The timer does not ask MongoDB for every document with a non-empty outbox (a full scan on
  FerretDB's SQLite backend, over submissions that pile up forever). It reads the small
  ``outbox_pending`` collection (see ``repository``) and relays those documents by ``_id``.
- Stopping is graceful: the loops finish the database call they are in, then end. Cancelling a
  PyMongo async operation midway leaves its socket unclosed, and on Python 3.11 a cancellation
  that lands while a driver call inside ``asyncio.wait_for`` completes can be lost (CPython
  gh-86296), so that a loop that was "cancelled" runs on and a plain cancel-and-await never ends.
"""

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from xabar.runtime.outbox import OUTBOX_FIELD, OutboxRelay, Publish

log = logging.getLogger("xabar.ingest.relay")


class SubmissionRelay:
    def __init__(
        self,
        submissions: AsyncCollection[dict[str, Any]],
        pending: AsyncCollection[dict[str, Any]],
        publish: Publish,
        *,
        sweep_interval: float = 5.0,
        workers: int = 4,
        orphan_after: timedelta = timedelta(minutes=2),
        stop_timeout: float = 10.0,
        settle: timedelta | None = None,
    ) -> None:
        self.outbox = OutboxRelay(submissions, publish, sweep_interval=sweep_interval)
        self.submissions = submissions
        self.pending = pending
        self.sweep_interval = sweep_interval
        self.workers = workers
        self.orphan_after = orphan_after
        self.stop_timeout = stop_timeout
        # after the first pass, a marker is swept only once it is older than this: a fresh one is
        # being published by a kick (sweeping it too would only read the same document twice)
        self.settle = settle or timedelta(seconds=max(2.0, 2 * sweep_interval))
        self._kicks: asyncio.Queue[Any] = asyncio.Queue()
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._stopping.clear()
        self._tasks = [asyncio.create_task(self._sweep_loop(), name="ingest-outbox-sweep")]
        self._tasks += [
            asyncio.create_task(self._kick_loop(), name=f"ingest-outbox-kick-{n}")
            for n in range(self.workers)
        ]

    async def stop(self) -> None:
        """Let the loops finish what they are doing; cancel (again, until done) past the
        timeout."""
        self._stopping.set()
        tasks, self._tasks = self._tasks, []
        if not tasks:
            return
        await asyncio.wait(tasks, timeout=self.stop_timeout)
        while any(not task.done() for task in tasks):
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks, timeout=0.5)

    def kick(self, doc_id: Any) -> None:
        """Publish the pending events of one document now (in the background)."""
        self._kicks.put_nowait(doc_id)

    async def relay_doc(self, doc_id: Any) -> int:
        sent = await self.outbox.relay_doc(doc_id)
        if sent:
            await self.pending.delete_one({"_id": doc_id})
        return sent

    async def sweep(self, settle: timedelta = timedelta(0)) -> int:
        """Relay every document with a pending marker older than ``settle`` (younger ones are
        the kicks' business); returns how many events were sent."""
        markers = await self.pending.find({}).to_list(None)
        sent = 0
        now = datetime.now(UTC)
        for marker in markers:
            if now - marker["created_at"] < settle:
                continue
            doc_id = marker["_id"]
            count = await self.relay_doc(doc_id)
            sent += count
            if count:
                continue
            doc = await self.submissions.find_one({"_id": doc_id}, {OUTBOX_FIELD: 1})
            if doc is not None and not doc.get(OUTBOX_FIELD):
                await self.pending.delete_one({"_id": doc_id})  # published, marker left over
            elif doc is None and now - marker["created_at"] > self.orphan_after:
                log.warning(
                    "dropping the outbox marker of a submission never stored",
                    extra={"submission_id": doc_id},
                )
                await self.pending.delete_one({"_id": doc_id})
        if sent:
            log.info("outbox sweep published events", extra={"sent": sent})
        return sent

    async def _sweep_loop(self) -> None:
        settle = timedelta(0)  # at start, everything a previous process left
        while not self._stopping.is_set():
            try:
                await self.sweep(settle)
                settle = self.settle
            except Exception:
                log.exception("outbox sweep failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.sweep_interval)

    async def _kick_loop(self) -> None:
        while not self._stopping.is_set():
            get = asyncio.ensure_future(self._kicks.get())
            stop = asyncio.ensure_future(self._stopping.wait())
            await asyncio.wait({get, stop}, return_when=asyncio.FIRST_COMPLETED)
            stop.cancel()
            if not get.done():
                get.cancel()
                break
            try:
                await self.relay_doc(get.result())
            except Exception:
                log.exception("outbox relay of one document failed; the sweep will retry")
