"""The site as several worker processes on one port: each answers, each follows the shared
revision at once, and one that dies is started again while the others serve."""

import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from xabar.devstack.loadgen import children
from xabar.devstack.stack import port_is_free

from tests.feed.conftest import feed_process
from tests.feed.factory import article_state, published
from tests.support.procs import ServiceProcess
from tests.support.waiting import eventually
from xabar.feed.workers import METRICS_STEP
from xabar.runtime.bus import EventBus
from xabar.runtime.localinfra import free_port

WORKERS = 2


def metrics_ports(count: int) -> int:
    """A port such that the metrics ports of ``count`` workers from it are free."""
    while True:
        first = free_port()
        if first + METRICS_STEP * count < 65536 and all(
            port_is_free(first + METRICS_STEP * n) for n in range(1, count)
        ):
            return first


@pytest.fixture
async def site(redis_url: str, tmp_path: Path) -> AsyncIterator[ServiceProcess]:
    # worker N's metrics: XABAR_FEED_METRICS_PORT + 100 N
    metrics = str(metrics_ports(WORKERS))
    async with feed_process(
        redis_url, tmp_path, "feed-workers", WORKERS, XABAR_FEED_METRICS_PORT=metrics
    ) as proc:
        yield proc


async def test_every_worker_serves_the_newest_page_and_a_dead_one_comes_back(
    site: ServiceProcess, publisher: EventBus
) -> None:
    assert site.proc is not None
    workers = children(site.proc.pid)
    assert len(workers) == WORKERS

    async def every_answer_shows(title: str) -> bool:
        # fresh connections: the kernel spreads them over the workers (SO_REUSEPORT)
        for _ in range(16):
            async with httpx.AsyncClient(base_url=site.url) as client:
                if title not in (await client.get("/")).text:
                    return False
        return True

    first = article_state(title="Первая новость для всех процессов")
    await publisher.publish(published(first))
    await eventually(lambda: every_answer_shows(first.title), what="the first article")

    os.kill(workers[-1], signal.SIGKILL)

    async def replaced() -> bool:
        now = children(site.proc.pid)  # type: ignore[union-attr]
        return len(now) == WORKERS and workers[-1] not in now

    await eventually(replaced, timeout=20, what="the killed worker started again")
    second = article_state(title="Вторая новость после перезапуска")
    await publisher.publish(published(second))
    await eventually(lambda: every_answer_shows(second.title), what="the second article")


async def test_a_supervisor_killed_takes_its_workers_with_it(site: ServiceProcess) -> None:
    assert site.proc is not None
    workers = children(site.proc.pid)
    assert len(workers) == WORKERS
    site.kill9()

    def alive(pid: int) -> bool:  # a zombie (not reaped yet by its new parent) is dead
        try:
            return (Path(f"/proc/{pid}") / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False

    async def all_gone() -> bool:
        return not any(alive(pid) for pid in workers)

    await eventually(all_gone, timeout=10, what="the workers gone with their supervisor")
