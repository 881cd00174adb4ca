"""The editors' article list, indexed in Redis (MongoDB stays the truth): a repository of
article summaries, their filters and a word index, so that every list and search of 100,000
articles is answered from a few bounded Redis reads.

On FerretDB a listing read from the articles themselves is a full scan with every document
decoded: about 3 s for 6,300 articles. Here every article has a small number (``docnos``: its id
-> n, handed out once) and, under that number:

- its summary (one hash, ``summaries``: n -> JSON);
- its place in sorted sets scored by its last change: every article, per status, per country,
  per status and country, per owner; a list filtered by status and country is one of them, so a
  page is one ``ZREVRANGE`` and its total one ``ZCARD``;
- a word index: each word of the title, the lead and the start of the body (distinct words,
  ``MAX_TERMS`` at most, short words of no meaning left out) is a set of the articles that have
  it, and the vocabulary (one sorted set read by ``ZRANGEBYLEX``) turns a typed prefix into at
  most ``MAX_EXPANSIONS`` words.

A search (``search``) starts from the smallest set that must hold every result (the filter's
sorted set, or the articles of the rarest word when there are few of them: at most
``MATERIALIZE``, intersected once) and walks it newest first, keeping the articles that are in
every other set asked for, in one Lua script (one round trip), until the page is full. The walk
is bounded (``MAX_WALK`` members looked at, so Redis is held for a bounded time): past that the
page says how many it found, not how many there are (``Page.exact`` is False); a list of filters
alone counts its total exactly (``ZINTERCARD``, bounded).

Every write of an article puts its summary afterwards (``ArticleRepository``): one Lua script
that keeps the newer version only (a late or repeated put never rolls the index back), moves the
number between the sets and the word sets, and refuses (to be retried) if the summary changed
since it was read. A crash between the MongoDB write and the put leaves the index behind until
the next rebuild: every start of the service rebuilds it in the background from a scan of the
articles (``ArticleRepository.rebuild_index``); a rebuild over an index already up to date
changes nothing.

Every key shares the hash tag ``{idx}`` and every script gets each key it touches in ``KEYS``,
so the index runs on Redis Cluster unchanged (on one node).
"""

import bisect
import heapq
import json
import logging
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, cast

from redis.asyncio import Redis

from xabar.publisher.content import html_to_text
from xabar.publisher.domain import Article, ArticleQuery, ArticleStatus, Page
from xabar.runtime.luascripts import run_many

log = logging.getLogger("xabar.publisher.index")

PREFIX = "xabar:publisher:{idx}"
LEGACY_PATTERN = "xabar:publisher:idx:*"  # the keys of the index before its hash tag
SUMMARIES = f"{PREFIX}:summaries"
DOCNOS = f"{PREFIX}:docnos"
SEQUENCE = f"{PREFIX}:seq"
VOCABULARY = f"{PREFIX}:vocabulary"
ALL = f"{PREFIX}:all"
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
MAX_WALK = 20_000  # articles looked at, at most, for one page (one script: Redis is held)
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

# KEYS: summaries, docnos, sequence, vocabulary, then the sets to leave, the sets to join, the
# word sets to leave, the word sets to join. ARGV: id, summary json, version, score, the version
# read before ("" if none), the four counts, then the words left and the words joined.
_PUT = """
local n = redis.call('HGET', KEYS[2], ARGV[1])
local current = false
if n then current = redis.call('HGET', KEYS[1], n) end
if current then
  local held = cjson.decode(current)['version']
  if tostring(held) ~= ARGV[5] then return -1 end
  if tonumber(held) >= tonumber(ARGV[3]) then return 0 end
elseif ARGV[5] ~= '' then
  return -1
end
if not n then
  n = redis.call('INCR', KEYS[3])
  redis.call('HSET', KEYS[2], ARGV[1], n)
end
local k, a = 5, 10
for _ = 1, tonumber(ARGV[6]) do redis.call('ZREM', KEYS[k], n); k = k + 1 end
for _ = 1, tonumber(ARGV[7]) do redis.call('ZADD', KEYS[k], ARGV[4], n); k = k + 1 end
for _ = 1, tonumber(ARGV[8]) do
  redis.call('SREM', KEYS[k], n)
  if redis.call('SCARD', KEYS[k]) == 0 then redis.call('ZREM', KEYS[4], ARGV[a]) end
  k, a = k + 1, a + 1
end
for _ = 1, tonumber(ARGV[9]) do
  redis.call('SADD', KEYS[k], n)
  redis.call('ZADD', KEYS[4], 0, ARGV[a])
  k, a = k + 1, a + 1
end
redis.call('HSET', KEYS[1], n, ARGV[2])
return 1
"""

# KEYS: docnos, summaries. ARGV: article ids. -> for each: its summary json or false
_READ = """
local out = {}
for i, id in ipairs(ARGV) do
  local n = redis.call('HGET', KEYS[1], id)
  out[i] = n and redis.call('HGET', KEYS[2], n) or false
end
return out
"""


# KEYS: the source (a sorted set, walked newest first), the sorted sets a member must be in, the
# one it must not be in (if any), then each word's sets (a member must be in one of each word's).
# ARGV: start, count, the most members to look at, chunk, how many sorted sets, 1 if a set to
# avoid, how many words, then each word's number of sets.
# -> {how many matched, 1 if the whole source was walked, member, score, member, score...}
_WALK = """
local start, count = tonumber(ARGV[1]), tonumber(ARGV[2])
local limit, chunk = tonumber(ARGV[3]), tonumber(ARGV[4])
local ns, nu, nw = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local words, k = {}, 2 + ns + nu
for w = 1, nw do
  local group = {}
  for i = 1, tonumber(ARGV[7 + w]) do group[i] = KEYS[k]; k = k + 1 end
  words[w] = group
end
local size = redis.call('ZCARD', KEYS[1])
local out, matched, offset = {}, 0, 0
while offset < size and offset < limit and matched <= start + count do
  local rows = redis.call('ZREVRANGE', KEYS[1], offset, offset + chunk - 1, 'WITHSCORES')
  if #rows == 0 then break end
  for i = 1, #rows, 2 do
    local m, ok = rows[i], true
    for s = 1, ns do
      if not redis.call('ZSCORE', KEYS[1 + s], m) then ok = false; break end
    end
    if ok and nu == 1 and redis.call('ZSCORE', KEYS[2 + ns], m) then ok = false end
    if ok then
      for w = 1, nw do
        local hit = false
        for _, key in ipairs(words[w]) do
          if redis.call('SISMEMBER', key, m) == 1 then hit = true; break end
        end
        if not hit then ok = false; break end
      end
    end
    if ok then
      if matched >= start and matched < start + count then
        out[#out + 1] = m
        out[#out + 1] = rows[i + 1]
      end
      matched = matched + 1
    end
  end
  offset = offset + #rows / 2
end
return {matched, offset >= size and 1 or 0, out}
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


def status_key(status: str) -> str:
    return f"{PREFIX}:status:{status}"


def country_key(country: str, status: str | None = None) -> str:
    return (
        f"{PREFIX}:status:{status}:country:{country}" if status else f"{PREFIX}:country:{country}"
    )


def owner_key(owner_id: str) -> str:
    return f"{PREFIX}:owner:{owner_id}"


def term_key(term: str) -> str:
    return f"{PREFIX}:term:{term}"


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
    every sorted set of ``in_sorted`` and, for each word, in one of its word sets."""

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


class ArticleIndex:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._put = redis.register_script(_PUT)
        self._read = redis.register_script(_READ)
        self._walk_script = redis.register_script(_WALK)

    # --- writes -----------------------------------------------------------------------------

    def _args(self, summary: Summary, held: Summary | None) -> tuple[list[str], list[Any]]:
        out = {f: _iso(summary.get(f)) for f in SUMMARY_FIELDS}
        out["article_id"] = str(summary["article_id"])
        out["countries"] = list(summary.get("countries") or [])
        if "terms" in summary:
            terms = list(summary["terms"] or [])
        else:  # a document as stored (title, lead, body), not a summary
            terms = search_terms(
                summary.get("title") or "",
                summary.get("lead") or "",
                summary.get("body_html") or "",
            )
        out["terms"] = terms
        new_sets = sets_of(out)
        old_sets = [k for k in sets_of(held) if k not in new_sets] if held else []
        old_terms = set(held.get("terms") or []) if held else set()
        leave = [t for t in old_terms if t not in terms]
        join = [t for t in terms if t not in old_terms]
        keys = [SUMMARIES, DOCNOS, SEQUENCE, VOCABULARY, *old_sets, *new_sets]
        keys += [term_key(t) for t in (*leave, *join)]
        score = int(summary["updated_at"].timestamp() * 1000)
        seen = "" if held is None else str(held["version"])
        args: list[Any] = [out["article_id"], json.dumps(out, ensure_ascii=False)]
        args += [out["version"], score, seen, len(old_sets), len(new_sets), len(leave), len(join)]
        return keys, [*args, *leave, *join]

    async def _held(self, ids: Sequence[str]) -> list[dict[str, Any] | None]:
        rows = await self._read(keys=[DOCNOS, SUMMARIES], args=list(ids))
        return [json.loads(r) if r else None for r in rows]

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
                held = await self._held([str(s["article_id"]) for s in todo])
                fresh = [
                    (summary, before)
                    for summary, before in zip(todo, held, strict=True)
                    if before is None or int(before["version"]) < int(summary["version"])
                ]
                todo = [summary for summary, _ in fresh]
                if not todo:
                    break
                calls = [(self._put, *self._args(s, before)) for s, before in fresh]
                results = await run_many(self.redis, calls)
                todo = [s for s, r in zip(todo, results, strict=True) if r == -1]
                if not todo:
                    break
            else:
                log.warning("articles not indexed: changed under every try", extra={"n": len(todo)})

    async def drop_legacy(self) -> int:
        """Remove the keys of the index as it was before its hash tag (once, at a rebuild)."""
        dropped = 0
        async for key in self.redis.scan_iter(match=LEGACY_PATTERN, count=1000):
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
            for keys in words:
                for key in keys:
                    pipe.scard(key)
            sizes = [int(n) for n in await pipe.execute()]
        by_size = sorted(zip(sizes[: len(sorted_sets)], sorted_sets, strict=True))
        plan = Plan(by_size[0][1], [k for _, k in by_size[1:]])
        if by_size[0][0] == 0:
            return None
        counts = sizes[len(sorted_sets) :]
        totals: list[int] = []
        for n, keys in enumerate(words):  # the commonest first: a walk finds a hit sooner
            sized = sorted(zip(counts[: len(keys)], keys, strict=True), reverse=True)
            words[n] = [key for _, key in sized]
            totals.append(sum(c for c, _ in sized))
            counts = counts[len(keys) :]
        rarest = min(range(len(words)), key=lambda i: totals[i]) if words else None
        if rarest is not None and totals[rarest] <= min(MATERIALIZE, by_size[0][0]):
            await self._materialize(plan, words.pop(rarest))
        plan.words = words
        return plan

    async def _expand(self, text: str) -> list[list[str]] | None:
        """Each word of a query as the word sets it stands for (itself and the words it begins,
        at most ``MAX_EXPANSIONS``); None if a word stands for none."""
        typed = list(dict.fromkeys(w[:MAX_TERM_LENGTH] for w in words_of(text)))
        meaningful = [w for w in typed if _meaningful(w)] or typed
        meaningful = meaningful[:MAX_QUERY_WORDS]
        if not meaningful:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for word in meaningful:
                low = b"[" + word.encode()
                pipe.zrangebylex(VOCABULARY, low, low + b"\xff", 0, MAX_EXPANSIONS)
            found = await pipe.execute()
        out = [[term_key(t.decode()) for t in terms] for terms in found]
        return None if any(not keys for keys in out) else out

    async def _materialize(self, plan: Plan, keys: list[str]) -> None:
        """The source becomes its members that have the word (a temporary sorted set)."""
        union = f"{PREFIX}:tmp:{uuid.uuid4().hex}"
        narrowed = f"{PREFIX}:tmp:{uuid.uuid4().hex}"
        plan.temporary += [union, narrowed]
        async with self.redis.pipeline(transaction=False) as pipe:
            if len(keys) == 1:
                pipe.zinterstore(narrowed, {plan.source: 1, keys[0]: 0})
            else:
                pipe.sunionstore(union, keys)
                pipe.zinterstore(narrowed, {plan.source: 1, union: 0})
                pipe.expire(union, TEMP_TTL_S)
            pipe.expire(narrowed, TEMP_TTL_S)
            await pipe.execute()
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
        """One script walks the source server-side (one round trip, at most ``MAX_WALK``
        members looked at, so Redis is held for a bounded time)."""
        keys = [plan.source, *plan.in_sorted, *([unless] if unless else [])]
        for group in plan.words:
            keys += group
        args: list[Any] = [start, count, MAX_WALK, WALK_CHUNK, len(plan.in_sorted)]
        args += [1 if unless else 0, len(plan.words), *(len(g) for g in plan.words)]
        matched, exhausted, rows = await self._walk_script(keys=keys, args=args)
        pairs = [(rows[i], float(rows[i + 1])) for i in range(0, len(rows), 2)]
        return Found(pairs, int(matched), bool(exhausted))

    async def summaries(self, ids: list[str]) -> list[dict[str, Any]]:
        """The summaries of these articles (those indexed), in that order."""
        out = []
        for start in range(0, len(ids), PIPELINE_CHUNK):
            for row in await self._held(ids[start : start + PIPELINE_CHUNK]):
                if row is not None:
                    row.pop("terms", None)
                    out.append(row)
        return out

    async def _summaries(self, members: list[bytes]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for start in range(0, len(members), 1000):
            chunk = members[start : start + 1000]
            if not chunk:
                continue
            for raw in await self.redis.hmget(SUMMARIES, chunk):
                if raw is not None:
                    row = json.loads(raw)
                    row.pop("terms", None)
                    out.append(row)
        return out
