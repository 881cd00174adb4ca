"""The editors' article list, indexed in Redis (MongoDB stays the truth): a repository of
article summaries, their filters and a word index, so that every list and search of 100,000
articles is answered from a few bounded Redis reads.

On FerretDB a listing read from the articles themselves is a full scan with every document
decoded: about 3 s for 6,300 articles. Here every article has a small number (``docnos``: its id
-> n, handed out once), and the index is in two parts:

- the lists, under the hash tag ``{idx}``: sorted sets of numbers scored by the last change (every
  article, per status, per country, per status and country, per owner; a list filtered by status
  and country is one of them, so a page is one ``ZREVRANGE`` and its total one ``ZCARD``), with
  what put each number in them (``listed``: n -> version, status, countries, owner);
- the rest, in ``BUCKETS`` buckets by number (n mod ``BUCKETS``, each its own hash tag, the tags
  chosen so that the buckets cover the cluster's slots evenly): the summaries (a hash: n -> a
  JSON array of ``STORED_FIELDS``), the word index (each word of the title, the lead and the start
  of the body, distinct, ``MAX_TERMS`` at most, short words of no meaning left out, is a set of
  the bucket's numbers that have it: small sets of integers, which Redis keeps as intsets) and the
  bucket's vocabulary (a sorted set read by ``ZRANGEBYLEX``, which turns a typed prefix into at most
  ``MAX_EXPANSIONS`` words, merged over the buckets).

So the index spreads over every master of a cluster: what stays on one slot is the lists (about
0.7 KB an article), the summaries and words (about 2 KB) are split evenly.

A search (``search``) starts from the smallest set that must hold every result (the filter's
sorted set, or the articles of the rarest word when there are few of them: at most
``MATERIALIZE``, read from every bucket and narrowed to the filter once) and walks it newest
first, a chunk at a time: a script on ``{idx}`` keeps the members of the chunk that are in every
other sorted set asked for, then one script a bucket (all sent at once) keeps those that have
every word, until the page is full. The walk is bounded (``MAX_WALK`` members looked at): past
that the page says how many it found, not how many there are (``Page.exact`` is False); a list
of filters alone is walked in one script and counts its total exactly (``ZINTERCARD``, bounded).

Every write of an article puts its summary afterwards (``ArticleRepository``) in two steps, each
one script on one slot that keeps the newer version only (a late or repeated put never rolls the
index back) and refuses (to be retried) if what it holds changed since it was read: first the
lists (``{idx}``: the number is handed out, moved between the sorted sets), then the article's
bucket (its summary, its words). The summary is the mark of a put done: a crash between the steps
leaves the summary older, so the retry or the next rebuild does the put again, and the lists'
step, at that version already, changes nothing. Every start of the service rebuilds the index in
the background from a scan of the articles (``ArticleRepository.rebuild_index``); a rebuild over an
index already up to date changes nothing.

Every script gets each key it touches in ``KEYS``, all of one hash tag, so the index runs on
Redis Cluster unchanged.
"""

import bisect
import functools
import heapq
import json
import logging
import re
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, cast

from redis.asyncio import Redis
from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot

from xabar.publisher.content import html_to_text
from xabar.publisher.domain import Article, ArticleQuery, ArticleStatus, Page
from xabar.runtime.luascripts import Call, run_many

log = logging.getLogger("xabar.publisher.index")

PREFIX = "xabar:publisher:{idx}"
LEGACY_PATTERN = "xabar:publisher:idx:*"  # the keys of the index before its hash tag
OLD_LAYOUT = f"{PREFIX}:summaries"  # there only in the index before its buckets
EVERY_KEY = "xabar:publisher:{idx*"  # the lists' keys and the buckets'
DOCNOS = f"{PREFIX}:docnos"
SEQUENCE = f"{PREFIX}:seq"
LISTED = f"{PREFIX}:listed"
ALL = f"{PREFIX}:all"
BUCKETS = 32
SUMMARY_FIELDS = (
    "status",
    "version",
    "slug",
    "title",
    "countries",
    "featured",
    "publish_at",
    "published_at",
    "updated_at",
    "owner_id",
)
STORED_FIELDS = ("article_id", *SUMMARY_FIELDS, "terms")  # a summary's JSON array, in order
TEXT_FIELDS = ("title", "lead", "body_html")  # what the word index reads (not in the summary)
PIPELINE_CHUNK = 500
# words indexed per article: the title's, then the lead's (and the body's, when they are short).
# Every word costs an entry in its set, in the vocabulary and in the summary: at 24 the index
# was 4.4 KB an article, at 12 it is about 2.3 KB (``python -m xabar.devstack memory``)
MAX_TERMS = 12
MAX_TERM_LENGTH = 40
MAX_QUERY_WORDS = 5
MAX_EXPANSIONS = 32  # words a typed prefix stands for
MATERIALIZE = 20_000  # a word's articles, at most, intersected with the filter at once
MAX_WALK = 20_000  # articles looked at, at most, for one page
MAX_COUNT = 100_000  # articles counted, at most, for a list's total
WALK_CHUNK = 1000
TEMP_TTL_S = 30
BODY_CHARS = 3000  # the start of the body the words come from
Summary = Mapping[str, Any]  # SUMMARY_FIELDS, article_id and terms; plain values

# Words too common to find anything by (the words are still matched as prefixes of others).
_STOPWORDS = """а без более бы был была были было быть в вам вас весь во вот все всего всех вы где
    да
    даже для до его ее если есть еще же за здесь и из или им их к как ко когда кто ли либо мне
    может мы на над надо наш не него нее нет ни них но ну о об однако он она они оно от очень по
    под при с со так также такой там те тем то того тоже той только том ты у уже хотя чего чей
    чем что чтобы чье эта эти это этого этой этом я"""
STOPWORDS = frozenset(_STOPWORDS.split())
_WORD = re.compile(r"[^\W_]+")

# On {idx}. KEYS: docnos, sequence, listed, then the sorted sets to leave, those to join. ARGV:
# id, version, the record read before ("" if none), the new record, the two counts, the score.
# -> the article's number, or -1 if the record changed since it was read.
_LIST = """
local n = redis.call('HGET', KEYS[1], ARGV[1])
local held = false
if n then held = redis.call('HGET', KEYS[3], n) end
if held then
  if held ~= ARGV[3] then return -1 end
  if tonumber(cjson.decode(held)[1]) >= tonumber(ARGV[2]) then return tonumber(n) end
elseif ARGV[3] ~= '' then
  return -1
end
if not n then
  n = redis.call('INCR', KEYS[2])
  redis.call('HSET', KEYS[1], ARGV[1], n)
end
local k = 4
for _ = 1, tonumber(ARGV[5]) do redis.call('ZREM', KEYS[k], n); k = k + 1 end
for _ = 1, tonumber(ARGV[6]) do redis.call('ZADD', KEYS[k], ARGV[7], n); k = k + 1 end
redis.call('HSET', KEYS[3], n, ARGV[4])
return tonumber(n)
"""

# On the article's bucket. KEYS: summaries, vocabulary, the word sets to leave, those to join.
# ARGV: n, summary json, version, the version read before ("" if none), the two counts, then the
# words left and the words joined. -> 1 put, 0 older than held, -1 changed since it was read.
_PUT = """
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current then
  local held = cjson.decode(current)[3]
  if tostring(held) ~= ARGV[4] then return -1 end
  if tonumber(held) >= tonumber(ARGV[3]) then return 0 end
elseif ARGV[4] ~= '' then
  return -1
end
local k, a = 3, 7
for _ = 1, tonumber(ARGV[5]) do
  redis.call('SREM', KEYS[k], ARGV[1])
  if redis.call('SCARD', KEYS[k]) == 0 then redis.call('ZREM', KEYS[2], ARGV[a]) end
  k, a = k + 1, a + 1
end
for _ = 1, tonumber(ARGV[6]) do
  redis.call('SADD', KEYS[k], ARGV[1])
  redis.call('ZADD', KEYS[2], 0, ARGV[a])
  k, a = k + 1, a + 1
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
"""

# On {idx}. KEYS: docnos, listed. ARGV: article ids. -> for each: its number and record, or false
_READ = """
local out = {}
for i, id in ipairs(ARGV) do
  local n = redis.call('HGET', KEYS[1], id)
  out[2 * i - 1] = n or false
  out[2 * i] = n and redis.call('HGET', KEYS[2], n) or false
end
return out
"""

# On {idx}. KEYS: the source (a sorted set, walked newest first), the sorted sets a member must
# be in, the one it must not be in (if any). ARGV: start, count, the most members to look at,
# chunk, how many sorted sets, 1 if a set to avoid, 1 to keep every match of one chunk from
# ``start`` (the offset then) instead of a page.
# -> {how many matched, how far it walked, the source's size, member, score, member, score...}
_WALK = """
local start, count = tonumber(ARGV[1]), tonumber(ARGV[2])
local limit, chunk = tonumber(ARGV[3]), tonumber(ARGV[4])
local ns, nu, one = tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7] == '1'
local size = redis.call('ZCARD', KEYS[1])
local out, matched, offset = {}, 0, 0
if one then offset = start end
while offset < size and offset < limit and (one or matched <= start + count) do
  local rows = redis.call('ZREVRANGE', KEYS[1], offset, offset + chunk - 1, 'WITHSCORES')
  if #rows == 0 then break end
  for i = 1, #rows, 2 do
    local m, ok = rows[i], true
    for s = 1, ns do
      if not redis.call('ZSCORE', KEYS[1 + s], m) then ok = false; break end
    end
    if ok and nu == 1 and redis.call('ZSCORE', KEYS[2 + ns], m) then ok = false end
    if ok then
      if one or (matched >= start and matched < start + count) then
        out[#out + 1] = m
        out[#out + 1] = rows[i + 1]
      end
      matched = matched + 1
    end
  end
  offset = offset + #rows / 2
  if one then break end
end
return {matched, offset, size, out}
"""

# On a bucket. KEYS: each word's sets in the bucket. ARGV: how many words, each word's number of
# sets, then the members. -> the members in one set of every word
_HAVE = """
local nw = tonumber(ARGV[1])
local words, k = {}, 1
for w = 1, nw do
  local group = {}
  for i = 1, tonumber(ARGV[1 + w]) do group[i] = KEYS[k]; k = k + 1 end
  words[w] = group
end
local out = {}
for j = 2 + nw, #ARGV do
  local m, ok = ARGV[j], true
  for w = 1, nw do
    local hit = false
    for _, key in ipairs(words[w]) do
      if redis.call('SISMEMBER', key, m) == 1 then hit = true; break end
    end
    if not hit then ok = false; break end
  end
  if ok then out[#out + 1] = m end
end
return out
"""

# On {idx}. KEYS: the source, the target. ARGV: seconds to keep the target, then members. The
# target gets the members that are in the source, with their scores.
_NARROW = """
for i = 2, #ARGV do
  local m = ARGV[i]
  local score = redis.call('ZSCORE', KEYS[1], m)
  if score then redis.call('ZADD', KEYS[2], score, m) end
end
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[1]))
return redis.call('ZCARD', KEYS[2])
"""


# --- what is indexed ------------------------------------------------------------------------------


def words_of(text: str) -> list[str]:
    """The words of ``text`` as the index keeps them: lower case, ё as е, letters and digits."""
    return [w for w in _WORD.findall(text.casefold().replace("ё", "е")) if w]


def _meaningful(word: str) -> bool:
    """Indexed and searched for: not a stop word, and two letters or more (or a number)."""
    return (len(word) >= 2 or word.isdigit()) and word not in STOPWORDS


def search_terms(title: str, lead: str, body_html: str) -> list[str]:
    """The distinct words an article is found by: its title's first, then its lead's and its
    body's, at most ``MAX_TERMS``, none a single letter, none a stop word."""
    out: dict[str, None] = {}
    body = html_to_text(body_html[: BODY_CHARS * 4])[:BODY_CHARS]
    for text in (title, lead, body):
        for word in words_of(text):
            if _meaningful(word):
                out.setdefault(word[:MAX_TERM_LENGTH])
                if len(out) >= MAX_TERMS:
                    return list(out)
    return list(out)


def summary_of(article: Article) -> dict[str, Any]:
    return article.values(SUMMARY_FIELDS) | {
        "article_id": article.article_id,
        "terms": search_terms(article.title, article.lead, article.body_html),
    }


def summary_row(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A summary from a document read with the ``projection()`` of the index (its words are
    found only when it is put: a rebuild skips the articles the index holds already)."""
    return {f: doc.get(f) for f in (*SUMMARY_FIELDS, *TEXT_FIELDS)} | {
        "article_id": str(doc["_id"])
    }


def projection() -> dict[str, int]:
    return dict.fromkeys((*SUMMARY_FIELDS, *TEXT_FIELDS), 1)


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def encode_summary(summary: Summary) -> str:
    """A summary as stored: a JSON array of ``STORED_FIELDS`` (the words one string)."""
    values = [summary.get(f) for f in STORED_FIELDS[:-1]]
    return json.dumps([*values, " ".join(summary.get("terms") or [])], ensure_ascii=False)


def decode_summary(raw: bytes | str) -> dict[str, Any]:
    row = dict(zip(STORED_FIELDS, json.loads(raw), strict=True))
    row["terms"] = row["terms"].split()
    return row


def record_of(summary: Summary) -> str:
    """What put an article in its sorted sets (``listed``): version, status, countries, owner."""
    values = [summary["version"], summary["status"], summary.get("countries") or []]
    return json.dumps([*values, summary.get("owner_id")], ensure_ascii=False)


def sets_of_record(raw: bytes | str) -> list[str]:
    _, status, countries, owner_id = json.loads(raw)
    return sets_of({"status": status, "countries": countries, "owner_id": owner_id})


def status_key(status: str) -> str:
    return f"{PREFIX}:status:{status}"


def country_key(country: str, status: str | None = None) -> str:
    return (
        f"{PREFIX}:status:{status}:country:{country}" if status else f"{PREFIX}:country:{country}"
    )


def owner_key(owner_id: str) -> str:
    return f"{PREFIX}:owner:{owner_id}"


@functools.cache
def bucket_tags() -> tuple[str, ...]:
    """The hash tag of each bucket: ``idx.B.K``, the first K that puts bucket B in the B-th of
    ``BUCKETS`` equal ranges of the cluster's slots (so the buckets split evenly over masters
    that hold equal ranges)."""
    tags = []
    for b in range(BUCKETS):
        low = b * REDIS_CLUSTER_HASH_SLOTS // BUCKETS
        high = (b + 1) * REDIS_CLUSTER_HASH_SLOTS // BUCKETS
        k = 0
        while not low <= key_slot(f"idx.{b}.{k}".encode()) < high:
            k += 1
        tags.append(f"idx.{b}.{k}")
    return tuple(tags)


def bucket_of(n: int | bytes | str) -> int:
    return int(n) % BUCKETS


def bucket_prefix(bucket: int) -> str:
    return f"xabar:publisher:{{{bucket_tags()[bucket]}}}"


def summaries_key(bucket: int) -> str:
    return f"{bucket_prefix(bucket)}:summaries"


def vocabulary_key(bucket: int) -> str:
    return f"{bucket_prefix(bucket)}:vocabulary"


def term_key(term: str, bucket: int) -> str:
    return f"{bucket_prefix(bucket)}:term:{term}"


def sets_of(summary: Summary) -> list[str]:
    """The sorted sets an article is in."""
    status = summary["status"]
    keys = [ALL, status_key(status)]
    for country in summary.get("countries") or []:
        keys += [country_key(country), country_key(country, status)]
    if summary.get("owner_id"):
        keys.append(owner_key(summary["owner_id"]))
    return keys


# --- searching ------------------------------------------------------------------------------------


@dataclass
class Plan:
    """How one list is read: walk ``source`` newest first, keeping the members that are in
    every sorted set of ``in_sorted`` and, for each word, in one of its words' sets (in the
    member's bucket)."""

    source: str
    in_sorted: list[str] = field(default_factory=list)
    words: list[list[str]] = field(default_factory=list)
    temporary: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Found:
    """The members of one page (newest first, with their scores), and how many match."""

    rows: list[tuple[bytes, float]]
    total: int
    exact: bool


@dataclass(frozen=True, slots=True)
class Held:
    """What the index holds of one article: its number, its lists' record, its summary."""

    n: int | None
    record: str | None
    summary: dict[str, Any] | None


_SIZES = """
local out = {}
for i, key in ipairs(KEYS) do out[i] = redis.call('SCARD', key) end
return out
"""


class ArticleIndex:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._list = redis.register_script(_LIST)
        self._put = redis.register_script(_PUT)
        self._read = redis.register_script(_READ)
        self._walk_script = redis.register_script(_WALK)
        self._have = redis.register_script(_HAVE)
        self._narrow = redis.register_script(_NARROW)
        self._sizes = redis.register_script(_SIZES)

    # --- writes -----------------------------------------------------------------------------

    @staticmethod
    def _normal(summary: Summary) -> dict[str, Any]:
        """A summary's plain values, with its words (found now for a document as stored)."""
        out = {f: _iso(summary.get(f)) for f in SUMMARY_FIELDS}
        out["article_id"] = str(summary["article_id"])
        out["countries"] = list(summary.get("countries") or [])
        if "terms" in summary:
            out["terms"] = list(summary["terms"] or [])
        else:  # a document as stored (title, lead, body), not a summary
            out["terms"] = search_terms(
                summary.get("title") or "",
                summary.get("lead") or "",
                summary.get("body_html") or "",
            )
        return out

    @staticmethod
    def _list_args(summary: Summary, held: Held) -> tuple[list[str], list[Any]]:
        """The lists' step (``_LIST`` on ``{idx}``) of a put of ``summary`` (plain values)."""
        new_sets = sets_of(summary)
        old_sets = (
            [k for k in sets_of_record(held.record) if k not in new_sets] if held.record else []
        )
        score = int(datetime.fromisoformat(summary["updated_at"]).timestamp() * 1000)
        args: list[Any] = [summary["article_id"], summary["version"], held.record or ""]
        args += [record_of(summary), len(old_sets), len(new_sets), score]
        return [DOCNOS, SEQUENCE, LISTED, *old_sets, *new_sets], args

    def _args(self, summary: Summary, n: int, held: Summary | None) -> tuple[list[str], list[Any]]:
        """The bucket's step (``_PUT``) of a put of ``summary`` as article number ``n``."""
        out = self._normal(summary)
        bucket, terms = bucket_of(n), out["terms"]
        old_terms = list(held.get("terms") or []) if held else []
        leave = [t for t in old_terms if t not in terms]
        join = [t for t in terms if t not in old_terms]
        keys = [summaries_key(bucket), vocabulary_key(bucket)]
        keys += [term_key(t, bucket) for t in (*leave, *join)]
        seen = "" if held is None else str(held["version"])
        args: list[Any] = [n, encode_summary(out), out["version"], seen, len(leave), len(join)]
        return keys, [*args, *leave, *join]

    async def _state(self, ids: Sequence[str]) -> list[Held]:
        """What the index holds of these articles (two round trips: the lists, the buckets)."""
        rows = await self._read(keys=[DOCNOS, LISTED], args=list(ids))
        numbers = [int(rows[i]) if rows[i] else None for i in range(0, len(rows), 2)]
        records = [r.decode() if r else None for r in rows[1::2]]
        known = [n for n in numbers if n is not None]
        found = dict(zip(known, await self._by_number(known), strict=True))
        return [
            Held(n, record, found.get(n) if n is not None else None)
            for n, record in zip(numbers, records, strict=True)
        ]

    async def _held(self, ids: Sequence[str]) -> list[dict[str, Any] | None]:
        return [h.summary for h in await self._state(ids)]

    async def _by_number(self, members: Sequence[int | bytes]) -> list[dict[str, Any] | None]:
        """The summaries of these article numbers, in that order: one ``HMGET`` a bucket, all
        in one pipeline."""
        out: list[dict[str, Any] | None] = [None] * len(members)
        groups: dict[int, list[int]] = defaultdict(list)
        for i, m in enumerate(members):
            groups[bucket_of(m)].append(i)
        if not groups:
            return out
        order = list(groups.items())
        async with self.redis.pipeline(transaction=False) as pipe:
            for bucket, places in order:
                pipe.hmget(summaries_key(bucket), [members[i] for i in places])
            replies = await pipe.execute()
        for (_, places), values in zip(order, replies, strict=True):
            for i, raw in zip(places, values, strict=True):
                out[i] = decode_summary(raw) if raw else None
        return out

    async def put(self, article: Article) -> None:
        """Index one article as just written; never raises (the next rebuild repairs)."""
        try:
            await self.put_many([summary_of(article)])
        except Exception:
            log.exception("article not indexed", extra={"article_id": article.article_id})

    async def put_many(self, summaries: Iterable[Summary]) -> None:
        """Index summaries, a chunk at a time: read what is held, then put each (again, for a
        summary another writer changed in between)."""
        batch = list(summaries)
        for start in range(0, len(batch), PIPELINE_CHUNK):
            todo = batch[start : start + PIPELINE_CHUNK]
            for _ in range(5):
                held = await self._state([str(s["article_id"]) for s in todo])
                fresh = [
                    (summary, before)
                    for summary, before in zip(todo, held, strict=True)
                    if before.summary is None
                    or int(before.summary["version"]) < int(summary["version"])
                ]
                todo = await self._put_fresh(fresh)
                if not todo:
                    break
            else:
                log.warning("articles not indexed: changed under every try", extra={"n": len(todo)})

    async def _put_fresh(self, fresh: list[tuple[Summary, Held]]) -> list[Summary]:
        """The two steps of these puts (the lists', then the buckets'); -> those to try again."""
        plain = [self._normal(summary) for summary, _ in fresh]
        calls = [
            (self._list, *self._list_args(p, h)) for p, (_, h) in zip(plain, fresh, strict=True)
        ]
        numbers = [int(r) for r in await run_many(self.redis, calls)]
        again = [s for (s, _), n in zip(fresh, numbers, strict=True) if n < 0]
        ready = [
            (summary, p, n, held.summary)
            for (summary, held), p, n in zip(fresh, plain, numbers, strict=True)
            if n > 0
        ]
        puts = [(self._put, *self._args(p, n, before)) for _, p, n, before in ready]
        results = await run_many(self.redis, puts)
        return again + [s for (s, *_), r in zip(ready, results, strict=True) if int(r) == -1]

    async def drop_legacy(self) -> int:
        """Remove the keys of the index as it was before its hash tag, and before its buckets
        (then every key of the index: the rebuild that follows puts every article again)."""
        dropped = 0
        async for key in self.redis.scan_iter(match=LEGACY_PATTERN, count=1000):
            dropped += int(await self.redis.unlink(key))
        if await self.redis.exists(OLD_LAYOUT):
            async for key in self.redis.scan_iter(match=EVERY_KEY, count=1000):
                dropped += int(await self.redis.unlink(key))
        return dropped

    # --- reads ------------------------------------------------------------------------------

    async def search(
        self, query: ArticleQuery, *, viewer: str | None = None
    ) -> Page[dict[str, Any]]:
        """Summaries, newest change first, and how many match. ``viewer``: a contributor, who
        sees only their own articles and published ones."""
        published = ArticleStatus.PUBLISHED.value
        if viewer is not None and query.status != published and query.owner_id != viewer:
            if query.owner_id is None and query.status is None:
                return await self._own_or_published(query, viewer)
            if query.owner_id is None:  # a status other than published: their own only
                query = replace(query, owner_id=viewer)
            elif query.status is None:  # somebody else's: only what is published
                query = replace(query, status=published)
            else:
                return Page([], 0, query.page, query.per_page)
        start = (query.page - 1) * query.per_page
        found = await self._find(query, start, query.per_page)
        return await self._page(found, query)

    async def _own_or_published(self, query: ArticleQuery, viewer: str) -> Page[dict[str, Any]]:
        """A contributor's list: their own articles not published (few) merged by last change
        with the published ones that match."""
        start, size = (query.page - 1) * query.per_page, query.per_page
        published = replace(query, status=ArticleStatus.PUBLISHED.value)
        own = await self._find(
            replace(query, owner_id=viewer), 0, MAX_WALK, unless=status_key(published.status or "")
        )
        if query.text:  # a walk either way, bounded: the published ones from the top
            public = await self._find(published, 0, start + size)
            merged = list(heapq.merge(public.rows, own.rows, key=lambda row: -row[1]))
            rows = merged[start : start + size]
        else:
            public, rows = await self._merged_window(published, own.rows, start, size)
        total, exact = public.total + own.total, public.exact and own.exact
        return await self._page(Found(rows, total, exact), query)

    async def _merged_window(
        self, query: ArticleQuery, own: list[tuple[bytes, float]], start: int, size: int
    ) -> tuple[Found, list[tuple[bytes, float]]]:
        """Rows ``start`` to ``start + size`` of a sorted set's list merged with ``own`` (few),
        reading only that window of the set: an own row's place is its rank among the own ones
        plus how many of the set's are newer (``ZCOUNT``)."""
        key = (
            country_key(query.country, query.status)
            if query.country
            else status_key(query.status or "")
        )
        low = max(0, start - len(own))
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zrevrange(key, low, start + size - 1, withscores=True)
            pipe.zcard(key)
            for _, score in own:
                pipe.zcount(key, score, "+inf")  # a tie: the own one counts as older
            window, total, *newer = await pipe.execute()
        placed: list[tuple[int, bytes, float]] = []
        for j, (member, score) in enumerate(own):
            placed.append((j + int(newer[j]), member, score))
        scores = sorted(-s for _, s in own)
        for i, (member, score) in enumerate(cast("list[tuple[bytes, float]]", window)):
            placed.append((low + i + bisect.bisect_left(scores, -score), member, score))
        rows = [(m, s) for rank, m, s in sorted(placed) if start <= rank < start + size]
        return Found([], int(total), True), rows

    async def _page(self, found: Found, query: ArticleQuery) -> Page[dict[str, Any]]:
        items = await self._summaries([m for m, _ in found.rows])
        return Page(items, found.total, query.page, query.per_page, exact=found.exact)

    async def _find(
        self, query: ArticleQuery, start: int, count: int, unless: str | None = None
    ) -> Found:
        plan = await self._plan(query)
        try:
            if plan is None:
                return Found([], 0, True)
            if not plan.in_sorted and not plan.words and unless is None:
                async with self.redis.pipeline(transaction=False) as pipe:
                    pipe.zrevrange(plan.source, start, start + count - 1, withscores=True)
                    pipe.zcard(plan.source)
                    rows, total = await pipe.execute()
                return Found(cast("list[tuple[bytes, float]]", rows), int(total), True)
            return await self._walk(plan, start, count, unless)
        finally:
            if plan is not None and plan.temporary:
                await self.redis.unlink(*plan.temporary)

    async def _plan(self, query: ArticleQuery) -> Plan | None:
        """The sets a query reads, smallest first; None when a word stands for nothing."""
        sorted_sets = []
        if query.country:
            sorted_sets.append(country_key(query.country, query.status))
        elif query.status:
            sorted_sets.append(status_key(query.status))
        if query.owner_id:
            sorted_sets.append(owner_key(query.owner_id))
        words = await self._expand(query.text or "")
        if words is None:
            return None
        if not sorted_sets:
            sorted_sets.append(ALL)
        if len(sorted_sets) == 1 and not words:
            return Plan(sorted_sets[0])
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in sorted_sets:
                pipe.zcard(key)
            sizes = [int(n) for n in await pipe.execute()]
        by_size = sorted(zip(sizes, sorted_sets, strict=True))
        plan = Plan(by_size[0][1], [k for _, k in by_size[1:]])
        if by_size[0][0] == 0:
            return None
        totals: list[int] = []
        counts = await self._term_sizes([t for terms in words for t in terms])
        for n, terms in enumerate(words):  # the commonest first: a walk finds a hit sooner
            words[n] = sorted(terms, key=lambda t: -counts[t])
            totals.append(sum(counts[t] for t in terms))
        rarest = min(range(len(words)), key=lambda i: totals[i]) if words else None
        if rarest is not None and totals[rarest] <= min(MATERIALIZE, by_size[0][0]):
            await self._materialize(plan, words.pop(rarest))
        plan.words = words
        return plan

    async def _term_sizes(self, terms: list[str]) -> dict[str, int]:
        """How many articles have each word: one script a bucket counts its sets."""
        unique = list(dict.fromkeys(terms))
        if not unique:
            return {}
        calls: list[Call] = [
            (self._sizes, [term_key(t, bucket) for t in unique], []) for bucket in range(BUCKETS)
        ]
        counts = dict.fromkeys(unique, 0)
        for reply in await run_many(self.redis, calls):
            for term, size in zip(unique, reply, strict=True):
                counts[term] += int(size)
        return counts

    async def _expand(self, text: str) -> list[list[str]] | None:
        """Each word of a query as the words it stands for (itself and the words it begins, at
        most ``MAX_EXPANSIONS``, the first of every bucket's vocabulary merged); None if a word
        stands for none."""
        typed = list(dict.fromkeys(w[:MAX_TERM_LENGTH] for w in words_of(text)))
        meaningful = [w for w in typed if _meaningful(w)] or typed
        meaningful = meaningful[:MAX_QUERY_WORDS]
        if not meaningful:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for word in meaningful:
                low = b"[" + word.encode()
                for bucket in range(BUCKETS):
                    pipe.zrangebylex(vocabulary_key(bucket), low, low + b"\xff", 0, MAX_EXPANSIONS)
            found = await pipe.execute()
        out = []
        for i in range(len(meaningful)):
            replies = found[i * BUCKETS : (i + 1) * BUCKETS]
            terms = sorted({t for reply in replies for t in reply})[:MAX_EXPANSIONS]
            if not terms:
                return None
            out.append([t.decode() for t in terms])
        return out

    async def _materialize(self, plan: Plan, terms: list[str]) -> None:
        """The source becomes its members that have the word (a temporary sorted set): the
        word's articles read from every bucket, narrowed to the source on ``{idx}``."""
        narrowed = f"{PREFIX}:tmp:{uuid.uuid4().hex}"
        plan.temporary.append(narrowed)
        async with self.redis.pipeline(transaction=False) as pipe:
            for bucket in range(BUCKETS):
                pipe.sunion([term_key(t, bucket) for t in terms])
            replies = await pipe.execute()
        members = [m for reply in replies for m in reply]
        for start in range(0, len(members), PIPELINE_CHUNK):
            chunk = members[start : start + PIPELINE_CHUNK]
            await self._narrow(keys=[plan.source, narrowed], args=[TEMP_TTL_S, *chunk])
        plan.source = narrowed

    async def _walk(self, plan: Plan, start: int, count: int, unless: str | None) -> Found:
        """Walk ``plan.source`` newest first, a chunk at a time, keeping what every check
        passes, until ``start + count`` are found, the source ends, or ``MAX_WALK``. Sorted sets
        alone (no words): their total is counted exactly (``ZINTERCARD``, bounded)."""
        found = await self._walked(plan, start, count, unless)
        if found.exact or plan.words or unless is not None:
            return found
        keys = [plan.source, *plan.in_sorted]
        total = await self.redis.zintercard(len(keys), keys, limit=MAX_COUNT)
        return Found(found.rows, int(total), int(total) < MAX_COUNT)

    async def _walked(self, plan: Plan, start: int, count: int, unless: str | None) -> Found:
        """Sorted sets alone: one script walks the source server-side (one round trip, at most
        ``MAX_WALK`` members looked at, so Redis is held for a bounded time). With words: a
        chunk at a time, the script's matches then checked in their buckets."""
        keys = [plan.source, *plan.in_sorted, *([unless] if unless else [])]
        checks = [len(plan.in_sorted), 1 if unless else 0]
        if not plan.words:
            args = [start, count, MAX_WALK, WALK_CHUNK, *checks, 0]
            matched, offset, size, rows = await self._walk_script(keys=keys, args=args)
            pairs = [(rows[i], float(rows[i + 1])) for i in range(0, len(rows), 2)]
            return Found(pairs, int(matched), int(offset) >= int(size))
        out: list[tuple[bytes, float]] = []
        matched, offset, size = 0, 0, 1
        while offset < size and offset < MAX_WALK and matched <= start + count:
            args = [offset, 0, MAX_WALK, WALK_CHUNK, *checks, 1]
            _, walked, size, rows = await self._walk_script(keys=keys, args=args)
            if int(walked) <= offset:  # the source ended (or shrank) meanwhile
                break
            offset, size = int(walked), int(size)
            have = await self._having(rows[0::2], plan.words)
            for member, score in zip(rows[0::2], rows[1::2], strict=True):
                if member in have:
                    if start <= matched < start + count:
                        out.append((member, float(score)))
                    matched += 1
        return Found(out, matched, offset >= size)

    async def _having(self, members: list[bytes], words: list[list[str]]) -> set[bytes]:
        """The members that have every word (one of its words' sets): one script a bucket."""
        groups: dict[int, list[bytes]] = defaultdict(list)
        for m in members:
            groups[bucket_of(m)].append(m)
        calls: list[Call] = []
        for bucket, mine in groups.items():
            keys = [term_key(t, bucket) for terms in words for t in terms]
            args = [len(words), *(len(terms) for terms in words), *mine]
            calls.append((self._have, keys, args))
        return {m for reply in await run_many(self.redis, calls) for m in reply}

    async def summaries(self, ids: list[str]) -> list[dict[str, Any]]:
        """The summaries of these articles (those indexed), in that order."""
        out = []
        for start in range(0, len(ids), PIPELINE_CHUNK):
            for held in await self._state(ids[start : start + PIPELINE_CHUNK]):
                if held.summary is not None:
                    held.summary.pop("terms", None)
                    out.append(held.summary)
        return out

    async def _summaries(self, members: list[bytes]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for start in range(0, len(members), 1000):
            for row in await self._by_number(members[start : start + 1000]):
                if row is not None:
                    row.pop("terms", None)
                    out.append(row)
        return out
