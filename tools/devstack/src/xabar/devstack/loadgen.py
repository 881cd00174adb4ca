"""Load generation helpers: wrk runs and parsing, synthetic article events, process memory."""

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from faststream.redis.parser import BinaryMessageFormatV1

from xabar.contracts import (
    ARTICLES_STREAM,
    COMMENTS_STREAM,
    ArticlePublished,
    CommentPublished,
    PublicComment,
)
from xabar.runtime.deployment import parse_redis_url


@dataclass
class WrkResult:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx_3xx: int
    errors: int
    # CPU microseconds per request spent by each process group while wrk ran (``CpuMeter``)
    cpu_us: dict[str, float] | None = None
    # seconds waited before it for the stack to go quiet, and whether it did (``CpuMeter``)
    settled_s: float = 0.0
    settled: bool = True

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not m:
        raise ValueError(f"unreadable latency {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_wrk(name: str, out: str) -> WrkResult:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return WrkResult(
        name,
        rps,
        p50,
        p99,
        requests,
        int(bad.group(1)) if bad else 0,
        sum(int(g) for g in errs.groups()) if errs else 0,
    )


def wrk(
    name: str,
    url: str,
    *,
    seconds: int = 8,
    connections: int = 32,
    method: str = "GET",
    body: str | None = None,
    headers: dict[str, str] | None = None,
    cpus: set[int] | None = None,
) -> WrkResult:
    """One wrk run (1 thread: the other core is the server's); on ``cpus`` only, when given."""
    binary = shutil.which("wrk")
    if binary is None:
        raise RuntimeError("wrk is not installed (Debian: apt-get install wrk)")
    pinned = ["taskset", "-c", ",".join(map(str, sorted(cpus)))] if cpus else []
    lua = [f'wrk.method = "{method}"']
    if body is not None:
        lua.append(f"wrk.body = {json.dumps(body, ensure_ascii=False)}")
    for key, value in (headers or {}).items():
        lua.append(f'wrk.headers["{key}"] = {json.dumps(value)}')
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False, encoding="utf-8") as f:
        f.write("\n".join(lua) + "\n")
        script = f.name
    try:
        out = subprocess.run(  # noqa: S603
            [*pinned, binary, *_wrk_args(connections, seconds, script, url)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        Path(script).unlink(missing_ok=True)
    return parse_wrk(name, out)


def _wrk_args(connections: int, seconds: int, script: str, url: str) -> list[str]:
    return ["-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script, url]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """The CPU time of named process groups (a process and its children, e.g. the feed's
    workers) over one measurement: where a request's cost goes on this machine.

    Before each measurement it waits until the groups are quiet (``settle``): together at most
    ``QUIET_CORES`` of a core over ``QUIET_WINDOW_S``, so that what an earlier measurement left
    to do in the background (movers and writers catching up, a projector, Redis rewriting its
    AOF) is not counted against the next one, and does not take its CPU."""

    QUIET_CORES = 0.15  # an idle stack of four services, Redis and FerretDB uses about 0.05
    QUIET_WINDOW_S = 1.0
    QUIET_TIMEOUT_S = 180.0

    def __init__(
        self,
        roots: dict[str, int],
        seconds: int = 8,
        *,
        settle: bool = True,
        wrk_cpus: set[int] | None = None,
    ) -> None:
        self.roots = roots
        self.seconds = seconds  # of each wrk run
        self.settle_first = settle
        self.wrk_cpus = wrk_cpus  # wrk runs on these CPUs only (None: anywhere)

    def _now(self) -> dict[str, float]:
        return {
            name: sum(cpu_seconds(p) for p in [pid, *children(pid)])
            for name, pid in self.roots.items()
        }

    def settle(self) -> tuple[float, bool]:
        """Wait until the groups are quiet; the seconds waited and whether they got quiet
        within ``QUIET_TIMEOUT_S`` (a measurement that follows anyway is marked unsettled)."""
        start = time.monotonic()
        before = self._now()
        while True:
            time.sleep(self.QUIET_WINDOW_S)
            after = self._now()
            busy = sum(after.values()) - sum(before.values())
            waited = time.monotonic() - start
            if busy <= self.QUIET_CORES * self.QUIET_WINDOW_S:
                return round(waited - self.QUIET_WINDOW_S, 1), True
            if waited >= self.QUIET_TIMEOUT_S:
                return round(waited, 1), False
            before = after

    def wrk(self, name: str, url: str, **kw: Any) -> WrkResult:
        """``wrk(name, url, **kw)`` once the groups are quiet, with the CPU each group spent
        per request."""
        settled_s, settled = self.settle() if self.settle_first and self.roots else (0.0, True)
        before = self._now()
        result = wrk(name, url, **{"seconds": self.seconds, "cpus": self.wrk_cpus, **kw})
        after = self._now()
        result.settled_s, result.settled = settled_s, settled
        if result.requests:
            result.cpu_us = {
                name: round((after[name] - before[name]) / result.requests * 1e6, 1)
                for name in self.roots
            }
        return result


def pin(pids: list[int], cpus: set[int]) -> None:
    """Every thread of ``pids`` onto ``cpus`` only (all the machine's again: ``cpus`` = all)."""
    for pid in pids:
        try:
            threads = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
        except OSError:
            continue
        for tid in threads:
            try:
                os.sched_setaffinity(tid, cpus)
            except OSError:  # the thread ended meanwhile
                continue


def split_cpus() -> tuple[set[int], set[int]] | None:
    """(wrk's CPU, the servers' CPUs): the first CPU this process may use for wrk, the others
    for what it loads; None on a single CPU."""
    mine = sorted(os.sched_getaffinity(0))
    if len(mine) < 2:
        return None
    return {mine[0]}, set(mine[1:])


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (the feed's workers under its supervisor)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return sorted(found)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _append(redis: aioredis.Redis, stream: str, events: list[Any]) -> None:
    """Events onto ``stream`` in one pipeline, as ``EventBus.publish`` writes each."""
    async with redis.pipeline(transaction=False) as pipe:
        for event in events:
            raw = await BinaryMessageFormatV1.encode(
                message=event.model_dump_json().encode(),
                reply_to=None,
                headers=None,
                correlation_id=event.correlation_id,
            )
            pipe.xadd(stream, {"__data__": raw}, maxlen=1_000_000)
        await pipe.execute()


async def publish_synthetic_comments(redis_url: str, article_id: str, count: int) -> None:
    """``count`` approved comments on one article (comment.published, as the publisher emits
    them after moderation), every fifth a reply to the one before it."""
    start = datetime(2024, 1, 1, tzinfo=UTC)
    events = [
        CommentPublished.create(
            producer="bench",
            aggregate_id=f"{article_id}-c{n}",
            version=2,
            data=PublicComment(
                comment_id=f"{article_id}-c{n}",
                article_id=article_id,
                parent_id=f"{article_id}-c{n - 1}" if n % 5 == 4 else None,
                name=f"Читатель {n}",
                text=f"Комментарий номер {n}: спасибо за новость, https://example.org/{n}",
                published_at=start + timedelta(minutes=n),
            ),
        )
        for n in range(count)
    ]
    redis = parse_redis_url(redis_url).client()  # one node, Sentinel or a cluster
    try:
        await _append(redis, COMMENTS_STREAM, events)
    finally:
        await redis.aclose()


async def publish_synthetic_articles(redis_url: str, count: int, batch: int = 2000) -> None:
    """``count`` article.published events, as the publisher would emit them, straight onto the
    stream in pipelines (the feed's load for deep paging; the publisher is not under test)."""
    redis = parse_redis_url(redis_url).client()  # one node, Sentinel or a cluster
    start = datetime(2020, 1, 1, tzinfo=UTC)
    try:
        for offset in range(0, count, batch):
            events = []
            for n in range(offset, min(count, offset + batch)):
                at = start + timedelta(minutes=n)
                article_id = f"bench-{n}"
                event = ArticlePublished.create(
                    producer="bench",
                    aggregate_id=article_id,
                    version=1,
                    data={
                        "article_id": article_id,
                        "slug": f"bench-{n}",
                        "title": f"Новость номер {n} для проверки глубоких страниц",
                        "lead": "Проверка скорости ленты новостей.",
                        "body_html": "<p>Текст новости.</p>",
                        "countries": [["KZ", "KG", "UZ", "TJ", "TM", "CN"][n % 6]],
                        "tags": [f"тема {n % 20}"],
                        "published_at": at.isoformat(),
                        "updated_at": at.isoformat(),
                    },
                )
                events.append(event)
            await _append(redis, ARTICLES_STREAM, events)  # a pipeline a batch
    finally:
        await redis.aclose()
