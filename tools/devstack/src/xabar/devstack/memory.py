"""``python -m xabar.devstack memory``: Redis bytes per stored article, on one node and on a
3-master cluster, and how they split across the cluster's masters.

Each article is stored as the platform stores it: its ``article.published`` event appended to
``xabar.articles`` by the bus (the stream keeps a window, ``STREAM_WINDOWS``), applied by the
feed's projector to its read model (the lists ``{feed}``, the documents in their buckets
``{feed.dN}``), and put in the publisher's article index (its lists on ``{idx}``, its summaries
and words in 32 buckets ``{idx.N}``). The figure is the growth of ``used_memory`` of every master
over an empty start, divided by the articles; the split by key family is ``MEMORY USAGE`` of
every key (``SAMPLES 0``: exact). Articles are generated: a title, a lead and a body of
``--body-chars`` characters of Russian words (half of them random syllables, so that the text
compresses no better than prose), one or two countries, two tags, one in twenty featured.

Extrapolation to more articles is linear (every structure here grows by one entry per article),
but for ``xabar.articles``, which the bus trims to its window (``STREAM_WINDOWS``): at 1,000,000
articles it holds the window's entries, not one per article. The report prints each master's
bytes an article (and how many of them are the stream's entry), its bytes at 1,000,000 articles
against a 4 GB node and whether it fits with room to spare (``ROOM``: at most 75% of the node),
and the bytes an article of every key shape (``MEMORY USAGE``).
"""

import asyncio
import json
import random
import re
import tempfile
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis

from xabar.contracts import ARTICLES_STREAM, Event, parse_event
from xabar.feed.projector import Projector
from xabar.publisher.repositories.index import ArticleIndex
from xabar.runtime.bus import BusOptions, EventBus
from xabar.runtime.deployment import parse_redis_url
from xabar.runtime.localinfra import start_redis, start_redis_cluster

CHUNK = 500
WINDOW = BusOptions().maxlen(ARTICLES_STREAM)  # the entries xabar.articles keeps
NODE_BYTES = 4 * 1024**3
ROOM = 0.75  # "fits with room to spare": a master at 1,000,000 articles uses at most this of a node
ARCHIVE = 1_000_000
COUNTRIES = ("KZ", "KG", "TJ", "TM", "UZ")
TAGS = ("экономика", "политика", "культура", "спорт", "общество", "энергетика", "транспорт")
_WORDS = """правительство республика министр переговоры сотрудничество проект строительство
    экономика инвестиции развитие регион столица делегация соглашение вопрос программа граждане
    торговля границы энергетика транспорт образование здравоохранение культура спорт выставка
    фестиваль урожай погода дороги железная дорога аэропорт рейс граница таможня тарифы цены
    рынок предприятие завод добыча газ нефть электроэнергия вода орошение хлопок пшеница
    население перепись школа университет студенты учителя врачи больница сезон туристы"""
WORDS = tuple(_WORDS.split())


@dataclass
class Figure:
    """What one deployment holds after ``articles`` were stored."""

    deployment: str
    articles: int
    used_by_master: dict[int, int]  # port -> growth of used_memory (bytes)
    families: dict[str, int] = field(default_factory=dict)  # key family -> MEMORY USAGE sum
    family_by_master: dict[int, dict[str, int]] = field(default_factory=dict)
    shapes: dict[str, int] = field(default_factory=dict)  # key shape -> MEMORY USAGE sum
    stream_by_master: dict[int, int] = field(default_factory=dict)  # xabar.articles' bytes

    @property
    def total(self) -> int:
        return sum(self.used_by_master.values())

    def at_archive(self, port: int) -> float:
        """Bytes of one master at ``ARCHIVE`` articles: what grows with the articles, plus the
        ``xabar.articles`` stream at its window (it holds ``WINDOW`` entries at most)."""
        used = self.used_by_master[port]
        stream = self.stream_by_master.get(port, 0)
        per_entry = stream / self.articles
        return (used - stream) / self.articles * ARCHIVE + per_entry * min(ARCHIVE, WINDOW)

    def report(self) -> dict[str, Any]:
        per_article = self.total / self.articles
        masters = {
            str(port): {
                "bytes_per_article": round(used / self.articles),
                "stream_bytes_per_article": round(
                    self.stream_by_master.get(port, 0) / self.articles
                ),
                "share": round(used / self.total, 3) if self.total else 0.0,
                "at_1m_articles_gb": round(self.at_archive(port) / 1024**3, 2),
                "at_1m_of_4gb": round(self.at_archive(port) / NODE_BYTES, 3),
                "fits_with_room": self.at_archive(port) <= ROOM * NODE_BYTES,
                "families": self.family_by_master.get(port, {}),
            }
            for port, used in sorted(self.used_by_master.items())
        }
        biggest = max(self.at_archive(port) for port in self.used_by_master)
        in_all = sum(self.at_archive(port) for port in self.used_by_master)
        return {
            "deployment": self.deployment,
            "articles": self.articles,
            "bytes_per_article": round(per_article),
            "bytes_per_article_by_family": {
                k: round(v / self.articles) for k, v in sorted(self.families.items())
            },
            "bytes_per_article_by_key": {
                k: round(v / self.articles)
                for k, v in sorted(self.shapes.items(), key=lambda kv: -kv[1])
                if v / self.articles >= 1
            },
            "masters": masters,
            "at_1m_articles_gb": round(in_all / 1024**3, 2),
            "stream_window": WINDOW,
            "largest_master_at_1m_of_4gb": round(biggest / NODE_BYTES, 3),
            "room": ROOM,
            "every_master_fits_with_room": biggest <= ROOM * NODE_BYTES,
        }


SYLLABLES = tuple(c + v for c in "бвгдзклмнпрстхчш" for v in "аеиоуыя")


def _word(rng: random.Random) -> str:
    """A word of the vocabulary, or (every other one) of random syllables: text about as hard
    to compress as real prose, or harder (the figure errs on the heavy side)."""
    if rng.random() < 0.5:
        return rng.choice(WORDS)
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))


def _sentence(rng: random.Random, words: int) -> str:
    text = " ".join(_word(rng) for _ in range(words))
    return text[0].upper() + text[1:] + "."


def _body(rng: random.Random, chars: int) -> str:
    parts: list[str] = []
    size = 0
    while size < chars:
        paragraph = " ".join(_sentence(rng, rng.randint(8, 16)) for _ in range(3))
        parts.append(f"<p>{paragraph}</p>")
        size += len(paragraph) + 7
    return "".join(parts)


def article_events(count: int, body_chars: int, seed: int = 15) -> list[Event]:
    """``count`` ``article.published`` events (version 1 each), newest last."""
    rng = random.Random(seed)
    start = datetime(2020, 1, 1, tzinfo=UTC)
    events: list[Event] = []
    for n in range(count):
        at = (start + timedelta(minutes=7 * n)).isoformat().replace("+00:00", "Z")
        article_id = f"art-{n:07d}"
        countries = rng.sample(COUNTRIES, rng.choice((1, 1, 2)))
        title = _sentence(rng, rng.randint(6, 10))[:-1]
        data = {
            "article_id": article_id,
            "slug": f"{'-'.join(title.split()[:6])}-{n}",
            "title": title,
            "lead": _sentence(rng, rng.randint(18, 30)),
            "body_html": _body(rng, body_chars),
            "countries": countries,
            "tags": rng.sample(TAGS, 2),
            "image": None,
            "source": "Xabar",
            "source_url": None,
            "author": "Редакция",
            "featured": n % 20 == 0,
            "featured_countries": [],
            "comment_count": 0,
            "corrections": [],
            "published_at": at,
            "updated_at": at,
        }
        body = {
            "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "type": "article.published",
            "schema_version": 1,
            "occurred_at": at,
            "correlation_id": f"memory-{n}",
            "producer": "publisher",
            "aggregate_id": article_id,
            "version": 1,
            "data": data,
        }
        events.append(parse_event(json.dumps(body, ensure_ascii=False)))
    return events


def _summary(event: Event) -> dict[str, Any]:
    dumped = event.model_dump(mode="python")
    data = dumped["data"]
    return {
        "article_id": data["article_id"],
        "status": "published",
        "version": dumped["version"],
        "slug": data["slug"],
        "title": data["title"],
        "lead": data["lead"],
        "body_html": data["body_html"],
        "countries": data["countries"],
        "featured": data["featured"],
        "publish_at": None,
        "published_at": data["published_at"],
        "updated_at": data["updated_at"],
        "owner_id": "memory-bench",
    }


def _used(port: int) -> int:
    client = redis.Redis(port=port)
    try:
        return int(client.info("memory")["used_memory"])
    finally:
        client.close()


_SHAPES = (
    (re.compile(rb"\{feed\.d\d+\}"), b"{feed.dN}"),
    (re.compile(rb"\{idx\.\d+\.\d+\}"), b"{idx.N}"),
    (re.compile(rb":g\d+:"), b":G:"),
    (re.compile(rb":(term|z:t|z:c|z:f|country|owner|status):.*"), rb":\1:*"),
)


def shape_of(key: bytes) -> str:
    """A key with its variable parts (generation, bucket, word, tag, country...) as ``*``."""
    for pattern, repl in _SHAPES:
        key = pattern.sub(repl, key)
    return key.decode(errors="replace")


def family_of(key: bytes) -> str:
    if key.startswith(b"{feed.d"):
        return "feed documents {feed.dN}"
    if key.startswith(b"{feed}"):
        return "feed lists {feed}"
    if key.startswith(b"xabar:publisher:{idx}"):
        return "publisher lists {idx}"
    if key.startswith(b"xabar:publisher:{idx."):
        return "publisher words {idx.N}"
    if key.startswith(b"xabar.") and not key.endswith(b".dlq"):
        return "streams"
    return "other"


def _families(port: int) -> tuple[dict[str, int], dict[str, int]]:
    """MEMORY USAGE (exact) of every key of one node, by family and by key shape."""
    client = redis.Redis(port=port)
    sizes: dict[str, int] = defaultdict(int)
    shapes: dict[str, int] = defaultdict(int)
    try:
        for key in client.scan_iter(count=1000):
            used = int(client.memory_usage(key, samples=0) or 0)
            sizes[family_of(key)] += used
            shapes[shape_of(key)] += used
    finally:
        client.close()
    return dict(sizes), dict(shapes)


async def store(url: str, events: list[Event]) -> None:
    """Store ``events`` as the platform does: the bus's stream, the feed, the publisher index."""
    deployment = parse_redis_url(url)
    client = deployment.client()
    bus = EventBus(deployment, consumer_name="memory-bench")
    await bus.connect()
    projector = Projector(client)
    index = ArticleIndex(client)
    try:
        for start in range(0, len(events), CHUNK):
            chunk = events[start : start + CHUNK]
            await bus.publish_many(chunk)
            outcome = await projector.apply_events(chunk)
            failed = [e for e in outcome.errors if e is not None]
            if failed:
                raise RuntimeError(f"the projector refused events: {failed[0]!r}")
            await index.put_many(_summary(e) for e in chunk)
    finally:
        await bus.stop()
        await client.aclose()


def measure(deployment: str, url: str, ports: list[int], events: list[Event]) -> Figure:
    before = {port: _used(port) for port in ports}
    asyncio.run(store(url, events))
    used = {port: max(0, _used(port) - before[port]) for port in ports}
    figure = Figure(deployment, len(events), used)
    totals: dict[str, int] = defaultdict(int)
    shapes: dict[str, int] = defaultdict(int)
    for port in ports:
        mine, by_shape = _families(port)
        figure.family_by_master[port] = {k: round(v / len(events)) for k, v in mine.items()}
        for family, size in mine.items():
            totals[family] += size
        for shape, size in by_shape.items():
            shapes[shape] += size
        figure.stream_by_master[port] = by_shape.get(ARTICLES_STREAM, 0)
    figure.families = dict(totals)
    figure.shapes = dict(shapes)
    return figure


def run(articles: int, body_chars: int, cluster: bool = True) -> list[dict[str, Any]]:
    events = article_events(articles, body_chars)
    reports: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="xabar-memory-") as tmp:
        single = start_redis(Path(tmp) / "single")
        try:
            reports.append(measure("single", single.url, [single.port], events).report())
        finally:
            single.stop()
        if cluster:
            nodes = start_redis_cluster(Path(tmp) / "cluster")
            try:
                ports = [m.port for m in nodes.masters()]
                reports.append(measure("cluster", nodes.url, ports, events).report())
            finally:
                nodes.stop()
    return reports


def _print(report: dict[str, Any]) -> None:
    print(
        f"{report['deployment']}: {report['articles']} articles, "
        f"{report['bytes_per_article']} bytes an article; "
        f"1,000,000 articles: {report['at_1m_articles_gb']} GB in all "
        f"(xabar.articles at its window of {report['stream_window']:,} entries)"
    )
    for family, size in report["bytes_per_article_by_family"].items():
        print(f"  {family:<26} {size:>6} bytes an article (MEMORY USAGE)")
    for shape, size in report["bytes_per_article_by_key"].items():
        print(f"    {shape:<44} {size:>6}")
    if len(report["masters"]) > 1:
        room = report["room"]
        for port, m in report["masters"].items():
            families = ", ".join(f"{k} {v}" for k, v in sorted(m["families"].items()))
            verdict = f"fits with room (<= {room:.0%})" if m["fits_with_room"] else "NO ROOM"
            print(
                f"  master :{port}  {m['bytes_per_article']:>6} bytes an article "
                f"({m['stream_bytes_per_article']} of them the stream's entry; {m['share']:.0%}); "
                f"1,000,000 articles: {m['at_1m_articles_gb']} GB = {m['at_1m_of_4gb']:.0%} "
                f"of 4 GB: {verdict}\n      {families}"
            )
        largest = report["largest_master_at_1m_of_4gb"]
        met = "met" if report["every_master_fits_with_room"] else "NOT met"
        print(
            f"  largest master at 1,000,000 articles: {largest:.0%} of a 4 GB node "
            f"(target: every master <= {room:.0%}: {met})"
        )


def main(articles: int, body_chars: int, cluster: bool = True) -> int:
    reports = run(articles, body_chars, cluster)
    for report in reports:
        _print(report)
    print(json.dumps(reports, ensure_ascii=False))
    return 0
