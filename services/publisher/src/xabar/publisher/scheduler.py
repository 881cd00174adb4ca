"""The publication scheduler: embargoed articles go out when their time comes, even if that time
passed while the service was down.

At start it rebuilds the small ``schedule`` index from the articles themselves (one scan) and
publishes whatever is due; then every ``interval`` seconds it publishes what became due. The
truth is the article document (``status: scheduled``, ``publish_at``); each publication is a
conditional update on status and version (see ``ArticleService.publish_due``), so any number of
replicas may run this loop and each article is published once. It also finishes news-of-the-day
changes a crash left half-done.
"""

import logging

from prometheus_client import Counter

from xabar.publisher.articles import ArticleService
from xabar.runtime.workers import Worker

log = logging.getLogger("xabar.publisher.scheduler")

SCHEDULED_PUBLISHED = Counter(
    "xabar_publisher_scheduled_published_total", "Scheduled articles published by this process"
)
RECONCILE_EVERY = 10  # ticks


class Scheduler:
    def __init__(self, articles: ArticleService, interval_s: float) -> None:
        self.articles = articles
        self.interval_s = interval_s
        self._rebuilt = False
        self._ticks = 0
        self._worker = Worker("publisher-scheduler", self._step, interval=interval_s)

    async def start(self) -> None:
        self._worker.start()

    async def stop(self) -> None:
        await self._worker.stop()

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

    async def _step(self) -> None:
        n, self._ticks = self._ticks, self._ticks + 1
        await self.tick(n)
