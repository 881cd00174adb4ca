"""The read model's Redis layout and the Lua scripts that write and read it.

Global keys (prefix ``{feed}:``)::

    {feed}:current      name of the generation pages are served from, e.g. "g3"
    {feed}:building     generation a running ``rebuild`` fills (expires unless refreshed)
    {feed}:genseq       counter naming new generations
    {feed}:rev          revision: +1 whenever served content changes (page caches watch it); each
                      new value is also published on the pub/sub channel of the same name

Per generation ``G``, the articles' documents, spread over ``DOC_BUCKETS`` buckets of their
own hash tag (``{feed.dN}``, N = crc32(article id) mod ``DOC_BUCKETS``: on a cluster they spread
over every master)::

    {feed.dN}:G:a  hash  article_id -> "VERSION:" then the ArticleDoc JSON, zlib-compressed;
                         "VERSION:" alone once unpublished (a tombstone: the version gate)

Per generation ``G`` (prefix ``{feed}:G:``): the lists and indexes::

    v       hash   article_id -> version last applied (kept after unpublishing: a tombstone)
    sl      hash   article_id -> current slug
    m       hash   article_id -> the lists it is in and its updated_at (RFC 3339, as in its
                   document: sitemaps' lastmod): "KZ,TJ|1|TJ|2026-02-17T07:58:00Z|tag RS tag"
                   (countries|featured|featured in|updated_at|tags joined by RS, \x1e)
    s       hash   slug -> article_id (old slugs too, so they can redirect; an unpublished
                   article's too: its page answers 410 Gone)
    z:t:TAG zset   the articles of a tag, by published_at
    z:all   zset   article_id scored by published_at (ms): the news list, newest first
    z:c:KZ  zset   the same per country section
    z:f     zset   featured ("Новость дня") articles by published_at; the top one is shown
    z:f:KZ  zset   featured articles of a country section
    p       hash   poll_id -> PollDoc JSON          pv  hash poll_id -> version of the poll state
    t       hash   poll_id -> TallyDoc JSON         tv  hash poll_id -> version of the tally
    z:polls zset   poll_id scored by opens_at (ms)  z:polls:c:KZ  the same per country
    z:polls:front  the polls shown on the front page  z:polls:a:ID  those embedded in article ID
    pm      hash   poll_id -> its countries (comma-joined)
    pp      hash   poll_id -> "front 0/1|article ids joined by RS": where it is placed
    cp      hash   country code -> CountryProfileDoc JSON ("О стране")  cv  its version
    k       hash   comment_id -> CommentDoc JSON (approved comments only)
    kv      hash   comment_id -> version last applied (kept after removal: a tombstone)
    kx      hash   comment_id -> "article_id US parent_id US stamp US member": where it is shown
    k:a:ID  zset   the approved comments of article ID in reading order, all scored 0, so that
                   they sort by member: a thread's first comment is "stamp id \1" (stamp: its
                   published_at in ms, 13 digits), each reply in it that prefix followed by the
                   reply's own "stamp id". Oldest thread first, its replies under it, oldest
                   first; ZCARD is the article's comment count
    k:w:ID  set    the comments whose parent_id is ID (shown or not yet): who moves when ID comes
                   or goes
    lm      string newest ``occurred_at`` (ms) of the events applied: Last-Modified

Events are applied by the ``APPLY`` script, many per call: for each event it compares the event's
version with the stored one and changes nothing unless it is newer, and writes everything the
event changes in the lists in that one call. An article's document is written apart, by
``PUT_DOCS`` in its bucket, gated by the version stored with it: before ``APPLY`` for an upsert
(a list never names an article whose document is not there yet), after it for an unpublish (a
list never names a document that is gone). Each step is idempotent on its own, so a crash
between them is repaired when the event is delivered again (``xabar.feed.projector``). Poll
state (opened/closed) and poll tallies are gated separately, so the order between the two kinds
never matters.

Comments: replies are shown one level deep. A shown comment whose parent is shown (on the same
article) goes into its parent's thread (the thread of the parent's first comment, however deep
the parent was); any other starts a thread of its own. That is a function of which comments are
shown, not of the order they came in: when a comment comes or goes, its descendants (``k:w``)
are placed again, parents first, so a reply approved before its parent joins it once the parent
comes, and the replies of a removed comment start threads of their own.

Every key but the documents' begins with ``{feed}:`` (``BASE``) and so shares the hash tag
``{feed}``: on Redis Cluster the lists are one slot, on one master (and its replicas), the
documents (most of the bytes) spread over all of them. A page is two round trips: one script
reads the list's ids, the featured article, the poll and the comment counts in one consistent
step; then the documents of those ids are read from their buckets (one pipeline, in parallel
per node). Every event is one atomic write of the lists whatever lists it moves an article
between. Each script gets ``BASE`` as its last KEYS entry and builds the
generation's keys from it (``BASE .. generation .. ':' ..``): the names of a country's, a tag's
or an article's keys are only known inside the script, but all of them are in the declared slot.
What that puts on one node is a bench figure (``python -m xabar.devstack memory``, see
``docs/redis-keys.md``); the streams, the other services' keys and the page caches' traffic are
elsewhere, and replicas serve the read scripts of the feed's replicas.
"""

import zlib

TAG = "{feed}"  # the hash tag of the lists and indexes of the read model: one slot
BASE = f"{TAG}:"  # the prefix of every key; scripts get it as their last KEYS entry
CURRENT = f"{BASE}current"
BUILDING = f"{BASE}building"
GENSEQ = f"{BASE}genseq"
REV = f"{BASE}rev"
DOC_BUCKETS = 256  # buckets of the articles' documents, each its own slot: {feed.d0} ...
DOC_PATTERN = "{feed.d*}:g*:*"  # every bucket key of every generation


def doc_bucket(article_id: str) -> int:
    return zlib.crc32(article_id.encode()) % DOC_BUCKETS


def doc_key(bucket: int, generation: str) -> str:
    """The documents of the articles of ``bucket`` in ``generation``."""
    return f"{{feed.d{bucket}}}:{generation}:a"


# Writes documents into one bucket, version-gated: KEYS: the bucket's document hash of each
# generation to write (the served one and one being rebuilt, or the one a rebuild fills).
# ARGV: triples of article id, version, document ("" for an unpublish: the tombstone "VERSION:").
# Returns how many (document, generation) pairs changed.
PUT_DOCS = r"""
local changed = 0
for i = 1, #ARGV, 3 do
  local id, version, doc = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2]
  for k = 1, #KEYS do
    local held = redis.call('HGET', KEYS[k], id)
    local at = held and string.find(held, ':', 1, true)
    if not held or version > tonumber(string.sub(held, 1, at - 1)) then
      redis.call('HSET', KEYS[k], id, version .. ':' .. doc)
      changed = changed + 1
    end
  end
end
return changed
"""

# The generations an event goes to: the served one (named and created if there is none yet)
# and the one being rebuilt, if any. Returns {current, building or false}.
GENERATIONS = r"""
local cur = redis.call('GET', KEYS[1])
if not cur then
  cur = 'g' .. redis.call('INCR', KEYS[3])
  redis.call('SET', KEYS[1], cur)
end
local building = redis.call('GET', KEYS[2])
if building == cur then building = false end
return {cur, building}
"""
GENERATIONS_KEYS = [CURRENT, BUILDING, GENSEQ]

# Applies a batch of events, each on its own: one event's failure neither stops nor undoes the
# others (each runs under pcall; like any Redis script, a failing one keeps what it wrote before
# failing, which its redelivery, version-gated, completes).
# ARGV[1] target: "" = live: apply to the current generation (created if missing) and to the one
#   being rebuilt, then bump the revision once if the current one changed; else the generation to
#   fill (a rebuild: the revision is left alone).
# ARGV[2k], ARGV[2k+1] (k = 1, 2, ...): event k's header and document.
#   header: fields joined by US (\x1f): kind, id, version, occurred_ms, then by kind
#   A (article upsert): slug, published_ms, countries, featured 0/1, featured countries, tags
#                       (joined by RS, \x1e), updated_at (as in the document)
#   U (unpublish):      -
#   P (poll state):     opens_ms, countries
#   T (poll tally):     -
#   C (country profile): -
#   K (comment published): article id, parent id or "", stamp (published_at in ms, 13 digits)
#   X (comment removed): -
#   (country lists are comma-joined ISO codes)
#   document: the document JSON (P, T, C, K), else "" (A: its document goes to its bucket,
#   ``PUT_DOCS``; U, X).
# The new revision is also PUBLISHed on the channel named like the revision key.
# Returns {revision after the batch or 0 if nothing served changed, outcome of event 1, ...}:
#   1 = changed the target/current generation, 0 = changed nothing (duplicate or older version),
#   a string = the error event k failed with.
APPLY = r"""
local target = ARGV[1]

local function split(s)
  local out = {}
  for c in string.gmatch(s or '', '[^,]+') do out[#out + 1] = c end
  return out
end

local RS = '\30'

local function split_by(s, sep)
  local out, at = {}, 1
  if not s or s == '' then return out end
  while true do
    local stop = string.find(s, sep, at, true)
    if not stop then
      out[#out + 1] = string.sub(s, at)
      return out
    end
    out[#out + 1] = string.sub(s, at, stop - 1)
    at = stop + 1
  end
end

local function newer(P, vkey, id, version)
  return version > tonumber(redis.call('HGET', P .. vkey, id) or '0')
end

-- the lists an article is in, as written by its last upsert:
-- "countries|featured|fcountries|updated_at|tags joined by RS" (entries written before tags
-- and updated_at have only the first three)
local function unlist_article(P, id)
  local m = redis.call('HGET', P .. 'm', id)
  if not m then return end
  local countries, featured, fcountries, rest = string.match(m, '^([^|]*)|([^|]*)|([^|]*)(.*)$')
  redis.call('ZREM', P .. 'z:all', id)
  if featured == '1' then redis.call('ZREM', P .. 'z:f', id) end
  for _, c in ipairs(split(countries)) do redis.call('ZREM', P .. 'z:c:' .. c, id) end
  for _, c in ipairs(split(fcountries)) do redis.call('ZREM', P .. 'z:f:' .. c, id) end
  local tags = string.match(rest or '', '^|[^|]*|(.*)$')
  for _, t in ipairs(split_by(tags, RS)) do redis.call('ZREM', P .. 'z:t:' .. t, id) end
  redis.call('HDEL', P .. 'm', id)
end

local function unplace_poll(P, id)
  local placed = redis.call('HGET', P .. 'pp', id)
  if not placed then return end
  local front, articles = string.match(placed, '^([01])|(.*)$')
  if front == '1' then redis.call('ZREM', P .. 'z:polls:front', id) end
  for _, a in ipairs(split_by(articles, RS)) do redis.call('ZREM', P .. 'z:polls:a:' .. a, id) end
end

local function place_poll(P, id, doc, score)
  unplace_poll(P, id)
  local poll = cjson.decode(doc)
  local front = poll['front_page'] ~= false
  local articles = poll['article_ids'] or {}
  if type(articles) ~= 'table' then articles = {} end
  if front then redis.call('ZADD', P .. 'z:polls:front', score, id) end
  for _, a in ipairs(articles) do redis.call('ZADD', P .. 'z:polls:a:' .. a, score, id) end
  redis.call('HSET', P .. 'pp', id, (front and '1' or '0') .. '|' .. table.concat(articles, RS))
end

-- comments: a shown comment's place is recorded in kx as {article, parent, stamp, member}
local SEP = '\1'
local MAX_MOVED = 10000  -- descendants placed again per event, at most

local function kx_get(P, id)
  local raw = redis.call('HGET', P .. 'kx', id)
  if not raw then return nil end
  local f = split_by(raw, '\31')
  return {article = f[1], parent = f[2] or '', stamp = f[3], member = f[4] or ''}
end

local function kx_set(P, id, x)
  redis.call('HSET', P .. 'kx', id, table.concat({x.article, x.parent, x.stamp, x.member}, '\31'))
end

-- the comment's member: in its parent's thread when the parent is shown on the same article
-- (and is not in this comment's own thread), else the first of a thread of its own
local function place(P, id, x)
  local own = x.stamp .. id
  local member = own .. SEP
  if x.parent ~= '' then
    local p = kx_get(P, x.parent)
    if p and p.article == x.article then
      local thread = string.sub(p.member, 1, string.find(p.member, SEP, 1, true))
      if thread ~= member then member = thread .. own end
    end
  end
  if member == x.member then return end
  local list = P .. 'k:a:' .. x.article
  if x.member ~= '' then redis.call('ZREM', list, x.member) end
  redis.call('ZADD', list, 0, member)
  x.member = member
  kx_set(P, id, x)
end

-- place the descendants of id again, parents before children
local function place_descendants(P, id)
  local queue, seen, i = {id}, {[id] = true}, 1
  while i <= #queue and #queue <= MAX_MOVED do
    for _, c in ipairs(redis.call('SMEMBERS', P .. 'k:w:' .. queue[i])) do
      if not seen[c] then
        seen[c] = true
        local x = kx_get(P, c)
        if x then
          place(P, c, x)
          queue[#queue + 1] = c
        end
      end
    end
    i = i + 1
  end
end

local function hide_comment(P, id, x)
  redis.call('ZREM', P .. 'k:a:' .. x.article, x.member)
  redis.call('HDEL', P .. 'kx', id)
  redis.call('HDEL', P .. 'k', id)
  if x.parent ~= '' then redis.call('SREM', P .. 'k:w:' .. x.parent, id) end
end

local function show_comment(P, id, h, doc)
  local article, parent, stamp = h[5], h[6] or '', h[7]
  if not article or article == '' or not stamp then error('malformed comment header') end
  local x = kx_get(P, id)
  if x and (x.article ~= article or x.parent ~= parent or x.stamp ~= stamp) then
    hide_comment(P, id, x)  -- moved: a producer's correction; shown again where it says now
    place_descendants(P, id)
    x = nil
  end
  if not x then
    x = {article = article, parent = parent, stamp = stamp, member = ''}
    if parent ~= '' then redis.call('SADD', P .. 'k:w:' .. parent, id) end
  end
  redis.call('HSET', P .. 'k', id, doc)
  place(P, id, x)
  place_descendants(P, id)
end

-- The version is recorded after the event's other writes: an event that fails midway (they
-- stay, as a script's writes do) is applied whole again when it is delivered again.
local function apply(P, h, doc)
  local kind, id, version, occurred = h[1], h[2], tonumber(h[3]), tonumber(h[4])
  if not id or not version or not occurred then error('malformed header') end
  local vkey
  if kind == 'A' then
    vkey = 'v'
    if not newer(P, vkey, id, version) then return 0 end
    local slug, score, featured = h[5], h[6], h[8]
    unlist_article(P, id)
    redis.call('HSET', P .. 's', slug, id)
    redis.call('HSET', P .. 'sl', id, slug)
    redis.call('ZADD', P .. 'z:all', score, id)
    for _, c in ipairs(split(h[7])) do redis.call('ZADD', P .. 'z:c:' .. c, score, id) end
    if featured == '1' then redis.call('ZADD', P .. 'z:f', score, id) end
    for _, c in ipairs(split(h[9])) do redis.call('ZADD', P .. 'z:f:' .. c, score, id) end
    local tags = {}
    for _, t in ipairs(split_by(h[10], RS)) do
      if t ~= '' then
        redis.call('ZADD', P .. 'z:t:' .. t, score, id)
        tags[#tags + 1] = t
      end
    end
    local listed = h[7] .. '|' .. featured .. '|' .. h[9] .. '|' .. (h[11] or '')
    redis.call('HSET', P .. 'm', id, listed .. '|' .. table.concat(tags, RS))
  elseif kind == 'U' then
    vkey = 'v'
    if not newer(P, vkey, id, version) then return 0 end
    unlist_article(P, id)
    redis.call('HDEL', P .. 'sl', id)  -- its slugs stay in s: their pages answer 410 Gone
  elseif kind == 'P' then
    vkey = 'pv'
    if not newer(P, vkey, id, version) then return 0 end
    local score = h[5]
    redis.call('HSET', P .. 'p', id, doc)
    redis.call('ZADD', P .. 'z:polls', score, id)
    local old = redis.call('HGET', P .. 'pm', id)
    for _, c in ipairs(split(old)) do redis.call('ZREM', P .. 'z:polls:c:' .. c, id) end
    for _, c in ipairs(split(h[6])) do redis.call('ZADD', P .. 'z:polls:c:' .. c, score, id) end
    redis.call('HSET', P .. 'pm', id, h[6])
    place_poll(P, id, doc, score)
  elseif kind == 'T' then
    vkey = 'tv'
    if not newer(P, vkey, id, version) then return 0 end
    redis.call('HSET', P .. 't', id, doc)
  elseif kind == 'C' then
    vkey = 'cv'
    if not newer(P, vkey, id, version) then return 0 end
    redis.call('HSET', P .. 'cp', id, doc)
  elseif kind == 'K' then
    vkey = 'kv'
    if not newer(P, vkey, id, version) then return 0 end
    show_comment(P, id, h, doc)
  elseif kind == 'X' then
    vkey = 'kv'
    if not newer(P, vkey, id, version) then return 0 end
    local x = kx_get(P, id)
    if x then
      hide_comment(P, id, x)
      place_descendants(P, id)
    end
  else
    error('unknown kind ' .. tostring(kind))
  end
  local lm = tonumber(redis.call('GET', P .. 'lm') or '0')
  if occurred > lm then redis.call('SET', P .. 'lm', occurred) end
  redis.call('HSET', P .. vkey, id, version)
  return 1
end

local first, second = false, false  -- the generation(s) each event goes to
if target ~= '' then
  first = KEYS[5] .. target .. ':'
else
  local cur = redis.call('GET', KEYS[1])
  if not cur then
    cur = 'g' .. redis.call('INCR', KEYS[3])
    redis.call('SET', KEYS[1], cur)
  end
  first = KEYS[5] .. cur .. ':'
  local building = redis.call('GET', KEYS[2])
  if building and building ~= cur then second = KEYS[5] .. building .. ':' end
end

local function one(header, doc)
  local h = split_by(header, '\31')
  local applied = apply(first, h, doc)
  if second then apply(second, h, doc) end
  return applied
end

local out, changed = {0}, false
for i = 2, #ARGV - 1, 2 do
  local ok, result = pcall(one, ARGV[i], ARGV[i + 1])
  if ok then
    out[#out + 1] = result
    if result == 1 then changed = true end
  else
    if type(result) == 'table' then result = result.err or result.message end
    out[#out + 1] = 'ERR ' .. tostring(result)
  end
end
if changed and target == '' then
  out[1] = redis.call('INCR', KEYS[4])
  redis.call('PUBLISH', KEYS[4], out[1])  -- replicas' page caches hear it at once
end
return out
"""
APPLY_KEYS = [CURRENT, BUILDING, GENSEQ, REV, BASE]

# Switch the served generation to ARGV[1] if the caller still holds the build lock.
# Returns {previous generation or false, new revision}.
SWITCH = r"""
if redis.call('GET', KEYS[2]) ~= ARGV[1] then
  return redis.error_reply('LOSTLOCK the build lock is no longer held by ' .. ARGV[1])
end
local previous = redis.call('GET', KEYS[1])
redis.call('SET', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
local rev = redis.call('INCR', KEYS[3])
redis.call('PUBLISH', KEYS[3], rev)
return {previous, rev}
"""
SWITCH_KEYS = [CURRENT, BUILDING, REV]

# A reply's tail of pairs: a[1], b[1], a[2], b[2], ... for the #a entries of a (b as long).
APPEND_PAIRS = r"""
local function append_pairs(out, a, b)
  for i = 1, #a do
    out[#out + 1] = a[i]
    out[#out + 1] = b[i]
  end
end
"""

# Read one list page of the served generation, with what pages show beside it.
# ARGV: list suffix, start, stop, featured suffix or "", poll suffix or "", "1" to leave the
# featured article out of the items (the front page shows it above the list), a country code
# whose profile to read or "".
# Returns {generation, revision, total, lm, featured id, poll doc, tally doc, profile doc,
# the featured article's comment count, then per item its id and its comment count}. The poll
# is the newest of the given poll list (where the polls say they are shown). The documents of
# the ids are read from their buckets next (``xabar.feed.repository``).
READ_PAGE = r"""
local cur = redis.call('GET', KEYS[1])
local rev = redis.call('GET', KEYS[2]) or '0'
if not cur then return {false, rev, 0, '0', false, false, false, false, 0} end
local P = KEYS[3] .. cur .. ':'
local list, start, stop = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local fkey, pkey, exclude = ARGV[4], ARGV[5], ARGV[6] == '1'
local total = redis.call('ZCARD', P .. list)
local lm = redis.call('GET', P .. 'lm') or '0'
local fid, fcount = false, 0
if fkey ~= '' then
  local top = redis.call('ZREVRANGE', P .. fkey, 0, 0)
  if top[1] then
    fid = top[1]
    fcount = redis.call('ZCARD', P .. 'k:a:' .. fid)
  end
end
local poll, tally = false, false
if pkey ~= '' then
  local top = redis.call('ZREVRANGE', P .. pkey, 0, 0)
  if top[1] then
    poll = redis.call('HGET', P .. 'p', top[1])
    tally = redis.call('HGET', P .. 't', top[1])
  end
end
local profile = false
if ARGV[7] and ARGV[7] ~= '' then profile = redis.call('HGET', P .. 'cp', ARGV[7]) end
local out = {cur, rev, total, lm, fid, poll, tally, profile, fcount}
if stop >= start then
  local want = stop - start + 1
  local ids = redis.call('ZREVRANGE', P .. list, start, exclude and stop + 1 or stop)
  local kept = {}
  for _, id in ipairs(ids) do
    if #kept < want and not (exclude and id == fid) then kept[#kept + 1] = id end
  end
  for _, id in ipairs(kept) do
    out[#out + 1] = id
    out[#out + 1] = redis.call('ZCARD', P .. 'k:a:' .. id)
  end
end
return out
"""
READ_KEYS = [CURRENT, REV, BASE]

# One article by slug (ARGV[1]) plus the newest poll embedded in it, and its comments from
# index ARGV[2] to ARGV[3] in reading order (see the layout of k:a above).
# Returns {generation, revision, lm, article id or false, poll doc, tally doc, gone, comment
# count, the doc of the thread the first comment continues (false when it starts one), then per
# comment its thread's first comment id ("" for a thread's first) and its doc}: gone is 1 when
# the slug was an article's that is unpublished now (else its document is read from its bucket
# next).
READ_ARTICLE = (
    APPEND_PAIRS
    + r"""
local cur = redis.call('GET', KEYS[1])
local rev = redis.call('GET', KEYS[2]) or '0'
if not cur then return {false, rev, '0', false, false, false, 0, 0, false} end
local P = KEYS[3] .. cur .. ':'
local lm = redis.call('GET', P .. 'lm') or '0'
local gone = 0
local poll, tally = false, false
local count, head = 0, false
local threads, ids = {}, {}
local id = redis.call('HGET', P .. 's', ARGV[1])
if id then
  if not redis.call('HGET', P .. 'sl', id) then gone = 1 end
  local top = redis.call('ZREVRANGE', P .. 'z:polls:a:' .. id, 0, 0)
  if top[1] then
    poll = redis.call('HGET', P .. 'p', top[1])
    tally = redis.call('HGET', P .. 't', top[1])
  end
  local list = P .. 'k:a:' .. id
  count = redis.call('ZCARD', list)
  local start, stop = tonumber(ARGV[2]), tonumber(ARGV[3])
  if gone == 0 and stop >= start then
    -- a member is "stamp id \1" (a thread's first) or "stamp id \1 stamp id" (a reply in it);
    -- stamps are 13 characters
    for i, m in ipairs(redis.call('ZRANGE', list, start, stop)) do
      local at = string.find(m, '\1', 1, true)
      if at < #m then
        threads[i] = string.sub(m, 14, at - 1)
        ids[i] = string.sub(m, at + 14)
      else
        threads[i] = ''
        ids[i] = string.sub(m, 14, at - 1)
      end
    end
    if threads[1] and threads[1] ~= '' then head = redis.call('HGET', P .. 'k', threads[1]) end
  end
end
local reply = {cur, rev, lm, id or false, poll, tally, gone, count, head}
if #ids > 0 then
  local docs = redis.call('HMGET', P .. 'k', unpack(ids))
  append_pairs(reply, threads, docs)
end
return reply
"""
)

# One poll by id (ARGV[1]). Returns {generation, revision, lm, poll doc, tally doc}.
READ_POLL = r"""
local cur = redis.call('GET', KEYS[1])
local rev = redis.call('GET', KEYS[2]) or '0'
if not cur then return {false, rev, '0', false, false} end
local P = KEYS[3] .. cur .. ':'
local lm = redis.call('GET', P .. 'lm') or '0'
return {cur, rev, lm, redis.call('HGET', P .. 'p', ARGV[1]), redis.call('HGET', P .. 't', ARGV[1])}
"""

# A page of polls, newest first. ARGV: start, stop.
# Returns {generation, revision, total, lm, poll doc, tally doc, poll doc, tally doc, ...}.
READ_POLLS = r"""
local cur = redis.call('GET', KEYS[1])
local rev = redis.call('GET', KEYS[2]) or '0'
if not cur then return {false, rev, 0, '0'} end
local P = KEYS[3] .. cur .. ':'
local total = redis.call('ZCARD', P .. 'z:polls')
local lm = redis.call('GET', P .. 'lm') or '0'
local out = {cur, rev, total, lm}
local start, stop = tonumber(ARGV[1]), tonumber(ARGV[2])
local ids = {}
if stop >= start then ids = redis.call('ZREVRANGE', P .. 'z:polls', start, stop) end
for _, id in ipairs(ids) do
  out[#out + 1] = redis.call('HGET', P .. 'p', id)
  out[#out + 1] = redis.call('HGET', P .. 't', id)
end
return out
"""

# Articles of a list published at or after ARGV[2] (ms), newest first, at most ARGV[3].
# Returns {generation, revision, lm, ids...} (their documents are in their buckets).
READ_SINCE = r"""
local cur = redis.call('GET', KEYS[1])
local rev = redis.call('GET', KEYS[2]) or '0'
if not cur then return {false, rev, '0'} end
local P = KEYS[3] .. cur .. ':'
local lm = redis.call('GET', P .. 'lm') or '0'
local out = {cur, rev, lm}
local ids = redis.call('ZREVRANGEBYSCORE', P .. ARGV[1], '+inf', ARGV[2],
                      'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(ids) do out[#out + 1] = id end
return out
"""

# Slugs of a list by ascending index range, oldest first (stable sitemap chunks), each with
# its updated_at. ARGV: list suffix, start, stop.
# Returns {generation, revision, total, lm, slug, updated, slug, updated, ...}.
READ_RANGE_ASC = (
    APPEND_PAIRS
    + r"""
local cur = redis.call('GET', KEYS[1])
local rev = redis.call('GET', KEYS[2]) or '0'
if not cur then return {false, rev, 0, '0'} end
local P = KEYS[3] .. cur .. ':'
local total = redis.call('ZCARD', P .. ARGV[1])
local lm = redis.call('GET', P .. 'lm') or '0'
local out = {cur, rev, total, lm}
local start, stop = tonumber(ARGV[2]), tonumber(ARGV[3])
local ids = {}
if stop >= start then ids = redis.call('ZRANGE', P .. ARGV[1], start, stop) end
if #ids > 0 then
  local slugs = redis.call('HMGET', P .. 'sl', unpack(ids))
  local updated = redis.call('HMGET', P .. 'm', unpack(ids))
  append_pairs(out, slugs, updated)
end
return out
"""
)
