"""The services' Lua scripts on a real Redis Cluster (3 masters, a replica each, on loopback):
the feed's projector and its page, article and poll reads, a vote, an intake accept (with its
notes and an Idempotency-Key record), the publisher's article index and the inbox index. A key a
script touched outside its declared slot would fail here with CROSSSLOT (or "non local key")."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.crc import key_slot

from tests.support.polls import open_poll
from tests.support.tips import tip_doc
from xabar.contracts import Event, parse_event
from xabar.feed import scripts
from xabar.feed.projector import Projector
from xabar.feed.repository import ALL, FEATURED, ReadModel, country_list, tag_list
from xabar.ingest.intake import Intake
from xabar.polls.counter import AddressPolicy, Counts, VoteCounter
from xabar.publisher.repositories.index import ArticleIndex
from xabar.publisher.repositories.tips import TipIndex
from xabar.runtime.redispipe import RedisPipe

pytestmark = pytest.mark.cluster

GOLDEN = Path(__file__).parents[1] / "golden"


def article(n: int, *, version: int = 1, countries: tuple[str, ...] = ("TJ", "KZ")) -> Event:
    body = json.loads((GOLDEN / "article.published.v1.json").read_text(encoding="utf-8"))
    at = (datetime(2026, 2, 17, tzinfo=UTC) + timedelta(minutes=n)).isoformat()
    body |= {"event_id": f"00000000-0000-4000-8000-{n:012d}", "version": version}
    body["aggregate_id"] = f"art-{n}"
    body["occurred_at"] = at
    body["data"] |= {
        "article_id": f"art-{n}",
        "slug": f"statya-{n}",
        "countries": list(countries),
        "featured": n == 0,
        "published_at": at,
        "updated_at": at,
    }
    return parse_event(json.dumps(body, ensure_ascii=False))


async def test_the_feed_projects_and_serves_a_page_from_one_slot(
    cluster_redis: aioredis.Redis,
) -> None:
    projector = Projector(cluster_redis)
    outcome = await projector.apply_events([article(n) for n in range(30)])
    assert outcome.errors == [None] * 30
    # a move between lists (the countries change): the script finds the old lists itself
    moved = await projector.apply_events([article(3, version=2, countries=("UZ",))])
    assert moved.errors == [None]

    reads = ReadModel(cluster_redis)
    page = await reads.list_page(ALL, 0, 10, featured_key=FEATURED, without_featured=True)
    assert page.total == 30
    assert [a.article_id for a in page.items] == [f"art-{n}" for n in range(29, 19, -1)]
    assert page.featured is not None and page.featured.article_id == "art-0"
    tajik = await reads.list_page(country_list("TJ"), 0, 50)
    assert tajik.total == 29 and "art-3" not in {a.article_id for a in tajik.items}
    uzbek = await reads.list_page(country_list("UZ"), 0, 50)
    assert [a.article_id for a in uzbek.items] == ["art-3"]
    tagged = await reads.list_page(tag_list("МИД"), 0, 5)
    assert tagged.total == 30
    one = await reads.article("statya-7")
    assert one.article is not None and one.article.article_id == "art-7"
    since = await reads.since(ALL, datetime(2026, 2, 17, 0, 25, tzinfo=UTC), 100)
    assert len(since.items) == 5
    slugs = await reads.slugs(ALL, 0, 3)
    assert slugs.slugs == ["statya-0", "statya-1", "statya-2"]
    assert (await reads.revision())[1] == page.snapshot.generation


async def test_the_lists_are_one_slot_and_the_documents_spread_over_every_master(
    cluster_redis: aioredis.Redis,
) -> None:
    await Projector(cluster_redis).apply_events([article(n) for n in range(60)])
    keys = [k async for k in cluster_redis.scan_iter(match=f"{scripts.BASE}*")]
    assert len(keys) > 10
    assert {key_slot(k) for k in keys} == {key_slot(scripts.CURRENT.encode())}
    docs = [k async for k in cluster_redis.scan_iter(match=scripts.DOC_PATTERN)]
    assert len(docs) > 30
    masters = {cluster_redis.get_node_from_key(k).name for k in docs}
    assert masters == {node.name for node in cluster_redis.get_primaries()}


async def test_a_vote_is_counted_in_one_script(cluster_redis: aioredis.Redis) -> None:
    policy = AddressPolicy(5, 60_000, 0, 60_000, 50, 500, rate_limit=100)
    counter = VoteCounter(cluster_redis, "polls", policy)
    assert await counter.mirror(open_poll("p-cluster", ["Да", "Нет"], datetime.now(UTC)))
    assert await counter.install("p-cluster", Counts({"o1": 0, "o2": 0}, 0, 0))
    first = await counter.cast("p-cluster", "voter-1", ["o1"], "addr-a", "net-a")
    assert first.status == "ok" and first.total == 1
    again = await counter.cast("p-cluster", "voter-1", ["o2"], "addr-a", "net-a")
    assert again.status == "voted"
    second = await counter.cast("p-cluster", "voter-2", ["o2"], "addr-b", "net-b")
    assert second.status == "ok" and second.counts is not None
    assert second.counts.options == {"o1": 1, "o2": 1}
    assert len(await counter.unlogged_entries("p-cluster")) == 2


async def test_an_intake_accept_writes_its_stream_notes_and_key_record(
    cluster_url: str, cluster_redis: aioredis.Redis
) -> None:
    event = parse_event((GOLDEN / "submission.received.v2.json").read_text(encoding="utf-8"))
    doc: dict[str, Any] = {
        "_id": "sub-cluster-1",
        "receipt_hash": "h-1",
        "received_at": datetime.now(UTC),
        "submission": {"text": "Текст"},
        "idempotency": {"fingerprint": "f-1"},
    }
    pipe = RedisPipe(cluster_url)
    try:
        intake = Intake(pipe)
        assert await intake.accept(doc, event, keep_key_ms=60_000) is None
        again = await intake.accept(doc, event, keep_key_ms=60_000)  # a replay: the record
        assert again is not None and again["fingerprint"] == "f-1"
    finally:
        await pipe.aclose()
    assert await cluster_redis.xlen(intake.stream) == 1
    for key in [*intake.note_keys(doc), intake.key_record("sub-cluster-1")]:
        assert await cluster_redis.exists(key)


async def test_the_publishers_indexes_put_and_read(cluster_redis: aioredis.Redis) -> None:
    index = ArticleIndex(cluster_redis)
    now = datetime.now(UTC)
    summary = {
        "article_id": "art-1",
        "status": "published",
        "version": 1,
        "slug": "statya-1",
        "title": "Переговоры в Душанбе",
        "lead": "Министры обсудили сотрудничество",
        "body_html": "<p>Экономика и инвестиции</p>",
        "countries": ["TJ"],
        "featured": False,
        "publish_at": None,
        "published_at": now,
        "updated_at": now,
        "owner_id": "ed-1",
    }
    await index.put_many([summary, {**summary, "version": 2, "countries": ["KZ"]}])
    held = await index._held(["art-1"])
    assert held[0] is not None and held[0]["countries"] == ["KZ"]

    tips = TipIndex(cluster_redis)
    await tips.put(tip_doc("t-1", now))
    await tips.put(tip_doc("t-1", now, version=2, status="in_review", country="KZ"))
    found = await tips.get("t-1")
    assert found is not None and found["status"] == "in_review" and found["country"] == "KZ"
    assert await cluster_redis.zcard("xabar:publisher:{tips}:country:TJ") == 0
    assert await cluster_redis.zcard("xabar:publisher:{tips}:status:received") == 0
