"""Load generation helpers: wrk runs and parsing, synthetic article events, process memory."""

import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from faststream.redis.parser import BinaryMessageFormatV1

from xabar.contracts import ARTICLES_STREAM, ArticlePublished


@dataclass
class WrkResult:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx_3xx: int
    errors: int

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
) -> WrkResult:
    """One wrk run (1 thread: the other core is the server's)."""
    binary = shutil.which("wrk")
    if binary is None:
        raise RuntimeError("wrk is not installed (Debian: apt-get install wrk)")
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
            [binary, "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script, url],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        Path(script).unlink(missing_ok=True)
    return parse_wrk(name, out)


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


async def publish_synthetic_articles(redis_url: str, count: int, batch: int = 2000) -> None:
    """``count`` article.published events, as the publisher would emit them, straight onto the
    stream in pipelines (the feed's load for deep paging; the publisher is not under test)."""
    redis = aioredis.from_url(redis_url)
    start = datetime(2020, 1, 1, tzinfo=UTC)
    try:
        for offset in range(0, count, batch):
            async with redis.pipeline(transaction=False) as pipe:
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
                    raw = await BinaryMessageFormatV1.encode(  # as EventBus.publish writes it
                        message=event.model_dump_json().encode(),
                        reply_to=None,
                        headers=None,
                        correlation_id=event.correlation_id,
                    )
                    pipe.xadd(ARTICLES_STREAM, {"__data__": raw}, maxlen=1_000_000)
                await pipe.execute()
    finally:
        await redis.aclose()
