"""The editors' article list in Redis: every filter and search answers what a plain scan of the
articles would, newest change first, from bounded reads (a real redis-server)."""

import random
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.crc import key_slot

from xabar.publisher.domain import Article, ArticleQuery, ArticleStatus, EditorRef
from xabar.publisher.repositories import index as idx
from xabar.publisher.repositories.index import ArticleIndex, search_terms, summary_of

T0 = datetime(2026, 3, 1, tzinfo=UTC)
WORDS = ["москва", "московский", "астана", "алматы", "выборы", "выбор", "газ", "нефть", "ёлка"]
WORDS += [f"слово{n}" for n in range(30)]
OWNERS = ["ann", "bob", "cat", None]
STATUSES = [s.value for s in ArticleStatus]


def article(n: int, **fields: Any) -> Article:
    values: dict[str, Any] = {
        "article_id": f"{n:032x}",
        "slug": f"a-{n}",
        "title": f"Статья {n}",
        "created_at": T0,
        "updated_at": T0 + timedelta(seconds=n),
        "created_by": EditorRef(id="x", name="X"),
        **fields,
    }
    return Article.model_validate(values)


def corpus(count: int, seed: int = 7) -> Iterator[Article]:
    rnd = random.Random(seed)
    times = rnd.sample(range(10**6), count)  # distinct: the order is by last change alone
    for n in range(count):
        words = rnd.sample(WORDS, 4)
        yield article(
            n,
            status=rnd.choice(STATUSES),
            countries=rnd.sample(["KZ", "KG", "UZ", "TJ"], rnd.choice([0, 1, 1, 2])),
            owner_id=rnd.choice(OWNERS),
            title=" ".join(words[:2]).capitalize(),
            lead=words[2],
            body_html=f"<p>Текст про {words[3]} и не только</p>",
            updated_at=T0 + timedelta(seconds=times[n]),
            version=rnd.randint(1, 5),
        )


def matches(a: Article, q: ArticleQuery, viewer: str | None) -> bool:
    if q.status and a.status != q.status:
        return False
    if q.country and q.country not in a.countries:
        return False
    if q.owner_id and a.owner_id != q.owner_id:
        return False
    if viewer is not None and not (a.status == "published" or a.owner_id == viewer):
        return False
    terms = search_terms(a.title, a.lead, a.body_html)
    wanted = [w for w in idx.words_of(q.text or "") if idx._meaningful(w)]
    return all(any(t.startswith(w) for t in terms) for w in wanted)


def expected(arts: list[Article], q: ArticleQuery, viewer: str | None = None) -> list[str]:
    hits = [a for a in arts if matches(a, q, viewer)]
    hits.sort(key=lambda a: (a.updated_at, a.article_id), reverse=True)
    return [a.article_id for a in hits]


async def listed(index: ArticleIndex, q: ArticleQuery, viewer: str | None = None) -> list[str]:
    """Every page of a query, in order, checking each page's total."""
    out: list[str] = []
    page = 1
    while True:
        found = await index.search(replace(q, page=page), viewer=viewer)
        out += [row["article_id"] for row in found.items]
        if len(found.items) < q.per_page:
            assert found.exact and found.total == len(out), (q, found.total, len(out))
            return out
        page += 1


@pytest.fixture
async def index(redis: aioredis.Redis) -> ArticleIndex:
    return ArticleIndex(redis)


QUERIES = [
    ArticleQuery(),
    ArticleQuery(status="draft"),
    ArticleQuery(country="KZ"),
    ArticleQuery(status="published", country="UZ"),
    ArticleQuery(owner_id="ann"),
    ArticleQuery(owner_id="bob", status="in_review", country="KG"),
    ArticleQuery(text="москв"),
    ArticleQuery(text="Москва"),
    ArticleQuery(text="выбор газ"),
    ArticleQuery(text="елка"),  # ё is е
    ArticleQuery(text="и про"),  # stop words: "про" is a word, "и" is not
    ArticleQuery(text="статья 1"),  # a number is a word
    ArticleQuery(text="слово1", status="published"),
    ArticleQuery(text="нет-такого-слова"),
    ArticleQuery(text="астана", country="TJ", owner_id="cat"),
]


@pytest.mark.parametrize("materialize", [5, 20_000])
async def test_every_filter_and_search_lists_what_a_scan_finds_newest_first(
    index: ArticleIndex, monkeypatch: pytest.MonkeyPatch, materialize: int
) -> None:
    # both ways of answering a word: its articles first (few), or a walk checking membership
    monkeypatch.setattr(idx, "MATERIALIZE", materialize)
    monkeypatch.setattr(idx, "WALK_CHUNK", 25)
    arts = list(corpus(300))
    await index.put_many(summary_of(a) for a in arts)
    for q in QUERIES:
        q = replace(q, per_page=13)
        assert await listed(index, q) == expected(arts, q), q
        for viewer in ("ann", "cat"):
            assert await listed(index, q, viewer) == expected(arts, q, viewer), (q, viewer)
    found = await index.search(ArticleQuery(text="москва", per_page=5))
    assert set(found.items[0]) >= {"article_id", "title", "status", "slug", "updated_at"}
    assert "terms" not in found.items[0]


async def test_a_contributors_deep_pages_read_only_their_window(
    index: ArticleIndex, redis: aioredis.Redis
) -> None:
    arts = list(corpus(400, seed=3))
    await index.put_many(summary_of(a) for a in arts)
    q = ArticleQuery(per_page=10)
    want = expected(arts, q, "bob")
    for page in (1, 2, 7, len(want) // 10, len(want) // 10 + 1):
        found = await index.search(replace(q, page=page), viewer="bob")
        assert [r["article_id"] for r in found.items] == want[(page - 1) * 10 : page * 10]
        assert found.total == len(want) and found.exact


async def test_edits_move_an_article_between_lists_and_words(
    index: ArticleIndex, redis: aioredis.Redis
) -> None:
    first = article(1, title="Выборы в Астане", status="draft", countries=["KZ"], version=1)
    await index.put(first)
    assert await listed(index, ArticleQuery(text="астан")) == [first.article_id]
    moved = first.model_copy(
        update={
            "title": "Нефть и газ",
            "status": ArticleStatus.PUBLISHED,
            "countries": ("UZ",),
            "version": 2,
            "updated_at": T0 + timedelta(hours=1),
        }
    )
    await index.put(moved)
    assert await listed(index, ArticleQuery(text="астан")) == []
    assert await listed(index, ArticleQuery(text="нефт")) == [first.article_id]
    assert await listed(index, ArticleQuery(status="draft")) == []
    assert await listed(index, ArticleQuery(country="KZ")) == []
    assert await listed(index, ArticleQuery(status="published", country="UZ")) == [first.article_id]
    # a word nobody has any more leaves the vocabulary; an older version is ignored
    for bucket in range(idx.BUCKETS):
        vocabulary = idx.vocabulary_key(bucket)
        assert await redis.zrangebylex(vocabulary, b"[\xd0\xb0", b"[\xd0\xb0\xff") == []
    await index.put(first)
    assert await listed(index, ArticleQuery(status="published")) == [first.article_id]


async def test_a_put_based_on_a_summary_changed_meanwhile_is_refused_then_retried(
    index: ArticleIndex, redis: aioredis.Redis
) -> None:
    one = article(1, title="Газ", version=1)
    two = one.model_copy(update={"title": "Нефть", "version": 2})
    three = one.model_copy(update={"title": "Алматы", "version": 3})
    await index.put(one)
    await index.put(two)
    (held,) = await index._state([one.article_id])
    assert held.n is not None
    keys, args = index._args(summary_of(three), held.n, summary_of(one) | {"version": 1})
    assert await index._put(keys=keys, args=args) == -1  # read version 1, it holds 2
    await index.put(three)  # reads again: applied
    assert await listed(index, ArticleQuery(text="алматы")) == [one.article_id]
    assert await listed(index, ArticleQuery(text="нефть")) == []


async def test_a_walk_is_bounded_and_says_its_total_is_a_lower_bound(
    index: ArticleIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(idx, "MATERIALIZE", 0)
    monkeypatch.setattr(idx, "MAX_WALK", 40)
    monkeypatch.setattr(idx, "WALK_CHUNK", 10)
    arts = [article(n, title=f"Газ {n}" if n % 2 else f"Нефть {n}") for n in range(200)]
    await index.put_many(summary_of(a) for a in arts)
    found = await index.search(ArticleQuery(text="газ", per_page=5))
    assert [r["article_id"] for r in found.items] == expected(arts, ArticleQuery(text="газ"))[:5]
    assert not found.exact and 5 <= found.total <= 40


def test_the_words_of_an_article_are_bounded_and_skip_stop_words() -> None:
    terms = search_terms("Выборы в Казахстане", "Итоги и планы", "<p>" + "слово " * 5 + "</p>")
    assert terms == ["выборы", "казахстане", "итоги", "планы", "слово"]
    many = search_terms("", "", " ".join(f"w{n}" for n in range(500)))
    assert len(many) == idx.MAX_TERMS


async def test_summaries_by_article_id_and_documents_indexed_as_stored(
    index: ArticleIndex,
) -> None:
    one, two = article(1, title="Газ и нефть"), article(2, title="Астана")
    doc = one.model_dump() | {"_id": one.article_id}
    await index.put_many([doc, summary_of(two)])  # a stored document: its words are found
    assert await listed(index, ArticleQuery(text="нефт")) == [one.article_id]
    got = await index.summaries([two.article_id, "f" * 32, one.article_id])
    assert [s["article_id"] for s in got] == [two.article_id, one.article_id]
    assert "terms" not in got[0]


def test_the_buckets_cover_the_clusters_slots_evenly() -> None:
    # bucket B's tag lands in the B-th of BUCKETS equal slot ranges: on masters that hold equal
    # ranges the summaries and words split evenly
    slots = [key_slot(idx.summaries_key(b).encode()) for b in range(idx.BUCKETS)]
    width = 16384 // idx.BUCKETS
    assert [s // width for s in slots] == list(range(idx.BUCKETS))
    assert len({idx.term_key("газ", b) for b in range(idx.BUCKETS)}) == idx.BUCKETS


async def test_summaries_and_words_live_in_the_buckets_and_the_lists_on_one_tag(
    index: ArticleIndex, redis: aioredis.Redis
) -> None:
    arts = list(corpus(200, seed=5))
    await index.put_many(summary_of(a) for a in arts)
    keys = [k.decode() async for k in redis.scan_iter(match="xabar:publisher:*", count=1000)]
    on_idx = [k for k in keys if k.startswith(idx.PREFIX)]
    assert on_idx and all(":term:" not in k and "summaries" not in k for k in on_idx)
    buckets = {k.split("}")[0] for k in keys if k.endswith(":summaries")}
    assert len(buckets) == idx.BUCKETS  # 200 articles, numbered 1..200: every bucket has some
    # one bucket holds its own articles' summaries and nobody else's
    held = await redis.hgetall(idx.summaries_key(3))
    assert held and all(int(n) % idx.BUCKETS == 3 for n in held)


async def test_a_put_cut_between_its_two_steps_is_done_again_by_the_next_put(
    index: ArticleIndex, redis: aioredis.Redis
) -> None:
    one = article(1, title="Газ", status="draft", version=1)
    await index.put(one)
    two = one.model_copy(update={"title": "Нефть", "status": ArticleStatus.PUBLISHED, "version": 2})
    (held,) = await index._state([one.article_id])
    keys, args = index._list_args(index._normal(summary_of(two)), held)
    assert await index._list(keys=keys, args=args) == held.n  # the lists moved, then a crash
    assert await listed(index, ArticleQuery(text="нефть")) == []  # the words are behind
    await index.put(two)  # the summary is older: put again; the lists' step changes nothing
    assert await listed(index, ArticleQuery(text="нефть", status="published")) == [one.article_id]
    assert await listed(index, ArticleQuery(text="газ")) == []
    assert await listed(index, ArticleQuery(status="draft")) == []


async def test_the_index_as_it_was_on_one_slot_is_dropped_before_a_rebuild(
    index: ArticleIndex, redis: aioredis.Redis
) -> None:
    await redis.hset(idx.OLD_LAYOUT, "1", "{}")
    await redis.sadd(f"{idx.PREFIX}:term:газ", 1)
    await redis.zadd(idx.ALL, {"1": 1.0})
    await index.put(article(2, title="Нефть"))
    assert await index.drop_legacy() >= 3
    assert not await redis.exists(idx.OLD_LAYOUT, f"{idx.PREFIX}:term:газ", idx.ALL)
    assert await index.drop_legacy() == 0  # once: the new layout is kept


def test_each_step_of_a_put_is_one_slot() -> None:
    index = ArticleIndex.__new__(ArticleIndex)
    one = summary_of(article(7, title="Газ и нефть Астаны", countries=["KZ", "UZ"], owner_id="ann"))
    held = idx.Held(None, None, None)
    keys, _ = index._list_args(index._normal(one), held)
    assert len({key_slot(k.encode()) for k in keys}) == 1 and len(keys) >= 5
    keys, _ = index._args(one, 7, None)
    assert len({key_slot(k.encode()) for k in keys}) == 1 and len(keys) >= 4
    assert key_slot(keys[0].encode()) == key_slot(idx.summaries_key(7 % idx.BUCKETS).encode())
