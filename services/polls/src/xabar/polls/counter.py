"""The vote counter in Redis: one Lua script decides and counts every vote atomically.

Keys (``P`` = ``{prefix}``: the ``redis_prefix`` setting as a hash tag, so that every key of the
counter, the vote log included, is in one slot and the vote stays one atomic script on Redis
Cluster too; that slot holds the counters, the voter sets and the log not yet in MongoDB: see
``docs/redis-keys.md`` for how much that puts on one node):

- ``P:state:{poll}``  hash, the poll's mirror: ``version``, ``opens_at``/``closes_at`` (epoch ms,
  "" for none), ``closed`` ("0"/"1"), ``multiple`` ("0"/"1"), ``doc`` (JSON of the poll).
- ``P:counts:{poll}`` hash: ``o:<option id>`` -> votes, ``#total`` -> voters counted,
  ``#seq`` -> the counted-vote sequence (grows by one per counted vote; jumps forward after a
  rebuild or repair so ``poll.tallied`` versions never go back).
- ``P:voters:{poll}`` set of voter ids already counted.
- ``P:votes`` stream: the vote log entries not yet written to MongoDB (one per counted vote,
  appended by the same script; deleted once MongoDB has them). One field ``v``:
  ``poll|voter|options|address|subnet|at|seq|flags`` (``VoteEntry.of`` reads it, and the
  field-per-value entries of earlier versions).
- ``P:dirty`` set of polls with votes not yet in a ``poll.tallied`` snapshot.
- ``P:index`` zset poll -> created (ms), ``P:due`` zset poll -> next open/close time (ms).
- ``P:addr:{poll}:{hash}`` counted votes of one address on a poll (window),
  ``P:cool:{poll}:{hash}`` its cooldown, ``P:burst:{kind}:{poll}:{hash}`` burst counters,
  ``P:anomalies`` zset ``poll|kind|hash`` -> last flagged (ms), ``P:anomaly_votes`` and
  ``P:anomaly_first`` hashes of the same members.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import ResponseError

from xabar.polls.domain import Poll, epoch_ms
from xabar.runtime.luascripts import run_many
from xabar.runtime.redispipe import RedisPipe

# KEYS: 1 state, 2 counts, 3 voters, 4 log stream, 5 dirty, 6 addr votes, 7 cooldown,
#       8 burst address, 9 burst subnet, 10 anomalies, 11 anomaly votes, 12 anomaly first,
#       13 request rate of the address (all polls)
# ARGV: 1 poll, 2 voter, 3 address hash ("" = none), 4 subnet hash, 5 address limit,
#       6 address window ms, 7 cooldown ms, 8 burst window ms, 9 burst address threshold,
#       10 burst subnet threshold, 11 request rate limit (0 = not counted here),
#       12 request rate window ms, 13 the mirror version the caller has ("" = none), 14 n,
#       15.. option ids
# The request rate is counted first, for every request (counted vote or not), like a limiter in
# front of the script but without a round trip of its own. The poll's document comes back only
# when its version differs from the caller's.
CAST = """
local addr = ARGV[3]
if addr ~= '' and tonumber(ARGV[11]) > 0 then
  local r = redis.call('INCR', KEYS[13])
  if r == 1 then redis.call('PEXPIRE', KEYS[13], ARGV[12]) end
  if r > tonumber(ARGV[11]) then return {'rate', redis.call('PTTL', KEYS[13])} end
end
local st = redis.call('HMGET', KEYS[1], 'opens_at', 'closes_at', 'closed', 'multiple')
if not st[1] then return {'nopoll'} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if st[3] == '1' then return {'closed'} end
if st[2] ~= '' and now >= tonumber(st[2]) then return {'closed'} end
if now < tonumber(st[1]) then return {'notopen'} end
local n = tonumber(ARGV[14])
if n > 1 and st[4] ~= '1' then return {'single'} end
local seen = {}
for i = 1, n do
  local opt = ARGV[14 + i]
  if seen[opt] then return {'repeated', opt} end
  seen[opt] = true
  if redis.call('HEXISTS', KEYS[2], 'o:' .. opt) == 0 then return {'badoption', opt} end
end
if redis.call('SISMEMBER', KEYS[3], ARGV[2]) == 1 then return {'voted'} end
if addr ~= '' then
  if tonumber(ARGV[7]) > 0 then
    local ttl = redis.call('PTTL', KEYS[7])
    if ttl > 0 then return {'cooldown', ttl} end
  end
  local used = tonumber(redis.call('GET', KEYS[6]) or '0')
  if used >= tonumber(ARGV[5]) then return {'limit', redis.call('PTTL', KEYS[6])} end
end
redis.call('SADD', KEYS[3], ARGV[2])
for i = 1, n do redis.call('HINCRBY', KEYS[2], 'o:' .. ARGV[14 + i], 1) end
local total = redis.call('HINCRBY', KEYS[2], '#total', 1)
local seq = redis.call('HINCRBY', KEYS[2], '#seq', 1)
local flag = ''
local fresh = ''
local nowstr = string.format('%d', now)
if addr ~= '' then
  if tonumber(ARGV[7]) > 0 then redis.call('SET', KEYS[7], '1', 'PX', ARGV[7]) end
  if redis.call('INCR', KEYS[6]) == 1 then redis.call('PEXPIRE', KEYS[6], ARGV[6]) end
  local a = redis.call('INCR', KEYS[8])
  if a == 1 then redis.call('PEXPIRE', KEYS[8], ARGV[8]) end
  local s = redis.call('INCR', KEYS[9])
  if s == 1 then redis.call('PEXPIRE', KEYS[9], ARGV[8]) end
  local kinds = {}
  if a > tonumber(ARGV[9]) then kinds[#kinds + 1] = {'address', addr} end
  if s > tonumber(ARGV[10]) then kinds[#kinds + 1] = {'subnet', ARGV[4]} end
  for _, k in ipairs(kinds) do
    local member = ARGV[1] .. '|' .. k[1] .. '|' .. k[2]
    redis.call('ZADD', KEYS[10], now, member)
    redis.call('HINCRBY', KEYS[11], member, 1)
    if redis.call('HSETNX', KEYS[12], member, nowstr) == 1 then
      if fresh == '' then fresh = k[1] else fresh = fresh .. ',' .. k[1] end
    end
    if flag == '' then flag = k[1] else flag = flag .. ',' .. k[1] end
  end
end
local opts = table.concat(ARGV, ',', 15, 14 + n)
local id = redis.call('XADD', KEYS[4], '*', 'v',
  table.concat({ARGV[1], ARGV[2], opts, addr, ARGV[4], nowstr, seq, flag}, '|'))
redis.call('SADD', KEYS[5], ARGV[1])
local version = redis.call('HGET', KEYS[1], 'version') or ''
local doc = ''
if version ~= ARGV[13] then doc = redis.call('HGET', KEYS[1], 'doc') or '' end
return {'ok', total, seq, flag, id, fresh, redis.call('HGETALL', KEYS[2]), doc, version}
"""

# Write the mirror unless a newer version is already there. KEYS: state; ARGV: version, pairs.
MIRROR = """
local cur = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if tonumber(ARGV[1]) < cur then return 0 end
redis.call('HSET', KEYS[1], 'version', ARGV[1], unpack(ARGV, 2))
return 1
"""

# Put counters in place unless votes are already counted there. KEYS: counts; ARGV: pairs.
INSTALL = """
local seq = tonumber(redis.call('HGET', KEYS[1], '#seq') or '0')
if seq > 0 then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
"""

# Replace counters only if nothing was counted since the snapshot. KEYS: counts, dirty;
# ARGV: expected #seq, poll, pairs.
REPAIR = """
local cur = redis.call('HGET', KEYS[1], '#seq') or ''
if cur ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('SADD', KEYS[2], ARGV[2])
return 1
"""


@dataclass(frozen=True, slots=True)
class CastOutcome:
    status: str  # ok rate nopoll closed notopen single repeated badoption voted cooldown limit
    total: int = 0
    seq: int = 0
    flags: tuple[str, ...] = ()
    new_flags: tuple[str, ...] = ()  # anomalies this vote flagged for the first time
    option: str = ""
    retry_ms: int = 0
    counts: Counts | None = None  # the poll's counters right after this vote
    poll: Poll | None = None  # the mirrored poll


@dataclass(frozen=True, slots=True)
class Counts:
    options: dict[str, int]
    total: int
    seq: int

    @classmethod
    def of(cls, raw: Mapping[bytes, bytes]) -> Counts:
        opts, total, seq = {}, 0, 0
        for key, value in raw.items():
            name = key.decode()
            if name.startswith("o:"):
                opts[name[2:]] = int(value)
            elif name == "#total":
                total = int(value)
            elif name == "#seq":
                seq = int(value)
        return cls(opts, total, seq)

    def fields(self) -> list[str | int]:
        pairs: list[str | int] = []
        for option_id, votes in self.options.items():
            pairs += [f"o:{option_id}", votes]
        return [*pairs, "#total", self.total, "#seq", self.seq]


@dataclass(frozen=True, slots=True)
class VoteEntry:
    """One counted vote as the script logged it."""

    poll_id: str
    voter_id: str
    options: tuple[str, ...]
    address: str
    subnet: str
    at_ms: int
    seq: int
    flags: tuple[str, ...]

    @classmethod
    def of(cls, fields: Mapping[bytes, bytes]) -> VoteEntry:
        packed = fields.get(b"v")
        if packed is not None:
            parts = packed.decode().split("|")
            options, address, subnet, at, seq, flag = parts[-6:]
            return cls(
                poll_id=parts[0],
                voter_id="|".join(parts[1:-6]),  # the one part that may hold a "|" (imports)
                options=tuple(o for o in options.split(",") if o),
                address=address,
                subnet=subnet,
                at_ms=int(at or 0),
                seq=int(seq or 0),
                flags=tuple(f for f in flag.split(",") if f),
            )

        def get(name: str) -> str:
            return fields.get(name.encode(), b"").decode()

        return cls(
            poll_id=get("poll"),
            voter_id=get("voter"),
            options=tuple(o for o in get("options").split(",") if o),
            address=get("addr"),
            subnet=get("subnet"),
            at_ms=int(get("at") or 0),
            seq=int(get("seq") or 0),
            flags=tuple(f for f in get("flag").split(",") if f),
        )


@dataclass(frozen=True, slots=True)
class Backlog:
    """The vote-log stream at one look: ``added`` entries ever appended (Redis's
    ``entries-added``; -1 where the server does not say), ``length`` still in it, and ``span_ms``
    from its oldest entry to the newest appended (entry ids carry Redis's clock)."""

    added: int
    length: int
    span_ms: int


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    limit: int
    window_ms: int
    cooldown_ms: int
    burst_window_ms: int
    burst_address: int
    burst_subnet: int
    rate_limit: int = 0  # vote requests per address hash and window, all polls; 0 = none
    rate_window_ms: int = 60_000


@dataclass(frozen=True, slots=True)
class AnomalyRow:
    poll_id: str
    kind: str
    key: str
    flagged_votes: int
    first_ms: int
    last_ms: int


class VoteCounter:
    def __init__(
        self, redis: Redis, prefix: str, policy: AddressPolicy, pipe: RedisPipe | None = None
    ) -> None:
        """``pipe``: the connection votes are counted on (the HTTP app's); without it, redis-py
        (the command line)."""
        self.redis = redis
        self._r: Any = redis  # redis-py's reply types are unions; we know the shapes
        self.p = prefix if "{" in prefix else f"{{{prefix}}}"  # one hash tag: see the docstring
        # the keys of the whole service (a poll's own: ``state_key`` and the others below)
        self.log_stream = f"{self.p}:votes"
        self.dirty_key = f"{self.p}:dirty"
        self.index_key = f"{self.p}:index"
        self.due_key = f"{self.p}:due"
        self.policy = policy
        self._cast = redis.register_script(CAST)
        self._mirror = redis.register_script(MIRROR)
        self._install = redis.register_script(INSTALL)
        self._repair = redis.register_script(REPAIR)
        self._piped_cast = pipe.script(CAST) if pipe is not None else None
        self._polls: dict[str, tuple[str, Poll]] = {}  # poll -> (mirror version, poll)

    # --- keys -------------------------------------------------------------------------------

    def state_key(self, poll_id: str) -> str:
        return f"{self.p}:state:{poll_id}"

    def counts_key(self, poll_id: str) -> str:
        return f"{self.p}:counts:{poll_id}"

    def voters_key(self, poll_id: str) -> str:
        return f"{self.p}:voters:{poll_id}"

    # --- counting ---------------------------------------------------------------------------

    def _cast_call(
        self,
        poll_id: str,
        voter_id: str,
        options: Sequence[str],
        address: str,
        subnet: str,
        *,
        count_rate: bool = True,
    ) -> tuple[list[str], list[str | int]]:
        p, pol = self.p, self.policy
        keys = [
            self.state_key(poll_id),
            self.counts_key(poll_id),
            self.voters_key(poll_id),
            self.log_stream,
            self.dirty_key,
            f"{p}:addr:{poll_id}:{address}",
            f"{p}:cool:{poll_id}:{address}",
            f"{p}:burst:address:{poll_id}:{address}",
            f"{p}:burst:subnet:{poll_id}:{subnet}",
            f"{p}:anomalies",
            f"{p}:anomaly_votes",
            f"{p}:anomaly_first",
            f"{p}:rate:{address}",
        ]
        cached = self._polls.get(poll_id)
        args: list[str | int] = [
            poll_id,
            voter_id,
            address,
            subnet,
            pol.limit,
            pol.window_ms,
            pol.cooldown_ms,
            pol.burst_window_ms,
            pol.burst_address,
            pol.burst_subnet,
            pol.rate_limit if count_rate else 0,
            pol.rate_window_ms,
            cached[0] if cached else "",
            len(options),
            *options,
        ]
        return keys, args

    async def cast(
        self,
        poll_id: str,
        voter_id: str,
        options: Sequence[str],
        address: str,
        subnet: str,
        *,
        count_rate: bool = True,
    ) -> CastOutcome:
        """Count one vote if the address is within its request rate, the poll open, the options
        valid, the voter new and the address within its limits - all in one atomic script that
        also appends the vote-log entry. ``address`` "" means a vote without an address
        (imports): no address rules apply. ``count_rate`` False: the request was counted
        against the rate already (a second try after re-mirroring the poll)."""
        keys, args = self._cast_call(
            poll_id, voter_id, options, address, subnet, count_rate=count_rate
        )
        if self._piped_cast is not None:
            # acknowledged once the replicas the deployment asks for have it (WAIT)
            return self._outcome(poll_id, await self._piped_cast(keys, args, durable=True))
        return self._outcome(poll_id, await self._cast(keys=keys, args=args))

    async def cast_batch(
        self, poll_id: str, votes: Sequence[tuple[str, Sequence[str]]]
    ) -> list[CastOutcome]:
        """Many address-less votes in one pipelined round trip (each still its own script;
        on a cluster, sent concurrently: ``xabar.runtime.luascripts``)."""
        calls = [
            (self._cast, *self._cast_call(poll_id, voter_id, options, "", ""))
            for voter_id, options in votes
        ]
        return [self._outcome(poll_id, r) for r in await run_many(self.redis, calls)]

    def _outcome(self, poll_id: str, reply: Sequence[Any]) -> CastOutcome:
        status = _str(reply[0])
        if status != "ok":
            return _failed(status, reply)
        flat = reply[6]
        counts = Counts.of({flat[i]: flat[i + 1] for i in range(0, len(flat), 2)})
        version = _str(reply[8])
        poll: Poll | None = None
        if reply[7]:
            poll = Poll.from_mirror(json.loads(reply[7]))
            self._polls[poll_id] = (version, poll)
        else:
            cached = self._polls.get(poll_id)
            if cached is not None and cached[0] == version:
                poll = cached[1]
        return CastOutcome(
            "ok",
            total=int(reply[1]),
            seq=int(reply[2]),
            flags=_split(reply[3]),
            new_flags=_split(reply[5]),
            counts=counts,
            poll=poll,
        )

    # --- the poll mirror --------------------------------------------------------------------

    async def mirror(self, poll: Poll) -> bool:
        """Write the poll's state (unless a newer version is there), its place in the list and
        its next open/close time."""
        doc = json.dumps(poll.to_mirror(), ensure_ascii=False, separators=(",", ":"))
        closed = "1" if poll.status == "closed" or poll.closed_at is not None else "0"
        fields: dict[str, str | int] = {
            "opens_at": epoch_ms(poll.opens_at),
            "closes_at": "" if poll.closes_at is None else epoch_ms(poll.closes_at),
            "closed": closed,
            "multiple": "1" if poll.multiple else "0",
            "doc": doc,
        }
        pairs = [item for pair in fields.items() for item in pair]
        written = bool(
            await self._mirror(keys=[self.state_key(poll.poll_id)], args=[poll.version, *pairs])
        )
        pipe = self._r.pipeline(transaction=False)
        pipe.zadd(self.index_key, {poll.poll_id: epoch_ms(poll.created_at)})
        due = next_due_ms(poll)
        if due is None:
            pipe.zrem(self.due_key, poll.poll_id)
        else:
            pipe.zadd(self.due_key, {poll.poll_id: due})
        await pipe.execute()
        return written

    async def freeze(self, poll_id: str) -> None:
        """Stop counting at once (before an early close is stored)."""
        await self._r.hset(self.state_key(poll_id), "closed", "1")

    async def has_state(self, poll_id: str) -> bool:
        return bool(await self._r.exists(self.state_key(poll_id)))

    async def forget_state(self, poll_id: str) -> None:
        await self._r.delete(self.state_key(poll_id))

    async def mirrored(self, poll_id: str) -> Poll | None:
        raw = await self._r.hget(self.state_key(poll_id), "doc")
        return None if raw is None else Poll.from_mirror(json.loads(raw))

    async def view(self, poll_id: str, voter_id: str | None) -> tuple[Poll, Counts, bool] | None:
        """The mirrored poll, its counts and whether ``voter_id`` voted, in one round trip."""
        pipe = self._r.pipeline(transaction=False)
        self._queue_view(pipe, poll_id, voter_id)
        rows = await pipe.execute()
        return _view_of(rows)

    async def views(
        self, poll_ids: Sequence[str], voter_id: str | None
    ) -> list[tuple[Poll, Counts, bool] | None]:
        pipe = self._r.pipeline(transaction=False)
        for poll_id in poll_ids:
            self._queue_view(pipe, poll_id, voter_id)
        rows = await pipe.execute()
        return [_view_of(rows[i : i + 3]) for i in range(0, len(rows), 3)]

    def _queue_view(self, pipe: Pipeline, poll_id: str, voter_id: str | None) -> None:
        pipe.hget(self.state_key(poll_id), "doc")
        pipe.hgetall(self.counts_key(poll_id))
        if voter_id:
            pipe.sismember(self.voters_key(poll_id), voter_id)
        else:
            pipe.exists(f"{self.p}:none")  # keeps three replies per poll

    async def page(self, offset: int, limit: int) -> tuple[list[str], int]:
        """Poll ids newest first, and how many polls there are."""
        pipe = self._r.pipeline(transaction=False)
        pipe.zrevrange(self.index_key, offset, offset + limit - 1)
        pipe.zcard(self.index_key)
        ids, total = await pipe.execute()
        return [i.decode() for i in ids], int(total)

    async def drop_due(self, poll_id: str) -> None:
        await self._r.zrem(self.due_key, poll_id)

    async def due(self, now_ms: int) -> list[str]:
        ids = await self._r.zrangebyscore(self.due_key, "-inf", now_ms)
        return [i.decode() for i in ids]

    # --- counters ---------------------------------------------------------------------------

    async def counts(self, poll_id: str) -> Counts | None:
        raw = await self._r.hgetall(self.counts_key(poll_id))
        return Counts.of(raw) if raw else None

    async def snapshot(self, poll_id: str) -> tuple[Counts | None, set[str]]:
        """Counters and voter set read atomically (MULTI), for recounting under live votes."""
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.hgetall(self.counts_key(poll_id))
            pipe.smembers(self.voters_key(poll_id))
            raw, voters = await pipe.execute()
        return (Counts.of(raw) if raw else None), {v.decode() for v in voters}

    async def install(self, poll_id: str, counts: Counts) -> bool:
        """Put ``counts`` in place unless votes are counted there already."""
        return bool(await self._install(keys=[self.counts_key(poll_id)], args=counts.fields()))

    async def replace_if_unchanged(self, poll_id: str, expected_seq: int, counts: Counts) -> bool:
        keys = [self.counts_key(poll_id), self.dirty_key]
        args = [str(expected_seq), poll_id, *counts.fields()]
        return bool(await self._repair(keys=keys, args=args))

    async def add_voters(self, poll_id: str, voters: Iterable[str], chunk: int = 1000) -> None:
        batch: list[str] = []
        for voter in voters:
            batch.append(voter)
            if len(batch) >= chunk:
                await self._r.sadd(self.voters_key(poll_id), *batch)
                batch = []
        if batch:
            await self._r.sadd(self.voters_key(poll_id), *batch)

    async def remove_voters(self, poll_id: str, voters: Iterable[str], chunk: int = 1000) -> None:
        items = list(voters)
        for i in range(0, len(items), chunk):
            await self._r.srem(self.voters_key(poll_id), *items[i : i + chunk])

    async def log_backlog(self) -> Backlog:
        """How the vote-log stream stands (one ``XINFO STREAM``): what the writer paces by."""
        try:
            info = await self._r.xinfo_stream(self.log_stream)
        except ResponseError:  # no stream yet: nothing counted since Redis started
            return Backlog(0, 0, 0)
        first = info.get("first-entry")
        newest = _id_ms(info.get("last-generated-id"))
        oldest = _id_ms(first[0]) if first else newest
        return Backlog(int(info.get("entries-added", -1)), int(info["length"]), newest - oldest)

    async def unlogged_entries(self, poll_id: str | None = None) -> list[VoteEntry]:
        """Vote-log entries still in Redis (not yet acknowledged as written to MongoDB)."""
        out: list[VoteEntry] = []
        start = "-"
        while True:
            rows = await self._r.xrange(self.log_stream, min=start, count=5000)
            if not rows:
                return out
            for _, fields in rows:
                entry = VoteEntry.of(fields)
                if poll_id is None or entry.poll_id == poll_id:
                    out.append(entry)
            start = "(" + rows[-1][0].decode()

    # --- dirty set (tallies) ----------------------------------------------------------------

    async def mark_dirty(self, *poll_ids: str) -> None:
        if poll_ids:
            await self._r.sadd(self.dirty_key, *poll_ids)

    async def pop_dirty(self, count: int = 100) -> list[str]:
        popped = await self._r.spop(self.dirty_key, count)
        return [p.decode() for p in popped or []]

    # --- anomalies --------------------------------------------------------------------------

    async def anomalies(self, limit: int = 500) -> list[AnomalyRow]:
        members = await self._r.zrevrange(f"{self.p}:anomalies", 0, limit - 1, withscores=True)
        if not members:
            return []
        names = [m for m, _ in members]
        pipe = self._r.pipeline(transaction=False)
        pipe.hmget(f"{self.p}:anomaly_votes", names)
        pipe.hmget(f"{self.p}:anomaly_first", names)
        votes, firsts = await pipe.execute()
        rows = []
        for (member, last), n, first in zip(members, votes, firsts, strict=True):
            poll_id, kind, key = member.decode().split("|", 2)
            rows.append(AnomalyRow(poll_id, kind, key, int(n or 0), int(first or last), int(last)))
        return rows


def next_due_ms(poll: Poll) -> int | None:
    if poll.status == "closed" or poll.closed_at is not None:
        return None
    if poll.status == "scheduled":
        return epoch_ms(poll.opens_at)
    return None if poll.closes_at is None else epoch_ms(poll.closes_at)


def _view_of(rows: Sequence[Any]) -> tuple[Poll, Counts, bool] | None:
    raw_doc, raw_counts, voted = rows
    if raw_doc is None:
        return None
    return Poll.from_mirror(json.loads(raw_doc)), Counts.of(raw_counts), bool(voted)


def _failed(status: str, reply: Sequence[Any]) -> CastOutcome:
    if status in ("badoption", "repeated"):
        return CastOutcome(status, option=_str(reply[1]))
    if status in ("cooldown", "limit", "rate"):
        return CastOutcome(status, retry_ms=max(0, int(reply[1])))
    return CastOutcome(status)


def _id_ms(entry_id: Any) -> int:
    """The time part (ms) of a stream entry id."""
    return int(_str(entry_id or b"0-0").partition("-")[0] or 0)


def _split(value: Any) -> tuple[str, ...]:
    return tuple(f for f in _str(value).split(",") if f) if value else ()


def _str(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
