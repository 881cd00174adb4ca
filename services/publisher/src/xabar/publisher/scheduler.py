"""The publication scheduler: embargoed articles go out when their time comes, even if that time
passed while the service was down.

At start it rebuilds the small ``schedule`` index from the articles themselves (one scan) and
publishes whatever is due; then every ``interval`` seconds it publishes what became due. The
truth is the article document (``status: scheduled``, ``publish_at``); each publication is a
conditional update on status and version (see ``ArticleService.publish_due``), so any number of
replicas may run this loop and each article is published once. It also finishes news-of-the-day
changes a crash left half-done.
"""

import asyncio
import logging

from prometheus_client import Counter

from xabar.publisher.articles import ArticleService

log = logging.getLogger("xabar.publisher.scheduler")

SCHEDULED_PUBLISHED = Counter(
    "xabar_publisher_scheduled_published_total", "Scheduled articles published by this process"
)
RECONCILE_EVERY = 10  # ticks


async def stop_tasks(tasks: list[asyncio.Task[None]], retry_s: float = 0.5) -> None:
    """Cancel ``tasks`` and wait for them, cancelling again those that swallowed it.

    A cancellation can be lost inside PyMongo on Python 3.11 (its ``wait_for`` on a pool
    condition returns the result when the cancel lands as the condition is notified), and a loop
    that survives it would keep a shutdown waiting forever."""
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


class Scheduler:
    def __init__(self, articles: ArticleService, interval_s: float) -> None:
        self.articles = articles
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None
        self._rebuilt = False

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="publisher-scheduler")

    async def stop(self) -> None:
        if self._task is not None:
            task, self._task = self._task, None
            await stop_tasks([task])

    async def tick(self, n: int = 0) -> list[str]:
        if not self._rebuilt:
            await self.articles.rebuild_schedule()
            self._rebuilt = True
        published = await self.articles.publish_due()
        if published:
            SCHEDULED_PUBLISHED.inc(len(published))
            log.info("scheduled articles published", extra={"articles": published})
        if n % RECONCILE_EVERY == 0:
            await self.articles.reconcile_featured()
        return published

    async def _loop(self) -> None:
        n = 0
        while True:
            try:
                await self.tick(n)
            except Exception:
                log.exception("scheduler tick failed; retrying")
            n += 1
            await asyncio.sleep(self.interval_s)
