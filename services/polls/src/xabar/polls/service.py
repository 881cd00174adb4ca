"""The polls domain service: authoring, lifecycle, voting, recounting.

MongoDB holds the truth about polls (and their outbox events) and the durable vote log; Redis
holds the mirror that voting reads, the counters and the voter sets. Every lifecycle change is
one conditional single-document update (``version`` as the guard) carrying its event; the Redis
mirror follows and is re-checked on start and on a timer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TypeVar

from xabar.contracts import COUNTRIES, Event, PollClosed, PollOpened
from xabar.polls.counter import AnomalyRow, CastOutcome, Counts, VoteCounter, VoteEntry
from xabar.polls.domain import (
    OPTION_ID,
    Poll,
    check_countries,
    check_schedule,
    make_options,
    option_percentages,
    to_ms,
    utc_now,
)
from xabar.polls.errors import (
    AlreadyVoted,
    ConcurrentChange,
    InvalidChoice,
    PollNotEditable,
    PollNotFound,
    PollNotOpen,
    TooManyVotes,
    UnknownOption,
)
from xabar.polls.errors import PollClosed as PollClosedError
from xabar.polls.metrics import ANOMALOUS_VOTES, REBUILDS, RECOUNT_DIFFERENCES, VOTES
from xabar.polls.repository import PollRepository, TallyVersions, VoteLog
from xabar.polls.schemas import NewPoll, Placement, PollEdit
from xabar.polls.voters import Origin
from xabar.runtime.locks import DocLocks
from xabar.runtime.outbox import OutboxRelay

log = logging.getLogger("xabar.polls")
S = TypeVar("S", PollOpened, PollClosed)

PRODUCER = "polls"
# the outcome "rate" is reported as "rate_limited", as the limiter in front of the script did
_VOTE_OUTCOMES = {"ok": VOTES.labels("ok"), "rate": VOTES.labels("rate_limited")}
_FLAGGED = {kind: ANOMALOUS_VOTES.labels(kind) for kind in ("address", "subnet")}


def _count_outcome(status: str) -> None:
    counter = _VOTE_OUTCOMES.get(status)
    if counter is None:  # the script's outcomes are a closed set: a child each, made once
        counter = _VOTE_OUTCOMES[status] = VOTES.labels(status)
    counter.inc()


@dataclass(frozen=True, slots=True)
class VoteResult:
    poll: Poll
    counts: Counts
    options: tuple[str, ...]
    flags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RecountReport:
    poll_id: str
    redis: Counts | None
    log: Counts
    voters_in_redis: int
    voters_in_log: int
    differences: list[str] = field(default_factory=list)
    repaired: bool = False

    @property
    def agrees(self) -> bool:
        return not self.differences


def _no_kick(_poll_id: str) -> None:
    """Without a relay to kick: the poll's events wait for the relay's sweep."""


@dataclass(kw_only=True, eq=False)
class PollService:
    polls: PollRepository
    votes: VoteLog
    tallies: TallyVersions
    counter: VoteCounter
    locks: DocLocks
    relay: OutboxRelay
    kick: Callable[[str], None] = _no_kick
    clock: Callable[[], datetime] = utc_now
    _sync_locks: dict[str, asyncio.Lock] = field(default_factory=dict, init=False, repr=False)

    # --- authoring --------------------------------------------------------------------------

    async def create(
        self,
        data: NewPoll,
        *,
        editor: str,
        poll_id: str,
        import_key: str | None = None,
        correlation_id: str | None = None,
    ) -> tuple[Poll, bool]:
        """Store a new poll (opened at once when ``opens_at`` has come). Returns the poll and
        whether it was created (False: the id existed, the stored poll is returned)."""
        now = self.clock()
        opens_at = to_ms(data.opens_at) if data.opens_at else now
        closes_at = to_ms(data.closes_at) if data.closes_at else None
        check_schedule(opens_at, closes_at, now)
        opening = opens_at <= now
        poll = Poll(
            poll_id=poll_id,
            question=" ".join(data.question.split()),
            options=make_options(data.options),
            multiple=data.multiple,
            results_visibility=data.results_visibility,
            opens_at=opens_at,
            closes_at=closes_at,
            closed_at=None,
            countries=check_countries(data.countries, COUNTRIES),
            front_page=data.front_page,
            article_ids=tuple(dict.fromkeys(data.article_ids)),
            status="open" if opening else "scheduled",
            version=1,
            created_at=now,
            updated_at=now,
            created_by=editor,
            import_key=import_key,
        )
        events: list[Event] = [self._opened(poll, correlation_id)] if opening else []
        if not await self.polls.insert(poll, events):
            existing = await self.polls.get(poll_id)
            if existing is None:  # pragma: no cover - inserted and gone at once
                raise ConcurrentChange
            await self.sync(existing)
            return existing, False
        await self.counter.install(poll_id, zero_counts(poll))
        await self.counter.mirror(poll)
        if events:
            self.kick(poll_id)
        return poll, True

    async def edit(
        self, poll_id: str, data: PollEdit, *, correlation_id: str | None = None
    ) -> Poll:
        async with self.locks.hold(poll_id):
            new = await self._edit(poll_id, data)
        if new.opens_at <= self.clock():
            return await self.advance(poll_id, correlation_id=correlation_id) or new
        return new

    async def _edit(self, poll_id: str, data: PollEdit) -> Poll:
        poll = await self.get(poll_id)
        now = self.clock()
        if poll.status != "scheduled" or poll.phase(now) != "scheduled":
            raise PollNotEditable("Опрос уже открыт: менять его можно только до открытия")
        opens_at = to_ms(data.opens_at) if data.opens_at else poll.opens_at
        closes_at = poll.closes_at
        if "closes_at" in data.model_fields_set:
            closes_at = to_ms(data.closes_at) if data.closes_at else None
        check_schedule(opens_at, closes_at, now)
        changes: dict[str, object] = {"opens_at": opens_at, "closes_at": closes_at}
        if data.question is not None:
            changes["question"] = " ".join(data.question.split())
        if data.options is not None:
            changes["options"] = make_options(data.options)
        if data.multiple is not None:
            changes["multiple"] = data.multiple
        if data.results_visibility is not None:
            changes["results_visibility"] = data.results_visibility
        if data.countries is not None:
            changes["countries"] = check_countries(data.countries, COUNTRIES)
        if data.front_page is not None:
            changes["front_page"] = data.front_page
        if data.article_ids is not None:
            changes["article_ids"] = tuple(dict.fromkeys(data.article_ids))
        new = poll.with_changes(**changes, version=poll.version + 1, updated_at=now)
        await self.polls.update(new, poll.version, [])
        await self.counter.install(poll_id, zero_counts(new))
        await self.counter.mirror(new)
        return new

    async def place(
        self, poll_id: str, placement: Placement, *, correlation_id: str | None = None
    ) -> Poll:
        """Show a poll elsewhere (the front page, country sections, articles), at any time. A
        poll the readers can see already has its state sent again with the next version, as
        ``poll.opened`` while it is open and ``poll.closed`` once closed (the feed keeps the
        newest version)."""
        async with self.locks.hold(poll_id):
            poll = await self.get(poll_id)
            new = poll.with_changes(
                front_page=placement.front_page,
                countries=check_countries(placement.countries, COUNTRIES),
                article_ids=tuple(dict.fromkeys(placement.article_ids)),
                version=poll.version + 1,
                updated_at=self.clock(),
            )
            events: list[Event] = []
            if new.status == "open":
                events.append(self._opened(new, correlation_id))
            elif new.status == "closed":
                events.append(self._closed(new, correlation_id))
            await self.polls.update(new, poll.version, events)
            await self.counter.mirror(new)
        if events:
            self.kick(poll_id)
        return new

    async def close(self, poll_id: str, *, correlation_id: str | None = None) -> Poll:
        """Close an open poll now (or, if its closing time has passed, as of that time)."""
        async with self.locks.hold(poll_id):
            poll = await self.get(poll_id)
            now = self.clock()
            if poll.status == "closed":
                raise PollNotEditable("Опрос уже закрыт")
            phase = poll.phase(now)
            if phase == "scheduled":
                raise PollNotEditable("Опрос ещё не открыт: его можно изменить до открытия")
            if phase == "closed":  # closes_at passed; the scheduler has not got to it yet
                closed_at = poll.closes_at or now
            else:
                await self.counter.freeze(poll_id)  # no vote counts from here on
                closed_at = now
            if poll.status == "scheduled":  # due but not yet opened: poll.opened comes first
                poll = await self._store_open(poll, correlation_id)
            return await self._store_close(poll, closed_at, correlation_id)

    async def advance(self, poll_id: str, *, correlation_id: str | None = None) -> Poll | None:
        """Open or close a poll whose time has come (the scheduler's step). Safe to run in
        several replicas at once: they take turns on the poll's lock."""
        async with self.locks.hold(poll_id):
            poll = await self.polls.get(poll_id)
            if poll is None:
                await self.counter.drop_due(poll_id)
                return None
            now = self.clock()
            if poll.status == "scheduled" and poll.opens_at <= now:
                poll = await self._store_open(poll, correlation_id)
            if poll.status == "open" and poll.closes_at is not None and poll.closes_at <= now:
                poll = await self._store_close(poll, poll.closes_at, correlation_id)
            await self.counter.mirror(poll)
            return poll

    async def relay_events(self, poll_id: str) -> int:
        """Publish a poll's pending outbox events (the relay holds the poll's lock meanwhile)."""
        return await self.relay.relay_doc(poll_id)

    async def relay_pending(self) -> int:
        return await self.relay.sweep()

    async def _store_open(self, poll: Poll, correlation_id: str | None) -> Poll:
        new = poll.with_changes(status="open", version=poll.version + 1, updated_at=self.clock())
        await self.polls.update(new, poll.version, [self._opened(new, correlation_id)])
        self.kick(poll.poll_id)
        await self.counter.mirror(new)
        log.info("poll opened", extra={"poll_id": poll.poll_id, "version": new.version})
        return new

    async def _store_close(
        self, poll: Poll, closed_at: datetime, correlation_id: str | None
    ) -> Poll:
        new = poll.with_changes(
            status="closed",
            closed_at=closed_at,
            version=poll.version + 1,
            updated_at=self.clock(),
        )
        await self.polls.update(new, poll.version, [self._closed(new, correlation_id)])
        self.kick(poll.poll_id)
        await self.counter.mirror(new)
        await self.counter.mark_dirty(poll.poll_id)  # a final snapshot after the last vote
        log.info("poll closed", extra={"poll_id": poll.poll_id, "version": new.version})
        return new

    @staticmethod
    def _state_event(kind: type[S], poll: Poll, correlation_id: str | None) -> S:
        """``poll.opened`` or ``poll.closed``: the poll's state at its version."""
        event: S = kind.create(
            producer=PRODUCER,
            correlation_id=correlation_id,
            aggregate_id=poll.poll_id,
            version=poll.version,
            data=poll.state(),
        )
        return event

    def _opened(self, poll: Poll, correlation_id: str | None) -> PollOpened:
        return self._state_event(PollOpened, poll, correlation_id)

    def _closed(self, poll: Poll, correlation_id: str | None) -> PollClosed:
        return self._state_event(PollClosed, poll, correlation_id)

    async def get(self, poll_id: str) -> Poll:
        poll = await self.polls.get(poll_id)
        if poll is None:
            raise PollNotFound(poll_id)
        return poll

    # --- reading ----------------------------------------------------------------------------

    async def view(self, poll_id: str, voter_id: str | None) -> tuple[Poll, Counts, bool]:
        """The poll as voting sees it (the Redis mirror), its counts and whether the voter
        voted. A poll missing from the mirror is mirrored again from MongoDB first."""
        found = await self.counter.view(poll_id, voter_id)
        if found is None:
            await self.ensure_mirrored(poll_id)
            found = await self.counter.view(poll_id, voter_id)
            if found is None:
                raise PollNotFound(poll_id)
        return found

    async def views(
        self, poll_ids: Sequence[str], voter_id: str | None
    ) -> list[tuple[Poll, Counts, bool] | None]:
        """``view`` of each poll as the mirror has it, in one round trip (None: not mirrored)."""
        return await self.counter.views(poll_ids, voter_id)

    async def counts(self, poll_id: str) -> Counts:
        """The poll's counters as they are now (none counted: empty)."""
        return await self.counter.counts(poll_id) or Counts({}, 0, 0)

    async def anomalies(self, poll_id: str | None = None) -> list[AnomalyRow]:
        """Bursts the counting script flagged (on one poll, or on all), newest first."""
        rows = await self.counter.anomalies()
        return [r for r in rows if poll_id is None or r.poll_id == poll_id]

    async def page(
        self, page: int, per_page: int, voter_id: str | None
    ) -> tuple[list[tuple[Poll, Counts, bool]], int]:
        ids, total = await self.counter.page((page - 1) * per_page, per_page)
        if total == 0 and await self.polls.any():
            await self.resync_all()  # Redis lost the list: mirror it again from MongoDB
            ids, total = await self.counter.page((page - 1) * per_page, per_page)
        views = await self.counter.views(ids, voter_id)
        return [v for v in views if v is not None], total

    # --- voting -----------------------------------------------------------------------------

    async def vote(
        self, poll_id: str, voter_id: str, options: Sequence[str], origin: Origin
    ) -> VoteResult:
        chosen = self._check_choice(options)
        outcome = await self.counter.cast(
            poll_id, voter_id, chosen, origin.address_hash, origin.subnet_hash
        )
        if outcome.status == "nopoll" and await self.ensure_mirrored(poll_id):
            outcome = await self.counter.cast(
                poll_id,
                voter_id,
                chosen,
                origin.address_hash,
                origin.subnet_hash,
                count_rate=False,
            )
        _count_outcome(outcome.status)
        self._raise_for(outcome, poll_id)
        for kind in outcome.flags:
            (_FLAGGED.get(kind) or ANOMALOUS_VOTES.labels(kind)).inc()
        if outcome.new_flags:  # once per poll and address/subnet; the metric counts every vote
            log.warning(
                "burst of votes flagged; its votes are counted and marked",
                extra={
                    "poll_id": poll_id,
                    "kinds": list(outcome.new_flags),
                    "address_hash": origin.address_hash,
                    "subnet_hash": origin.subnet_hash,
                },
            )
        if outcome.poll is None or outcome.counts is None:  # pragma: no cover - script contract
            poll, counts, _ = await self.view(poll_id, None)
        else:
            poll, counts = outcome.poll, outcome.counts
        return VoteResult(poll, counts, chosen, outcome.flags)

    async def cast_unaddressed(
        self, poll_id: str, votes: Sequence[tuple[str, Sequence[str]]]
    ) -> list[CastOutcome]:
        """Votes without a client address (imports) through the same counting script."""
        outcomes = await self.counter.cast_batch(poll_id, votes)
        for outcome in outcomes:
            VOTES.labels(outcome.status).inc()
        return outcomes

    @staticmethod
    def _check_choice(options: Sequence[str]) -> tuple[str, ...]:
        if not options:
            raise InvalidChoice("Выберите вариант ответа")
        if len(options) > 20:
            raise InvalidChoice("Слишком много вариантов в одном голосе")
        for option in options:
            if not OPTION_ID.match(option):
                raise UnknownOption(option)
        if len(set(options)) != len(options):
            raise InvalidChoice("Один и тот же вариант указан дважды")
        return tuple(options)

    @staticmethod
    def _raise_for(outcome: CastOutcome, poll_id: str) -> None:
        status = outcome.status
        if status == "ok":
            return
        if status == "rate":
            retry_s = -(-outcome.retry_ms // 1000) if outcome.retry_ms > 0 else 1
            raise TooManyVotes(
                "С вашего адреса слишком много попыток голосования; попробуйте позже",
                max(1, retry_s),
            )
        if status == "nopoll":
            raise PollNotFound(poll_id)
        if status == "closed":
            raise PollClosedError
        if status == "notopen":
            raise PollNotOpen
        if status == "single":
            raise InvalidChoice("В этом опросе можно выбрать только один вариант")
        if status == "repeated":
            raise InvalidChoice("Один и тот же вариант указан дважды")
        if status == "badoption":
            raise UnknownOption(outcome.option)
        if status == "voted":
            raise AlreadyVoted
        retry = -(-outcome.retry_ms // 1000)
        if status == "cooldown":
            raise TooManyVotes(
                f"С вашего адреса только что проголосовали; повторите через {max(1, retry)} с",
                retry,
            )
        if status == "limit":
            raise TooManyVotes("С вашего адреса подано слишком много голосов в этом опросе", retry)
        raise RuntimeError(f"unexpected counting outcome {status!r}")  # pragma: no cover

    # --- the Redis mirror -------------------------------------------------------------------

    async def ensure_mirrored(self, poll_id: str) -> bool:
        """Mirror one poll from MongoDB (rebuilding lost counters); False if there is none."""
        poll = await self.polls.get(poll_id)
        if poll is None:
            return False
        await self.sync(poll)
        return True

    async def resync_all(self) -> int:
        """Check every poll's mirror against MongoDB; returns how many counters were rebuilt."""
        rebuilt = 0
        for poll in await self.polls.all():
            rebuilt += await self.sync(poll)
        return rebuilt

    async def open_poll_ids(self) -> list[str]:
        now = self.clock()
        return [p.poll_id for p in await self.polls.all() if p.phase(now) != "scheduled"]

    async def sync(self, poll: Poll) -> int:
        lock = self._sync_locks.setdefault(poll.poll_id, asyncio.Lock())
        async with lock:
            rebuilt = 0
            counts = await self.counter.counts(poll.poll_id)
            if counts is None:
                await self.rebuild(poll)
                rebuilt = 1
            elif counts.seq == 0 and set(counts.options) != set(poll.option_ids()):
                await self.counter.install(poll.poll_id, zero_counts(poll))
            await self.counter.mirror(poll)
            return rebuilt

    async def rebuild(self, poll: Poll) -> Counts:
        """Counters and voter set of a poll from the vote log (MongoDB plus the entries still
        in Redis), installed unless votes were counted there meanwhile."""
        await self.counter.forget_state(poll.poll_id)  # no vote is counted while we rebuild
        entries = await self._logged_votes(poll.poll_id)
        counts = count_entries(poll, entries.values())
        top = max((e.seq for e in entries.values()), default=0)
        sent = await self.tallies.get(poll.poll_id)
        seq = max(counts.total, top, sent + 1 if sent else 0)
        counts = Counts(counts.options, counts.total, seq)
        await self.counter.add_voters(poll.poll_id, entries.keys())
        installed = await self.counter.install(poll.poll_id, counts)
        if installed and counts.total:
            await self.counter.mark_dirty(poll.poll_id)
        if installed:
            REBUILDS.inc()
            log.warning(
                "counters rebuilt from the vote log",
                extra={"poll_id": poll.poll_id, "total_votes": counts.total, "seq": seq},
            )
        return counts

    async def _logged_votes(self, poll_id: str) -> dict[str, VoteEntry]:
        # Redis first, MongoDB second: an entry leaves Redis only after MongoDB has it.
        unlogged = await self.counter.unlogged_entries(poll_id)
        logged = await self.votes.for_poll(poll_id)
        merged = {e.voter_id: e for e in logged}
        for entry in unlogged:
            merged.setdefault(entry.voter_id, entry)
        return merged

    # --- recount ----------------------------------------------------------------------------

    async def recount(
        self, poll_id: str | None = None, *, repair: bool = False
    ) -> list[RecountReport]:
        polls = [await self.get(poll_id)] if poll_id else await self.polls.all()
        return [await self._recount_one(p, repair) for p in polls]

    async def _recount_one(self, poll: Poll, repair: bool) -> RecountReport:
        for _ in range(10):
            redis_counts, voters = await self.counter.snapshot(poll.poll_id)
            entries = await self._logged_votes(poll.poll_id)
            if redis_counts is not None:  # votes counted after the snapshot are not compared
                entries = {v: e for v, e in entries.items() if e.seq <= redis_counts.seq}
            logged = count_entries(poll, entries.values())
            differences = compare(poll, redis_counts, logged)
            missing = sorted(set(entries) - voters)
            extra = sorted(voters - set(entries))
            if missing:
                differences.append(f"{len(missing)} voters of the log are not in Redis")
            if extra:
                differences.append(f"{len(extra)} voters in Redis have no vote in the log")
            report = RecountReport(
                poll.poll_id, redis_counts, logged, len(voters), len(entries), differences
            )
            if not differences:
                return report
            RECOUNT_DIFFERENCES.inc()
            if not repair:
                return report
            if redis_counts is None:
                await self.sync(poll)
                return replace(report, repaired=True)
            fixed = Counts(logged.options, logged.total, redis_counts.seq + 1)
            if not await self.counter.replace_if_unchanged(poll.poll_id, redis_counts.seq, fixed):
                continue  # a vote came in meanwhile: take a new snapshot
            await self.counter.add_voters(poll.poll_id, missing)
            await self.counter.remove_voters(poll.poll_id, extra)
            log.warning("counters repaired from the vote log", extra={"poll_id": poll.poll_id})
            return replace(report, repaired=True)
        raise ConcurrentChange

    # --- results ----------------------------------------------------------------------------

    @staticmethod
    def results(poll: Poll, counts: Counts) -> tuple[list[tuple[str, str, int, int]], int]:
        """(option id, text, votes, percent) in the poll's order, and the voters counted."""
        ordered = {o.option_id: counts.options.get(o.option_id, 0) for o in poll.options}
        shares = option_percentages(ordered)
        rows = [
            (o.option_id, o.text, ordered[o.option_id], shares[o.option_id]) for o in poll.options
        ]
        return rows, counts.total


def zero_counts(poll: Poll) -> Counts:
    return Counts({o: 0 for o in poll.option_ids()}, 0, 0)


def count_entries(poll: Poll, entries: Iterable[VoteEntry]) -> Counts:
    options = {o: 0 for o in poll.option_ids()}
    total = 0
    for entry in entries:
        total += 1
        for option in entry.options:
            options[option] = options.get(option, 0) + 1
    return Counts(options, total, total)


def compare(poll: Poll, redis: Counts | None, logged: Counts) -> list[str]:
    if redis is None:
        return [f"Redis has no counters (the log has {logged.total} votes)"]
    out = []
    for option in sorted(set(redis.options) | set(logged.options)):
        have, want = redis.options.get(option, 0), logged.options.get(option, 0)
        if have != want:
            out.append(f"option {option}: Redis {have}, log {want}")
    if redis.total != logged.total:
        out.append(f"total: Redis {redis.total}, log {logged.total}")
    return out
